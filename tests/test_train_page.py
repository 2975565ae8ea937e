"""The Train page (issue 17): settings survive page changes, visible phases before the first
batch, Stop at any moment with a plain report, and number inputs bounded as training is."""

from __future__ import annotations

import threading

import pytest

from dashboard import jobs
from dashboard.panels.jobs import PHASE_TEXT, phase_text
from lib import limits
from lib.data.corpora import corpus_from_text
from lib.model.registry import list_models
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import PHASES, TrainingStopped, train
from tests.helpers import TRAIN_TEXT, app

SPEC = ModelSpec(units=8, embedding=4, seq_len=20)
CONFIG = TrainConfig(epochs=3, batch_size=16)

# every setting of the form, set away from its default: (widget kind, key, value)
LM_SETTINGS = [
    ("selectbox", "train.level", "word"),
    ("selectbox", "train.mode", "words"),
    ("selectbox", "train.cell", "gru"),
    ("number_input", "train.layers", 2),
    ("number_input", "train.units", 32),
    ("number_input", "train.embedding", 16),
    ("slider", "train.dropout", 0.25),
    ("number_input", "train.seq_len", 40),
    ("number_input", "train.batch", 32),
    ("number_input", "train.epochs", 7),
    ("selectbox", "train.optimizer", "rmsprop"),
    ("number_input", "train.lr", 0.01),
    ("number_input", "train.max_tokens", 200_000),
    ("number_input", "train.min_count", 3),
    ("number_input", "train.clipnorm", 2.5),
    ("number_input", "train.patience", 4),
    ("toggle", "train.keep_best", True),
    ("text_input", "train.name", "my-32-unit-model"),
]
CLASSIFIER_SETTINGS = [
    ("selectbox", "train.cls_level", "char"),
    ("number_input", "train.max_len", 77),
]


def _set(at, kind, key, value):
    widget = getattr(at, kind)(key=key)
    (widget.input(value) if kind == "text_input" else widget.set_value(value)).run()
    assert not at.exception, at.exception


def _values(at, settings):
    return {key: getattr(at, kind)(key=key).value for kind, key, _ in settings}


def _saved_as(at) -> str:
    """The name the page says the model will be saved under (Markdown escapes undone)."""
    line = next(c.value for c in at.caption if c.value.startswith("The model will be saved"))
    return line.split("**")[1].replace("\\", "")


def _browser_like_switch(at, page, monkeypatch):
    """A page change that sends no widget states (as a browser's page link may)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    with monkeypatch.context() as m:
        m.setattr(type(at._tree), "get_widget_states", lambda self: WidgetStates())
        at.switch_page(page).run()
    assert not at.exception, at.exception


@pytest.mark.slow
@pytest.mark.parametrize("browser_like", [False, True])
def test_every_setting_survives_a_visit_to_another_page(tiny_registry, monkeypatch, browser_like):
    at = app()
    at.switch_page("pages/train.py").run()
    # the classifier's own settings first (its widgets exist only for that task) ...
    at.segmented_control(key="train.task").set_value("Sequence classifier").run()
    for kind, key, value in CLASSIFIER_SETTINGS:
        _set(at, kind, key, value)
    at.segmented_control(key="train.task").set_value("Language model").run()
    for kind, key, value in LM_SETTINGS:
        _set(at, kind, key, value)
    wanted = {key: value for _, key, value in LM_SETTINGS}
    assert _values(at, LM_SETTINGS) == wanted  # the test sets what it thinks it sets
    for page in ("pages/generate.py", "pages/train.py"):
        if browser_like:
            _browser_like_switch(at, page, monkeypatch)
        else:
            at.switch_page(page).run()
    assert _values(at, LM_SETTINGS) == wanted
    assert _saved_as(at) == "my-32-unit-model"
    assert not at.warning, [w.value for w in at.warning]  # no Session State API warning
    # ... and they are still there when the task is switched back
    at.segmented_control(key="train.task").set_value("Sequence classifier").run()
    assert _values(at, CLASSIFIER_SETTINGS) == {k: v for _, k, v in CLASSIFIER_SETTINGS}


@pytest.mark.slow
def test_default_name_follows_the_kept_units_and_is_shown(tiny_registry):
    at = app()
    at.switch_page("pages/train.py").run()
    _set(at, "number_input", "train.units", 32)
    at.switch_page("pages/generate.py").run()
    at.switch_page("pages/train.py").run()
    assert at.text_input(key="train.name").placeholder == "my-lstm-char-32"
    assert _saved_as(at) == "my-lstm-char-32"


def test_the_train_page_report_lists_every_setting_on_a_first_visit(tiny_registry):
    """The Train page's one-click report (issue 20): its settings are there before any
    widget was touched, with their defaults."""
    from dashboard import exporting

    at = app()
    at.switch_page("pages/train.py").run()
    assert "Download this page as HTML" in [
        b.proto.label for b in at.sidebar.get("download_button")
    ]
    _, report, prefix = at.session_state["_export.report"]
    assert (report.title, prefix) == ("Train", "train.")
    assert report.settings["train.units"] == 128 and report.settings["train.cell"] == "lstm"
    doc = exporting.report_html(report)
    assert "<h1>Train</h1>" in doc or ">Train<" in doc
    assert "train.units" in doc


# --- bounds -------------------------------------------------------------------------------

NUMBER_KEYS = [
    "layers",
    "units",
    "embedding",
    "seq_len",
    "batch",
    "epochs",
    "lr",
    "max_tokens",
    "min_count",
    "clipnorm",
    "patience",
]


@pytest.mark.slow
def test_number_inputs_take_exactly_the_bounds_training_accepts(tiny_registry, monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_UNITS", "96")  # a server limit below ModelSpec's 4096
    at = app()
    at.switch_page("pages/train.py").run()
    bounds = jobs.setting_bounds()
    assert bounds["units"] == (1, 96) and bounds["layers"] == (1, 3)
    for name in NUMBER_KEYS:
        widget = at.number_input(key=f"train.{name}")
        assert (widget.min, widget.max) == bounds[name], name
    assert at.number_input(key="train.units").value == 96  # the default 128, clamped
    assert "1 to 96" in at.number_input(key="train.units").help
    at.segmented_control(key="train.task").set_value("Sequence classifier").run()
    widget = at.number_input(key="train.max_len")
    assert (widget.min, widget.max) == bounds["max_len"]


def _refused(spec_changes=None, config_changes=None) -> bool:
    import dataclasses

    spec = dataclasses.replace(ModelSpec(), **(spec_changes or {}))
    config = dataclasses.replace(TrainConfig(), **(config_changes or {}))
    try:
        spec.validate(), config.validate(), limits.check_model(spec.units, spec.layers)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    "name,field,on",
    [
        ("layers", "layers", "spec"),
        ("units", "units", "spec"),
        ("embedding", "embedding", "spec"),
        ("seq_len", "seq_len", "spec"),
        ("batch", "batch_size", "config"),
        ("epochs", "epochs", "config"),
        ("patience", "early_stopping", "config"),
    ],
)
def test_bounds_are_the_edges_of_what_validation_accepts(name, field, on):
    lo, hi = jobs.setting_bounds()[name]

    def refused(value):
        return _refused(**{f"{on}_changes": {field: value}})

    assert not refused(lo) and not refused(hi)
    assert refused(lo - 1) and refused(hi + 1)


def test_classifier_max_len_bounds_match_its_validation():
    lo, hi = jobs.setting_bounds()["max_len"]

    def refused(max_len):
        return _refused({"task": "classifier", "n_classes": 2, "max_len": max_len})

    assert not refused(lo) and not refused(hi) and refused(lo - 1) and refused(hi + 1)


def test_float_and_open_bounds_lie_inside_what_validation_accepts():
    b = jobs.setting_bounds()
    for lr in b["lr"]:
        assert not _refused(config_changes={"learning_rate": lr})
    for clip in b["clipnorm"]:
        assert not _refused(config_changes={"clipnorm": clip})
    assert not _refused(config_changes={"min_count": b["min_count"][0]})
    assert _refused(config_changes={"min_count": b["min_count"][0] - 1})


def test_server_limits_narrow_units_and_layers():
    lim = limits.Limits(max_units=64, max_layers=2)
    b = jobs.setting_bounds(lim)
    assert b["units"] == (1, 64) and b["layers"] == (1, 2)
    assert jobs.setting_bounds(limits.Limits(max_units=10_000))["units"] == (1, 4096)


# --- phases and stop ----------------------------------------------------------------------


def _job(registry, name="stop-test", config=CONFIG) -> jobs.Job:
    settings = jobs.JobSettings(
        id=name,
        owner="test",
        name=name,
        spec=SPEC,
        config=config,
        data_name="pasted",
        root=str(registry),
    )
    return jobs.Job(settings, data=corpus_from_text(TRAIN_TEXT))


def _stop_when(job: jobs.Job, wanted) -> list[dict]:
    """Record job's progress events; set its stop flag at the first that ``wanted`` accepts."""
    events: list[dict] = []
    on_progress = job.on_progress

    def hook(event: dict) -> None:
        events.append(event)
        on_progress(event)
        if wanted(event):
            job.stop()

    job.on_progress = hook  # type: ignore[method-assign]
    return events


@pytest.mark.slow
def test_phases_are_reported_in_order_before_the_first_batch(tmp_path):
    events: list[dict] = []
    train(
        SPEC,
        corpus_from_text(TRAIN_TEXT),
        name="phases",
        config=CONFIG,
        progress=events.append,
        root=tmp_path,
    )
    kinds = [e["kind"] for e in events]
    phases = [e["text"] for e in events if e["kind"] == "phase"]
    assert phases == list(PHASES) == ["tokenizing", "building the model", "first batch"]
    assert kinds[:3] == ["phase"] * 3 and kinds[3] == "batch"  # all of them before a batch
    assert "stopped" not in kinds and kinds.count("epoch") == CONFIG.epochs


@pytest.mark.parametrize("phase", PHASES)
def test_a_stop_before_the_first_batch_is_reported_without_an_error(tmp_path, phase):
    job = _job(tmp_path)
    events = _stop_when(job, lambda e: e.get("text") == phase)
    job.run()
    p = job.progress
    assert p.status is jobs.JobState.STOPPED and p.error == "", p.error
    assert p.stop_note == "stopped before the first batch"
    assert not [e for e in events if e["kind"] == "batch"]
    assert p.phase == phase  # no later phase was reported
    assert "stop-test" not in {m["name"] for m in list_models(root=tmp_path)}


def test_a_stop_set_before_training_starts_reports_no_batch(tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingStopped) as info:
        train(
            SPEC,
            corpus_from_text(TRAIN_TEXT),
            name="never",
            config=CONFIG,
            stop=stop,
            root=tmp_path,
        )
    assert info.value.batches == 0 and "before the first batch" in str(info.value)


@pytest.mark.slow
def test_a_stop_mid_epoch_says_how_many_batches_ran(tmp_path):
    job = _job(tmp_path)
    events = _stop_when(job, lambda e: e["kind"] == "batch")  # the first batch's record
    job.run()
    p = job.progress
    assert p.status is jobs.JobState.STOPPED and p.error == "", p.error
    assert p.batches == 1 and [e["kind"] for e in events][-2:] == ["batch", "stopped"]
    assert p.stop_note == "stopped after 1 batch; no epoch ended, so nothing new was saved"
    assert not p.epochs and "stop-test" not in {m["name"] for m in list_models(root=tmp_path)}


@pytest.mark.slow
def test_a_stop_after_an_epoch_keeps_it_and_skips_the_rest(tmp_path):
    job = _job(tmp_path)
    events = _stop_when(job, lambda e: e["kind"] == "epoch")
    job.run()
    p = job.progress
    steps = next(e["steps"] for e in events if e["kind"] == "batch")
    assert p.status is jobs.JobState.STOPPED and p.error == ""
    assert len(p.epochs) == 1 and p.batches == steps  # no batch of epoch 2 ran
    assert p.stop_note == f"stopped after {steps} batches; epoch 1 is the last one saved"
    assert "stop-test" in {m["name"] for m in list_models(root=tmp_path)}


def test_stop_note_is_only_for_stopped_jobs():
    assert jobs.JobProgress().stop_note == ""
    done = jobs.JobProgress(status=jobs.JobState.DONE, batches=3)
    assert done.stop_note == ""


# --- the job card -------------------------------------------------------------------------


def test_every_phase_has_its_own_words():
    for phase in PHASES:
        assert phase in PHASE_TEXT and phase_text(phase) == PHASE_TEXT[phase]
    assert phase_text("saving") == "Saving…"


def _fake_job(owner, *, status, phase="", batches=None) -> jobs.Job:
    settings = jobs.JobSettings(
        id="card",
        owner=owner,
        name="card-model",
        spec=SPEC,
        config=CONFIG,
        data_name="pasted",
        root="/nonexistent",
    )
    progress = jobs.JobProgress(status=status, phase=phase, batches=batches)
    return jobs.Job(settings, progress)


@pytest.mark.slow
def test_the_job_card_shows_the_phase_and_stops_before_a_batch(tiny_registry, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", {})
    monkeypatch.setattr(jobs.Job, "persist", lambda self: None)
    at = app()
    at.switch_page("pages/train.py").run()
    job = _fake_job(
        at.session_state["session_id"], status=jobs.JobState.RUNNING, phase="building the model"
    )
    jobs.JOBS["card"] = job
    at.run()
    texts = [p.proto.text for p in at.get("progress")]
    assert any(t.startswith("Building the model…") for t in texts), texts
    assert not any("Preparing" in t for t in texts)
    at.button(key="stop.card").click().run()
    assert job.stop_event.is_set() and job.progress.status is jobs.JobState.STOPPING
    # what the thread then records (TrainingStopped(0)); the card says it in words
    job.progress.status, job.progress.batches = jobs.JobState.STOPPED, 0
    at.run()
    shown = " ".join(m.value for m in at.markdown)
    assert "stopped before the first batch" in shown
    assert not at.error and not at.exception and not at.get("arrow_vega_lite_chart")


@pytest.mark.slow
def test_a_classifier_reports_the_same_phases_and_stops_before_a_batch(tmp_path):
    from lib.train.fit import train_classifier
    from tests.test_classifier import planted, tiny_spec

    events: list[dict] = []
    train_classifier(
        tiny_spec(),
        planted(),
        name="cls",
        config=TrainConfig(epochs=1, batch_size=16),
        progress=events.append,
        root=tmp_path,
    )
    assert [e["text"] for e in events if e["kind"] == "phase"] == list(PHASES)
    assert [e["kind"] for e in events][3] == "batch"

    stop = threading.Event()

    def hook(event: dict) -> None:
        if event.get("text") == "first batch":
            stop.set()

    with pytest.raises(TrainingStopped) as info:
        train_classifier(
            tiny_spec(),
            planted(),
            name="cls2",
            config=CONFIG,
            progress=hook,
            stop=stop,
            root=tmp_path,
        )
    assert info.value.batches == 0
    assert "cls2" not in {m["name"] for m in list_models(root=tmp_path)}
