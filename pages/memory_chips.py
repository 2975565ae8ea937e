"""Memory Chips: RNNVis's co-clustering of hidden units and the words they respond to."""

import altair as alt
import numpy as np
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import coclusters, pos_tags_cached, response_matrix
from dashboard.charts.distributions import BLUE_ORANGE
from dashboard.fmt import display_token, md
from dashboard.panels import glyphs
from dashboard.tables import most_frequent_tag, pack_clouds, percentile_rows
from dashboard.widgets.pickers import layer_signal_picker
from dashboard.widgets.text_source import text_source
from lib.analysis.coclustering import SIGNS, cluster_edges, memory_chips, unit_detail
from lib.analysis.coclustering import word_cloud_data as cloud_words
from lib.analysis.features import FeatureError
from lib.analysis.response import unit_responses

routing.page_guard()
st.title("Memory Chips")
with st.expander("What am I looking at?"):
    st.markdown("""
RNNVis (Ming et al. 2017) explains a unit by its **expected response** to each token: the average
change of the unit, Δh (or Δc), when the model reads that token. The matrix of responses
(token types × units) is **co-clustered**: units that respond alike form a *memory chip*
(each small square is one unit) and the tokens they respond to form the paired *word cloud*.

- **Chips** are coloured by the response to the selected token: orange = the unit goes up
  when the model reads it, blue = down.
- **Word clouds** list each cluster's tokens, larger = stronger response of the paired chip,
  coloured by their most frequent part of speech.
- **Edges** are the mean signed response of a word cluster on a chip (weak ones, under the
  threshold, are hidden); **unit detail** shows one unit's most responsive tokens as box
  plots (25–75 % box, 9–91 % whiskers). Works for character models too: types are characters.
- **Sentence glyphs** follow a sentence token by token, one bar per chip: the grey box spans
  the chip's mean negative and mean positive state, the orange / blue hats show how far it
  moved up / down on this token, and the cursor above is the share of the chip's previous
  state it kept (Ming et al. 2017, Eqs. 6–7). Click a bar to pick its chip out on the chips above.
""")

name, bundle = cache.current_bundle(offer="demo-ref-word-lstm")  # word clusters (Ming et al.)
export.report("Memory Chips", "chips.", name, bundle.meta)
source = text_source("chips", name, bundle)
if source is None:
    st.stop()
trace = source.trace
state.bind(
    {
        "chips.layer": bundle.spec.layers - 1,
        "chips.signal": "c" if bundle.spec.cell == "lstm" else "h",
        "chips.top_n": 300,
        "chips.k": 8,
        "chips.sign": "abs",
        "chips.edges": 0.2,
    }
)
layer, signal = layer_signal_picker("chips", bundle.spec)
c1, c2, c3, c4 = st.columns(4)
top_n = c1.number_input(
    "Token types",
    20,
    2000,
    step=20,
    key="chips.top_n",
    help="The most frequent token types to explain (RNNVis: 300).",
)
k = c2.slider("Clusters k", 2, 20, key="chips.k", help="Number of co-clusters.")
sign = c3.selectbox(
    "Sign",
    SIGNS,
    key="chips.sign",
    help="How negative responses count: abs = strength either way; raw-shift "
    "= shifted so the most negative is 0; positive / negative only.",
)
threshold = c4.slider(
    "Edge filter",
    0.0,
    1.0,
    step=0.05,
    key="chips.edges",
    help="Hide edges weaker than this share of the strongest (RNNVis: 20%).",
)

acts = trace.signals[(layer, signal)]
key = source.key
resp = response_matrix(key, layer, signal, int(top_n), acts, trace.tokens)
if len(resp.types) < k:
    st.warning(f"Only {len(resp.types)} token types in this text: fewer than k = {md(k)}.")
    st.stop()
labels = coclusters(key, layer, signal, int(top_n), k, sign, resp.S)
types = [display_token(t) for t in resp.types]

state.bind({"chips.word": types[0]})
if st.session_state["chips.word"] not in types:
    st.session_state["chips.word"] = types[0]
word = st.selectbox(
    "Colour the chips by the response to",
    types,
    key="chips.word",
    help="A token type: each unit's cell shows its expected response to it.",
)
word_index = types.index(word)

left, right = st.columns([2, 3])
left.caption("Memory chips (one square per unit)")
glyph_keys = ["event.chips.glyphs.0", "event.chips.glyphs.1"]  # chart selections, not settings
picked = glyphs.selected_chip(
    *(st.session_state.get(key) for key in glyph_keys), chips=labels.col_labels
)
chip_df = memory_chips(resp.S, labels.col_labels, word_index)
chip_chart = charts.memory_chips(chip_df, highlight=picked)
# a robust colour domain centred on 0: the 98th percentile of |response|, so one outlying
# unit does not leave every other square white (units beyond it take the end colour)
chip_lim = float(np.percentile(np.abs(chip_df["response"]), 98)) or 1e-9
chip_chart.spec = chip_chart.spec.encode(
    color=alt.Color(
        "response:Q",
        scale=alt.Scale(domain=[-chip_lim, chip_lim], clamp=True, range=BLUE_ORANGE.range),
        title="response",
    )
)
export.chart(where=left, chart=chip_chart, name="Memory chips")
left.caption(
    f"Colour clipped at ±{chip_lim:.3g} (98th percentile of |response|); "
    "hover a square for its exact value."
)
words = cloud_words(resp.S, resp.types, resp.counts, labels.row_labels, labels.col_labels)
try:
    tags = pos_tags_cached(key, trace.tokens, bundle.spec.level, "universal")
    words["pos"] = most_frequent_tag(trace.tokens, tags, list(words["word"]))
except FeatureError as e:
    words["pos"] = "?"
    right.caption(f"No part-of-speech colours: {md(e)}")
right.caption("Word clouds, paired with the chips of the same number")
export.chart(where=right, chart=charts.word_clouds(pack_clouds(words)), name="Word clouds")

edges = cluster_edges(resp.S, labels.row_labels, labels.col_labels, min_strength=threshold)
st.subheader("Word cluster → chip edges")
export.chart(charts.edge_matrix(edges), name="Word cluster to chip edges")

st.subheader("Unit detail")
state.bind({"chips.unit": 0})
unit = st.number_input(
    "Unit",
    0,
    acts.shape[1] - 1,
    key="chips.unit",
    help="A hidden unit: its most responsive tokens.",
)
detail = unit_detail(resp.S, resp.types, int(unit), top_m=10, counts=resp.counts)
samples = unit_responses(acts, trace.tokens, int(unit), list(detail["word"]))
c1, c2 = st.columns([2, 3])
shown = detail.assign(word=detail["word"].map(display_token))
export.table(where=c1, data=shown, hide_index=True)
export.chart(
    where=c2,
    chart=charts.box_percentiles(percentile_rows(samples)),
    name=f"Unit {int(unit)} by word",
    width="stretch",
)
st.subheader("Sentence glyphs")
state.bind({"chips.sentence": "if x is not None:", "chips.sentence2": "", "chips.beta": "clip"})
betas = glyphs.beta_choices(bundle.spec.cell, signal)
if st.session_state["chips.beta"] not in betas:
    st.session_state["chips.beta"] = "clip"
c1, c2, c3 = st.columns([3, 3, 2])
first = c1.text_input(
    "Sentence",
    key="chips.sentence",
    max_chars=120,
    help="Read from a zero state: one glyph per token, one bar per chip.",
)
second = c2.text_input(
    "Compare with (optional)",
    key="chips.sentence2",
    max_chars=120,
    help="A second sentence, drawn beside the first on the same scale.",
)
beta = c3.selectbox(
    "Preserved from",
    betas,
    key="chips.beta",
    format_func=glyphs.BETA_LABELS.get,
    help="How much of the previous state a chip kept: the part of the old state still "
    "there in the new one, same sign, up to its size (Ming et al. 2017, Eq. 7), or the "
    "gate that decides what to keep (LSTM f, GRU z).",
)
sentences = [text for text in (first, second) if text.strip()]
if not sentences:
    st.info("Type a sentence to see its glyphs.")
else:
    panels, scale = glyphs.glyph_panels(
        name, sentences, layer, signal, labels.col_labels, words, beta
    )
    st.caption(
        f"Bars: mean {md(signal)} per unit of each chip (chips 0, 1, … left to right), "
        f"scale ±{scale:g}. Hover a bar for its chip and top words; click it to pick "
        "the chip out on the memory chips above (double-click to clear)."
    )
    if picked is not None:
        top = glyphs.cluster_words(words).get(picked, "")
        st.caption(
            md(
                f"Picked: chip {picked} (its bars in yellow; the other chips are faded "
                f"above). Its words: {top}."
            )
        )
    columns = st.columns(len(panels))
    for column, text, panel, key in zip(
        columns, sentences, panels, glyph_keys[: len(panels)], strict=True
    ):
        column.caption(f"{md(panel.n_tokens)} tokens: “{md(text)}”")
        export.chart(
            where=column,
            chart=panel.spec,
            name=f"Glyphs of “{text[:60]}”",
            width="content",
            on_select="rerun",
            selection_mode=charts.CHIP_SELECTION,
            key=key,
        )
state.publish(["chips.layer", "chips.signal", "chips.k", "chips.sign", "chips.top_n"])
