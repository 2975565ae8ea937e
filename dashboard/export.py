"""Download buttons beside every view: charts (SVG, PNG), highlighted text (HTML), tables
(CSV) and a report of the whole page (HTML).

A page draws its views through :func:`chart`, :func:`highlighted` and :func:`table`
instead of ``st.altair_chart``, ``st.html`` and ``st.dataframe``; each draws the view and
offers its downloads. The files are rendered only when a button is clicked (Streamlit
calls the ``data`` callable then), by the pure functions of :mod:`dashboard.exporting`.
:func:`report` (called once near the top of a page) starts the run's collection and puts
"Download this page as HTML" in the sidebar; the views drawn afterwards are its content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import exporting
from dashboard.exporting import Item, Report
from dashboard.widgets import gates

_KEY = "_export.report"


def _run() -> object:
    """An object that is new in every script run (the run's cursor table), or None."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.cursors


def _current() -> Report:
    """This run's report; a new, untitled one when the page has not started one."""
    found = st.session_state.get(_KEY)
    run = _run()
    if not (isinstance(found, tuple) and found[0] is run and isinstance(found[1], Report)):
        found = (run, Report(title=""), "")
        st.session_state[_KEY] = found
    return found[1]


_PLAIN = (str, int, float, bool, type(None))


def _is_setting(value: Any) -> bool:
    """A value a widget holds: a str, number or bool, or a list or tuple of them."""
    if isinstance(value, list | tuple):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def _settings(prefix: str) -> dict[str, Any]:
    """The page's settings: its session-state keys (those starting with ``prefix``) that
    hold what widgets hold, but the requests its press-to-run gates remember
    (:data:`dashboard.widgets.gates.REQUEST_KEYS`); results a page keeps there (a user's
    recorded sentences) are not settings."""
    if not prefix:
        return {}
    return {
        str(k): v
        for k, v in st.session_state.to_dict().items()
        if str(k).startswith(prefix)
        and not str(k).startswith("_")
        and str(k) not in gates.REQUEST_KEYS
        and _is_setting(v)
    }


def _collect(kind: str, name: str, value: Any, note: str = "") -> str:
    """Adds a view to the run's report; returns a widget key unique in the run."""
    found = _current()
    prefix = st.session_state[_KEY][2]
    if prefix:
        found.settings = _settings(prefix)  # after the widgets drawn so far
    found.items.append(Item(kind, name, value, note))
    return f"_export.{len(found.items)}.{kind}"


def _file_stem(name: str) -> str:
    """A download's file name stem: the page's title before the view's name, so files
    from several pages do not all read "chart" or "table"."""
    title = _current().title
    return f"{title} {name}" if title and not name.lower().startswith(title.lower()) else name


def _unnamed(kind: str, label: str) -> str:
    """A name for a view of ``kind`` drawn without one: ``label`` (what it shows), numbered
    when it is empty or the page already drew a view of that name ("Table 2: neuron, score")."""
    items = [item for item in _current().items if item.kind == kind]
    if label and label not in {item.name for item in items}:
        return label
    n = f"{kind.capitalize()} {len(items) + 1}"
    return f"{n}: {label}" if label else n


def _download(
    where: Any,
    label: str,
    render: Callable[[], Any],
    name: str,
    ext: str,
    mime: str,
    key: str,
    **style: Any,
) -> None:
    """A download button of one view: the file is rendered by ``render`` when clicked and
    named by the page's title and ``name``."""
    where.download_button(
        label,
        data=render,
        file_name=exporting.safe_filename(_file_stem(name), ext),
        mime=mime,
        on_click="ignore",
        key=f"{key}.{ext}",
        **style,
    )


def model_card(name: str, meta: object) -> None:
    """Adds a model's card to this run's report: for a page that shows several models
    (the Start page's findings); the page's own model (given to :func:`report`) and a
    model already carded are skipped."""
    found = _current()
    if not name or name == found.model or any(name == n for n, _ in found.cards):
        return
    card = meta if isinstance(meta, dict) else {}
    if not found.model:
        found.model, found.meta = name, card
    else:
        found.cards.append((name, card))


def report(title: str, prefix: str, model: str = "", meta: object = None) -> None:
    """Starts this run's report of the page and offers it in the sidebar.

    ``prefix`` selects the page's settings (session-state keys starting with it);
    ``model`` and ``meta`` (the bundle's meta.json) make the model card. The file is
    rendered when the button is clicked, from the views the last run drew.
    """
    found = Report(
        title=title,
        settings=_settings(prefix),
        model=model,
        meta=meta if isinstance(meta, dict) else {},
    )
    st.session_state[_KEY] = (_run(), found, prefix)

    def render() -> bytes:
        return exporting.report_html(found).encode("utf-8")

    st.sidebar.download_button(
        "Download this page as HTML",
        data=render,
        file_name=exporting.safe_filename(f"{title} report", "html"),
        mime="text/html",
        on_click="ignore",
        key="_export.report_button",
        icon=":material/download:",
        help="One HTML file that opens offline: the settings, the model card, every chart "
        "(SVG), highlighted text and table this page shows.",
    )


def _title(chart: Any) -> str:
    title = chart.get("title") if isinstance(chart, dict) else getattr(chart, "title", None)
    if isinstance(title, dict):
        title = title.get("text")
    text = getattr(title, "text", title)
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    return text if isinstance(text, str) and text else _unnamed("chart", "")


def chart(chart: Any, *, where: Any = None, name: str | None = None, **kwargs: Any) -> Any:
    """Draws an Altair chart, or a Vega-Lite spec given as a dict, with SVG and PNG
    downloads under it; the keywords of ``st.altair_chart`` (``st.vega_lite_chart`` for a
    dict, e.g. ``on_select``) pass through, and what it returns is returned."""
    where = st if where is None else where
    name = name or _title(chart)
    key = _collect("chart", name, chart)
    draw = where.vega_lite_chart if isinstance(chart, dict) else where.altair_chart
    out = draw(chart, **kwargs)
    with where.popover("Export chart", icon=":material/download:"):
        _download(
            st, "SVG", lambda: exporting.chart_svg(chart).encode("utf-8"), name, "svg",
            "image/svg+xml", key,
        )  # fmt: skip
        _download(st, "PNG", lambda: exporting.chart_png(chart), name, "png", "image/png", key)
    return out


def highlighted(name: str, view_html: str, *, where: Any = None, note: str = "") -> None:
    """Shows a highlighted-text view (HTML from :mod:`dashboard.widgets.highlight`) with a
    download of it as a self-contained HTML file; ``note`` (plain text, e.g. what the
    neuron does) goes with it into the file and the page's report, not onto the page."""
    where = st if where is None else where
    key = _collect("text", name, view_html, note)
    where.html(view_html)
    _download(
        where,
        "Download this text as HTML",
        lambda: exporting.highlight_document(name, view_html, note=note).encode("utf-8"),
        name,
        "html",
        "text/html",
        key,
        icon=":material/download:",
        type="tertiary",
    )


def table(data: Any, *, where: Any = None, name: str | None = None, **kwargs: Any) -> Any:
    """Draws a table (``st.dataframe`` keywords pass through) with a CSV download; returns
    what ``st.dataframe`` returns (a selection when ``on_select`` is given).

    Without a ``name`` the table is named by its column names (:func:`_unnamed`); the
    file is the page's title and that name: "neuron-relevance-neuron-score-rank.csv".
    """
    where = st if where is None else where
    name = name or _unnamed("table", exporting.table_label(data))
    key = _collect("table", name, data)
    out = where.dataframe(data, **kwargs)
    _download(
        where,
        "Download as CSV",
        lambda: exporting.table_csv(data),
        name,
        "csv",
        "text/csv",
        key,
        icon=":material/download:",
        type="tertiary",
    )
    return out
