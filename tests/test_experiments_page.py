"""The Train page's Experiments tab, model groups on Distributions and Compare, the Train
form's pre-trained vectors and the Word Clusters embedding map, through AppTest."""

import json
import time

import pytest

from dashboard import jobs
from lib.data.corpora import corpus_from_text
from lib.model.spec import ModelSpec, TrainConfig
from lib.train import experiments as X
from lib.train.fit import train
from tests.helpers import TRAIN_TEXT, app, plain

GLOVE = "def 1 0 0 0\nreturn 0 1 0 0\nadds 0 0 1 0\nTwo 0 0 0 1\n"


def _wait(at, owner, timeout=300):
    t0 = time.time()
    while any(j.active for j in jobs.jobs(owner=owner)) and time.time() - t0 < timeout:
        time.sleep(0.5)
    at.run()


def _experiments_tab(at):
    at.session_state["train.tab"] = "Experiments"
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.segmented_control(key="train.exp.corpus_kind").set_value("Paste").run()
    at.text_area(key="train.exp.paste").input(TRAIN_TEXT).run()
    for key, value in {
        "train.exp.embedding": 4,
        "train.exp.seq_len": 20,
        "train.exp.units_step": 8,
        "train.exp.batch_step": 16,
    }.items():
        at.number_input(key=key).set_value(value)
    at.slider(key="train.exp.units").set_value((8, 16))
    at.slider(key="train.exp.batch").set_value((16, 32))
    return at


def _vega_specs(at):
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


@pytest.mark.slow
def test_tiny_search_from_the_tab_shows_its_table_and_keeps_a_model(registry):
    at = _experiments_tab(app())
    at.number_input(key="train.exp.trials").set_value(3)
    at.number_input(key="train.exp.max_epochs").set_value(1)
    at.text_input(key="train.exp.name").input("ui-search").run()
    at.button(key="btn.exp.search").click().run()
    assert not at.error, [e.value for e in at.error]
    owner = at.session_state["session_id"]
    job = jobs.jobs(owner=owner)[0]
    assert (job.settings.kind, job.settings.name) == ("search", "ui-search")
    _wait(at, owner)
    assert job.progress.status == "done", job.progress.error
    table = at.dataframe[-1].value
    assert len(table) == 3 and table["rank"].tolist() == [1, 2, 3]
    assert table["val_loss"].is_monotonic_increasing and set(table["status"]) == {"done"}
    assert {"units", "learning_rate", "batch_size", "dropout", "seed"} <= set(table.columns)
    assert any("hconcat" in s or "concat" in s for s in _vega_specs(at))  # metric vs params
    best = int(table["trial"].iloc[0])
    at.text_input(key="train.exp.keep_name").input("ui-best").run()
    at.button(key="btn.exp.keep").click().run()
    assert any("Kept trial" in s.value for s in at.success), [e.value for e in at.error]
    assert "ui-best" in at.sidebar.selectbox(key="model").options
    assert X.kept_models("ui-search") == [{"trial": best, "model": "ui-best"}]


@pytest.mark.slow
def test_bad_ranges_are_refused_before_a_job_starts(tiny_registry, monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_TRIALS", "3")
    at = _experiments_tab(app())
    at.number_input(key="train.exp.trials").set_value(5).run()
    at.button(key="btn.exp.search").click().run()
    assert any("number of trials is 5" in e.value for e in at.error), [e.value for e in at.error]
    at.segmented_control(key="train.exp.kind").set_value("Sweep").run()
    at.text_input(key="train.exp.values").input("0.1, x").run()
    at.button(key="btn.exp.sweep").click().run()
    assert any("must be numbers, got 'x'" in plain(e.value) for e in at.error)
    assert not jobs.jobs(owner=at.session_state["session_id"])


@pytest.mark.slow
def test_sweep_group_opens_together_on_distributions_and_compare(registry):
    corpus = corpus_from_text(TRAIN_TEXT, name="code")
    X.run_sweep(
        ModelSpec(cell="gru", units=8, embedding=4, seq_len=20),
        corpus,
        TrainConfig(epochs=1, batch_size=16, learning_rate=1e-2),
        group="dg",
        values=[0.0, 0.4],
        root=registry,
    )
    at = app()
    at.session_state["dist.slice_len"] = 1000
    at.session_state["train.tab"] = "Experiments"
    at.switch_page("pages/train.py").run()
    table = at.dataframe[-1].value  # the sweep's results, in the Experiments tab
    assert table["value"].tolist() == [0.0, 0.4] and set(table["status"]) == {"done"}
    at.button(key="btn.exp.open_group").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Distributions"
    assert at.multiselect(key="dist.models").value == ["dg-dropout-0", "dg-dropout-0p4"]
    assert any("dropout" in json.dumps(s) and "mean |h|" in json.dumps(s) for s in _vega_specs(at))
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="cmp.group").set_value("dg").run()
    assert not at.exception, at.exception
    assert (at.selectbox(key="cmp.a").value, at.selectbox(key="cmp.b").value) == (
        "dg-dropout-0",
        "dg-dropout-0p4",
    )
    assert at.selectbox(key="cmp.a").options == ["dg-dropout-0", "dg-dropout-0p4"]


@pytest.mark.slow
def test_train_form_vectors_path_is_checked_and_coverage_shown(tiny_registry, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text(GLOVE)
    (tiny_registry / ".vectors").mkdir()
    (tiny_registry / ".vectors" / "tiny.txt").write_text(GLOVE)
    at = app()
    at.switch_page("pages/train.py").run()
    at.segmented_control(key="train.corpus_kind").set_value("Paste").run()
    at.text_area(key="train.paste").input(TRAIN_TEXT).run()
    at.selectbox(key="train.level").set_value("word").run()
    at.segmented_control(key="train.vec_source").set_value("Path on the server").run()
    at.text_input(key="train.vec_path").input(str(outside)).run()
    assert any("No vectors file" in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key="train.vec_path").input("tiny.txt").run()
    assert any("set it to 4" in w.value for w in at.warning)  # embedding 32 by default
    at.number_input(key="train.embedding").set_value(4).run()
    captions = " ".join(c.value for c in at.caption)
    assert "glove format, 4 dimensions" in captions
    assert "Coverage: 3 of" in captions  # def, return, adds (Two: no lower-case "two")


@pytest.mark.slow
def test_embedding_map_of_learned_and_pretrained_vectors(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_LENS_VECTOR_DIRS", str(tmp_path))  # a folder vectors are read from
    vectors = tmp_path / "v.txt"
    vectors.write_text(GLOVE)
    train(
        ModelSpec(cell="gru", level="word", units=8, embedding=4, seq_len=10),
        corpus_from_text(TRAIN_TEXT, name="code"),
        name="wordy",
        root=registry,
        config=TrainConfig(epochs=1, batch_size=8, embedding_file=str(vectors)),
    )
    at = app()
    at.sidebar.selectbox(key="model").set_value("wordy").run()
    at.switch_page("pages/word_clusters.py").run()
    at.segmented_control(key="map.view").set_value("Embedding map").run()
    assert not at.exception, at.exception
    spec = next(s for s in _vega_specs(at) if "component 1" in json.dumps(s))
    assert "text" in json.dumps(spec)  # labels are text marks
    near = at.dataframe[0].value
    assert {"token", "cosine", "distance"} <= set(near.columns) and len(near) == 10
    assert any("16 tokens, 4-dimensional" in c.value for c in at.caption)
    at.segmented_control(key="map.emb_source").set_value("pre-trained").run()
    assert not at.exception and any("3 tokens, 4-dimensional" in c.value for c in at.caption)
    monkeypatch.setenv("RNN_LENS_VECTOR_DIRS", "")  # a path meta.json names is not enough
    at.segmented_control(key="map.emb_source").set_value("learned").run()
    at.segmented_control(key="map.emb_source").set_value("pre-trained").run()
    assert any("No map: No vectors file 'v.txt'" in plain(w.value) for w in at.warning)
    at.segmented_control(key="map.emb_source").set_value("learned").run()
    at.selectbox(key="map.emb_method").set_value("tsne").run()
    assert not at.exception, at.exception
