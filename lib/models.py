"""Build and train recurrent language models and sequence classifiers; the registry API is
re-exported here.

``build(spec, vocab_size)`` makes, for ``spec.task == "lm"``, ids -> Embedding -> 1..3
recurrent layers (SimpleRNN, LSTM or GRU, all returning sequences, dropout between) ->
Dense logits. ``train(spec, corpus, name=...)`` tokenizes, splits, trains with per-epoch
validation, checkpoints and saves every epoch, and can be stopped and resumed.

For ``spec.task == "classifier"`` (seed 003) ``build`` makes ids -> Embedding(mask_zero)
-> 1..3 recurrent layers (the last returns only its final state) -> Dense(1, sigmoid) for
2 classes or Dense(K, softmax) for K > 2, and ``train_classifier(spec, data, name=...)``
trains it on a :class:`lib.datasets.LabelledData` with the same progress records, stop,
resume, per-epoch checkpoints and atomic saves.

Classifier input ids: id 0 is padding (:data:`PAD_ID`), masked by the Embedding; token
ids are the vocabulary's ids plus one (:data:`ID_OFFSET`), so ``<unk>`` (vocabulary id
0) is model id 1 and the vocabulary, its files and the language models stay as they are.
The embedding has ``len(vocab) + 1`` rows. Texts are cut to their first ``max_len``
tokens and padded at the end (seed 003 kept the last 100 tokens and padded in front,
without masking, so its states include the padding; here padded steps are masked and
never recorded).

Language-model metrics (meta.json "metrics"): ``val_loss`` (nats per token),
``val_accuracy``, and ``val_bpc`` = val_loss / ln 2 with ``baseline_bpc`` (char level) or
``val_perplexity`` = exp(val_loss) with ``baseline_perplexity`` (word level). The baseline
is the add-one smoothed unigram model of the training split scored on the validation
split.

Classifier metrics: ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` (on
the held-out test split) and ``baseline_accuracy`` (always predicting the training
split's most frequent class, scored on the test split). Accuracy is the real one: the
share of texts whose predicted class is the true class (``BinaryAccuracy`` on the single
sigmoid unit, ``SparseCategoricalAccuracy`` on K softmax units), never Keras' element-wise
binary accuracy on one-hot targets that inflated seed 003's Reuters figure (§3).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lib.corpora import Corpus  # noqa: E402
from lib.distribute import in_strategy_scope  # noqa: E402
from lib.registry import (  # noqa: E402,F401  (re-exported API)
    ModelBundle,
    RegistryError,
    checkpoints,
    delete,
    list_models,
    load,
    model_dir,
    read_meta,
    save,
    validate_name,
)
from lib.tokenizer import Tokenizer, Vocab, split_ids, unigram_cross_entropy  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
LEVELS = ("char", "word")
OPTIMIZERS = ("adam", "rmsprop")
TASKS = ("lm", "classifier")
PAD_ID = 0
"""Classifier input id of padding (masked)."""
ID_OFFSET = 1
"""Classifier input id = vocabulary id + ID_OFFSET."""
MAX_CLASSES = 100


@dataclass(frozen=True)
class ModelSpec:
    """Architecture of a recurrent language model or sequence classifier.

    ``seq_len`` is the language model's training window; ``n_classes`` (2 to 100) and
    ``max_len`` (tokens kept per text, 1 to 2000) are for ``task="classifier"`` only and
    must stay None for language models.
    """

    cell: str = "lstm"
    level: str = "char"
    tokenizer_mode: str = "keep-space"
    layers: int = 1
    units: int = 128
    embedding: int = 32
    dropout: float = 0.0
    seq_len: int = 100
    task: str = "lm"
    n_classes: int | None = None
    max_len: int | None = None

    def validate(self) -> ModelSpec:
        """Return self, or raise ValueError naming the bad setting and its value."""
        checks = [
            (self.cell in CELLS, f"cell must be one of {CELLS}, got {self.cell!r}"),
            (self.level in LEVELS, f"level must be one of {LEVELS}, got {self.level!r}"),
            (self.task in TASKS, f"task must be one of {TASKS}, got {self.task!r}"),
            (1 <= self.layers <= 3, f"layers must be 1 to 3, got {self.layers}"),
            (1 <= self.units <= 4096, f"units must be 1 to 4096, got {self.units}"),
            (1 <= self.embedding <= 2048, f"embedding must be 1 to 2048, got {self.embedding}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (2 <= self.seq_len <= 2000, f"sequence length must be 2 to 2000, got {self.seq_len}"),
        ]
        if self.task == "classifier":
            checks += [
                (
                    isinstance(self.n_classes, int) and 2 <= self.n_classes <= MAX_CLASSES,
                    f"a classifier needs n_classes 2 to {MAX_CLASSES}, got {self.n_classes!r}",
                ),
                (
                    isinstance(self.max_len, int) and 1 <= self.max_len <= 2000,
                    f"max_len (tokens per text) must be 1 to 2000, got {self.max_len!r}",
                ),
            ]
        elif self.task == "lm":
            checks += [
                (
                    self.n_classes is None,
                    f"n_classes is for classifiers; a language model "
                    f"predicts its vocabulary, got n_classes={self.n_classes!r}",
                ),
                (
                    self.max_len is None,
                    f"max_len is for classifiers; a language model uses "
                    f"seq_len, got max_len={self.max_len!r}",
                ),
            ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        _ = self.tokenizer  # validates the tokenizer mode
        return self

    @property
    def is_classifier(self) -> bool:
        return self.task == "classifier"

    @property
    def n_outputs(self) -> int:
        """Units of the output layer: 1 (sigmoid) for 2 classes, else n_classes (softmax)."""
        return 1 if self.n_classes == 2 else int(self.n_classes)

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(level=self.level, mode=self.tokenizer_mode)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> str:
        base = f"{self.level} {self.cell.upper()} {self.layers}x{self.units}"
        if self.is_classifier:
            return f"{base} classifier ({self.n_classes} classes, max {self.max_len} tokens)"
        return base


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation settings and data split."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    clipnorm: float = 5.0
    val_fraction: float = 0.1
    min_count: int = 1
    max_vocab: int | None = None
    seed: int = 0
    max_tokens: int | None = None  # train on the first max_tokens tokens of the corpus
    test_fraction: float = 0.2  # classifiers: held-out test share of each class
    early_stopping: int = 0
    """Language models: stop after this many epochs without a lower val_loss (0 = off;
    seed 000 used Keras' EarlyStopping(monitor="val_loss", patience=2))."""
    keep_best: bool = False
    """Language models: when training ends, the saved model is the epoch with the lowest
    val_loss (meta.json ``best_epoch``); later epochs stay in the history and checkpoints."""
    embedding_file: str | None = None
    """Word level: start the embedding from this GloVe / word2vec text file (lib.embeddings)."""
    freeze_embedding: bool = False
    """With ``embedding_file``: keep the embedding fixed (else it is fine-tuned)."""

    def validate(self) -> TrainConfig:
        checks = [
            (1 <= self.epochs <= 1000, f"epochs must be 1 to 1000, got {self.epochs}"),
            (1 <= self.batch_size <= 4096, f"batch size must be 1 to 4096, got {self.batch_size}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (
                0 < self.learning_rate <= 1,
                f"learning rate must be in (0, 1], got {self.learning_rate}",
            ),
            (self.clipnorm > 0, f"gradient clipping must be > 0, got {self.clipnorm}"),
            (
                0 < self.val_fraction < 0.5,
                f"validation fraction must be in (0, 0.5), got {self.val_fraction}",
            ),
            (self.min_count >= 1, f"min count must be >= 1, got {self.min_count}"),
            (
                0 < self.test_fraction < 0.5,
                f"test fraction must be in (0, 0.5), got {self.test_fraction}",
            ),
            (
                isinstance(self.early_stopping, int) and 0 <= self.early_stopping <= 100,
                f"early stopping patience must be 0 (off) to 100 epochs, got "
                f"{self.early_stopping!r}",
            ),
            (
                not self.freeze_embedding or bool(self.embedding_file),
                "freezing the embedding needs pre-trained vectors (embedding_file)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def build(spec: ModelSpec, vocab_size: int):
    """A Keras model for `spec`.

    Language model: ids (batch, T) to next-token logits (batch, T, vocab_size).
    Classifier: ids (batch, T), vocabulary id + 1 with 0 = padding, to class probabilities
    (batch, 1) (sigmoid, 2 classes) or (batch, n_classes) (softmax); see the module
    docstring. Layer names: ``embedding``, ``recurrent_<k>``, ``dropout_<k>``, and
    ``logits`` (language model) or ``output`` (classifier).
    """
    import keras
    from keras import layers

    spec.validate()
    if spec.is_classifier:
        return _build_classifier(spec, vocab_size)
    rnn = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[spec.cell]
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = layers.Embedding(vocab_size, spec.embedding, name="embedding")(ids)
    for k in range(spec.layers):
        if spec.dropout:
            x = layers.Dropout(spec.dropout, name=f"dropout_{k}")(x)
        x = rnn(spec.units, return_sequences=True, name=f"recurrent_{k}")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"dropout_{spec.layers}")(x)
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=f"{spec.cell}_{spec.level}_lm")


def _build_classifier(spec: ModelSpec, vocab_size: int):
    import keras
    from keras import layers

    rnn = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[spec.cell]
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = layers.Embedding(vocab_size + ID_OFFSET, spec.embedding, mask_zero=True, name="embedding")(
        ids
    )
    for k in range(spec.layers):
        if spec.dropout:
            x = layers.Dropout(spec.dropout, name=f"dropout_{k}")(x)
        last = k == spec.layers - 1
        x = rnn(spec.units, return_sequences=not last, name=f"recurrent_{k}")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"dropout_{spec.layers}")(x)
    activation = "sigmoid" if spec.n_outputs == 1 else "softmax"
    out = layers.Dense(spec.n_outputs, activation=activation, name="output")(x)
    return keras.Model(ids, out, name=f"{spec.cell}_{spec.level}_classifier")


def _optimizer(config: TrainConfig):
    import keras

    opt_cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
    return opt_cls[config.optimizer](learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def compile_model(model, config: TrainConfig) -> None:
    import keras

    model.compile(
        optimizer=_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, target) windows: target is input shifted by one token.

    Returns arrays of shape (n, seq_len); n = (len(ids) - 1) // seq_len.
    """
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return x, y


def derived_metrics(val_loss: float, level: str) -> dict:
    """bits per character (char) or perplexity (word) from a loss in nats per token."""
    if level == "char":
        return {"val_bpc": val_loss / math.log(2)}
    return {"val_perplexity": math.exp(min(val_loss, 50.0))}


def baseline_metrics(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int, level: str):
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
    """Number of validation tokens; ValueError when a split is too short for seq_len."""
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


def prepare(corpus: Corpus, spec: ModelSpec, config: TrainConfig, vocab: Vocab | None = None):
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


def _check_registry(
    spec: ModelSpec,
    config: TrainConfig,
    name: str,
    *,
    resume: bool,
    overwrite: bool,
    root,
    source: tuple[str, str, str],
) -> int | None:
    """The registry rules of both tasks: the epochs already done when resuming, else None.

    ``source`` = (meta.json key, sha1 of the training data, its name in messages).
    """
    key, sha1, what = source
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
    root=None,
) -> int:
    """Refuse bad settings before any work starts; return the first epoch to train.

    Raises ValueError (RegistryError for names) with a message for the user.
    """
    validate_name(name)
    spec.validate()
    config.validate()
    if not corpus.text.strip():
        raise ValueError("The corpus is empty: choose or paste a text first.")
    if config.embedding_file:
        from lib.embeddings import check_pretrained

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


def _progress_callback(hook: ProgressHook | None, stop: threading.Event | None, on_epoch):
    import keras

    class Progress(keras.callbacks.Callback):
        """Copies Keras logs into plain records; sets stop_training when asked to stop."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t0 = epoch, time.time()

        def on_train_batch_end(self, batch, logs=None):
            if hook is not None and (batch % 5 == 0 or batch + 1 == self.params["steps"]):
                hook(
                    {
                        "kind": "batch",
                        "epoch": self.epoch,
                        "step": batch + 1,
                        "steps": self.params["steps"],
                        "loss": float((logs or {}).get("loss", float("nan"))),
                        "elapsed": time.time() - self.t0,
                    }
                )
            if stop is not None and stop.is_set():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if stop is not None and stop.is_set():
                return  # an interrupted epoch is not kept
            record = on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})
            if hook is not None:
                hook({"kind": "epoch", "epoch": epoch, **record})

    return Progress()


@in_strategy_scope  # strategy=: a tf.distribute strategy (lib.distribute)
def train(
    spec: ModelSpec,
    corpus: Corpus,
    *,
    name: str,
    config: TrainConfig = TrainConfig(),
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    root=None,
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
        Called with plain dicts: ``{"kind": "batch", "epoch", "step", "steps", "loss",
        "elapsed"}`` during an epoch and ``{"kind": "epoch", "epoch", "logs", "metrics",
        "sample"}`` after it (``logs`` keeps Keras' key names: loss, val_loss, ...).
    stop : threading.Event, optional
        When set, training ends after the current batch; the last completed epoch stays
        saved, and ``resume=True`` continues from it.
    resume : bool
        Continue model ``name`` (same spec and corpus) up to ``config.epochs`` epochs.
    overwrite : bool
        Replace an existing model ``name`` (else an existing name is refused).
    strategy : tf.distribute.Strategy, optional
        Train under this strategy (lib.distribute.make_strategy): built, compiled and fitted
        inside its scope; ``config.batch_size`` is the global batch.

    Returns
    -------
    ModelBundle
        The saved model after the last completed epoch.
    """
    import keras

    from lib.generate import generate

    start_epoch = check_training(
        spec, corpus, config, name, resume=resume, overwrite=overwrite, root=root
    )
    history: list[dict] = []
    if resume:
        previous = load(name, root=root, compile=True)
        data = prepare(corpus, spec, config, vocab=previous.vocab)
        model = previous.model
        history = list(previous.meta.get("history", []))[:start_epoch]
        extra_meta = {
            **{k: previous.meta[k] for k in CARRIED_META if k in previous.meta},
            **(extra_meta or {}),
        }
    else:
        data = prepare(corpus, spec, config)
        if name in {m["name"] for m in list_models(root=root)}:
            delete(name, root=root)
        keras.utils.set_random_seed(config.seed)
        model = build(spec, len(data.vocab))
        if config.embedding_file:
            from lib.embeddings import init_embedding

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

    def on_epoch(epoch: int, logs: dict) -> dict:
        metrics = {
            "val_loss": logs["val_loss"],
            "val_accuracy": logs["val_accuracy"],
            **derived_metrics(logs["val_loss"], spec.level),
            **data.baseline,
        }
        history.append(
            {"epoch": epoch + 1, **logs, **derived_metrics(logs["val_loss"], spec.level)}
        )
        bundle._weights = None  # the weights changed
        sample = generate(
            bundle, seed_text, 200 if spec.level == "char" else 60, temperature=0.8, seed=0
        )
        sample_text = (
            "".join(sample.tokens[sample.n_seed :])
            if spec.tokenizer_mode != "words"
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

    callbacks = [_progress_callback(progress, stop, on_epoch)]
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.early_stopping)
        )
    model.fit(
        x,
        y,
        batch_size=config.batch_size,
        epochs=config.epochs,
        initial_epoch=start_epoch,
        validation_data=(vx, vy),
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    if not history:
        raise RuntimeError("training stopped before the first epoch ended; nothing was saved")
    if config.keep_best and bundle.meta["best_epoch"] != history[-1]["epoch"]:
        _restore_best(bundle, name, root, data.baseline, samples)
    return bundle


CARRIED_META = ("pretrained", "group", "experiment")
"""meta.json entries a resumed model keeps from its previous version."""


def best_epoch(history: list[dict]) -> int:
    """The epoch (1-based, as in ``history``) with the lowest val_loss; the first on ties."""
    return min(history, key=lambda h: h["val_loss"])["epoch"]


def _restore_best(
    bundle: ModelBundle, name: str, root, baseline: dict, samples: dict[int, str]
) -> None:
    """Save the best epoch's weights (from its checkpoint) as the model ``name``.

    ``epochs_done`` becomes that epoch, so ``resume=True`` continues from it; ``history``
    keeps every epoch trained, for the learning curves (``epochs_trained``).
    """
    best = bundle.meta["best_epoch"]
    path = dict(checkpoints(name, root=root))[best]
    with np.load(path, allow_pickle=False) as z:
        bundle.model.set_weights([z[f"arr_{i}"] for i in range(len(z.files))])
    bundle._weights = None
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


def accuracy_metric(n_classes: int):
    """The real classification accuracy of a classifier built by :func:`build`.

    ``BinaryAccuracy`` (threshold 0.5, so p <= 0.5 is class 0 as in seed 003's code) on the
    single sigmoid unit for 2 classes; ``SparseCategoricalAccuracy`` (argmax) on integer
    labels for more. Both are logged as ``accuracy`` / ``val_accuracy``.
    """
    import keras

    if n_classes == 2:
        return keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.5)
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def compile_classifier(model, config: TrainConfig, n_classes: int) -> None:
    """Binary cross-entropy (2 classes) or sparse categorical cross-entropy, real accuracy."""
    import keras

    loss = (
        keras.losses.BinaryCrossentropy()
        if n_classes == 2
        else keras.losses.SparseCategoricalCrossentropy()
    )
    model.compile(optimizer=_optimizer(config), loss=loss, metrics=[accuracy_metric(n_classes)])


def classifier_ids(
    vocab: Vocab, token_lists: list[list[str]], max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode texts for a classifier: first `max_len` tokens, padded at the end.

    Parameters
    ----------
    vocab : Vocab
    token_lists : list of n token lists
    max_len : int

    Returns
    -------
    ids : ndarray of shape (n, max_len), int32
        Vocabulary id + :data:`ID_OFFSET`; :data:`PAD_ID` (0) after each text's end.
    lengths : ndarray of shape (n,), int64
        Real (unpadded) length of each row, ``min(len(tokens), max_len)``.
    """
    n = len(token_lists)
    lengths = np.fromiter((min(len(t), max_len) for t in token_lists), np.int64, count=n)
    ids = np.full((n, max_len), PAD_ID, np.int32)
    flat = vocab.encode(tok for t in token_lists for tok in t[:max_len])
    ids[np.arange(max_len)[None, :] < lengths[:, None]] = flat + ID_OFFSET
    return ids, lengths


def _targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Keras targets: (n, 1) float32 for the sigmoid unit, (n,) int32 class indices else."""
    if n_classes == 2:
        return labels.astype(np.float32)[:, None]
    return labels.astype(np.int32)


@dataclass
class ClassifierSplits:
    """A labelled dataset tokenized and split for one classifier spec and config.

    ``train``, ``val`` and ``test`` index ``data`` (the texts left after dropping those
    with no tokens); ``tokens[i]`` are the tokens of ``data.texts[i]``.
    """

    data: object
    tokens: list[list[str]]
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    dropped_empty: int


def classifier_splits(data, spec: ModelSpec, config: TrainConfig) -> ClassifierSplits:
    """Tokenize `data`, drop texts without tokens, and split it train / validation / test.

    The test split is :func:`lib.datasets.split_indices` with ``config.test_fraction`` and
    ``config.seed``; the validation split takes ``config.val_fraction`` of what is left
    (seed + 1). Both stratified and deterministic, so the test texts of a saved model can
    be rebuilt from its dataset ref (:func:`lib.classify.held_out`).
    """
    from lib.datasets import DatasetError, split_indices

    tokenizer = spec.tokenizer
    tokens = [tokenizer.tokenize(t) for t in data.texts]
    keep = [i for i, t in enumerate(tokens) if t]
    if not keep:
        raise DatasetError(
            f"every text of {data.name!r} is empty after {spec.level}-level "
            "tokenization; check the text column"
        )
    dropped = len(tokens) - len(keep)
    if dropped:
        data = data.subset(keep, info={**data.info, "dropped_empty": dropped})
        tokens = [tokens[i] for i in keep]
    counts = data.class_counts
    rare = [f"{c!r} ({n})" for c, n in zip(data.classes, counts, strict=True) if n < 3]
    if rare:
        raise DatasetError(
            f"each class needs at least 3 texts (train, validation and test); "
            f"too few: {', '.join(rare)}"
        )
    rest, test = split_indices(data.labels, test_fraction=config.test_fraction, seed=config.seed)
    train, val = split_indices(
        data.labels[rest], test_fraction=config.val_fraction, seed=config.seed + 1
    )
    return ClassifierSplits(data, tokens, rest[train], rest[val], test, dropped)


def check_classifier_training(
    spec: ModelSpec,
    data,
    config: TrainConfig,
    name: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    root=None,
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
        from lib.embeddings import check_pretrained

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


@in_strategy_scope  # strategy=: a tf.distribute strategy (lib.distribute)
def train_classifier(
    spec: ModelSpec,
    data,
    *,
    name: str,
    config: TrainConfig = TrainConfig(),
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
    root=None,
    overwrite: bool = False,
    extra_meta: dict | None = None,
) -> ModelBundle:
    """Train a sequence classifier on a labelled dataset and save it as `name` every epoch.

    Parameters
    ----------
    spec : ModelSpec
        ``task="classifier"``; ``n_classes=None`` takes the dataset's class count.
    data : lib.datasets.LabelledData
        Split by :func:`classifier_splits` into train / validation / test.
    name, config, progress, stop, resume, overwrite, strategy
        As for :func:`train` (``config.max_tokens`` and ``spec.seq_len`` are not used;
        ``config.test_fraction`` is). Progress records are the same: ``{"kind": "batch",
        ...}`` and ``{"kind": "epoch", "epoch", "logs", "metrics", "sample"}``; for a classifier
        ``logs`` also holds ``test_loss`` and ``test_accuracy``, and ``sample`` is a
        one-line summary ("test accuracy 74.1% (majority class 50.0%)").

    Returns
    -------
    ModelBundle
        The saved model after the last completed epoch. meta.json holds ``metrics``
        (module docstring), ``classes``, ``class_counts`` (per split), ``dataset`` (ref,
        sha1, ...), ``split`` (sizes, fractions, seed, texts dropped as empty), ``history``.
    """
    import dataclasses

    import keras

    from lib.classify import class_probabilities, cross_entropy

    if spec.task == "classifier" and spec.n_classes is None:
        spec = dataclasses.replace(spec, n_classes=data.n_classes)
    start_epoch = check_classifier_training(
        spec, data, config, name, resume=resume, overwrite=overwrite, root=root
    )
    splits = classifier_splits(data, spec, config)
    kept, labels = splits.data, splits.data.labels
    history: list[dict] = []
    if resume:
        previous = load(name, root=root, compile=True)
        vocab, model = previous.vocab, previous.model
        history = list(previous.meta.get("history", []))[:start_epoch]
        extra_meta = {
            **{k: previous.meta[k] for k in CARRIED_META if k in previous.meta},
            **(extra_meta or {}),
        }
    else:
        vocab = Vocab.build(
            (tok for i in splits.train for tok in splits.tokens[i][: spec.max_len]),
            min_count=config.min_count,
            max_size=config.max_vocab,
        )
        if name in {m["name"] for m in list_models(root=root)}:
            delete(name, root=root)
        keras.utils.set_random_seed(config.seed)
        model = build(spec, len(vocab))
        if config.embedding_file:
            from lib.embeddings import init_embedding

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
        compile_classifier(model, config, spec.n_classes)
    x, _ = classifier_ids(vocab, splits.tokens, spec.max_len)
    parts = {k: getattr(splits, k) for k in ("train", "val", "test")}
    counts = {
        k: np.bincount(labels[idx], minlength=spec.n_classes).tolist() for k, idx in parts.items()
    }
    majority = int(np.argmax(counts["train"]))
    baseline = float(np.mean(labels[splits.test] == majority))
    bundle = ModelBundle(model=model, vocab=vocab, tokenizer=spec.tokenizer, spec=spec)

    def on_epoch(epoch: int, logs: dict) -> dict:
        out = model.predict(x[splits.test], batch_size=256, verbose=0)
        probs = class_probabilities(out, spec.n_classes)
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
        bundle._weights = None  # the weights changed
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

    callback = _progress_callback(progress, stop, on_epoch)
    model.fit(
        x[splits.train],
        _targets(labels[splits.train], spec.n_classes),
        batch_size=config.batch_size,
        epochs=config.epochs,
        initial_epoch=start_epoch,
        validation_data=(x[splits.val], _targets(labels[splits.val], spec.n_classes)),
        shuffle=True,
        callbacks=[callback],
        verbose=0,
    )
    if not history:
        raise RuntimeError("training stopped before the first epoch ended; nothing was saved")
    return bundle


def corpus_sha1(corpus: Corpus) -> str:
    import hashlib

    return hashlib.sha1(corpus.text.encode("utf-8")).hexdigest()


def corpus_meta(corpus: Corpus) -> dict:
    return {
        "name": corpus.name,
        "ref": corpus.ref,
        "source": corpus.source,
        "chars": len(corpus.text),
        "sha1": corpus_sha1(corpus),
    }


__all__ = [
    "ModelSpec",
    "TrainConfig",
    "ModelBundle",
    "RegistryError",
    "build",
    "train",
    "save",
    "check_training",
    "prepare",
    "train_classifier",
    "check_classifier_training",
    "classifier_splits",
    "classifier_ids",
    "accuracy_metric",
    "PAD_ID",
    "ID_OFFSET",
    "load",
    "list_models",
    "read_meta",
    "checkpoints",
    "delete",
    "model_dir",
]
