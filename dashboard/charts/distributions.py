"""Charts of the Distributions page (Ryšánek 2023).

Histograms against the layer reference, per-model bars, percentile boxes; one chart per
function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import row_axis

BLUE_ORANGE = alt.Scale(domainMid=0, range=["#09adff", "#f2f2f2", "#ff5b09"])


def histogram_overlay(df: pd.DataFrame) -> alt.LayerChart:
    """A neuron's activation distribution (bars) over the layer's reference (line).

    ``df``: columns ``value`` (bin start), ``neuron`` and ``reference`` probabilities.
    """
    bars = (
        alt.Chart(df)
        .mark_bar(color="#3b4cc0", opacity=0.75)
        .encode(
            x=alt.X("value:Q", title="activation (bin start)"),
            y=alt.Y("neuron:Q", title="probability"),
            tooltip=[
                alt.Tooltip("value:Q", format=".2f"),
                alt.Tooltip("neuron:Q", format=".4f"),
                alt.Tooltip("reference:Q", format=".4f"),
            ],
        )
    )
    line = alt.Chart(df).mark_line(color="#b40426").encode(x="value:Q", y="reference:Q")
    return (bars + line).properties(height=220)


def per_model_bars(df: pd.DataFrame, *, value: str, title: str) -> alt.Chart:
    """One bar per model (Ryšánek 2023, fig. 5.7): columns ``model`` and ``value``."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("model:N", sort=None, title=None),
            y=alt.Y(f"{value}:Q", title=title),
            tooltip=["model:N", alt.Tooltip(f"{value}:Q", format=".4f")],
        )
        .properties(height=220)
    )


def box_percentiles(df: pd.DataFrame, *, group: str = "token") -> alt.LayerChart:
    """RNNVis box plots: 25-75 box, 9-91 whiskers, median tick; one row per group.

    Every group is labelled: the chart is 18 px a row and no label is dropped.
    """
    rows = row_axis(df[group].nunique(), title=None, px=18, most=10**6)
    base = alt.Chart(df).encode(y=alt.Y(f"{group}:N", sort=None, axis=alt.Axis(**rows["axis"])))
    whisker = base.mark_rule(color="#888").encode(x=alt.X("p9:Q", title="activation"), x2="p91:Q")
    box = base.mark_bar(size=12, color="#ff9b5e").encode(x="p25:Q", x2="p75:Q")
    median = base.mark_tick(color="black", size=12).encode(
        x="p50:Q",
        tooltip=[
            f"{group}:N",
            "count:Q",
            alt.Tooltip("p50:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
        ],
    )
    return (whisker + box + median).properties(height=rows["height"])


def signal_means(df: pd.DataFrame) -> alt.Chart:
    """Mean |activation| of each layer and signal (columns ``signal``, ``mean |activation|``)."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("signal:N", sort=None, title=None),
            y=alt.Y("mean |activation|:Q", title="mean |activation|"),
            tooltip=["signal:N", alt.Tooltip("mean |activation|:Q", format=".4f")],
        )
        .properties(height=200)
    )
