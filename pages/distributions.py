"""Distributions: each neuron's activation histogram, KL filtering and dead neurons."""

import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import (
    gate_saturation_table,
    layer_distributions,
    model_summaries,
    pos_tags_cached,
)
from dashboard.fmt import md
from dashboard.panels.experiments import group_picker, group_values
from dashboard.widgets.pickers import layer_signal_picker, register_top_neurons, send_to_generate
from dashboard.widgets.text_source import text_source
from lib.analysis.distributions import mean_abs_activation, token_percentiles
from lib.analysis.features import FeatureError
from lib.model.registry import list_models
from lib.run.trace import SIGNAL_LABELS

routing.page_guard()
st.title("Distributions")
with st.expander("What am I looking at?"):
    st.markdown("""
Each neuron's values over the text, cut into bins of width 0.01, form a probability
distribution; the layer's **reference** is the mean of all of them (Ryšánek 2023). The **KL
divergence** (in bits, both directions and their sum) says how far a neuron's distribution is
from the reference: the highest are the unusual neurons worth a look, the lowest behave like
the layer's average. A neuron is **dead** when more than 90 % of its values lie within ±0.01
of zero; dead neurons have high KL for a dull reason, so they can be left out of the ranking.
The cell state c has no fixed range, so it is clipped to an interval (by default the 99th
percentile of |c| in the layer) and the values outside are not counted.""")

name, bundle = cache.current_bundle()
export.report("Distributions", "dist.", name, bundle.meta)
source = text_source("dist", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("dist", bundle.spec)
state.bind(
    {
        "dist.bin": 0.01,
        "dist.eps": 1e-10,
        "dist.dead_thr": 0.01,
        "dist.dead_share": 0.9,
        "dist.pct": 99.0,
        "dist.exclude_dead": True,
        "dist.rank": "sum",
    }
)
with st.expander("Settings", expanded=False):
    c1, c2, c3, c4, c5 = st.columns(5)
    bin_width = c1.number_input(
        "Bin width",
        0.001,
        1.0,
        step=0.005,
        format="%.3f",
        key="dist.bin",
        help="Width of the histogram bins.",
    )
    eps = c2.number_input(
        "Smoothing ε",
        1e-12,
        1e-2,
        format="%.0e",
        key="dist.eps",
        help="Added to every bin before KL, so empty bins stay finite.",
    )
    dead_thr = c3.number_input(
        "Dead: |value| ≤",
        0.0,
        1.0,
        step=0.005,
        format="%.3f",
        key="dist.dead_thr",
        help="What counts as near zero.",
    )
    dead_share = c4.slider(
        "Dead: share near zero >",
        0.5,
        1.0,
        step=0.01,
        key="dist.dead_share",
        help="Ryšánek (2023): more than 90 %.",
    )
    pct = c5.slider(
        "Clip c at percentile",
        90.0,
        100.0,
        step=0.5,
        key="dist.pct",
        help="Unbounded signals are clipped to ± this percentile of |value|.",
    )
acts = trace.signals[(layer, signal)]
key = source.key
d = layer_distributions(key, layer, signal, bin_width, eps, dead_thr, dead_share, pct, acts)
table = d["table"]

c1, c2, c3 = st.columns([1, 1, 2])
exclude = c1.toggle(
    "Leave dead neurons out",
    key="dist.exclude_dead",
    help="Dead neurons rank high for a dull reason.",
)
rank = c2.segmented_control(
    "Rank by",
    ["sum", "forward", "reverse"],
    key="dist.rank",
    help="How unlike the reference each neuron's values are (KL divergence, 0 = alike): "
    "forward KL(P‖Q) weighs where the neuron's values P lie, reverse KL(Q‖P) where the "
    "reference Q lies; sum (Jeffreys) both.",
)
c3.metric(
    "Dead neurons",
    f"{int(table['dead'].sum())} of {len(table)}",
    help="More than the share of values within the threshold of zero.",
)
column = {"sum": "kl_sum", "forward": "kl_forward", "reverse": "kl_reverse"}[rank or "sum"]
ranked = table[~table["dead"]] if exclude else table
ranked = ranked.sort_values(column, ascending=False, kind="stable")
register_top_neurons(name, layer, signal, "highest KL", ranked["neuron"].head(5).tolist())
st.caption(f"Range {d['range'][0]:.3g} to {d['range'][1]:.3g}, {d['P'].shape[1]} bins.")
export.table(
    ranked,
    hide_index=True,
    height=240,
    column_config={
        c: st.column_config.NumberColumn(format="%.4g")
        for c in ("kl_forward", "kl_reverse", "kl_sum", "mean_abs")
    },
)
if ranked.empty:
    st.warning("Every neuron is dead by this rule: loosen the threshold.")
    st.stop()


def hist_df(unit: int) -> pd.DataFrame:
    return pd.DataFrame({"value": d["edges"][:-1], "neuron": d["P"][unit], "reference": d["Q"]})


hi, lo = int(ranked["neuron"].iloc[0]), int(ranked["neuron"].iloc[-1])
left, right = st.columns(2)
left.caption(f"Highest KL: neuron {hi:d} (bars) against the reference (line)")
export.chart(where=left, chart=charts.histogram_overlay(hist_df(hi)), width="stretch")
right.caption(f"Lowest KL: neuron {lo:d}")
export.chart(where=right, chart=charts.histogram_overlay(hist_df(lo)), width="stretch")

st.subheader("One neuron")
state.bind({"dist.unit": hi, "dist.group": "token"})
c1, c2, c3 = st.columns([1, 2, 2])
unit = int(
    c1.number_input(
        "Neuron", 0, acts.shape[1] - 1, key="dist.unit", help="Any neuron of the layer."
    )
)
group = c2.segmented_control(
    "Box plots by",
    ["token", "part of speech"],
    key="dist.group",
    help="Its values grouped by the token read, or by its POS tag.",
)
if c3.button("Open in Generate & Highlight", key="btn.dist.open"):
    send_to_generate(layer, signal, [unit])
left, right = st.columns(2)
export.chart(where=left, chart=charts.histogram_overlay(hist_df(unit)), width="stretch")
groups = trace.tokens
if group == "part of speech":
    try:
        groups = pos_tags_cached(key, trace.tokens, bundle.spec.level, "universal")
    except FeatureError as e:
        st.warning(md(str(e)))
box = token_percentiles(acts[:, unit], groups, top=25)
export.chart(
    where=right,
    chart=charts.box_percentiles(box.rename(columns={box.columns[0]: "token"})),
    width="stretch",
)

st.subheader("Mean |activation| per layer and signal")
st.caption(
    "One chart per kind of signal, each with its own scale: an LSTM's cell state c is "
    "unbounded and can be far larger than the gates and h, which are bounded by 1."
)
means = pd.DataFrame(
    [
        {
            "kind": {"h": "hidden state h", "c": "cell state c"}.get(sig, "gates and others"),
            "signal": f"L{lay} {sig}",
            "mean |activation|": mean_abs_activation(v),
        }
        for (lay, sig), v in trace.signals.items()
    ]
)
kinds = list(dict.fromkeys(means["kind"]))
for col, kind in zip(st.columns(len(kinds)), kinds, strict=True):
    col.markdown(f"**{md(kind)}**")
    export.chart(
        where=col,
        chart=charts.signal_means(means[means["kind"] == kind].drop(columns="kind")),
        width="stretch",
    )

if bundle.spec.cell in ("lstm", "gru"):
    st.subheader("Gate saturation")
    st.caption(
        "Karpathy, Johnson & Fei-Fei (2015, fig. 4): one dot per unit and gate, placed by how "
        "often the gate is nearly shut (< 0.1, left) and nearly open (> 0.9, right). "
        + (
            "A unit right-saturated on the forget gate f keeps its memory: its cell carries "
            "what it holds from step to step."
            if bundle.spec.cell == "lstm"
            else "Keras' GRU updates `h_t = z h_(t-1) + (1 - z) n`, so a unit right-saturated on "
            "the update gate z keeps its memory (papers that write the GRU the other way "
            "round swap left and right for z)."
        )
    )
    sat = pd.concat(
        [
            gate_saturation_table(key, lay, trace).assign(layer=f"layer {lay}")
            for lay in trace.layers
        ],
        ignore_index=True,
    )
    memory_gate = "f" if bundle.spec.cell == "lstm" else "z"
    sat_shown = sat.assign(gate=sat["gate"].map(SIGNAL_LABELS))
    export.chart(charts.saturation_scatter(sat_shown), width="stretch")
    keeps = sat[(sat["gate"] == memory_gate) & (sat["right"] > 0.5)]
    st.markdown(
        md(
            f"{len(keeps)} of {int((sat['gate'] == memory_gate).sum())} units have "
            f"{SIGNAL_LABELS[memory_gate]} open (> 0.9) more than half the time."
        )
    )

with st.expander(
    "Compare several models (e.g. the same architecture at several dropouts)",
    expanded=st.session_state.get("dist.model_group", "(none)") != "(none)"
    or "dist.model_group_open" in st.session_state,
):
    same = [
        m["name"]
        for m in list_models()
        if m["spec"]["level"] == bundle.spec.level and m["spec"]["task"] == "lm"
    ]
    members = group_picker(
        "dist.model_group",
        same,
        help="A sweep's models (Train page, "
        "Experiments tab), e.g. Ryšánek's (2023) dropouts: chooses them all.",
    )
    if st.session_state.get("dist.model_group_applied") != st.session_state.get("dist.model_group"):
        st.session_state["dist.model_group_applied"] = st.session_state.get("dist.model_group")
        if members:
            st.session_state["dist.models"] = members
    st.session_state["dist.models"] = [
        m for m in st.session_state.get("dist.models", [name]) if m in same
    ]
    chosen = st.multiselect(
        "Models", same, key="dist.models", help="Each reads the same text; layer 0, hidden state h."
    )
    if chosen:
        text = bundle.tokenizer.detokenize(trace.tokens)[:20_000]
        summary = model_summaries(tuple(chosen), text, dead_thr, dead_share)
        c1, c2 = st.columns(2)
        export.chart(
            where=c1,
            chart=charts.per_model_bars(summary, value="mean_abs", title="mean |h|"),
            width="stretch",
        )
        export.chart(
            where=c2,
            chart=charts.per_model_bars(summary, value="dead", title="dead neurons"),
            width="stretch",
        )
        values = group_values(list(chosen))
        if len(values) == len(chosen) > 1 and len({s for s, _ in values.values()}) == 1:
            setting = next(iter(values.values()))[0]
            line = summary.assign(**{setting: [values[m][1] for m in summary["model"]]})
            export.chart(
                charts.setting_line(line, x=setting, y="mean_abs", title="mean |h|"),
                width="stretch",
            )
            st.caption(f"Ryšánek (2023, fig. 5.7): mean |activation| falls as {md(setting)} rises.")
state.publish(["dist.layer", "dist.signal", "dist.rank", "dist.unit"])
