"""The Memory Chips page's sentence glyphs through Streamlit's AppTest, on a demo model."""

import json

import pytest

from tests.helpers import app, plain

SETTINGS = {"chips.slice_len": 3000, "chips.k": 4, "chips.top_n": 60}


def _open(**settings):
    at = app()
    for key, value in {**SETTINGS, **settings}.items():
        at.session_state[key] = value
    at.switch_page("pages/memory_chips.py").run()
    assert not at.exception, at.exception
    return at


def _glyph_specs(at) -> list[dict]:
    """Vega-Lite specs of the glyph charts (the layered charts with a preserved cursor)."""
    specs = [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]
    return [s for s in specs if "preserved fraction" in json.dumps(s)]


@pytest.mark.slow
def test_memory_chips_page_shows_the_default_sentence_glyphs(registry):
    at = _open()
    assert any(h.value == "Sentence glyphs" for h in at.subheader)
    [spec] = _glyph_specs(at)
    assert any("17 tokens" in c.value for c in at.caption)  # "if x is not None:" in chars
    assert any("scale ±" in c.value for c in at.caption)
    assert len(spec["layer"]) == 5  # frames, zero lines, bars and control charts, hats, labels


@pytest.mark.slow
def test_memory_chips_page_compares_two_sentences_side_by_side(registry):
    at = _open(**{"chips.sentence": "x = 1", "chips.sentence2": "*not* <b>y</b>"})
    assert len(_glyph_specs(at)) == 2
    captions = [plain(c.value) for c in at.caption]
    assert any("5 tokens" in c and "x = 1" in c for c in captions)
    # shown literally: no emphasis, no tag (plain() resolves the escapes a reader never sees)
    raw = [c.value for c in at.caption]
    assert any("14 tokens" in c and "*not* <b>y</b>" in c for c in captions), captions
    assert any(r"\*not\* \<b\>y\<\/b\>" in c for c in raw), raw
    at.selectbox(key="chips.beta").set_value("gate").run()  # an LSTM's c keeps f * c
    assert not at.exception and len(_glyph_specs(at)) == 2
    at.text_input(key="chips.sentence").input("").run()
    at.text_input(key="chips.sentence2").input("").run()
    assert not at.exception and not _glyph_specs(at)
    assert any("Type a sentence" in i.value for i in at.info)


def test_glyph_chart_shows_tokens_as_text_and_hats_only_where_moved():
    import numpy as np

    from dashboard.charts import sentence_glyphs as chart
    from lib.analysis.glyphs import glyph_scale, glyph_table, sentence_glyphs

    h = np.array([[0.5, -0.2, 0.3], [0.5, -0.4, 0.3], [0.1, -0.4, 0.3]])
    g = sentence_glyphs(h, [0, 1, 0], tokens=["<b>", "\n", "x" * 30])
    spec = chart(glyph_table(g, cluster_words={0: "a, b"}), scale=glyph_scale(g)).to_dict()
    data = spec["datasets"]
    labels = {row["label"] for rows in data.values() for row in rows if "label" in row}
    assert labels == {"<b>", "↵ (newline)", "x" * 11 + "…"}
    hats = next(rows for rows in data.values() if rows and "direction" in rows[0])
    # positive parts: cluster 0 rises from 0 to 0.8 at step 0, falls to 0.4 at step 2
    # (cluster 1 has none); negative parts: cluster 1 falls to -0.2, then to -0.4 at
    # step 1 (cluster 0 has none); hats with Δ = 0 are left out
    assert [(r["step"], r["cluster"], r["direction"]) for r in hats] == [
        (0, 0, "up (Δ > 0)"),
        (2, 0, "down (Δ < 0)"),
        (0, 1, "down (Δ < 0)"),
        (1, 1, "down (Δ < 0)"),
    ]
    assert "isValid(datum.fraction)" in str(spec)  # no cursor where nothing was kept


def test_a_click_on_a_glyph_bar_selects_its_chip_in_the_spec():
    import numpy as np

    from dashboard.charts import CHIP_SELECTION
    from dashboard.charts import sentence_glyphs as chart
    from lib.analysis.glyphs import glyph_scale, glyph_table, sentence_glyphs

    g = sentence_glyphs(np.array([[0.5, -0.2], [0.1, 0.3]]), [0, 1], tokens=["a", "b"])
    spec = chart(glyph_table(g), scale=glyph_scale(g)).to_dict()
    [pick] = spec["params"]  # Altair lifts a layer's selection to the top, with its view
    assert pick["name"] == CHIP_SELECTION
    assert pick["select"] == {
        "type": "point",
        "fields": ["cluster"],
        "on": "click",
        "clear": "dblclick",
    }
    assert f'"param": "{CHIP_SELECTION}"' in json.dumps(spec)  # picked bars drawn differently


def test_selected_chip_reads_the_first_chart_with_a_selection():
    from dashboard.panels.glyphs import selected_chip

    empty = {"selection": {"chip": {}}}  # what Streamlit keeps before any click
    assert selected_chip() is None and selected_chip(None, empty) is None
    assert selected_chip({"selection": {}}, {"other": 1}) is None
    assert selected_chip(empty, {"selection": {"chip": [{"cluster": 3}]}}) == 3
    assert (
        selected_chip(
            {"selection": {"chip": [{"cluster": "2"}]}}, {"selection": {"chip": [{"cluster": 3}]}}
        )
        == 2
    )
    # picked when k was larger: not among the chips shown now
    picked = {"selection": {"chip": [{"cluster": 5}]}}
    assert selected_chip(picked, chips=[0, 1, 1, 2]) is None
    assert selected_chip(picked, chips=[5, 0, 5]) == 5


def test_memory_chips_fade_all_but_the_picked_chip():
    import pandas as pd

    from dashboard import charts

    df = pd.DataFrame(
        {"unit": [0, 1], "cluster": [0, 1], "row": [0, 0], "col": [0, 0], "response": [0.1, -0.2]}
    )
    assert charts.memory_chips(df).to_dict()["spec"]["encoding"]["opacity"] == {"value": 1.0}
    faded = charts.memory_chips(df, highlight=1).to_dict()["spec"]["encoding"]["opacity"]
    assert faded == {"condition": {"test": "(datum.cluster === 1)", "value": 1.0}, "value": 0.15}


@pytest.mark.slow
def test_page_picks_out_the_clicked_chip(registry, monkeypatch):
    from dashboard.panels import glyphs

    at = _open()
    [element] = [el for el in at.get("vega_lite_chart") if "preserved fraction" in el.proto.spec]
    assert list(element.proto.selection_mode) == ["chip"]  # clicks rerun the page
    assert not any("Picked" in c.value for c in at.caption)
    # AppTest cannot click a chart: stand in for Streamlit's selection state
    monkeypatch.setattr(glyphs, "selected_chip", lambda *states, chips=None: 1)
    at.run()
    assert not at.exception, at.exception
    assert any(plain(c.value).startswith("Picked: chip 1 ") for c in at.caption)
    chips = next(
        json.loads(el.proto.spec)
        for el in at.get("vega_lite_chart")
        if '"row"' in el.proto.spec and "response" in el.proto.spec
    )
    assert chips["spec"]["encoding"]["opacity"]["condition"]["test"] == "(datum.cluster === 1)"
