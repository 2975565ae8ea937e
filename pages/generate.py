"""Generate & Highlight: sample text (or take any text) and colour it by neurons."""

import streamlit as st

from dashboard import cache, export, routing, state
from dashboard.fmt import md
from dashboard.panels.interventions import intervention_panel
from dashboard.panels.saliency import language_model_saliency
from dashboard.panels.tokens import (
    WHAT_AM_I_LOOKING_AT,
    bits_per_token,
    expectancy_html,
    neuron_rows_html,
    next_token_panel,
)
from dashboard.widgets.pickers import neuron_picker

routing.page_guard()
st.title("Generate & Highlight")
with st.expander("What am I looking at?"):
    st.markdown(WHAT_AM_I_LOOKING_AT)

name, bundle = cache.current_bundle()
export.report("Generate & Highlight", "gen.", name, bundle.meta)
char = bundle.spec.level == "char"

state.bind(
    {
        "gen.source": "Generate",
        "gen.seed_text": "The ",
        "gen.length": 400 if char else 120,
        "gen.temperature": 0.8,
        "gen.top_k": 0,
        "gen.seed": 1,
        "gen.start": 0,
        "gen.slice_len": 1500 if char else 400,
        "gen.mode": "Neuron activations",
        "gen.output_aligned": False,
        "gen.whitespace": True,
        "gen.log": True,
    }
)
source = (
    st.segmented_control(
        "Text",
        ["Generate", "Paste text", "Corpus slice"],
        key="gen.source",
        help="Sample new text from the model, or record any text through it.",
    )
    or "Generate"
)

start = 0
if source == "Generate":
    c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 1, 1])
    seed_text = c1.text_input(
        "Seed text",
        key="gen.seed_text",
        max_chars=cache.SEED_CHARS,
        help="The model reads this first, then continues it.",
    )
    length = c2.slider(
        "Length (tokens)",
        10,
        2000,
        key="gen.length",
        help="How many tokens to sample after the seed.",
    )
    temperature = c3.slider(
        "Temperature",
        0.0,
        2.0,
        step=0.05,
        key="gen.temperature",
        help="Below 1: safer, more repetitive; above 1: wilder; 0: always the most probable token.",
    )
    top_k = c4.number_input(
        "Top-k",
        0,
        1000,
        key="gen.top_k",
        help="Sample only among the k most probable tokens (0 = all).",
    )
    seed = c5.number_input(
        "Random seed", 0, 2**31 - 1, key="gen.seed", help="The same seed gives the same text."
    )
    if not seed_text:
        st.warning("The seed text is empty: the model needs at least one character to start.")
        st.stop()
    trace = cache.generated_trace(name, seed_text, length, temperature, top_k or None, seed)
elif source == "Paste text":
    st.session_state.setdefault("gen.pasted", 'for item in range(10):\n    print("<b>", item)\n')
    text = st.text_area(
        "Text to record",
        key="gen.pasted",
        height=140,
        help="Any text: the model reads it from a zero state.",
    )
    if not text:
        st.warning("Paste some text to record.")
        st.stop()
    trace = cache.recorded_trace(name, text[:20_000])
else:
    corpus, problem = cache.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(f"The model's corpus is not available here: {md(problem)}")
        st.stop()
    c1, c2 = st.columns([3, 1])
    st.session_state["gen.start"] = min(st.session_state["gen.start"], len(corpus) - 1)
    start = c1.slider(
        "Start (character)",
        0,
        len(corpus) - 1,
        key="gen.start",
        help="Where in the model's training corpus the slice begins.",
    )
    slice_len = c2.slider(
        "Length (characters)",
        100,
        5000,
        key="gen.slice_len",
        help="How much text to record from the start.",
    )
    trace = cache.recorded_trace(name, corpus[start : start + slice_len])

mode = (
    st.segmented_control(
        "Colour by",
        ["Neuron activations", "Expectancy", "Input saliency"],
        key="gen.mode",
        help="A neuron's value at each token, the probability the model gave each token, "
        "or how much one prediction depended on each token (integrated gradients, "
        "Sundararajan, Taly & Yan 2017).",
    )
    or "Neuron activations"
)
o1, o2, o3 = st.columns(3)
whitespace = o1.toggle(
    "Show spaces and newlines as symbols",
    key="gen.whitespace",
    help="· for a space, ↵ for a newline, → for a tab.",
)
if mode == "Neuron activations":
    choice = neuron_picker("pick", name, bundle.spec, trace)
    output_aligned = o2.toggle(
        "Output-aligned",
        key="gen.output_aligned",
        help="Colour each token by the state that predicted it (t-1) "
        "instead of the state after reading it (t).",
    )
    export.highlighted(
        "Neuron activations",
        neuron_rows_html(trace, choice, output_aligned=output_aligned, show_whitespace=whitespace),
    )
    with st.expander("Switch these neurons off — does the model need them?"):
        intervention_panel(
            name,
            bundle,
            choice,
            bundle.tokenizer.detokenize(trace.tokens),
            (seed_text, length, temperature, top_k or None, seed) if source == "Generate" else None,
        )
    state.publish(["pick.layer", "pick.signal", "pick.neurons", "gen.output_aligned"])
elif mode == "Input saliency":
    language_model_saliency(name, bundle, trace, show_whitespace=whitespace)
else:
    log = o2.toggle(
        "Log scale",
        key="gen.log",
        help="log10 of the probability (clipped at 1e-6); off: linear 0 to 1.",
    )
    export.highlighted("Expectancy", expectancy_html(trace, log=log, show_whitespace=whitespace))
    st.caption(
        f"On this text the model needed {bits_per_token(trace):.2f} bits per token "
        "(lower: it expected the text better)."
    )

with st.expander("What did the model expect next?", expanded=False):
    next_token_panel(trace, bundle.vocab, "gen.position")

state.publish(
    ["gen.source", "gen.mode", "gen.whitespace"]
    + (
        ["gen.seed_text", "gen.length", "gen.temperature", "gen.top_k", "gen.seed"]
        if source == "Generate"
        else ["gen.start", "gen.slice_len"]
        if source == "Corpus slice"
        else []
    )
)
