"""The feature bank: every feature a neuron may be found to track, chosen for the text.

The Neuron Atlas (:mod:`lib.analysis.atlas`) scores every neuron of a layer against every
feature of the bank, so the bank decides which neurons are "found". A feature is only as
good as its labels: counting ``"`` by parity marks docstrings as inside and misses every
``'...'`` string (Cohen's kappa 0.09-0.19 against string literals from Python's own
tokenizer on 20,000-character slices of the standard library; the "inside string literal"
feature here has 1.0, see :mod:`lib.analysis.code_structure`). So the bank depends on the
kind of text, which :func:`text_kind` tells from the text itself:

- **code** (Python source, :func:`code_features`): inside string literal, inside docstring,
  inside comment, keyword, identifier, number, indentation depth, bracket depth in code
  (all read with Python's :mod:`tokenize`, robust to slices that start and end anywhere),
  position in line (the line-length cell of Karpathy, Johnson & Fei-Fei 2015) and start of
  line;
- **prose** (:func:`prose_features`): inside quotes (apostrophes are not quotes), position
  in sentence, position in word, capitalised word, punctuation, and one feature per
  universal part-of-speech tag that occurs ("POS NOUN", ...).

A feature that cannot split this text (a binary one true at no token or at every token, a
numeric one constant) is left out with the reason in :attr:`FeatureBank.skipped`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from lib.analysis.code_structure import SCORE_WINDOW, code_structure
from lib.analysis.features import (
    LEVELS,
    SPACE_TAG,
    Feature,
    FeatureError,
    capitalised_word,
    code_labels,
    code_text,
    inside_quotes,
    pos_mask,
    pos_tags,
    position_in_line,
    position_in_sentence,
    position_in_word,
    punctuation,
    start_of_line,
)
from lib.data.tokenizer import Level

TextKind = Literal["code", "prose"]
TEXT_KINDS: tuple[TextKind, ...] = get_args(TextKind)
#: Python source read as code has at most this many implausibilities (error tokens and
#: values side by side) per name, number or string: at most 0.01 on 2,000-character slices
#: of the standard library, 0.25 or more for English prose
MAX_ERRORS_PER_TOKEN = 0.05
#: ... and this share of its characters or more outside strings and comments (at least
#: 0.18 on 20,000-character slices of the standard library; prose reads best as one
#: unclosed string, share 0)
MIN_CODE_SHARE = 0.1
#: fewer names, numbers and strings than this cannot tell code from prose: prose
MIN_CODE_TOKENS = 3

#: how each feature is named in a sentence ("no token is inside a comment")
_PHRASES = {
    "inside string literal": "inside a string literal",
    "inside docstring": "inside a docstring",
    "inside comment": "inside a comment",
    "keyword": "a keyword",
    "identifier": "an identifier",
    "number": "a number",
    "start of line": "at the start of a line",
    "inside quotes": "inside quotes",
    "capitalised word": "in a capitalised word",
    "punctuation": "punctuation",
}


@dataclass(frozen=True)
class FeatureBank:
    """The features of one text, and those left out.

    Attributes
    ----------
    features : list of Feature
        Each with values of shape (T,): binary ones true at some tokens and false at
        others, numeric ones not constant.
    skipped : dict of str to str
        Feature name -> why it is not in the bank on this text, e.g. ``"inside comment":
        "no token is inside a comment"``.
    kind : {"code", "prose"}
        The kind of text the bank was built for.
    """

    features: list[Feature]
    skipped: dict[str, str]
    kind: TextKind


def text_kind(tokens: Sequence[str]) -> TextKind:
    r"""Tell Python source from prose by reading the text as Python.

    Parameters
    ----------
    tokens : sequence of str
        Any tokens (char or word level); only the first
        :data:`~lib.analysis.code_structure.SCORE_WINDOW` characters are read.

    Returns
    -------
    kind : {"code", "prose"}

    Notes
    -----
    The text is read with Python's :mod:`tokenize` as
    :func:`lib.analysis.code_structure.code_structure` does, start state and all. It is
    code when that reading reads at least :data:`MIN_CODE_TOKENS` names, numbers and strings
    as code, with at most :data:`MAX_ERRORS_PER_TOKEN` implausibilities per token (English
    read as code puts words side by side, which Python's grammar never does), and at least
    :data:`MIN_CODE_SHARE` of the characters outside strings and comments (prose reads best
    as one string that never closes). On 60 random slices of each corpus: of 20,000
    characters, all 60 of the standard library are code and none of the Python language
    reference or of five NLTK corpora (Brown, State of the Union, web text, Shakespeare,
    movie reviews) are; of 2,000 characters, 58 of 60 and none (the two lie almost all
    inside docstrings); of 300 characters, 57 of 60 and 5 of 360.

    Examples
    --------
    >>> text_kind(list("def f(x):\n    return x + 1\n"))
    'code'
    >>> text_kind(list("The cat sat on the mat. It was happy there."))
    'prose'
    """
    text, _ = code_text(tokens)
    window = code_structure(text[:SCORE_WINDOW])
    n_code = window.n_code_tokens
    if (
        n_code >= MIN_CODE_TOKENS
        and window.implausibility <= MAX_ERRORS_PER_TOKEN * n_code
        and window.code_share >= MIN_CODE_SHARE
    ):
        return "code"
    return "prose"


def code_features(tokens: Sequence[str], *, level: Level) -> list[Feature]:
    """Every code feature of a Python source text (see the module docstring).

    Parameters
    ----------
    tokens : sequence of str, length T
        Python source; a slice of a corpus may start and end anywhere (inside a string, a
        bracket or a block).
    level : {"char", "word"}

    Returns
    -------
    features : list of Feature
        "inside string literal", "inside docstring", "inside comment", "keyword",
        "identifier", "number" (binary), "indentation depth", "bracket depth in code",
        "position in line" (numeric) and "start of line" (binary), values of shape (T,).

    Notes
    -----
    The first eight come from :func:`lib.analysis.features.code_labels` (Python's
    :mod:`tokenize`; a token takes the label of its first character). "bracket depth in
    code" counts only brackets outside strings and comments, unlike the "bracket depth" of
    any text. "position in line" is the column of the token's first character: the feature
    of Karpathy, Johnson & Fei-Fei's (2015) line-length cell. A "line length so far" (the
    characters of the line up to and including the token) would be the column plus the
    token's length, so at char level the column plus 1: the same ranking, so it is not a
    feature of its own.
    """
    _check_level(level)
    features = [
        Feature(name, values, "binary" if values.dtype == bool else "numeric")
        for name, values in code_labels(tokens, level=level).items()
    ]
    features.append(Feature("position in line", position_in_line(tokens), "numeric"))
    features.append(Feature("start of line", start_of_line(tokens), "binary"))
    return features


def prose_features(tokens: Sequence[str], *, level: Level, pos: bool = True) -> list[Feature]:
    """Every prose feature of a text (see the module docstring).

    Parameters
    ----------
    tokens : sequence of str, length T
    level : {"char", "word"}
    pos : bool, default True
        Tag parts of speech (NLTK's perceptron tagger, universal tags); False skips the
        tagger.

    Returns
    -------
    features : list of Feature
        "inside quotes" (binary), "position in sentence", "position in word" (numeric),
        "capitalised word", "punctuation" (binary), then "POS <TAG>" (binary) for every
        universal tag that occurs (whitespace, tagged ``SPACE``, is not a part of speech),
        values of shape (T,).

    Raises
    ------
    FeatureError
        If `pos` and the tagger data is missing and cannot be downloaded.

    Notes
    -----
    At word level every feature is computed per token: "position in sentence" counts tokens
    and "position in word" is 0 for word tokens and -1 for the others.
    """
    _check_level(level)
    features = [
        Feature("inside quotes", inside_quotes(tokens), "binary"),
        Feature("position in sentence", position_in_sentence(tokens), "numeric"),
        Feature("position in word", position_in_word(tokens, level=level), "numeric"),
        Feature("capitalised word", capitalised_word(tokens, level=level), "binary"),
        Feature("punctuation", punctuation(tokens), "binary"),
    ]
    if pos:
        tags = pos_tags(tokens, level=level, tagset="universal")
        for tag in sorted(set(tags) - {SPACE_TAG}):
            features.append(Feature(f"POS {tag}", pos_mask(tags, tag), "binary"))
    return features


def _why_not(feature: Feature) -> str | None:
    """Why `feature` cannot split the text, or None when it can."""
    values = feature.values
    name = feature.name
    phrase = _PHRASES.get(name, f"tagged {name[4:]}" if name.startswith("POS ") else name)
    if feature.kind == "binary":
        if not values.any():
            return f"no token is {phrase}"
        if values.all():
            return f"every token is {phrase}"
        return None
    if values.size == 0:
        return "the text has no tokens"
    if np.all(values == values[0]):
        return f"it is {values[0]} at every token"
    return None


def feature_bank(
    tokens: Sequence[str], *, level: Level, kind: TextKind | None = None, pos: bool = True
) -> FeatureBank:
    r"""Build the features that can split a text, for code or for prose.

    Parameters
    ----------
    tokens : sequence of str, length T
        E.g. ``trace.tokens``.
    level : {"char", "word"}
    kind : {"code", "prose"} or None, default None
        None tells it from the text with :func:`text_kind`.
    pos : bool, default True
        Prose only: add the part-of-speech features (the tagger is the slowest part). When
        the tagger data is missing, the bank is built without them and says why in
        ``skipped["part of speech"]``.

    Returns
    -------
    FeatureBank
        :func:`code_features` or :func:`prose_features`; a binary feature true at no token
        or at every token, or a numeric one with one value, is in ``skipped`` with the
        reason instead of in ``features``.

    Raises
    ------
    FeatureError
        If `level` or `kind` is not one of the allowed values.

    Examples
    --------
    >>> bank = feature_bank(list("x = 'a'  # b\n"), level="char", kind="code")
    >>> bank.kind, [f.name for f in bank.features][:3]
    ('code', ['inside string literal', 'inside comment', 'identifier'])
    >>> bank.skipped["inside docstring"]
    'no token is inside a docstring'
    """
    _check_level(level)
    if kind is not None and kind not in TEXT_KINDS:
        raise FeatureError(f"kind must be one of {TEXT_KINDS} or None, got {kind!r}.")
    kind = text_kind(tokens) if kind is None else kind
    skipped: dict[str, str] = {}
    if kind == "code":
        candidates = code_features(tokens, level=level)
    else:
        try:
            candidates = prose_features(tokens, level=level, pos=pos)
        except FeatureError as err:
            candidates = prose_features(tokens, level=level, pos=False)
            skipped["part of speech"] = str(err)
    features = []
    for feature in candidates:
        reason = _why_not(feature)
        if reason is None:
            features.append(feature)
        else:
            skipped[feature.name] = reason
    return FeatureBank(features=features, skipped=skipped, kind=kind)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise FeatureError(f"level must be one of {LEVELS}, got {level!r}.")
