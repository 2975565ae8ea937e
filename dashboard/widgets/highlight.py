"""Highlighted text: tokens in reading order, each on a background coloured by a value.

Dahlberg's table (KTH thesis, c. 2020): one row per neuron, blue for negative and red for
positive; Ryšánek's (2023) expectancy text: red for a probable token, blue for an
improbable one. Every token and label is HTML-escaped here, once, so a corpus or prompt
holding ``<script>`` shows as text. Pure functions (no Streamlit): the page passes the
returned HTML to ``st.html``.

Legibility: each token's text is white or black, whichever contrasts more with its
background by the WCAG 2.x contrast ratio (W3C 2008), so every token meets the AA rule
(>= 4.5:1). Words never break across lines: the tokens of a word sit in one ``nowrap``
span, and the only break opportunities are after whitespace.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

BLUE = (59, 76, 192)
WHITE = (255, 255, 255)
RED = (180, 4, 38)
GREY = (220, 220, 220)
#: the two text colours a token can get
LIGHT_TEXT = "#ffffff"
DARK_TEXT = "#000000"
#: WCAG 2.x level AA for normal text
AA_CONTRAST = 4.5

WHITESPACE_SYMBOLS = {" ": "·", "\t": "→", "\n": "↵", "\r": "␍"}


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB colours.

    Parameters
    ----------
    rgb : array of shape (..., 3)
        Channels in 0..255.

    Returns
    -------
    ndarray of shape (...)
        ``L = 0.2126 R + 0.7152 G + 0.0722 B`` of the linearised channels, where a channel
        ``c = v / 255`` is linearised as ``c / 12.92`` if ``c <= 0.04045``, else
        ``((c + 0.055) / 1.055) ** 2.4`` (W3C, WCAG 2.x, 2008, "relative luminance").

    Examples
    --------
    >>> float(relative_luminance(np.array([255, 255, 255])))
    1.0
    >>> float(relative_luminance(np.array([0, 0, 0])))
    0.0
    """
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    if c.shape[-1:] != (3,):
        raise ValueError(f"colours must have 3 channels in the last axis, got shape {c.shape}")
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WCAG 2.x contrast ratio ``(L1 + 0.05) / (L2 + 0.05)``, L1 the lighter of a and b.

    Parameters
    ----------
    a, b : arrays of shape (..., 3), broadcastable; channels in 0..255.

    Returns
    -------
    ndarray of shape (...), from 1 (same luminance) to 21 (black on white).

    Examples
    --------
    >>> float(contrast_ratio(np.array([0, 0, 0]), np.array([255, 255, 255])))
    21.0
    """
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def text_colours(background: np.ndarray) -> list[str]:
    """The text colour of each background: white or black, whichever contrasts more.

    Parameters
    ----------
    background : array of shape (N, 3), channels in 0..255.

    Returns
    -------
    list of N hex colours, each :data:`LIGHT_TEXT` or :data:`DARK_TEXT`. With black as the
    dark text, the better of the two always reaches at least 4.58:1 (WCAG 2.x).
    """
    bg = np.asarray(background, dtype=np.float64).reshape(-1, 3)
    light = contrast_ratio(bg, np.array(WHITE))
    dark = contrast_ratio(bg, np.zeros(3))
    return [LIGHT_TEXT if w else DARK_TEXT for w in light > dark]


def _hex(rgb: np.ndarray) -> list[str]:
    return ["#{:02x}{:02x}{:02x}".format(*row) for row in np.asarray(rgb, dtype=int)]


def _mix(a, b, t: np.ndarray) -> np.ndarray:
    """Linear mix of colours: ``a + (b - a) t``; a, b of shape (3,) or (N, 3), t (N,)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.rint(a + (b - a) * np.asarray(t, dtype=np.float64)[:, None])


@dataclass(frozen=True)
class ColourScale:
    """Maps values to colours.

    ``kind`` is "diverging" (blue-white-red, white at ``mid``) or "sequential"
    (white-red from ``vmin`` to ``vmax``). ``log`` applies log10 before scaling
    (expectancy, blue-red). Values outside [vmin, vmax] are clipped; NaN is grey.
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

    def rgb(self, values: np.ndarray) -> np.ndarray:
        """Background colours of the values, shape (N, 3), channels 0..255 (NaN: grey)."""
        f = np.atleast_1d(self.fraction(values)).astype(np.float64)
        nan = np.isnan(f)
        f = np.where(nan, 0.0, f)
        if self.kind == "diverging":
            target = np.where((f > 0)[:, None], np.array(self.high), np.array(self.low))
            out = _mix(self.centre, target, np.abs(f))
        elif self.log:
            out = _mix(BLUE, RED, f)
        else:
            out = _mix(WHITE, RED, f)
        out[nan] = GREY
        return out.astype(int)

    def colours(self, values: np.ndarray) -> list[str]:
        """Background colours of the values as hex strings."""
        return _hex(self.rgb(values))

    def text_colours(self, values: np.ndarray) -> list[str]:
        """The text colour (white or black) that contrasts most with each value's colour."""
        return text_colours(self.rgb(values))

    def gradient_css(self) -> str:
        stops = np.linspace(self.vmin, self.vmax, 11)
        if self.log:
            stops = 10.0**stops
        return "linear-gradient(to right, " + ", ".join(self.colours(stops)) + ")"


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
    """Ryšánek's (2023) expectancy: blue (improbable) to red (probable); log10 p in
    [floor, 0]."""
    if log:
        return ColourScale("sequential", floor, 0.0, log=True, label="log10 p")
    return ColourScale("sequential", 0.0, 1.0, label="p")


def _token_html(
    token: str,
    colour: str,
    text: str,
    tip: str,
    show_whitespace: bool,
    seed: bool,
    marked: bool = False,
) -> str:
    shown = token
    if show_whitespace:
        shown = "".join(WHITESPACE_SYMBOLS.get(ch, ch) for ch in token)
    body = html.escape(shown) or "&#8203;"
    cls = "tok" + (" ws" if token.isspace() and show_whitespace else "") + (" seed" if seed else "")
    cls += " mark" if marked else ""
    span = (
        f'<span class="{cls}" style="background:{colour};color:{text}" '
        f'title="{html.escape(tip, quote=True)}">{body}</span>'
    )
    if show_whitespace and "\n" in token:  # the symbol replaced the line break
        span += "<br>" * token.count("\n")
    return span


def _words_html(tokens: list[str], spans: list[str]) -> str:
    """The token spans, each word's tokens wrapped in one ``nowrap`` span.

    A word is a run of tokens without whitespace; a whitespace-only token stands between
    words, and a ``<wbr>`` after every token that ends in whitespace is the break
    opportunity (the whitespace symbols are not breakable characters).
    """
    out: list[str] = []
    open_word = False
    for tok, span in zip(tokens, spans, strict=True):
        if tok.isspace():
            if open_word:
                out.append("</span>")
                open_word = False
            out.append(span + "<wbr>")
            continue
        if not open_word:
            out.append('<span class="w">')
            open_word = True
        out.append(span)
        if tok[-1:].isspace():
            out.append("</span><wbr>")
            open_word = False
    if open_word:
        out.append("</span>")
    return "".join(out)


STYLE = """
<style>
.hl-table {border-collapse: collapse; width: 100%; font-size: 0.92rem;}
.hl-table td {vertical-align: top; padding: 4px 6px; border-bottom: 1px solid #eee;}
.hl-label {white-space: nowrap; color: #555; font-family: sans-serif; width: 7em;}
.hl-text {font-family: ui-monospace, SFMono-Regular, Menlo, monospace; line-height: 1.6;
          white-space: pre-wrap; word-break: keep-all; overflow-wrap: normal;}
.hl-text .w {white-space: nowrap;}
.hl-text .tok {border-radius: 2px; padding: 0 0.5px;}
.hl-text .seed {text-decoration: underline dotted;}
.hl-text .mark {outline: 2px solid #111; outline-offset: 1px;}
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
    marked: int | None = None,
) -> str:
    """An HTML table: one row per (label, values) pair, tokens coloured by the values.

    Each token's text is white or black, whichever has the higher WCAG 2.x contrast with
    its background (:func:`text_colours`); a word's tokens never break across lines.

    Parameters
    ----------
    tokens : list of str, length T
    rows : list of (label, values of shape (T,))
    scale : ColourScale shared by every row (the colour bar shows it)
    start : int
        Position of ``tokens[0]`` in the whole text, for the tooltips.
    n_seed : int
        Tokens at positions below this were given, not generated: underlined.
    marked : int, optional
        Position (in ``tokens``) of one token outlined, e.g. the output a saliency explains.
    """
    parts = [STYLE, colour_bar_html(scale) if colour_bar else "", '<table class="hl-table">']
    for label, values in rows:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(tokens),):
            raise ValueError(f"row {label!r} has {values.shape} values for {len(tokens)} tokens")
        rgb = scale.rgb(values)
        colours, texts = _hex(rgb), text_colours(rgb)
        spans = [
            _token_html(
                tok,
                colours[t],
                texts[t],
                f"position {start + t} · {tok!r} · {value_name} {values[t]:.4g}",
                show_whitespace,
                start + t < n_seed,
                t == marked,
            )
            for t, tok in enumerate(tokens)
        ]
        parts.append(
            f'<tr><td class="hl-label">{html.escape(label)}</td>'
            f'<td class="hl-text">{_words_html(tokens, spans)}</td></tr>'
        )
    parts.append("</table>")
    return "".join(parts)
