"""Ablation: does a feature's top neuron matter, and when did it appear in training?"""

import streamlit as st

from dashboard import cache, export, routing, state
from dashboard.cache import feature_digest, neuron_table, sweep
from dashboard.fmt import md
from dashboard.panels.ablation import MODE_LABELS, evolution_view, sweep_view
from dashboard.panels.interventions import edit_signal_picker, validation_text
from dashboard.widgets.features import feature_editor
from dashboard.widgets.gates import run_gate
from dashboard.widgets.pickers import layer_signal_picker
from lib.analysis.ablation import unrelated_neurons

routing.page_guard()
st.title("Ablation")
with st.expander("What am I looking at?"):
    st.markdown("""
The Relevance page finds neurons that **fire** on a feature; this page tests whether the model
**needs** them (the future work of Dahlberg's thesis). The top-k neurons by relevance are
switched off at every step and the loss on the end of the model's corpus is measured again —
overall and when predicting the feature's tokens. Each run is a full exact pass over the text.

**Switched off how.** *mean* holds a neuron at its average over the same text (the usual
standard: the rest of the network keeps seeing values it was trained on, Wang et al. 2023);
*resample* puts in the neuron's value at a random step of the text (seeded; Chan et al. 2022);
*zero* sets it to 0, a value it may never take, so zero can cost more than the neuron's
information is worth.

**Controls.** k random neurons are switched off instead, many times, and the top-k is
compared with the spread of those draws. Two controls: **unrelated** neurons only — those the
ranking finds not significant (q at least the threshold) and with a small effect — and **all**
other neurons, which can draw other neurons of the same feature (they then cost as much as
the chosen ones, and the top-k looks no better than chance). Only a top-k cost above the
unrelated spread says the chosen neurons matter.

**Training evolution** (models with per-epoch checkpoints, such as ★ demo-stdlib-char-lstm):
the same neuron's relevance and spectral peak after every epoch, and the epoch at which the
feature's best neuron emerged.""")

name, bundle = cache.current_bundle()
export.report("Ablation", "abl.", name, bundle.meta)
state.bind(
    {
        "abl.chars": 3000,
        "abl.n_random": 20,
        "abl.seed": 0,
        "abl.kmax": 16,
        "abl.mode": "mean",
        "abl.edit_signal": "h",
        "abl.q_min": 0.05,
        "abl.max_effect": 0.1,
    }
)
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
    help="How many random sets each control switches off at each k.",
)
seed = c4.number_input(
    "Seed", 0, 2**31 - 1, key="abl.seed", help="Seed of the random draws (and of resample)."
)
if st.session_state["abl.mode"] not in MODE_LABELS:
    st.session_state["abl.mode"] = "mean"
m1, m2, m3, m4 = st.columns(4)
mode = m1.selectbox(
    "Switch off by",
    list(MODE_LABELS),
    key="abl.mode",
    format_func=MODE_LABELS.__getitem__,
    help="mean and resample keep a neuron on values it really takes; zero sets it to 0.",
)
with m2:
    edit_signal = edit_signal_picker("abl.edit_signal", bundle.spec.cell, mode)
q_min = m3.number_input(
    "Unrelated: q at least",
    0.0,
    1.0,
    step=0.05,
    key="abl.q_min",
    help="A neuron counts as unrelated when its q (its shift-test p-value corrected for "
    "testing every neuron, Benjamini & Hochberg 1995) is at least this.",
)
max_effect = m4.number_input(
    "and effect at most",
    0.0,
    0.5,
    step=0.05,
    key="abl.max_effect",
    help="… and its AUROC (the chance it is higher on a feature token than on another; "
    "0.5 = no link) is within this of 0.5.",
)
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
units = acts.shape[1]
key = cache.trace_key(trace)
table = neuron_table(key, layer, signal, feature_digest(feature), acts, feature)
unrelated = tuple(int(n) for n in unrelated_neurons(table, q_min=q_min, max_effect=max_effect))
ks = tuple(k for k in (1, 2, 4, 8, 16, 32) if k <= kmax and 2 * k <= units)
ranked = tuple(int(n) for n in table["neuron"])
st.caption(
    f"Neurons ranked by relevance of their {md(signal)} to **{md(feature.name)}**; switched off in "
    f"{md(edit_signal)}. {len(unrelated)} of {units} neurons count as unrelated (q ≥ {q_min:g} and "
    f"|AUROC − 0.5| ≤ {max_effect:g}): the unrelated control draws only from them."
)
request = (
    name,
    cache.model_key(name),
    key,
    layer,
    signal,
    feature_digest(feature),
    ks,
    int(n_random),
    int(seed),
    mode,
    edit_signal,
    unrelated,
)
n_runs = 1 + len(ks) * (1 + 2 * int(n_random))
if not run_gate(
    "Run the sweep",
    request,
    key="btn.abl.run",
    remember="abl.requested",
    type="primary",
    help=f"Switch off the top k and the random sets: {n_runs} full passes over the text.",
):
    st.info(
        f"Press **Run the sweep** to switch the neurons off: {n_runs} full passes over "
        f"{len(trace):,} tokens (k = {md(', '.join(map(str, ks)))}; {int(n_random)} draws per k "
        "from each control)."
    )
else:
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
        mode=mode,
        signal=edit_signal,
        control=("unrelated", "all"),
        unrelated=unrelated,
        reference_key=f"{key}:{layer}:{edit_signal}",
        _reference=None if mode == "zero" else trace.signals[(layer, edit_signal)],
    )
    sweep_view(df, feature.name, char=bundle.spec.level == "char")

evolution_view(name, text, trace, layer, signal, feature, ranked[0])
