"""Tokenizers, vocabularies, train/validation splits and the unigram baseline."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

WORD_PATTERN = r"\w+|[^\w]"
"""Words, plus every other single character (spaces and newlines included) as its own token."""
WORD_NO_SPACE_PATTERN = r"\w+|[^\w\s]"
"""Words and punctuation characters; whitespace is dropped."""

Level = Literal["char", "word"]
"""Tokenizer level: characters or words."""
Mode = Literal["keep-space", "words", "whitespace", "keras-tokenizer"]
"""Word-level tokenizer mode (see :class:`Tokenizer`)."""
Standardize = Literal["lower", "lower_and_strip_punctuation", "strip_punctuation", "str_lower"]
"""Text standardization before splitting, as Keras' ``TextVectorization`` names it."""

LEVELS: tuple[Level, ...] = get_args(Level)
MODES: tuple[Mode, ...] = get_args(Mode)
STANDARDIZE: tuple[Standardize, ...] = get_args(Standardize)
#: the standardizations Keras' ``TextVectorization`` takes by name ("str_lower" is the
#: legacy ``Tokenizer``'s ``lower=True``)
TEXT_VECTORIZATION_STANDARDIZE: tuple[Standardize, ...] = STANDARDIZE[:3]
WHITESPACE_PATTERN = r"[^ \t\n\v\f\r]+"
"""Runs of characters other than ASCII whitespace, as Keras' ``TextVectorization(split=
"whitespace")`` splits (``tf.strings.split``: a no-break space is not a separator); only
imported models use it."""
KERAS_TOKENIZER_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
"""The characters Keras' legacy ``Tokenizer`` turns into separators by default (``filters``)."""
_KERAS_TOKENIZER_TABLE = str.maketrans(dict.fromkeys(KERAS_TOKENIZER_FILTERS, " "))
_PATTERNS = {
    "keep-space": re.compile(WORD_PATTERN),
    "words": re.compile(WORD_NO_SPACE_PATTERN),
    "whitespace": re.compile(WHITESPACE_PATTERN),
}
KERAS_STRIP_PATTERN = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
"""The punctuation Keras' ``TextVectorization`` strips (its ``DEFAULT_STRIP_REGEX``)."""
_STRIP = re.compile(KERAS_STRIP_PATTERN)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def standardize_text(text: str, standardize: Standardize | None) -> str:
    """Standardize ``text`` as Keras' ``TextVectorization(standardize=...)`` does.

    Parameters
    ----------
    text : str
    standardize : {"lower", "lower_and_strip_punctuation", "strip_punctuation", "str_lower"} or None
        None returns ``text`` unchanged.

    Notes
    -----
    Keras (``keras/src/layers/preprocessing/text_vectorization.py``) applies
    ``tf.strings.lower`` (ASCII letters only: "É" stays "É") and then removes every
    character of :data:`KERAS_STRIP_PATTERN`; both are reproduced exactly here.
    ``"str_lower"`` is Python's ``str.lower`` (every cased character: "É" becomes "é"),
    what Keras' legacy ``Tokenizer(lower=True)`` applies to a character-level text.

    Examples
    --------
    >>> standardize_text("Élan, Vital!", "lower_and_strip_punctuation")
    'Élan vital'
    >>> standardize_text("Élan, Vital!", "str_lower")
    'élan, vital!'
    """
    if standardize is None:
        return text
    if standardize not in STANDARDIZE:
        raise ValueError(f"standardize must be one of {STANDARDIZE} or None, got {standardize!r}")
    if standardize == "str_lower":
        return text.lower()
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = _STRIP.sub("", text)
    return text


@dataclass(frozen=True)
class Tokenizer:
    """Split text into tokens and join them back.

    Parameters
    ----------
    level : {"char", "word"}
        Characters, or words matched by a regular expression.
    mode : {"keep-space", "words", "whitespace"}
        Word level only. ``"keep-space"`` (:data:`WORD_PATTERN`) keeps every character, so
        ``detokenize(tokenize(text)) == text``. ``"words"`` (:data:`WORD_NO_SPACE_PATTERN`) drops
        whitespace and detokenizes by joining with single spaces, which is lossy.
        ``"whitespace"`` (:data:`WHITESPACE_PATTERN`, Keras' whitespace split, for imported
        models) is lossy in the same way, and so is ``"keras-tokenizer"``: Keras' legacy
        ``Tokenizer`` with its defaults (``lower=True``, :data:`KERAS_TOKENIZER_FILTERS`
        replaced by spaces, ``split=" "``, empty words dropped), for imported models.
    standardize : {"lower", "lower_and_strip_punctuation", "strip_punctuation", \
"str_lower"}, optional
        Applied to the text before it is split (:func:`standardize_text`), for a model
        imported with a Keras ``TextVectorization`` that standardizes (or a character-level
        ``Tokenizer`` that lowers: ``"str_lower"``); tokens are then the
        standardized ones, so the round trip holds only for standardized text. None (models
        trained by RNN Lens) leaves the text as it is.
    """

    level: Level = "char"
    mode: Mode = "keep-space"
    standardize: Standardize | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.standardize is not None and self.standardize not in STANDARDIZE:
            raise ValueError(
                f"standardize must be one of {STANDARDIZE} or None, got {self.standardize!r}"
            )

    def tokenize(self, text: str) -> list[str]:
        """Split `text` into tokens (standardized first when :attr:`standardize` is set)."""
        text = standardize_text(text, self.standardize)
        if self.level == "char":
            return list(text)
        if self.mode == "keras-tokenizer":  # keras.preprocessing.text.text_to_word_sequence
            return [t for t in text.lower().translate(_KERAS_TOKENIZER_TABLE).split(" ") if t]
        return _PATTERNS[self.mode].findall(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Join tokens into text.

        The exact inverse of :meth:`tokenize`, but at word level in the ``"words"`` and
        ``"whitespace"`` and ``"keras-tokenizer"`` modes, which join with single spaces.
        """
        lossy = self.level == "word" and self.mode != "keep-space"
        return (" " if lossy else "").join(tokens)

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-serialisable description; see :meth:`from_dict`.

        ``standardize`` is written only when set, so the vocab.json of a model trained by
        RNN Lens is unchanged.
        """
        d: dict[str, str] = {"level": self.level, "mode": self.mode}
        if self.standardize is not None:
            d["standardize"] = self.standardize
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from :meth:`to_dict` output."""
        return cls(**d)


class Vocab:
    """A token ↔ id mapping with training counts; :attr:`UNK` is always id 0.

    Parameters
    ----------
    tokens : sequence of str
        Tokens by id, starting with :attr:`UNK`, without duplicates.
    counts : sequence of int
        Training count per id (the ``UNK`` count is that of all tokens mapped to it).
    """

    UNK = "<unk>"

    def __init__(self, tokens: Sequence[str], counts: Sequence[int]) -> None:
        if not tokens or tokens[0] != self.UNK:
            raise ValueError(f"tokens must start with {self.UNK!r}, got {list(tokens[:1])!r}")
        if len(tokens) != len(counts):
            raise ValueError(
                f"tokens and counts must have the same length, got {len(tokens)} and {len(counts)}"
            )
        self._tokens = list(tokens)
        self._index = {token: i for i, token in enumerate(self._tokens)}
        if len(self._index) != len(self._tokens):
            raise ValueError(
                f"tokens must be unique, got {len(self._tokens) - len(self._index)} duplicates"
            )
        self._counts = np.array(counts, dtype=np.int64)
        self._counts.flags.writeable = False

    @classmethod
    def build(
        cls, tokens: Iterable[str], *, min_count: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Build a vocabulary from training tokens.

        Tokens seen at least `min_count` times are kept, most frequent first (ties in token
        order, so the result is deterministic), and truncated to `max_size` entries including
        ``UNK``. Dropped tokens count towards ``UNK``.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be >= 1 or None, got {max_size!r}")
        counter = Counter(tokens)
        unk_count = counter.pop(cls.UNK, 0)
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        kept = [item for item in ranked if item[1] >= min_count]
        if max_size is not None:
            kept = kept[: max_size - 1]
        unk_count += sum(counter.values()) - sum(count for _, count in kept)
        return cls([cls.UNK] + [t for t, _ in kept], [unk_count] + [c for _, c in kept])

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Map tokens to an int32 array of ids; unknown tokens become 0."""
        return np.fromiter((self._index.get(t, 0) for t in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens."""
        return [self._tokens[i] for i in ids]

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    @property
    def tokens(self) -> list[str]:
        """Tokens by id (a copy)."""
        return list(self._tokens)

    @property
    def counts(self) -> np.ndarray:
        """Training count per id (read-only)."""
        return self._counts

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description; see :meth:`from_dict`."""
        return {"tokens": list(self._tokens), "counts": self._counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """Rebuild a vocabulary from :meth:`to_dict` output."""
        return cls(d["tokens"], d["counts"])


def split_ids(
    ids: Sequence[int] | np.ndarray, *, val_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Split a token-id sequence into contiguous train and validation parts.

    The last `val_fraction` of the sequence (rounded to whole tokens) is validation, so the
    split is deterministic.

    Raises
    ------
    ValueError
        If `val_fraction` is not in (0, 1) or either part would be empty.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    ids = np.asarray(ids)
    n_val = round(len(ids) * val_fraction)
    if not 0 < n_val < len(ids):
        raise ValueError(
            f"splitting {len(ids)} tokens with val_fraction={val_fraction} leaves an empty "
            "part; use more text or another val_fraction"
        )
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


def unigram_cross_entropy(
    train_ids: Sequence[int] | np.ndarray, val_ids: Sequence[int] | np.ndarray, vocab_size: int
) -> float:
    """Cross-entropy of `val_ids` under the add-one-smoothed unigram model of `train_ids`.

    Returns
    -------
    float
        Nats per token: the "unigram baseline". Bits per token are ``value / ln 2``,
        perplexity is ``exp(value)``.

    Raises
    ------
    ValueError
        If `val_ids` is empty or an id is outside ``[0, vocab_size)``.
    """
    train_ids, val_ids = np.asarray(train_ids, dtype=np.int64), np.asarray(val_ids, dtype=np.int64)
    if val_ids.size == 0:
        raise ValueError("val_ids must not be empty, got 0 ids")
    for ids in (train_ids, val_ids):
        if ids.size and not (ids.min() >= 0 and ids.max() < vocab_size):
            raise ValueError(f"ids must be in [0, {vocab_size}), got [{ids.min()}, {ids.max()}]")
    counts = np.bincount(train_ids, minlength=vocab_size)
    log_probs = np.log(counts + 1.0) - math.log(train_ids.size + vocab_size)
    return float(-log_probs[val_ids].mean())
