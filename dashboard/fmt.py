"""Showing user text safely in Markdown and labels."""

from __future__ import annotations

import re


def md(text: str) -> str:
    """Escape Markdown's special characters so user text shows literally."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~$])", r"\\\1", text)


NAMED = {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}


def display_token(token: str) -> str:
    """A token as a readable label: a space, newline or tab by name, other invisible
    characters escaped (\\x0c)."""
    if token in NAMED:
        return NAMED[token]
    return repr(token)[1:-1] if token.isspace() or not token.isprintable() else token


def short_label(token: str, limit: int) -> str:
    """:func:`display_token`, cut to ``limit`` characters with "…" when longer."""
    text = display_token(str(token))
    return text if len(text) <= limit else text[: limit - 1] + "…"
