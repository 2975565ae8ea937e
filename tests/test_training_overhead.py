"""The training loop's progress records after their throttling (issue 19): what still arrives.

Speed is measured in benchmarks/training_benchmark.py; these tests check behaviour only.
"""

import threading

import keras
import pytest

import lib.train.fit as fit
from lib.data.corpora import corpus_from_text
from lib.model.registry import load
from lib.model.spec import ModelSpec, TrainConfig
from lib.run.generate import generate
from lib.train.fit import TrainingStopped, train
from tests.helpers import TEXT

CORPUS = corpus_from_text(TEXT * 4, name="tiny")
TINY = ModelSpec(cell="lstm", units=16, embedding=8, seq_len=20)
TWO_EPOCHS = TrainConfig(epochs=2, batch_size=8, learning_rate=1e-2)


def _train(tmp_path, monkeypatch, every: float, **kw) -> list[dict]:
    monkeypatch.setattr(fit, "PROGRESS_SECONDS", every)
    events: list[dict] = []
    train(TINY, CORPUS, name="tiny", config=TWO_EPOCHS, root=tmp_path, progress=events.append, **kw)
    return events


def test_throttled_records_keep_each_epochs_first_and_last_step_and_every_epoch(
    tmp_path, monkeypatch
):
    events = _train(tmp_path, monkeypatch, every=3600.0)
    batches = [e for e in events if e["kind"] == "batch"]
    steps = batches[0]["steps"]
    assert steps > 2
    # an hour between records: only the first and the last step of each epoch
    assert [(e["epoch"], e["step"]) for e in batches] == [(0, 1), (0, steps), (1, 1), (1, steps)]
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert all(e["sample"] and "val_loss" in e["logs"] for e in epochs)
    # the last step's loss is the epoch's mean training loss, reported before validation
    for epoch in epochs:
        last = next(e for e in batches if e["epoch"] == epoch["epoch"] and e["step"] == steps)
        assert last["loss"] == pytest.approx(epoch["logs"]["loss"], rel=1e-6)
        assert events.index(last) < events.index(epoch)


def test_unthrottled_records_report_every_step(tmp_path, monkeypatch):
    events = _train(tmp_path, monkeypatch, every=0.0)
    batches = [e for e in events if e["kind"] == "batch"]
    steps = batches[0]["steps"]
    assert [(e["epoch"], e["step"]) for e in batches] == [
        (epoch, step) for epoch in (0, 1) for step in range(1, steps + 1)
    ]
    assert all(b["loss"] > 0 for b in batches)


def test_the_callback_leaves_keras_batch_ends_alone():
    # an on_train_batch_end would make Keras turn every batch's logs into floats (a sync)
    cb = fit._progress_callback(lambda e: None, None, lambda epoch, logs: {})
    assert type(cb).on_train_batch_end is keras.callbacks.Callback.on_train_batch_end


def test_a_stop_at_the_last_step_skips_validation_and_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(fit, "PROGRESS_SECONDS", 3600.0)
    stop = threading.Event()
    events: list[dict] = []

    def hook(event: dict) -> None:
        events.append(event)
        if event["kind"] == "batch" and event["step"] == event["steps"]:
            stop.set()

    with pytest.raises(TrainingStopped) as info:
        train(TINY, CORPUS, name="tiny", config=TWO_EPOCHS, root=tmp_path, progress=hook, stop=stop)
    steps = events[-2]["steps"]
    assert info.value.batches == steps
    assert [e["kind"] for e in events][-2:] == ["batch", "stopped"]
    assert events[-1]["batches"] == steps and not any(e["kind"] == "epoch" for e in events)


def test_a_stop_after_epoch_one_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fit, "PROGRESS_SECONDS", 3600.0)
    stop = threading.Event()
    events: list[dict] = []

    def hook(event: dict) -> None:
        events.append(event)
        if event["kind"] == "epoch":
            stop.set()

    bundle = train(
        TINY, CORPUS, name="tiny", config=TWO_EPOCHS, root=tmp_path, progress=hook, stop=stop
    )
    steps = next(e["steps"] for e in events if e["kind"] == "batch")
    assert events[-1] == {"kind": "stopped", "batches": steps}
    assert bundle.meta["epochs_done"] == 1 and load("tiny", root=tmp_path).meta["epochs_done"] == 1


def test_the_epoch_sample_comes_from_the_trained_weights(tmp_path, monkeypatch):
    # the warm-up sample runs on its own bundle while epoch 1 trains: no stale weights leak
    events = _train(tmp_path, monkeypatch, every=3600.0)
    saved = load("tiny", root=tmp_path)
    seed = CORPUS.text[:40]
    again = generate(saved, seed, 200, temperature=0.8, seed=0)
    assert saved.meta["sample"] == "".join(again.tokens[again.n_seed :])
    assert events[-1]["kind"] == "epoch" and events[-1]["sample"] == saved.meta["sample"]


def test_the_strategy_log_line_names_the_devices():
    from lib.train.distribute import describe

    line = describe(None)
    assert line.startswith("no tf.distribute strategy: one device, ")
    assert line.endswith(("CPU:0 (no GPU found)", "GPU(s) found)")), line
