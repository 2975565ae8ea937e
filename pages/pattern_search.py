"""Pattern Search: the neurons on throughout a span, and where else they are on together."""

import streamlit as st

from dashboard import cache, export, routing, state
from dashboard.fmt import display_token, md
from dashboard.widgets.highlight import highlighted_rows_html, scale_for
from dashboard.widgets.pickers import layer_signal_picker
from dashboard.widgets.text_source import text_source
from lib.analysis.patterns import pattern, search, text_spans
from lib.run.trace import SIGNAL_RANGES

routing.page_guard()
st.title("Pattern Search")
with st.expander("What am I looking at?"):
    st.markdown("""
LSTMVis's hypothesis-and-match idea (Strobelt et al. 2018): select a **span** of the text
you think the model treats as one thing (a string literal, a parenthesised clause). The
neurons whose value stays **at or above the threshold throughout the span** and were
below it just before form its **pattern**. Every other place in the text where the same
neurons are on together is then ranked: +1 for each pattern neuron on throughout, −1 for
each other neuron also on throughout. The snippets are coloured by the mean of the
pattern's neurons. Matches that overlap or lie within a span's length of a better one are
merged into it.

Choose the span by typing a piece of the text (the first try: `"assert` with its opening
quote, which finds the quote-tracking neuron; a closing quote ends the string, so leave it
out) or by token numbers.""")

name, bundle = cache.current_bundle()
export.report("Pattern Search", "pat.", name, bundle.meta)
source = text_source("pat", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("pat", bundle.spec)
T = len(trace)
state.bind(
    {
        "pat.by": "text",
        "pat.find": '"assert',
        "pat.occurrence": 0,
        "pat.span_start": min(120, T - 2),
        "pat.span_len": 6,
        "pat.threshold": 0.5,
        "pat.merge": True,
    }
)
by = (
    st.segmented_control(
        "Choose the span by",
        ["text", "token numbers"],
        key="pat.by",
        help="Type a piece of the text and pick which occurrence, or give token numbers.",
    )
    or "text"
)
c1, c2, c3 = st.columns(3)
if by == "text":
    query = c1.text_input(
        "Find text",
        key="pat.find",
        help='A piece of the recorded text, exactly as written (e.g. "assert).',
    )
    found = text_spans(trace.tokens, query, limit=500)
    if not found:
        st.warning(
            f"{md(repr(query))} does not occur in this text: type a piece of it exactly "
            "(capitals and spaces count)."
        )
        st.stop()
    if st.session_state["pat.occurrence"] >= len(found):
        st.session_state["pat.occurrence"] = 0

    def _occurrence_label(i: int) -> str:
        a, b = found[i]
        context = "".join(trace.tokens[max(a - 12, 0) : b + 13]).replace("\n", " ")
        return f"#{i + 1} at token {a}: …{context}…"

    occurrence = c2.selectbox(
        "Occurrence",
        list(range(len(found))),
        key="pat.occurrence",
        format_func=_occurrence_label,
        help="Which place in the text the span is (up to the first 500).",
    )
    c2.caption(f"{len(found)}{'+' if len(found) == 500 else ''} found")
    start, end_token = found[int(occurrence)]
    length = end_token - start + 1
    # the token-number inputs then open on this span (within their bounds)
    st.session_state["pat.span_start"] = min(start, T - 2)
    st.session_state["pat.span_len"] = min(length, 200)
else:
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
            "Span length (tokens)",
            1,
            200,
            key="pat.span_len",
            help="How many tokens the span covers.",
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
        "threshold, or choose a shorter span (a closing quote or bracket often ends what "
        "the span began: leave it out)."
    )
    st.stop()
st.caption(
    f"Pattern: {len(neurons)} neurons — {md(', '.join(map(str, neurons[:40])))}"
    + (" …" if len(neurons) > 40 else "")
)
merge = st.toggle(
    "Merge near-duplicates",
    key="pat.merge",
    help="Keep only the best of matches that overlap or lie within a span's length of "
    "each other (the same place shifted by a token or two).",
)
matches = search(
    acts,
    neurons,
    end - start + 1,
    threshold=threshold,
    top=50,
    exclude=(start, end),
    merge=merge,
)
if matches.empty or int(matches["n_pattern_on"].max()) == 0:
    st.info("The pattern's neurons are on together nowhere else in this text.")
export.table(matches, hide_index=True, height=220)
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
export.highlighted(
    "Places that match the pattern",
    "".join(parts) if parts else "<p>No other place matches.</p>",
)
state.publish(
    [
        "pat.layer",
        "pat.signal",
        "pat.by",
        "pat.find",
        "pat.occurrence",
        "pat.span_start",
        "pat.span_len",
        "pat.threshold",
        "pat.merge",
    ]
)
