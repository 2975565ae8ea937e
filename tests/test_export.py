"""Exports (issue 20, item 3): charts as SVG and PNG, highlighted text as self-contained
HTML, tables as CSV, and a report of a page; the renderers (dashboard.exporting) and the
download controls of the pages (dashboard.export, through AppTest)."""

from __future__ import annotations

import io
import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dashboard import exporting
from dashboard.exporting import ExportError, Item, Report
from dashboard.widgets.highlight import ColourScale, highlighted_rows_html
from tests.helpers import DEMO, app

HOSTILE = "<script>alert('x')</script>"


def _chart() -> alt.Chart:
    df = pd.DataFrame({"step": [0, 1, 2], "activation": [0.1, -0.4, 0.9]})
    return (
        alt.Chart(df)
        .mark_line()
        .encode(x=alt.X("step", title="Time step"), y=alt.Y("activation", title="Activation h"))
        .properties(title="Unit 17 over time")
    )


def _view() -> str:
    tokens = ["a", " ", HOSTILE, "b"]
    scale = ColourScale("diverging", -1.0, 1.0, label="h")
    return highlighted_rows_html(tokens, [("unit 3", np.array([1.0, 0.0, -1.0, 0.5]))], scale)


def _external_refs(doc: str) -> list[str]:
    """Every src/href/url(...) that points outside the file."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", doc, re.I)
    refs += re.findall(r"url\(([^)]*)\)", doc, re.I)
    return [r for r in refs if not r.startswith(("#", "data:"))] + re.findall(
        r"(?:src|href)\s*=\s*[\"']?https?:", doc, re.I
    )


# --- charts -------------------------------------------------------------------------------


def test_svg_holds_the_charts_title_and_axis_labels():
    svg = exporting.chart_svg(_chart())
    assert svg.lstrip().startswith("<svg")
    for text in ("Unit 17 over time", "Time step", "Activation h"):
        assert text in svg


def test_png_is_a_png_of_the_charts_size_times_the_scale():
    png = exporting.chart_png(_chart(), scale=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    svg = exporting.chart_svg(_chart())
    sw, sh = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', svg).groups())
    assert (width, height) == (2 * sw, 2 * sh)


def test_a_chart_with_a_remote_data_url_is_refused():
    remote = alt.Chart("http://127.0.0.1:9/data.csv").mark_point().encode(x="a:Q")
    with pytest.raises(ExportError, match="URL"):
        exporting.chart_svg(remote)
    with pytest.raises(ExportError, match="URL"):
        exporting.chart_png(remote)


def test_hostile_chart_labels_stay_text_in_the_svg():
    svg = exporting.chart_svg(_chart().properties(title=HOSTILE))
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg


# --- highlighted text ---------------------------------------------------------------------


def test_highlight_document_is_self_contained_and_escaped():
    doc = exporting.highlight_document(f"Neurons {HOSTILE}", _view())
    assert doc.startswith("<!DOCTYPE html>")
    assert "<script" not in doc.lower()
    # <title>, <h1>, the token and its tooltip
    assert doc.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") == 4
    assert _external_refs(doc) == []
    assert "Content-Security-Policy" in doc and "default-src 'none'" in doc
    assert 'class="hl-bar"' in doc  # the legend
    # the app's colours: +1 is the scale's red, -1 its blue, inline on each token
    assert "background:#b40426" in doc and "background:#3b4cc0" in doc


# --- tables -------------------------------------------------------------------------------


def test_csv_round_trips_with_pandas_and_defuses_formulas():
    df = pd.DataFrame(
        {
            "token": ["=1+2", "+SUM(A1)", "-3", "@cmd", "plain", "\tx", HOSTILE],
            "value": [1.5, -2.0, 3.0, 0.0, np.nan, 7.25, 1e-9],
            "count": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    back = pd.read_csv(io.BytesIO(exporting.table_csv(df)), keep_default_na=False)
    assert list(back.columns) == ["token", "value", "count"]
    assert back["token"].tolist() == [
        "'=1+2",
        "'+SUM(A1)",
        "'-3",
        "'@cmd",
        "plain",
        "'\tx",
        HOSTILE,
    ]
    values = pd.to_numeric(back["value"].replace("", np.nan))
    np.testing.assert_allclose(values, df["value"], equal_nan=True)
    assert back["count"].tolist() == df["count"].tolist()  # numbers are not prefixed


def test_csv_keeps_a_meaningful_index_and_defuses_names():
    df = pd.DataFrame({"=x": [1, 2]}, index=pd.Index(["a", "=b"], name="unit"))
    back = pd.read_csv(io.BytesIO(exporting.table_csv(df)), index_col=0)
    assert back.index.tolist() == ["a", "'=b"] and back.columns.tolist() == ["'=x"]
    styled = pd.DataFrame({"a": [1]}).style.format("{:.2f}")
    assert exporting.table_csv(styled) == b"a\n1\n"


def test_table_html_escapes_cells_and_labels():
    out = exporting.table_html(pd.DataFrame({HOSTILE: [HOSTILE, 1.0]}))
    assert "<script" not in out and out.count("&lt;script&gt;") == 2


# --- the report ---------------------------------------------------------------------------


def test_report_holds_settings_model_card_charts_text_and_tables():
    report = Report(
        title="Generate & Highlight",
        settings={"gen.seed_text": HOSTILE, "gen.length": 40},
        model=f"my-{HOSTILE}",
        meta={"spec": {"cell": "lstm", "units": 8}, "metrics": {"val_bpc": 1.25}, "x": "no"},
        items=[
            Item("chart", "a chart", _chart()),
            Item("text", "neurons", _view()),
            Item("table", "a table", pd.DataFrame({"unit": [3], "score": [0.5]})),
        ],
    )
    doc = exporting.report_html(report)
    assert "<script" not in doc.lower()
    assert _external_refs(doc) == []
    assert "Generate &amp; Highlight" in doc
    assert "gen.seed_text" in doc and "gen.length" in doc and "<td>40</td>" in doc
    assert "my-&lt;script&gt;" in doc
    assert "spec.cell" in doc and "metrics.val_bpc" in doc and "1.25" in doc
    assert "<th>x</th>" not in doc  # only the card's fields of meta.json
    assert doc.index("Unit 17 over time") < doc.index("hl-table") < doc.index("<th>score</th>")
    assert "<svg" in doc and "<?xml" not in doc


# --- the pages ----------------------------------------------------------------------------


def _download_labels(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_generate_page_offers_text_and_report_downloads(registry):
    at = app()
    labels = _download_labels(at)
    assert "Download this text as HTML" in labels
    assert "Download this page as HTML" in [
        b.proto.label for b in at.sidebar.get("download_button")
    ]
    # the report the sidebar button renders: what this run drew
    _, report, prefix = at.session_state["_export.report"]
    assert prefix == "gen." and report.model == DEMO
    assert [i.kind for i in report.items][:1] == ["text"]
    doc = exporting.report_html(report)
    assert "gen.mode" in doc and "hl-table" in doc and DEMO in doc


def test_analysis_page_offers_chart_and_table_downloads(registry):
    at = app("pages/relevance.py")
    labels = _download_labels(at)
    assert {"SVG", "PNG", "Download as CSV"} <= set(labels), labels
    _, report, _ = at.session_state["_export.report"]
    kinds = {i.kind for i in report.items}
    assert {"chart", "table", "text"} <= kinds
    # every chart the page drew renders offline
    for item in report.items:
        if item.kind == "chart":
            assert exporting.chart_svg(item.value).lstrip().startswith("<svg")


def test_a_report_of_several_models_has_a_card_each_and_the_notes_escaped():
    report = Report(
        title="Start here",
        items=[Item("text", "Inside quotes: m1, neuron 7", _view(), note=f"Neuron 7 {HOSTILE}")],
        cards=[("m1", {"spec": {"cell": "lstm"}}), (f"m2{HOSTILE}", {"spec": {"cell": "gru"}})],
    )
    doc = exporting.report_html(report)
    assert "Model: ?" not in doc  # no page model: the cards stand for it
    assert doc.count("<h2>Model: ") == 2 and "Model: m2&lt;script&gt;" in doc
    assert "lstm" in doc and "gru" in doc
    assert "<p>Neuron 7 &lt;script&gt;" in doc and "<script" not in doc.lower()
    assert doc.index("Neuron 7 &lt;") < doc.index("hl-table")
    single = exporting.report_html(Report(title="Train"))
    assert single.count("<h2>Model: ?</h2>") == 1  # a page without a model says so


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (pd.DataFrame({"neuron": [1], "score": [0.5]}), "neuron, score"),
        (pd.DataFrame({c: [1] for c in "abcde"}), "a, b, c, …"),
        (pd.DataFrame({"x": [1]}, index=pd.Index(["u"], name="unit")), "unit, x"),
        (pd.DataFrame({"x": [1]}).style, "x"),
        ([{"token": "a", "count": 2}], "token, count"),
        (pd.DataFrame(), ""),
    ],
)
def test_a_table_without_a_name_is_named_by_its_columns(data, want):
    assert exporting.table_label(data) == want


def test_download_names_carry_the_page_title_and_the_tables_columns(registry, monkeypatch):
    names: list[str] = []
    real = exporting.safe_filename

    def spy(name: str, suffix: str) -> str:
        names.append(real(name, suffix))
        return names[-1]

    monkeypatch.setattr(exporting, "safe_filename", spy)
    at = app("pages/relevance.py")
    _, report, _ = at.session_state["_export.report"]
    tables = [i.name for i in report.items if i.kind == "table"]
    assert tables and "table" not in tables and len(set(tables)) == len(tables)
    csv = [n for n in names if n.endswith(".csv")]
    assert len(csv) == len(tables) and len(set(csv)) == len(csv), csv
    for file, name in zip(csv, tables, strict=True):
        assert file == real(f"Neuron Relevance {name}", "csv")
        assert file.startswith("neuron-relevance-") and file != "neuron-relevance-table.csv"
    assert "neuron-relevance-report.html" in names
    assert not [n for n in names if n.split(".")[0] in ("chart", "table", "export")], names


def _spec_page() -> None:
    import streamlit as st

    from dashboard import export

    export.report("Spec page", "spec.")
    spec = {
        "title": "Glyphs of a sentence",
        "data": {"values": [{"chip": 1, "v": 0.5}, {"chip": 2, "v": -0.25}]},
        "params": [{"name": "pick", "select": {"type": "point", "fields": ["chip"]}}],
        "mark": "bar",
        "encoding": {"x": {"field": "chip", "type": "ordinal"}, "y": {"field": "v"}},
    }
    event = export.chart(spec, on_select="rerun", selection_mode="pick", key="spec.chart")
    st.session_state["spec_event"] = event


def test_a_vega_lite_spec_dict_is_drawn_with_its_selection_and_exported():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_spec_page).run(timeout=60)
    assert not at.exception, at.exception
    assert "selection" in at.session_state["spec_event"]  # on_select reached vega_lite_chart
    _, report, _ = at.session_state["_export.report"]
    assert [(i.kind, i.name) for i in report.items] == [("chart", "Glyphs of a sentence")]
    svg = exporting.chart_svg(report.items[0].value)
    assert "Glyphs of a sentence" in svg and "<script" not in svg


PAGE_MODELS = {
    "generate": DEMO,
    "relevance": DEMO,
    "fourier": DEMO,
    "distributions": DEMO,
    "word_clusters": DEMO,
    "memory_chips": "demo-ref-word-lstm",
    "hidden_states": "demo-polarity-lstm",
    "compare": DEMO,
}


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(PAGE_MODELS))
def test_every_chart_in_a_pages_report_has_a_name_of_its_own(page, tmp_path, monkeypatch):
    """A report's chart headings (and download file names) say what each chart shows:
    none is an anonymous "Chart 3", and no two charts of a page share a name."""
    import shutil

    from tests.helpers import ROOT

    root = tmp_path / "models"
    for name in {DEMO, PAGE_MODELS[page]}:
        shutil.copytree(ROOT / "models" / name, root / name)
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    at = app(None)
    at.session_state["model"] = PAGE_MODELS[page]
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    _, report, _ = at.session_state["_export.report"]
    names = [i.name for i in report.items if i.kind == "chart"]
    assert names, page
    assert not [n for n in names if re.fullmatch(r"Chart \d+.*", n)], names
    assert len(set(names)) == len(names), names
