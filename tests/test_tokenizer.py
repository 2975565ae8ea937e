"""Tests for lib.data.tokenizer."""

import json
import math

import numpy as np
import pytest

from lib.data.tokenizer import (
    Tokenizer,
    Vocab,
    split_ids,
    standardize_text,
    unigram_cross_entropy,
)

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


# --- standardization (a model imported with a Keras TextVectorization) ---------------------------

STANDARDIZE_TEXTS = [
    "The CAT's mat, isn't it?  (Yes!) -- 3.14 #tag @you [x] {y} a_b `q` ~z",
    "ÉCOLE Über ÅNGSTRÖM: naïve café;日本語 😀 İ",
    'tab\tnew\nline & <b>bold</b> | 50% off + $5 = "cheap" \\o/ ^_^',
]


@pytest.mark.parametrize(
    "standardize", ["lower", "lower_and_strip_punctuation", "strip_punctuation"]
)
def test_standardization_is_the_one_of_keras_text_vectorization(standardize) -> None:
    """The same words as TextVectorization's own standardize + whitespace split, on text
    with ASCII and non-ASCII capitals (Keras lowers ASCII only) and every punctuation."""
    from keras import layers

    for text in STANDARDIZE_TEXTS:
        tv = layers.TextVectorization(standardize=standardize, split="whitespace")
        tv.adapt([text])
        theirs = sorted(tv.get_vocabulary()[1:])  # without "" (padding) and [UNK]
        ours = standardize_text(text, standardize).split()
        assert sorted(set(ours)) == sorted(t for t in theirs if t != "[UNK]")
        if standardize != "lower":  # no punctuation left: the word pattern splits as Keras
            assert Tokenizer("word", "words", standardize).tokenize(text) == ours
        # the whitespace mode (an imported TextVectorization) splits as Keras always does
        split = Tokenizer("word", "whitespace", standardize).tokenize(text)
        assert sorted(set(split)) == sorted(t for t in theirs if t != "[UNK]")


def test_the_whitespace_mode_splits_at_ascii_whitespace_only_as_tensorflow() -> None:
    """tf.strings.split (TextVectorization's split="whitespace") does not split at a no-break
    or an em space, nor at the ASCII separator \x1c, which Python's str.split does."""
    import tensorflow as tf

    text = "a\u00a0b c\u2003d\te\x0bf\x1cg\r\nh  don't"
    theirs = [t.decode() for t in tf.strings.split(tf.constant(text)).numpy()]
    tok = Tokenizer("word", "whitespace")
    assert tok.tokenize(text) == theirs == ["a\u00a0b", "c\u2003d", "e", "f\x1cg", "h", "don't"]
    assert text.split() != theirs
    assert tok.detokenize(["don't", "go"]) == "don't go"


def test_standardize_lowers_before_the_words_are_split() -> None:
    t = Tokenizer("word", "words", "lower_and_strip_punctuation")
    assert t.tokenize("The Cat's mat, É!") == ["the", "cats", "mat", "É"]
    assert Tokenizer("word", "words", "lower").tokenize("The Cat's") == ["the", "cat", "'", "s"]
    assert Tokenizer("char", standardize="lower").tokenize("Ab!") == ["a", "b", "!"]
    assert Tokenizer("word", "words").tokenize("The Cat") == ["The", "Cat"]  # unchanged


def test_standardize_is_kept_in_the_dict_only_when_set() -> None:
    assert Tokenizer("word", "words").to_dict() == {"level": "word", "mode": "words"}
    t = Tokenizer("word", "words", "lower")
    assert t.to_dict() == {"level": "word", "mode": "words", "standardize": "lower"}
    assert Tokenizer.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    with pytest.raises(ValueError, match="standardize must be one of .* got 'upper'"):
        Tokenizer("word", standardize="upper")  # type: ignore[arg-type]
