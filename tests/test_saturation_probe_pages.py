"""AppTests: the Distributions page's gate saturation, the probe panel, and what the Word
Clusters page's clusters follow."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import TINY, TINY_CORPUS, app, random_bundle

SLICE = 2000


def _open(page: str, **settings):
    at = app()
    for key, value in settings.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


OPEN = "tiny-char-lstm-open"
#: units of OPEN whose forget gate is held open by a planted bias
OPEN_UNITS = 5


def _unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _page_trace(name: str):
    """The trace the pages record for `name`: the first SLICE characters of its corpus."""
    from lib.data.corpora import load_corpus
    from lib.model.registry import load
    from lib.run.record import record

    bundle = load(name)
    return bundle, record(bundle, load_corpus(TINY_CORPUS).text[:SLICE])


@pytest.fixture
def cells_registry(tiny_registry):
    """tiny_registry plus a GRU, a vanilla RNN and an LSTM whose first OPEN_UNITS units
    have a forget bias of +12 (their forget gate is open at every step), all with random
    weights, on the same corpus."""
    from lib.data.corpora import load_corpus
    from lib.model.registry import save

    corpus = load_corpus(TINY_CORPUS)
    for cell in ("gru", "rnn", "lstm"):
        bundle = random_bundle(cell, units=10, embedding=6, seed=2, text=corpus.text)
        bundle.meta = {"corpus": {"ref": corpus.ref, "name": corpus.name}}
        if cell == "lstm":
            layer = bundle.model.get_layer("recurrent_0")
            weights = layer.get_weights()
            weights[2][10 : 10 + OPEN_UNITS] = 12.0  # Keras bias order i, f, c, o
            layer.set_weights(weights)
        save(bundle, OPEN if cell == "lstm" else f"tiny-char-{cell}", root=tiny_registry)
    return tiny_registry


@pytest.mark.slow
def test_distributions_shows_gate_saturation_for_lstm_and_gru_not_rnn(cells_registry):
    from lib.analysis.saturation import layer_saturation

    at = _open("pages/distributions.py", **{"dist.slice_len": SLICE, "model": OPEN})
    assert "Gate saturation" in [s.value for s in at.subheader]
    assert any("Karpathy, Johnson & Fei-Fei (2015" in c.value for c in at.caption)
    line = next(_unescape(m.value) for m in at.markdown if "forget gate f open" in m.value)
    # the count shown is the one computed from the same recording here, planted units too
    _, trace = _page_trace(OPEN)
    sat = layer_saturation(trace, 0)
    f = sat[sat["gate"] == "f"]
    shown = int(re.match(r"(\d+) of (\d+) units", line).group(1))
    assert shown == int((f["right"] > 0.5).sum()) >= OPEN_UNITS
    assert (f["right"].iloc[:OPEN_UNITS] == 1.0).all()
    assert line.startswith(f"{shown} of 10 units have forget gate f open (> 0.9)")
    charts = [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]
    assert any("fraction right-saturated" in json.dumps(c) for c in charts)

    at.session_state["model"] = "tiny-char-gru"
    at.run()
    assert not at.exception, at.exception
    assert "Gate saturation" in [s.value for s in at.subheader]
    assert any("update gate z open" in m.value for m in at.markdown)

    at.session_state["model"] = "tiny-char-rnn"
    at.run()
    assert not at.exception, at.exception
    assert "Gate saturation" not in [s.value for s in at.subheader]
    assert "Mean |activation| per layer and signal" in [s.value for s in at.subheader]


def _probe_script():
    import numpy as np
    import streamlit as st

    from dashboard.panels.probe import probe_panel
    from lib.analysis.features import Feature

    rng = np.random.default_rng(0)
    mask = rng.random(2500) < 0.3
    acts = rng.normal(size=(2500, 8)).astype(np.float32)
    acts[:, 5] += 3.0 * mask  # the feature lives in unit 5
    if st.session_state.get("numeric"):
        feature = Feature("depth", np.arange(2500) % 7, kind="numeric")
    else:
        feature = Feature("planted", mask)
    probe_panel("atlas.probe", acts, feature)


def test_probe_panel_runs_on_request_and_finds_the_planted_unit():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_probe_script, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert not at.dataframe and not at.get("vega_lite_chart")  # nothing before asked
    at.button(key="btn.atlas.probe.run").click().run()
    assert not at.exception, at.exception
    line = next(m.value for m in at.markdown if "alone gets" in m.value)
    assert "with 1 neuron" in line and "neuron 5 alone gets" in line
    assert at.get("vega_lite_chart")
    path, single = at.dataframe[0].value, at.dataframe[1].value
    assert {"C", "n_neurons", "accuracy", "accuracy_l1", "neurons"} <= set(path.columns)
    assert path["neurons"].iloc[0] == "5" and single["neuron"].iloc[0] == 5
    at.run()  # a rerun without the button keeps the result (from the cache)
    assert any("neuron 5 alone gets" in m.value for m in at.markdown)
    at.session_state["numeric"] = True
    at.run()
    assert not at.exception, at.exception
    assert any("yes/no feature" in i.value for i in at.info)


@pytest.mark.slow
def test_word_clusters_reports_what_the_clusters_follow(tiny_registry):
    from dashboard import cache as C
    from lib.analysis.cluster_agreement import cluster_agreement, untrained_twin
    from lib.analysis.features import pos_tags
    from lib.analysis.projection import cluster, project
    from lib.run.record import record

    C._MAPS.clear()  # maps of earlier tests in this process are not this one's
    settings = {"map.slice_len": SLICE, "map.method": "pca", "map.n": 400, "map.k": 6}
    settings["model"] = TINY
    at = _open("pages/word_clusters.py", **settings)
    assert "What do these clusters follow?" in [s.value for s in at.subheader]
    assert not any("These clusters follow" in m.value for m in at.markdown)  # not yet asked
    at.button(key="btn.map.agreement").click().run()
    assert not at.exception, at.exception
    line = next(_unescape(m.value) for m in at.markdown if "These clusters follow" in m.value)
    report = next(d.value for d in at.dataframe if "states" in d.value.columns)
    assert report["states"].tolist() == [
        "this model",
        "untrained, same shape",
        "embedding (no context)",
    ]
    ours, untrained = report.iloc[0], report.iloc[1]
    assert f"(AMI {ours['ami_token']:.2f})" in line and f"gets {untrained['ami_token']:.2f}" in line

    # the same numbers from the library, independently of the page's caches
    bundle, trace = _page_trace(TINY)
    df = next(v for k, v in C._MAPS.items() if k[0] == "map")
    positions = df["position"].to_numpy()
    tokens = [trace.tokens[p] for p in positions]
    tags = [pos_tags(trace.tokens, level="char")[p] for p in positions]
    want = cluster_agreement(df["cluster"], tokens, tags)
    assert ours["ami_token"] == pytest.approx(want["ami_token"])
    assert ours["ami_pos"] == pytest.approx(want["ami_pos"])
    twin = untrained_twin(bundle, seed=0)
    states = record(twin, trace.tokens).signals[(0, "h")][positions]
    labels = cluster(project(states, method="pca", seed=0), n_clusters=6, linkage="ward")
    want = cluster_agreement(labels, tokens, tags)
    assert untrained["ami_token"] == pytest.approx(want["ami_token"], abs=1e-6)
    assert untrained["ami_pos"] == pytest.approx(want["ami_pos"], abs=1e-6)
    emb = report.iloc[2]
    assert -0.1 < emb["ami_token"] <= 1.0 and emb["n_clusters"] <= emb["n_tokens"]

    # another setting: the report waits for the button again
    at.slider(key="map.k").set_value(8).run()
    assert not at.exception, at.exception
    assert not any("These clusters follow" in m.value for m in at.markdown)
