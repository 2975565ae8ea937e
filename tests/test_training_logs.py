"""Training logs a lab already reads (issue 20): TensorBoard event files and a CSVLogger
table per model, in ``<registry>/.logs/<name>/``, kept across saves and resumes."""

from __future__ import annotations

import csv
import io
import json
import threading
import zipfile
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from dashboard import jobs
from lib.data.corpora import corpus_from_text
from lib.model.registry import delete, export_archive, load
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import TRAINING_CSV, _keep_rows_before, train, training_logs
from tests.helpers import TRAIN_TEXT, app

CORPUS = corpus_from_text(TRAIN_TEXT, name="tiny")
SPEC = ModelSpec(cell="lstm", layers=1, units=8, embedding=4, seq_len=20)
LOGS_ON = TrainConfig(epochs=2, batch_size=16, tensorboard=True, csv_log=True)


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / TRAINING_CSV, newline="") as f:
        return list(csv.DictReader(f))


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of every event file under ``folder`` (TFRecords of Event)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                found[value.tag].append(
                    (int(event.step), float(tf.make_ndarray(value.tensor).item()))
                )
    return {tag: sorted(points) for tag, points in found.items()}


def _history(root: Path, name: str) -> list[dict]:
    return json.loads((root / name / "meta.json").read_text())["history"]


def _check_logs(root: Path, name: str, n_epochs: int) -> None:
    """CSV and event files hold exactly meta.json's history, one entry per epoch."""
    folder = training_logs(name, root=root)
    history = _history(root, name)
    assert [h["epoch"] for h in history] == list(range(1, n_epochs + 1))
    rows = _rows(folder)
    assert [int(r["epoch"]) for r in rows] == list(range(n_epochs))  # Keras counts from 0
    for row, h in zip(rows, history, strict=True):
        assert float(row["loss"]) == pytest.approx(h["loss"], rel=1e-12)
        assert float(row["val_loss"]) == pytest.approx(h["val_loss"], rel=1e-12)
        assert float(row["val_accuracy"]) == pytest.approx(h["val_accuracy"], rel=1e-12)
    train_tb, val_tb = _scalars(folder / "train"), _scalars(folder / "validation")
    steps = list(range(n_epochs))
    assert [s for s, _ in train_tb["epoch_loss"]] == steps
    assert [s for s, _ in val_tb["epoch_loss"]] == steps
    assert [s for s, _ in val_tb["epoch_accuracy"]] == steps
    # float32 in the event file
    assert [v for _, v in train_tb["epoch_loss"]] == pytest.approx(
        [h["loss"] for h in history], rel=1e-6
    )
    assert [v for _, v in val_tb["epoch_loss"]] == pytest.approx(
        [h["val_loss"] for h in history], rel=1e-6
    )
    # nothing of the logs in the model's own folder or its archive
    assert not list((root / name).rglob("events.out.tfevents.*"))
    assert not list((root / name).rglob("*.csv"))
    names = zipfile.ZipFile(io.BytesIO(export_archive(name, root=root))).namelist()
    assert not [n for n in names if "tfevents" in n or n.endswith(".csv")], names


@pytest.mark.slow
def test_logs_hold_every_epoch_and_a_resume_appends(tmp_path):
    train(SPEC, CORPUS, name="logged", config=LOGS_ON, root=tmp_path)
    assert training_logs("logged", root=tmp_path) == tmp_path / ".logs" / "logged"
    _check_logs(tmp_path, "logged", 2)
    first_rows = _rows(training_logs("logged", root=tmp_path))

    more = TrainConfig(**{**asdict(LOGS_ON), "epochs": 3})
    train(SPEC, CORPUS, name="logged", config=more, root=tmp_path, resume=True)
    _check_logs(tmp_path, "logged", 3)
    assert _rows(training_logs("logged", root=tmp_path))[:2] == first_rows  # appended
    assert load("logged", root=tmp_path).meta["train_config"]["csv_log"] is True

    # a training from scratch of that name, logs off, leaves none of the old ones
    off = TrainConfig(epochs=1, batch_size=16)
    train(SPEC, CORPUS, name="logged", config=off, root=tmp_path, overwrite=True)
    assert not training_logs("logged", root=tmp_path).exists()

    # deleting a model removes its logs with it; another model's stay
    train(SPEC, CORPUS, name="logged", config=LOGS_ON, root=tmp_path, overwrite=True)
    train(SPEC, CORPUS, name="other", config=LOGS_ON, root=tmp_path)
    delete("logged", root=tmp_path)
    assert not training_logs("logged", root=tmp_path).exists()
    assert not (tmp_path / "logged").exists()
    _check_logs(tmp_path, "other", 2)


@pytest.mark.slow
def test_logs_off_write_nothing(tmp_path):
    train(SPEC, CORPUS, name="quiet", config=TrainConfig(epochs=1, batch_size=16), root=tmp_path)
    assert not (tmp_path / ".logs").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".locks")) == [
        "quiet"
    ]


@pytest.mark.slow
def test_a_stopped_epoch_is_not_logged_and_the_files_are_complete(tmp_path, monkeypatch):
    import keras

    made = []  # the callbacks, kept alive: their files are not closed by garbage collection

    class CSVLogger(keras.callbacks.CSVLogger):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    class TensorBoard(keras.callbacks.TensorBoard):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(keras.callbacks, "CSVLogger", CSVLogger)
    monkeypatch.setattr(keras.callbacks, "TensorBoard", TensorBoard)
    stop = threading.Event()

    def hook(event):
        if event["kind"] == "epoch":
            stop.set()  # stop during the second epoch

    config = TrainConfig(epochs=3, batch_size=16, tensorboard=True, csv_log=True)
    train(SPEC, CORPUS, name="cut", config=config, root=tmp_path, progress=hook, stop=stop)
    # Keras skipped on_train_end: the files were closed (flushed) all the same
    assert [type(c).__name__ for c in made] == ["CSVLogger", "TensorBoard"]
    assert made[0].csv_file.closed
    _check_logs(tmp_path, "cut", 1)
    train(SPEC, CORPUS, name="cut", config=config, root=tmp_path, resume=True)
    _check_logs(tmp_path, "cut", 3)


def test_a_resume_keeps_only_the_rows_before_the_epoch_it_continues_from(tmp_path):
    # keep-best can set the saved epoch back: the rows after it are dropped before appending
    path = tmp_path / TRAINING_CSV
    text = "epoch,loss,val_loss\n0,3.0,3.1\n1,2.0,2.1\n2,1.5,2.2\n3,1.2,2.4\n"
    path.write_text(text)
    _keep_rows_before(path, 4)
    assert path.read_text() == text  # nothing to drop: untouched
    _keep_rows_before(path, 2)
    assert path.read_text() == "epoch,loss,val_loss\n0,3.0,3.1\n1,2.0,2.1\n"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")  # not a CSVLogger table: left alone
    _keep_rows_before(other, 0)
    assert other.read_text() == "a,b\n1,2\n"


def test_config_fields_are_checked_and_old_configs_still_load():
    old = {k: v for k, v in asdict(TrainConfig()).items() if k not in ("tensorboard", "csv_log")}
    config = TrainConfig(**old)  # a meta.json or job record written before these fields
    assert (config.tensorboard, config.csv_log) == (False, False)
    with pytest.raises(ValueError, match="tensorboard and csv_log"):
        TrainConfig(tensorboard="yes").validate()  # type: ignore[arg-type]
    assert TrainConfig(tensorboard=True, csv_log=True).validate().csv_log


def test_cli_flags_reach_the_config(tmp_path, monkeypatch):
    import lib.train.fit as fit
    from lib.__main__ import main

    seen = {}

    def fake_train(spec, corpus, *, config, **kw):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(fit, "train", fake_train)
    monkeypatch.setenv("RNN_LENS_MODELS", str(tmp_path))
    corpus = tmp_path / "c.txt"
    corpus.write_text(TRAIN_TEXT)
    with pytest.raises(SystemExit):
        main(["train", "--name", "m", "--file", str(corpus), "--tensorboard", "--csv-log"])
    assert seen["config"].tensorboard and seen["config"].csv_log
    with pytest.raises(SystemExit):
        main(["train", "--name", "m", "--file", str(corpus)])
    assert not (seen["config"].tensorboard or seen["config"].csv_log)


def test_the_train_page_offers_both_logs_with_help(tiny_registry, monkeypatch):
    started = []
    monkeypatch.setattr(
        jobs, "start", lambda owner, spec, corpus, config, name: started.append(config)
    )
    at = app()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    boxes = {key: at.checkbox(key=key) for key in ("train.tensorboard", "train.csv_log")}
    assert boxes["train.tensorboard"].label == "TensorBoard log"
    assert "tensorboard --logdir models/.logs" in boxes["train.tensorboard"].help
    assert boxes["train.csv_log"].label == "CSV log"
    assert "training.csv" in boxes["train.csv_log"].help
    assert not any(b.value for b in boxes.values())  # off unless asked
    for box in boxes.values():
        box.check().run()
    at.button(key="btn.train").click().run()
    assert not at.exception, at.exception
    assert started and started[-1].tensorboard and started[-1].csv_log
    np.testing.assert_equal(started[-1].epochs, at.number_input(key="train.epochs").value)


def test_tensorboard_without_its_package_is_refused_before_work(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else find_spec(n, *a)
    )
    config = TrainConfig(epochs=1, batch_size=16, tensorboard=True)
    with pytest.raises(ValueError, match="need the tensorboard package"):
        train(SPEC, CORPUS, name="nope", config=config, root=tmp_path)
    assert not list(tmp_path.iterdir()) or sorted(p.name for p in tmp_path.iterdir()) == [".locks"]
