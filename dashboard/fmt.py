"""Showing user text safely in Markdown and labels."""

from __future__ import annotations

import re
import string

#: every ASCII punctuation character: CommonMark lets each be backslash-escaped, and
#: escaping them all covers Markdown, HTML tags, entities, LaTeX ($), Streamlit's
#: directives (:red[...], :material/icon:) and emoji shortcodes at once
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
#: where a bare URL or e-mail address starts: remark-gfm links these *after* escapes are
#: resolved (on the text), so backslashes alone do not stop it
_AUTOLINK = re.compile(r"(?i)(?<=http)(?=s?\\:)|(?<=www)(?=\\\.)|(?=\\@)")
#: an invisible character that breaks those patterns without changing what is shown
WORD_JOINER = "\u2060"
#: bidirectional overrides and isolates: they would reorder what follows them on screen
#: (a name that reads as another), so they are dropped
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def md(text: object) -> str:
    """User text (any value, shown as ``str(value)``) escaped to show literally in
    Streamlit Markdown, captions and labels.

    Every ASCII punctuation character is backslash-escaped, so no image, link, HTML tag,
    heading, list, table, LaTeX formula or Streamlit directive can be formed; bare URLs
    and e-mail addresses get an invisible word joiner after ``http`` and ``www`` and
    before ``@``, so they stay plain text rather than links; bidirectional overrides are
    dropped, so the text cannot read as something else. Not for HTML: use
    :func:`html.escape` for ``st.html``.

    Examples
    --------
    >>> print(md("![x](a.png) <b> $y$"))
    \\!\\[x\\]\\(a\\.png\\) \\<b\\> \\$y\\$
    >>> md("see http://h") == "see http" + WORD_JOINER + "\\:\\/\\/h"
    True
    """
    escaped = _PUNCTUATION.sub(r"\\\1", _BIDI.sub("", str(text)))
    return _AUTOLINK.sub(WORD_JOINER, escaped)


def code(text: object) -> str:
    """User text as a Markdown code span: shown literally in monospace (nothing inside a
    code span is parsed; the fence is longer than any run of backticks in the text).

    Examples
    --------
    >>> print(code("a*b"), code("x`y"), code("`"))
    `a*b` ``x`y`` `` ` ``
    """
    text = " ".join(_BIDI.sub("", str(text)).splitlines())  # a newline shows as a space
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""  # one space each side is dropped
    return f"{fence}{pad}{text}{pad}{fence}"


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
