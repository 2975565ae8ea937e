"""Hyperparameter experiments: seed 000's randomized search and seed 001's sweeps.

**Randomized search** (seed 000, §2.2-2.3, Tables 4.1-4.4). Each trial draws a
configuration from ranges of the cell, layers, units, learning rate, batch size and
dropout, trains for at most ``max_epochs`` epochs with early stopping on the validation
loss, and is scored on its best epoch. Seed 000 searched a vanilla RNN (units
``{32n | n = 2..10}``, learning rate ``{n x 10^m}``) and then an LSTM (units ``{128n}``,
batch ``{32n}``, dropout ``0.10..0.40`` in steps of 0.01), coarse then fine: the fine ranges
sit around the best coarse trials on a grid twice as fine (``{16n | n = 12..16}``), and
coarse trials trained "until the accuracy starts decreasing, but maximum for three
epochs". Here:

- units and batch size are drawn uniformly from the grid ``lo, lo + step, ..., <= hi``;
- the learning rate log-uniformly in ``[lo, hi]`` and rounded to one significant digit,
  seed 000's ``n x 10^m`` grid (its ``n = 0``, a learning rate of 0, is left out);
- dropout uniformly in ``[lo, hi]``, rounded to 0.01; layers and cell uniformly;
- each trial gets its own random seed (drawn from the search's seed, recorded in its row),
  so ``lib.train.fit.train`` with the row's settings reproduces it;
- the metric is the validation loss by default (seed 000 ranked by validation accuracy,
  also offered: ``val_accuracy``); every trial keeps its best epoch
  (``TrainConfig(keep_best=True)``), so its row reports the best epoch's metrics;
- :func:`narrow` makes the fine ranges: the span of the ``top`` best trials' values,
  widened by one coarse grid step (units, batch), a factor 2 (learning rate) or 0.05
  (dropout), kept inside the coarse ranges, with the grid steps halved.

Trials are models in a registry of their own, ``<registry>/.experiments/<name>/trials/``
(hidden from the model picker), with the results in ``experiment.json`` beside it;
:func:`keep_trial` copies a trial into the registry as a model.

**Sweeps** (seed 001: nine LSTMs "with the same parameters except for seed and dropout",
dropout 0 to 0.8): one architecture trained at several values of one setting, each saved
in the registry as ``<group>-<setting>-<value>`` (a ``.`` in the value written ``p``:
``drop-dropout-0p2``) with ``meta["group"]``; :func:`lib.model.registry.list_groups` lists
them. The same ``experiment.json`` record gives the sweep's live table.

Every setting of every trial is checked before any work starts (:func:`check_search`,
:func:`check_sweep`), as is the number of trials against ``lib.limits.check_trials``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib import limits
from lib.data.corpora import Corpus, corpus_meta
from lib.model.registry import (
    RegistryError,
    list_models,
    model_dir,
    models_root,
    read_meta,
    validate_name,
)
from lib.model.spec import CELLS, Cell, Level, ModelSpec, TrainConfig
from lib.train.fit import check_training, train

#: metric -> which way is better; ``val_bpc`` is for char level, ``val_perplexity`` word level
METRICS = {"val_loss": "min", "val_accuracy": "max", "val_bpc": "min", "val_perplexity": "min"}
#: settings a search draws, in table order
PARAMS = ("cell", "layers", "units", "learning_rate", "batch_size", "dropout")
#: settings a sweep can vary, and their type
SWEEPABLE: dict[str, type[int] | type[float]] = {
    "dropout": float,
    "units": int,
    "seed": int,
    "learning_rate": float,
    "batch_size": int,
    "layers": int,
    "embedding": int,
}
#: seed 001's nine dropouts
SEED_001_DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
EXPERIMENTS = ".experiments"
MAX_SEED = 2**31 - 1

Progress = Callable[[dict], None]


class ExperimentError(ValueError):
    """Settings of a search or sweep that cannot run; the message says which and why."""


# --- the search space -----------------------------------------------------------------------


def _span(pair: Any, name: str, cast: type[int] | type[float]) -> tuple[Any, Any]:
    try:
        lo, hi = (cast(v) for v in pair)
    except (TypeError, ValueError):
        raise ExperimentError(
            f"{name} must be a (low, high) pair of numbers, got {pair!r}."
        ) from None
    if lo > hi:
        raise ExperimentError(f"{name}: the low end {lo} is above the high end {hi}.")
    return lo, hi


@dataclass(frozen=True)
class SearchSpace:
    """Ranges a randomized search draws from (see the module docstring for the rules).

    Each range is ``(low, high)``, both ends included; ``units_step`` and ``batch_step``
    are the grids' steps.
    """

    cells: tuple[Cell, ...] = ("lstm",)
    layers: tuple[int, int] = (1, 1)
    units: tuple[int, int] = (32, 128)
    units_step: int = 16
    learning_rate: tuple[float, float] = (1e-3, 1e-2)
    batch_size: tuple[int, int] = (16, 64)
    batch_step: int = 16
    dropout: tuple[float, float] = (0.0, 0.3)

    def validate(self) -> SearchSpace:
        """Return self, or raise ExperimentError naming the bad range and its value."""
        cells = tuple(self.cells)
        if not cells or any(c not in CELLS for c in cells):
            raise ExperimentError(
                f"cells must be a non-empty choice of {CELLS}, got {list(cells)}."
            )
        lay = _span(self.layers, "layers", int)
        uni = _span(self.units, "units", int)
        lr = _span(self.learning_rate, "learning rate", float)
        bat = _span(self.batch_size, "batch size", int)
        drop = _span(self.dropout, "dropout", float)
        checks = [
            (lay[0] >= 1 and lay[1] <= 3, f"layers must be within 1 to 3, got {lay}"),
            (uni[0] >= 1, f"units must be >= 1, got {uni}"),
            (self.units_step >= 1, f"the units step must be >= 1, got {self.units_step}"),
            (lr[0] > 0 and lr[1] <= 1, f"learning rates must be within (0, 1], got {lr}"),
            (bat[0] >= 1, f"batch sizes must be >= 1, got {bat}"),
            (self.batch_step >= 1, f"the batch step must be >= 1, got {self.batch_step}"),
            (drop[0] >= 0 and drop[1] < 1, f"dropout must be within [0, 1), got {drop}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ExperimentError(message + ".")
        return self

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one configuration with plain Python values.

        Its keys: ``"cell"``, ``"layers"``, ``"units"``, ``"learning_rate"``,
        ``"batch_size"``, ``"dropout"``.
        """
        lo, hi = self.learning_rate
        lr = _one_digit(math.exp(rng.uniform(math.log(lo), math.log(hi))), lo, hi)
        return {
            "cell": str(self.cells[rng.integers(len(self.cells))]),
            "layers": int(rng.integers(self.layers[0], self.layers[1] + 1)),
            "units": int(rng.choice(_grid(self.units, self.units_step))),
            "learning_rate": lr,
            "batch_size": int(rng.choice(_grid(self.batch_size, self.batch_step))),
            "dropout": round(float(rng.uniform(*self.dropout)), 2),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (ranges as lists); see :meth:`from_dict`."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        """Rebuild the ranges from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names
        }
        return cls(**kept)


def _grid(span: tuple[int, int], step: int) -> np.ndarray:
    return np.arange(span[0], span[1] + 1, step)


def _one_digit(x: float, lo: float, hi: float) -> float:
    """Round ``x`` to one significant digit (Dahlberg's n x 10^m grid), kept in [lo, hi]."""
    exponent = math.floor(math.log10(x))
    rounded = round(x / 10**exponent) * 10**exponent
    return float(f"{min(max(rounded, lo), hi):.3g}")


def narrow(
    space: SearchSpace, rows: list[dict], *, metric: str = "val_loss", top: int = 3
) -> SearchSpace:
    """Narrow the ranges of a coarse search around its ``top`` best trials (the fine search).

    Parameters
    ----------
    space : SearchSpace
        The coarse ranges.
    rows : list of dict
        Trial rows (:func:`run_search`); only finished ones (``status == "done"``) count.
    metric : str, default "val_loss"
        Key of :data:`METRICS`.
    top : int, default 3

    Returns
    -------
    SearchSpace
        Each numeric range spans the best trials' values widened by one coarse step
        (units, batch size), a factor 2 (learning rate) or 0.05 (dropout), cut to the
        coarse range; the grid steps are halved (seed 000: units 32n coarse, 16n fine);
        layers span the best trials' and cells are the best trials' cells.

    Raises
    ------
    ExperimentError
        No finished trial to narrow around.
    """
    best = ranked(rows, metric)[: max(int(top), 1)]
    if not best:
        raise ExperimentError("No trial has finished: there is nothing to narrow around.")

    def around(
        key: str,
        pad: float,
        span: tuple[Any, Any],
        *,
        factor: bool = False,
        cast: type[int] | type[float] = float,
    ) -> tuple[Any, Any]:
        values = [r[key] for r in best]
        lo, hi = (
            (min(values) / pad, max(values) * pad)
            if factor
            else (min(values) - pad, max(values) + pad)
        )
        return cast(max(lo, span[0])), cast(min(hi, span[1]))

    cells = tuple(c for c in space.cells if c in {r["cell"] for r in best})
    units = around("units", space.units_step, space.units, cast=int)
    batch = around("batch_size", space.batch_step, space.batch_size, cast=int)
    drop = around("dropout", 0.05, space.dropout)
    return SearchSpace(
        cells=cells,
        layers=(min(r["layers"] for r in best), max(r["layers"] for r in best)),
        units=units,
        units_step=max(space.units_step // 2, 1),
        learning_rate=around("learning_rate", 2.0, space.learning_rate, factor=True),
        batch_size=batch,
        batch_step=max(space.batch_step // 2, 1),
        dropout=(round(drop[0], 2), round(drop[1], 2)),
    )


# --- ranking ----------------------------------------------------------------------------------


def ranked(rows: list[dict], metric: str = "val_loss") -> list[dict]:
    """Sort the finished trials, best first by ``metric`` (ties keep trial order)."""
    if metric not in METRICS:
        raise ExperimentError(f"metric must be one of {list(METRICS)}, got {metric!r}.")
    done = [
        r
        for r in rows
        if r.get("status") == "done" and r.get(metric) is not None and math.isfinite(r[metric])
    ]
    sign = 1 if METRICS[metric] == "min" else -1
    return sorted(done, key=lambda r: sign * r[metric])


def results_table(rows: list[dict], metric: str = "val_loss") -> pd.DataFrame:
    """Tabulate every trial as one row (configuration, then metrics), ranked by ``metric``.

    Finished trials come first, best first, with ``rank`` 1, 2, ...; unfinished or failed
    ones follow with no rank.
    """
    if not rows:
        return pd.DataFrame(columns=["rank", "trial", "status"])
    order = ranked(rows, metric)
    rank = {r["trial"]: i + 1 for i, r in enumerate(order)}
    rest = [r for r in rows if r["trial"] not in rank]
    df = pd.DataFrame(order + rest)
    df.insert(0, "rank", [rank.get(t) for t in df["trial"]])
    df["rank"] = df["rank"].astype("Int64")
    return df


# --- checks and plans --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPlan:
    """How a search runs.

    ``n_trials`` coarse trials, then ``fine_trials`` in the ranges :func:`narrow` makes
    around the ``fine_top`` best (0: no fine stage). Each trial trains at most
    ``max_epochs`` epochs and stops after ``patience`` epochs without a lower val_loss
    (0: never early). ``seed`` draws every trial's settings and seed. ``keep_top`` best
    trials are copied into the registry as ``<name>-best-<k>`` when the search ends.
    """

    space: SearchSpace = SearchSpace()
    n_trials: int = 6
    max_epochs: int = 3
    patience: int = 1
    metric: str = "val_loss"
    seed: int = 0
    fine_trials: int = 0
    fine_top: int = 3
    keep_top: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description of the plan."""
        return {**asdict(self), "space": self.space.to_dict()}

    @property
    def total_trials(self) -> int:
        """Coarse and fine trials together."""
        return int(self.n_trials) + int(self.fine_trials)


def _check_metric(metric: str, level: Level) -> None:
    if metric not in METRICS:
        raise ExperimentError(f"metric must be one of {list(METRICS)}, got {metric!r}.")
    wrong = {"char": "val_perplexity", "word": "val_bpc"}[level]
    if metric == wrong:
        raise ExperimentError(
            f"{metric} is not reported for {level}-level models; use "
            f"{'val_bpc' if level == 'char' else 'val_perplexity'} or "
            "val_loss."
        )


def _check_corpus(corpus: Corpus) -> None:
    if not corpus.text.strip():
        raise ExperimentError("The corpus is empty: choose or paste a text first.")
    limits.check_corpus(len(corpus.text))


def experiment_dir(name: str, *, root: str | os.PathLike | None = None) -> Path:
    """Return the folder of experiment ``name``: ``<registry>/.experiments/<name>``."""
    return models_root(root) / EXPERIMENTS / validate_name(name)


def trial_settings(
    base_spec: ModelSpec,
    base_config: TrainConfig,
    params: dict[str, Any],
    *,
    seed: int,
    max_epochs: int,
    patience: int,
) -> tuple[ModelSpec, TrainConfig]:
    """Return the spec and config of one trial: the base ones with the trial's settings."""
    spec = dataclasses.replace(
        base_spec,
        cell=params["cell"],
        layers=int(params["layers"]),
        units=int(params["units"]),
        dropout=float(params["dropout"]),
    )
    config = dataclasses.replace(
        base_config,
        learning_rate=float(params["learning_rate"]),
        batch_size=int(params["batch_size"]),
        seed=int(seed),
        epochs=int(max_epochs),
        early_stopping=int(patience),
        keep_best=True,
    )
    return spec, config


def sample_trials(
    space: SearchSpace, n: int, *, seed: int, start: int = 1, stage: str = "coarse"
) -> list[dict[str, Any]]:
    """Draw ``n`` trial rows (status "pending") from ``space`` with ``seed``.

    Each row holds the settings of :data:`PARAMS` and the trial's own ``seed``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        params = space.sample(rng)
        rows.append(
            {
                "trial": start + i,
                "stage": stage,
                "status": "pending",
                **params,
                "seed": int(rng.integers(MAX_SEED)),
                "model": f"trial-{start + i:03d}",
            }
        )
    return rows


def check_search(
    base_spec: ModelSpec,
    corpus: Corpus,
    base_config: TrainConfig,
    plan: SearchPlan,
    name: str,
    *,
    root: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Refuse a search that cannot run, before any work starts; return its coarse trials.

    Checks the experiment name, the plan (trial counts against ``lib.limits.check_trials``,
    epochs, metric), the ranges (and their widest model against ``lib.limits.check_model``),
    the corpus, and every coarse trial's spec and config; the fine trials are drawn from
    ranges inside the coarse ones.

    Raises
    ------
    ExperimentError, ValueError, lib.limits.LimitError
        With the setting and the value received.
    """
    validate_name(name)
    if experiment_dir(name, root=root).exists():
        raise ExperimentError(f"An experiment named {name!r} exists already: choose another name.")
    if base_spec.task != "lm":
        raise ExperimentError(f"Searches train language models, got task {base_spec.task!r}.")
    counts = {
        "trials": plan.n_trials,
        "fine trials": plan.fine_trials,
        "fine top": plan.fine_top,
        "keep top": plan.keep_top,
    }
    for what, n in counts.items():
        if int(n) != n or n < (1 if what in ("trials", "fine top") else 0):
            raise ExperimentError(
                f"The number of {what} must be a whole number >= "
                f"{1 if what in ('trials', 'fine top') else 0}, got {n!r}."
            )
    limits.check_trials(plan.total_trials)
    if not 1 <= plan.max_epochs <= 1000:
        raise ExperimentError(f"max epochs must be 1 to 1000, got {plan.max_epochs}.")
    if not 0 <= plan.patience <= 100:
        raise ExperimentError(f"patience must be 0 (off) to 100 epochs, got {plan.patience}.")
    _check_metric(plan.metric, base_spec.level)
    space = plan.space.validate()
    limits.check_model(space.units[1], space.layers[1])
    _check_corpus(corpus)
    rows = sample_trials(space, plan.n_trials, seed=plan.seed)
    trials_root = experiment_dir(name, root=root) / "trials"
    for i, row in enumerate(rows):
        spec, config = trial_settings(
            base_spec,
            base_config,
            row,
            seed=row["seed"],
            max_epochs=plan.max_epochs,
            patience=plan.patience,
        )
        try:
            if i == 0:  # corpus length for seq_len, pre-trained vectors: the same for all
                check_training(spec, corpus, config, row["model"], root=trials_root)
            else:
                spec.validate()
                config.validate()
        except ValueError as e:
            raise ExperimentError(f"Trial {row['trial']} ({_describe(row)}): {e}") from None
    return rows


def _describe(row: dict) -> str:
    return (
        f"{row['cell']} {row['layers']}x{row['units']}, lr {row['learning_rate']:g}, "
        f"batch {row['batch_size']}, dropout {row['dropout']:g}"
    )


# --- running ---------------------------------------------------------------------------------


class _Record:
    """experiment.json, rewritten atomically after every change."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder, self.data = folder, data

    def write(self) -> None:
        self.data["updated"] = time.time()
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".experiment.json.{uuid.uuid4().hex[:6]}"
        tmp.write_text(json.dumps(self.data, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, self.folder / "experiment.json")


def _train_row(
    row: dict,
    spec: ModelSpec,
    corpus: Corpus,
    config: TrainConfig,
    *,
    name: str,
    root: str | os.PathLike | None,
    progress: Progress | None,
    stop: threading.Event | None,
    record: _Record,
    extra_meta: dict | None = None,
    overwrite: bool = False,
) -> None:
    """Train one trial or sweep member; fill its row with status, metrics and timing."""
    row["status"] = "running"
    record.write()
    emit = progress or (lambda event: None)
    emit({"kind": "trial", "trial": row["trial"], "row": dict(row)})
    t0 = time.time()

    def forward(event: dict) -> None:
        emit({**event, "trial": row["trial"]})

    try:
        bundle = train(
            spec,
            corpus,
            name=name,
            config=config,
            progress=forward,
            stop=stop,
            root=root,
            extra_meta=extra_meta,
            overwrite=overwrite,
        )
        meta = bundle.meta
        row.update({k: float(v) for k, v in meta["metrics"].items() if k in METRICS})
        row.update(
            epochs=int(meta["history"][-1]["epoch"]),
            best_epoch=int(meta["best_epoch"]),
            status="stopped" if stop is not None and stop.is_set() else "done",
        )
    except Exception as e:  # one failed trial must not end the search
        stopped = stop is not None and stop.is_set()
        row.update(
            status="stopped" if stopped else "failed",
            error="" if stopped else f"{type(e).__name__}: {str(e)[:300]}",
        )
    row["seconds"] = round(time.time() - t0, 1)
    record.write()
    emit({"kind": "trial", "trial": row["trial"], "row": dict(row)})


def run_search(
    base_spec: ModelSpec,
    corpus: Corpus,
    base_config: TrainConfig = TrainConfig(),
    plan: SearchPlan = SearchPlan(),
    *,
    name: str,
    root: str | os.PathLike | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Run a randomized search (coarse, then fine if asked); return its record.

    Parameters
    ----------
    base_spec, base_config : ModelSpec, TrainConfig
        Everything not drawn from ``plan.space`` (level, embedding, sequence length,
        optimizer, clipping, vocabulary, pre-trained vectors, ...).
    corpus : Corpus
    plan : SearchPlan
    name : str
        The experiment's name (a model name: letters, digits, ``-``, ``_``).
    root : path, optional
        The registry (default :func:`lib.model.registry.models_root`).
    progress : callable, optional
        Called with ``{"kind": "trial", "trial", "row"}`` when a trial starts and ends, and
        with ``lib.train.fit.train``'s ``batch`` / ``epoch`` records plus ``"trial"``.
    stop : threading.Event, optional
        Ends the running trial after its current batch (its finished epochs count) and
        skips the rest (status ``"not run"``).

    Returns
    -------
    dict
        The content of ``experiment.json``: ``name``, ``kind`` ("search"), ``status``
        ("done", "stopped"), ``plan``, ``fine_space`` (or None), ``metric``, ``corpus``,
        ``base_spec``, ``base_config``, ``rows`` (one per trial: ``trial``, ``stage``,
        ``status``, the settings of :data:`PARAMS`, ``seed``, ``epochs``, ``best_epoch``,
        the validation metrics, ``seconds``, ``model``, ``error``) and ``kept``.
    """
    rows = check_search(base_spec, corpus, base_config, plan, name, root=root)
    folder = experiment_dir(name, root=root)
    trials_root = folder / "trials"
    record = _Record(
        folder,
        {
            "name": name,
            "kind": "search",
            "status": "running",
            "created": time.time(),
            "plan": plan.to_dict(),
            "metric": plan.metric,
            "fine_space": None,
            "corpus": corpus_meta(corpus),
            "base_spec": base_spec.to_dict(),
            "base_config": asdict(base_config),
            "rows": rows,
            "kept": [],
            "notes": [],
        },
    )
    record.write()

    def run_rows(todo: list[dict]) -> None:
        for row in todo:
            if stop is not None and stop.is_set():
                row["status"] = "not run"
                continue
            spec, config = trial_settings(
                base_spec,
                base_config,
                row,
                seed=row["seed"],
                max_epochs=plan.max_epochs,
                patience=plan.patience,
            )
            _train_row(
                row,
                spec,
                corpus,
                config,
                name=row["model"],
                root=trials_root,
                progress=progress,
                stop=stop,
                record=record,
            )

    run_rows(rows)
    if plan.fine_trials and not (stop is not None and stop.is_set()):
        try:
            fine = narrow(plan.space, rows, metric=plan.metric, top=plan.fine_top)
        except ExperimentError as e:
            record.data["notes"].append(f"No fine stage: {e}")
        else:
            record.data["fine_space"] = fine.to_dict()
            more = sample_trials(
                fine, plan.fine_trials, seed=plan.seed + 1, start=len(rows) + 1, stage="fine"
            )
            rows.extend(more)
            record.write()
            run_rows(more)
    for row in rows:
        if row["status"] == "pending":
            row["status"] = "not run"
    stopped = stop is not None and stop.is_set()
    if plan.keep_top and not stopped:
        for k, row in enumerate(ranked(rows, plan.metric)[: plan.keep_top], 1):
            try:
                keep_trial(name, row["trial"], f"{name}-best-{k}", root=root)
            except (RegistryError, ExperimentError) as e:
                record.data["notes"].append(f"Trial {row['trial']} not kept: {e}")
    record.data["status"] = "stopped" if stopped else "done"
    record.data["kept"] = kept_models(name, root=root)
    record.write()
    return record.data


# --- the record on disk ------------------------------------------------------------------------


def load_experiment(name: str, *, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the ``experiment.json`` of experiment ``name``."""
    path = experiment_dir(name, root=root) / "experiment.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"There is no experiment named {name!r}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExperimentError(
            f"experiment.json of {name!r} cannot be read: {getattr(e, 'strerror', None) or e}"
        ) from None


def list_experiments(*, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Read every readable experiment record, newest first."""
    base = models_root(root) / EXPERIMENTS
    found = []
    for path in base.glob("*/experiment.json") if base.is_dir() else []:
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
    return sorted(found, key=lambda d: d.get("created", 0), reverse=True)


def delete_experiment(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Remove experiment ``name`` and its trials (models kept from it stay)."""
    folder = experiment_dir(name, root=root)
    if not folder.is_dir():
        raise ExperimentError(f"There is no experiment named {name!r}.")
    shutil.rmtree(folder)


def kept_models(name: str, *, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """List ``{"trial", "model"}`` of every registry model kept from experiment ``name``."""
    return [
        {"trial": m["experiment"]["trial"], "model": m["name"]}
        for m in list_models(root=root)
        if m.get("experiment", {}).get("name") == name
    ]


def keep_trial(
    experiment: str, trial: int, name: str, *, root: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Copy a finished trial of a search into the registry as model ``name``.

    Its meta.json gains ``"experiment": {"name", "trial", "params", "seed", "metric"}``.
    Returns the new model's meta.

    Raises
    ------
    RegistryError
        ``name`` is not a valid model name or is taken.
    ExperimentError
        No such experiment or trial, or the trial did not finish.
    """
    validate_name(name)
    base = models_root(root)
    data = load_experiment(experiment, root=root)
    row = next((r for r in data["rows"] if r["trial"] == trial), None)
    if row is None:
        raise ExperimentError(f"Experiment {experiment!r} has no trial {trial!r}.")
    if row["status"] not in ("done", "stopped") or row.get("epochs") is None:
        raise ExperimentError(
            f"Trial {trial} of {experiment!r} has no finished epoch (status {row['status']})."
        )
    if (base / name).exists():
        raise RegistryError(f"A model named {name!r} exists already: choose another name.")
    source = model_dir(row["model"], root=experiment_dir(experiment, root=root) / "trials")
    tmp = base / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, tmp)
    try:
        meta = json.loads((tmp / "meta.json").read_text(encoding="utf-8"))
        meta.update(
            name=name,
            experiment={
                "name": experiment,
                "kind": data.get("kind", "search"),
                "trial": trial,
                "params": {k: row[k] for k in PARAMS if k in row},
                "seed": row.get("seed"),
                "metric": data.get("metric"),
            },
        )
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
        os.rename(tmp, base / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_meta(name, root=root)


# --- sweeps ------------------------------------------------------------------------------------


def value_label(value: float) -> str:
    """Write a setting's value for a model name: ``0.2`` -> ``0p2``, ``3e-3`` -> ``0p003``."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace(".", "p").replace("+", "")


def sweep_names(group: str, setting: str, values: Iterable[float]) -> list[str]:
    """Return the model names of a sweep's members: ``<group>-<setting>-<value>``."""
    return [f"{group}-{setting.replace('_', '-')}-{value_label(v)}" for v in values]


def parse_values(text: str, setting: str) -> list[float]:
    """Parse the values a user typed, as the setting's type; ExperimentError names a bad item.

    E.g. ``"0, 0.1, 0.2"`` or ``"0:0.8:0.1"`` (start:stop:step, stop included).
    """
    if setting not in SWEEPABLE:
        raise ExperimentError(f"A sweep varies one of {list(SWEEPABLE)}, got {setting!r}.")
    cast = SWEEPABLE[setting]
    text = text.strip()
    if text.count(":") == 2 and "," not in text:
        try:
            start, stop, step = (float(x) for x in text.split(":"))
        except ValueError:
            raise ExperimentError(f"A range is start:stop:step, got {text!r}.") from None
        if step <= 0 or stop < start:
            raise ExperimentError(f"A range needs step > 0 and stop >= start, got {text!r}.")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        values = [start + i * step for i in range(n)]
        return [cast(round(v, 6)) if cast is float else cast(round(v)) for v in values]
    out = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        try:
            number = float(item)
        except ValueError:
            raise ExperimentError(f"{setting} values must be numbers, got {item!r}.") from None
        if cast is int and number != int(number):
            raise ExperimentError(f"{setting} values must be whole numbers, got {item!r}.")
        out.append(cast(number))
    if not out:
        raise ExperimentError(
            f"Give at least one {setting} value, e.g. "
            f"{'0, 0.1, 0.2' if cast is float else '32, 64, 128'}."
        )
    return out


def member_settings(
    spec: ModelSpec,
    config: TrainConfig,
    setting: str,
    value: float,
    *,
    index: int,
    vary_seed: bool,
) -> tuple[ModelSpec, TrainConfig]:
    """Return the spec and config of the sweep member at ``value`` (index ``index``)."""
    change: dict[str, Any] = {setting: SWEEPABLE[setting](value)}
    if setting in ("dropout", "units", "layers", "embedding"):
        spec = dataclasses.replace(spec, **change)
    else:
        config = dataclasses.replace(config, **change)
    if vary_seed and setting != "seed":
        config = dataclasses.replace(config, seed=int(config.seed) + index)
    return spec, config


def check_sweep(
    spec: ModelSpec,
    corpus: Corpus,
    config: TrainConfig,
    *,
    group: str,
    setting: str,
    values: Iterable[float],
    vary_seed: bool = False,
    overwrite: bool = False,
    root: str | os.PathLike | None = None,
) -> list[tuple[str, ModelSpec, TrainConfig]]:
    """Refuse a sweep that cannot run, before any work starts.

    Returns (name, spec, config) of every member. Checks the group name, the setting, the
    number of values (``lib.limits.check_trials``), repeated values, every member's name
    (free unless ``overwrite``), spec, config and size limits, and the corpus.
    """
    validate_name(group)
    if setting not in SWEEPABLE:
        raise ExperimentError(f"A sweep varies one of {list(SWEEPABLE)}, got {setting!r}.")
    values = list(values)
    if not values:
        raise ExperimentError("A sweep needs at least one value.")
    limits.check_trials(len(values))
    if len(set(values)) != len(values):
        raise ExperimentError(f"The {setting} values repeat: {values}.")
    if not overwrite and experiment_dir(group, root=root).exists():
        raise ExperimentError(
            f"An experiment named {group!r} exists already: choose another group name."
        )
    _check_corpus(corpus)
    names = sweep_names(group, setting, values)
    members = []
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        try:
            validate_name(name)
        except RegistryError:
            raise ExperimentError(
                f"The member name {name!r} is too long or invalid: use a shorter group name."
            ) from None
        s, c = member_settings(spec, config, setting, value, index=i, vary_seed=vary_seed)
        try:
            limits.check_model(s.units, s.layers)
            if i == 0:
                check_training(s, corpus, c, name, overwrite=overwrite, root=root)
            else:
                s.validate()
                c.validate()
                if c.embedding_file and s.embedding != spec.embedding:
                    check_training(s, corpus, c, name, overwrite=overwrite, root=root)
                if not overwrite and name in {m["name"] for m in list_models(root=root)}:
                    raise ValueError(
                        f"A model named {name!r} exists already: choose another group name."
                    )
        except ValueError as e:
            raise ExperimentError(f"{setting} = {value}: {e}") from None
        members.append((name, s, c))
    return members


def run_sweep(
    spec: ModelSpec,
    corpus: Corpus,
    config: TrainConfig = TrainConfig(),
    *,
    group: str,
    setting: str = "dropout",
    values: Iterable[float] = SEED_001_DROPOUTS,
    vary_seed: bool = False,
    overwrite: bool = False,
    root: str | os.PathLike | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Train one architecture at several values of one setting: a model group.

    Parameters
    ----------
    spec, corpus, config
        The architecture and training shared by every member.
    group : str
        The group's name; members are :func:`sweep_names` and their meta.json holds
        ``"group": {"name", "setting", "value", "values", "index"}``.
    setting : str, default "dropout"
        A key of :data:`SWEEPABLE`.
    values : sequence, default seed 001's dropouts 0, 0.1, ..., 0.8
    vary_seed : bool, default False
        Member i also trains with seed ``config.seed + i`` (seed 001's models differ "in
        seed and dropout"); by default only the setting differs.
    overwrite : bool, default False
        Replace members (and the experiment record) of an earlier sweep of the same name.
    root, progress, stop
        As for :func:`run_search`.

    Returns
    -------
    dict
        The ``experiment.json`` record (``kind`` "sweep", ``setting``, ``values``, one row
        per member with ``value``, ``seed``, metrics and ``model``).
    """
    members = check_sweep(
        spec,
        corpus,
        config,
        group=group,
        setting=setting,
        values=values,
        vary_seed=vary_seed,
        overwrite=overwrite,
        root=root,
    )
    values = list(values)
    folder = experiment_dir(group, root=root)
    if overwrite and folder.exists():
        shutil.rmtree(folder)
    rows = [
        {
            "trial": i + 1,
            "stage": "sweep",
            "status": "pending",
            "value": v,
            **{k: getattr(s, k) for k in ("cell", "layers", "units", "dropout")},
            "learning_rate": c.learning_rate,
            "batch_size": c.batch_size,
            "seed": c.seed,
            "model": name,
        }
        for i, ((name, s, c), v) in enumerate(zip(members, values, strict=True))
    ]
    record = _Record(
        folder,
        {
            "name": group,
            "kind": "sweep",
            "status": "running",
            "created": time.time(),
            "setting": setting,
            "values": values,
            "vary_seed": vary_seed,
            "metric": "val_loss",
            "corpus": corpus_meta(corpus),
            "base_spec": spec.to_dict(),
            "base_config": asdict(config),
            "rows": rows,
            "kept": [],
            "notes": [],
        },
    )
    record.write()
    for i, (row, (name, s, c)) in enumerate(zip(rows, members, strict=True)):
        if stop is not None and stop.is_set():
            row["status"] = "not run"
            continue
        meta = {
            "group": {
                "name": group,
                "setting": setting,
                "value": values[i],
                "values": values,
                "index": i,
            }
        }
        _train_row(
            row,
            s,
            corpus,
            c,
            name=name,
            root=root,
            progress=progress,
            stop=stop,
            record=record,
            extra_meta=meta,
            overwrite=overwrite,
        )
    record.data["status"] = "stopped" if stop is not None and stop.is_set() else "done"
    record.write()
    return record.data
