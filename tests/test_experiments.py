"""Early stopping with the best epoch kept, randomized search (coarse then fine), sweeps as
model groups, keeping a trial as a model."""

import json
import math
import threading
import time

import numpy as np
import pytest

from lib.data.corpora import corpus_from_text
from lib.limits import LimitError
from lib.model.registry import checkpoints, list_groups, list_models, load, read_meta
from lib.model.spec import ModelSpec, TrainConfig
from lib.train import experiments as X
from lib.train.fit import train
from tests.helpers import TEXT

CORPUS = corpus_from_text(TEXT * 4, name="tiny")
BASE = ModelSpec(cell="gru", units=8, embedding=4, seq_len=20)
TINY_SPACE = X.SearchSpace(
    cells=("gru", "rnn"),
    units=(8, 16),
    units_step=8,
    learning_rate=(3e-3, 3e-2),
    batch_size=(16, 32),
    batch_step=16,
    dropout=(0.0, 0.2),
)


@pytest.mark.slow
def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path):
    """Training text alternates a/b; validation text is aabb...: the better the model
    learns the training text, the worse it does on validation, so val_loss rises."""
    corpus = corpus_from_text("ab" * 2250 + "aabb" * 125, name="alternating")
    config = TrainConfig(
        epochs=10, batch_size=16, learning_rate=1e-2, early_stopping=2, keep_best=True
    )
    train(BASE, corpus, name="es", config=config, root=tmp_path)
    meta = read_meta("es", root=tmp_path)
    losses = [h["val_loss"] for h in meta["history"]]
    best = int(np.argmin(losses)) + 1
    assert len(losses) == best + 2 < 10  # stopped after 2 epochs without improvement
    assert meta["best_epoch"] == meta["epochs_done"] == best
    assert meta["epochs_trained"] == len(losses)
    assert meta["metrics"]["val_loss"] == pytest.approx(min(losses))
    with np.load(dict(checkpoints("es", root=tmp_path))[best]) as z:
        saved = [z[f"arr_{i}"] for i in range(len(z.files))]
    for a, b in zip(load("es", root=tmp_path).model.get_weights(), saved, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sampled_trials_stay_in_range_on_seed_000_grids():
    rows = X.sample_trials(TINY_SPACE, 40, seed=3)
    assert rows == X.sample_trials(TINY_SPACE, 40, seed=3)  # reproducible
    for r in rows:
        assert r["cell"] in ("gru", "rnn") and r["units"] in (8, 16)
        assert r["batch_size"] in (16, 32) and 0 <= r["dropout"] <= 0.2
        assert 3e-3 <= r["learning_rate"] <= 3e-2
        mantissa = r["learning_rate"] / 10 ** math.floor(math.log10(r["learning_rate"]))
        assert mantissa == pytest.approx(round(mantissa))  # n x 10^m
        assert r["dropout"] == round(r["dropout"], 2) and 0 <= r["seed"] < 2**31
    assert len({r["seed"] for r in rows}) == 40


def test_coarse_to_fine_narrows_around_the_best_trials():
    coarse = X.SearchSpace(
        cells=("lstm", "gru", "rnn"),
        layers=(1, 3),
        units=(64, 320),
        units_step=32,
        learning_rate=(1e-7, 1e-3),
        batch_size=(32, 320),
        batch_step=32,
        dropout=(0.1, 0.4),
    )
    rows = [  # planted: trials 2 and 4 are best by val_loss, trial 5 by accuracy
        {
            "trial": 1,
            "status": "done",
            "cell": "rnn",
            "layers": 3,
            "units": 64,
            "learning_rate": 1e-7,
            "batch_size": 32,
            "dropout": 0.1,
            "val_loss": 3.0,
            "val_accuracy": 0.2,
        },
        {
            "trial": 2,
            "status": "done",
            "cell": "lstm",
            "layers": 1,
            "units": 192,
            "learning_rate": 5e-5,
            "batch_size": 224,
            "dropout": 0.21,
            "val_loss": 1.0,
            "val_accuracy": 0.5,
        },
        {
            "trial": 3,
            "status": "failed",
            "cell": "lstm",
            "layers": 1,
            "units": 320,
            "learning_rate": 1e-3,
            "batch_size": 320,
            "dropout": 0.4,
        },
        {
            "trial": 4,
            "status": "done",
            "cell": "lstm",
            "layers": 2,
            "units": 256,
            "learning_rate": 2e-4,
            "batch_size": 160,
            "dropout": 0.27,
            "val_loss": 1.2,
            "val_accuracy": 0.45,
        },
        {
            "trial": 5,
            "status": "done",
            "cell": "gru",
            "layers": 1,
            "units": 320,
            "learning_rate": 1e-3,
            "batch_size": 320,
            "dropout": 0.4,
            "val_loss": 2.0,
            "val_accuracy": 0.6,
        },
    ]
    assert [r["trial"] for r in X.ranked(rows, "val_loss")] == [2, 4, 5, 1]
    assert [r["trial"] for r in X.ranked(rows, "val_accuracy")] == [5, 2, 4, 1]
    fine = X.narrow(coarse, rows, metric="val_loss", top=2)
    assert fine.cells == ("lstm",) and fine.layers == (1, 2)
    assert fine.units == (160, 288) and fine.units_step == 16
    assert fine.batch_size == (128, 256) and fine.batch_step == 16
    assert fine.learning_rate == pytest.approx((2.5e-5, 4e-4))
    assert fine.dropout == (0.16, 0.32)
    for lo_hi, wide in [
        (fine.units, coarse.units),
        (fine.batch_size, coarse.batch_size),
        (fine.learning_rate, coarse.learning_rate),
        (fine.dropout, coarse.dropout),
    ]:
        assert wide[0] <= lo_hi[0] <= lo_hi[1] <= wide[1]
        assert lo_hi[1] - lo_hi[0] < wide[1] - wide[0]
    edge = X.narrow(coarse, rows, metric="val_accuracy", top=1)  # cut to the coarse range
    assert edge.units == (288, 320) and edge.learning_rate == (5e-4, 1e-3)
    with pytest.raises(X.ExperimentError, match="No trial has finished"):
        X.narrow(coarse, [rows[2]])
    table = X.results_table(rows, "val_loss")
    assert table["trial"].tolist() == [2, 4, 5, 1, 3]
    assert table["rank"].tolist()[:4] == [1, 2, 3, 4] and table["rank"].isna().tolist()[-1]


@pytest.mark.slow
def test_search_of_three_tiny_trials_completes_and_ranks(tmp_path):
    events = []
    plan = X.SearchPlan(space=TINY_SPACE, n_trials=3, max_epochs=2, patience=1, seed=1)
    t0 = time.time()
    result = X.run_search(
        BASE, CORPUS, TrainConfig(), plan, name="s1", root=tmp_path, progress=events.append
    )
    seconds = time.time() - t0
    rows = result["rows"]
    assert result["status"] == "done" and [r["status"] for r in rows] == ["done"] * 3, rows
    assert all(1 <= r["best_epoch"] <= r["epochs"] <= 2 for r in rows)
    table = X.results_table(rows, "val_loss")
    assert table["val_loss"].is_monotonic_increasing and table["rank"].tolist() == [1, 2, 3]
    on_disk = X.load_experiment("s1", root=tmp_path)
    assert on_disk["rows"] == rows and X.list_experiments(root=tmp_path)[0]["name"] == "s1"
    assert {e["kind"] for e in events} >= {"trial", "batch", "epoch"}
    assert not list_models(root=tmp_path)  # trials live in the experiment, not the registry
    print(f"3-trial search: {seconds:.1f} s")

    # a trial reproduces from its row
    best = table.iloc[0].to_dict()
    spec, config = X.trial_settings(
        BASE, TrainConfig(), best, seed=best["seed"], max_epochs=2, patience=1
    )
    again = train(spec, CORPUS, name="again", config=config, root=tmp_path / "again")
    assert again.meta["metrics"]["val_loss"] == pytest.approx(best["val_loss"], rel=1e-3)

    # keep it as a model
    meta = X.keep_trial("s1", int(best["trial"]), "kept-best", root=tmp_path)
    assert meta["experiment"]["trial"] == best["trial"] and meta["name"] == "kept-best"
    assert meta["experiment"]["params"]["units"] == best["units"]
    assert load("kept-best", root=tmp_path).spec.units == best["units"]
    assert X.kept_models("s1", root=tmp_path) == [{"trial": best["trial"], "model": "kept-best"}]
    with pytest.raises(ValueError, match="exists already"):
        X.keep_trial("s1", int(best["trial"]), "kept-best", root=tmp_path)


@pytest.mark.slow
def test_coarse_then_fine_search_and_keep_top(tmp_path):
    plan = X.SearchPlan(
        space=TINY_SPACE, n_trials=2, fine_trials=1, fine_top=1, max_epochs=1, keep_top=1, seed=2
    )
    result = X.run_search(BASE, CORPUS, TrainConfig(), plan, name="cf", root=tmp_path)
    rows = result["rows"]
    assert [r["stage"] for r in rows] == ["coarse", "coarse", "fine"]
    fine = X.SearchSpace.from_dict(result["fine_space"])
    best = X.ranked(rows[:2])[0]
    assert fine.units[0] <= best["units"] <= fine.units[1] and fine.cells == (best["cell"],)
    assert rows[2]["cell"] == best["cell"]
    assert [m["name"] for m in list_models(root=tmp_path)] == ["cf-best-1"]


def test_stopped_search_leaves_the_rest_not_run(tmp_path):
    stop = threading.Event()
    stop.set()
    plan = X.SearchPlan(space=TINY_SPACE, n_trials=2, max_epochs=1)
    result = X.run_search(BASE, CORPUS, TrainConfig(), plan, name="st", root=tmp_path, stop=stop)
    assert result["status"] == "stopped"
    assert [r["status"] for r in result["rows"]] == ["not run"] * 2


@pytest.mark.parametrize(
    "change,message",
    [
        ({"n_trials": 0}, "number of trials must be a whole number >= 1"),
        ({"metric": "val_perplexity"}, "not reported for char-level"),
        ({"metric": "bleu"}, "metric must be one of"),
        ({"max_epochs": 0}, "max epochs must be 1 to 1000"),
        ({"space": X.SearchSpace(units=(64, 32))}, "units: the low end 64 is above"),
        ({"space": X.SearchSpace(cells=("tcn",))}, "cells must be a non-empty choice"),
        ({"space": X.SearchSpace(dropout=(0.0, 1.0))}, r"dropout must be within \[0, 1\)"),
        ({"space": X.SearchSpace(units=(32, 5000))}, "number of units is 5,000"),
    ],
)
def test_bad_searches_are_refused_before_any_work(tmp_path, change, message):
    import dataclasses

    plan = dataclasses.replace(X.SearchPlan(space=TINY_SPACE), **change)
    with pytest.raises(ValueError, match=message):
        X.run_search(BASE, CORPUS, TrainConfig(), plan, name="bad", root=tmp_path)
    assert not (tmp_path / ".experiments" / "bad").exists()


def test_trial_limit_and_corpus_length_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_TRIALS", "4")
    plan = X.SearchPlan(space=TINY_SPACE, n_trials=3, fine_trials=2)
    with pytest.raises(LimitError, match="number of trials is 5"):
        X.check_search(BASE, CORPUS, TrainConfig(), plan, "t", root=tmp_path)
    long = ModelSpec(cell="gru", units=8, embedding=4, seq_len=1000)
    with pytest.raises(X.ExperimentError, match="Trial 1 .*too short for sequence length"):
        X.check_search(
            long,
            CORPUS,
            TrainConfig(),
            X.SearchPlan(space=TINY_SPACE, n_trials=2),
            "t",
            root=tmp_path,
        )
    with pytest.raises(LimitError, match="number of trials is 5"):
        X.check_sweep(
            BASE, CORPUS, TrainConfig(), group="g", setting="seed", values=range(5), root=tmp_path
        )


@pytest.mark.slow
def test_sweep_produces_a_model_group(tmp_path):
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-2, seed=5)
    result = X.run_sweep(
        BASE,
        CORPUS,
        config,
        group="drop",
        setting="dropout",
        values=[0.0, 0.5],
        vary_seed=True,
        root=tmp_path,
    )
    assert [r["status"] for r in result["rows"]] == ["done", "done"]
    groups = list_groups(root=tmp_path)
    assert list(groups) == ["drop"]
    members = groups["drop"]
    assert [m["name"] for m in members] == ["drop-dropout-0", "drop-dropout-0p5"]
    assert [m["spec"]["dropout"] for m in members] == [0.0, 0.5]
    assert [m["train_config"]["seed"] for m in members] == [5, 6]  # seed 001: seed too
    assert members[1]["group"] == {
        "name": "drop",
        "setting": "dropout",
        "value": 0.5,
        "values": [0.0, 0.5],
        "index": 1,
    }
    record = X.load_experiment("drop", root=tmp_path)
    assert record["kind"] == "sweep" and [r["value"] for r in record["rows"]] == [0.0, 0.5]
    with pytest.raises(X.ExperimentError, match="exists already"):
        X.check_sweep(
            BASE, CORPUS, config, group="drop", setting="dropout", values=[0.1], root=tmp_path
        )


def test_sweep_values_and_names():
    assert X.parse_values("0:0.8:0.1", "dropout") == list(X.SEED_001_DROPOUTS)
    assert X.parse_values("32, 64,128", "units") == [32, 64, 128]
    assert X.sweep_names("g", "learning_rate", [3e-3, 0.01]) == [
        "g-learning-rate-0p003",
        "g-learning-rate-0p01",
    ]
    with pytest.raises(X.ExperimentError, match="whole numbers, got '3.5'"):
        X.parse_values("3.5", "units")
    with pytest.raises(X.ExperimentError, match="must be numbers, got 'x'"):
        X.parse_values("0.1, x", "dropout")
    with pytest.raises(X.ExperimentError, match="varies one of"):
        X.parse_values("1", "optimizer")
    with pytest.raises(X.ExperimentError, match="repeat"):
        X.check_sweep(BASE, CORPUS, TrainConfig(), group="g", setting="units", values=[8, 8])
    with pytest.raises(X.ExperimentError, match="too long"):
        X.check_sweep(BASE, CORPUS, TrainConfig(), group="g" * 60, setting="units", values=[8])


def test_experiment_record_is_json(tmp_path):
    plan = X.SearchPlan(space=TINY_SPACE, n_trials=1, max_epochs=1)
    X.run_search(BASE, CORPUS, TrainConfig(), plan, name="j", root=tmp_path)
    data = json.loads((tmp_path / ".experiments" / "j" / "experiment.json").read_text())
    assert X.SearchSpace.from_dict(data["plan"]["space"]) == TINY_SPACE
    X.delete_experiment("j", root=tmp_path)
    assert X.list_experiments(root=tmp_path) == []
