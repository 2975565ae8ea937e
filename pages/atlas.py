"""Neuron Atlas: what does every neuron of a layer do, and what is the evidence?"""

import streamlit as st

from dashboard import cache, export, routing, state
from dashboard.fmt import md
from dashboard.panels import atlas as panel
from dashboard.widgets.pickers import layer_signal_picker
from dashboard.widgets.text_source import text_source
from lib.analysis.features import FeatureError

routing.page_guard()
st.title("Neuron Atlas")
with st.expander("What am I looking at?"):
    st.markdown("""
The atlas answers the question other views leave to you: **what does each neuron of this
layer do?** Every neuron is compared with every feature of a bank chosen for the text: for
Python code, *inside a string literal*, *inside a comment*, *keyword*, *indentation depth*,
*bracket depth*, *position in line*…; for prose, *inside a quotation*, *sentence position*,
*capitalised word*, parts of speech….

A neuron gets a **role** only when the evidence holds up:
- the effect is large: for a yes/no feature the **AUROC** (the chance that the neuron is
  higher on a feature token than on another token; 0.5 = no relation) is at least 0.6 or at
  most 0.4; for a numeric feature the correlation is large;
- a **95% interval** from a block bootstrap (resampling stretches of text, which keeps
  neighbouring tokens together) excludes chance;
- it survives a **circular-shift test** (the feature slid along the text, so its runs stay
  runs), corrected for testing every neuron of the layer.

Otherwise it says *no clear role*. Karpathy, Johnson & Fei-Fei (2015) found quote,
line-length and bracket cells by hand and estimated that about 5% of an LSTM's cells are
interpretable; the share here is the same figure for this model and text. Each neuron's
**card** shows its best features, where it is highest (max-activating contexts, as
Neuroscope shows for transformers), contexts across its whole range, its histogram, its
dominant period (Dahlberg's Fourier view) and its gate saturation.""")

name, bundle = cache.current_bundle()
export.report("Neuron Atlas", "atlas.", name, bundle.meta)
source = text_source("atlas", name, bundle)
if source is None:
    st.stop()
layer, signal = layer_signal_picker("atlas", bundle.spec)
built = cache.atlas_built(source.key, layer, signal)
if not built:
    st.info(
        f"Building the atlas scores all {bundle.spec.units:,} neurons of layer {md(layer)} against "
        "every feature of the bank: about a minute for 100,000 tokens, then it is kept."
    )
    if not st.button("Build the atlas", key="btn.atlas.build", type="primary"):
        st.stop()
    cache.mark_atlas_built(source.key, layer, signal)
try:
    found = cache.neuron_atlas(source.key, source.trace, layer, signal, bundle.spec.level)
except FeatureError as e:
    st.warning(md(str(e)))
    st.stop()

panel.summary(found)
state.bind({"atlas.query": ""})
query = st.text_input(
    "Find neurons by role",
    key="atlas.query",
    placeholder="e.g. string, comment, bracket, no clear role",
    help="Shows the neurons whose role contains this text.",
)
picked = panel.neuron_table(found, query)
strongest = found.table.sort_values(["role", "size"], ascending=False, na_position="last")
state.bind({"atlas.neuron": int(strongest.iloc[0]["neuron"])})
if picked is not None:
    st.session_state["atlas.neuron"] = picked
neuron = st.number_input(
    "Neuron",
    0,
    bundle.spec.units - 1,
    key="atlas.neuron",
    help="Pick a row of the table, or type a neuron's number, to open its card.",
)
panel.neuron_card(name, bundle, source, found, int(neuron))
state.publish(["atlas.layer", "atlas.signal", "atlas.neuron", "atlas.query"])
