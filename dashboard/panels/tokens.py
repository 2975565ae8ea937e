"""Panels several pages share: highlighted text of a Trace, next-token inspection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, export
from dashboard.fmt import code, display_token
from dashboard.widgets.highlight import expectancy_scale, highlighted_rows_html, scale_for
from dashboard.widgets.pickers import NeuronChoice
from lib.run.trace import SIGNAL_LABELS, SIGNAL_RANGES, Trace

WHAT_AM_I_LOOKING_AT = """
**A row** is one neuron (one coordinate of the chosen layer's state vector) over the whole
text; the text is repeated on every row so rows can be compared token by token.

**A colour** is that neuron's value at that token. Blue is negative, white zero, red
positive for signed signals (the hidden state h and the candidates have the fixed range
−1 to 1; the cell state c and the vanilla RNN's pre-activation are scaled to the largest
value shown). Gates live in 0 to 1 and go from white (closed) to red (open). In
expectancy mode a token is red when the model found it probable and blue when it did not
(log scale by default). Hover over a token for its position and exact value.

**Alignment.** The value at a token is the state *after the model read that token*, which
is what it uses to predict the next one (input-aligned, Dahlberg's LSTM view). Switch to
output-aligned to colour each token by the state that predicted it instead. Spaces show
as ·, newlines as ↵; the seed text is underlined with dots.
"""


def aligned(values: np.ndarray, output_aligned: bool) -> np.ndarray:
    """Values per token; output-aligned shifts by one (token t gets the state at t-1)."""
    if not output_aligned:
        return values
    out = np.full_like(values, np.nan, dtype=np.float64)
    out[1:] = values[:-1]
    return out


def neuron_rows_html(
    trace: Trace,
    choice: NeuronChoice,
    *,
    output_aligned: bool,
    show_whitespace: bool,
    start: int = 0,
    stop: int | None = None,
) -> str:
    values = trace.signals[(choice.layer, choice.signal)]
    sl = slice(start, stop)
    shown = values[sl][:, choice.neurons]
    scale = scale_for(
        SIGNAL_LABELS[choice.signal], shown, signal_range=SIGNAL_RANGES[choice.signal]
    )
    rows = [(f"neuron {n}", aligned(values[:, n], output_aligned)[sl]) for n in choice.neurons]
    return highlighted_rows_html(
        trace.tokens[sl],
        rows,
        scale,
        start=start,
        show_whitespace=show_whitespace,
        n_seed=trace.n_seed,
        value_name=SIGNAL_LABELS[choice.signal],
    )


def expectancy_html(
    trace: Trace, *, log: bool, show_whitespace: bool, start: int = 0, stop: int | None = None
) -> str:
    sl = slice(start, stop)
    return highlighted_rows_html(
        trace.tokens[sl],
        [("expectancy", trace.expectancy[sl])],
        expectancy_scale(log=log),
        start=start,
        n_seed=trace.n_seed,
        show_whitespace=show_whitespace,
        value_name="p",
    )


def bits_per_token(trace: Trace) -> float:
    """Mean -log2 p of each token given the ones before it (the text's cross-entropy)."""
    p = trace.next_prob[:-1].astype(np.float64)
    return float(np.mean(-np.log2(np.clip(p, 1e-12, 1.0)))) if p.size else float("nan")


def next_token_panel(trace: Trace, vocab, key: str) -> None:
    """Choose a position; see the model's top-k next-token distribution there."""
    T = len(trace)
    if T < 2:
        return
    st.session_state.setdefault(key, min(trace.n_seed, T - 2) if trace.n_seed else 0)
    st.session_state[key] = min(st.session_state[key], T - 2)
    t = st.slider(
        "Position",
        0,
        T - 2,
        key=key,
        help="After reading the token at this position, what did the model expect?",
    )
    actual = trace.tokens[t + 1]
    df = pd.DataFrame(
        {
            "token": [display_token(vocab.tokens[i]) for i in trace.topk_ids[t]],
            "prob": trace.topk_probs[t],
        }
    )
    left, right = st.columns([2, 3])
    context = "".join(trace.tokens[max(0, t - 30) : t + 1])
    left.markdown(f"After reading position **{t:d}** ({code(display_token(trace.tokens[t]))}):")
    left.code(context[-60:] or " ", language=None)
    left.markdown(
        f"Actual next token: {code(display_token(actual))}, "
        f"probability **{trace.next_prob[t]:.4f}**."
    )
    export.chart(
        where=right,
        chart=charts.topk_bars(df, actual=display_token(actual)),
        name=f"Next-token probabilities after position {t:d}",
        width="stretch",
    )
