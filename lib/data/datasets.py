r"""Labelled text datasets for sequence classifiers: NLTK, Keras, uploaded CSV; stratified splits.

Every dataset is a :class:`LabelledData` whose ``ref`` lets :func:`load_dataset` rebuild it:

- ``"nltk:sentence_polarity"``: 10,662 one-sentence movie-review snippets, neg/pos
  (Pang & Lee 2005). Each text is the sentence's tokens joined by spaces (lower case).
- ``"nltk:movie_reviews"``: 2,000 full movie reviews, neg/pos (Pang & Lee 2004); the
  review's lines joined by spaces.
- ``"nltk:brown"`` or ``"nltk:brown@news,romance,..."``: Brown corpus genres. **Unit: one
  paragraph** (its sentences joined by spaces, ``\`\``/``''`` quotes made ``"``), labelled
  by the genre of its file; paragraphs under :data:`BROWN_MIN_WORDS` words (mostly lines of
  dialogue) are dropped. Paragraphs rather than sentences because a single short sentence
  rarely carries a genre; rather than whole files because there are only 500 files (6 to 80
  per genre). Default genres: :data:`BROWN_DEFAULT_CATEGORIES`, five distinct styles with
  imbalanced counts, like seed 003's Reuters subset.
- ``"keras:imdb"``: Keras' IMDB reviews (25k train + 25k test merged; our own split is
  used), neg/pos. ``"keras:reuters"`` or ``"keras:reuters@K"``: Keras' Reuters newswires
  restricted to the K (default 5) most frequent topics, classes in ascending frequency as
  in seed 003 (grain, crude, money-fx, acq, earn). Both need a download on first use; the
  integer sequences are decoded back to words with ``get_word_index`` so that our own
  tokenizer and vocabulary apply (seed 003 §2.1: index_from=3; ids 0-2 are pad/start/oov;
  IMDB's ``br`` tokens, leftover HTML line breaks, are removed).
- ``"csv:NAME"``: an uploaded CSV (:func:`from_csv_bytes`); not stored, so it cannot be
  rebuilt from its ref.

A ref may end in ``?limit=N&seed=S`` (see :func:`subsample`).

All user-facing failures raise :class:`DatasetError` with a one-line message naming the
fix.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import hashlib
import io
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lib.data.corpora import MAX_BYTES, CorpusError, corpus_from_bytes, with_nltk_data

NLTK_DATASETS = ("sentence_polarity", "movie_reviews", "brown")
KERAS_DATASETS = ("imdb", "reuters")
BROWN_DEFAULT_CATEGORIES = ("news", "romance", "government", "hobbies", "religion")
BROWN_MIN_WORDS = 5
REUTERS_DEFAULT_TOP = 5
MAX_CLASSES = 100
KERAS_HOST = ("storage.googleapis.com", 443)

TEXT_COLUMN_NAMES = (
    "text",
    "review",
    "sentence",
    "document",
    "content",
    "body",
    "comment",
    "message",
    "tweet",
)
LABEL_COLUMN_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "sentiment",
    "target",
    "y",
    "polarity",
    "topic",
    "genre",
)


class DatasetError(CorpusError):
    """A labelled dataset could not be loaded or used; the message says why and how to fix it.

    A subclass of :class:`lib.data.corpora.CorpusError`, hence of ``ValueError``.
    """


@dataclass(frozen=True, eq=False)
class LabelledData:
    """Texts with one class label each (compare two datasets by their :attr:`sha1`).

    Parameters
    ----------
    name : str
        Human-readable name.
    texts : list of str
        n texts.
    labels : ndarray (or sequence) of str or int, length n
        Class names (each in `classes`) or class indices in ``[0, len(classes))``. Stored
        as an int64 array of class indices.
    classes : list of str
        K >= 2 class names; index k is class k.
    source : str
        ``"nltk"``, ``"keras"``, ``"csv"`` or ``"memory"``.
    ref : str
        Rebuilds the dataset with :func:`load_dataset` (see the module docstring).
    info : dict
        Notes from loading (e.g. ``{"dropped_rows": 3}`` for a CSV).
    """

    name: str
    texts: list[str]
    labels: np.ndarray
    classes: list[str]
    source: str = "memory"
    ref: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        texts = list(self.texts)
        classes = [str(c) for c in self.classes]
        if len(classes) < 2:
            raise DatasetError(f"a classifier needs at least 2 classes, got {classes!r}")
        if len(set(classes)) != len(classes):
            raise DatasetError(f"class names must be unique, got {classes!r}")
        labels = _label_indices(self.labels, classes)
        if len(labels) != len(texts):
            raise DatasetError(f"got {len(texts)} texts but {len(labels)} labels")
        labels.flags.writeable = False
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{c}: {n}" for c, n in zip(self.classes, self.class_counts, strict=True)
        )
        return f"LabelledData({self.name!r}, n={len(self)}, ref={self.ref!r}, {{{counts}}})"

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    @property
    def class_counts(self) -> np.ndarray:
        """Number of texts per class, shape (K,)."""
        return np.bincount(self.labels, minlength=len(self.classes))

    @property
    def label_names(self) -> list[str]:
        """The class name of every text, length n."""
        return [self.classes[k] for k in self.labels]

    @cached_property
    def sha1(self) -> str:
        """Fingerprint of the texts, labels and classes (checks that a split is reproducible)."""
        h = hashlib.sha1()
        for text in self.texts:
            h.update(text.encode("utf-8"))
            h.update(b"\0")
        h.update(self.labels.astype("<i8").tobytes())
        h.update("\0".join(self.classes).encode("utf-8"))
        return h.hexdigest()

    def subset(
        self,
        indices: Sequence[int] | np.ndarray,
        *,
        ref: str | None = None,
        info: dict | None = None,
    ) -> LabelledData:
        """Return the texts at `indices` (in that order), with the same classes."""
        idx = np.asarray(indices, dtype=np.int64)
        return LabelledData(
            self.name,
            [self.texts[i] for i in idx],
            self.labels[idx],
            self.classes,
            self.source,
            self.ref if ref is None else ref,
            dict(self.info if info is None else info),
        )

    def meta(self) -> dict:
        """JSON-serialisable description (for a model's meta.json)."""
        return {
            "name": self.name,
            "ref": self.ref,
            "source": self.source,
            "n": len(self),
            "sha1": self.sha1,
            "classes": list(self.classes),
            "class_counts": self.class_counts.tolist(),
            "info": dict(self.info),
        }


def _label_indices(
    labels: Iterable[str] | Iterable[int] | np.ndarray, classes: list[str]
) -> np.ndarray:
    values = list(labels) if not isinstance(labels, np.ndarray) else labels
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DatasetError(f"labels must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.dtype.kind in "iu":
        bad = (arr < 0) | (arr >= len(classes))
        if bad.any():
            raise DatasetError(
                f"label indices must be in [0, {len(classes)}), got {arr[bad][:5].tolist()}"
            )
        return arr.astype(np.int64)
    index = {c: k for k, c in enumerate(classes)}
    out = np.fromiter((index.get(str(v), -1) for v in arr), dtype=np.int64, count=len(arr))
    if (out < 0).any():
        unknown = sorted({str(v) for v, k in zip(arr, out, strict=True) if k < 0})
        raise DatasetError(f"labels {unknown[:5]} are not among the classes {classes}")
    return out


# --- splits ---------------------------------------------------------------------------------


def split_indices(
    labels: Sequence[int] | np.ndarray, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of item indices into train and test.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Class index of every item.
    test_fraction : float, default 0.2
        Share of each class that goes to test.
    seed : int, default 0
        Seeds the shuffle; the same labels, fraction and seed give the same split.

    Returns
    -------
    train, test : ndarray of int64
        Sorted item indices; together a partition of ``range(n)``.

    Notes
    -----
    Class c with n_c items gets ``round(n_c * test_fraction)`` test items, clipped to
    ``[1, n_c - 1]`` when n_c >= 2 (each class on both sides); a class with one item
    stays in train. Within a class the test items are a random choice (one uniform key per
    item from ``np.random.default_rng(seed)``, so the split does not depend on the class
    order). Written out instead of sklearn's ``train_test_split`` so that a saved model's
    test set cannot change with the sklearn version.
    """
    if not 0 < test_fraction < 1:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    y = np.asarray(labels, dtype=np.int64)
    if y.ndim != 1:
        raise DatasetError(f"labels must be 1-D, got shape {y.shape}")
    n = len(y)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if y.min() < 0:
        raise DatasetError(f"labels must be class indices >= 0, got {y.min()}")
    counts = np.bincount(y)
    n_test = np.rint(counts * test_fraction).astype(np.int64)
    n_test = np.where(counts >= 2, np.clip(n_test, 1, np.maximum(counts - 1, 1)), 0)
    keys = np.random.default_rng(seed).random(n)
    order = np.lexsort((keys, y))  # grouped by class, random within a class
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - starts[y[order]]
    is_test = rank < n_test[y]
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def split(
    data: LabelledData, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[LabelledData, LabelledData]:
    """Deterministic stratified train/test split of `data`; see :func:`split_indices`.

    Raises
    ------
    DatasetError
        If a class has fewer than 2 texts (it could not appear on both sides).
    """
    counts = data.class_counts
    rare = [f"{c!r} ({n})" for c, n in zip(data.classes, counts, strict=True) if n < 2]
    if rare:
        raise DatasetError(
            f"each class needs at least 2 texts for a train/test split; too few: "
            f"{', '.join(rare)}. Add texts or drop those classes."
        )
    train, test = split_indices(data.labels, test_fraction=test_fraction, seed=seed)
    return data.subset(train), data.subset(test)


def subsample(data: LabelledData, n: int, *, seed: int = 0) -> LabelledData:
    """Draw a stratified random sample of `n` texts (kept in their original order).

    The ref becomes ``"<ref>?limit=<n>&seed=<seed>"``, which :func:`load_dataset` rebuilds.
    """
    if n < data.n_classes:
        raise DatasetError(
            f"a sample needs at least one text per class ({data.n_classes}), got n={n}"
        )
    if n >= len(data):
        return data
    _, keep = split_indices(data.labels, test_fraction=n / len(data), seed=seed)
    base = data.ref.split("?", 1)[0]
    return data.subset(
        keep, ref=f"{base}?limit={n}&seed={seed}", info={**data.info, "sampled_from": len(data)}
    )


# --- NLTK -----------------------------------------------------------------------------------


def _join_words(words: Sequence[str]) -> str:
    return " ".join('"' if w in ("``", "''") else w for w in words)


@functools.lru_cache(maxsize=8)
def _read_nltk_dataset(
    name: str, categories: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(texts, labels) of an NLTK dataset; LookupError when its data is missing."""
    import nltk

    reader = getattr(nltk.corpus, name)
    texts: list[str] = []
    labels: list[str] = []
    if name == "sentence_polarity":
        for cat in categories:
            sents = reader.sents(categories=cat)
            texts += [" ".join(s) for s in sents]
            labels += [cat] * len(sents)
    elif name == "movie_reviews":
        for cat in categories:
            for fileid in reader.fileids(categories=cat):
                texts.append(" ".join(reader.raw(fileid).split()))
                labels.append(cat)
    else:  # brown: one paragraph per text, labelled by its file's genre
        for cat in categories:
            for para in reader.paras(categories=cat):
                words = [w for sent in para for w in sent]
                if len(words) >= BROWN_MIN_WORDS:
                    texts.append(_join_words(words))
                    labels.append(cat)
    return tuple(texts), tuple(labels)


def _nltk_categories(name: str, download: bool) -> list[str]:
    import nltk

    return with_nltk_data(
        name,
        lambda: list(getattr(nltk.corpus, name).categories()),
        download=download,
        error=DatasetError,
    )


def nltk_dataset(
    name: str, *, categories: Sequence[str] | None = None, download: bool = True
) -> LabelledData:
    """Load a labelled NLTK corpus, downloading it if it is missing.

    Parameters
    ----------
    name : str
        One of :data:`NLTK_DATASETS`; see the module docstring for the unit of each.
    categories : sequence of str, optional
        Brown only: the genres to use (at least 2). Default
        :data:`BROWN_DEFAULT_CATEGORIES`. The others always use neg and pos.
    download : bool, default True
        Try ``nltk.download`` when the data is missing (as :func:`lib.data.corpora.nltk_corpus`).

    Returns
    -------
    LabelledData
        Classes in the given (Brown) or alphabetical (neg, pos) order.

    Raises
    ------
    DatasetError
        If `name` or a category is unknown, or the data is missing and could not be
        downloaded.
    """
    if name not in NLTK_DATASETS:
        raise DatasetError(f"NLTK dataset must be one of {list(NLTK_DATASETS)}, got {name!r}")
    available = _nltk_categories(name, download)
    if name != "brown":
        if categories is not None:
            raise DatasetError(
                f"{name} always has the classes {available}; categories apply to brown only"
            )
        chosen = tuple(available)
    else:
        chosen = tuple(BROWN_DEFAULT_CATEGORIES if categories is None else categories)
        unknown = [c for c in chosen if c not in available]
        if unknown:
            raise DatasetError(f"unknown Brown categories {unknown}; choose from {available}")
        if len(set(chosen)) < 2 or len(set(chosen)) != len(chosen):
            raise DatasetError(f"choose at least 2 different Brown categories, got {list(chosen)}")
    texts, labels = with_nltk_data(
        name, lambda: _read_nltk_dataset(name, chosen), download=download, error=DatasetError
    )
    default = name != "brown" or chosen == BROWN_DEFAULT_CATEGORIES
    ref = f"nltk:{name}" if default else f"nltk:{name}@{','.join(chosen)}"
    title = {
        "sentence_polarity": "Sentence polarity",
        "movie_reviews": "Movie reviews",
        "brown": "Brown genres",
    }[name]
    return LabelledData(title, list(texts), np.asarray(labels), list(chosen), "nltk", ref)


# --- Keras ----------------------------------------------------------------------------------


def _keras_files(name: str) -> list[Path]:
    """Where ``keras.utils.get_file`` caches a dataset: $KERAS_HOME or ~/.keras, /datasets."""
    try:
        from keras.src.backend.config import keras_home  # no public API for this

        home = keras_home()
    except ImportError:
        home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    base = Path(os.path.expanduser(home)) / "datasets"
    return [base / f"{name}.npz", base / f"{name}_word_index.json"]


def _keras_reachable(timeout: float = 5.0) -> str | None:
    """None if the Keras dataset host answers within `timeout` seconds, else the reason."""
    try:
        with socket.create_connection(KERAS_HOST, timeout=timeout):
            return None
    except OSError as err:
        return str(err) or type(err).__name__


def _keras_load(name: str) -> tuple[Any, dict[str, int]]:
    """Load ((x_train, y_train), (x_test, y_test)) and the word index of a Keras dataset."""
    import keras

    module = getattr(keras.datasets, name)
    return module.load_data(num_words=None), module.get_word_index()


def _decode(
    sequences: Iterable[Iterable[int]],
    word_index: dict[str, int],
    *,
    index_from: int = 3,
    drop: frozenset[str] = frozenset(),
) -> list[str]:
    """Keras integer sequences back to space-joined words (ids < index_from + 1 dropped)."""
    lookup = {i + index_from: w for w, i in word_index.items()}
    return [
        " ".join(w for w in (lookup.get(int(i)) for i in seq) if w is not None and w not in drop)
        for seq in sequences
    ]


def keras_dataset(name: str, *, top_classes: int = REUTERS_DEFAULT_TOP) -> LabelledData:
    """Load Keras' IMDB or Reuters dataset as texts (downloaded on first use).

    Parameters
    ----------
    name : {"imdb", "reuters"}
    top_classes : int, default 5
        Reuters only: keep the newswires of the most frequent topics (in the Keras training
        part), classes in ascending frequency (seed 003 §2.1).

    Returns
    -------
    LabelledData
        Train and test parts merged, in Keras' order; split it with :func:`split`.

    Raises
    ------
    DatasetError
        If the files are not cached in ``~/.keras/datasets`` and cannot be downloaded (this
        fails within seconds on an offline machine), or `name` is unknown.
    """
    if name not in KERAS_DATASETS:
        raise DatasetError(f"Keras dataset must be one of {list(KERAS_DATASETS)}, got {name!r}")
    if not 2 <= top_classes <= 46:
        raise DatasetError(f"top_classes must be 2 to 46, got {top_classes}")
    files = _keras_files(name)
    fix = (
        f'run `python -c "import keras; keras.datasets.{name}.load_data(); '
        f'keras.datasets.{name}.get_word_index()"` on a machine with network and copy '
        f"{', '.join(f.name for f in files)} into {files[0].parent} here, or use an NLTK "
        "dataset or a CSV upload"
    )
    if not all(f.is_file() for f in files):
        reason = _keras_reachable()
        if reason is not None:
            raise DatasetError(
                f"Keras dataset {name!r} is not cached and its server cannot be "
                f"reached ({reason}); {fix}"
            )
    try:
        ((x_train, y_train), (x_test, y_test)), word_index = _keras_load(name)
    except Exception as err:  # keras raises bare Exception for failed downloads
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise DatasetError(f"Keras dataset {name!r} could not be loaded ({first}); {fix}") from None
    seqs = list(x_train) + list(x_test)
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)]).astype(np.int64)
    if name == "imdb":
        texts = _decode(seqs, word_index, drop=frozenset({"br"}))
        return LabelledData("IMDB reviews", texts, y, ["neg", "pos"], "keras", "keras:imdb")
    import keras

    names = list(keras.datasets.reuters.get_label_names())
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=len(names))
    top = np.argsort(counts, kind="stable")[-top_classes:]  # ascending frequency
    keep = np.flatnonzero(np.isin(y, top))
    remap = np.full(len(names), -1, np.int64)
    remap[top] = np.arange(top_classes)
    texts = _decode([seqs[i] for i in keep], word_index)
    ref = "keras:reuters" if top_classes == REUTERS_DEFAULT_TOP else f"keras:reuters@{top_classes}"
    return LabelledData(
        f"Reuters newswires ({top_classes} topics)",
        texts,
        remap[y[keep]],
        [names[k] for k in top],
        "keras",
        ref,
    )


# --- CSV ------------------------------------------------------------------------------------


def _pick_column(
    header: list[str],
    wanted: str | None,
    names: tuple[str, ...],
    role: str,
    other: str | None = None,
) -> str:
    found = ", ".join(repr(h) for h in header)
    if wanted is not None:
        if wanted not in header:
            raise DatasetError(f"there is no {role} column {wanted!r}; the columns are {found}")
        return wanted
    by_lower = {h.strip().lower(): h for h in header}
    for candidate in names:
        if candidate in by_lower and by_lower[candidate] != other:
            return by_lower[candidate]
    raise DatasetError(
        f"no {role} column found (looked for {', '.join(names)}); the columns "
        f"are {found}: name the {role} column"
    )


def _csv_rows(data: bytes, name: str, max_bytes: int) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) of a CSV file with a header row; blank rows dropped."""
    try:
        text = corpus_from_bytes(data, name=name, max_bytes=max_bytes).text
    except CorpusError as err:
        raise DatasetError(str(err)) from None
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=header_line.count)  # the header's commonest; "," on ties
    if csv.field_size_limit() < max_bytes:
        csv.field_size_limit(max_bytes)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as err:
        raise DatasetError(
            f"file {name!r} is not a valid CSV file ({err}); save it as CSV with a header row"
        ) from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DatasetError(f"file {name!r} has no rows; upload a CSV file with a header row")
    return [h.strip().removeprefix("\ufeff") for h in rows[0]], rows[1:]


def from_csv_bytes(
    data: bytes,
    *,
    name: str = "upload.csv",
    text_column: str | None = None,
    label_column: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> LabelledData:
    """Make a labelled dataset from an uploaded CSV file with a header row.

    Parameters
    ----------
    data : bytes
        UTF-8 file contents (a byte-order mark is allowed). The delimiter is the most
        frequent of ``,``, ``;``, tab and ``|`` in the header line (``,`` if none).
    name : str
        File name, for messages and the ref ``"csv:NAME"``.
    text_column, label_column : str, optional
        Column names. By default the first header (case-insensitive) among
        :data:`TEXT_COLUMN_NAMES` / :data:`LABEL_COLUMN_NAMES`.
    max_bytes : int, default 20 MiB

    Returns
    -------
    LabelledData
        Classes sorted (numerically when every label is a number). Rows with an empty text
        or label are dropped; ``info["dropped_rows"]`` says how many.

    Raises
    ------
    DatasetError
        If the file is too large, binary, not UTF-8, empty or has no header; a column is
        missing (the message lists the columns found); no row is left; all rows have one
        class; or the label column has more than :data:`MAX_CLASSES` values.
    """
    header, body = _csv_rows(data, name, max_bytes)
    text_col = _pick_column(header, text_column, TEXT_COLUMN_NAMES, "text")
    label_col = _pick_column(header, label_column, LABEL_COLUMN_NAMES, "label", other=text_col)
    if text_col == label_col:
        raise DatasetError(f"the text and label columns must differ, both are {text_col!r}")
    ti, li = header.index(text_col), header.index(label_col)
    texts = [r[ti].strip() if ti < len(r) else "" for r in body]
    labels = [r[li].strip() if li < len(r) else "" for r in body]
    keep = [k for k in range(len(body)) if texts[k] and labels[k]]
    dropped = len(body) - len(keep)
    if not keep:
        raise DatasetError(
            f"file {name!r} has no row with both a {text_col!r} text and a "
            f"{label_col!r} label ({len(body)} data rows, all incomplete)"
        )
    texts = [texts[k] for k in keep]
    labels = [labels[k] for k in keep]
    values = sorted(set(labels))
    with contextlib.suppress(ValueError):  # numbers sort as numbers
        values = sorted(values, key=float)
    if len(values) < 2:
        raise DatasetError(
            f"every row of {label_col!r} has the label {values[0]!r}: a "
            "classifier needs at least 2 classes"
        )
    if len(values) > MAX_CLASSES:
        raise DatasetError(
            f"column {label_col!r} has {len(values)} different values (at most "
            f"{MAX_CLASSES} classes); is it the label column? The columns are "
            f"{', '.join(repr(h) for h in header)}"
        )
    info = {"dropped_rows": dropped, "text_column": text_col, "label_column": label_col}
    return LabelledData(name, texts, np.asarray(labels), values, "csv", f"csv:{name}", info)


# --- a user's own sentences for a trained classifier ------------------------------------------

MAX_SENTENCES = 2000
"""Sentences at most in one :class:`Sentences` (the Hidden States page's largest test set)."""
MAX_SENTENCE_CHARS = 1_000_000
"""Default bound on the characters of pasted sentences (the server passes its own limit)."""


@dataclass(frozen=True, eq=False)
class Sentences:
    """Texts a user gives a trained classifier, each with a class index or -1 (no label).

    Parameters
    ----------
    texts : list of str, length n
    labels : ndarray of int64, shape (n,)
        Index into the model's classes, or -1 where the user gave no label.
    source : str
        ``"pasted"`` or ``"csv:NAME"``.
    lines : list of int, length n
        The line (pasted) or data row (CSV, 1 = first row after the header) of each text.
    """

    texts: list[str]
    labels: np.ndarray
    source: str = "pasted"
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_labelled(self) -> int:
        """How many texts have a label."""
        return int((self.labels >= 0).sum())

    @cached_property
    def sha1(self) -> str:
        """Fingerprint of the texts and labels (the cache key of their recording)."""
        h = hashlib.sha1()
        for text in self.texts:
            h.update(text.encode("utf-8"))
            h.update(b"\0")
        h.update(np.asarray(self.labels, "<i8").tobytes())
        return h.hexdigest()

    def subset(self, indices: Sequence[int]) -> Sentences:
        """Return the texts at ``indices``, in that order."""
        idx = list(indices)
        return Sentences(
            [self.texts[i] for i in idx],
            np.asarray(self.labels, np.int64)[idx] if idx else np.zeros(0, np.int64),
            self.source,
            [self.lines[i] for i in idx] if self.lines else [],
        )


def class_index(value: str, classes: Sequence[str]) -> int | None:
    """Return the class ``value`` names, or None when it names none.

    A class name (exactly, after stripping spaces), else an index ``0 .. K-1``.
    """
    value = value.strip()
    if value in classes:
        return list(classes).index(value)
    # (a digit string is bounded before int(): Python refuses to convert > 4,300 digits)
    if value.isascii() and value.isdigit() and len(value) <= 6 and int(value) < len(classes):
        return int(value)
    return None


def _bad_label(label: str, where: str, classes: Sequence[str]) -> DatasetError:
    names = ", ".join(repr(c) for c in classes)
    return DatasetError(
        f"{where}: {label[:40]!r} is not a class of the model; labels are its class names "
        f"({names}) or indices 0 to {len(classes) - 1}"
    )


def _looks_like_a_label(head: str, classes: Sequence[str]) -> bool:
    """Say whether ``head`` is a number or close to a class name: a mistyped label."""
    if head.isascii() and head.isdigit():
        return True
    return bool(difflib.get_close_matches(head, list(classes), n=1, cutoff=0.75))


def _checked_count(n: int, what: str) -> None:
    if n == 0:
        raise DatasetError(f"{what} has no sentence; write one sentence a line")
    if n > MAX_SENTENCES:
        raise DatasetError(f"{what} has {n:,} sentences; at most {MAX_SENTENCES:,} are recorded")


def parse_labelled_lines(
    text: str, classes: Sequence[str], *, max_chars: int = MAX_SENTENCE_CHARS
) -> Sentences:
    """Read pasted sentences, one a line, each with an optional label.

    Parameters
    ----------
    text : str
        Lines ``label<TAB>sentence``, ``label,sentence`` or just ``sentence``; blank lines
        are skipped.
    classes : sequence of K str
        The model's class names; a label is a name or an index 0 .. K-1 (:func:`class_index`).
    max_chars : int, default :data:`MAX_SENTENCE_CHARS`

    Returns
    -------
    Sentences
        ``lines`` are 1-based line numbers of ``text``.

    Raises
    ------
    DatasetError
        Over ``max_chars`` or :data:`MAX_SENTENCES`; no sentence; a label that is not a
        class (the message names the label and its line).

    Notes
    -----
    A tab always ends a label (an empty one: no label). Without a tab, the text before the
    first comma is a label when it is a class; otherwise the whole line is an unlabelled
    sentence ("Well, it was fine."), except that a number or a near miss of a class name
    before the comma (``difflib``, ratio >= 0.75: "poss" for "pos") is taken as a
    mistyped label and refused.
    """
    if len(text) > max_chars:
        raise DatasetError(
            f"the pasted text has {len(text):,} characters; at most {max_chars:,} are read "
            "(max_corpus_chars)"
        )
    rows: list[tuple[int, str | None, str, bool]] = []  # line, label, sentence, via a tab
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if "\t" in raw:
            label, _, sentence = raw.partition("\t")
            rows.append((number, label.strip() or None, sentence.strip(), True))
        elif "," in line:
            label, _, sentence = line.partition(",")
            if class_index(label, classes) is not None:
                rows.append((number, label.strip(), sentence.strip(), False))
            else:
                rows.append((number, None, line, False))
        else:
            rows.append((number, None, line, False))
    _checked_count(len(rows), "the pasted text")
    texts, labels, lines = [], [], []
    for number, given, sentence, tabbed in rows:
        if given is None:
            k = -1
            head = sentence.partition(",")[0].strip() if not tabbed and "," in sentence else ""
            if head and _looks_like_a_label(head, classes):
                raise DatasetError(
                    str(_bad_label(head, f"line {number}", classes))
                    + "; for a sentence without a label, put a tab in front of it"
                )
        else:
            found = class_index(given, classes)
            if found is None:
                raise _bad_label(given, f"line {number}", classes)
            k = found
        if not sentence:
            raise DatasetError(f"line {number} has a label but no sentence")
        texts.append(sentence)
        labels.append(k)
        lines.append(number)
    return Sentences(texts, np.asarray(labels, np.int64), "pasted", lines)


def sentences_from_csv(
    data: bytes,
    classes: Sequence[str],
    *,
    name: str = "upload.csv",
    text_column: str | None = None,
    label_column: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Sentences:
    """Read sentences for a trained classifier from an uploaded CSV file with a header row.

    Parameters
    ----------
    data : bytes
        UTF-8 CSV, delimiter and columns found as in :func:`from_csv_bytes`.
    classes : sequence of K str
        The model's class names; a label is a name or an index (:func:`class_index`).
    name, text_column, label_column, max_bytes : as in :func:`from_csv_bytes`
        Without a label column (none named and none of :data:`LABEL_COLUMN_NAMES`) every
        sentence is unlabelled; an empty label cell is no label.

    Returns
    -------
    Sentences
        ``lines`` are data row numbers (1 = the first row after the header).

    Raises
    ------
    DatasetError
        As :func:`from_csv_bytes`, over :data:`MAX_SENTENCES`, or a label that is not a
        class (the message names it and its row).
    """
    header, body = _csv_rows(data, name, max_bytes)
    text_col = _pick_column(header, text_column, TEXT_COLUMN_NAMES, "text")
    try:
        label_col: str | None = _pick_column(
            header, label_column, LABEL_COLUMN_NAMES, "label", other=text_col
        )
    except DatasetError:
        if label_column is not None:
            raise
        label_col = None
    ti = header.index(text_col)
    li = header.index(label_col) if label_col is not None else None
    texts, labels, lines = [], [], []
    for row_number, r in enumerate(body, start=1):
        sentence = r[ti].strip() if ti < len(r) else ""
        if not sentence:
            continue
        label = r[li].strip() if li is not None and li < len(r) else ""
        k = -1
        if label:
            found = class_index(label, classes)
            if found is None:
                raise _bad_label(label, f"{name!r} row {row_number}", classes)
            k = found
        texts.append(sentence)
        labels.append(k)
        lines.append(row_number)
    _checked_count(len(texts), f"file {name!r}")
    return Sentences(texts, np.asarray(labels, np.int64), f"csv:{name}", lines)


# --- refs -----------------------------------------------------------------------------------


def load_dataset(ref: str, *, download: bool = True) -> LabelledData:
    """Rebuild a dataset from its :attr:`LabelledData.ref`.

    Raises
    ------
    DatasetError
        If the ref is malformed or names data that cannot be rebuilt (CSV uploads are not
        stored: upload them again).
    """
    base, _, query = ref.partition("?")
    scheme, _, rest = base.partition(":")
    name, _, option = rest.partition("@")
    if scheme == "nltk":
        cats = option.split(",") if option else None
        data = nltk_dataset(name, categories=cats, download=download)
    elif scheme == "keras":
        if option and not option.isdigit():
            raise DatasetError(f"keras:reuters@K needs an integer K, got {ref!r}")
        data = keras_dataset(name, top_classes=int(option) if option else REUTERS_DEFAULT_TOP)
    elif scheme == "csv":
        raise DatasetError(f"CSV file {rest!r} is not stored; upload it again")
    else:
        raise DatasetError(f"dataset ref must start with nltk:, keras: or csv:, got {ref!r}")
    if query:
        params = dict(p.partition("=")[::2] for p in query.split("&"))
        try:
            data = subsample(data, int(params["limit"]), seed=int(params.get("seed", 0)))
        except (KeyError, ValueError):
            raise DatasetError(
                f"dataset ref options must be ?limit=N&seed=S, got {ref!r}"
            ) from None
    return data


__all__ = [
    "DatasetError",
    "LabelledData",
    "nltk_dataset",
    "keras_dataset",
    "from_csv_bytes",
    "Sentences",
    "parse_labelled_lines",
    "sentences_from_csv",
    "class_index",
    "load_dataset",
    "split",
    "split_indices",
    "subsample",
    "NLTK_DATASETS",
    "KERAS_DATASETS",
    "BROWN_DEFAULT_CATEGORIES",
]
