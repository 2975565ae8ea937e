"""Highlighted text: tokens in reading order, each on a background coloured by a value.

Seed 000's table (spec/seed-000.md §1.3): one row per neuron, blue for negative and red
for positive; seed 001's expectancy text: red for a probable token, blue for an
improbable one. Every token and label is HTML-escaped here, once, so a corpus or prompt
holding ``<script>`` shows as text. Pure functions (no Streamlit): the page passes the
returned HTML to ``st.html``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

BLUE = (59, 76, 192)
WHITE = (255, 255, 255)
RED = (180, 4, 38)
GREY = (220, 220, 220)

WHITESPACE_SYMBOLS = {" ": "·", "\t": "→", "\n": "↵", "\r": "␍"}


@dataclass(frozen=True)
class ColourScale:
    """Maps values to colours.

    ``kind`` is "diverging" (blue-white-red, white at ``mid``) or "sequential"
    (white-red from ``vmin`` to ``vmax``). ``log`` applies log10 before scaling
    (expectancy). Values outside [vmin, vmax] are clipped; NaN is grey.
    """

    kind: str
    vmin: float
    vmax: float
    mid: float = 0.0
    log: bool = False
    label: str = ""
    low: tuple[int, int, int] = BLUE  # diverging: the colour of vmin
    high: tuple[int, int, int] = RED  # diverging: the colour of vmax
    centre: tuple[int, int, int] = WHITE

    def fraction(self, values: np.ndarray) -> np.ndarray:
        """Position of each value on the scale: -1..1 (diverging) or 0..1 (sequential)."""
        v = np.asarray(values, dtype=np.float64)
        lo, hi = self.vmin, self.vmax
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(np.maximum(v, 10.0**lo))
        if self.kind == "diverging":
            span_hi = max(hi - self.mid, 1e-12)
            span_lo = max(self.mid - lo, 1e-12)
            f = np.where(v >= self.mid, (v - self.mid) / span_hi, (v - self.mid) / span_lo)
            return np.clip(f, -1.0, 1.0)
        return np.clip((v - lo) / max(hi - lo, 1e-12), 0.0, 1.0)

    def colours(self, values: np.ndarray) -> list[str]:
        f = self.fraction(values)
        out = []
        for x in f:
            if math.isnan(x):
                rgb = GREY
            elif self.kind == "diverging":
                rgb = _mix(self.centre, self.high if x > 0 else self.low, abs(x))
            else:
                rgb = _mix(BLUE, RED, x) if self.log else _mix(WHITE, RED, x)
            out.append("#{:02x}{:02x}{:02x}".format(*rgb))
        return out

    def gradient_css(self) -> str:
        stops = np.linspace(self.vmin, self.vmax, 11)
        if self.log:
            stops = 10.0**stops
        return "linear-gradient(to right, " + ", ".join(self.colours(stops)) + ")"


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(a[k] + (b[k] - a[k]) * t)) for k in range(3))


def scale_for(signal: str, values: np.ndarray, *, signal_range=None) -> ColourScale:
    """The colour scale a signal gets.

    Gates in [0, 1] are sequential white-red over [0, 1]; h and the candidates have the
    fixed diverging range [-1, 1]; unbounded signals (c, a) are diverging over
    ±max|value| of what is shown.
    """
    if signal_range is not None and signal_range[0] >= 0:
        return ColourScale("sequential", signal_range[0], signal_range[1], label=signal)
    if signal_range is not None:
        return ColourScale("diverging", signal_range[0], signal_range[1], label=signal)
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    m = float(np.abs(finite).max()) if finite.size else 1.0
    m = m if m > 0 else 1.0
    return ColourScale("diverging", -m, m, label=signal)


def expectancy_scale(*, log: bool = True, floor: float = -6.0) -> ColourScale:
    """Seed 001's expectancy: blue (improbable) to red (probable); log10 p in [floor, 0]."""
    if log:
        return ColourScale("sequential", floor, 0.0, log=True, label="log10 p")
    return ColourScale("sequential", 0.0, 1.0, label="p")


def _token_html(token: str, colour: str, tip: str, show_whitespace: bool, seed: bool) -> str:
    shown = token
    if show_whitespace:
        shown = "".join(WHITESPACE_SYMBOLS.get(ch, ch) for ch in token)
    body = html.escape(shown) or "&#8203;"
    cls = "tok" + (" ws" if token.isspace() and show_whitespace else "") + (" seed" if seed else "")
    span = (
        f'<span class="{cls}" style="background:{colour}" '
        f'title="{html.escape(tip, quote=True)}">{body}</span>'
    )
    if show_whitespace and "\n" in token:  # the symbol replaced the line break
        span += "<br>" * token.count("\n")
    return span


STYLE = """
<style>
.hl-table {border-collapse: collapse; width: 100%; font-size: 0.92rem;}
.hl-table td {vertical-align: top; padding: 4px 6px; border-bottom: 1px solid #eee;}
.hl-label {white-space: nowrap; color: #555; font-family: sans-serif; width: 7em;}
.hl-text {font-family: ui-monospace, SFMono-Regular, Menlo, monospace; line-height: 1.6;
          white-space: pre-wrap; word-break: break-all;}
.hl-text .tok {border-radius: 2px; padding: 0 0.5px;}
.hl-text .ws {color: #999;}
.hl-text .seed {text-decoration: underline dotted #888;}
.hl-bar {display: flex; align-items: center; gap: 8px; font-family: sans-serif;
         font-size: 0.85rem; color: #444; margin: 4px 0 8px 0;}
.hl-bar .grad {width: 220px; height: 12px; border: 1px solid #ccc; border-radius: 2px;}
</style>
"""


def colour_bar_html(scale: ColourScale) -> str:
    lo, hi = scale.vmin, scale.vmax
    name = html.escape(scale.label)
    return (
        f'<div class="hl-bar"><span>{name}</span><span>{lo:.3g}</span>'
        f'<span class="grad" style="background:{scale.gradient_css()}"></span>'
        f"<span>{hi:.3g}</span></div>"
    )


def highlighted_rows_html(
    tokens: list[str],
    rows: list[tuple[str, np.ndarray]],
    scale: ColourScale,
    *,
    start: int = 0,
    show_whitespace: bool = True,
    n_seed: int = 0,
    value_name: str = "value",
    colour_bar: bool = True,
) -> str:
    """An HTML table: one row per (label, values) pair, tokens coloured by the values.

    Parameters
    ----------
    tokens : list of str, length T
    rows : list of (label, values of shape (T,))
    scale : ColourScale shared by every row (the colour bar shows it)
    start : int
        Position of ``tokens[0]`` in the whole text, for the tooltips.
    n_seed : int
        Tokens at positions below this were given, not generated: underlined.
    """
    parts = [STYLE, colour_bar_html(scale) if colour_bar else "", '<table class="hl-table">']
    for label, values in rows:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(tokens),):
            raise ValueError(f"row {label!r} has {values.shape} values for {len(tokens)} tokens")
        colours = scale.colours(values)
        cells = []
        for t, (tok, col, v) in enumerate(zip(tokens, colours, values, strict=True)):
            tip = f"position {start + t} · {tok!r} · {value_name} {v:.4g}"
            cells.append(_token_html(tok, col, tip, show_whitespace, start + t < n_seed))
        parts.append(
            f'<tr><td class="hl-label">{html.escape(label)}</td>'
            f'<td class="hl-text">{"".join(cells)}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)
