"""Static bounds on a user's regular expression, checked before it is compiled.

The ``regex`` package writes out a counted repeat when it compiles it: ``(?:a{3000}){3000}``
becomes nine million copies of ``a`` (3 s and 2.4 GB here), and
``((a{9999}){9999}){9999}`` (23 characters) ran out of 6 GB after 15 s. Its ``timeout``
covers matching only, and a compile cannot be stopped, so :func:`check_pattern` refuses a
pattern whose length, group nesting or written-out size is over a bound before anything is
compiled. The size is computed on the tree of the standard library's parser
(:mod:`re._parser`, the syntax of :mod:`re`): every item counts once (a character class once
per member), times the upper bounds of the counted repeats around it (the lower bound when
there is no upper one). Measured on this machine, one unit of that size costs the ``regex``
compile at most ~0.35 KB and ~1 µs, so :data:`MAX_REGEX_SIZE` keeps a compile under
~40 MB and 0.1 s.
"""

from __future__ import annotations

from re import _parser as _P  # type: ignore[attr-defined]  # the stdlib parser
from typing import Any

#: deepest nesting of parentheses a pattern may have
MAX_REGEX_DEPTH = 20
#: most items a pattern may compile to with its counted repeats written out
MAX_REGEX_SIZE = 100_000

_REPEATS = (_P.MAX_REPEAT, _P.MIN_REPEAT, _P.POSSESSIVE_REPEAT)


class PatternRefused(ValueError):
    """A pattern over one of the bounds; the message says which, and what was received."""


def shown(pattern: str, width: int = 40) -> str:
    """Return the pattern as ``repr``, cut to `width` characters, for a message."""
    return repr(pattern if len(pattern) <= width else pattern[:width] + "…")


def check_pattern(pattern: str, *, max_chars: int) -> int:
    """Refuse a pattern that is too long, too deeply nested or too big once compiled.

    Parameters
    ----------
    pattern : str
    max_chars : int
        The server's ``max_regex_chars``.

    Returns
    -------
    size : int
        Items the pattern compiles to, with its counted repeats written out.

    Raises
    ------
    PatternRefused
        Over ``max_chars``, :data:`MAX_REGEX_DEPTH` or :data:`MAX_REGEX_SIZE`.
    re.error
        Not a valid pattern in :mod:`re`'s syntax.
    """
    if len(pattern) > max_chars:
        raise PatternRefused(
            f"The regular expression is {len(pattern):,} characters long, over this server's "
            f"limit of {max_chars:,} (max_regex_chars; an operator can raise it in "
            "rnn_lens.toml)."
        )
    _check_depth(pattern, paren_depth(pattern))
    try:
        tree = _P.parse(pattern)
        size, depth = _size_and_depth(tree.data)
    except RecursionError:  # the parser recurses per group; the scan above may undercount
        raise _too_deep(pattern, None) from None
    _check_depth(pattern, depth)
    if size > MAX_REGEX_SIZE:
        got = f"{size:,}" if size < 10**15 else "over 10^15"
        raise PatternRefused(
            f"The regular expression {shown(pattern)} would compile to {got} items with its "
            f"counted repeats written out (a {{m,n}} inside a {{m,n}} multiplies), over the "
            f"limit of {MAX_REGEX_SIZE:,}; use smaller counts or + and * instead."
        )
    return size


def paren_depth(pattern: str) -> int:
    """Deepest nesting of parentheses, skipping escapes and character classes."""
    depth = deepest = i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i += 1
            i += pattern[i : i + 1] == "^"
            i += pattern[i : i + 1] == "]"  # a ']' first in a class is a member
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _too_deep(pattern: str, depth: int | None) -> PatternRefused:
    got = "too deep to parse" if depth is None else f"{depth:,} deep"
    return PatternRefused(
        f"The regular expression {shown(pattern)} nests groups {got}, over the limit of "
        f"{MAX_REGEX_DEPTH} levels; flatten it."
    )


def _check_depth(pattern: str, depth: int) -> None:
    if depth > MAX_REGEX_DEPTH:
        raise _too_deep(pattern, depth)


def _size_and_depth(items: list) -> tuple[int, int]:
    """Written-out size and group depth of a parsed pattern, without recursion."""
    size = deepest = 0
    stack: list[tuple[list, int, int]] = [(items, 1, 0)]  # (items, copies, group depth)
    while stack:
        items, copies, depth = stack.pop()
        deepest = max(deepest, depth)
        for op, av in items:
            size += copies * (max(len(av), 1) if op is _P.IN else 1)
            for sub, times, nests in _children(op, av):
                stack.append((list(sub), copies * times, depth + nests))
    return size, deepest


def _children(op: Any, av: Any) -> list[tuple[Any, int, int]]:
    """(sub-pattern, copies of it, 1 if it is a group) for each part of one parsed item."""
    if op in _REPEATS:
        low, high, sub = av
        return [(sub, max(low, 1) if high == _P.MAXREPEAT else high, 0)]
    if op is _P.SUBPATTERN:
        return [(av[-1], 1, 1)]
    if op is _P.ATOMIC_GROUP:
        return [(av, 1, 1)]
    if op in (_P.ASSERT, _P.ASSERT_NOT):
        return [(av[1], 1, 1)]
    if op is _P.BRANCH:
        return [(sub, 1, 0) for sub in av[1]]
    if op is _P.GROUPREF_EXISTS:
        return [(sub, 1, 1) for sub in av[1:] if sub is not None]
    return []
