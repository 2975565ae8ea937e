r"""The feature of interest: one value per token, as a numpy array of shape (T,).

A feature is binary (a boolean mask: does token t have the property?) or numeric (an
integer or float per token, e.g. the bracket depth). Dahlberg (KTH thesis, 2020, section
1.2) defines the feature as a regular expression matched with ``re.fullmatch`` against every
token, plus NLTK part-of-speech tags at word level; this module adds POS tags in context at
both levels and structural features of the text: of any text (brackets, position in line
and word), of prose (quotations, position in sentence, capitalised words, punctuation) and
of Python source (:data:`CODE_STRUCTURAL`: string literals, docstrings, comments, keywords,
identifiers, numbers, indentation and bracket depth, read with Python's :mod:`tokenize` by
:mod:`lib.analysis.code_structure`).

Tokens are the strings of :attr:`lib.run.trace.Trace.tokens`. At character level each token is
one character; at word level tokens are words (``\w+``) and single non-word characters
(:data:`lib.data.tokenizer.WORD_PATTERN`), or words and punctuation without whitespace.
"""

from __future__ import annotations

import functools
import re
import string
import time
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import numpy.typing as npt
import regex

from lib.analysis.code_structure import code_structure
from lib.analysis.regex_guard import PatternRefused, check_pattern, shown
from lib.data.tokenizer import Level
from lib.limits import limits

#: label -> regular expression matched with ``re.fullmatch`` against each token (Dahlberg)
REGEX_PRESETS: dict[str, str] = {
    "space": " ",
    "newline": "\n",
    "any capital": "[A-Z].*",  # a capital letter (char level) or a word starting with one
    "digit": "[0-9]+",  # a digit, or a token made of digits
    "punctuation": "[" + re.escape(string.punctuation) + "]+",  # ASCII punctuation only
    "sentence end": "[.!?]",
    "vowel": "[aeiouAEIOU]",
    "plain word": "[A-Za-z][a-z]*",  # Dahlberg's '[A-Z|a-z][a-z]*' without the stray '|'
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
#: feature name -> :class:`lib.analysis.code_structure.CodeStructure` field, for Python source
CODE_STRUCTURAL = {
    "inside string literal": "string",
    "inside docstring": "docstring",
    "inside comment": "comment",
    "keyword": "keyword",
    "identifier": "identifier",
    "number": "number",
    "indentation depth": "indent",
    "bracket depth in code": "brackets",
}
#: features of the text itself, by name (:func:`structural_feature`): any text, then
#: Python source
STRUCTURAL = (
    "inside quotes",
    "inside brackets",
    "bracket depth",
    "position in line",
    "start of line",
    "position in word",
    "start of word",
    "position in sentence",
    "capitalised word",
    *CODE_STRUCTURAL,
)

_WORD = re.compile(r"\w+")
#: an escape pair, a quotation mark, or a blank line (the end of a paragraph)
_QUOTE_SCAN = re.compile(r"\\.|[\"“”'‘’]|\n[ \t]*\n", re.DOTALL)
#: what ends a sentence; the next one starts where the match ends
_SENTENCE_START = regex.compile(
    r"(?:[.!?][\"'”’)\]]*[ \t]+(?=[\"'“‘(\[]*\p{Lu})"
    r"|[.!?][\"'”’)\]]*[ \t]*\n\s*"
    r"|\n[ \t]*\n\s*)(?=\S)"
)
#: stands for the unknown-token marker when a text is read as Python source
_UNKNOWN_CHAR = "\ufffd"
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
        If the mask matches no token, or every token (Dahlberg 2020, Figure 5.1: with the
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
    """Tokens that match a regular expression in full (``re.fullmatch``, Dahlberg 2020).

    The pattern runs on the ``regex`` package (``re``'s syntax) with a time budget for
    compiling and matching it: a pattern too long (``max_regex_chars``), too deeply nested
    or too big once its counted repeats are written out, e.g. ``((a{99}){99}){99}``, is
    refused before it is compiled (:func:`lib.analysis.regex_guard.check_pattern`); one
    with catastrophic backtracking, e.g. ``(a+)+b``, is stopped after `timeout` seconds in
    all instead of hanging a shared server.

    Parameters
    ----------
    tokens : sequence of str, length T
    pattern : str
        E.g. a value of :data:`REGEX_PRESETS`.
    timeout : float
        Seconds for compiling the pattern and matching every distinct token.

    Returns
    -------
    mask : ndarray of bool, shape (T,)

    Raises
    ------
    FeatureError
        If `pattern` is not a valid regular expression, is over a bound, or matching takes
        over `timeout`.

    Notes
    -----
    The ``regex`` package counts a call's timeout in the process's CPU time, so on a busy
    machine a call may run longer on the clock; each distinct token gets what is left of
    the budget on the clock, and the message says how long it really took. Matching
    releases the GIL (``concurrent=True``), so other sessions of the server keep running.
    """
    start = time.monotonic()
    if not isinstance(pattern, str):
        raise FeatureError(f"The regular expression must be a str, got {pattern!r}.")
    try:
        check_pattern(pattern, max_chars=limits().max_regex_chars)
        # not cached: the regex package keeps up to 500 compiled patterns alive
        compiled = regex.compile(pattern, flags=regex.VERSION0, cache_pattern=False)
    except PatternRefused as err:
        raise FeatureError(str(err)) from None
    except (regex.error, re.error) as err:
        raise FeatureError(f"Invalid regular expression {shown(pattern)}: {err}.") from None
    except RecursionError:
        raise FeatureError(f"The regular expression {shown(pattern)} nests too deeply.") from None
    # match each distinct token once: texts have far fewer distinct tokens than tokens
    distinct = set(tokens)
    hits: dict[str, bool] = {}
    try:
        for tok in distinct:
            left = start + timeout - time.monotonic()
            if left <= 0:  # never pass 0 or less: regex reads a negative timeout as none
                raise TimeoutError
            hits[tok] = compiled.fullmatch(tok, timeout=left, concurrent=True) is not None
    except TimeoutError:
        raise FeatureError(
            _timeout_message(pattern, timeout, time.monotonic() - start, len(hits), len(distinct))
        ) from None
    return np.fromiter((hits[tok] for tok in tokens), dtype=bool, count=len(tokens))


def _timeout_message(pattern: str, timeout: float, elapsed: float, done: int, total: int) -> str:
    over = ""
    if elapsed > 1.2 * timeout:
        over = (
            f" It ran {elapsed:.1f} s on the clock, over its {timeout:g} s budget: the regex "
            "package counts the budget in CPU time, and this server is busy."
        )
    return (
        f"The regular expression {shown(pattern)} took over {timeout:g} s and was stopped "
        f"after {elapsed:.1f} s, having matched {done:,} of {total:,} distinct tokens; it "
        "probably backtracks catastrophically (nested repeats such as (a+)+). Simplify it."
        f"{over}"
    )


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
    Dahlberg's (2020) code tags each word in isolation (``nltk.pos_tag([token])``); tagging in
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


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Return [start, end) of every quotation in `text`, marks included (:func:`inside_quotes`)."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []  # (kind: '"', "“" or "'", offset of the opening mark)

    def close(kind: str, end: int) -> bool:
        for j in range(len(stack) - 1, -1, -1):
            if stack[j][0] == kind:
                spans.append((stack[j][1], end))
                del stack[j:]  # quotes opened inside and never closed were not quotes
                return True
        return False

    def flush(end: int) -> None:  # double quotes run to `end`; open single ones were not
        spans.extend((start, end) for kind, start in stack if kind != "'")
        stack.clear()

    n = len(text)
    for m in _QUOTE_SCAN.finditer(text):
        mark, i = m.group(), m.start()
        if mark[0] == "\\":
            continue
        if mark[0] == "\n":
            flush(i)
            continue
        if mark == '"':
            if not close('"', i + 1):
                stack.append(('"', i))
        elif mark == "“":
            stack.append(("“", i))
        elif mark == "”":
            close("“", i + 1)
        else:  # ' ‘ ’: an apostrophe unless it can open or close a single quotation
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < n else " "
            if before.isalnum() and after.isalnum():  # don't, it's, O'Brien
                continue
            can_close = mark != "‘" and not before.isspace() and not after.isalnum()
            if can_close and close("'", i + 1):
                continue
            if mark != "’" and not before.isalnum() and not after.isspace():
                stack.append(("'", i))
            # else an apostrophe: the students' books, ’90s
    flush(n)
    return spans


def inside_quotes(tokens: Sequence[str]) -> np.ndarray:
    r"""Tokens inside a quotation in prose, the quote marks included.

    Parameters
    ----------
    tokens : sequence of str, length T

    Returns
    -------
    inside : ndarray of bool, shape (T,)
        A token takes the label of its first character.

    Notes
    -----
    Quotation marks: ``"`` (opens, or closes an open ``"``), ``“`` ... ``”``, and single
    quotes ``'``, ``‘`` ... ``’``. Both marks belong to the quotation, so ``a "b" c`` gives
    False, False, True, True, True, False, False at char level; quotations nest (``"He
    said 'hi'"``). A single quote is an apostrophe, not a quote mark, between two letters
    or digits (don't, it's, O'Brien) and when it cannot open or close one: it opens only
    after a non-letter and before a non-space, and closes an open single quotation only
    after a non-space and before a non-letter (the students' books: no quotation is open,
    so it is an apostrophe). A single quotation that never closes was an apostrophe
    ('90s); a double one runs to the end of its paragraph (a blank line) or of the text,
    as a quotation of several paragraphs does. A mark after an odd number of backslashes
    (``\"``) is escaped and ignored.

    This is the feature for prose. It is not a detector of Python string literals (they
    need Python's own tokenizer: triple quotes, prefixes, comments): use the "inside
    string literal" feature (:mod:`lib.analysis.code_structure`) for code.

    Examples
    --------
    >>> tokens = list("'Don't,' she said")
    >>> "".join(t for t, q in zip(tokens, inside_quotes(tokens)) if q)
    "'Don't,'"
    """
    text = "".join(tokens)
    _, starts, _ = _codes(tokens)
    inside = np.zeros(len(text) + 1, dtype=np.int64)
    for start, end in _quote_spans(text):
        inside[start] += 1
        inside[end] -= 1
    return (np.cumsum(inside)[:-1] > 0)[np.minimum(starts, max(len(text) - 1, 0))] & (
        starts < len(text)
    )


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


def start_of_line(tokens: Sequence[str]) -> np.ndarray:
    """Tokens at column 0 (see :func:`position_in_line`); bool of shape (T,).

    The first token of the text counts, though a slice may start mid-line.
    """
    return position_in_line(tokens) == 0


def position_in_sentence(tokens: Sequence[str]) -> np.ndarray:
    r"""Tokens since the sentence began: 0 for a sentence's first token.

    Parameters
    ----------
    tokens : sequence of str, length T

    Returns
    -------
    position : ndarray of int64, shape (T,)
        At character level characters, at word level tokens (spaces included where they
        are tokens). The whitespace between two sentences ends the first one.

    Notes
    -----
    Without a trained sentence splitter (NLTK's punkt is not installed) a sentence starts
    at the beginning of the text, after ``.``, ``!`` or ``?`` (and any closing quotes or
    brackets) followed by spaces and a capital letter (or an opening quote or bracket and
    a capital), after such a mark at the end of a line, and after a blank line. So
    abbreviations before a capital ("Dr. Smith") split a sentence, and a sentence that
    starts with a digit or a lower-case word after a space does not start one.

    Examples
    --------
    >>> position_in_sentence(["Hi", ".", " ", "Go", " ", "on", "."]).tolist()
    [0, 1, 2, 0, 1, 2, 3]
    """
    text = "".join(tokens)
    _, starts, _ = _codes(tokens)
    n_tokens = len(tokens)
    first = np.zeros(n_tokens, dtype=bool)
    if n_tokens:
        first[0] = True
        offsets = np.fromiter((m.end() for m in _SENTENCE_START.finditer(text)), dtype=np.int64)
        first[np.searchsorted(starts, offsets, side="right") - 1] = True
    idx = np.arange(n_tokens, dtype=np.int64)
    return idx - np.maximum.accumulate(np.where(first, idx, 0))


def capitalised_word(tokens: Sequence[str], *, level: Level | None = None) -> np.ndarray:
    r"""Tokens of a word that starts with a capital letter; bool of shape (T,).

    Char level: every character of a ``\w`` run whose first character is upper case
    ("The", "NASA", "Élan"). Word level: word tokens that start with one. `level` as in
    :func:`position_in_word`.
    """
    level = infer_level(tokens) if level is None else level
    position = position_in_word(tokens, level=level)
    upper = np.fromiter((tok[:1].isupper() for tok in tokens), dtype=bool, count=len(tokens))
    idx = np.arange(len(tokens), dtype=np.int64)
    in_word = position >= 0
    return in_word & upper[np.where(in_word, idx - position, 0)]


def _is_punctuation(tok: str) -> bool:
    return bool(tok) and all(
        c in string.punctuation or unicodedata.category(c).startswith("P") for c in tok
    )


def punctuation(tokens: Sequence[str]) -> np.ndarray:
    """Tokens made only of punctuation; bool of shape (T,).

    ASCII punctuation and symbols (:data:`string.punctuation`) and every Unicode
    punctuation character (categories P*: “ ” ‘ ’ — … «).
    """
    hits = {tok: _is_punctuation(tok) for tok in set(tokens)}
    return np.fromiter((hits[tok] for tok in tokens), dtype=bool, count=len(tokens))


def code_text(tokens: Sequence[str], *, level: Level | None = None) -> tuple[str, np.ndarray]:
    """Return the text of `tokens` as Python source and each token's offset in it.

    Parameters
    ----------
    tokens : sequence of str, length T
    level : {"char", "word"} or None, default None
        None infers it with :func:`infer_level`.

    Returns
    -------
    text : str
        The tokens joined, with :data:`UNK` as one unknown character (U+FFFD). At word
        level, tokens without any whitespace token (a tokenizer that dropped whitespace)
        are joined with single spaces.
    starts : ndarray of int64, shape (T,)
        Offset of each token's first character in `text`.
    """
    level = infer_level(tokens) if level is None else level
    _check_level(level)
    tokens = [_UNKNOWN_CHAR if tok == UNK else tok for tok in tokens]
    sep = ""
    if level == "word" and len(tokens) > 1 and not any(t.isspace() for t in tokens):
        sep = " "
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    starts = np.cumsum(lengths + len(sep)) - lengths - len(sep)
    return sep.join(tokens), starts


def code_labels(tokens: Sequence[str], *, level: Level | None = None) -> dict[str, np.ndarray]:
    """Return the :data:`CODE_STRUCTURAL` features of a Python source text, one array each.

    Parameters
    ----------
    tokens : sequence of str, length T
        Python source as tokens; a slice of a corpus may start and end anywhere.
    level : {"char", "word"} or None, default None
        None infers it with :func:`infer_level`.

    Returns
    -------
    labels : dict of str to ndarray of shape (T,)
        Feature name -> values: bool for the binary features, int64 for "indentation
        depth" and "bracket depth in code".

    Notes
    -----
    The characters are labelled by :func:`lib.analysis.code_structure.code_structure`
    (Python's :mod:`tokenize`, made robust to slices) and a token takes the label of its
    first character, so at word level a token is inside a string literal when it starts
    inside one. The text is that of :func:`code_text`; when it had to join words with
    spaces, lines and indentation are lost.
    """
    text, starts = code_text(tokens, level=level)
    structure = code_structure(text)
    at = np.minimum(starts, max(len(text) - 1, 0))
    empty = starts >= len(text)
    labels = {}
    for name, attr in CODE_STRUCTURAL.items():
        chars = getattr(structure, attr)
        values = chars[at] if chars.size else np.zeros(len(tokens), dtype=chars.dtype)
        labels[name] = np.where(empty, 0, values).astype(chars.dtype)
    return labels


def structural_feature(tokens: Sequence[str], name: str, *, level: Level | None = None) -> Feature:
    """Build one of the :data:`STRUCTURAL` features by name, as a :class:`Feature`.

    The :data:`CODE_STRUCTURAL` ones read the text as Python source (:func:`code_labels`).
    """
    if name in CODE_STRUCTURAL:
        values = code_labels(tokens, level=level)[name]
        return Feature(
            name=name, values=values, kind="binary" if values.dtype == bool else "numeric"
        )
    builders = {
        "inside quotes": (lambda: inside_quotes(tokens), "binary"),
        "inside brackets": (lambda: inside_brackets(tokens), "binary"),
        "bracket depth": (lambda: bracket_depth(tokens), "numeric"),
        "position in line": (lambda: position_in_line(tokens), "numeric"),
        "start of line": (lambda: start_of_line(tokens), "binary"),
        "position in word": (lambda: position_in_word(tokens, level=level), "numeric"),
        "start of word": (lambda: start_of_word(tokens, level=level), "binary"),
        "position in sentence": (lambda: position_in_sentence(tokens), "numeric"),
        "capitalised word": (lambda: capitalised_word(tokens, level=level), "binary"),
    }
    if name not in builders:
        raise FeatureError(f"structural feature must be one of {STRUCTURAL}, got {name!r}.")
    build, kind = builders[name]
    return Feature(name=name, values=build(), kind=kind)
