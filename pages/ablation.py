"""Ablation: does a feature's top neuron matter, and when did it appear in training?"""

import pandas as pd
import streamlit as st

from dashboard import cache, routing, state
from dashboard.cache import evolution_table, feature_digest, neuron_table, sweep
from dashboard.charts import sweep_chart
from dashboard.fmt import md
from dashboard.panels.interventions import validation_text
from dashboard.panels.tokens import neuron_rows_html
from dashboard.widgets.features import feature_editor
from dashboard.widgets.pickers import NeuronChoice, layer_signal_picker
from lib.analysis.evolution import first_epoch_of_best
from lib.model.registry import checkpoints

routing.page_guard()
st.title("Ablation")
with st.expander("What am I looking at?"):
    st.markdown("""
The Relevance page finds neurons that **fire** on a feature; this page tests whether the model
**needs** them (seed 000's future work). The top-k neurons by relevance are switched off
(set to 0 at every step) and the loss on the end of the model's corpus is measured again —
overall and when predicting the feature's tokens. As a control, k **random** neurons are
switched off instead, many times (grey dots and boxes): a single random draw can beat the
chosen neurons by chance, so only a top-k line clearly above the grey spread says the
neurons matter. Each run is a full exact pass over the text.

**Training evolution** (models with per-epoch checkpoints, such as ★ demo-stdlib-char-lstm):
the same neuron's relevance and spectral peak after every epoch, and the epoch at which the
feature's best neuron emerged.""")

name, bundle = cache.current_bundle()
state.bind({"abl.chars": 3000, "abl.n_random": 20, "abl.seed": 0, "abl.kmax": 16})
layer, signal = layer_signal_picker("abl", bundle.spec)
c1, c2, c3, c4 = st.columns(4)
chars = c1.slider(
    "Text (characters from the end of the corpus)",
    1000,
    20_000,
    step=1000,
    key="abl.chars",
    help="Where the loss is measured (the validation split).",
)
kmax = c2.select_slider(
    "Largest k", [1, 2, 4, 8, 16, 32], key="abl.kmax", help="k runs through 1, 2, 4, … up to this."
)
n_random = c3.slider(
    "Random draws per k",
    5,
    60,
    key="abl.n_random",
    help="Size of the random control's distribution.",
)
seed = c4.number_input("Seed", 0, 2**31 - 1, key="abl.seed", help="Seed of the random draws.")
text = validation_text(bundle, chars)
if text is None:
    st.stop()
trace = cache.recorded_trace(name, text)
feature, _ = feature_editor("abl", trace, bundle.spec.level)
if feature is None or feature.kind != "binary":
    st.info(
        "Choose a yes/no feature (a preset, regex, POS tag, or inside quotes / brackets / "
        "start of word) to rank the neurons."
    )
    st.stop()
acts = trace.signals[(layer, signal)]
key = cache.trace_key(trace)
table = neuron_table(key, layer, signal, feature_digest(feature), acts, feature)
ks = tuple(k for k in (1, 2, 4, 8, 16, 32) if k <= kmax and 2 * k <= acts.shape[1])
ranked = tuple(int(n) for n in table["neuron"])
df = sweep(
    name,
    cache.model_key(name),
    text,
    ranked,
    layer,
    ks,
    int(n_random),
    int(seed),
    feature_digest(feature),
    feature.values.astype(bool),
)
left, right = st.columns(2)
left.caption("Loss change, whole text")
left.altair_chart(sweep_chart(df, "delta_loss"), width="stretch")
right.caption(f"Loss change predicting the feature's tokens ({feature.name})")
right.altair_chart(sweep_chart(df, "delta_loss_feature"), width="stretch")
top = df[df["kind"] == "top"].set_index("k")["delta_loss_feature"]
beaten = (
    df[df["kind"] == "random"]
    .groupby("k")["delta_loss_feature"]
    .apply(lambda s: (s >= top[s.name]).mean())
)
st.caption(
    "Share of random draws that hurt the feature's tokens at least as much as the "
    "top-k: " + ", ".join(f"k={k}: {v:.0%}" for k, v in beaten.items())
)

st.subheader("Training evolution")
found = checkpoints(name)
if not found:
    st.info(
        f"{name} kept no per-epoch checkpoints: train with the Train page (it keeps them) "
        "or pick ★ demo-stdlib-char-lstm."
    )
    st.stop()
state.bind({"abl.neuron": ranked[0]})
neuron = int(
    st.number_input(
        "Neuron",
        0,
        acts.shape[1] - 1,
        key="abl.neuron",
        help="Default: the final model's top neuron for the feature.",
    )
)
evo = evolution_table(
    name,
    cache.model_key(name),
    text,
    layer,
    signal,
    neuron,
    feature_digest(feature),
    feature.values.astype(bool),
)
st.dataframe(evo, hide_index=True)
st.markdown(
    f"The final best neuron for **{md(feature.name)}** is the best from epoch "
    f"**{first_epoch_of_best(evo)}** on."
)
chart = pd.DataFrame({"epoch": evo["epoch"], "relevance R (raw)": evo["relevance"]})
st.line_chart(chart, x="epoch", y="relevance R (raw)", height=200)
epoch = st.select_slider(
    "Highlighted text after epoch",
    [e for e, _ in found],
    value=found[-1][0],
    key="btn.abl.epoch",
    help="The neuron on the same text after this epoch.",
)
past = cache.checkpoint_trace(name, epoch, text)
st.html(
    neuron_rows_html(
        past,
        NeuronChoice(layer, signal, [neuron]),
        output_aligned=False,
        show_whitespace=True,
        stop=600,
    )
)
