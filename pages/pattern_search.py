"""Pattern Search: the neurons on throughout a span, and where else they are on together."""

import streamlit as st

from dashboard import cache, routing, state
from dashboard.fmt import display_token, md
from dashboard.widgets.highlight import highlighted_rows_html, scale_for
from dashboard.widgets.pickers import layer_signal_picker
from dashboard.widgets.text_source import text_source
from lib.analysis.patterns import pattern, search
from lib.run.trace import SIGNAL_RANGES

routing.page_guard()
st.title("Pattern Search")
with st.expander("What am I looking at?"):
    st.markdown("""
LSTMVis's hypothesis-and-match idea: select a **span** of the text you think the model treats
as one thing (a string literal, a parenthesised clause). The neurons whose value stays
**at or above the threshold throughout the span** and were below it just before form its
**pattern**. Every other place in the text where the same neurons are on together is then
ranked: +1 for each pattern neuron on throughout, −1 for each other neuron also on
throughout. The snippets are coloured by the mean of the pattern's neurons.""")

name, bundle = cache.current_bundle()
source = text_source("pat", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("pat", bundle.spec)
T = len(trace)
state.bind({"pat.span_start": min(120, T - 2), "pat.span_len": 6, "pat.threshold": 0.3})
c1, c2, c3 = st.columns(3)
start = int(
    c1.number_input(
        "Span start (token)",
        0,
        T - 2,
        key="pat.span_start",
        help="Position of the span's first token.",
    )
)
length = int(
    c2.number_input(
        "Span length (tokens)", 1, 200, key="pat.span_len", help="How many tokens the span covers."
    )
)
threshold = c3.slider(
    "Threshold",
    -1.0,
    1.0,
    step=0.05,
    key="pat.threshold",
    help="A neuron is 'on' at or above this value.",
)
end = min(start + length - 1, T - 1)
span = "".join(display_token(t) if t.isspace() else t for t in trace.tokens[start : end + 1])
st.markdown(f"Span {start}–{end}: **{md(span)}**")
acts = trace.signals[(layer, signal)]
neurons = pattern(acts, start, end, threshold=threshold)
if len(neurons) == 0:
    st.warning(
        "No neuron is on throughout this span (and off just before it): lower the "
        "threshold or choose another span."
    )
    st.stop()
st.caption(
    f"Pattern: {len(neurons)} neurons — {', '.join(map(str, neurons[:40]))}"
    + (" …" if len(neurons) > 40 else "")
)
matches = search(acts, neurons, end - start + 1, threshold=threshold, top=50, exclude=(start, end))
st.dataframe(matches, hide_index=True, height=220)
mean = acts[:, neurons].mean(axis=1)
scale = scale_for(signal, mean, signal_range=SIGNAL_RANGES[signal])
parts = []
for rank, row in enumerate(matches.head(10).itertuples(index=False)):
    a, b = max(int(row.start) - 15, 0), min(int(row.end) + 16, T)
    parts.append(
        highlighted_rows_html(
            trace.tokens[a:b],
            [(f"#{rank + 1} at {row.start}", mean[a:b])],
            scale,
            start=a,
            colour_bar=rank == 0,
            value_name="pattern mean",
        )
    )
st.html("".join(parts) if parts else "<p>No other place matches.</p>")
state.publish(["pat.layer", "pat.signal", "pat.span_start", "pat.span_len", "pat.threshold"])
