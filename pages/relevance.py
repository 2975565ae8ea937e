"""Neuron Relevance: which neurons track a feature of the text, how strongly, and is it real?"""

import numpy as np
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import effect_ranking_table, feature_digest
from dashboard.fmt import md
from dashboard.panels.relevance import (
    ALPHA,
    RANK_LABELS,
    headline_metrics,
    ranking_view,
    reliability_check,
)
from dashboard.panels.tokens import neuron_rows_html
from dashboard.tables import feature_steps_df, overview_df, windows_to_neurons
from dashboard.widgets.features import feature_editor
from dashboard.widgets.pickers import (
    NeuronChoice,
    layer_signal_picker,
    register_top_neurons,
    send_to_generate,
)
from dashboard.widgets.text_source import text_source
from lib.analysis.effects import MIN_AUROC_EFFECT, MIN_CORRELATION
from lib.analysis.features import FeatureError
from lib.analysis.ranking import RANK_BY, effect_headline, minimum_size, order_by
from lib.analysis.relevance import auto_detect_windows

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
headline_metrics(table, clear, binary=binary, effect_name=effect_name)
ranking_view(
    table,
    binary=binary,
    effect_name=effect_name,
    file_name=f"relevance-{name}-L{layer}-{signal}.csv",
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
        name="Top neurons on the feature's tokens",
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
    export.chart(charts.layer_overview(overview_df(acts)), name="Layer overview", width="stretch")
    st.caption(
        "Mean activation of every neuron in equal slices of the text: the overview "
        "Dahlberg found uninterpretable, which is why the feature view above exists."
    )

with st.expander("Reliability: do the same neurons come out on another text?"):
    reliability_check(
        source,
        name,
        bundle,
        feature_spec,
        table,
        layer=layer,
        signal=signal,
        rank_by=rank_by,
        n_h=n_h,
    )
