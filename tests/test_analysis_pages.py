"""The analysis pages through Streamlit's AppTest, on the demo model or the tiny one."""

import pytest

from tests.helpers import ROOT, app


def _open(page: str, **settings):
    at = app()
    for key, value in settings.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _headline(at) -> str:
    """The page's bold headline, Markdown escapes removed."""
    texts = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("**Neuron")]
    assert len(texts) == 1, [m.value for m in at.markdown]
    return texts[0].strip("*")


def test_relevance_page_ranks_by_effect_size_with_a_headline(tiny_registry):
    at = _open("pages/relevance.py", **{"rel.slice_len": 3000})
    table = at.dataframe[0].value
    assert len(table) == 16
    assert {"effect", "ci_low", "ci_high", "direction", "finding", "q", "R", "R_z"} <= set(
        table.columns
    )
    live = table[~table["constant"]]
    # findings first, then effect size, descending
    assert (live["finding"].astype(int).diff().dropna() <= 0).all()
    for _, group in live.groupby("finding"):
        assert (group["size"].diff().dropna() <= 1e-12).all()
    top = table.iloc[0]
    headline = _headline(at)
    assert headline.startswith(f"Neuron {top['neuron']}: AUROC {top['effect']:.2f} [")
    assert top["direction"] in headline and "circular-shift test" in headline
    assert "q < 0.05" not in " ".join(m.label for m in at.metric)
    clear = next(m for m in at.metric if m.label == "Neurons with a clear effect")
    assert clear.value.endswith(" of 16")
    ids = at.session_state["top_neurons"]
    assert any(label.startswith("AUROC for space") for (*_, label) in ids)
    assert at.main.get("html") and "neuron" in at.main.get("html")[0].proto.body


@pytest.mark.slow
def test_relevance_page_finds_the_space_neuron_of_the_demo_model_and_ranks_by_R(registry):
    at = _open("pages/relevance.py", **{"rel.slice_len": 5000})
    table = at.dataframe[0].value
    assert table.iloc[0]["finding"] and table.iloc[0]["size"] > 0.5
    assert "; survives the circular-shift test (q < " in _headline(at)
    findings = next(m for m in at.metric if m.label == "Findings")
    assert int(findings.value) >= 1

    at.segmented_control(key="rel.rank_by").set_value("R").run()
    assert not at.exception, at.exception
    by_r = at.dataframe[0].value
    assert (by_r["R"][~by_r["constant"]].diff().dropna() <= 1e-12).all()
    assert by_r.iloc[0]["R"] == 1.0
    assert _headline(at).startswith(f"Neuron {by_r.iloc[0]['neuron']}: AUROC ")
    ids = at.session_state["top_neurons"]
    assert any(label.startswith("R for space") for (*_, label) in ids)


@pytest.mark.slow
def test_relevance_page_invalid_regex_and_empty_feature(tiny_registry):
    at = _open("pages/relevance.py", **{"rel.slice_len": 2000, "rel.fkind": "Regex"})
    at.text_input(key="rel.regex").input("([unclosed").run()
    assert not at.exception
    assert any("Invalid regular expression" in w.value for w in at.warning)
    at.text_input(key="rel.regex").input("QQQ").run()
    assert any("matches none" in w.value for w in at.warning), [w.value for w in at.warning]


@pytest.mark.slow
def test_relevance_page_numeric_structure_feature(tiny_registry):
    at = _open(
        "pages/relevance.py",
        **{"rel.slice_len": 3000, "rel.fkind": "Structure", "rel.structural": "position in line"},
    )
    table = at.dataframe[0].value
    assert "effect" in table.columns and "R" not in table.columns
    live = table[~table["constant"]]
    assert (live["finding"].astype(int).diff().dropna() <= 0).all()
    assert (live.loc[~live["finding"], "size"].diff().dropna() <= 1e-12).all()
    assert _headline(at).startswith(f"Neuron {table.iloc[0]['neuron']}: r ")


def test_fourier_page_finds_a_peak_with_its_period(registry):
    at = _open("pages/fourier.py", **{"fft.slice_len": 5000})
    peaks = at.dataframe[0].value
    top = peaks.iloc[0]
    assert 0.02 <= top["frequency"] <= 0.5
    assert abs(top["period (tokens)"] - 1 / top["frequency"]) < 1e-9
    assert any("Strongest in-band peak" in m.value for m in at.markdown)
    assert at.main.get("html") and not at.exception
    at.slider(key="fft.band").set_value((0.3, 0.5)).run()
    assert at.dataframe[0].value["frequency"].between(0.3, 0.5).all()


def test_distributions_page_ranks_by_kl_and_flags_dead(registry):
    at = _open("pages/distributions.py", **{"dist.slice_len": 3000})
    table = at.dataframe[0].value
    assert {"kl_forward", "kl_reverse", "kl_sum", "dead"} <= set(table.columns)
    assert (table["kl_sum"].diff().dropna() <= 1e-9).all()
    assert any(m.label == "Dead neurons" for m in at.metric)
    at.segmented_control(key="dist.rank").set_value("reverse").run()
    assert (at.dataframe[0].value["kl_reverse"].diff().dropna() <= 1e-9).all()
    at.number_input(key="dist.dead_thr").set_value(1.0).run()  # every neuron is now dead
    assert any("Every neuron is dead" in w.value for w in at.warning)
    assert not at.exception


def test_word_clusters_page_maps_and_clusters(registry):
    at = _open(
        "pages/word_clusters.py",
        **{"map.slice_len": 3000, "map.method": "pca", "map.n": 600, "map.k": 6},
    )
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["cluster"]) == sorted(table["cluster"])
    assert table["size"].is_monotonic_decreasing and table["size"].sum() == 600
    at.selectbox(key="map.colour").set_value("token").run()
    at.text_input(key="map.hide").input("␣ (space)").run()
    assert "␣ (space)" not in " ".join(at.dataframe[0].value["tokens"])
    assert not at.exception


def test_memory_chips_page(registry):
    at = _open(
        "pages/memory_chips.py", **{"chips.slice_len": 3000, "chips.k": 4, "chips.top_n": 60}
    )
    assert not at.exception, at.exception
    detail = at.dataframe[0].value
    assert len(detail) == 10 and detail["magnitude"].is_monotonic_decreasing
    at.number_input(key="chips.unit").set_value(5).run()
    assert not at.exception


def test_compare_page_two_models_and_two_layers(registry, caplog):
    import shutil

    shutil.copytree(ROOT / "models" / "demo-ref-char-gru", registry / "demo-ref-char-gru")
    at = _open(
        "pages/compare.py",
        **{"cmp.a": "demo-ref-char-lstm", "cmp.b": "demo-ref-char-gru", "cmp.chars": 3000},
    )
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.shape[1] == 2 and "dead" in table.index
    assert "neurons with a clear effect" in table.index and "q < 0.05" not in table.index
    # one type per column: Streamlit did not have to repair the table for Arrow
    assert "to Arrow table was unsuccessful" not in caplog.text
    assert len(at.code) == 2 and at.code[0].value != at.code[1].value
    at.selectbox(key="cmp.b").set_value("demo-ref-char-lstm").run()
    assert any("same layer of the same model" in c.value for c in at.caption)


def test_ablation_page_sweep_and_training_evolution(registry):
    import shutil

    shutil.copytree(ROOT / "models" / "demo-stdlib-char-lstm", registry / "demo-stdlib-char-lstm")
    at = app()
    at.session_state["model"] = "demo-stdlib-char-lstm"
    for key, value in {"abl.chars": 1000, "abl.kmax": 2, "abl.n_random": 5}.items():
        at.session_state[key] = value
    at.switch_page("pages/ablation.py").run()
    assert not at.exception, at.exception
    assert any("Press **Run the sweep**" in i.value for i in at.info)
    at.button(key="btn.abl.run").click().run()
    assert not at.exception, at.exception
    assert any("draws from unrelated neurons" in m.value for m in at.markdown)
    assert any("Press **Trace the training evolution**" in i.value for i in at.info)
    at.button(key="btn.abl.evolution").click().run()  # one recording per epoch: when asked
    assert not at.exception, at.exception
    evo = at.dataframe[-1].value
    assert list(evo["epoch"]) == list(range(1, 9))
    assert any("is the best from epoch" in m.value for m in at.markdown)
    assert at.main.get("html") and "neuron" in at.main.get("html")[0].proto.body


def test_pattern_search_page_lists_matches(registry):
    at = _open(
        "pages/pattern_search.py",
        **{
            "pat.slice_len": 4000,
            "pat.by": "token numbers",
            "pat.span_start": 200,
            "pat.span_len": 3,
            "pat.threshold": 0.2,
        },
    )
    assert not at.exception, at.exception
    if at.warning:  # no neuron on throughout: a clear message, and a lower threshold helps
        assert "No neuron is on" in at.warning[0].value
        at.slider(key="pat.threshold").set_value(-0.5).run()
    matches = at.dataframe[0].value
    assert 0 < len(matches) <= 50
    assert (matches["score"].diff().dropna() <= 0).all()
    assert not ((matches["start"] <= 202) & (matches["end"] >= 200)).any()  # span excluded
    assert at.main.get("html") and "#1 at" in at.main.get("html")[0].proto.body


def test_word_cloud_slots_keep_lines_apart_and_cut_long_words() -> None:
    import pandas as pd

    from dashboard import charts
    from dashboard.tables import pack_clouds

    words = pd.DataFrame(
        {
            "word": ["a", "starred_expression_debug", "b", "c", "\n"],
            "word_cluster": [0, 0, 0, 1, 1],
            "size": [1.0, 3.0, 2.0, 1.0, 2.0],
        }
    )
    packed = pack_clouds(words, per_row=2, label_chars=8)
    # largest first within a cluster, two to a line; lines count from 0 in every cluster
    assert packed["word"].tolist() == ["starred_expression_debug", "b", "a", "↵ (newline)", "c"]
    assert packed["label"].tolist() == ["starred…", "b", "a", "↵ (newl…", "c"]
    assert packed["y"].tolist() == [0, 0, 1, 0, 0] and packed["x"].tolist() == [0, 1.2, 0, 0, 1.2]
    spec = charts.word_clouds(packed.assign(pos="NOUN")).to_dict()
    assert spec["spec"]["encoding"]["y"]["type"] == "ordinal"  # one band per line
    assert spec["spec"]["encoding"]["text"]["field"] == "label"
