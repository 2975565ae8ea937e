"""The Neuron Atlas page through AppTest: nothing is built before the button, then the
summary, the table, a neuron's card and the jumps to other pages."""

import pytest

from tests.helpers import DEMO, app

STDLIB = "demo-stdlib-char-lstm"


def _atlas(model: str, slice_len: int = 3000):
    at = app()
    at.query_params["model"] = model
    at.session_state["model"] = model
    at.session_state["atlas.slice_len"] = slice_len
    at.switch_page("pages/atlas.py").run()
    assert not at.exception, at.exception
    return at


def test_nothing_is_built_before_the_button_then_the_card_opens(tiny_registry):
    from tests.helpers import TINY

    at = _atlas(TINY)
    assert not any(m.label == "Neurons with a clear role" for m in at.metric)
    at.button(key="btn.atlas.build").click().run()
    assert not at.exception, at.exception
    [role] = [m for m in at.metric if m.label == "Neurons with a clear role"]
    assert role.value.endswith(" of 16")
    assert any(h.value.startswith("Neuron ") for h in at.subheader)
    at.number_input(key="atlas.neuron").set_value(3).run()
    assert not at.exception, at.exception
    assert any(h.value.startswith("Neuron 3: ") for h in at.subheader)
    at.run()  # reopening: from the cache, no button needed
    assert any(m.label == "Neurons with a clear role" for m in at.metric)


@pytest.mark.slow
def test_the_stdlib_model_has_code_roles_and_the_card_jumps_to_generate(registry):
    import shutil

    from tests.helpers import ROOT

    shutil.copytree(ROOT / "models" / STDLIB, registry / STDLIB)
    at = _atlas(STDLIB, slice_len=20_000)
    at.button(key="btn.atlas.build").click().run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Most common roles" in text
    at.text_input(key="atlas.query").set_value("comment").run()
    assert not at.exception, at.exception
    neuron = at.session_state["atlas.neuron"]
    at.button(key=f"btn.atlas.gen.{neuron}").click().run()
    assert not at.exception, at.exception
    assert at.session_state["pick.neurons"] == str(neuron)
    assert at.session_state["gen.source"] == "Corpus slice"


@pytest.mark.slow
def test_prose_model_gets_the_prose_bank(registry):
    at = _atlas(DEMO, slice_len=5000)
    at.button(key="btn.atlas.build").click().run()
    assert not at.exception, at.exception
    assert any(m.label == "Neurons with a clear role" for m in at.metric)
