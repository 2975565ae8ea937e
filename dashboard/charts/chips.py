"""Charts of the Memory Chips page (Ming et al. 2017, RNNVis).

Chips, word clouds and the edge matrix; one chart per function: a long-form DataFrame in,
an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.distributions import BLUE_ORANGE
from dashboard.charts.titles import category_scale


def memory_chips(df: pd.DataFrame, *, highlight: int | None = None) -> alt.FacetChart:
    """RNNVis memory chips: each unit a cell, each unit cluster a chip, coloured blue
    (negative) / orange (positive) by the selected word's response.

    ``df``: columns ``unit``, ``cluster``, ``row``, ``col`` and ``response``. With
    ``highlight``, the other chips are faded (the chip picked in the sentence glyphs).
    """
    opacity = alt.value(1.0)
    if highlight is not None:
        opacity = alt.condition(
            alt.datum.cluster == int(highlight), alt.value(1.0), alt.value(0.15)
        )
    return (
        alt.Chart(df)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X("col:O", axis=None),
            y=alt.Y("row:O", axis=None),
            opacity=opacity,
            color=alt.Color("response:Q", scale=BLUE_ORANGE, title="response"),
            tooltip=["unit:Q", "cluster:N", alt.Tooltip("response:Q", format=".3f")],
        )
        .properties(width=alt.Step(14), height=alt.Step(14))
        .facet(
            row=alt.Row(
                "cluster:N",
                title=None,
                sort=category_scale(df["cluster"])["domain"],
                header=alt.Header(labelAngle=0, labelAlign="left"),
            ),
            spacing=6,
        )
    )


def word_clouds(df: pd.DataFrame) -> alt.FacetChart:
    """Word clusters as packed word lists sized by response, coloured by POS.

    ``df``: columns ``word``, ``label`` (shown), ``cluster``, ``x``, ``y`` (packing slots),
    ``size`` and ``pos``. Lines are a band scale, one 24 px step each, so a cloud is as tall
    as its lines and the largest font (18 px) never reaches the next cloud.
    """
    return (
        alt.Chart(df)
        .mark_text(align="left", baseline="middle")
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, 6])),
            y=alt.Y("y:O", axis=None),
            text="label:N",
            size=alt.Size("size:Q", scale=alt.Scale(range=[9, 18]), legend=None),
            color=alt.Color(
                "pos:N", title="part of speech", scale=alt.Scale(**category_scale(df["pos"]))
            ),
            tooltip=["word:N", "pos:N", alt.Tooltip("size:Q", format=".3f", title="response")],
        )
        .properties(width=520, height=alt.Step(24))
        .facet(
            row=alt.Row(
                "cluster:N",
                title=None,
                sort=category_scale(df["cluster"])["domain"],
                header=alt.Header(labelAngle=0, labelAlign="left"),
            ),
            spacing=4,
        )
        .resolve_scale(y="independent")
    )


def edge_matrix(df: pd.DataFrame) -> alt.Chart:
    """Cluster-to-cluster edges: word cluster x unit cluster, signed mean response."""
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("unit_cluster:O", title="unit cluster (chip)"),
            y=alt.Y("word_cluster:O", title="word cluster (cloud)"),
            color=alt.Color("weight:Q", scale=BLUE_ORANGE, title="mean response"),
            tooltip=[
                "word_cluster:O",
                "unit_cluster:O",
                alt.Tooltip("weight:Q", format=".4f"),
                alt.Tooltip("strength:Q", format=".2f"),
            ],
        )
        .properties(height=alt.Step(22), width=alt.Step(22))
    )
