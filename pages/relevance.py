"""Neuron Relevance: which neurons track a feature of the text, and is it real?"""

import numpy as np
import streamlit as st

from dashboard import cache, charts, routing, state
from dashboard.cache import feature_digest, neuron_table
from dashboard.fmt import md
from dashboard.panels.tokens import neuron_rows_html
from dashboard.tables import feature_steps_df, overview_df, windows_to_neurons
from dashboard.widgets.features import feature_editor, make_feature
from dashboard.widgets.pickers import (
    NeuronChoice,
    layer_signal_picker,
    register_top_neurons,
    send_to_generate,
)
from dashboard.widgets.text_source import text_source
from lib.analysis.features import FeatureError
from lib.analysis.ranking import ranking_agreement, reliability
from lib.analysis.relevance import auto_detect_windows

routing.page_guard()
st.title("Neuron Relevance")
with st.expander("What am I looking at?"):
    st.markdown("""
Pick a **feature of interest** (spaces, capitals, a part of speech, "inside quotes"…) and
every neuron of the layer is scored against it:

- **R** — seed 000's relevance: how far the neuron's mean on the feature's tokens is from its
  mean elsewhere, plus how spiky it is there (|(1, −2, 1) ∗ activation|), divided by the
  layer's largest R. It favours neurons that *spike* on the feature.
- **AUROC** — the chance that the neuron is higher on a random feature token than on a random
  other token (0.5: no relation; near 0 or 1: it separates them). It favours neurons that
  *hold a state* over the feature.
- **p, q** — how often a shifted copy of the feature does as well (circular shifts keep
  the text's autocorrelation, which plain shuffles destroy and so give p-values far too
  small); q corrects p for testing every neuron (Benjamini–Hochberg). q < 0.05 is a
  finding worth a look, not a proof that the neuron matters: try the Compare page's
  interventions for that.

Numeric features (bracket depth, position in line) are ranked by correlation r. The heatmap
shows the top neurons (with their ±1 neighbours, as seed 000) on the feature's tokens only.""")

name, bundle = cache.current_bundle()
source = text_source("rel", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("rel", bundle.spec)
feature, feature_spec = feature_editor("rel", trace, bundle.spec.level)
if feature is None:
    st.stop()
acts = trace.signals[(layer, signal)]
key = source.key
table = neuron_table(key, layer, signal, feature_digest(feature), acts, feature)
binary = feature.kind == "binary"

state.bind({"rel.n_h": 3, "rel.rank_by": "R", "rel.other": 2})
c1, c2 = st.columns(2)
n_h = c1.slider(
    "Hypotheses n_h",
    1,
    10,
    key="rel.n_h",
    help="How many top neurons to propose (seed 000 used 2 to 5).",
)
rank_by = "|r|"
if binary:
    rank_by = (
        c2.segmented_control(
            "Rank by",
            ["R", "AUROC"],
            key="rel.rank_by",
            help="R: seed 000's relevance (spiky neurons). AUROC: separation, either direction.",
        )
        or "R"
    )
if rank_by == "AUROC":
    order = (table["AUROC"] - 0.5).abs().sort_values(ascending=False, kind="stable").index
    table = table.loc[order].reset_index(drop=True)
top = table["neuron"].head(n_h).tolist()
state.publish(
    ["rel.source", "rel.layer", "rel.signal", "rel.fkind", "rel.preset", "rel.n_h", "rel.rank_by"]
)
register_top_neurons(name, layer, signal, f"{rank_by} for {feature.name}", top)

m1, m2, m3 = st.columns(3)
m1.metric(
    "Neurons with q < 0.05",
    f"{int((table['q'] < 0.05).sum())} of {len(table)}",
    help="Significant after the circular-shift test and the multiple-testing correction.",
)
if binary:
    k = min(10, len(table))
    agree = ranking_agreement(table, k=k)
    m2.metric(
        f"Top-{k} overlap of R and AUROC",
        f"{agree['overlap']:.0%}",
        help="Share of neurons in both top-k lists.",
    )
    m3.metric(
        "Spearman ρ of R and |AUROC − 0.5|",
        f"{agree['spearman']:.2f}",
        help="Rank correlation over all neurons: how far the two scores agree.",
    )

st.dataframe(
    table.head(50),
    hide_index=True,
    height=280,
    column_config={
        c: st.column_config.NumberColumn(format="%.4g") for c in table.columns if c != "neuron"
    },
)
st.download_button(
    "Download the full ranking (CSV)",
    table.to_csv(index=False),
    file_name=f"relevance-{name}-L{layer}-{signal}.csv",
    mime="text/csv",
    key="btn.rel.csv",
    help="Every neuron with every score.",
)

scores = table.set_index("neuron").sort_index()
score_col = "R" if rank_by == "R" else ("AUROC" if binary else "|r|")
window_scores = (scores[score_col] - 0.5).abs() if score_col == "AUROC" else scores[score_col]
windows = auto_detect_windows(window_scores.to_numpy(), n_h, half_width=1)
shown = windows_to_neurons(windows)
st.subheader("Top neurons on the feature's tokens")
if binary:
    steps = feature_steps_df(trace, acts, feature.values, shown)
    col = scores.loc[shown, [score_col]].reset_index()
    col["neuron"] = col["neuron"].astype(str)
    if score_col == "AUROC":
        col["AUROC"] = (col["AUROC"] - 0.5).abs() * 2
    st.altair_chart(
        charts.heatmap_with_scores(steps, col, sequential=signal in "ifozr", score=score_col),
        width="stretch",
    )
    st.caption(
        f"Windows of ±1 neighbour around the top {n_h}; the first "
        f"{min(300, int(feature.values.sum()))} feature tokens in reading order."
    )
    first = int(np.flatnonzero(feature.values)[0])
else:
    first = 0
start = max(first - 50, 0)
st.html(
    neuron_rows_html(
        trace,
        NeuronChoice(layer, signal, top),
        output_aligned=False,
        show_whitespace=True,
        start=start,
        stop=start + 600,
    )
)

c1, c2 = st.columns([2, 1])
chosen = c1.selectbox("Neuron", top, key="rel.open", help="Look at it on its own page.")
if c2.button("Open in Generate & Highlight", key="btn.rel.open"):
    send_to_generate(layer, signal, [chosen], corpus_start=source.corpus_offset(start))

with st.expander("Whole layer over the whole text"):
    st.altair_chart(charts.layer_overview(overview_df(acts)), width="stretch")
    st.caption(
        "Mean activation of every neuron in equal slices of the text: the overview "
        "seed 000 found uninterpretable, which is why the feature view above exists."
    )

with st.expander("Reliability: do the same neurons come out on another text?"):
    other_seed = st.number_input(
        "Other random seed (generated text)",
        0,
        2**31 - 1,
        key="rel.other",
        help="Seed 000 trusted neurons found in both texts most.",
    )
    if st.button("Run on the second text", key="btn.rel.other"):
        other = source.second(name, bundle, int(other_seed))
        if other is None:
            st.warning("There is no second text of this kind (the recording is too short).")
            st.stop()
        try:
            other_feature = make_feature(feature_spec, other, bundle.spec.level)
        except FeatureError as e:
            st.warning(f"On the second text: {md(str(e))}")
        else:
            t2 = neuron_table(
                cache.trace_key(other),
                layer,
                signal,
                feature_digest(other_feature),
                other.signals[(layer, signal)],
                other_feature,
            )
            k = min(max(n_h, 5), len(table))
            agree = reliability(table, t2, k=k)
            st.write(
                f"Top-{k} here: {table['neuron'].head(k).tolist()}; on the other text: "
                f"{t2['neuron'].head(k).tolist()}; in both: **{agree['shared'] or 'none'}** "
                f"({agree['overlap']:.0%}; Spearman ρ of the scores over all neurons "
                f"{agree['spearman']:.2f})."
            )
