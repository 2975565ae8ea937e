"""Default views that show something, and pages that do not mislead (issue 17).

AppTests on the tiny model (fast) and, where the finding needs a trained model, the demo.
"""

import json
import re
import shutil

import pytest

from tests.helpers import TINY, app


def _open(page: str, **settings):
    at = app()
    for key, value in settings.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _chart_rows(chart) -> list[dict]:
    """The rows of an Altair chart's inline datasets, as AppTest sees them."""
    import pyarrow as pa

    # Streamlit sends a chart's data as Arrow streams beside the spec
    return [
        row
        for dataset in chart.proto.datasets
        for row in pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
    ]


def _row_labels(at) -> int:
    """Rows of highlighted text on the page (one per neuron shown)."""
    return sum(h.proto.body.count('class="hl-label"') for h in at.main.get("html"))


def test_fourier_opens_on_the_mean_removed_and_a_compact_text_view(tiny_registry):
    at = _open("pages/fourier.py", **{"fft.slice_len": 3000})
    assert at.toggle(key="fft.remove_mean").value is True
    assert at.session_state["fft.remove_mean"] is True
    n_h = at.slider(key="fft.n_h").value
    assert _row_labels(at) == n_h == 3  # the detected neurons only, not ±2 neighbours
    compact = sum(len(h.proto.body) for h in at.main.get("html"))
    at.toggle(key="fft.more").set_value(True).run()
    assert not at.exception, at.exception
    assert _row_labels(at) > n_h  # "show more" adds the neighbours
    assert sum(len(h.proto.body) for h in at.main.get("html")) > 2 * compact
    # the heat map's colour domain leaves out the zero frequency: the band only
    heat = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert heat["encoding"]["color"]["scale"]["type"] == "log"
    shown = {float(row["freq"]) for row in _chart_rows(at.get("vega_lite_chart")[0])}
    assert shown and min(shown) >= 0.02  # the band only: no zero-frequency column


def test_distributions_scales_h_and_c_separately(tiny_registry):
    at = _open("pages/distributions.py", **{"dist.slice_len": 3000})
    heads = [m.value for m in at.markdown]
    assert "**hidden state h**" in heads and "**cell state c**" in heads
    assert "**gates and others**" in heads
    assert any("its own scale" in c.value for c in at.caption)


def test_word_clusters_open_on_pca(tiny_registry):
    at = _open("pages/word_clusters.py", **{"map.slice_len": 3000, "map.n": 300, "map.k": 4})
    method = at.selectbox(key="map.method")
    assert method.value == "pca"
    assert method.options[0] == "PCA (instant)"
    assert "minute" in method.help


def test_pattern_search_finds_a_span_by_its_text(tiny_registry):
    at = _open("pages/pattern_search.py", **{"pat.slice_len": 3000})
    assert at.segmented_control(key="pat.by").value == "text"
    at.text_input(key="pat.find").input("Assert statements").run()
    assert not at.exception, at.exception
    # the demo corpus begins 'The "assert" statement\n*****...\n\nAssert statements are'
    text = "".join(at.session_state["pat.find"])
    assert text == "Assert statements"
    start, length = at.session_state["pat.span_start"], at.session_state["pat.span_len"]
    assert length == len("Assert statements")  # one token per character
    span = next(m.value for m in at.markdown if m.value.startswith("Span "))
    assert span.startswith(f"Span {start}–{start + length - 1}: ")
    shown = span.split(": ", 1)[1].replace("\\", "")
    assert shown.startswith("**Assert") and shown.endswith("statements**")
    at.text_input(key="pat.find").input("no such text here").run()
    assert any("does not occur" in w.value for w in at.warning)


def test_compare_of_two_models_shows_no_neuron_overlap(tiny_registry):
    other = tiny_registry / "tiny-char-lstm-b"
    shutil.copytree(tiny_registry / TINY, other)
    meta = json.loads((other / "meta.json").read_text())
    (other / "meta.json").write_text(json.dumps({**meta, "name": other.name}))
    at = _open(
        "pages/compare.py", **{"cmp.a": TINY, "cmp.b": "tiny-char-lstm-b", "cmp.chars": 2000}
    )
    texts = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "Spearman" not in texts and not re.search(r"overlap \**\d", texts)
    assert any("No neuron-by-neuron overlap" in c.value for c in at.caption), (
        [c.value for c in at.caption],
        [w.value for w in at.warning],
        [i.value for i in at.info],
    )
    best = at.dataframe[-1].value
    assert "best neuron" in best.index and "effect size" in best.index
    assert best.shape[1] == 2  # A and B side by side


@pytest.mark.slow
def test_pattern_search_default_finds_matches_on_the_demo_model(registry):
    at = _open("pages/pattern_search.py")
    assert not at.warning, [w.value for w in at.warning]
    matches = at.dataframe[0].value
    assert len(matches) > 0 and matches["n_pattern_on"].max() >= 1
    # the default span is the quoted word's opening: the matches are other quoted strings
    span = next(m.value for m in at.markdown if m.value.startswith("Span "))
    assert "assert" in span
    # merged: no two matches overlap or lie within a span's length of each other
    starts = sorted(matches["start"])
    length = at.session_state["pat.span_len"]
    assert all(b - a >= 2 * length for a, b in zip(starts, starts[1:], strict=False))


def test_memory_chips_colour_domain_is_robust_and_centred(tiny_registry):
    at = _open(
        "pages/memory_chips.py", **{"chips.slice_len": 3000, "chips.k": 4, "chips.top_n": 60}
    )
    chips = next(
        c
        for c in at.get("vega_lite_chart")
        if '"response"' in c.proto.spec and "facet" in c.proto.spec
    )
    scale = json.loads(chips.proto.spec)["spec"]["encoding"]["color"]["scale"]
    low, high = scale["domain"]
    assert low == -high and high > 0 and scale["clamp"] is True  # centred on 0, ends clipped
    responses = sorted(abs(row["response"]) for row in _chart_rows(chips))
    # the 98th percentile of |response|: at most 2 % of the units lie beyond it
    assert sum(r > high + 1e-9 for r in responses) <= 0.02 * len(responses) + 1
    assert high <= responses[-1]
