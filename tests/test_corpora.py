"""Tests for lib.data.corpora."""

import functools
import hashlib
import os
from pydoc_data.topics import topics

import nltk
import pytest

from lib.data import corpora
from lib.data.corpora import (
    BUILTIN_CORPORA,
    NLTK_DATA_DIR,
    Corpus,
    CorpusError,
    builtin_corpus,
    corpus_from_bytes,
    corpus_from_file,
    corpus_from_text,
    load_corpus,
    nltk_corpus,
)

SHARED_NLTK = (
    "brown",
    "inaugural",
    "movie_reviews",
    "sentence_polarity",
    "shakespeare",
    "state_union",
    "subjectivity",
    "treebank",
    "webtext",
)
cached_nltk_corpus = functools.cache(nltk_corpus)


# --- built-in corpora -----------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(BUILTIN_CORPORA))
def test_builtin_corpus_is_non_empty_deterministic_and_reloadable(key: str) -> None:
    corpus = builtin_corpus(key)
    corpora._builtin_text.cache_clear()
    again = builtin_corpus(key)
    assert corpus.text.strip() and corpus.source == "builtin"
    assert again == corpus
    assert load_corpus(corpus.ref) == corpus


def test_python_reference_is_the_pydoc_topics() -> None:
    assert builtin_corpus("python-reference").text == "\n\n".join(topics[k] for k in sorted(topics))


def test_python_stdlib_is_capped_at_whole_files() -> None:
    full = builtin_corpus("python-stdlib")
    small = builtin_corpus("python-stdlib", max_chars=200_000)
    assert len(full.text) <= corpora.STDLIB_MAX_CHARS
    assert 0 < len(small.text) <= 200_000
    assert full.text.startswith(small.text + "\n")
    assert small.ref == "builtin:python-stdlib@200000"
    assert load_corpus(small.ref) == small


@pytest.mark.parametrize(
    ("key", "max_chars", "match"),
    [
        ("nope", None, "must be one of.*python-reference.*got 'nope'"),
        ("python-stdlib", 0, "positive integer, got 0"),
        ("python-stdlib", 10, "smaller than the first document"),
    ],
)
def test_builtin_corpus_errors(key: str, max_chars: int | None, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        builtin_corpus(key, max_chars=max_chars)


# --- NLTK corpora ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHARED_NLTK)
def test_nltk_corpus_loads_running_text_from_shared_data(name: str) -> None:
    corpus = cached_nltk_corpus(name, download=False)
    assert len(corpus.text) > 100_000
    assert corpus.source == "nltk" and corpus.ref == f"nltk:{name}"
    assert "\r\n" not in corpus.text and "<LINE>" not in corpus.text


def test_brown_is_plain_words_without_tags() -> None:
    text = cached_nltk_corpus("brown", download=False).text
    assert text.startswith("The Fulton County Grand Jury said Friday an investigation")
    assert "/at " not in text[:10_000]


def test_nltk_ref_round_trips() -> None:
    assert load_corpus("nltk:inaugural") == cached_nltk_corpus("inaugural", download=False)


def test_unknown_nltk_corpus() -> None:
    with pytest.raises(CorpusError, match="must be one of.*brown.*got 'reuters'"):
        nltk_corpus("reuters")


@pytest.fixture
def only_shared_nltk_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure gutenberg is missing, whatever the machine has installed."""
    monkeypatch.setattr(nltk.data, "path", [os.environ["NLTK_DATA"]])


@pytest.mark.usefixtures("only_shared_nltk_data")
def test_missing_nltk_corpus_without_download() -> None:
    with pytest.raises(
        CorpusError,
        match=r"'gutenberg' is not installed; run `python -m nltk"
        r"\.downloader gutenberg`.*NLTK_DATA",
    ):
        nltk_corpus("gutenberg", download=False)


def test_importing_corpora_waits_with_nltk_and_nltk_then_finds_every_folder(tmp_path) -> None:
    """``import nltk`` costs a second (scipy.stats, scikit-learn), so lib.data.corpora does
    not import it; NLTK, imported later, still searches the user's $NLTK_DATA first and the
    project's download folder after it."""
    import subprocess
    import sys

    code = (
        "import sys, lib.data.corpora as c\n"
        "assert 'nltk' not in sys.modules, 'nltk imported'\n"
        "import nltk\n"
        "print(nltk.data.path.index(sys.argv[1]), nltk.data.path.index(str(c.NLTK_DATA_DIR)))\n"
    )
    env = {**os.environ, "NLTK_DATA": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    mine, project = map(int, out.stdout.split())
    assert mine < project


@pytest.mark.usefixtures("only_shared_nltk_data")
@pytest.mark.parametrize(
    ("download_effect", "reason"),
    [
        (
            ValueError("Error loading gutenberg: <urlopen error offline>\nmore"),
            "Error loading gutenberg: <urlopen error offline>",
        ),
        (OSError("network unreachable"), "network unreachable"),
        (None, "downloaded data not found"),
    ],
)
def test_missing_nltk_corpus_download_fails(
    monkeypatch: pytest.MonkeyPatch, download_effect: Exception | None, reason: str
) -> None:
    calls = []

    def fake_download(name: str, **kwargs: object) -> bool:
        calls.append((name, kwargs))
        if download_effect is not None:
            raise download_effect
        return True

    monkeypatch.setattr(nltk, "download", fake_download)
    with pytest.raises(
        CorpusError,
        match=rf"'gutenberg'.*could not be downloaded \({reason}\)"
        r".*nltk\.downloader gutenberg",
    ):
        nltk_corpus("gutenberg")
    assert calls == [
        ("gutenberg", {"download_dir": str(NLTK_DATA_DIR), "quiet": True, "raise_on_error": True})
    ]


def test_project_nltk_data_dir_is_searched() -> None:
    assert str(NLTK_DATA_DIR) in nltk.data.path


# --- files and pasted text ------------------------------------------------------------------


@pytest.mark.parametrize("via", ["bytes", "file"])
@pytest.mark.parametrize(
    ("data", "max_bytes", "match"),
    [
        (b"", 1000, "'bad.txt' is empty; upload a file that contains text"),
        (b" \r\n\t\n", 1000, "'bad.txt' is empty"),
        (b"\xef\xbb\xbf", 1000, "'bad.txt' is empty"),
        (b"text\x00more", 1000, "looks binary.*NUL bytes.*plain-text"),
        (b"ok \xff\xfe", 1000, "not valid UTF-8 \\(bad byte at offset 3\\); re-save it as UTF-8"),
        (b"x" * 2000, 1000, "is 0.00191 MB, over the 0.000954 MB cap"),
        (b"x" * 3 * 2**20, 2**20, "is 3 MB, over the 1 MB cap; use a smaller file"),
    ],
)
def test_bad_files_raise_corpus_error(
    tmp_path, via: str, data: bytes, max_bytes: int, match: str
) -> None:
    with pytest.raises(CorpusError, match=match):
        if via == "bytes":
            corpus_from_bytes(data, name="bad.txt", max_bytes=max_bytes)
        else:
            (tmp_path / "bad.txt").write_bytes(data)
            corpus_from_file(tmp_path / "bad.txt", max_bytes=max_bytes)


def test_file_strips_bom_and_normalises_newlines(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffone\r\ntwo ü\n".encode())
    corpus = corpus_from_file(path)
    assert corpus == Corpus(
        name="notes.txt", text="one\ntwo ü\n", source="file", ref="file:notes.txt"
    )
    with pytest.raises(CorpusError, match="'notes.txt' is not stored; upload it again"):
        load_corpus(corpus.ref)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CorpusError, match="cannot read .*nope.txt.*check the path"):
        corpus_from_file(tmp_path / "nope.txt")


def test_corpus_from_text() -> None:
    corpus = corpus_from_text("a\r\nb")
    assert corpus.text == "a\nb" and corpus.name == "pasted text" and corpus.source == "text"
    assert corpus.ref == "text:" + hashlib.sha1(b"a\nb").hexdigest()[:12]
    with pytest.raises(CorpusError, match="pasted text is not stored; paste it again"):
        load_corpus(corpus.ref)
    with pytest.raises(CorpusError, match="pasted text is empty"):
        corpus_from_text(" \n\t")


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("nope", "must start with builtin:, nltk:, file: or text:, got 'nope'"),
        ("builtin:python-stdlib@many", "cap must be an integer"),
        ("builtin:other", "got 'other'"),
    ],
)
def test_load_corpus_bad_refs(ref: str, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        load_corpus(ref)
