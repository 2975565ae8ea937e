"""Charts of the Neuron Relevance page (Dahlberg, KTH thesis).

The feature heatmap, its score column and the layer overview; one chart per function: a
long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import readable, row_axis

#: pixels per neuron row of the feature heatmap and its score column
ROW_PX = 16


def _diverging(domain_max: float | None = None, *, sequential: bool = False) -> alt.Scale:
    if sequential:
        return alt.Scale(scheme="reds", domain=[0, 1])
    if domain_max is None:
        return alt.Scale(scheme="redblue", reverse=True, domainMid=0)
    return alt.Scale(scheme="redblue", reverse=True, domain=[-domain_max, domain_max], domainMid=0)


def feature_heatmap(df: pd.DataFrame, *, sequential: bool = False) -> alt.Chart:
    """Neurons of interest x the feature's time steps (Dahlberg's extracted heatmap).

    ``df``: columns ``neuron`` (label), ``step`` (index among matched steps), ``position``,
    ``token`` and ``value``. Every neuron row is labelled (the chart is ``ROW_PX`` pixels a
    row); the diverging scale is centred on 0, so a neuron that goes down is blue.
    """
    rows = row_axis(df["neuron"].nunique(), title="neuron", px=ROW_PX, most=10**6)
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("step:O", title="feature steps in reading order", axis=None),
            y=alt.Y("neuron:N", sort=None, axis=alt.Axis(**rows["axis"])),
            color=alt.Color(
                "value:Q",
                title="activation",
                scale=_diverging(None, sequential=sequential),
                legend=alt.Legend(orient="left", title="activation"),
            ),
            tooltip=["neuron:N", "position:Q", "token:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=rows["height"], width=560)
    )


def score_column(df: pd.DataFrame, *, score: str = "R") -> alt.Chart:
    """The score of each neuron of interest as one coloured column beside the heatmap."""
    height = max(int(df["neuron"].nunique()), 1) * ROW_PX
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.value(0),
            x2=alt.value(40),
            y=alt.Y("neuron:N", sort=None, axis=None),
            color=alt.Color(
                f"{score}:Q",
                title=readable(score),
                scale=alt.Scale(scheme="greys", domain=[0, 1]),
                legend=alt.Legend(orient="right", title=readable(score)),
            ),
            tooltip=["neuron:N", alt.Tooltip(f"{score}:Q", format=".3f", title=readable(score))],
        )
        .properties(width=40, height=height, title=score)
    )


def layer_overview(df: pd.DataFrame) -> alt.Chart:
    """Every neuron of a layer over the text, aggregated into time bins.

    ``df``: columns ``neuron``, ``bin_start`` (first position of the bin) and ``value``.
    Up to 80 neurons every row is labelled; a whole layer is an overview whose labels thin.
    """
    rows = row_axis(df["neuron"].nunique(), title="neuron", px=14)
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("bin_start:O", title="position (binned)", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y("neuron:O", axis=alt.Axis(**rows["axis"])),
            color=alt.Color("value:Q", title="mean activation", scale=_diverging()),
            tooltip=["neuron:O", "bin_start:Q", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=rows["height"])
    )


def heatmap_with_scores(
    steps: pd.DataFrame, scores: pd.DataFrame, *, sequential: bool = False, score: str = "R"
) -> alt.HConcatChart:
    """The :func:`score_column` of ``scores``, then the :func:`feature_heatmap` of ``steps``.

    The score comes first so a narrow window (800 px) cuts the heatmap's far end, not the
    score. The two colour scales are independent (score: grey 0 to 1; activation:
    diverging), each with its own legend.
    """
    return alt.hconcat(
        score_column(scores, score=score), feature_heatmap(steps, sequential=sequential)
    ).resolve_scale(color="independent")
