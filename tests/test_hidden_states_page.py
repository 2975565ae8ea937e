"""The Hidden States page through Streamlit's AppTest, on the shipped demo classifier."""

import re
import shutil

import pytest

from tests.helpers import ROOT, app

CLASSIFIER = "demo-polarity-lstm"


@pytest.fixture
def with_classifier(registry):
    shutil.copytree(ROOT / "models" / CLASSIFIER, registry / CLASSIFIER)
    return registry


def test_hidden_states_overview_projection_and_a_sequence(with_classifier):
    at = app()
    at.query_params["model"] = CLASSIFIER
    at.session_state["model"] = CLASSIFIER
    for key, value in {"hid.n": 40, "hid.method": "pca"}.items():
        at.session_state[key] = value
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sequences loaded"] == "40"
    assert any("neg (20), pos (20)" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert len(table) == 40 and set(table["class"]) == {"neg", "pos"}
    assert not at.main.get("html")  # no sequence selected yet


@pytest.mark.slow
def test_language_model_pages_refuse_a_classifier_politely(with_classifier):
    at = app()
    at.session_state["model"] = CLASSIFIER
    at.switch_page("pages/relevance.py").run()
    assert not at.exception
    assert any("sequence classifier" in i.value for i in at.info)


@pytest.mark.slow
def test_hidden_states_follow_one_sequence(with_classifier):
    at = app()
    at.session_state["model"] = CLASSIFIER
    for key, value in {"hid.n": 30, "hid.method": "pca", "hid.seq": 3}.items():
        at.session_state[key] = value
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    assert at.main.get("html") and "expected prediction" in at.main.get("html")[0].proto.body
    assert any(s.value.startswith("Sequence 3:") for s in at.subheader)
    at.slider(key="hid.dist").set_value(0.0).run()  # every jump passes: words on the map
    assert not at.exception


@pytest.mark.slow
def test_language_model_trajectory_over_a_corpus_map(tiny_registry):
    at = app()
    at.session_state["hidlm.slice_len"] = 4000
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    assert any("full view needs a sequence classifier" in i.value for i in at.info)
    at.segmented_control(key="hidlm.colour").set_value("expectancy").run()
    at.text_area(key="hidlm.text").input("for i in range(3):\n    pass\n").run()
    assert not at.exception


@pytest.mark.slow
def test_a_dataset_that_cannot_be_loaded_gets_a_message_not_a_traceback(
    with_classifier, monkeypatch
):
    import lib.run.classify
    from lib.data.datasets import DatasetError

    def unavailable(bundle):
        raise DatasetError(
            "NLTK corpus 'sentence_polarity' is not installed and could not be downloaded"
        )

    monkeypatch.setattr(lib.run.classify, "held_out", unavailable)
    at = app()
    at.query_params["model"] = CLASSIFIER
    at.session_state["model"] = CLASSIFIER
    for key, value in {"hid.n": 37, "hid.method": "pca"}.items():  # n: not cached before
        at.session_state[key] = value
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    shown = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # Markdown-escaped
    assert any(
        s.startswith(
            "Cannot load the test sentences of demo-polarity-lstm: NLTK "
            "corpus 'sentence_polarity' is not installed"
        )
        for s in shown
    ), shown
    assert not at.metric
    # the page offers the user's own sentences instead, and records them on the button
    assert any("Record these sentences" in i.value for i in at.info)
    at.text_area(key="hid.own.text").input("pos\ta warm , funny film\nneg,dull and tired").run()
    at.button(key="btn.hid.own").click().run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Sequences loaded"] == "2"
    assert at.dataframe[0].value["class"].tolist() == ["pos", "neg"]


@pytest.mark.slow
def test_any_classifier_can_be_given_the_users_own_sentences(with_classifier):
    at = app()
    at.session_state["model"] = CLASSIFIER
    at.session_state["hid.method"] = "pca"
    at.switch_page("pages/hidden_states.py").run()
    assert at.segmented_control(key="hid.source").value == "test set"
    at.segmented_control(key="hid.source").set_value("your own").run()
    assert not at.exception, at.exception
    assert not at.metric  # nothing recorded before the button
    text = "1\tan utterly charming film\n0,a tedious mess\nsomething in between"
    at.text_area(key="hid.own.text").input(text).run()
    at.button(key="btn.hid.own").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sequences loaded"] == "3" and "Test accuracy (whole test set)" not in metrics
    table = at.dataframe[0].value
    assert table["class"].tolist() == ["pos", "neg", "?"]
    assert table["text"].tolist()[0] == "an utterly charming film"
    # back to the test set: its sequences again, the own ones kept for later
    at.segmented_control(key="hid.source").set_value("test set").run()
    assert {m.label: m.value for m in at.metric}["Sequences loaded"] == "100"
