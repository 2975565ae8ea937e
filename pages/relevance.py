"""Neuron Relevance: which neurons track a feature of the text, how strongly, and is it real?"""

import numpy as np
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import effect_ranking_table, feature_digest
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
from lib.analysis.effects import MIN_AUROC_EFFECT, MIN_CORRELATION
from lib.analysis.features import FeatureError
from lib.analysis.ranking import (
    RANK_BY,
    effect_headline,
    minimum_size,
    order_by,
    ranking_agreement,
    reliability,
)
from lib.analysis.relevance import auto_detect_windows

ALPHA = 0.01  # false discovery rate of a finding (effect_ranking's default)
RANK_LABELS = {"size": "effect size", "R": "R (Dahlberg)"}

routing.page_guard()
st.title("Neuron Relevance")
with st.expander("What am I looking at?"):
    st.markdown(f"""
Pick a **feature** of the text (spaces, capitals, a part of speech, "inside quotes"…) and
every neuron of the layer is measured against it.

- **Effect (AUROC)**: pick a random token with the feature and a random token without
  it; the AUROC is the chance that the neuron is higher on the first. 0.5 means no link;
  near 1 the neuron is *higher on the feature*, near 0 *lower*. **size** puts it on a 0–1
  scale (2 × |AUROC − 0.5|). For a numeric feature (bracket depth, position in line) the
  effect is the correlation **r**, and size is |r|.
- **Interval**: the range the effect would plausibly take on another text like this one.
  The text is cut into blocks of about 64 tokens that are drawn again at random (a block
  bootstrap, Künsch 1989), which keeps its words, lines and quotes in one piece. The top
  neurons get one.
- **p, q**: how often a shifted copy of the feature does as well as the real one (shifting
  keeps the text's runs, which shuffling would destroy); q corrects p for testing every
  neuron (Benjamini & Hochberg 1995).
- **finding**: the effect is at least the minimum (AUROC at least
  {0.5 + MIN_AUROC_EFFECT:.1f} or at most {0.5 - MIN_AUROC_EFFECT:.1f}; |r| at least
  {MIN_CORRELATION:.2f}), q < {ALPHA}, and the interval, where there is one, leaves out
  "no link". On a long text almost every neuron passes the test for a real feature, so
  the size of the effect, not the p-value, is what tells neurons apart.
- **R**: Dahlberg's relevance (KTH thesis): the gap between the neuron's mean on and off
  the feature plus how spiky it is on the feature, divided by the layer's largest R. A
  spiky neuron scores high whatever the feature, so R comes with **R_z**: how many
  standard deviations R lies above what the same neuron scores for shifted copies of the
  feature (about 0: no link; above 3: a real one).
- **constant**: the neuron does not move on this text (dead); it is ranked last.

The heatmap shows the top neurons (with their ±1 neighbours, as Dahlberg did) on the
feature's tokens only. A finding says that a neuron tracks the feature, not that the model
needs it: the Compare page's interventions and the Ablation page test that.""")

name, bundle = cache.current_bundle()
export.report("Neuron Relevance", "rel.", name, bundle.meta)
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
try:
    table = effect_ranking_table(key, layer, signal, feature_digest(feature), acts, feature)
except FeatureError as e:
    st.warning(md(str(e)))
    st.stop()
binary = feature.kind == "binary"
effect_name = "AUROC" if binary else "r"

state.bind(
    {"rel.n_h": 3, "rel.rank_by": "size", "rel.other": 2},
    valid=lambda k, v: k != "rel.rank_by" or v in RANK_BY,
)
c1, c2 = st.columns(2)
n_h = c1.slider(
    "Neurons to propose",
    1,
    10,
    key="rel.n_h",
    help="How many of the top-ranked neurons to show below (Dahlberg used 2 to 5).",
)
rank_by = "size"
if binary:
    rank_by = (
        c2.segmented_control(
            "Rank by",
            list(RANK_BY),
            format_func=RANK_LABELS.__getitem__,
            key="rel.rank_by",
            help="Effect size: how cleanly the neuron separates the feature's tokens from "
            "the others, either way round. R: Dahlberg's relevance, which also rewards "
            "spiky neurons.",
        )
        or "size"
    )
table = order_by(table, rank_by)
top = table["neuron"].head(n_h).tolist()
state.publish(
    ["rel.source", "rel.layer", "rel.signal", "rel.fkind", "rel.preset", "rel.n_h", "rel.rank_by"]
)
score_name = effect_name if rank_by == "size" else "R"
register_top_neurons(name, layer, signal, f"{score_name} for {feature.name}", top)

st.markdown(f"**{md(effect_headline(table, feature.kind, alpha=ALPHA))}**")
live = ~table["constant"]
clear = live & (table["size"] >= minimum_size(feature.kind))
m1, m2, m3 = st.columns(3)
m1.metric(
    "Neurons with a clear effect",
    f"{int(clear.sum())} of {len(table)}",
    help=(
        f"Neurons whose effect reaches the minimum ({effect_name} "
        + (
            f"at least {0.5 + MIN_AUROC_EFFECT:.1f} or at most {0.5 - MIN_AUROC_EFFECT:.1f})"
            if binary
            else f"|r| at least {MIN_CORRELATION:.2f})"
        )
        + ", however small their p-value."
    ),
)
m2.metric(
    "Findings",
    f"{int(table['finding'].sum())}",
    help=f"A clear effect that also survives the shift test (q < {ALPHA}), with an interval "
    "that leaves out 'no link' for the top neurons.",
)
if binary:
    agree = ranking_agreement(table, k=min(10, len(table)))
    m3.metric(
        "R vs effect size (Spearman ρ)",
        f"{agree['spearman']:.2f}",
        help="How alike Dahlberg's R and the effect size order the neurons (1: the same "
        "order, 0: unrelated).",
    )
n_constant = int(table["constant"].sum())
if n_constant:
    st.caption(f"{n_constant} neuron(s) do not move on this text (constant); they are listed last.")

number = st.column_config.NumberColumn
columns = ["neuron", "effect", "ci_low", "ci_high", "direction", "finding", "size", "q", "p"]
columns += ["R", "R_z", "mean_inside", "mean_outside"] if binary else []
columns += ["constant"]
export.table(
    table[columns].head(50),
    hide_index=True,
    height=280,
    column_config={
        "effect": number(
            effect_name,
            format="%.3f",
            help="Chance that the neuron is higher on a random feature token than on a "
            "random other token (0.5: no link)."
            if binary
            else "Correlation with the feature (0: no link).",
        ),
        "ci_low": number("95% interval from", format="%.3f", help="Block-bootstrap interval."),
        "ci_high": number("to", format="%.3f", help="Block-bootstrap interval."),
        "size": number("size", format="%.3f", help="The effect on a 0–1 scale."),
        "q": number(
            "q",
            format="%.2g",
            help="p corrected for testing every neuron (Benjamini & Hochberg 1995); "
            "below 0.05: unlikely to be chance.",
        ),
        "p": number(
            "p",
            format="%.2g",
            help="Share of shifted copies of the feature that matched the neuron as well.",
        ),
        "R": number("R", format="%.3f", help="Dahlberg's relevance (1 = the layer's top)."),
        "R_z": number("R_z", format="%.1f", help="R against shifted copies of the feature."),
        "mean_inside": number("mean on", format="%.3f", help="Mean on the feature's tokens."),
        "mean_outside": number("mean off", format="%.3f", help="Mean on the other tokens."),
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

# windows in the table's order (findings first), scored by what the table is ranked by
order_score = np.empty(len(table))
order_score[table["neuron"].to_numpy()] = -np.arange(len(table), dtype=float)
windows = auto_detect_windows(order_score, n_h, half_width=1)
shown = windows_to_neurons(windows)
st.subheader("Top neurons on the feature's tokens")
if binary:
    steps = feature_steps_df(trace, acts, feature.values, shown)
    col = table.set_index("neuron").loc[shown, [rank_by]].reset_index()
    col["neuron"] = col["neuron"].astype(str)
    export.chart(
        charts.heatmap_with_scores(steps, col, sequential=signal in "ifozr", score=rank_by),
        width="stretch",
    )
    st.caption(
        f"Windows of ±1 neighbour around the top {md(n_h)}; the first "
        f"{min(300, int(feature.values.sum()))} feature tokens in reading order. The grey "
        f"column is each neuron's {RANK_LABELS[rank_by]} (0 to 1)."
    )
    first = int(np.flatnonzero(feature.values)[0])
else:
    first = 0
start = max(first - 50, 0)
export.highlighted(
    "Most relevant neurons on the text",
    neuron_rows_html(
        trace,
        NeuronChoice(layer, signal, top),
        output_aligned=False,
        show_whitespace=True,
        start=start,
        stop=start + 600,
    ),
)

c1, c2 = st.columns([2, 1])
chosen = c1.selectbox("Neuron", top, key="rel.open", help="Look at it on its own page.")
if c2.button(
    "Open in Generate & Highlight",
    key="btn.rel.open",
    help="Show this neuron on the Generate & Highlight page.",
):
    send_to_generate(layer, signal, [chosen], corpus_start=source.corpus_offset(start))

with st.expander("Whole layer over the whole text"):
    export.chart(charts.layer_overview(overview_df(acts)), width="stretch")
    st.caption(
        "Mean activation of every neuron in equal slices of the text: the overview "
        "Dahlberg found uninterpretable, which is why the feature view above exists."
    )

with st.expander("Reliability: do the same neurons come out on another text?"):
    other_seed = st.number_input(
        "Other random seed (generated text)",
        0,
        2**31 - 1,
        key="rel.other",
        help="Dahlberg trusted neurons found in both texts most.",
    )
    if st.button(
        "Run on the second text",
        key="btn.rel.other",
        help="Rank the neurons again on a second text and compare the two rankings.",
    ):
        other = source.second(name, bundle, int(other_seed))
        if other is None:
            st.warning("There is no second text of this kind (the recording is too short).")
            st.stop()
        try:
            other_feature = make_feature(feature_spec, other, bundle.spec.level)
            t2 = effect_ranking_table(
                cache.trace_key(other),
                layer,
                signal,
                feature_digest(other_feature),
                other.signals[(layer, signal)],
                other_feature,
            )
        except FeatureError as e:
            st.warning(f"On the second text: {md(str(e))}")
        else:
            t2 = order_by(t2, rank_by)
            k = min(max(n_h, 5), len(table))
            agree = reliability(table, t2, k=k, column=rank_by)
            st.write(
                f"Top-{md(k)} by {RANK_LABELS[rank_by]} here: "
                f"{md(table['neuron'].head(k).tolist())}; on the other text: "
                f"{md(t2['neuron'].head(k).tolist())}; in both: "
                f"**{md(agree['shared'] or 'none')}** ({agree['overlap']:.0%}; Spearman ρ of the "
                f"scores over all neurons {agree['spearman']:.2f})."
            )
