"""Pages say what model they need and offer the shipped one that fits, one click away
(dashboard.widgets.needs.offer_model), through Streamlit's AppTest."""

import shutil

import pytest

from tests.helpers import DEMO, ROOT, TINY, app

CLASSIFIER = "demo-polarity-lstm"
STDLIB = "demo-stdlib-char-lstm"  # the shipped model with per-epoch checkpoints


def _add_classifier(root):
    shutil.copytree(ROOT / "models" / CLASSIFIER, root / CLASSIFIER)
    return root


def _plain(markdown: str) -> str:
    """Markdown text without the backslashes of dashboard.fmt.md."""
    return markdown.replace("\\", "")


@pytest.mark.slow
def test_hidden_states_on_a_language_model_offers_the_classifier_and_switches(tiny_registry):
    _add_classifier(tiny_registry)
    at = app()
    at.session_state["model"] = TINY
    for key, value in {"hid.n": 40, "hid.method": "pca"}.items():
        at.session_state[key] = value
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    assert any(
        "needs a sequence classifier" in i.value and TINY in _plain(i.value) for i in at.info
    )
    button = at.button(key="btn.hid.offer")
    assert CLASSIFIER in _plain(button.label)
    button.click().run()
    assert not at.exception, at.exception
    assert at.session_state["model"] == CLASSIFIER
    assert at.query_params["model"] == CLASSIFIER
    # the full classifier view is shown now, and it offers nothing: the model fits
    assert {m.label: m.value for m in at.metric}["Sequences loaded"] == "40"
    assert not any("needs a sequence classifier" in i.value for i in at.info)
    assert "btn.hid.offer" not in [b.key for b in at.button]


@pytest.mark.slow
def test_a_language_model_page_on_the_classifier_offers_the_language_model(registry):
    _add_classifier(registry)
    at = app()
    at.session_state["model"] = CLASSIFIER
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    assert any(
        "needs a language model" in i.value and "sequence classifier" in i.value for i in at.info
    )
    button = at.button(key="needs.language_model")
    assert DEMO in _plain(button.label)
    button.click().run()
    assert not at.exception, at.exception
    assert at.session_state["model"] == DEMO
    assert at.query_params["model"] == DEMO
    assert not any("needs a language model" in i.value for i in at.info)
    assert "needs.language_model" not in [b.key for b in at.button]


def test_an_offer_of_a_model_that_is_not_installed_says_so_without_a_button(tiny_registry):
    _add_classifier(tiny_registry)  # no demo-ref-word-lstm in this registry
    at = app()
    at.session_state["model"] = CLASSIFIER
    at.switch_page("pages/memory_chips.py").run()
    assert not at.exception, at.exception
    assert any("needs a language model" in i.value for i in at.info)
    assert any("demo-ref-word-lstm" in _plain(c.value) for c in at.caption)
    assert any("not installed" in c.value for c in at.caption)
    assert "needs.language_model" not in [b.key for b in at.button]


def test_a_fitting_model_gets_no_offer(tiny_registry):
    at = app()  # TINY is a language model: the Generate page has nothing to offer
    assert not any("needs a language model" in i.value for i in at.info)
    assert "needs.language_model" not in [b.key for b in at.button]


def test_offer_model_wants_a_key_namespaced_by_page():
    from dashboard.widgets.needs import offer_model

    with pytest.raises(ValueError, match=r'namespaced by page \("page.name"\), got \'offer\''):
        offer_model("needs x", CLASSIFIER, key="offer")


def test_ablation_without_checkpoints_offers_the_model_that_kept_them(tiny_registry):
    shutil.copytree(ROOT / "models" / STDLIB, tiny_registry / STDLIB)
    at = app()
    at.session_state["model"] = TINY  # a model with no per-epoch checkpoints
    for key, value in {"abl.chars": 1000, "abl.kmax": 2, "abl.n_random": 5}.items():
        at.session_state[key] = value
    at.switch_page("pages/ablation.py").run()
    assert not at.exception, at.exception
    assert any("needs a model that kept a checkpoint" in i.value for i in at.info)
    assert STDLIB in _plain(at.button(key="btn.abl.offer").label)
