"""Model and training settings: :class:`ModelSpec`, :class:`TrainConfig` and their constants.

A leaf of the model layer (it imports only the tokenizer): everything that reads or
checks settings can import it without pulling in Keras.

Classifier input ids: id 0 is padding (:data:`PAD_ID`), masked by the Embedding; token
ids are the vocabulary's ids plus one (:data:`ID_OFFSET`), so ``<unk>`` (vocabulary id
0) is model id 1 and the vocabulary, its files and the language models stay as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

from lib.data.tokenizer import Level, Mode, Tokenizer

Cell = Literal["rnn", "lstm", "gru"]
"""Recurrent cell: Keras' SimpleRNN, LSTM or GRU."""
Task = Literal["lm", "classifier"]
"""What a model does: next-token language model or sequence classifier."""
Optimizer = Literal["adam", "rmsprop"]
"""Keras optimizer of :class:`TrainConfig`."""

CELLS: tuple[Cell, ...] = get_args(Cell)


LEVELS: tuple[Level, ...] = get_args(Level)


OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)


TASKS: tuple[Task, ...] = get_args(Task)


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

    cell: Cell = "lstm"
    level: Level = "char"
    tokenizer_mode: Mode = "keep-space"
    layers: int = 1
    units: int = 128
    embedding: int = 32
    dropout: float = 0.0
    seq_len: int = 100
    task: Task = "lm"
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
        """Whether this is a sequence classifier (``task == "classifier"``)."""
        return self.task == "classifier"

    @property
    def n_outputs(self) -> int:
        """Units of the output layer: 1 (sigmoid) for 2 classes, else n_classes (softmax).

        Raises
        ------
        TypeError
            For a language model (``n_classes`` is None).
        """
        if self.n_classes is None:
            raise TypeError("a language model has no n_classes: n_outputs is for classifiers")
        return 1 if self.n_classes == 2 else int(self.n_classes)

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer of this level and mode."""
        return Tokenizer(level=self.level, mode=self.tokenizer_mode)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description; see :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Rebuild a spec from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> str:
        """One line for people, e.g. ``"char LSTM 1x128"``."""
        base = f"{self.level} {self.cell.upper()} {self.layers}x{self.units}"
        if self.is_classifier:
            return f"{base} classifier ({self.n_classes} classes, max {self.max_len} tokens)"
        return base


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation settings and data split."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: Optimizer = "adam"
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
    """Word level: start the embedding from this GloVe or word2vec text file
    (lib.data.embeddings)."""
    freeze_embedding: bool = False
    """With ``embedding_file``: keep the embedding fixed (else it is fine-tuned)."""
    tensorboard: bool = False
    """Write TensorBoard event files of every epoch's metrics (keras.callbacks.TensorBoard)
    to ``<registry>/.logs/<name>/`` (lib.train.fit.training_logs)."""
    csv_log: bool = False
    """Write one CSV row of Keras' logs per epoch (keras.callbacks.CSVLogger) to
    ``<registry>/.logs/<name>/training.csv``; a resumed training appends to it."""

    def validate(self) -> TrainConfig:
        """Return self, or raise ValueError naming the bad setting and its value."""
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
                isinstance(self.tensorboard, bool) and isinstance(self.csv_log, bool),
                f"tensorboard and csv_log must be True or False, got {self.tensorboard!r} "
                f"and {self.csv_log!r}",
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
