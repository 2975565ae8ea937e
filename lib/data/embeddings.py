"""Pre-trained word vectors for a word-level model's embedding layer (seed 000).

Seed 000 (§2.3, "Embedding") starts its word LSTM from GloVe ``glove.840B.300d``
intersected with the corpus vocabulary, in a Keras ``Embedding(M, 300, weights=[V])``
that stays trainable. Here a word-level model (language model or classifier) can start from
the vectors of any file in one of the two common text formats:

- **word2vec text**: a header line ``<count> <dim>``, then one ``word v_1 ... v_dim`` line
  per word (gensim's ``save_word2vec_format(binary=False)``, fastText's ``.vec``);
- **GloVe**: the same lines without the header (``glove.6B.50d.txt``, ...).

Fields are separated by single spaces (GloVe 840B has a few "words" that contain spaces:
the word is what precedes the last ``dim`` fields, and such entries are skipped since a
token of this project never holds a space). A ``.gz`` file is read as gzip.

Reading is bounded, so a small file cannot exhaust a shared server: at most
``max_vectors_mb`` (:mod:`lib.limits`) are read once decompressed, a gzip may inflate to at
most ``max_vectors_mb / max_upload_mb`` times its own size (so an upload of
``max_upload_mb`` inflates to ``max_vectors_mb`` at most; text vectors compress 3-4 times),
and no line may be longer than :data:`MAX_LINE_BYTES`. Each read allocates at most one
line's bound.

- :func:`sniff`: format and dimension from the first line (cheap: checks settings before
  training starts).
- :func:`read_vectors`: parse the file, keeping only the words asked for (a 2 GB GloVe file
  is streamed; only the vocabulary's lines are converted to numbers).
- :func:`embedding_matrix`: the vocabulary's rows, with :class:`Coverage`: how many
  vocabulary words had a vector.
- :func:`init_embedding`: put them into a built model's ``embedding`` layer, frozen or not.

Rows of words without a vector keep the layer's random initialisation (Keras' uniform
±0.05); seed 000 instead added them (the space and newline tokens, corpus words) by
further CBOW training with gensim, which is not done here. A vocabulary word without an
exact match takes the vector of its lower-cased form when the file has it (GloVe 6B is
lower-cased; 840B is cased).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from io import BufferedIOBase
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.data.tokenizer import Level
from lib.limits import limits

if TYPE_CHECKING:
    import keras

FORMATS = ("word2vec", "glove")
#: characters of an offending line quoted in an error message
QUOTE = 60
#: longest line read from a vectors file, in bytes, its newline included: a GloVe 300d line
#: is 3-4 KB, so this allows some 5,000 dimensions; a longer line is refused unread
MAX_LINE_BYTES = 64 * 2**10
#: a gzip may always inflate this many times its size, whatever max_vectors_mb /
#: max_upload_mb is (real text vectors compress 3-4 times)
MIN_INFLATION = 16
#: longest path text accepted (Linux allows 4,096 bytes) and longest part of one (NAME_MAX)
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255


class VectorsError(ValueError):
    """A vectors file that cannot be used; the message says what was found and where."""


@dataclass(frozen=True)
class VectorsInfo:
    """What the first line of a vectors file says.

    ``format`` is ``"word2vec"`` (a ``count dim`` header) or ``"glove"`` (no header);
    ``header_count`` is the word count a word2vec header announces (None for GloVe).
    """

    path: str
    format: str
    dim: int
    header_count: int | None = None


@dataclass
class Vectors:
    """Word vectors read from a file.

    Attributes
    ----------
    words : list of str, length n_words
    matrix : ndarray of shape (n_words, dim), float32
    dim : int
    format : {"word2vec", "glove"}
    source : str
        The file's path.
    n_entries : int
        Vector lines in the file (kept or not).
    skipped : int
        Entries whose word holds a space (never a token here), not kept.
    duplicates : int
        Later lines repeating a word already read (the first one is kept).
    notes : list of str
        Things worth telling the user (a word2vec header whose count differs, ...).
    """

    words: list[str]
    matrix: np.ndarray
    dim: int
    format: str
    source: str = ""
    n_entries: int = 0
    skipped: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        """Word -> row of :attr:`matrix`."""
        return {w: i for i, w in enumerate(self.words)}


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary a vectors file covers.

    ``n_vocab`` counts the vocabulary without ``<unk>``; ``n_exact`` of them had a vector
    under their own spelling and ``n_lower`` more under their lower-cased form.
    ``token_share`` weighs words by their training counts: the share of training tokens
    (``<unk>`` excluded) whose word has a vector. ``missing`` lists up to 20 uncovered words,
    most frequent first.
    """

    n_vocab: int
    n_exact: int
    n_lower: int
    token_share: float
    missing: tuple[str, ...] = ()

    @property
    def n_covered(self) -> int:
        """Vocabulary words with a vector, under their own or their lower-cased spelling."""
        return self.n_exact + self.n_lower

    @property
    def fraction(self) -> float:
        """n_covered / n_vocab (0 for an empty vocabulary)."""
        return self.n_covered / self.n_vocab if self.n_vocab else 0.0

    def describe(self) -> str:
        """E.g. "1,234 of 1,500 vocabulary words (82.3 %; 97.1 % of training tokens)"."""
        lower = f", {self.n_lower:,} of them lower-cased" if self.n_lower else ""
        return (
            f"{self.n_covered:,} of {self.n_vocab:,} vocabulary words have a vector "
            f"({self.fraction:.1%}{lower}; {self.token_share:.1%} of training tokens)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description, with the derived counts."""
        return {
            **asdict(self),
            "missing": list(self.missing),
            "n_covered": self.n_covered,
            "fraction": self.fraction,
        }


# --- reading ----------------------------------------------------------------------------------


def path_problem(text: str) -> str | None:
    """Why ``text`` cannot name a file (None when it can).

    A NUL character, more than :data:`MAX_PATH_CHARS` characters, a part between slashes
    over :data:`MAX_NAME_BYTES` bytes, or characters no file name holds (lone surrogates).
    """
    if "\x00" in text:
        return "it holds a NUL character"
    if len(text) > MAX_PATH_CHARS:
        return f"it has {len(text):,} characters, over the {MAX_PATH_CHARS:,} a path may have"
    try:
        parts = os.fsencode(text).split(b"/")
    except UnicodeError:
        return "it holds characters that no file name can hold"
    longest = max(len(part) for part in parts)
    if longest > MAX_NAME_BYTES:
        return f"a part of it has {longest:,} bytes, over the {MAX_NAME_BYTES} a file name may have"
    return None


def shown_name(text: str) -> str:
    """Quote ``text`` for a message: an absolute path's file name only, cut short."""
    if os.path.isabs(text):
        text = text.rstrip("/").rpartition("/")[2]
    return repr(text[:QUOTE] + ("…" if len(text) > QUOTE else ""))


def _reason(e: BaseException) -> str:
    """Return the cause of an error without the path an OSError carries."""
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MB"


class _Lines:
    """The lines of an open vectors file, read with bounds.

    Each line is read with ``readline(MAX_LINE_BYTES + 1)``, so no read holds more than one
    line's bound, and the bytes read (decompressed) are counted against ``cap``.
    """

    def __init__(self, path: Path, f: BufferedIOBase, cap: int, why: str) -> None:
        self.path, self.f, self.cap, self.why = path, f, cap, why
        self.lineno = 0
        self.n_read = 0

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()

    def readline(self) -> bytes:
        """Return the next line (b"" at the end); VectorsError past a bound."""
        raw = self.f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return raw
        self.lineno += 1
        self.n_read += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise VectorsError(
                f"{self.path.name}, line {self.lineno}: longer than "
                f"{MAX_LINE_BYTES // 2**10} KB, the longest line read (it starts "
                f"{_quote(raw)}). A vectors line is one word and its values (GloVe 300d: "
                "3-4 KB): this is not a vectors file."
            )
        if self.n_read > self.cap:
            raise VectorsError(
                f"{self.path.name}: {_mb(self.n_read)} read by line {self.lineno:,}, over "
                f"{self.why}."
            )
        return raw

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        while raw := self.readline():
            yield self.lineno, raw


def _bound(path: Path, gzipped: bool) -> tuple[int, str]:
    """Return the most bytes to read from ``path`` decompressed, and why (for a message)."""
    lim = limits()
    cap = lim.max_vectors_mb * 2**20
    why = f"this server's limit of {lim.max_vectors_mb:,} MB once decompressed (max_vectors_mb)"
    if gzipped:
        ratio = max(lim.max_vectors_mb / lim.max_upload_mb, MIN_INFLATION)
        size = path.stat().st_size
        if size * ratio < cap:
            cap = int(size * ratio)
            why = (
                f"{ratio:,.0f} times its compressed {_mb(size)}, the most a gzip may inflate "
                f"on this server (max_vectors_mb / max_upload_mb = {lim.max_vectors_mb:,} MB "
                f"/ {lim.max_upload_mb:,} MB)"
            )
    return cap, why


def _open(path: Path) -> _Lines:
    """Open the file's lines, gunzipped when it starts with the gzip magic bytes."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic == b"PK\x03\x04":
            raise VectorsError(
                f"{path.name} is a zip archive: unzip it and use the .txt file "
                "inside (e.g. glove.6B.50d.txt)."
            )
        gzipped = magic[:2] == b"\x1f\x8b"
        cap, why = _bound(path, gzipped)
        stream: BufferedIOBase = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise VectorsError(f"{path.name} cannot be read: {_reason(e)}.") from None
    return _Lines(path, stream, cap, why)


def _quote(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return repr(text[:QUOTE] + ("…" if len(text) > QUOTE else ""))


def _binary_error(path: Path, lineno: int, raw: bytes) -> VectorsError:
    return VectorsError(
        f"{path.name} looks binary, not a text vectors file (line {lineno}: {_quote(raw)}). "
        "A word2vec .bin file can be converted with gensim: KeyedVectors.load_word2vec_format"
        "(path, binary=True).save_word2vec_format(out, binary=False)."
    )


def _fields(raw: bytes) -> list[bytes]:
    return raw.rstrip(b"\r\n").rstrip(b" ").split(b" ")


def _is_number(raw: bytes) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def _first_line(path: Path, lines: _Lines) -> tuple[int, list[bytes], bytes]:
    """Return (line number, fields, raw line) of the first non-blank line.

    Raises VectorsError for empty or binary files.
    """
    for lineno, raw in lines:
        if b"\x00" in raw:
            raise _binary_error(path, lineno, raw)
        if raw.strip():
            return lineno, _fields(raw), raw
    raise VectorsError(
        f"{path.name} is empty: expected lines 'word v1 v2 ...' (GloVe) "
        "or a 'count dim' header then such lines (word2vec text)."
    )


def _check_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it names a file; VectorsError (with its name only) otherwise."""
    text = os.fsdecode(os.fspath(path))
    problem = path_problem(text)
    if problem:
        raise VectorsError(f"The vectors file name {shown_name(text)} cannot be used: {problem}.")
    checked = Path(text)
    try:
        is_file = checked.is_file()
    except (OSError, ValueError) as e:
        raise VectorsError(f"{checked.name} cannot be read: {_reason(e)}.") from None
    if not is_file:
        raise VectorsError(f"There is no vectors file named {checked.name!r}.")
    return checked


#: what reading a vectors file may raise besides VectorsError (a corrupt or truncated gzip)
_READ_ERRORS = (OSError, EOFError, zlib.error)


def _info_from_first(
    path: Path, fields: list[bytes], raw: bytes, lineno: int, fmt: str
) -> VectorsInfo:
    if fmt not in ("auto", *FORMATS):
        raise ValueError(f"`format` must be 'auto' or one of {FORMATS}, got {fmt!r}.")
    header = len(fields) == 2 and all(x.isdigit() for x in fields)
    if fmt == "word2vec" or (fmt == "auto" and header):
        if not header or int(fields[1]) < 1:
            raise VectorsError(
                f"{path.name}: a word2vec text file starts with a header "
                f"'count dim' (two positive integers); line {lineno} is "
                f"{_quote(raw)}."
            )
        return VectorsInfo(str(path), "word2vec", int(fields[1]), int(fields[0]))
    if len(fields) < 2:
        raise VectorsError(
            f"{path.name}: line {lineno} holds no vector: {_quote(raw)}; expected 'word v1 v2 ...'."
        )
    return VectorsInfo(str(path), "glove", len(fields) - 1)


def sniff(path: str | os.PathLike, *, format: str = "auto") -> VectorsInfo:
    """Format and dimension of a vectors file, from its first line only.

    Parameters
    ----------
    path : str or path-like
    format : {"auto", "word2vec", "glove"}, default "auto"
        "auto": a first line of exactly two integers is a word2vec header.

    Raises
    ------
    VectorsError
        No such file or a name no file can have; an empty, zip or binary file; a first
        line without a vector; a line over :data:`MAX_LINE_BYTES` or more bytes before it
        than the bounds of the module docstring.
    """
    path = _check_path(path)
    with _open(path) as lines:
        try:
            lineno, fields, raw = _first_line(path, lines)
            second = lines.readline() if len(fields) == 2 else b""
        except _READ_ERRORS as e:
            raise VectorsError(f"{path.name} cannot be read: {_reason(e)}") from None
    if b"\x00" in second or _undecodable(second):
        raise _binary_error(path, lineno + 1, second)
    if _undecodable(raw):
        raise _binary_error(path, lineno, raw)
    return _info_from_first(path, fields, raw, lineno, format)


def _undecodable(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def read_vectors(
    path: str | os.PathLike,
    *,
    keep: Collection[str] | None = None,
    format: str = "auto",
) -> Vectors:
    """Read a GloVe or word2vec text-format vectors file.

    Parameters
    ----------
    path : str or path-like
        A text file (or a gzip of one); see the module docstring for the formats.
    keep : collection of str, optional
        Only these words are kept (and only their lines converted to numbers); every line's
        field count is still checked. None keeps every word.
    format : {"auto", "word2vec", "glove"}, default "auto"
        See :func:`sniff`.

    Returns
    -------
    Vectors
        ``matrix`` of shape (n_kept, dim), float32, rows in file order.

    Raises
    ------
    VectorsError
        With the file name, line number and the start of the offending line: an empty,
        zip or binary file; a line whose number of values differs from the dimension (set
        by the header, or by the first line of a GloVe file); a value that is not a finite
        number; no vectors at all; a line over :data:`MAX_LINE_BYTES`, or more bytes than
        ``max_vectors_mb`` (or a gzip's inflation bound, see the module docstring).

    Notes
    -----
    Cost: ~1 s per 100 MB scanned plus the kept lines' conversion; GloVe 840B (5.6 GB,
    2.2 M words) intersected with a 30 k-word vocabulary takes about a minute.
    """
    path = _check_path(path)
    wanted = None if keep is None else set(keep)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    skipped = duplicates = n_entries = 0
    with _open(path) as f:
        try:
            first_no, fields, first_raw = _first_line(path, f)
            if _undecodable(first_raw):
                raise _binary_error(path, first_no, first_raw)
            info = _info_from_first(path, fields, first_raw, first_no, format)
            dim = info.dim
            where = "of the header" if info.format == "word2vec" else f"set by line {first_no}"
            lines: Iterator[tuple[int, bytes]] = iter(f)
            if info.format == "glove":
                lines = _chain_first(first_no, first_raw, lines)
            for lineno, raw in lines:
                if not raw.strip():
                    continue
                n_values = raw.rstrip(b"\r\n").rstrip(b" ").count(b" ")
                if n_values != dim:
                    if b"\x00" in raw or _undecodable(raw):
                        raise _binary_error(path, lineno, raw)
                    parts = _fields(raw)
                    if n_values < dim or all(_is_number(x) for x in parts[1 : n_values - dim + 1]):
                        raise VectorsError(
                            f"{path.name}, line {lineno}: {n_values} values, expected {dim} "
                            f"(the dimension {where}): {_quote(raw)}."
                        )
                    n_entries += 1
                    skipped += 1  # a "word" holding spaces (GloVe 840B has a few)
                    continue
                n_entries += 1
                head, _, values = raw.partition(b" ")
                try:
                    word = head.decode("utf-8")
                except UnicodeDecodeError:
                    raise _binary_error(path, lineno, raw) from None
                if wanted is not None and word not in wanted:
                    continue
                if word in seen:
                    duplicates += 1
                    continue
                rows.append(np.asarray(_numbers(path, lineno, raw, values), np.float32))
                words.append(word)
                seen.add(word)
        except _READ_ERRORS as e:
            raise VectorsError(f"{path.name} cannot be read: {_reason(e)}") from None
    if n_entries == 0:
        raise VectorsError(f"{path.name} holds no vectors after its first line.")
    notes = []
    if info.header_count is not None and info.header_count != n_entries:
        notes.append(
            f"the header announces {info.header_count:,} vectors, the file holds {n_entries:,}"
        )
    if skipped:
        notes.append(f"{skipped:,} entries whose word holds a space were skipped")
    if duplicates:
        notes.append(f"{duplicates:,} repeated words: the first vector of each was kept")
    matrix = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    return Vectors(
        words, matrix, dim, info.format, str(path), n_entries, skipped, duplicates, notes
    )


def _chain_first(
    first_no: int, first_raw: bytes, rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield first_no, first_raw
    yield from rest


def _numbers(path: Path, lineno: int, raw: bytes, values: bytes) -> list[float]:
    out = []
    for column, x in enumerate(values.rstrip(b"\r\n").rstrip(b" ").split(b" "), 1):
        try:
            v = float(x)
        except ValueError:
            v = None
        if v is None and _undecodable(raw):
            raise _binary_error(path, lineno, raw)
        if v is None or not math.isfinite(v):
            raise VectorsError(
                f"{path.name}, line {lineno}: value {column} is "
                f"{x.decode('utf-8', errors='replace')[:QUOTE]!r}, not a finite number: "
                f"{_quote(raw)}."
            )
        out.append(v)
    return out


# --- into a model -------------------------------------------------------------------------------


def wanted_words(tokens: Collection[str]) -> set[str]:
    """Return the words to keep from a vectors file for these vocabulary tokens.

    Each token and its lower-cased form.
    """
    return set(tokens) | {t.lower() for t in tokens}


def embedding_matrix(
    vectors: Vectors,
    tokens: list[str],
    counts: np.ndarray | None = None,
    *,
    base: np.ndarray | None = None,
    offset: int = 0,
    lowercase: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, Coverage]:
    """Embedding weights whose rows for vocabulary words come from `vectors`.

    Parameters
    ----------
    vectors : Vectors
    tokens : list of str, length V
        ``vocab.tokens``: token of each vocabulary id, ``<unk>`` (id 0) first.
    counts : ndarray of shape (V,), optional
        ``vocab.counts``, for :attr:`Coverage.token_share` and the order of ``missing``.
    base : ndarray of shape (V + offset, dim), optional
        The weights to start from (a built layer's random initialisation); rows without a
        vector keep their values. Default: uniform ±0.05 drawn with `seed` (Keras'
        ``Embedding`` default).
    offset : int, default 0
        Row of vocabulary id i is ``i + offset`` (1 for the classifiers of
        :mod:`lib.train.fit`, whose row 0 is padding).
    lowercase : bool, default True
        A word with no exact vector takes its lower-cased form's vector.
    seed : int, default 0

    Returns
    -------
    matrix : ndarray of shape (V + offset, dim), float32
    coverage : Coverage

    Raises
    ------
    VectorsError
        `base` has another number of columns than the vectors' dimension.
    """
    n_rows, dim = len(tokens) + offset, vectors.dim
    if base is None:
        base = np.random.default_rng(seed).uniform(-0.05, 0.05, (n_rows, dim))
    base = np.asarray(base)
    if base.shape != (n_rows, dim):
        raise VectorsError(
            f"The vectors have {dim} dimensions but the model's embedding is "
            f"{base.shape[1] if base.ndim == 2 else base.shape}: set the embedding size to "
            f"{dim}."
            if base.ndim == 2 and base.shape[0] == n_rows
            else f"`base` must have shape ({n_rows}, {dim}) (vocabulary + offset, dimension), got "
            f"{base.shape}."
        )
    counts = np.ones(len(tokens), np.int64) if counts is None else np.asarray(counts)
    matrix = base.astype(np.float32, copy=True)
    index = vectors.index()
    exact = lower = 0
    covered = np.zeros(len(tokens), bool)
    for i, token in enumerate(tokens):
        if i == 0:  # <unk>
            continue
        row = index.get(token)
        if row is None and lowercase:
            row = index.get(token.lower())
            lower += row is not None
        else:
            exact += row is not None
        if row is not None:
            matrix[i + offset] = vectors.matrix[row]
            covered[i] = True
    total = int(counts[1:].sum())
    share = float(counts[1:][covered[1:]].sum() / total) if total else 0.0
    order = np.argsort(-counts[1:], kind="stable") + 1
    missing = tuple(tokens[i] for i in order if not covered[i])[:20]
    return matrix, Coverage(len(tokens) - 1, exact, lower, share, missing)


def check_pretrained(path: str | os.PathLike, *, level: Level, embedding: int) -> VectorsInfo:
    """Refuse pre-trained vectors that cannot fit a model before any work starts.

    Raises
    ------
    VectorsError
        Not a word-level model, an unreadable file, or a dimension other than `embedding`.
    """
    if level != "word":
        raise VectorsError(
            f"Pre-trained vectors are word vectors: they need a word-level "
            f"model, got level {level!r}."
        )
    info = sniff(path)
    if info.dim != embedding:
        raise VectorsError(
            f"The vectors in {Path(path).name} have {info.dim} dimensions but "
            f"the embedding size is {embedding}: set the embedding size to "
            f"{info.dim}."
        )
    return info


def init_embedding(
    model: keras.Model,
    tokens: list[str],
    counts: np.ndarray | None,
    path: str | os.PathLike,
    *,
    freeze: bool,
    offset: int = 0,
) -> dict[str, Any]:
    """Load `path`'s vectors into ``model``'s layer ``embedding``; freeze it if asked.

    Call before compiling. Returns what meta.json records under ``"pretrained"``: the file
    (``path``, ``file``, ``format``, ``dim``), ``frozen`` and the coverage
    (:meth:`Coverage.to_dict`).
    """
    vectors = read_vectors(path, keep=wanted_words(tokens[1:]))
    layer = model.get_layer("embedding")
    matrix, coverage = embedding_matrix(
        vectors, tokens, counts, base=layer.get_weights()[0], offset=offset
    )
    layer.set_weights([matrix])
    if freeze:
        layer.trainable = False
    return {
        "path": str(path),
        "file": Path(path).name,
        "format": vectors.format,
        "dim": vectors.dim,
        "frozen": bool(freeze),
        "notes": vectors.notes,
        "coverage": coverage.to_dict(),
    }
