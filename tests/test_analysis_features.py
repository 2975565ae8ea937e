"""Tests for lib.analysis.features: regex presets, POS tags in context, structural features."""

from __future__ import annotations

import numpy as np
import pytest

from lib.analysis import features
from lib.analysis.features import (
    REGEX_PRESETS,
    SPACE_TAG,
    STRUCTURAL,
    Feature,
    FeatureError,
    bracket_depth,
    capitalised_word,
    check_binary,
    infer_level,
    inside_brackets,
    inside_quotes,
    pos_mask,
    pos_tags,
    position_in_line,
    position_in_sentence,
    position_in_word,
    punctuation,
    regex_mask,
    start_of_line,
    start_of_word,
    structural_feature,
)
from lib.data.tokenizer import Tokenizer

CHAR = Tokenizer("char")
WORD = Tokenizer("word")
WORDS_ONLY = Tokenizer("word", "words")


# --- regular expressions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "token", "expected"),
    [
        ("space", " ", True),
        ("space", "  ", False),
        ("newline", "\n", True),
        ("newline", " ", False),
        ("any capital", "A", True),
        ("any capital", "The", True),
        ("any capital", "the", False),
        ("digit", "7", True),
        ("digit", "2024", True),
        ("digit", "7a", False),
        ("punctuation", ".", True),
        ("punctuation", "?!", True),
        ("punctuation", '"', True),
        ("punctuation", "a.", False),
        ("punctuation", " ", False),
        ("sentence end", ".", True),
        ("sentence end", "?", True),
        ("sentence end", ",", False),
        ("vowel", "e", True),
        ("vowel", "E", True),
        ("vowel", "x", False),
        ("plain word", "Hello", True),
        ("plain word", "hello", True),
        ("plain word", "HeLLo", False),
        ("plain word", "|", False),
    ],
)
def test_regex_presets_fullmatch(preset: str, token: str, expected: bool) -> None:
    assert regex_mask([token], REGEX_PRESETS[preset]).tolist() == [expected]


def test_regex_mask_is_a_fullmatch_per_token() -> None:
    tokens = WORD.tokenize("The cat sat.\nA dog")
    mask = regex_mask(tokens, REGEX_PRESETS["any capital"])
    assert mask.dtype == bool and mask.shape == (len(tokens),)
    assert [t for t, m in zip(tokens, mask, strict=True) if m] == ["The", "A"]
    assert not regex_mask(tokens, "ca").any()  # a search would match "cat"


def test_invalid_regex_names_the_pattern_and_the_reason() -> None:
    with pytest.raises(FeatureError, match=r"Invalid regular expression '\[a-'.*unterminated"):
        regex_mask(["a"], "[a-")


# --- part of speech -------------------------------------------------------------------------


def test_pos_tags_word_level_in_context() -> None:
    tokens = WORD.tokenize("The dog can run.\nI can fish")
    universal = pos_tags(tokens, level="word")
    penn = pos_tags(tokens, level="word", tagset="penn")
    assert len(universal) == len(penn) == len(tokens)
    tag = dict(zip(tokens, universal, strict=True))
    assert tag["The"] == "DET" and tag["dog"] == "NOUN" and tag["run"] == "VERB"
    assert tag[" "] == tag["\n"] == SPACE_TAG
    assert tag["."] == "."
    assert penn[tokens.index("can")] == "MD"  # a modal verb here, in context
    assert penn[tokens.index(".")] == "."


def test_pos_tags_char_level_gives_each_character_its_words_tag() -> None:
    text = "The dog barked. It ran"
    tokens = CHAR.tokenize(text)
    tags = pos_tags(tokens, level="char")
    word_tags = pos_tags(WORD.tokenize(text), level="word")
    assert len(tags) == len(tokens)
    # the characters of each word carry the tag the word gets at word level
    expected = []
    for word, tag in zip(WORD.tokenize(text), word_tags, strict=True):
        expected += [tag] * len(word)
    assert tags == expected
    assert tags[text.index(".")] == "."
    assert tags[text.index(" ")] == SPACE_TAG


def test_pos_tags_penn_punctuation_tags() -> None:
    tokens = WORD.tokenize('He said "yes" (twice), ok')
    tags = pos_tags(tokens, level="word", tagset="penn")
    punct = [tag for tag, tok in zip(tags, tokens, strict=True) if tok in '"(),']
    assert len(punct) == 5
    # the tagger never saw a bare '"'; whatever it guesses, punctuation keeps a punctuation tag
    assert all(tag in features.PENN_PUNCTUATION for tag in punct)
    assert tags[tokens.index(",")] == ","


def test_pos_tags_of_whitespace_only_text_need_no_tagger() -> None:
    assert pos_tags([" ", "\n", ""], level="char") == [SPACE_TAG] * 3
    assert pos_tags(["<unk>", " "], level="word") == ["X", SPACE_TAG]
    assert pos_tags([], level="word") == []


def test_pos_mask() -> None:
    tags = ["DET", "NOUN", SPACE_TAG, "VERB", "NOUN"]
    assert pos_mask(tags, {"NOUN"}).tolist() == [False, True, False, False, True]
    assert pos_mask(tags, "VERB").tolist() == [False, False, False, True, False]
    assert pos_mask(tags, {"NOUN", "VERB"}).sum() == 3


def test_missing_tagger_data_says_how_to_fix(monkeypatch) -> None:
    import nltk

    def missing(*args, **kwargs):
        raise LookupError("Resource averaged_perceptron_tagger_eng not found.")

    def offline(*args, **kwargs):
        raise ValueError("no network")

    monkeypatch.setattr(nltk, "pos_tag", missing)
    monkeypatch.setattr(nltk, "download", offline)
    features._tagger_ready.cache_clear()
    try:
        expected = r"POS tagging is unavailable.*\(no network\).*NLTK_DATA"
        with pytest.raises(FeatureError, match=expected):
            pos_tags(["a", " ", "dog"], level="word")
    finally:
        features._tagger_ready.cache_clear()


# --- structural features --------------------------------------------------------------------


def _runs(text: str, mask) -> list[str]:
    """The maximal runs of characters where ``mask`` is True."""
    runs, current = [], ""
    for char, hit in zip(text, mask, strict=True):
        if hit:
            current += char
        elif current:
            runs, current = [*runs, current], ""
    return runs + [current] if current else runs


def test_inside_quotes_char_level_includes_the_quote_marks() -> None:
    tokens = CHAR.tokenize('a "bc" d')
    assert inside_quotes(tokens).astype(int).tolist() == [0, 0, 1, 1, 1, 1, 0, 0]


def test_inside_quotes_tells_apostrophes_from_single_quotes() -> None:
    # labelled by hand: the quotations are exactly these spans
    text = (
        "He said \"it's fine\" and left. \u2018Don\u2019t,\u2019 she said; the students' "
        "books were \u201cold \u2018n\u2019 worn\u201d. 'Yes,' I said, don't."
    )
    assert _runs(text, inside_quotes(CHAR.tokenize(text))) == [
        '"it\'s fine"',
        "\u2018Don\u2019t,\u2019",
        "\u201cold \u2018n\u2019 worn\u201d",
        "'Yes,'",
    ]
    # the old rule (parity of '"' only) missed all but the first; apostrophes open nothing
    assert not inside_quotes(CHAR.tokenize("it's the students' books, don't")).any()


def test_inside_quotes_single_quotes_that_never_close_are_apostrophes() -> None:
    text = "The '90s were fine.\n\nHe said \"go on\n\nNext"
    # '90s opens a single quotation that never closes: an apostrophe; the double quote runs
    # to the end of its paragraph, not beyond
    assert _runs(text, inside_quotes(CHAR.tokenize(text))) == ['"go on']
    # a typographic closing mark with nothing open is an apostrophe (\u201990s)
    assert not inside_quotes(CHAR.tokenize("the \u201990s\u201d")).any()


def test_inside_quotes_skips_escaped_quotes() -> None:
    text = r'x = "a\"b" + "\\" + y'
    inside = inside_quotes(CHAR.tokenize(text))
    assert "".join(c for c, m in zip(text, inside, strict=True) if m) == r'"a\"b""\\"'


def test_inside_quotes_word_level_and_several_quotes_in_one_token() -> None:
    tokens = ["say", " ", '"', "hi", " ", "there", '"', " ", "ok"]
    assert inside_quotes(tokens).astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0]
    # a token holding an even number of quotes is inside but leaves the state closed
    assert inside_quotes(["a", '""', "b", '"', "c"]).astype(int).tolist() == [0, 1, 0, 1, 1]


def test_bracket_depth_rules() -> None:
    tokens = CHAR.tokenize("f(a[b]) x) (y")
    depth = bracket_depth(tokens)
    assert depth.tolist() == [0, 1, 1, 2, 2, 2, 1, 0, 0, 0, 0, 1, 1]
    # opening brackets have the depth after opening, closing ones the depth before closing;
    # the unmatched ")" at depth 0 is ignored
    assert inside_brackets(tokens).tolist() == (depth > 0).tolist()


def test_bracket_depth_word_level_and_multichar_tokens() -> None:
    assert bracket_depth(WORD.tokenize("g(h(x), {y})")).tolist() == [
        0,
        1,
        1,
        2,
        2,
        2,
        1,
        1,
        2,
        2,
        2,
        1,
    ]
    assert bracket_depth(["(a)", "b", "[[", "c", "]]"]).tolist() == [1, 0, 2, 2, 2]
    assert bracket_depth([]).tolist() == []


def test_position_in_line_counts_characters_at_both_levels() -> None:
    text = "ab c\nde\n\nf"
    assert position_in_line(CHAR.tokenize(text)).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 0, 0]
    tokens = WORD.tokenize(text)  # ab, " ", c, \n, de, \n, \n, f
    assert position_in_line(tokens).tolist() == [0, 2, 3, 4, 0, 2, 0, 0]


def test_position_in_word_and_start_of_word() -> None:
    tokens = CHAR.tokenize("ab c_1 .d")
    assert position_in_word(tokens).tolist() == [0, 1, -1, 0, 1, 2, -1, -1, 0]
    assert start_of_word(tokens).astype(int).tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 1]
    words = WORD.tokenize("ab c_1 .d")
    assert position_in_word(words).tolist() == [0, -1, 0, -1, -1, 0]
    assert start_of_word(words).astype(int).tolist() == [1, 0, 1, 0, 0, 1]
    # without whitespace, neighbouring word tokens are still separate words
    assert position_in_word(WORDS_ONLY.tokenize("ab cd e")).tolist() == [0, 0, 0]
    # one-character words only look like characters: say the level
    assert position_in_word(["a", "b"]).tolist() == [0, 1]
    assert position_in_word(["a", "b"], level="word").tolist() == [0, 0]


def test_infer_level() -> None:
    assert infer_level(CHAR.tokenize("a b\n")) == "char"
    assert infer_level(["a", "<unk>", "b"]) == "char"
    assert infer_level(WORD.tokenize("ab c")) == "word"


def test_structural_feature_builds_typed_features() -> None:
    tokens = CHAR.tokenize('f("x")')
    quoted = structural_feature(tokens, "inside quotes")
    depth = structural_feature(tokens, "bracket depth")
    assert quoted.kind == "binary" and quoted.values.dtype == bool and len(quoted) == 6
    assert depth.kind == "numeric" and depth.values.tolist() == [0, 1, 1, 1, 1, 1]


def test_structural_feature_offers_the_code_features() -> None:
    text = "def f(x):\n    return '(' + x  # )\n"
    tokens = CHAR.tokenize(text)
    assert set(features.CODE_STRUCTURAL) <= set(STRUCTURAL)
    literal = structural_feature(tokens, "inside string literal", level="char")
    assert literal.kind == "binary" and _runs(text, literal.values) == ["'('"]
    comment = structural_feature(tokens, "inside comment", level="char")
    assert _runs(text, comment.values) == ["# )"]
    indent = structural_feature(tokens, "indentation depth", level="char")
    assert indent.kind == "numeric" and indent.values.tolist() == [0] * 10 + [1] * (len(text) - 10)
    # brackets in strings and comments do not count in code, but do in any text
    code_depth = structural_feature(tokens, "bracket depth in code", level="char").values
    assert code_depth[text.index("'(") + 1 :].max() == 0
    assert bracket_depth(tokens)[text.index("'(") + 2] == 1
    # every name of STRUCTURAL builds, at both levels
    for level, toks in (("char", tokens), ("word", WORD.tokenize(text))):
        for name in STRUCTURAL:
            assert len(structural_feature(toks, name, level=level)) == len(toks)


def test_start_of_line() -> None:
    assert start_of_line(CHAR.tokenize("ab\nc\n\nd")).astype(int).tolist() == [
        1, 0, 0, 1, 0, 1, 1
    ]  # fmt: skip
    assert start_of_line(WORD.tokenize("ab c\nd e")).astype(int).tolist() == [1, 0, 0, 0, 1, 0, 0]


def test_position_in_sentence_hand_labelled() -> None:
    text = "Hi there. Go on! yes? (A) b.\nNew line\n\nlast one"
    position = position_in_sentence(CHAR.tokenize(text))
    starts = [i for i, p in enumerate(position) if p == 0]
    # sentences start at the text, "Go", "(A)" (an opening bracket before a capital), "New"
    # (after a line end) and "last" (after a blank line); "yes" is lower case: no start
    assert [text[i : i + 3] for i in starts] == ["Hi ", "Go ", "(A)", "New", "las"]
    assert position[text.index("there")] == 3 and position[text.index("yes")] == 7
    words = WORD.tokenize("I ran. You sat")  # I, " ", ran, ., " ", You, " ", sat
    assert position_in_sentence(words).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert position_in_sentence([]).tolist() == []


def test_capitalised_word_and_punctuation() -> None:
    text = "The NASA \u00e9lan \u00c9t\u00e9 x2 A."
    assert _runs(text, capitalised_word(CHAR.tokenize(text))) == [
        "The",
        "NASA",
        "\u00c9t\u00e9",
        "A",
    ]
    words = WORD.tokenize(text)
    assert [w for w, c in zip(words, capitalised_word(words), strict=True) if c] == [
        "The", "NASA", "\u00c9t\u00e9", "A"
    ]  # fmt: skip
    tokens = ["a", ".", "\u2014", "\u201c", "+", "..", "a.", " ", ""]
    assert punctuation(tokens).tolist() == [
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_check_binary_accepts_a_split_and_returns_bools() -> None:
    assert check_binary(np.array([0, 1, 0])).tolist() == [False, True, False]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: check_binary(np.zeros(7, bool), "space"), "'space' matches none of the 7 tokens"),
        (
            lambda: check_binary(np.ones(4, bool), "any"),
            "'any' matches every token.*relevance would be 0 for every neuron",
        ),
        (lambda: check_binary(np.array([0, 2, 1]), "x"), "must be boolean.*got dtype int"),
        (lambda: check_binary(np.zeros((2, 2), bool), "x"), r"must be 1-D.*\(2, 2\)"),
        (lambda: regex_mask(["a"], None), "must be a str, got None"),
        (lambda: pos_tags(["a"], level="byte"), "level must be one of.*got 'byte'"),
        (lambda: pos_tags(["a"], level="word", tagset="brown"), "tagset.*got 'brown'"),
        (lambda: position_in_word(["a"], level="line"), "level must be one of"),
        (lambda: structural_feature(["a"], "indent"), "must be one of.*got 'indent'"),
        (lambda: Feature("f", np.zeros(3), kind="ordinal"), "kind must be one of"),
        (lambda: Feature("f", np.zeros((3, 1)), kind="numeric"), r"1-D.*\(3, 1\)"),
        (lambda: Feature("f", np.array(["a"]), kind="numeric"), "must be numbers"),
    ],
)
def test_feature_errors(call, match: str) -> None:
    with pytest.raises(FeatureError, match=match):
        call()
