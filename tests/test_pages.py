"""The Train and Generate & Highlight pages through Streamlit's AppTest."""

import html
import re
import time

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test as app_test_module

from dashboard import jobs
from tests.helpers import TRAIN_TEXT, app


def html_of(at) -> str:
    return "".join(h.proto.body for h in at.main.get("html"))


def test_opens_on_demo_model_with_highlighted_text(registry):
    at = app()
    assert at.sidebar.selectbox(key="model").value == "demo-ref-char-lstm"
    body = html_of(at)
    assert body.count('class="hl-label"') == 3  # the 3 most variable neurons by default
    assert "hidden state h" in body and 'title="position 0' in body
    assert at.query_params["model"] in ("demo-ref-char-lstm", ["demo-ref-char-lstm"])


@pytest.mark.slow
def test_change_neuron_and_signal_keeps_the_text(tiny_registry):
    at = app()
    before = at.session_state["gen.seed"]
    at.text_input(key="pick.neurons").input("5, 7-8").run()
    body = html_of(at)
    assert [f"neuron {n}" in body for n in (5, 7, 8)] == [True] * 3
    at.selectbox(key="pick.signal").select_index(1).run()  # h, c, i, ...
    assert at.session_state["pick.signal"] == "c"
    assert "cell state c" in html_of(at)
    assert at.session_state["gen.seed"] == before and not at.exception
    at.text_input(key="pick.neurons").input("3, 999, x").run()
    assert "Ignored '999', 'x'" in at.warning[0].value


@pytest.mark.slow
def test_generation_is_reproducible_and_seed_changes_it(tiny_registry):
    at = app()
    first = html_of(at)
    at.run()
    assert html_of(at) == first
    at.number_input(key="gen.seed").set_value(2).run()
    assert html_of(at) != first


@pytest.mark.slow
def test_expectancy_mode_and_next_token_panel(tiny_registry):
    at = app()
    at.segmented_control(key="gen.mode").set_value("Expectancy").run()
    body = html_of(at)
    assert "expectancy" in body and "log10 p" in body
    assert "bits per token" in at.caption[-1].value or any(
        "bits per token" in c.value for c in at.caption
    )
    at.toggle(key="gen.log").set_value(False).run()
    assert "<span>p</span>" in html_of(at)
    at.slider(key="gen.position").set_value(10).run()
    assert not at.exception


def test_pasted_script_is_escaped(tiny_registry):
    at = app()
    at.segmented_control(key="gen.source").set_value("Paste text").run()
    at.text_area(key="gen.pasted").input("<script>alert(1)</script> and <b>bold</b>").run()
    body = html_of(at)
    assert "<script" not in body and "<b>" not in body
    row = body.split('class="hl-text">')[1].split("</td>")[0]
    tokens = re.findall(r'<span class="tok[^>]*>(.*?)</span>', row)
    shown = "".join(html.unescape(t) for t in tokens)
    assert shown == "<script>alert(1)</script>·and·<b>bold</b>"


@pytest.mark.slow
def test_corpus_slice_records_the_models_corpus(tiny_registry):
    at = app()
    at.segmented_control(key="gen.source").set_value("Corpus slice").run()
    assert not at.exception and html_of(at).count('class="hl-label"') == 3


def _train_page(at):
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.segmented_control(key="train.corpus_kind").set_value("Paste").run()
    at.text_area(key="train.paste").input(TRAIN_TEXT).run()
    at.number_input(key="train.units").set_value(8)
    at.number_input(key="train.embedding").set_value(4)
    at.number_input(key="train.seq_len").set_value(20)
    at.number_input(key="train.batch").set_value(16)
    at.number_input(key="train.epochs").set_value(1)
    return at


def _wait(at, owner, timeout=120):
    t0 = time.time()
    while any(j.active for j in jobs.jobs(owner=owner)) and time.time() - t0 < timeout:
        time.sleep(0.5)
    at.run()


@pytest.mark.slow
def test_train_one_epoch_through_the_page_job(registry):
    at = _train_page(app())
    at.text_input(key="train.name").input("tiny-page").run()
    at.button(key="btn.train").click().run()
    assert not at.error, [e.value for e in at.error]
    owner = at.session_state["session_id"]
    job = jobs.jobs(owner=owner)[0]
    assert job.settings.name == "tiny-page"
    _wait(at, owner)
    assert job.progress.status == "done", job.progress.error
    assert (registry / "tiny-page" / "model.keras").is_file()
    assert "tiny-page" in at.sidebar.selectbox(key="model").options
    assert any(m.label.startswith("Validation bits per character") for m in at.metric)


@pytest.mark.slow
def test_job_survives_reruns_and_stops(registry):
    at = _train_page(app())
    at.number_input(key="train.epochs").set_value(50)
    at.text_input(key="train.name").input("long-job").run()
    at.button(key="btn.train").click().run()
    owner = at.session_state["session_id"]
    job = jobs.jobs(owner=owner)[0]
    for _ in range(3):
        at.run()  # reruns: the job lives on
        assert job.thread.is_alive()
    at.switch_page("pages/generate.py").run()  # and survives a page change
    assert job.thread.is_alive()
    at.switch_page("pages/train.py").run()
    at.button(key=f"stop.{job.settings.id}").click().run()
    job.thread.join(60)
    assert job.progress.status == "stopped" and job.progress.epoch < 50


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting,value,message",
    [
        ("train.max_tokens", 30, "too short for sequence length 20"),  # units: widget-bound
        ("train.seq_len", 1000, "too short for sequence length 1000"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tiny_registry, setting, value, message):
    at = _train_page(app())
    at.number_input(key=setting).set_value(value).run()
    at.button(key="btn.train").click().run()
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not jobs.jobs(owner=at.session_state["session_id"])


@pytest.mark.slow
def test_bad_name_is_refused(tiny_registry):
    at = _train_page(app())
    at.text_input(key="train.name").input("../etc").run()
    at.button(key="btn.train").click().run()
    assert any("model name" in e.value for e in at.error)


def test_empty_paste_disables_training(tiny_registry):
    at = app()
    at.switch_page("pages/train.py").run()
    at.segmented_control(key="train.corpus_kind").set_value("Paste").run()
    assert at.button(key="btn.train").disabled
    assert any("Paste a text" in i.value for i in at.info)


@pytest.mark.slow
def test_page_run_outside_the_router_is_sent_through_it(registry, monkeypatch):
    """Streamlit's older pages/ mode runs a page file alone; the page guard reroutes it."""
    monkeypatch.setattr(app_test_module, "PagesManager", PagesManager)
    at = app()
    at.run()  # AppTest reverts to the pages/-folder mode before every run
    assert at.sidebar.selectbox(key="model").value == "demo-ref-char-lstm"
    assert html_of(at).count('class="hl-label"') == 3


@pytest.mark.slow
def test_train_a_classifier_through_the_page(registry):
    at = app()
    at.switch_page("pages/train.py").run()
    at.segmented_control(key="train.task").set_value("Sequence classifier").run()
    assert not at.exception and any(
        "Sentence polarity" in c.value or "texts" in c.value for c in at.caption
    )
    for key, value in {
        "train.units": 8,
        "train.embedding": 4,
        "train.max_len": 12,
        "train.batch": 256,
        "train.epochs": 1,
    }.items():
        at.number_input(key=key).set_value(value)
    at.text_input(key="train.name").input("tiny-classifier").run()
    at.button(key="btn.train").click().run()
    assert not at.error, [e.value for e in at.error]
    owner = at.session_state["session_id"]
    _wait(at, owner, timeout=300)
    job = jobs.jobs(owner=owner)[0]
    assert job.progress.status == "done", job.progress.error
    assert "tiny-classifier" in at.sidebar.selectbox(key="model").options
    assert any(m.label == "Test accuracy" for m in at.metric)


@pytest.mark.slow
def test_intervention_panel_compares_samples_and_losses(registry):
    at = app()
    at.session_state["gen.iv_chars"] = 2000
    at.text_input(key="pick.neurons").input("0-255").run()  # switch the whole layer off
    assert not at.exception, at.exception
    codes = [c.value for c in at.code]
    assert len(codes) >= 2 and codes[-2] != codes[-1]  # without / with
    bpc = next(m for m in at.metric if m.label.startswith("bits per character (whole"))
    assert float(bpc.delta) > 0.5  # losing every unit makes prediction much worse
