"""Highlighted text is legible: WCAG AA contrast for every colour, no breaks inside words."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from dashboard.widgets.highlight import (
    RED,
    ColourScale,
    contrast_ratio,
    expectancy_scale,
    highlighted_rows_html,
    relative_luminance,
    scale_for,
)


def _wcag_contrast(hex_a: str, hex_b: str) -> float:
    """An independent, scalar WCAG 2.x contrast ratio of two "#rrggbb" colours."""

    def lum(h: str) -> float:
        out = 0.0
        for w, k in zip((0.2126, 0.7152, 0.0722), (1, 3, 5), strict=True):
            c = int(h[k : k + 2], 16) / 255
            out += w * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
        return out

    hi, lo = sorted((lum(hex_a), lum(hex_b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# every scale the app draws text on: the signals' (fixed and data-driven), the expectancy
# scales and the Hidden States page's expected-prediction scale
SCALES = {
    "h diverging [-1, 1]": scale_for("h", np.zeros(3), signal_range=(-1.0, 1.0)),
    "gate sequential [0, 1]": scale_for("i", np.zeros(3), signal_range=(0.0, 1.0)),
    "c diverging ±max": scale_for("c", np.array([-38.0, 2.0, 11.0])),
    "expectancy log": expectancy_scale(log=True),
    "expectancy linear": expectancy_scale(log=False),
    "expected prediction": ColourScale(
        "diverging",
        0.0,
        1.0,
        mid=0.5,
        low=(214, 96, 77),
        high=(67, 147, 195),
        centre=(221, 221, 221),
    ),
}


def _dense_values(scale: ColourScale) -> np.ndarray:
    lo, hi = scale.vmin, scale.vmax
    pad = 0.25 * (hi - lo)  # values beyond the ends are clipped: include them too
    v = np.linspace(lo - pad, hi + pad, 4001)
    if scale.log:
        v = 10.0**v
    return np.concatenate([v, [np.nan]])


def test_contrast_formula_against_hand_computed_cases():
    white, black = np.array([255, 255, 255]), np.array([0, 0, 0])
    assert contrast_ratio(white, black) == pytest.approx(21.0)
    assert contrast_ratio(white, white) == pytest.approx(1.0)
    # #767676 is the lightest grey meeting 4.5:1 on white, #777777 just fails
    assert contrast_ratio(np.array([0x76] * 3), white) == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio(np.array([0x77] * 3), white) < 4.5
    # pure red: linear R = 1, L = 0.2126
    assert relative_luminance(np.array([255, 0, 0])) == pytest.approx(0.2126)
    # the independent scalar implementation agrees on random colours
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, 256, size=(50, 2, 3)):
        ha, hb = ("#{:02x}{:02x}{:02x}".format(*x) for x in (a, b))
        assert contrast_ratio(a, b) == pytest.approx(_wcag_contrast(ha, hb))


def test_dark_text_alone_fails_on_the_strongest_red():
    """The old fixed dark text is illegible where a neuron fires most: the null case."""
    red = "#{:02x}{:02x}{:02x}".format(*RED)
    assert _wcag_contrast(red, "#333333") < 2.0
    assert _wcag_contrast(red, "#ffffff") > 4.5


@pytest.mark.parametrize("name", list(SCALES))
def test_every_colour_of_every_scale_meets_aa(name):
    scale = SCALES[name]
    values = _dense_values(scale)
    backgrounds, texts = scale.colours(values), scale.text_colours(values)
    assert len(set(backgrounds)) > 50  # the sampling does reach the whole scale
    worst = min(_wcag_contrast(b, t) for b, t in zip(backgrounds, texts, strict=True))
    assert worst >= 4.5, (name, worst)
    # the code picks the better of white and black, not just any passing one
    for b, t in zip(backgrounds, texts, strict=True):
        other = "#000000" if t == "#ffffff" else "#ffffff"
        assert _wcag_contrast(b, t) >= _wcag_contrast(b, other)


def test_strong_colours_get_white_text_and_pale_ones_black():
    scale = SCALES["h diverging [-1, 1]"]
    assert scale.text_colours(np.array([-1.0, 1.0, 0.0, 0.05])) == [
        "#ffffff",
        "#ffffff",
        "#000000",
        "#000000",
    ]


class _Spans(HTMLParser):
    """Every token span of the rendered HTML: (background, text colour, shown text), and
    the characters of the text cells with the word span they sit in and break marks."""

    def __init__(self):
        super().__init__()
        self.tokens: list[list[str]] = []
        self.stream: list[tuple[str, int | None]] = []  # (char or "<break>", word id)
        self._stack: list[str] = []
        self._word: int | None = None
        self._words = 0
        self._in_text = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and a.get("class") == "hl-text":
            self._in_text = True
        if not self._in_text:
            return
        if tag in ("br", "wbr"):
            self.stream.append(("<break>", self._word))
            return
        if tag == "span":
            cls = a.get("class", "")
            self._stack.append(cls)
            if cls == "w":
                self._words += 1
                self._word = self._words
            elif cls.startswith("tok"):
                style = dict(p.split(":", 1) for p in (a.get("style") or "").split(";") if ":" in p)
                self.tokens.append([style["background"], style["color"], ""])

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_text = False
        if tag == "span" and self._in_text and self._stack and self._stack.pop() == "w":
            self._word = None

    def handle_data(self, data):
        if not self._in_text:
            return
        if self._stack and self._stack[-1].startswith("tok"):
            self.tokens[-1][2] += data
        for ch in data:
            self.stream.append((ch, self._word))


def _parse(html_text: str) -> _Spans:
    p = _Spans()
    p.feed(html_text)
    return p


CODE = (
    'def read_config(path_name):\n    """Return the settings."""\n'
    "    with open(path_name) as handle:\n        return parse_all(handle.read())\n"
) * 12


@pytest.mark.parametrize("show_whitespace", [True, False])
def test_rendered_tokens_meet_aa(show_whitespace):
    tokens = list(CODE)
    values = np.sin(np.arange(len(tokens)) / 3.0)
    page = _parse(
        highlighted_rows_html(
            tokens,
            [("neuron 1", values)],
            SCALES["h diverging [-1, 1]"],
            show_whitespace=show_whitespace,
        )
    )
    assert len(page.tokens) == len(tokens)
    assert {t for _, t, _ in page.tokens} == {"#ffffff", "#000000"}  # both are used
    assert min(_wcag_contrast(b, t) for b, t, _ in page.tokens) >= 4.5


@pytest.mark.parametrize("show_whitespace", [True, False])
def test_char_level_text_never_breaks_inside_a_word(show_whitespace):
    tokens = list(CODE)
    values = np.linspace(-1, 1, len(tokens))
    html_text = highlighted_rows_html(
        tokens,
        [("neuron 1", values)],
        SCALES["h diverging [-1, 1]"],
        show_whitespace=show_whitespace,
    )
    assert not re.search(r"break-all|overflow-wrap:\s*anywhere", html_text)
    stream = _parse(html_text).stream
    chars = [(i, ch, w) for i, (ch, w) in enumerate(stream) if ch != "<break>"]
    shown_space = {"·", "→", "↵", "␍", " ", "\t", "\n", "\r"}
    pairs = 0
    for (i, a, wa), (j, b, wb) in zip(chars, chars[1:], strict=False):
        if a in shown_space or b in shown_space:
            continue
        # two letters of one word: one nowrap span, no <wbr>/<br> between them
        pairs += 1
        assert wa is not None and wa == wb, (a, b)
        assert all(stream[k][0] != "<break>" for k in range(i + 1, j)), (a, b)
    assert pairs > len(tokens) // 2
    # and the text can still wrap: a break opportunity after every space
    breaks = sum(1 for ch, _ in stream if ch == "<break>")
    assert breaks >= CODE.count(" ") + CODE.count("\n")


def test_word_level_tokens_with_trailing_spaces_wrap_between_words():
    words = ["The ", "film ", "was ", "wonderful", ", ", "truly."]
    html_text = highlighted_rows_html(
        words, [("p", np.linspace(0, 1, 6))], SCALES["expected prediction"], show_whitespace=False
    )
    stream = _parse(html_text).stream
    text = "".join(ch for ch, _ in stream if ch != "<break>")
    assert text == "".join(words)
    # a break after each token ending in a space, none between "wonderful" and its comma
    assert sum(1 for ch, _ in stream if ch == "<break>") == 4
    chars = [(ch, w) for ch, w in stream if ch != "<break>"]
    comma = [ch for ch, _ in chars].index(",")
    assert chars[comma - 1] == ("l", chars[comma][1]) and chars[comma][1] is not None
