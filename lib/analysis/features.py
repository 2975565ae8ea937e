r"""The feature of interest: one value per token, as a numpy array of shape (T,).

A feature is binary (a boolean mask: does token t have the property?) or numeric (an
integer or float per token, e.g. the bracket depth). Seed 000 (section 1.2) defines the
feature as a regular expression matched with ``re.fullmatch`` against every token, plus NLTK
part-of-speech tags at word level; this module adds POS tags in context at both levels and
structural features of the text (quotes, brackets, position in line and word).

Tokens are the strings of :attr:`lib.run.trace.Trace.tokens`. At character level each token is
one character; at word level tokens are words (``\w+``) and single non-word characters
(:data:`lib.data.tokenizer.WORD_PATTERN`), or words and punctuation without whitespace.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import numpy.typing as npt
import regex

from lib.data.tokenizer import Level

#: label -> regular expression matched with ``re.fullmatch`` against each token (seed 000)
REGEX_PRESETS: dict[str, str] = {
    "space": " ",
    "newline": "\n",
    "any capital": "[A-Z].*",  # a capital letter (char level) or a word starting with one
    "digit": "[0-9]+",  # a digit, or a token made of digits
    "punctuation": "[" + re.escape(string.punctuation) + "]+",  # ASCII punctuation only
    "sentence end": "[.!?]",
    "vowel": "[aeiouAEIOU]",
    "plain word": "[A-Za-z][a-z]*",  # seed 000's '[A-Z|a-z][a-z]*' without the stray '|'
}

LEVELS: tuple[Level, ...] = get_args(Level)
TAGSETS = ("universal", "penn")
#: tag given to whitespace (and empty) tokens, which the tagger never sees
SPACE_TAG = "SPACE"
#: Penn Treebank's punctuation tags; other tags the tagger guesses for a non-word token
#: (it has never seen a bare '"') become "SYM"
PENN_PUNCTUATION = frozenset({".", ",", ":", "(", ")", "``", "''", "#", "$", "SYM"})
#: the unknown-token marker of :class:`lib.data.tokenizer.Vocab`; one token even at char level
UNK = "<unk>"
#: tag given to :data:`UNK` tokens (universal "X", other), which the tagger never sees
UNK_TAG = "X"
KINDS = ("binary", "numeric")
STRUCTURAL = (
    "inside quotes",
    "inside brackets",
    "bracket depth",
    "position in line",
    "position in word",
    "start of word",
)

_WORD = re.compile(r"\w+")
REGEX_TIMEOUT = 2.0
"""Seconds a user's regular expression may take over a whole text (a shared server)."""
_TAG_CHUNK = 1_000  # words per tagger call
_TAGGER_DATA = {
    "penn": ("averaged_perceptron_tagger_eng",),
    "universal": ("averaged_perceptron_tagger_eng", "universal_tagset"),
}


class FeatureError(ValueError):
    """A feature that cannot be built or used; the message names the cause and the fix."""


@dataclass
class Feature:
    """One value per token.

    Parameters
    ----------
    name : str
        Label shown to the user, e.g. ``"regex ' '"`` or ``"bracket depth"``.
    values : ndarray of shape (T,)
        Boolean for ``kind="binary"``, numbers for ``kind="numeric"``.
    kind : {"binary", "numeric"}
    """

    name: str
    values: np.ndarray
    kind: str = "binary"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FeatureError(f"kind must be one of {KINDS}, got {self.kind!r}.")
        values = np.asarray(self.values)
        if values.ndim != 1:
            raise FeatureError(f"Feature values must be 1-D (T,), got shape {values.shape}.")
        if self.kind == "binary":
            values = as_mask(values, values.shape[0], name=self.name)
        elif values.dtype.kind not in "fiub":
            raise FeatureError(f"Numeric feature values must be numbers, got {values.dtype}.")
        self.values = values

    def __len__(self) -> int:
        return self.values.shape[0]


# --- masks ----------------------------------------------------------------------------------


def as_mask(mask: npt.ArrayLike, n_steps: int, *, name: str = "mask") -> np.ndarray:
    """Return `mask` as a boolean array of shape (n_steps,).

    Accepts booleans or the integers 0/1; raises FeatureError for anything else or for a
    length that is not `n_steps`.
    """
    mask = np.asarray(mask)
    if mask.ndim != 1 or mask.shape[0] != n_steps:
        raise FeatureError(
            f"`{name}` must have shape ({n_steps},) to match the activations, got {mask.shape}."
        )
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise FeatureError(f"`{name}` must be boolean (or 0/1), got dtype {mask.dtype}.")
        mask = mask.astype(bool)
    return mask


def check_binary(mask: npt.ArrayLike, name: str = "feature") -> np.ndarray:
    """Check that a binary feature splits the steps into two non-empty groups.

    Parameters
    ----------
    mask : array-like of bool, shape (T,)
    name : str
        The feature's label, used in the message.

    Returns
    -------
    mask : ndarray of bool, shape (T,)

    Raises
    ------
    FeatureError
        If the mask matches no token, or every token (seed 000, Figure 5.1: with the
        "any" feature every relevance is 0).
    """
    mask = np.asarray(mask)
    if mask.ndim != 1:
        raise FeatureError(f"Feature {name!r} must be 1-D (T,), got shape {mask.shape}.")
    mask = as_mask(mask, mask.shape[0], name=name)
    n_steps, n_hits = mask.shape[0], int(np.count_nonzero(mask))
    if n_hits == 0:
        raise FeatureError(f"Feature {name!r} matches none of the {n_steps} tokens.")
    if n_hits == n_steps:
        raise FeatureError(
            f"Feature {name!r} matches every token ({n_steps}): relevance would be 0 "
            "for every neuron."
        )
    return mask


def regex_mask(
    tokens: Sequence[str], pattern: str, *, timeout: float = REGEX_TIMEOUT
) -> np.ndarray:
    """Tokens that match a regular expression in full (``re.fullmatch``, seed 000).

    The pattern runs on the ``regex`` package (``re``'s syntax) with a time budget: a
    pattern with catastrophic backtracking, e.g. ``(a+)+b``, is stopped after `timeout`
    seconds in all instead of hanging a shared server.

    Parameters
    ----------
    tokens : sequence of str, length T
    pattern : str
        E.g. a value of :data:`REGEX_PRESETS`.
    timeout : float
        Seconds for matching every distinct token.

    Returns
    -------
    mask : ndarray of bool, shape (T,)

    Raises
    ------
    FeatureError
        If `pattern` is not a valid regular expression, or matching takes over `timeout`.
    """
    if not isinstance(pattern, str):
        raise FeatureError(f"The regular expression must be a str, got {pattern!r}.")
    try:
        compiled = regex.compile(pattern, flags=regex.VERSION0)
    except (regex.error, re.error) as err:
        raise FeatureError(f"Invalid regular expression {pattern!r}: {err}.") from None
    # match each distinct token once: texts have far fewer distinct tokens than tokens
    deadline = time.monotonic() + timeout
    hits = {}
    try:
        for tok in set(tokens):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            hits[tok] = compiled.fullmatch(tok, timeout=left) is not None
    except TimeoutError:
        raise FeatureError(
            f"The regular expression {pattern!r} took over {timeout:g} s and was stopped; it "
            "probably backtracks catastrophically (nested repeats such as (a+)+). Simplify "
            "it."
        ) from None
    return np.fromiter((hits[tok] for tok in tokens), dtype=bool, count=len(tokens))


# --- part of speech -------------------------------------------------------------------------


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise FeatureError(f"level must be one of {LEVELS}, got {level!r}.")


def infer_level(tokens: Sequence[str]) -> Level:
    """``"char"`` when every token is one character (or :data:`UNK`), else ``"word"``.

    A word-level text made only of one-letter words reads as characters; pass the level
    explicitly when it is known (``trace.meta`` or the model's spec).
    """
    return "char" if all(len(tok) <= 1 or tok == UNK for tok in tokens) else "word"


def _tagger_fix() -> str:
    return (
        "connect to the network once so NLTK can download it, or run "
        "`python -m nltk.downloader averaged_perceptron_tagger_eng universal_tagset` "
        "and point NLTK_DATA at the folder"
    )


@functools.cache
def _tagger_ready(tagset: str) -> bool:
    """Tag one word, downloading the tagger data once if it is missing (cached on success)."""
    import nltk

    from lib.data.corpora import NLTK_DATA_DIR  # adds the project's download dir to nltk.data.path

    nltk_tagset = None if tagset == "penn" else tagset
    try:
        nltk.pos_tag(["test"], tagset=nltk_tagset)
        return True
    except LookupError:
        pass
    try:
        for package in _TAGGER_DATA[tagset]:
            nltk.download(package, download_dir=str(NLTK_DATA_DIR), quiet=True, raise_on_error=True)
        nltk.pos_tag(["test"], tagset=nltk_tagset)
    except (LookupError, OSError, ValueError) as err:
        lines = str(err).strip().splitlines()
        reason = (
            "downloaded data not found" if isinstance(err, LookupError) or not lines else lines[0]
        )
        raise FeatureError(
            f"POS tagging is unavailable: the NLTK tagger data ({', '.join(_TAGGER_DATA[tagset])}) "
            f"is missing and could not be downloaded ({reason}); {_tagger_fix()}."
        ) from None
    return True


def _tag_units(words: list[str], tagset: str) -> list[str]:
    import nltk

    _tagger_ready(tagset)
    nltk_tagset = None if tagset == "penn" else tagset
    tags: list[str] = []
    for i in range(0, len(words), _TAG_CHUNK):
        tags.extend(tag for _, tag in nltk.pos_tag(words[i : i + _TAG_CHUNK], tagset=nltk_tagset))
    return tags


def pos_tags(tokens: Sequence[str], *, level: Level, tagset: str = "universal") -> list[str]:
    r"""Part-of-speech tag of every token, tagged in context with NLTK's perceptron tagger.

    Parameters
    ----------
    tokens : sequence of str, length T
    level : {"char", "word"}
        ``"word"``: every non-whitespace token is one tagger input. ``"char"``: runs of word
        characters (``\w``) are joined back into words; every character gets its word's tag.
    tagset : {"universal", "penn"}, default "universal"
        Universal tags (NOUN, VERB, ADJ, ., ...) or Penn Treebank tags (NN, VBD, JJ, ...).

    Returns
    -------
    tags : list of str, length T
        Whitespace tokens (and empty tokens) get :data:`SPACE_TAG` and the unknown-token
        marker :data:`UNK` gets :data:`UNK_TAG` (``"X"``) in both tagsets. Other non-word tokens
        (punctuation, symbols) are shown to the tagger for context and get ``"."`` in the
        universal tagset, and in Penn the tagger's punctuation tag (``","``, ``"("``, ...;
        :data:`PENN_PUNCTUATION`) or ``"SYM"``.

    Raises
    ------
    FeatureError
        If `level` or `tagset` is unknown, or the tagger data is missing and cannot be
        downloaded (into ``lib.data.corpora.NLTK_DATA_DIR``).

    Notes
    -----
    Seed 000's code tags each word in isolation (``nltk.pos_tag([token])``); tagging in
    context is more accurate ("can" as a verb or noun). Text is not split into sentences
    (punkt is not available); the tagger sees chunks of 1,000 words, which costs it a little
    context at each chunk edge. At character level words are rebuilt as maximal ``\w`` runs,
    so "don't" becomes "don", "'", "t", whereas the Penn tokenizer would give "do", "n't".
    """
    _check_level(level)
    if tagset not in TAGSETS:
        raise FeatureError(f"tagset must be one of {TAGSETS}, got {tagset!r}.")
    # units: (text shown to the tagger, first token, one past the last token, is a word)
    units: list[tuple[str, int, int, bool]] = []
    tags = [SPACE_TAG] * len(tokens)
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if not tok or tok.isspace() or tok == UNK:
            tags[i] = UNK_TAG if tok == UNK else SPACE_TAG
            i += 1
            continue
        j = i + 1
        if level == "char" and _WORD.fullmatch(tok):
            while j < n and tokens[j] and _WORD.fullmatch(tokens[j]):
                j += 1
            units.append(("".join(tokens[i:j]), i, j, True))
        else:
            units.append((tok, i, j, _WORD.fullmatch(tok) is not None))
        i = j
    unit_tags = _tag_units([u[0] for u in units], tagset) if units else []
    for (_, start, stop, is_word), tag in zip(units, unit_tags, strict=True):
        if not is_word:  # punctuation: tagged in context, but always a punctuation tag
            tag = "." if tagset == "universal" else tag if tag in PENN_PUNCTUATION else "SYM"
        tags[start:stop] = [tag] * (stop - start)
    return tags


def pos_mask(tags: Sequence[str], wanted: str | Collection[str]) -> np.ndarray:
    """Tokens whose tag is in `wanted`.

    Parameters
    ----------
    tags : sequence of str, length T
        From :func:`pos_tags`.
    wanted : set of str (or one str)
        E.g. ``{"NOUN"}`` or ``{"VB", "VBD", "VBZ"}``.

    Returns
    -------
    mask : ndarray of bool, shape (T,)
    """
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    return np.fromiter((tag in wanted for tag in tags), dtype=bool, count=len(tags))


# --- structural features --------------------------------------------------------------------


def _codes(tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code points of the joined text, and each token's start and end offset in it."""
    lengths = np.fromiter((len(tok) for tok in tokens), dtype=np.int64, count=len(tokens))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    text = "".join(tokens)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return codes, starts, ends


def _per_token_max(
    char_values: np.ndarray, before: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """max(value before the token, values of its characters); empty tokens get `before`."""
    out = before.copy()
    nonempty = ends > starts
    if nonempty.any():
        reduced = np.maximum.reduceat(char_values, starts[nonempty])
        out[nonempty] = np.maximum(out[nonempty], reduced)
    return out


def inside_quotes(tokens: Sequence[str]) -> np.ndarray:
    r"""Tokens inside a double-quoted span, the quote characters included.

    Parameters
    ----------
    tokens : sequence of str, length T

    Returns
    -------
    inside : ndarray of bool, shape (T,)

    Notes
    -----
    Rule: a token is inside when an odd number of unescaped ``"`` came before it in the
    text, or when it contains an unescaped ``"`` itself. So both delimiters belong to the
    quotation: ``a "b" c`` gives False, False, True, True, True, False, False at char level,
    and a word-level token holding several quotes (``""``) is inside. A quote preceded by
    an odd number of backslashes is escaped (``\"``) and ignored; an escaped backslash
    (``\\"``) does not escape the quote. Only ASCII ``"`` counts; single quotes are too
    often apostrophes, and typographic quotes are not handled.
    """
    text = "".join(tokens)
    _, starts, ends = _codes(tokens)
    is_quote = np.zeros(len(text), dtype=np.int64)
    for m in re.finditer(r'\\.|"', text, flags=re.DOTALL):  # one pass; skips escape pairs
        if m.group() == '"':
            is_quote[m.start()] = 1
    quotes_before = np.concatenate([[0], np.cumsum(is_quote)])  # quotes in text[:k]
    before = quotes_before[starts]
    own = quotes_before[ends] - before
    return (before % 2 == 1) | (own > 0)


def bracket_depth(tokens: Sequence[str]) -> np.ndarray:
    """Nesting depth of ``( [ {`` brackets at each token.

    Parameters
    ----------
    tokens : sequence of str, length T

    Returns
    -------
    depth : ndarray of int64, shape (T,)

    Notes
    -----
    An opening bracket has the depth after opening and a closing bracket the depth before
    closing, so ``f(a)`` gives 0, 1, 1, 1 and both brackets count as inside. The depth never
    goes below 0: an unmatched closing bracket at depth 0 is ignored. Bracket kinds are not
    matched against each other (``(]`` closes). A multi-character token gets the largest
    depth reached inside it.
    """
    codes, starts, ends = _codes(tokens)
    step = np.zeros(codes.shape[0], dtype=np.int64)
    step[np.isin(codes, [ord(c) for c in "([{"])] = 1
    step[np.isin(codes, [ord(c) for c in ")]}"])] = -1
    walk = np.cumsum(step)
    # reflect the walk at 0 (Skorokhod): depth = walk - min(0, running minimum of walk)
    after = walk - np.minimum(0, np.minimum.accumulate(walk)) if walk.size else walk
    before_char = np.concatenate([[0], after[:-1]]) if after.size else after
    char_depth = np.maximum(after, before_char)
    depth_at = np.concatenate([[0], after])  # depth after the first k characters
    return _per_token_max(char_depth, depth_at[starts], starts, ends)


def inside_brackets(tokens: Sequence[str]) -> np.ndarray:
    """Tokens at bracket depth > 0, the brackets included; bool of shape (T,).

    See :func:`bracket_depth` for the rule.
    """
    return bracket_depth(tokens) > 0


def position_in_line(tokens: Sequence[str]) -> np.ndarray:
    """Column of each token: characters between the last newline and the token's start.

    Parameters
    ----------
    tokens : sequence of str, length T

    Returns
    -------
    column : ndarray of int64, shape (T,)
        0 for the first token of a line. A newline token has the column it sits at and the
        token after it has column 0. At word level columns count characters too (``"ab cd"``
        gives 0, 2, 3); when the tokenizer dropped whitespace, the columns are those of the
        text without it.
    """
    codes, starts, _ = _codes(tokens)
    idx = np.arange(codes.shape[0], dtype=np.int64)
    last_newline = np.maximum.accumulate(np.where(codes == ord("\n"), idx, -1))
    last_before = np.concatenate([[-1], last_newline])[starts]  # newline strictly before start
    return starts - last_before - 1


def _is_word(tokens: Sequence[str]) -> np.ndarray:
    hits = {tok: _WORD.fullmatch(tok) is not None for tok in set(tokens)}
    return np.fromiter((hits[tok] for tok in tokens), dtype=bool, count=len(tokens))


def position_in_word(tokens: Sequence[str], *, level: Level | None = None) -> np.ndarray:
    r"""Index of each character within its word; -1 outside words.

    Parameters
    ----------
    tokens : sequence of str, length T
    level : {"char", "word"} or None, default None
        None infers it with :func:`infer_level`.

    Returns
    -------
    position : ndarray of int64, shape (T,)
        Char level: 0, 1, 2 ... along each run of word characters (``\w``), -1 for other
        characters. Word level: 0 for word tokens, -1 for the others.
    """
    level = infer_level(tokens) if level is None else level
    _check_level(level)
    is_word = _is_word(tokens)
    if level == "word":
        return np.where(is_word, 0, -1).astype(np.int64)
    idx = np.arange(is_word.shape[0], dtype=np.int64)
    last_non_word = np.maximum.accumulate(np.where(is_word, -1, idx)) if idx.size else idx
    return np.where(is_word, idx - last_non_word - 1, -1)


def start_of_word(tokens: Sequence[str], *, level: Level | None = None) -> np.ndarray:
    r"""Tokens that start a word; bool of shape (T,).

    Char level: a word character (``\w``) not preceded by one. Word level: every word
    token. `level` as in :func:`position_in_word`.
    """
    return position_in_word(tokens, level=level) == 0


def structural_feature(tokens: Sequence[str], name: str, *, level: Level | None = None) -> Feature:
    """Build one of the :data:`STRUCTURAL` features by name, as a :class:`Feature`."""
    builders = {
        "inside quotes": (lambda: inside_quotes(tokens), "binary"),
        "inside brackets": (lambda: inside_brackets(tokens), "binary"),
        "bracket depth": (lambda: bracket_depth(tokens), "numeric"),
        "position in line": (lambda: position_in_line(tokens), "numeric"),
        "position in word": (lambda: position_in_word(tokens, level=level), "numeric"),
        "start of word": (lambda: start_of_word(tokens, level=level), "binary"),
    }
    if name not in builders:
        raise FeatureError(f"structural feature must be one of {STRUCTURAL}, got {name!r}.")
    build, kind = builders[name]
    return Feature(name=name, values=build(), kind=kind)
