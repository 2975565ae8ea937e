"""Distributions: each neuron's activation histogram, KL filtering and dead neurons."""

import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import layer_distributions, pos_tags_cached
from dashboard.fmt import md
from dashboard.panels.distributions import (
    compare_models,
    distribution_settings,
    gate_saturation_view,
    signal_means_view,
)
from dashboard.widgets.pickers import layer_signal_picker, register_top_neurons, send_to_generate
from dashboard.widgets.text_source import text_source
from lib.analysis.distributions import token_percentiles
from lib.analysis.features import FeatureError

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
bin_width, eps, dead_thr, dead_share, pct = distribution_settings()
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
export.chart(
    where=left,
    chart=charts.histogram_overlay(hist_df(hi)),
    name=f"Histogram of neuron {hi}, highest KL",
    width="stretch",
)
right.caption(f"Lowest KL: neuron {lo:d}")
export.chart(
    where=right,
    chart=charts.histogram_overlay(hist_df(lo)),
    name=f"Histogram of neuron {lo}, lowest KL",
    width="stretch",
)

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
export.chart(
    where=left,
    chart=charts.histogram_overlay(hist_df(unit)),
    name=f"Histogram of neuron {unit}",
    width="stretch",
)
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
    name=f"Neuron {unit} by {group}",
    width="stretch",
)

signal_means_view(trace)
if bundle.spec.cell in ("lstm", "gru"):
    gate_saturation_view(key, trace, bundle.spec.cell)
compare_models(name, bundle, trace, dead_thr, dead_share)
state.publish(["dist.layer", "dist.signal", "dist.rank", "dist.unit"])
