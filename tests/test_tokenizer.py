"""Tests for lib.data.tokenizer."""

import json
import math

import numpy as np
import pytest

from lib.data.tokenizer import Tokenizer, Vocab, split_ids, unigram_cross_entropy

TRICKY = (
    "line one\n\tindented <script>alert('x')</script>\r\n"
    "ünïcödé 日本語 😀  double  space\u00a0nbsp\n\n"
)


# --- Tokenizer ------------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer", [Tokenizer("char"), Tokenizer("word", "keep-space")])
@pytest.mark.parametrize("text", [TRICKY, "", " ", "\n\n", "a"])
def test_exact_round_trip(tokenizer: Tokenizer, text: str) -> None:
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == text


def test_char_tokens() -> None:
    assert Tokenizer().tokenize("a\tü\n") == ["a", "\t", "ü", "\n"]


def test_word_tokens() -> None:
    text = "Hello, world!\n"
    assert Tokenizer("word").tokenize(text) == ["Hello", ",", " ", "world", "!", "\n"]
    words = Tokenizer("word", "words")
    assert words.tokenize(text) == ["Hello", ",", "world", "!"]
    assert words.detokenize(words.tokenize(text)) == "Hello , world !"
    assert Tokenizer("word").tokenize("<script>") == ["<", "script", ">"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": "byte"}, "level must be one of.*got 'byte'"),
        ({"level": "word", "mode": "bpe"}, "mode must be one of.*got 'bpe'"),
    ],
)
def test_tokenizer_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Tokenizer(**kwargs)


@pytest.mark.parametrize("tokenizer", [Tokenizer(), Tokenizer("word", "words")])
def test_tokenizer_json_round_trip(tokenizer: Tokenizer) -> None:
    assert Tokenizer.from_dict(json.loads(json.dumps(tokenizer.to_dict()))) == tokenizer


# --- Vocab ----------------------------------------------------------------------------------


def test_vocab_min_count_ordering_and_unk() -> None:
    vocab = Vocab.build(list("cbbbaaad"), min_count=2)
    assert vocab.tokens == ["<unk>", "a", "b"]  # a and b tie at 3: broken by token
    assert vocab.counts.tolist() == [2, 3, 3]  # c and d went to <unk>
    assert len(vocab) == 3 and "a" in vocab and "c" not in vocab
    ids = vocab.encode("abcz")
    assert ids.dtype == np.int32 and ids.tolist() == [1, 2, 0, 0]
    assert vocab.decode(ids) == ["a", "b", "<unk>", "<unk>"]


def test_vocab_most_frequent_first_and_max_size() -> None:
    tokens = list("abbcccdddd")
    assert Vocab.build(tokens).tokens == ["<unk>", "d", "c", "b", "a"]
    capped = Vocab.build(tokens, max_size=3)
    assert capped.tokens == ["<unk>", "d", "c"]
    assert capped.counts.tolist() == [3, 4, 3]
    assert Vocab.build(tokens, max_size=1).tokens == ["<unk>"]


def test_vocab_is_deterministic() -> None:
    tokens = Tokenizer("word").tokenize(TRICKY * 3)
    assert Vocab.build(tokens).to_dict() == Vocab.build(list(reversed(tokens))).to_dict()


def test_vocab_json_round_trip() -> None:
    vocab = Vocab.build(Tokenizer().tokenize(TRICKY), min_count=2)
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.to_dict() == vocab.to_dict()
    assert again.encode(TRICKY).tolist() == vocab.encode(TRICKY).tolist()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_count": 0}, "min_count must be >= 1, got 0"),
        ({"max_size": 0}, "max_size must be >= 1 or None, got 0"),
    ],
)
def test_vocab_build_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Vocab.build("abc", **kwargs)


@pytest.mark.parametrize(
    ("tokens", "counts", "match"),
    [
        (["a"], [1], "must start with '<unk>', got \\['a'\\]"),
        (["<unk>", "a"], [1], "same length, got 2 and 1"),
        (["<unk>", "a", "a"], [0, 1, 1], "unique, got 1 duplicates"),
    ],
)
def test_vocab_rejects_bad_tables(tokens: list, counts: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Vocab(tokens, counts)


# --- split and baseline ---------------------------------------------------------------------


def test_split_ids_is_contiguous_and_deterministic() -> None:
    ids = np.arange(100, dtype=np.int32)
    train, val = split_ids(ids, val_fraction=0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    again = split_ids(ids, val_fraction=0.1)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], val)
    assert [len(part) for part in split_ids(list(range(10)), val_fraction=0.3)] == [7, 3]


@pytest.mark.parametrize(
    ("ids", "val_fraction", "match"),
    [
        (range(100), 0.0, "in \\(0, 1\\), got 0.0"),
        (range(100), 1.0, "got 1.0"),
        (range(100), -0.5, "got -0.5"),
        ([1, 2, 3], 0.1, "3 tokens with val_fraction=0.1 leaves an empty part"),
        ([1, 2, 3], 0.9, "leaves an empty part"),
        ([], 0.5, "0 tokens"),
    ],
)
def test_split_ids_errors(ids, val_fraction: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_ids(list(ids), val_fraction=val_fraction)


def test_unigram_cross_entropy_hand_computed() -> None:
    # counts [2, 1, 0] + 1 -> p = [3/6, 2/6, 1/6]; val [0, 2] -> -(ln 1/2 + ln 1/6) / 2
    assert unigram_cross_entropy([0, 0, 1], [0, 2], 3) == pytest.approx(math.log(12) / 2)
    assert unigram_cross_entropy([], [0, 3], 4) == pytest.approx(math.log(4))


@pytest.mark.parametrize(
    ("train", "val", "match"),
    [
        ([0], [], "val_ids must not be empty"),
        ([0, 5], [0], "ids must be in \\[0, 3\\), got \\[0, 5\\]"),
        ([0], [-1], "got \\[-1, -1\\]"),
    ],
)
def test_unigram_cross_entropy_errors(train: list, val: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        unigram_cross_entropy(train, val, 3)
