"""2-D maps: token states and their clusters, cluster positions in the text, the embedding map.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import category_scale, row_axis


def token_map(df: pd.DataFrame, *, colour: str, highlight: str | None = None) -> alt.Chart:
    """Token-state map: columns ``x``, ``y``, ``token``, ``context``, ``cluster`` and the
    ``colour`` column; tokens equal to ``highlight`` are drawn large and in red. Clusters
    get 20 distinguishable colours and a legend in numeric order (0, 1, 2, ..., 10)."""
    color = alt.Color(
        f"{colour}:N",
        title=colour.replace("_", " "),
        scale=alt.Scale(**category_scale(df[colour])),
        legend=alt.Legend(columns=2, symbolLimit=40),
    )
    size = alt.value(18)
    if highlight is not None:
        size = alt.condition(alt.datum.token == highlight, alt.value(90), alt.value(10))
        color = alt.condition(
            alt.datum.token == highlight, alt.value("#d62728"), alt.value("#bbbbbb")
        )
    return (
        alt.Chart(df)
        .mark_circle(opacity=0.75)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=color,
            size=size,
            tooltip=["token:N", "context:N", "cluster:N", "position:Q"],
        )
        .properties(height=520)
        .interactive()
    )


def cluster_positions(df: pd.DataFrame) -> alt.Chart:
    """Where a cluster's tokens sit in the text: ``position`` ticks, one row per cluster,
    every row labelled, in numeric order."""
    clusters = category_scale(df["cluster"])
    rows = row_axis(len(clusters["domain"]), title="cluster", px=22, most=10**6)
    return (
        alt.Chart(df)
        .mark_tick(thickness=1)
        .encode(
            x=alt.X("position:Q", title="position in the text"),
            y=alt.Y("cluster:N", sort=clusters["domain"], axis=alt.Axis(**rows["axis"])),
            color=alt.Color("cluster:N", scale=alt.Scale(**clusters), legend=None),
            tooltip=["token:N", "position:Q", "cluster:N"],
        )
        .properties(height=rows["height"])
    )


def embedding_map(df: pd.DataFrame) -> alt.LayerChart:
    """Dahlberg's PCA projection of word vectors: points labelled with their token (Altair
    text marks, never HTML). ``df``: columns ``x``, ``y``, ``label``, ``count``, ``rank``."""
    base = alt.Chart(df).encode(
        x=alt.X("x:Q", title="component 1", scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title="component 2", scale=alt.Scale(zero=False)),
        tooltip=["label:N", "rank:Q", "count:Q"],
    )
    points = base.mark_circle(size=60, color="#2ca02c", opacity=0.8)
    labels = base.mark_text(align="left", dx=6, dy=-4, fontSize=12).encode(text="label:N")
    return (points + labels).properties(height=480).interactive()
