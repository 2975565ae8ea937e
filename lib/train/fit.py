"""Train recurrent language models and sequence classifiers, saving every epoch.

``train(spec, corpus, name=...)`` tokenizes, splits, trains with per-epoch validation,
checkpoints and saves every epoch, and can be stopped and resumed.
``train_classifier(spec, data, name=...)`` trains a classifier (Garcia, Munz & Weiskopf
2021) on a :class:`lib.data.datasets.LabelledData` with the same progress records, stop,
resume, per-epoch checkpoints and atomic saves. The graphs are :func:`lib.model.build.build`'s.

Language-model metrics (meta.json "metrics"): ``val_loss`` (nats per token),
``val_accuracy``, and ``val_bpc`` = val_loss / ln 2 with ``baseline_bpc`` (char level) or
``val_perplexity`` = exp(val_loss) with ``baseline_perplexity`` (word level). The baseline
is the add-one smoothed unigram model of the training split scored on the validation
split.

Classifier metrics: ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` (on
the held-out test split) and ``baseline_accuracy`` (always predicting the training
split's most frequent class, scored on the test split).

Training logs (``config.tensorboard``, ``config.csv_log``): Keras' TensorBoard event files
and a CSVLogger table of every epoch kept, in ``<registry>/.logs/<name>/``
(:func:`training_logs`), so ``tensorboard --logdir models/.logs`` shows each model as a run.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lib.data.corpora import Corpus, corpus_meta, corpus_sha1
from lib.data.datasets import LabelledData
from lib.data.embeddings import check_pretrained, init_embedding
from lib.data.tokenizer import Vocab, split_ids, unigram_cross_entropy
from lib.model.build import build, compile_classifier, compile_model
from lib.model.bundle import ModelBundle
from lib.model.inputs import _targets, classifier_ids, classifier_splits, windows
from lib.model.registry import (
    LOGS,
    check_writable,
    checkpoints,
    delete,
    list_models,
    load,
    models_root,
    read_meta,
    save,
    validate_name,
    writing,
)
from lib.model.spec import ID_OFFSET, Level, ModelSpec, TrainConfig
from lib.run.classify import class_probabilities, cross_entropy
from lib.run.generate import generate
from lib.train.distribute import in_strategy_scope

if TYPE_CHECKING:
    import keras


def derived_metrics(val_loss: float, level: Level) -> dict[str, float]:
    """Convert a loss in nats per token to bits per character (char) or perplexity (word)."""
    if level == "char":
        return {"val_bpc": val_loss / math.log(2)}
    return {"val_perplexity": math.exp(min(val_loss, 50.0))}


def baseline_metrics(
    train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int, level: Level
) -> dict[str, float]:
    """Score the unigram baseline of the training split on the validation split.

    Bits per character (``baseline_bpc``) at char level, else perplexity
    (``baseline_perplexity``); see :func:`lib.data.tokenizer.unigram_cross_entropy`.
    """
    nats = unigram_cross_entropy(train_ids, val_ids, vocab_size)
    if level == "char":
        return {"baseline_bpc": nats / math.log(2)}
    return {"baseline_perplexity": math.exp(nats)}


@dataclass
class PreparedData:
    """A corpus tokenized, encoded and split for one spec and config."""

    vocab: Vocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    baseline: dict = field(default_factory=dict)


def _check_length(n_tokens: int, spec: ModelSpec, config: TrainConfig) -> int:
    """Count the validation tokens; ValueError when a split is too short for seq_len."""
    n_val = int(n_tokens * config.val_fraction)
    if n_tokens - n_val <= spec.seq_len + 1 or n_val <= spec.seq_len + 1:
        raise ValueError(
            f"The corpus has {n_tokens:,} {spec.level} tokens: too short for sequence length "
            f"{spec.seq_len} with a {config.val_fraction:.0%} validation split (each part needs "
            f"more than {spec.seq_len + 1} tokens). Use a longer text or a shorter sequence."
        )
    return n_val


def _tokens(corpus: Corpus, spec: ModelSpec, config: TrainConfig) -> list[str]:
    tokens = spec.tokenizer.tokenize(corpus.text)
    return tokens[: config.max_tokens] if config.max_tokens else tokens


def prepare(
    corpus: Corpus, spec: ModelSpec, config: TrainConfig, vocab: Vocab | None = None
) -> PreparedData:
    """Tokenize and split ``corpus``; refuse data too short for the sequence length."""
    tokens = _tokens(corpus, spec, config)
    n_val = _check_length(len(tokens), spec, config)
    train_tokens = tokens[: len(tokens) - n_val]
    if vocab is None:
        vocab = Vocab.build(train_tokens, min_count=config.min_count, max_size=config.max_vocab)
    ids = vocab.encode(tokens)
    train_ids, val_ids = split_ids(ids, val_fraction=n_val / len(tokens))
    return PreparedData(
        vocab, train_ids, val_ids, baseline_metrics(train_ids, val_ids, len(vocab), spec.level)
    )


def one_writer(fn: Callable[..., ModelBundle]) -> Callable[..., ModelBundle]:
    """Hold the write lock of model ``name`` for the whole training run.

    See :func:`lib.model.registry.writing`: a second training, import or save of that
    name, from this process or another, is refused while this one runs.
    """

    @functools.wraps(fn)
    def locked(
        *args: Any, name: str, root: str | os.PathLike | None = None, **kw: Any
    ) -> ModelBundle:
        with writing(name, root=root, what="training"):
            return fn(*args, name=name, root=root, **kw)

    return locked


def _check_registry(
    spec: ModelSpec,
    config: TrainConfig,
    name: str,
    *,
    resume: bool,
    overwrite: bool,
    root: str | os.PathLike | None,
    source: tuple[str, str, str],
) -> int | None:
    """Apply the registry rules of both tasks: return the epochs done when resuming, else None.

    ``source`` = (meta.json key, sha1 of the training data, its name in messages).
    """
    key, sha1, what = source
    check_writable(name, root=root)
    exists = name in {m["name"] for m in list_models(root=root)}
    if not resume:
        if exists and not overwrite:
            raise ValueError(f"A model named {name!r} exists already: choose another name.")
        return None
    if not exists:
        raise ValueError(f"There is no model {name!r} to resume.")
    meta = read_meta(name, root=root)
    if ModelSpec.from_dict(meta["spec"]) != spec:
        raise ValueError(
            f"Model {name!r} was built with other settings: "
            f"{ModelSpec.from_dict(meta['spec']).describe()}."
        )
    if meta.get(key, {}).get("sha1") != sha1:
        raise ValueError(
            f"Model {name!r} was trained on another {what} ({meta.get(key, {}).get('ref', '?')})."
        )
    done = int(meta.get("epochs_done", len(meta.get("history", []))))
    if done >= config.epochs:
        raise ValueError(f"Model {name!r} already has {done} epochs; set more than that to resume.")
    return done


def check_training(
    spec: ModelSpec,
    corpus: Corpus,
    config: TrainConfig,
    name: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    root: str | os.PathLike | None = None,
) -> int:
    """Refuse bad settings before any work starts; return the first epoch to train.

    Raises ValueError (RegistryError for names) with a message for the user.
    """
    validate_name(name)
    spec.validate()
    config.validate()
    check_logging(config)
    if not corpus.text.strip():
        raise ValueError("The corpus is empty: choose or paste a text first.")
    if config.embedding_file:
        check_pretrained(config.embedding_file, level=spec.level, embedding=spec.embedding)
    done = _check_registry(
        spec,
        config,
        name,
        resume=resume,
        overwrite=overwrite,
        root=root,
        source=("corpus", corpus_sha1(corpus), "corpus text"),
    )
    if done is not None:
        return done
    _check_length(len(_tokens(corpus, spec, config)), spec, config)
    return 0


ProgressHook = Callable[[dict], None]

#: the phases before training proper, in order, as ``{"kind": "phase", "text": ...}`` records
PHASES = ("tokenizing", "building the model", "first batch")


class TrainingStopped(RuntimeError):
    """Training was stopped (its ``stop`` event set) before any epoch of this run ended.

    Not a failure: nothing of this run was saved (a resumed model keeps its earlier epochs).
    ``batches`` counts the training batches that ran, 0 when stopped before the first.
    """

    def __init__(self, batches: int) -> None:
        self.batches = batches
        when = (
            "before the first batch"
            if batches == 0
            else f"after {batches:,} batch{'es' if batches != 1 else ''}"
        )
        super().__init__(f"stopped {when}, before an epoch ended; nothing new was saved")


def _phase(hook: ProgressHook | None, stop: threading.Event | None, text: str) -> None:
    """Report the phase ``text`` to ``hook``; raise TrainingStopped if ``stop`` is set."""
    if stop is not None and stop.is_set():
        raise TrainingStopped(0)
    if hook is not None:
        hook({"kind": "phase", "text": text})


TRAINING_CSV = "training.csv"
"""The CSVLogger table in a model's log folder: a row per epoch kept (column ``epoch`` is
Keras' 0-based epoch index; meta.json's ``history`` counts from 1)."""

MAX_LOG_CSV_BYTES = 16 << 20
"""Largest training.csv a resume rewrites (keeping its earlier epochs); a larger one is left
as it is and appended to."""


def training_logs(name: str, *, root: str | os.PathLike | None = None) -> Path:
    """Return the folder of model ``name``'s training logs: ``<registry>/.logs/<name>/``.

    It holds Keras' TensorBoard event files (``train/``, ``validation/``: scalars
    ``epoch_loss``, ``epoch_accuracy``, ... at step = 0-based epoch) and
    :data:`TRAINING_CSV`. The folder is beside the model folders, not inside
    ``<registry>/<name>/``: every save writes a new model folder and renames it over the
    old one (:func:`lib.model.registry.save`), which would lose the files Keras' callbacks
    keep open for the whole run, and archives (:func:`lib.model.registry.export_archive`)
    hold only the model's own files. A training from scratch removes the name's old logs;
    a resumed one adds to them (``tensorboard --logdir <registry>/.logs`` shows every
    model as a run).
    """
    return models_root(root) / LOGS / validate_name(name)


def check_logging(config: TrainConfig) -> None:
    """Refuse ``config.tensorboard`` before any work starts when TensorBoard is not installed.

    Keras' TensorBoard callback writes through ``tf.summary.scalar``, which the tensorboard
    package implements (not tensorflow itself); without it the first epoch's end would fail.
    """
    import importlib.util

    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ValueError(
            "TensorBoard logs need the tensorboard package, which this server does not have "
            "(pip install tensorboard): train without them, or install it first."
        )


def _clear_logs(name: str, root: str | os.PathLike | None) -> None:
    """Remove the logs a previous model of this name left (a training from scratch)."""
    shutil.rmtree(training_logs(name, root=root), ignore_errors=True)


def _keep_rows_before(path: Path, epoch: int) -> None:
    """Drop the rows of ``path`` (a CSVLogger table) for epochs ``epoch`` (0-based) and later.

    A resume continues from the saved epoch, which keep-best may have set back; the CSV
    then matches meta.json's history again. A file that is too big or not a CSVLogger
    table is left alone.
    """
    try:
        if path.stat().st_size > MAX_LOG_CSV_BYTES:
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "epoch" not in rows[0]:
        return
    col = rows[0].index("epoch")
    try:
        kept = [r for r in rows[1:] if r and int(float(r[col])) < epoch]
    except (ValueError, IndexError):
        return
    if len(kept) == len(rows) - 1:
        return
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([rows[0], *kept])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _log_callbacks(
    config: TrainConfig, name: str, root: str | os.PathLike | None, start_epoch: int
) -> list:
    """Return the TensorBoard and CSVLogger callbacks ``config`` asks for (none: nothing written).

    They write to :func:`training_logs`.

    Put after the progress callback: an epoch it does not keep (stopped) is not logged.
    """
    import keras

    if not (config.tensorboard or config.csv_log):
        return []
    folder = training_logs(name, root=root)
    folder.mkdir(parents=True, exist_ok=True)
    found: list = []
    if config.csv_log:
        path = folder / TRAINING_CSV
        _keep_rows_before(path, start_epoch)
        found.append(keras.callbacks.CSVLogger(str(path), append=True))
    if config.tensorboard:
        found.append(
            keras.callbacks.TensorBoard(
                log_dir=str(folder),
                histogram_freq=0,
                write_graph=False,
                update_freq="epoch",
                profile_batch=0,
            )
        )
    return found


def _end_logs(callbacks: list) -> None:
    """Close the log files of a fit that ended early (Keras skips on_train_end then)."""
    import keras

    for cb in callbacks:
        if isinstance(cb, keras.callbacks.CSVLogger | keras.callbacks.TensorBoard):
            with contextlib.suppress(Exception):
                cb.on_train_end()


def _fit(
    model: keras.Model,
    callbacks: list,
    hook: ProgressHook | None,
    stop: threading.Event | None,
    history: list,
    *args: Any,
    **kwargs: Any,
) -> None:
    """``model.fit(*args, callbacks=callbacks, **kwargs)`` that ends at once on a stop.

    ``callbacks[0]`` is :func:`_progress_callback`'s, which raises TrainingStopped at the
    first batch boundary after ``stop`` is set. A stop is reported as ``{"kind":
    "stopped", "batches"}``; TrainingStopped is raised when no epoch of this run was kept,
    RuntimeError when training ended otherwise without one. The log callbacks
    (:func:`_log_callbacks`) close their files however fit ends.
    """
    _phase(hook, stop, "first batch")
    try:
        model.fit(*args, callbacks=callbacks, **kwargs)
    except TrainingStopped:  # raised by the callback to end at once
        _end_logs(callbacks)
    except BaseException:
        _end_logs(callbacks)
        raise
    callback = callbacks[0]
    batches = int(getattr(callback, "batches", 0))
    if stop is not None and stop.is_set():
        if hook is not None:
            hook({"kind": "stopped", "batches": batches})
        if not getattr(callback, "epochs_kept", 0):
            raise TrainingStopped(batches)
    if not history:
        raise RuntimeError("training ended before the first epoch ended; nothing was saved")


PROGRESS_SECONDS = 0.25
"""Least time between two ``{"kind": "batch"}`` records of an epoch (its first and last
step are always reported): a few a second are enough for a progress bar."""


def _progress_callback(
    hook: ProgressHook | None,
    stop: threading.Event | None,
    on_epoch: Callable[[int, dict[str, float]], dict[str, Any]],
    *,
    every: float | None = None,
    on_first_batch: Callable[[], None] | None = None,
) -> keras.callbacks.Callback:
    import keras

    interval = PROGRESS_SECONDS if every is None else every

    class Progress(keras.callbacks.Callback):
        """Copies Keras logs into plain records; ends training when asked to stop.

        ``batches`` counts the batches trained in this run, ``epochs_kept`` the epochs saved.
        It works at the start of each batch only: a callback with ``on_train_batch_end``
        makes Keras convert every batch's logs to floats, one device sync per batch (on a
        GPU, a stalled pipeline). The loss of a batch record is read from the model's
        metrics (the epoch's running mean, as in Keras' logs), and only when a record is
        due: the first step of an epoch, then at most one every ``every`` seconds
        (:data:`PROGRESS_SECONDS` when None), and the last step (before the validation
        pass). ``on_first_batch`` is called once, when the run's first batch is done (the
        train function traced, TensorFlow computing).
        """

        batches = 0
        epochs_kept = 0

        def _check_stop(self) -> None:
            # raised, not stop_training: Keras would still run the validation pass
            if stop is not None and stop.is_set():
                self.model.stop_training = True
                raise TrainingStopped(self.batches)

        def _report(self, step: int) -> None:
            now = time.perf_counter()
            self.reported, self.last = step, now
            if hook is None:
                return
            loss = self.model.get_metrics_result().get("loss", float("nan"))
            hook(
                {
                    "kind": "batch",
                    "epoch": self.epoch,
                    "step": step,
                    "steps": self.params["steps"],
                    "loss": float(loss),
                    "elapsed": time.time() - self.t0,
                }
            )

        def _end_of_steps(self) -> None:
            """Count the epoch's steps, all done now, and report the last one."""
            done = self.begun + 1 if self.begun >= 0 else 0
            self.batches = self.first_batch + done
            if done and self.reported != done:
                self._report(done)

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch, self.t0 = epoch, time.time()
            self.first_batch, self.begun, self.reported, self.last = self.batches, -1, 0, 0.0

        def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            # ``batch`` batches of this epoch are done
            self.batches, self.begun = self.first_batch + batch, batch
            if batch == 1 and self.first_batch == 0 and on_first_batch is not None:
                on_first_batch()
            if batch == 1 or (batch > 1 and time.perf_counter() - self.last >= interval):
                self._report(batch)
            self._check_stop()

        def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
            self._end_of_steps()  # before Keras resets the metrics for validation
            self._check_stop()

        def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self._check_stop()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._end_of_steps()  # no-op after a validation pass
            self._check_stop()  # an interrupted epoch is not kept
            record = on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})
            self.epochs_kept += 1
            if hook is not None:
                hook({"kind": "epoch", "epoch": epoch, **record})

    return Progress()


@in_strategy_scope  # strategy=: a tf.distribute strategy (lib.train.distribute)
@one_writer
def train(
    spec: ModelSpec,
    corpus: Corpus,
    *,
    name: str,
    config: TrainConfig = TrainConfig(),
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    root: str | os.PathLike | None = None,
    sample_seed_text: str | None = None,
    extra_meta: dict | None = None,
    overwrite: bool = False,
) -> ModelBundle:
    """Train a language model and save it as ``name`` after every epoch.

    Parameters
    ----------
    spec, corpus, config
        What to train, on what, how.
    name : str
        Registry name; validated before any work starts.
    progress : callable, optional
        Called with plain dicts: ``{"kind": "phase", "text"}`` before training, once per
        phase of :data:`PHASES` in order ("tokenizing", "building the model", "first
        batch"); ``{"kind": "batch", "epoch", "step", "steps", "loss", "elapsed"}`` during
        an epoch (after its first step, at most every :data:`PROGRESS_SECONDS` after that,
        and after its last step; ``loss`` is the epoch's running mean) and ``{"kind":
        "epoch", "epoch", "logs", "metrics", "sample"}`` after it, one per epoch kept
        (``logs`` keeps Keras' key names: loss, val_loss, ...); ``{"kind": "stopped",
        "batches"}`` when ``stop`` ended training.
    stop : threading.Event, optional
        Checked between the phases and at every batch boundary: when set, training ends
        there (without the epoch's validation pass); the last completed epoch stays saved,
        and ``resume=True`` continues from it. Stopped before any epoch of this run ended,
        :class:`TrainingStopped` is raised (its ``batches`` says how many ran).
    resume : bool
        Continue model ``name`` (same spec and corpus) up to ``config.epochs`` epochs.
    overwrite : bool
        Replace an existing model ``name`` (else an existing name is refused).
    strategy : tf.distribute.Strategy, optional
        Train under this strategy (lib.train.distribute.make_strategy): built, compiled and fitted
        inside its scope; ``config.batch_size`` is the global batch.

    Returns
    -------
    ModelBundle
        The saved model after the last completed epoch.

    Raises
    ------
    TrainingStopped
        ``stop`` was set before an epoch of this run ended (nothing new was saved).
    """
    import keras

    start_epoch = check_training(
        spec, corpus, config, name, resume=resume, overwrite=overwrite, root=root
    )
    history: list[dict] = []
    _phase(progress, stop, "tokenizing")
    if resume:
        previous = load(name, root=root, compile=True)
        data = prepare(corpus, spec, config, vocab=previous.vocab)
        _phase(progress, stop, "building the model")
        model = previous.model
        history = list(previous.meta.get("history", []))[:start_epoch]
        extra_meta = {
            **{k: previous.meta[k] for k in CARRIED_META if k in previous.meta},
            **(extra_meta or {}),
        }
    else:
        data = prepare(corpus, spec, config)
        _phase(progress, stop, "building the model")
        if name in {m["name"] for m in list_models(root=root)}:
            delete(name, root=root)
        _clear_logs(name, root)
        keras.utils.set_random_seed(config.seed)
        model = build(spec, len(data.vocab))
        if config.embedding_file:
            extra_meta = {
                **(extra_meta or {}),
                "pretrained": init_embedding(
                    model,
                    data.vocab.tokens,
                    data.vocab.counts,
                    config.embedding_file,
                    freeze=config.freeze_embedding,
                ),
            }
        compile_model(model, config)
    x, y = windows(data.train_ids, spec.seq_len)
    vx, vy = windows(data.val_ids, spec.seq_len)
    bundle = ModelBundle(model=model, vocab=data.vocab, tokenizer=spec.tokenizer, spec=spec)
    seed_text = sample_seed_text or corpus.text[:40]
    samples: dict[int, str] = {}
    warm = _SamplerWarmUp(bundle, seed_text)

    def on_epoch(epoch: int, logs: dict) -> dict:
        warm.join()  # its weights are stale: dropped by weights_changed() below
        metrics = {
            "val_loss": logs["val_loss"],
            "val_accuracy": logs["val_accuracy"],
            **derived_metrics(logs["val_loss"], spec.level),
            **data.baseline,
        }
        history.append(
            {"epoch": epoch + 1, **logs, **derived_metrics(logs["val_loss"], spec.level)}
        )
        bundle.weights_changed()
        sample = generate(
            bundle, seed_text, 200 if spec.level == "char" else 60, temperature=0.8, seed=0
        )
        sample_text = (
            "".join(sample.tokens[sample.n_seed :])
            if spec.tokenizer_mode == "keep-space"
            else " ".join(sample.tokens[sample.n_seed :])
        )
        bundle.meta = {
            **(extra_meta or {}),
            "corpus": corpus_meta(corpus),
            "train_config": asdict(config),
            "metrics": metrics,
            "history": history,
            "epochs_done": epoch + 1,
            "train_tokens": int(len(data.train_ids)),
            "val_tokens": int(len(data.val_ids)),
            "vocab_size": len(data.vocab),
            "params": int(model.count_params()),
            "sample": sample_text,
            "best_epoch": best_epoch(history),
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        samples[epoch + 1] = sample_text
        save(bundle, name, root=root, new_checkpoint=(epoch + 1, model))
        return {"logs": logs, "metrics": metrics, "sample": sample_text}

    callbacks = [_progress_callback(progress, stop, on_epoch, on_first_batch=warm.start)]
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.early_stopping)
        )
    callbacks += _log_callbacks(config, name, root, start_epoch)
    _fit(
        model,
        callbacks,
        progress,
        stop,
        history,
        x,
        y,
        batch_size=config.batch_size,
        epochs=config.epochs,
        initial_epoch=start_epoch,
        validation_data=(vx, vy),
        shuffle=True,
        verbose=0,
    )
    if config.keep_best and bundle.meta["best_epoch"] != history[-1]["epoch"]:
        _restore_best(bundle, name, root, data.baseline, samples)
    return bundle


class _SamplerWarmUp:
    """Pay the sampler's first-use costs while the first epoch trains.

    The first :func:`lib.run.generate.generate` of a process imports and loads the step
    kernels (numba: about 1.5 s here), which the first epoch's sample would otherwise add
    to the run. A one-token sample on a separate bundle (its own weight cache) in a
    daemon thread pays it during ``model.fit``, whose kernels release the GIL and leave
    CPU spare on an LSTM's sequential steps. :meth:`join` before the real sample.
    """

    def __init__(self, bundle: ModelBundle, seed_text: str) -> None:
        b = bundle
        self.bundle = ModelBundle(model=b.model, vocab=b.vocab, tokenizer=b.tokenizer, spec=b.spec)
        self.seed_text = seed_text
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        import lib.run.generate as sampler  # not this module's name: timers wrap that one

        with contextlib.suppress(Exception):  # only a warm-up: the real sample reports errors
            sampler.generate(self.bundle, self.seed_text, 1, seed=0)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="sampler-warm-up", daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


CARRIED_META = ("pretrained", "group", "experiment")
"""meta.json entries a resumed model keeps from its previous version."""


def best_epoch(history: list[dict]) -> int:
    """Return the epoch (1-based, as in ``history``) with the lowest val_loss; the first on ties."""
    return min(history, key=lambda h: h["val_loss"])["epoch"]


def _restore_best(
    bundle: ModelBundle,
    name: str,
    root: str | os.PathLike | None,
    baseline: dict[str, float],
    samples: dict[int, str],
) -> None:
    """Save the best epoch's weights (from its checkpoint) as the model ``name``.

    ``epochs_done`` becomes that epoch, so ``resume=True`` continues from it; ``history``
    keeps every epoch trained, for the learning curves (``epochs_trained``).
    """
    best = bundle.meta["best_epoch"]
    path = dict(checkpoints(name, root=root))[best]
    with np.load(path, allow_pickle=False) as z:
        bundle.model.set_weights([z[f"arr_{i}"] for i in range(len(z.files))])
    bundle.weights_changed()
    row = next(h for h in bundle.meta["history"] if h["epoch"] == best)
    bundle.meta = {
        **bundle.meta,
        "metrics": {
            "val_loss": row["val_loss"],
            "val_accuracy": row["val_accuracy"],
            **derived_metrics(row["val_loss"], bundle.spec.level),
            **baseline,
        },
        "epochs_done": best,
        "epochs_trained": bundle.meta["history"][-1]["epoch"],
        "sample": samples.get(best, bundle.meta.get("sample", "")),
        "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    save(bundle, name, root=root)


# --- sequence classifiers (seed 003) ----------------------------------------------------------


def check_classifier_training(
    spec: ModelSpec,
    data: LabelledData,
    config: TrainConfig,
    name: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    root: str | os.PathLike | None = None,
) -> int:
    """Refuse bad classifier settings before any work starts; return the first epoch to train.

    Raises ValueError (RegistryError for names, DatasetError for data) with a message for
    the user.
    """
    validate_name(name)
    if spec.task != "classifier":
        raise ValueError(
            f"train_classifier needs a spec with task='classifier', got task={spec.task!r}"
        )
    spec.validate()
    config.validate()
    check_logging(config)
    if len(data) == 0:
        raise ValueError(f"the dataset {data.name!r} has no texts: load or upload one first")
    if spec.n_classes != data.n_classes:
        raise ValueError(
            f"the spec has n_classes={spec.n_classes} but the dataset "
            f"{data.name!r} has {data.n_classes} classes {data.classes}"
        )
    if config.early_stopping or config.keep_best:
        raise ValueError(
            "early stopping and keep-best are for language models; got "
            f"early_stopping={config.early_stopping}, keep_best={config.keep_best}"
        )
    if config.embedding_file:
        check_pretrained(config.embedding_file, level=spec.level, embedding=spec.embedding)
    done = _check_registry(
        spec,
        config,
        name,
        resume=resume,
        overwrite=overwrite,
        root=root,
        source=("dataset", data.sha1, "dataset"),
    )
    if done is not None:
        return done
    return 0


@in_strategy_scope  # strategy=: a tf.distribute strategy (lib.train.distribute)
@one_writer
def train_classifier(
    spec: ModelSpec,
    data: LabelledData,
    *,
    name: str,
    config: TrainConfig = TrainConfig(),
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    root: str | os.PathLike | None = None,
    overwrite: bool = False,
    extra_meta: dict | None = None,
) -> ModelBundle:
    """Train a sequence classifier on a labelled dataset and save it as `name` every epoch.

    Parameters
    ----------
    spec : ModelSpec
        ``task="classifier"``; ``n_classes=None`` takes the dataset's class count.
    data : lib.data.datasets.LabelledData
        Split by :func:`classifier_splits` into train / validation / test.
    name, config, progress, stop, resume, overwrite, strategy
        As for :func:`train` (``config.max_tokens`` and ``spec.seq_len`` are not used;
        ``config.test_fraction`` is). Progress records are the same: ``{"kind": "batch",
        ...}`` and ``{"kind": "epoch", "epoch", "logs", "metrics", "sample"}``; for a classifier
        ``logs`` also holds ``test_loss`` and ``test_accuracy``, and ``sample`` is a
        one-line summary ("test accuracy 74.1% (majority class 50.0%)"). The phase and
        stopped records and :class:`TrainingStopped` are :func:`train`'s too.

    Returns
    -------
    ModelBundle
        The saved model after the last completed epoch. meta.json holds ``metrics``
        (module docstring), ``classes``, ``class_counts`` (per split), ``dataset`` (ref,
        sha1, ...), ``split`` (sizes, fractions, seed, texts dropped as empty), ``history``.
    """
    import dataclasses

    import keras

    if spec.task == "classifier" and spec.n_classes is None:
        spec = dataclasses.replace(spec, n_classes=data.n_classes)
    start_epoch = check_classifier_training(
        spec, data, config, name, resume=resume, overwrite=overwrite, root=root
    )
    # check_classifier_training validated the spec: a classifier's has both
    assert spec.n_classes is not None and spec.max_len is not None
    n_classes, max_len = spec.n_classes, spec.max_len
    _phase(progress, stop, "tokenizing")
    splits = classifier_splits(data, spec, config)
    kept, labels = splits.data, splits.data.labels
    history: list[dict] = []
    if resume:
        _phase(progress, stop, "building the model")
        previous = load(name, root=root, compile=True)
        vocab, model = previous.vocab, previous.model
        history = list(previous.meta.get("history", []))[:start_epoch]
        extra_meta = {
            **{k: previous.meta[k] for k in CARRIED_META if k in previous.meta},
            **(extra_meta or {}),
        }
    else:
        vocab = Vocab.build(
            (tok for i in splits.train for tok in splits.tokens[i][:max_len]),
            min_count=config.min_count,
            max_size=config.max_vocab,
        )
        _phase(progress, stop, "building the model")
        if name in {m["name"] for m in list_models(root=root)}:
            delete(name, root=root)
        _clear_logs(name, root)
        keras.utils.set_random_seed(config.seed)
        model = build(spec, len(vocab))
        if config.embedding_file:
            extra_meta = {
                **(extra_meta or {}),
                "pretrained": init_embedding(
                    model,
                    vocab.tokens,
                    vocab.counts,
                    config.embedding_file,
                    freeze=config.freeze_embedding,
                    offset=ID_OFFSET,
                ),
            }
        compile_classifier(model, config, n_classes)
    x, _ = classifier_ids(vocab, splits.tokens, max_len)
    parts = {k: getattr(splits, k) for k in ("train", "val", "test")}
    counts = {k: np.bincount(labels[idx], minlength=n_classes).tolist() for k, idx in parts.items()}
    majority = int(np.argmax(counts["train"]))
    baseline = float(np.mean(labels[splits.test] == majority))
    bundle = ModelBundle(model=model, vocab=vocab, tokenizer=spec.tokenizer, spec=spec)

    def on_epoch(epoch: int, logs: dict) -> dict:
        out = model.predict(x[splits.test], batch_size=256, verbose=0)
        probs = class_probabilities(out, n_classes)
        test_logs = {
            "test_loss": cross_entropy(probs, labels[splits.test]),
            "test_accuracy": float(np.mean(probs.argmax(axis=1) == labels[splits.test])),
        }
        metrics = {
            "val_loss": logs["val_loss"],
            "val_accuracy": logs["val_accuracy"],
            **test_logs,
            "baseline_accuracy": baseline,
        }
        history.append({"epoch": epoch + 1, **logs, **test_logs})
        bundle.weights_changed()
        summary = (
            f"test accuracy {test_logs['test_accuracy']:.1%} (majority class "
            f"{kept.classes[majority]!r}: {baseline:.1%})"
        )
        bundle.meta = {
            **(extra_meta or {}),
            "dataset": data.meta(),
            "classes": list(kept.classes),
            "class_counts": counts,
            "split": {
                "test_fraction": config.test_fraction,
                "val_fraction": config.val_fraction,
                "seed": config.seed,
                "n_train": len(splits.train),
                "n_val": len(splits.val),
                "n_test": len(splits.test),
                "dropped_empty": splits.dropped_empty,
            },
            "train_config": asdict(config),
            "metrics": metrics,
            "history": history,
            "epochs_done": epoch + 1,
            "vocab_size": len(vocab),
            "params": int(model.count_params()),
            "sample": summary,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        save(bundle, name, root=root, new_checkpoint=(epoch + 1, model))
        return {"logs": {**logs, **test_logs}, "metrics": metrics, "sample": summary}

    _fit(
        model,
        [
            _progress_callback(progress, stop, on_epoch),
            *_log_callbacks(config, name, root, start_epoch),
        ],
        progress,
        stop,
        history,
        x[splits.train],
        _targets(labels[splits.train], n_classes),
        batch_size=config.batch_size,
        epochs=config.epochs,
        initial_epoch=start_epoch,
        validation_data=(x[splits.val], _targets(labels[splits.val], n_classes)),
        shuffle=True,
        verbose=0,
    )
    return bundle
