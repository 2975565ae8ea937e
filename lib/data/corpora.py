"""Text corpora for training: built-in offline corpora, NLTK corpora, uploaded files, pasted text.

Every corpus is a :class:`Corpus` whose ``ref`` string lets :func:`load_corpus` rebuild it
(uploaded files and pasted text are not stored, so their refs only identify them).
All user-facing failures raise :class:`CorpusError` with a one-line message naming the fix.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

PROJECT_DIR = Path(__file__).resolve().parents[2]
NLTK_DATA_DIR = PROJECT_DIR / "data" / "nltk_data"


def _add_nltk_data_dir() -> None:
    """Let NLTK find the project's download folder, without importing NLTK.

    ``import nltk`` costs about a second (it pulls in scipy.stats and scikit-learn), so
    it waits until a corpus or the tagger is used. NLTK builds ``nltk.data.path`` from
    ``$NLTK_DATA`` when it is imported, so the folder goes there (after the user's own);
    when NLTK is already imported, straight into its path.
    """
    folder = str(NLTK_DATA_DIR)
    if "nltk" in sys.modules:
        if folder not in sys.modules["nltk"].data.path:
            sys.modules["nltk"].data.path.append(folder)
        return
    current = [d for d in os.environ.get("NLTK_DATA", "").split(os.pathsep) if d]
    if folder not in current:
        os.environ["NLTK_DATA"] = os.pathsep.join([*current, folder])


_add_nltk_data_dir()

BUILTIN_CORPORA = {
    "python-reference": "Python language reference",
    "python-stdlib": "Python standard library source",
    "python-stdlib-5m": "Python standard library source, shuffled, 5 M characters",
}
STDLIB_MAX_CHARS = 5_000_000
#: length of ``python-stdlib-5m``: seed 000's TED corpus, the scale the app must handle
SHUFFLED_CHARS = 5_000_000
NLTK_CORPORA = (
    "brown",
    "gutenberg",
    "shakespeare",
    "state_union",
    "inaugural",
    "webtext",
    "movie_reviews",
    "sentence_polarity",
    "subjectivity",
    "treebank",
)
MAX_BYTES = 20 * 2**20
T = TypeVar("T")

_STDLIB_SKIP_DIRS = frozenset(
    {
        "site-packages",
        "dist-packages",
        "__pycache__",
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "ensurepip",
        "turtledemo",
    }
)


class CorpusError(ValueError):
    """A corpus could not be loaded; the message says why and how to fix it."""


@dataclass(frozen=True)
class Corpus:
    """A named training text.

    Attributes
    ----------
    name : str
        Human-readable name.
    text : str
        The full text.
    source : str
        One of ``"builtin"``, ``"nltk"``, ``"file"``, ``"text"``.
    ref : str
        ``"builtin:KEY"`` (``"builtin:KEY@MAX_CHARS"`` when capped), ``"nltk:NAME"``,
        ``"file:FILENAME"`` or ``"text:SHA1_PREFIX"``; see :func:`load_corpus`.
    """

    name: str
    text: str
    source: str
    ref: str


# --- built-in corpora -----------------------------------------------------------------------


def _reference_docs() -> Iterator[str]:
    from pydoc_data.topics import topics

    return (topics[key] for key in sorted(topics))


def _stdlib_docs() -> Iterator[str]:
    root = Path(os.__file__).parent
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _STDLIB_SKIP_DIRS]
        paths += [Path(dirpath, f) for f in filenames if f.endswith(".py")]
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        try:
            yield path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue


def _join_capped(docs: Iterable[str], *, sep: str, max_chars: int | None) -> str:
    """Join whole documents with `sep`, stopping before the first one that would exceed the cap."""
    parts: list[str] = []
    size = 0
    for doc in docs:
        size += len(doc) + (len(sep) if parts else 0)
        if max_chars is not None and size > max_chars:
            break
        parts.append(doc)
    return sep.join(parts)


def _shuffled_repeated(docs: list[str], n_chars: int, *, seed: int = 0) -> str:
    """Join documents in a seeded random order, reshuffled and repeated up to `n_chars`.

    The documents are joined by newlines and the text is cut at exactly `n_chars`.
    """
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < n_chars:
        order = list(docs)
        rng.shuffle(order)
        for doc in order:
            parts.append(doc)
            size += len(doc) + 1
            if size >= n_chars:
                break
    return "\n".join(parts)[:n_chars]


@functools.lru_cache(maxsize=8)
def _builtin_text(key: str, max_chars: int | None) -> str:
    if key == "python-reference":
        return _join_capped(_reference_docs(), sep="\n\n", max_chars=max_chars)
    if key == "python-stdlib-5m":
        return _shuffled_repeated(list(_stdlib_docs()), max_chars or SHUFFLED_CHARS)
    return _join_capped(_stdlib_docs(), sep="\n", max_chars=max_chars)


def builtin_corpus(key: str, *, max_chars: int | None = None) -> Corpus:
    """Load a built-in corpus made from the running interpreter's own files (works offline).

    Parameters
    ----------
    key : str
        A key of :data:`BUILTIN_CORPORA`: ``"python-reference"`` (the ``pydoc`` topics, about
        0.47 MB), ``"python-stdlib"`` (standard-library ``.py`` files, without tests) or
        ``"python-stdlib-5m"`` (those files in a seeded random order, repeated if the
        library is smaller, cut at exactly 5,000,000 characters: the size of seed 000's
        TED corpus).
    max_chars : int, optional
        Cap on the text length. Whole documents (topics or files) are kept, stopping before the
        first that would exceed the cap. Default: no cap for ``python-reference``,
        :data:`STDLIB_MAX_CHARS` for ``python-stdlib``. For ``python-stdlib-5m`` the exact
        length (default :data:`SHUFFLED_CHARS`), cut mid-file.

    Returns
    -------
    Corpus
        Deterministic for a given interpreter; the text is cached.

    Raises
    ------
    CorpusError
        If `key` is unknown or `max_chars` is too small to hold the first document.
    """
    if key not in BUILTIN_CORPORA:
        raise CorpusError(f"built-in corpus must be one of {sorted(BUILTIN_CORPORA)}, got {key!r}")
    if max_chars is not None and max_chars < 1:
        raise CorpusError(f"max_chars must be a positive integer, got {max_chars!r}")
    cap = STDLIB_MAX_CHARS if max_chars is None and key == "python-stdlib" else max_chars
    text = _builtin_text(key, cap)
    if not text:
        raise CorpusError(
            f"max_chars={max_chars} is smaller than the first document of {key!r}; raise it"
        )
    ref = f"builtin:{key}" if max_chars is None else f"builtin:{key}@{max_chars}"
    return Corpus(name=BUILTIN_CORPORA[key], text=text, source="builtin", ref=ref)


# --- NLTK corpora ---------------------------------------------------------------------------


def _read_nltk(name: str) -> str:
    """Read an NLTK corpus as running text; raises LookupError when its data is missing."""
    import nltk

    reader = getattr(nltk.corpus, name)
    if name in ("brown", "treebank"):  # raw() holds tags / parse trees: rebuild the sentences
        sents = reader.tagged_sents()
        return "\n".join(" ".join(w for w, tag in s if tag != "-NONE-") for s in sents)
    if name == "shakespeare":  # XML plays: keep the spoken lines, without stage directions
        lines = (
            (line.text or "") + "".join(child.tail or "" for child in line)
            for fileid in reader.fileids()
            for line in reader.xml(fileid).iter("LINE")
        )
        return "\n".join(line.strip() for line in lines)
    return reader.raw()


def with_nltk_data(
    name: str,
    read: Callable[[], T],
    *,
    download: bool = True,
    error: type[CorpusError] = CorpusError,
) -> T:
    """Call ``read()``; if NLTK data package `name` is missing, download it and call again.

    Parameters
    ----------
    name : str
        The NLTK data package ``read`` needs (e.g. ``"brown"``).
    read : callable
        Reads the data; raises ``LookupError`` when the package is not installed.
    download : bool, default True
        If the data is missing, try ``nltk.download`` into ``<project>/data/nltk_data``.
    error : type, default CorpusError
        The exception class raised (a subclass of :class:`CorpusError`).

    Raises
    ------
    CorpusError
        (or `error`) if the data is missing and could not be downloaded; the message names
        the fix.
    """
    fix = (
        f"run `python -m nltk.downloader {name}` on a machine with network, "
        "or set NLTK_DATA to a folder holding it"
    )
    try:
        return read()
    except LookupError:
        if not download:
            raise error(f"NLTK corpus {name!r} is not installed; {fix}") from None
        import nltk

        try:
            nltk.download(name, download_dir=str(NLTK_DATA_DIR), quiet=True, raise_on_error=True)
            return read()
        except (LookupError, OSError, ValueError) as err:
            reason = (
                "downloaded data not found"
                if isinstance(err, LookupError)
                else getattr(err, "strerror", None) or str(err).splitlines()[0]  # no path
            )
            raise error(
                f"NLTK corpus {name!r} is not installed and could not be downloaded ({reason}); "
                f"{fix}"
            ) from None


def nltk_corpus(name: str, *, download: bool = True) -> Corpus:
    """Load an NLTK corpus as raw running text, downloading it if it is missing.

    Parameters
    ----------
    name : str
        One of :data:`NLTK_CORPORA`.
    download : bool, default True
        If the data is missing, try ``nltk.download`` into ``<project>/data/nltk_data``.

    Returns
    -------
    Corpus
        Tagged (brown) and parsed (treebank) corpora become one sentence per line, words
        separated by spaces; shakespeare becomes its spoken lines, one per line.

    Raises
    ------
    CorpusError
        If `name` is unknown, or the data is missing and could not be downloaded.
    """
    if name not in NLTK_CORPORA:
        raise CorpusError(f"NLTK corpus must be one of {list(NLTK_CORPORA)}, got {name!r}")
    text = with_nltk_data(name, lambda: _read_nltk(name), download=download)
    return Corpus(name=name, text=_normalise(text), source="nltk", ref=f"nltk:{name}")


# --- uploaded files and pasted text ---------------------------------------------------------


def _normalise(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def _too_big(name: str, size: int, max_bytes: int) -> CorpusError:
    return CorpusError(
        f"file {name!r} is {size / 2**20:.3g} MB, over the {max_bytes / 2**20:.3g} MB cap; "
        "use a smaller file or cut it down"
    )


def corpus_from_bytes(data: bytes, *, name: str, max_bytes: int = MAX_BYTES) -> Corpus:
    r"""Make a corpus from the bytes of an uploaded UTF-8 text file.

    Parameters
    ----------
    data : bytes
        File contents. A UTF-8 byte-order mark is stripped and ``\r\n`` becomes ``\n``.
    name : str
        File name, used as the corpus name and in its ref ``"file:NAME"``.
    max_bytes : int, default 20 MiB
        Size cap.

    Raises
    ------
    CorpusError
        If the file is over the cap, empty or whitespace-only, binary (has NUL bytes), or not
        valid UTF-8.
    """
    if len(data) > max_bytes:
        raise _too_big(name, len(data), max_bytes)
    if b"\0" in data:
        raise CorpusError(
            f"file {name!r} looks binary (it contains NUL bytes); upload a plain-text file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"file {name!r} is not valid UTF-8 (bad byte at offset {err.start}); "
            "re-save it as UTF-8 and upload it again"
        ) from None
    text = _normalise(text)
    if not text.strip():
        raise CorpusError(f"file {name!r} is empty; upload a file that contains text")
    return Corpus(name=name, text=text, source="file", ref=f"file:{name}")


def corpus_from_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> Corpus:
    """Make a corpus from a UTF-8 text file on disk; see :func:`corpus_from_bytes`.

    Raises
    ------
    CorpusError
        If the file cannot be read, or for any reason listed in :func:`corpus_from_bytes`.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(path.name, size, max_bytes)
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read {str(path)!r} ({err.strerror}); check the path") from None
    return corpus_from_bytes(data, name=path.name, max_bytes=max_bytes)


def corpus_from_text(text: str, *, name: str = "pasted text") -> Corpus:
    """Make a corpus from pasted text; its ref is ``"text:"`` plus 12 hex digits of its SHA-1.

    Raises
    ------
    CorpusError
        If the text is empty or whitespace-only.
    """
    text = _normalise(text)
    if not text.strip():
        raise CorpusError("the pasted text is empty; paste some text first")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    return Corpus(name=name, text=text, source="text", ref=f"text:{digest}")


# --- refs -----------------------------------------------------------------------------------


def load_corpus(ref: str) -> Corpus:
    """Rebuild a corpus from its :attr:`Corpus.ref`.

    Raises
    ------
    CorpusError
        If the ref is malformed or names a corpus that cannot be rebuilt (uploaded files and
        pasted text are not stored: they must be uploaded or pasted again).
    """
    scheme, _, rest = ref.partition(":")
    if scheme == "builtin":
        key, _, cap = rest.partition("@")
        if cap and not cap.isdigit():
            raise CorpusError(f"built-in corpus cap must be an integer, got {ref!r}")
        return builtin_corpus(key, max_chars=int(cap) if cap else None)
    if scheme == "nltk":
        return nltk_corpus(rest)
    if scheme == "file":
        raise CorpusError(f"file {rest!r} is not stored; upload it again")
    if scheme == "text":
        raise CorpusError("pasted text is not stored; paste it again")
    raise CorpusError(f"corpus ref must start with builtin:, nltk:, file: or text:, got {ref!r}")


def corpus_sha1(corpus: Corpus) -> str:
    """Return the SHA-1 of the corpus text (UTF-8), in hex."""
    import hashlib

    return hashlib.sha1(corpus.text.encode("utf-8")).hexdigest()


def corpus_meta(corpus: Corpus) -> dict[str, Any]:
    """Describe the corpus for a model's meta.json: name, ref, source, length, SHA-1."""
    return {
        "name": corpus.name,
        "ref": corpus.ref,
        "source": corpus.source,
        "chars": len(corpus.text),
        "sha1": corpus_sha1(corpus),
    }
