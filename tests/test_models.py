"""Build, train, stop, resume, save and load."""

import json
import os
import threading

import keras
import numpy as np
import pytest

from lib.data.corpora import corpus_from_text
from lib.model import registry
from lib.model.build import build, compile_model
from lib.model.inputs import windows
from lib.model.registry import list_models, load, save
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import derived_metrics, train
from tests.helpers import TEXT, random_bundle

CORPUS = corpus_from_text(TEXT * 4, name="tiny")
TINY = ModelSpec(cell="gru", units=16, embedding=8, seq_len=20)
ONE_EPOCH = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-2)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("level", ["char", "word"])
def test_build_every_cell_and_level(cell, level):
    spec = ModelSpec(cell=cell, level=level, layers=2, units=8, embedding=4, dropout=0.1)
    model = build(spec, vocab_size=30)
    out = model.predict(np.zeros((3, 11), dtype="int32"), verbose=0)
    assert out.shape == (3, 11, 30)
    kinds = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
    assert type(model.get_layer("recurrent_1")).__name__ == kinds[cell]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("units", 0, "units"),
        ("layers", 4, "layers"),
        ("cell", "tcn", "cell"),
        ("dropout", 1.0, "dropout"),
        ("seq_len", 1, "sequence length"),
        ("level", "byte", "level"),
    ],
)
def test_bad_spec_is_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        ModelSpec(**{field: value}).validate()


def test_windows_shift_targets_by_one():
    x, y = windows(np.arange(11), 3)
    np.testing.assert_array_equal(x, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(y, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_derived_metrics():
    assert derived_metrics(np.log(2) * 1.5, "char") == pytest.approx({"val_bpc": 1.5})
    assert derived_metrics(np.log(20.0), "word") == pytest.approx({"val_perplexity": 20.0})


def test_one_epoch_lowers_loss_and_saves_metrics(tmp_path):
    events = []
    bundle = train(
        TINY, CORPUS, name="tiny", config=ONE_EPOCH, root=tmp_path, progress=events.append
    )
    first_batch = next(e for e in events if e["kind"] == "batch")
    epoch = next(e for e in events if e["kind"] == "epoch")
    assert epoch["logs"]["loss"] < first_batch["loss"]
    meta = json.loads((tmp_path / "tiny" / "meta.json").read_text())
    m = meta["metrics"]
    assert set(m) == {"val_loss", "val_accuracy", "val_bpc", "baseline_bpc"}
    assert m["val_bpc"] == pytest.approx(m["val_loss"] / np.log(2))
    assert 0 < m["baseline_bpc"] < np.log2(len(load("tiny", root=tmp_path).vocab)) + 0.5
    assert meta["spec"] == TINY.to_dict() and meta["epochs_done"] == 1
    assert (tmp_path / "tiny" / "checkpoints" / "epoch-001.weights.npz").is_file()
    assert bundle.name == "tiny" and list_models(root=tmp_path)[0]["name"] == "tiny"


@pytest.mark.slow
def test_word_model_reports_perplexity(tmp_path):
    spec = ModelSpec(cell="lstm", level="word", units=8, embedding=4, seq_len=10)
    train(spec, CORPUS, name="w", config=ONE_EPOCH, root=tmp_path)
    m = load("w", root=tmp_path).meta["metrics"]
    assert set(m) == {"val_loss", "val_accuracy", "val_perplexity", "baseline_perplexity"}
    assert m["val_perplexity"] == pytest.approx(np.exp(m["val_loss"]))


@pytest.mark.slow
def test_stop_keeps_last_epoch_and_resume_continues(tmp_path):
    stop = threading.Event()

    def hook(event):
        if event["kind"] == "epoch":
            stop.set()  # stop during the second epoch

    train(
        TINY,
        CORPUS,
        name="r",
        config=TrainConfig(epochs=3, batch_size=16),
        root=tmp_path,
        progress=hook,
        stop=stop,
    )
    assert load("r", root=tmp_path).meta["epochs_done"] == 1
    bundle = train(
        TINY,
        CORPUS,
        name="r",
        config=TrainConfig(epochs=2, batch_size=16),
        root=tmp_path,
        resume=True,
    )
    assert [h["epoch"] for h in bundle.meta["history"]] == [1, 2]
    assert len(registry.checkpoints("r", root=tmp_path)) == 2
    with pytest.raises(ValueError, match="already has 2 epochs"):
        train(TINY, CORPUS, name="r", config=TrainConfig(epochs=2), root=tmp_path, resume=True)


@pytest.mark.slow
def test_existing_name_and_short_corpus_are_refused_before_work(tmp_path):
    train(TINY, CORPUS, name="dup", config=ONE_EPOCH, root=tmp_path)
    with pytest.raises(ValueError, match="exists already"):
        train(TINY, CORPUS, name="dup", config=ONE_EPOCH, root=tmp_path)
    with pytest.raises(ValueError, match="too short for sequence length"):
        train(TINY, corpus_from_text("short text"), name="x", config=ONE_EPOCH, root=tmp_path)


def test_registry_roundtrip(tmp_path):
    bundle = random_bundle("lstm", 2)
    bundle.meta = {"metrics": {"val_loss": 1.0}}
    save(bundle, "round-trip_1", root=tmp_path)
    back = load("round-trip_1", root=tmp_path)
    assert back.spec == bundle.spec and back.vocab.tokens == bundle.vocab.tokens
    assert back.meta["metrics"] == {"val_loss": 1.0}
    ids = np.arange(len(bundle.vocab))[None] % len(bundle.vocab)
    np.testing.assert_allclose(
        back.model.predict(ids, verbose=0), bundle.model.predict(ids, verbose=0), atol=1e-6
    )
    assert back.fingerprint and back.fingerprint == bundle.fingerprint


def test_load_compiles_only_when_asked(tmp_path):
    """compile=False (the default: the app only predicts) gives an uncompiled model;
    compile=True restores the saved optimizer and loss."""
    bundle = random_bundle("gru")
    compile_model(bundle.model, TrainConfig(learning_rate=3e-3))
    bundle.model.optimizer.build(bundle.model.trainable_variables)  # saved with its slots
    save(bundle, "compiled", root=tmp_path)
    for model in (
        load("compiled", root=tmp_path).model,
        load("compiled", root=tmp_path, compile=False).model,
    ):
        assert model.compiled is False
        assert getattr(model, "optimizer", None) is None  # Keras 3: no attribute until compiled
    model = load("compiled", root=tmp_path, compile=True).model
    assert model.compiled is True
    assert type(model.optimizer).__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace", "é", None])
def test_bad_names_refused(tmp_path, name):
    with pytest.raises(registry.RegistryError, match="model name"):
        save(random_bundle(), name, root=tmp_path)


@pytest.mark.parametrize("damage", ["model", "meta", "vocab"])
def test_corrupt_files_give_clear_errors(tmp_path, damage):
    save(random_bundle(), "m", root=tmp_path)
    target = {"model": "model.keras", "meta": "meta.json", "vocab": "vocab.json"}[damage]
    (tmp_path / "m" / target).write_bytes(b"\x00garbage{")
    with pytest.raises(registry.RegistryError, match="'m'"):
        load("m", root=tmp_path)


def test_foreign_keras_file_is_refused(tmp_path):
    import keras

    save(random_bundle(), "m", root=tmp_path)
    foreign = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    foreign.save(tmp_path / "m" / "model.keras")
    with pytest.raises(registry.RegistryError, match="outputs 2 classes"):
        load("m", root=tmp_path)


def test_crash_between_renames_leaves_previous_version_loadable(tmp_path, monkeypatch):
    first = random_bundle(seed=1)
    first.meta = {"version": 1}
    save(first, "m", root=tmp_path)
    real_rename = os.rename
    calls = []

    def crash_on_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        real_rename(src, dst)

    monkeypatch.setattr(registry.os, "rename", crash_on_second)
    second = random_bundle(seed=2)
    second.meta = {"version": 2}
    with pytest.raises(KeyboardInterrupt):
        save(second, "m", root=tmp_path)
    monkeypatch.setattr(registry.os, "rename", real_rename)
    assert load("m", root=tmp_path).meta["version"] == 1


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(registry.RegistryError, match="no model named 'nope'"):
        load("nope", root=tmp_path)


@pytest.mark.slow
def test_checkpoints_hold_each_epochs_weights(tmp_path):
    bundle = train(
        TINY, CORPUS, name="ck", config=TrainConfig(epochs=2, batch_size=16), root=tmp_path
    )
    assert [e for e, _ in registry.checkpoints("ck", root=tmp_path)] == [1, 2]
    last = registry.load_checkpoint(bundle, 2)
    for a, b in zip(last.model.get_weights(), bundle.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    first = registry.load_checkpoint(bundle, 1)
    assert not np.array_equal(first.model.get_weights()[0], bundle.model.get_weights()[0])
    with pytest.raises(registry.RegistryError, match="no checkpoint for epoch 9"):
        registry.load_checkpoint(bundle, 9)
