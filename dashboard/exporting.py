"""What the app's views become when a user takes them away: files that open offline.

Pure functions (no Streamlit), called by :mod:`dashboard.export` when a download button is
clicked:

- a chart (Altair) as SVG or PNG, rendered by vl-convert (Vega-Lite in an embedded
  JavaScript engine, no browser and no network: remote data URLs are refused);
- a highlighted-text view (:mod:`dashboard.widgets.highlight`) as a self-contained HTML
  document: its styles inline, no script, no external CSS, font or image;
- a table as CSV, with spreadsheet formula injection defused (OWASP, "CSV Injection": a
  cell starting with ``= + - @``, a tab or a carriage return gets a leading ``'``);
- a report of a page as one HTML file: title, settings, model card, charts as inline SVG,
  highlighted text and tables, every value escaped with :func:`html.escape`.

Every document carries a Content-Security-Policy that forbids scripts and any fetch, so a
hostile token that slipped through escaping still could not run or call home.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: a cell a spreadsheet would read as a formula (OWASP, "CSV Injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: no script, no fetch: only inline styles and data: images
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: PNG resolution: 2 pixels per chart pixel
PNG_SCALE = 2.0

_DOC_STYLE = """
body {font-family: sans-serif; margin: 24px auto; max-width: 1200px; color: #222;}
h1 {font-size: 1.6rem;} h2 {font-size: 1.2rem; margin-top: 1.6em;}
table.data {border-collapse: collapse; font-size: 0.85rem;}
table.data td, table.data th {border: 1px solid #ddd; padding: 2px 6px; text-align: left;}
.meta {color: #666; font-size: 0.85rem;}
figure {margin: 8px 0;} figure svg {max-width: 100%; height: auto;}
"""


class ExportError(ValueError):
    """A view that cannot be exported as asked (e.g. a chart that loads remote data)."""


def safe_filename(name: str, suffix: str) -> str:
    """A file name from a view's name: letters, digits, ``-`` and ``_`` only.

    >>> safe_filename("Hidden states: <h> of 'x'", "svg")
    'hidden-states-h-of-x.svg'
    """
    stem = re.sub(r"[^a-z0-9_]+", "-", str(name).lower()).strip("-")[:80] or "export"
    return f"{stem}.{suffix}"


# --- charts -------------------------------------------------------------------------------


def _remote_urls(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "url" and isinstance(value, str):
                yield value
            else:
                yield from _remote_urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _remote_urls(item)


def chart_spec(chart: Any) -> dict:
    """The Vega-Lite spec of an Altair chart (or a spec dict), refused when it loads data
    from a URL: an export must render from what the app already holds."""
    if isinstance(chart, dict):
        spec = chart
    else:
        import altair as alt

        # the app draws every row (Streamlit lifts Altair's 5000-row limit); so does this
        with alt.data_transformers.enable("default", max_rows=None):
            spec = chart.to_dict()
    urls = list(_remote_urls(spec))
    if urls:
        raise ExportError(f"the chart loads its data from a URL ({urls[0][:60]!r}): not exported")
    return spec


def chart_svg(chart: Any) -> str:
    """The chart as an SVG document (vl-convert; text stays text, fonts are the viewer's)."""
    import vl_convert

    return vl_convert.vegalite_to_svg(chart_spec(chart), allowed_base_urls=[])


def chart_png(chart: Any, *, scale: float = PNG_SCALE) -> bytes:
    """The chart as a PNG image (vl-convert), ``scale`` pixels per chart pixel."""
    import vl_convert

    return vl_convert.vegalite_to_png(chart_spec(chart), scale=scale, allowed_base_urls=[])


def _inline_svg(svg: str) -> str:
    """An SVG document as an element to put in HTML (its XML declaration dropped)."""
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", svg)


# --- tables -------------------------------------------------------------------------------


def _frame(data: Any) -> pd.DataFrame:
    """A DataFrame from what ``st.dataframe`` takes: a DataFrame, a Styler, a Series, a
    list of rows or a dict of columns."""
    if isinstance(data, pd.DataFrame):
        return data
    inner = getattr(data, "data", None)  # a pandas Styler
    if isinstance(inner, pd.DataFrame):
        return inner
    if isinstance(data, pd.Series):
        return data.to_frame()
    return pd.DataFrame(data)


def table_label(data: Any, *, max_columns: int = 3) -> str:
    """A table's name from its labels: the index's name (when it has one) and its first
    ``max_columns`` column names, for a table drawn without a name.

    >>> table_label(pd.DataFrame({"neuron": [1], "score": [0.5], "rank": [1], "q": [0.1]}))
    'neuron, score, rank, …'
    """
    try:
        df = _frame(data)
    except (TypeError, ValueError):
        return ""
    labels = [str(n) for n in df.index.names if n is not None and str(n).strip()]
    labels += [str(c) for c in df.columns[:max_columns] if str(c).strip()]
    more = ", …" if len(df.columns) > max_columns else ""
    return ", ".join(labels) + more if labels else ""


def defuse(value: Any) -> Any:
    """A cell safe to open in a spreadsheet: text starting with a formula character gets a
    leading ``'``; anything else is returned as it is.

    >>> defuse("=HYPERLINK(\\"http://x\\")"), defuse("-1"), defuse(-1), defuse("a")
    ('\\'=HYPERLINK("http://x")', "'-1", -1, 'a')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def table_csv(data: Any) -> bytes:
    """A table as UTF-8 CSV, formula cells (and column names) defused with :func:`defuse`.

    The index is written only when it carries information (not a plain 0..n-1 range).
    """
    df = _frame(data).copy()
    keep_index = not isinstance(df.index, pd.RangeIndex)
    df.columns = [defuse(str(c)) for c in df.columns]
    for col in df.columns[df.dtypes.eq(object) | df.dtypes.map(pd.api.types.is_string_dtype)]:
        df[col] = df[col].map(defuse).astype(object)
    if keep_index:
        df.index = pd.Index([defuse(str(i)) for i in df.index], name=df.index.name)
    return df.to_csv(index=keep_index).encode("utf-8")


def table_html(data: Any, *, max_rows: int = 500) -> str:
    """A table as an HTML ``<table>``, every cell and label escaped, at most ``max_rows``."""
    df = _frame(data)
    keep_index = not isinstance(df.index, pd.RangeIndex)
    shown = df.head(max_rows)
    head = ([html.escape(str(df.index.name or ""))] if keep_index else []) + [
        html.escape(str(c)) for c in df.columns
    ]
    rows = []
    for index, row in zip(shown.index, shown.itertuples(index=False), strict=True):
        cells = ([html.escape(str(index))] if keep_index else []) + [
            html.escape(_cell(v)) for v in row
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = (
        f'<p class="meta">First {max_rows} of {len(df)} rows; the CSV download has all.</p>'
        if len(df) > max_rows
        else ""
    )
    return (
        '<table class="data"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + more
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# --- documents ----------------------------------------------------------------------------


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title><style>{_DOC_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _stamp() -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f'<p class="meta">Exported from RNN Lens on {html.escape(now)}.</p>'


def highlight_document(title: str, view_html: str, *, note: str = "") -> str:
    """A highlighted-text view as a self-contained HTML document.

    ``view_html`` is the output of :mod:`dashboard.widgets.highlight` (its tokens and
    labels already escaped there, its colour bar the legend, its colours inline); the
    title and the note are escaped here.
    """
    note_html = f"<p>{html.escape(note)}</p>" if note else ""
    return _document(title, f"<h1>{html.escape(title)}</h1>{note_html}{_stamp()}{view_html}")


@dataclass
class Item:
    """One view of a page, in the order drawn: kind "chart" (an Altair chart), "text" (a
    highlighted-text HTML fragment) or "table" (a DataFrame); ``note`` is plain text
    shown above it (e.g. what a highlighted neuron does)."""

    kind: str
    name: str
    value: Any
    note: str = ""


@dataclass
class Report:
    """What one run of a page drew through :mod:`dashboard.export`."""

    title: str
    settings: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    #: further models the page showed, (name, meta.json) each: a card apiece
    cards: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)


def _flat(mapping: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """(dotted key, value) rows of a nested mapping, for the model card."""
    rows: list[tuple[str, str]] = []
    if not isinstance(mapping, Mapping) or depth > 4:
        return [(prefix or "value", _cell(mapping)[:400])]
    for key, value in list(mapping.items())[:200]:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            rows.extend(_flat(value, name, depth + 1))
        else:
            rows.append((name, _cell(value)[:400]))
    return rows


#: the parts of meta.json a model card shows
CARD_FIELDS = ("spec", "corpus", "dataset", "metrics", "epochs_done", "created", "foreign")


def _pairs_table(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return '<p class="meta">none</p>'
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="data"><tbody>{body}</tbody></table>'


def report_html(report: Report) -> str:
    """A page's report as one HTML document that opens offline: title, settings (the
    page's session-state keys), the model card (its meta.json fields; one per model when
    the page showed several), then every chart (inline SVG), highlighted text and table
    in the order the page drew them, each with its note."""
    parts = [f"<h1>{html.escape(report.title)}</h1>", _stamp()]
    parts.append("<h2>Settings</h2>")
    parts.append(_pairs_table([(k, _cell(v)[:400]) for k, v in sorted(report.settings.items())]))
    models = [(report.model, report.meta)] if report.model or not report.cards else []
    for name, meta in models + list(report.cards):
        parts.append(f"<h2>Model: {html.escape(name or '?')}</h2>")
        meta = meta if isinstance(meta, Mapping) else {}
        card = {k: meta[k] for k in CARD_FIELDS if k in meta}
        parts.append(_pairs_table(_flat(card)))
    for item in report.items:
        parts.append(f"<h2>{html.escape(item.name)}</h2>")
        if item.note:
            parts.append(f"<p>{html.escape(item.note)}</p>")
        if item.kind == "chart":
            try:
                parts.append(f"<figure>{_inline_svg(chart_svg(item.value))}</figure>")
            except Exception as e:  # one bad chart must not lose the report
                parts.append(f'<p class="meta">Not rendered: {html.escape(str(e)[:200])}</p>')
        elif item.kind == "text":
            parts.append(item.value)  # from dashboard.widgets.highlight: escaped there
        elif item.kind == "table":
            parts.append(table_html(item.value))
    return _document(report.title, "".join(parts))
