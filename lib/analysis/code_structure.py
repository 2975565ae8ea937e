r"""Python source structure per character, from :mod:`tokenize`, robust to slices.

Where a Python source text has string literals, docstrings, comments, keywords, names and
numbers, and how deep its indentation and brackets go: one label per character, read with
the standard library's :mod:`tokenize`.

The recordings the app analyses are slices (e.g. 20,000 characters starting anywhere) of a
corpus that concatenates many files, so the text may begin or end inside a string, a
comment, a bracket, a block or a word, and :mod:`tokenize` raises on that or silently reads
the rest inside out (a slice that starts inside a docstring turns every later docstring into
code and all the code into strings). :func:`code_structure` reads such a text in four steps.

1. **The start.** Seven readings of how the text begins are tokenized on its first
   :data:`SCORE_WINDOW` characters: as code; inside a word (the rest of a name cut by the
   slice is skipped); inside a ``\"\"\"`` or ``'''`` string (up to the first unescaped
   delimiter, or to the end of the text if there is none); inside a ``"`` or ``'`` string
   (closed on the first line); or inside a comment (to the end of the first line). Each
   reading is charged one point per *implausibility* (an error token, a restart, or two
   values side by side that Python's grammar never allows: two names, or a name, number
   or string next to another, as in ``the value``; English read as code is full of them,
   Python source has none) and :data:`UNREAD_COST` per token it leaves unread at the start
   that another reading reads as code. The cheapest reading wins; ties go to the one that
   leaves the fewest characters unread, then to the order of :data:`START_STATES`.
2. **Brackets the text starts inside.** Closing brackets before the first top-level
   statement (a line after the first that starts at column 0, not with a closing bracket)
   that close nothing mean the text started inside them: it is tokenized again with those
   brackets put before it, so that their lines are continuation lines, and they count in
   the bracket depth.
3. **Recovery.** On an inconsistent dedent (an :class:`IndentationError`, as when the text
   starts inside a block) tokenizing restarts at that line, which loses no string or
   bracket state. A string still open at the end runs to the end of the text; a ``'`` or
   ``"`` string not closed on its line (an error token) runs to the end of that line. On
   Python 3.12+, whose :mod:`tokenize` raises on more errors, it restarts on the next line.
4. **Indentation.** Levels are counted from the logical lines' leading whitespace with
   :mod:`tokenize`'s own rule (a stack of columns; a tab goes to the next multiple of 8),
   so they equal its INDENT/DEDENT levels on whole files. A text that starts inside a block
   starts at its second line's level guessed from 4-space indentation (8 spaces are level
   2), and a dedent to a column never seen is a level of its own instead of an error.

Measured on 20 (and 50) random 20,000-character slices of the standard-library files the
demo model did not train on, against :mod:`tokenize` run on the whole files: Cohen's kappa
1.0 for string literals (at char and word level; 0.09-0.19 for counting ``"`` by parity),
keywords and numbers, 0.999 for comments and names; on 1,500 slices of 3,000 characters, 5
put a few characters (at most 20) of their first line in the wrong state. Bracket depth is
exact at 95-100% of characters (a slice inside a long literal whose closing bracket is
beyond its end cannot know it is inside), indentation level at 90-95% (the level of a
slice's first block is a guess, and comment lines between files keep the level of the file
before).

Known limits: a slice that starts inside a string or comment whose contents read as well
as code (a string of code, a comment fragment such as ``return (x)``) may be read as code
up to that string's end; a docstring is recognised when it is the first statement after a
``def``/``class`` header in the text or a string statement at column 0 (see
:func:`code_structure`); f-strings are one string with their replacement fields, as in
Python 3.11's :mod:`tokenize`.
"""

from __future__ import annotations

import bisect
import functools
import keyword
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: characters of the start of the text on which the readings of the start are compared
SCORE_WINDOW = 10_000
#: how the text may begin, in order of preference on equal implausibility
START_STATES = ("code", "word", '"""', "'''", '"', "'", "#")
#: the charge, in implausibility, for each token a reading of the start leaves unread: well
#: below the ~0.5 per token of prose read as code, well above the ~0 of code
UNREAD_COST = 0.1

_OPEN = frozenset("([{")
_CLOSE = frozenset(")]}")
_OPENER = {")": "(", "]": "[", "}": "{"}
_SOFT = frozenset(keyword.softkwlist)
_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)
#: Python 3.12's C tokenizer reports error columns from 1
_ERROR_COL = 1 if sys.version_info >= (3, 12) else 0
_PREFIX = re.compile(r"[A-Za-z]*")
_WORD_HEAD = re.compile(r"\w+")
_PREFIXES = frozenset({"r", "u", "b", "f", "br", "rb", "fr", "rf"})
_ESCAPE_OR = {
    q: re.compile(r"\\.|" + re.escape(q), re.DOTALL) for q in START_STATES[2:] if q != "#"
}
_VALUE, _STRING, _KEYWORD, _OP = "value", "string", "keyword", "op"


@dataclass(frozen=True)
class CodeStructure:
    """Per-character labels of a Python source text of N characters.

    Attributes
    ----------
    string : ndarray of bool, shape (N,)
        Inside a string literal: the whole STRING token of :mod:`tokenize`, prefix and quote
        characters included (f-strings with their replacement fields).
    docstring : ndarray of bool, shape (N,)
        Inside a string literal that is a docstring (a subset of `string`).
    comment : ndarray of bool, shape (N,)
        Inside a comment, from ``#`` to the end of the line.
    keyword, identifier, number : ndarray of bool, shape (N,)
        Inside a NAME token that is a keyword (:func:`keyword.iskeyword`), a NAME token that
        is not, or a NUMBER token.
    indent : ndarray of int64, shape (N,)
        Indentation level of the logical line the character belongs to.
    brackets : ndarray of int64, shape (N,)
        Depth of ``( [ {`` outside strings and comments. An opening bracket has the depth
        after it opens and a closing bracket the depth before it closes, so both count as
        inside.
    start : str
        The reading of the start that won (one of :data:`START_STATES`).
    implausibility : int
        Error tokens, restarts and impossible neighbours of the winning reading in the first
        :data:`SCORE_WINDOW` characters (the window).
    n_code_tokens : int
        Names, numbers and strings that reading reads as code in the window.
    code_share : float
        Share of the window's characters it reads as code (outside strings and comments).
        Python source has ``implausibility / n_code_tokens`` near 0 and a code share of 0.2
        or more; prose read as code has 0.25 or more, or hides in one long string.
    """

    string: np.ndarray
    docstring: np.ndarray
    comment: np.ndarray
    keyword: np.ndarray
    identifier: np.ndarray
    number: np.ndarray
    indent: np.ndarray
    brackets: np.ndarray
    start: str
    implausibility: int
    n_code_tokens: int
    code_share: float


def _width(prefix: str) -> int:
    """Indentation width of a line's leading whitespace, as :mod:`tokenize` counts it."""
    col = 0
    for ch in prefix:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col = (col // 8 + 1) * 8
        elif ch == "\f":
            col = 0
    return col


class _Reading:
    """One reading of a text: the token spans and the score, accumulated over runs."""

    def __init__(self, text: str, line_starts: list[int]) -> None:
        self.text = text
        self.ls = line_starts
        self.n = len(text)
        self.strings: list[list[int]] = []  # [start, end, is_doc]
        self.comments: list[tuple[int, int]] = []
        self.keywords: list[tuple[int, int]] = []
        self.names: list[tuple[int, int]] = []
        self.numbers: list[tuple[int, int]] = []
        self.brackets: list[tuple[int, int]] = []  # (offset, +1 or -1)
        self.logical: list[tuple[int, int, str, int]] = []  # (line, width, first token, offset)
        self.errors = 0
        self.adjacent = 0
        self.values = 0
        self._new_statement(logical=True)
        self.expect_doc = False  # the next logical line is the first of a def/class body
        self.fdepth = 0
        self.fstart = 0
        self.mute_until = -1
        self.hidden = 0  # characters at the start read as a string or comment, not code
        self.closed = True  # False when the start is a string that runs to the end

    # --- parser state --------------------------------------------------------------------

    def _new_statement(self, *, logical: bool) -> None:
        self.prev: str | None = None
        self.pending: list[int] | None = None  # indices into self.strings
        self.pending_doc = False
        self.stmt_doc = False  # a string statement here would be a docstring
        if logical:
            self.at_line = True
            self.header = False
            self.parens = 0
            self.colon = False
            self.last = ""

    def _confirm(self) -> None:
        if self.pending is not None and self.pending_doc:
            for i in self.pending:
                self.strings[i][2] = 1
        self.pending = None

    def _end_logical(self) -> None:
        self._confirm()
        self.expect_doc = self.header and self.last == ":"
        self._new_statement(logical=True)

    def _value(self, kind: str) -> None:
        prev = self.prev
        if prev in (_VALUE, _STRING) and not (prev == _STRING and kind == _STRING):
            self.adjacent += 1
        self.prev = kind
        self.values += 1

    # --- tokens --------------------------------------------------------------------------

    def token(self, typ: int, s: str, start: int, end: int, line: int, col: int) -> None:
        """Take one token at character offsets [start, end) on physical `line`, column `col`."""
        if typ in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            return
        if typ == tokenize.NEWLINE:
            self.fdepth = 0
            self._end_logical()
            return
        if typ == tokenize.COMMENT:
            if self.fdepth == 0:
                self.comments.append((start, end))
            return
        if self.fdepth:  # inside an f-string (3.12): everything is part of the string
            if typ == _FSTRING_START:
                self.fdepth += 1
            elif typ == _FSTRING_END:
                self.fdepth -= 1
                if self.fdepth == 0:
                    self._string(self.fstart, end, line, col, doc_ok=False)
            return
        if start < self.mute_until:
            return
        if typ == tokenize.ERRORTOKEN:
            if s in "'\"":
                self.unclosed_string(start)
            elif not s.isspace():
                self.errors += 1
            return
        if self.at_line:
            self._logical_line(typ, s, start, line, col)
        if typ == _FSTRING_START:
            self.fdepth, self.fstart = 1, start
            return
        if typ == tokenize.STRING:
            prefix = _PREFIX.match(s)
            doc_ok = prefix is not None and not set(prefix.group().lower()) & {"f", "b"}
            self._string(start, end, line, col, doc_ok=doc_ok)
            return
        if typ == tokenize.OP and s == ";":
            self._confirm()
            self._new_statement(logical=False)
            self.last = s
            return
        self._cancel_pending()
        if typ == tokenize.NAME:
            if self.header and self.last == "async" and s != "def":
                self.header = False  # async with / async for
            if keyword.iskeyword(s) or s in _SOFT:
                (self.keywords if keyword.iskeyword(s) else self.names).append((start, end))
                self.prev = _KEYWORD
                self.values += 1
            else:
                self.names.append((start, end))
                self._value(_VALUE)
        elif typ == tokenize.NUMBER:
            self.numbers.append((start, end))
            self._value(_VALUE)
        elif typ == tokenize.OP:
            self.prev = _OP
            if s in _OPEN:
                self.brackets.append((start, 1))
                self.parens += 1
            elif s in _CLOSE:
                self.brackets.append((start, -1))
                self.parens -= 1
            elif s == ":" and self.header and self.parens == 0 and not self.colon:
                self.colon = True  # a one-line body may start with its docstring
                self.prev = None
                self.stmt_doc = True
        self.last = s

    def _string(self, start: int, end: int, line: int, col: int, *, doc_ok: bool) -> None:
        if self.prev is None and self.pending is None:  # a statement starts with a string
            self.pending = []
            self.pending_doc = doc_ok and self.stmt_doc
        elif self.pending is not None and self.prev == _STRING:
            self.pending_doc = self.pending_doc and doc_ok
        else:
            self._cancel_pending()
        if self.pending is not None:
            self.pending.append(len(self.strings))
        self.strings.append([start, end, 0])
        self._value(_STRING)
        self.last = "'"

    def _cancel_pending(self) -> None:
        self.pending = None

    def _logical_line(self, typ: int, s: str, start: int, line: int, col: int) -> None:
        """Take the first token of a logical line."""
        self.at_line = False
        lead = self.text[self.ls[line] : start]
        if not lead.strip(" \t\f"):  # first on its physical line: its width is known
            self.logical.append((line, _width(lead), s, start))
        self.header = typ == tokenize.NAME and s in ("def", "class", "async")
        self.stmt_doc = self.expect_doc or (col == 0 and start == self.ls[line])
        self.expect_doc = False

    def unclosed_string(self, start: int) -> None:
        """Mark a ``'`` or ``"`` string not closed on its line: it runs to the line's end.

        That is an error, unless the text ends on that line (inside the string).
        """
        if self.names and self.names[-1][1] == start:  # with its prefix (r'...)
            name_start = self.names[-1][0]
            if self.text[name_start:start].lower() in _PREFIXES:
                self.names.pop()
                start = name_start
        eol = self.text.find("\n", start)
        if eol < 0:
            eol = self.n
        else:
            self.errors += 1
        self.strings.append([start, eol, 0])
        self.mute_until = eol
        self.prev = _STRING

    def string_to_end(self, start: int) -> None:
        """Mark a string opened at `start` and never closed: it runs to the end of the text."""
        if self.at_line:
            line = bisect.bisect_right(self.ls, start) - 1
            self._logical_line(tokenize.STRING, "'", start, line, start - self.ls[line])
        if self.prev is None and self.pending is None:
            prefix = _PREFIX.match(self.text, start)
            plain = prefix is None or not set(prefix.group().lower()) & {"f", "b"}
            self.pending = [len(self.strings)]
            self.pending_doc = self.stmt_doc and plain
        elif self.pending is not None:
            self.pending.append(len(self.strings))
        self.strings.append([start, self.n, 0])
        self._confirm()

    def restart(self, *, error: bool = True) -> None:
        """Tokenizing restarts at a line start: a new logical line (`error`: count it)."""
        self.errors += int(error)
        self.fdepth = 0
        self._confirm()
        self._new_statement(logical=True)


def _lines(text: str, ls: list[int], first: str, j: int, end: int) -> Iterator[str]:
    """Yield `first`, then the lines of `text` from line `j` up to offset `end`."""
    yield first
    n = len(text)
    while j < len(ls) and ls[j] < end:
        yield text[ls[j] : min(ls[j + 1] if j + 1 < len(ls) else n, end)]
        j += 1


def _read(reading: _Reading, pos: int, stop: int, opened: str = "") -> None:
    """Tokenize ``text[pos:]`` (to the end of the line holding `stop`) into `reading`.

    `opened`: brackets the text starts inside, put before it so that :mod:`tokenize`
    reads their lines as continuation lines.
    """
    text, ls, n = reading.text, reading.ls, reading.n
    first = pos
    while pos < min(stop, n):
        k = bisect.bisect_right(ls, pos) - 1
        if pos != ls[k]:  # mid-line: the rest of the line is not indented
            while pos < n and text[pos] in " \t\f":
                pos += 1
        j = bisect.bisect_left(ls, stop)
        end = ls[j] if j < len(ls) else n
        synthetic = opened if pos == first else ""
        base = pos - len(synthetic)
        # the lines one at a time: a restart reads on from its line, copying nothing twice
        eol = ls[k + 1] if k + 1 < len(ls) else n
        lines = _lines(text, ls, synthetic + text[pos : min(eol, end)], k + 1, end)
        readline = functools.partial(next, lines, "")

        def offset(row: int, col: int, k: int = k, base: int = base) -> tuple[int, int]:
            line = k + row - 1
            if line >= len(ls):
                return n, len(ls) - 1
            return (base if row == 1 else ls[line]) + col, line

        next_pos = n
        try:
            for tok in tokenize.generate_tokens(readline):
                typ = tok.type
                if typ in (tokenize.DEDENT, tokenize.INDENT, tokenize.ENDMARKER, tokenize.NL):
                    continue
                (srow, scol), (erow, ecol) = tok.start, tok.end
                start, line = offset(srow, scol)
                if start < pos:  # one of the brackets put before the text
                    continue
                stop_off, _ = offset(erow, ecol)
                col = start - ls[line]
                reading.token(typ, tok.string, start, min(stop_off, n), line, col)
        except IndentationError as err:  # a dedent to a column never seen: restart there
            row = err.lineno or 1
            next_pos = ls[min(k + row - 1, len(ls) - 1)]
            if next_pos <= pos:
                next_pos = ls[k + 1] if k + 1 < len(ls) else n
            reading.restart(error=False)  # expected in a slice that starts inside a block
        except tokenize.TokenError as err:
            message = str(err.args[0]) if err.args else ""
            row, col = err.args[1] if len(err.args) > 1 else (1, 0)
            if "string" in message and ("EOF" in message or "triple-quoted" in message):
                reading.string_to_end(offset(row, max(col - _ERROR_COL, 0))[0])
            elif "EOF" in message:
                reading._confirm()
            else:  # 3.12: an error mid-text; a string left open runs to the end of its line
                start, line = offset(row, max(col - _ERROR_COL, 0))
                if "string" in message:
                    reading.unclosed_string(start)
                next_pos = ls[line + 1] if line + 1 < len(ls) else n
                reading.restart(error="string" not in message)
        except SyntaxError as err:  # anything else the C tokenizer raises (3.12+)
            line = min(k + (err.lineno or 1) - 1, len(ls) - 1)
            next_pos = ls[line + 1] if line + 1 < len(ls) else n
            reading.restart()
        else:
            reading._confirm()
        pos = next_pos


def _start_region(text: str, state: str) -> tuple[int, int, bool, bool] | None:
    """Return (kind, end, rest_blank, closed) of a reading that starts in `state`.

    `kind` is 0 for a partial word (skipped), 1 for a string and 2 for a comment; `end` is
    where code starts; `rest_blank` is whether only whitespace or a comment follows on that
    line; `closed` is False for a triple-quoted string that runs to the end of the text.
    None when the state cannot hold (a ``'`` or ``"`` string not closed on the first line,
    a partial word when the text does not start with a word character).
    """
    eol = text.find("\n")
    eol = len(text) if eol < 0 else eol
    if state == "#":
        return 2, eol, True, True
    if state == "word":
        m = _WORD_HEAD.match(text)
        return None if m is None else (0, m.end(), False, True)
    pattern = _ESCAPE_OR[state]
    limit = len(text) if len(state) == 3 else eol
    for m in pattern.finditer(text, 0, limit):
        if m.group() == state:
            end = m.end()
            rest_eol = text.find("\n", end)
            rest = text[end : len(text) if rest_eol < 0 else rest_eol].strip()
            return 1, end, not rest or rest.startswith("#"), True
    return (1, len(text), True, False) if len(state) == 3 else None


def _reading(
    text: str, line_starts: list[int], state: str, stop: int, opened: str = ""
) -> _Reading | None:
    reading = _Reading(text, line_starts)
    pos = 0
    if state != "code":
        region = _start_region(text, state)
        if region is None:
            return None
        kind, pos, rest_blank, reading.closed = region
        if kind == 1:  # a docstring when triple-quoted and alone on its last line
            reading.strings.append([0, pos, int(len(state) == 3 and rest_blank)])
        elif kind == 2:
            reading.comments.append((0, pos))
        reading.hidden = pos
        if not rest_blank:  # code goes on after it on the same line
            reading.at_line = False
            reading.prev = _STRING if kind == 1 else None
    _read(reading, pos, stop, opened)
    return reading


def _spans(spans: list[tuple[int, int]] | list[list[int]], n: int) -> np.ndarray:
    """Characters covered by any [start, end) span; bool of shape (n,)."""
    if not spans:
        return np.zeros(n, dtype=bool)
    arr = np.asarray([(s[0], s[1]) for s in spans], dtype=np.int64).reshape(-1, 2)
    arr = np.clip(arr, 0, n)
    cover = np.bincount(arr[:, 0], minlength=n + 1) - np.bincount(arr[:, 1], minlength=n + 1)
    return np.cumsum(cover[:n]) > 0


def _indent_levels(reading: _Reading, n_lines: int, skip_before: int) -> np.ndarray:
    """Indentation level of every physical line: that of the last logical line started.

    Logical lines starting before `skip_before` (continuation lines of brackets the text
    started inside) are not statements and are skipped.
    """
    level_of = np.full(n_lines, -1, dtype=np.int64)
    stack: list[int] = []
    logical = [entry for entry in reading.logical if entry[3] >= skip_before]
    head = None  # the text's first line, which may be the end of a line cut by the slice,
    # unless it starts at the text's start with a keyword or decorator (a whole statement)
    if len(logical) > 1 and logical[0][0] == 0:
        first, offset = logical[0][2], logical[0][3]
        if not (offset == 0 and (keyword.iskeyword(first) or first == "@")):
            head, logical = logical[0], logical[1:]
    for line, width, _, offset in logical:
        if not stack:  # the first line seen: guess the levels above it
            stack = _guess_levels(reading.text[reading.ls[line] : offset])
        elif width > stack[-1]:
            stack.append(width)
        else:
            while len(stack) > 1 and stack[-1] > width:
                stack.pop()
            if stack[-1] < width:  # a dedent to a column never seen: a level of its own
                stack.append(width)
        level_of[line] = len(stack) - 1
    if head is not None:  # 4-space levels from the next line's; a line at column 0 (maybe
        # cut) is one level above a deeper next line (a block header), else at its level
        width, next_width, next_level = head[1], logical[0][1], int(level_of[logical[0][0]])
        if width and width % 4 == 0:
            level_of[0] = max(next_level + (width - next_width) // 4, 0)
        elif width == 0 and next_width > 0:
            level_of[0] = max(next_level - 1, 0)
        else:
            level_of[0] = next_level
    known = level_of >= 0
    if not known.any():
        return np.zeros(n_lines, dtype=np.int64)
    filled = np.maximum.accumulate(np.where(known, np.arange(n_lines), -1))
    first_known = int(np.argmax(known))  # lines before the first statement take its level
    return level_of[np.where(filled >= 0, filled, first_known)]


def _guess_levels(lead: str) -> list[int]:
    """Return the stack of indentation widths above a line with leading whitespace `lead`.

    A tab is one level and so are 4 spaces; spaces that are not a multiple of 4 are one.
    """
    stack, col, spaces = [0], 0, 0
    for ch in lead:
        if ch == "\t":
            col, spaces = (col // 8 + 1) * 8, 0
            stack.append(col)
        elif ch == " ":
            col, spaces = col + 1, spaces + 1
            if spaces == 4:
                stack.append(col)
                spaces = 0
        elif ch == "\f":
            col, spaces, stack = 0, 0, [0]
    if col > stack[-1]:
        stack.append(col)
    return stack


def _first_top(reading: _Reading) -> int:
    """Return the offset of the first top-level statement (the text's length if none).

    That is a line after the first that starts at column 0, not with a closing bracket.
    """
    return next(
        (
            offset
            for line, width, first, offset in reading.logical
            if line > 0 and width == 0 and first not in _CLOSE
        ),
        reading.n,
    )


def _unmatched_closers(reading: _Reading) -> str:
    """Return the closing brackets the text started inside, in order.

    They are those before the first top-level statement that close nothing opened in the
    text.
    """
    top = _first_top(reading)
    depth, closers = 0, []
    for offset, step in reading.brackets:
        if offset >= top:
            break
        if step > 0:
            depth += 1
        elif depth:
            depth -= 1
        else:
            closers.append(reading.text[offset])
    return "".join(closers)


def _bracket_depth(reading: _Reading, n: int) -> tuple[np.ndarray, int]:
    """Per-character bracket depth from the bracket tokens (see :class:`CodeStructure`).

    Also returns the offset where the brackets the text started inside are all closed
    (0 when it started outside brackets).
    """
    if not reading.brackets:
        return np.zeros(n, dtype=np.int64), 0
    ev = np.asarray(reading.brackets, dtype=np.int64)
    offsets, steps = ev[:, 0], ev[:, 1]
    walk = np.cumsum(steps)
    # closing brackets with no opener before the first top-level statement: the text
    # started inside them
    head = walk[offsets < _first_top(reading)]
    start_depth = max(0, -int(head.min())) if head.size else 0
    after = start_depth + walk
    after = after - np.minimum(0, np.minimum.accumulate(after))  # ignore later unmatched ones
    before = np.concatenate([[start_depth], after[:-1]])
    idx = np.searchsorted(offsets, np.arange(n, dtype=np.int64), side="right") - 1
    depth = np.where(idx >= 0, after[np.maximum(idx, 0)], start_depth)
    closing = steps < 0
    depth[offsets[closing]] = np.maximum(after[closing], before[closing])
    closed = 0
    if start_depth:
        hits = np.flatnonzero(after == 0)
        closed = int(offsets[hits[0]]) + 1 if hits.size else n
    return depth.astype(np.int64), closed


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def code_structure(text: str) -> CodeStructure:
    r"""Label every character of a Python source text, which may be a slice cut anywhere.

    Parameters
    ----------
    text : str
        N characters of Python source: whole files, or a slice of a corpus that starts and
        ends anywhere (the module docstring describes how the start is found and errors are
        recovered from).

    Returns
    -------
    CodeStructure
        Per-character labels: arrays of shape (N,).

    Notes
    -----
    The labels are those of :mod:`tokenize` on whole, valid files: string literals are
    STRING tokens (prefix and quotes included), comments COMMENT tokens, keywords NAME
    tokens with :func:`keyword.iskeyword` (the soft keywords ``match``, ``case``, ``_`` and
    ``type`` are keywords only in context and names in most code, so they count as
    identifiers), numbers NUMBER tokens, and the indentation level of a line is the
    number of INDENT minus DEDENT tokens before its logical line.

    A *docstring* is a statement made only of (non-f, non-bytes) string literals that is the
    first statement of a ``def`` or ``class`` body (PEP 257), or any such statement at
    column 0: the module docstring, which a slice of concatenated files cannot tell from
    other top-level string statements by position (in the standard library 433 of the 435
    top-level string statements are module docstrings). A text that starts inside a
    triple-quoted string counts it as a docstring when only whitespace or a comment follows
    its closing quotes on that line.

    Examples
    --------
    >>> s = code_structure("x = 'a#b'  # c\n")
    >>> "".join(c for c, m in zip("x = 'a#b'  # c\n", s.string) if m)
    "'a#b'"
    >>> "".join(c for c, m in zip("x = 'a#b'  # c\n", s.comment) if m)
    '# c'
    """
    n = len(text)
    ls = _line_starts(text)
    window = min(n, SCORE_WINDOW)
    readings = [(r, st) for st in START_STATES if (r := _reading(text, ls, st, window))]
    most = max(r.values for r, _ in readings)
    # implausibility, plus a charge for each token a reading leaves unread (in a string or
    # comment at the start) that another reading reads as code
    keys = [
        (r.errors + r.adjacent + UNREAD_COST * (most - r.values), r.hidden, START_STATES.index(st))
        for r, st in readings
    ]
    best = min(range(len(readings)), key=keys.__getitem__)
    scored, state = readings[best]
    full = _reading(text, ls, state, n) if window < n else scored
    assert full is not None
    closers = _unmatched_closers(full)
    if closers:  # read again inside the brackets the text started in
        full = _reading(text, ls, state, n, "".join(_OPENER[c] for c in reversed(closers)))
        assert full is not None
    strings = full.strings
    brackets, closed = _bracket_depth(full, n)
    return CodeStructure(
        string=_spans(strings, n),
        docstring=_spans([s for s in strings if s[2]], n),
        comment=_spans(full.comments, n),
        keyword=_spans(full.keywords, n),
        identifier=_spans(full.names, n),
        number=_spans(full.numbers, n),
        indent=np.repeat(_indent_levels(full, len(ls), closed), np.diff(np.append(ls, n)))[:n],
        brackets=brackets,
        start=state,
        implausibility=scored.errors + scored.adjacent,
        n_code_tokens=scored.values,
        code_share=float(
            1 - (_spans(scored.strings, window) | _spans(scored.comments, window)).mean()
        )
        if window
        else 0.0,
    )
