"""Charts of the Neuron Relevance page (Dahlberg, KTH thesis).

The feature heatmap, its score column and the layer overview; one chart per function: a
long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


def _diverging(domain_max: float | None = None, *, sequential: bool = False) -> alt.Scale:
    if sequential:
        return alt.Scale(scheme="reds", domain=[0, 1])
    if domain_max is None:
        return alt.Scale(scheme="redblue", reverse=True, domainMid=0)
    return alt.Scale(scheme="redblue", reverse=True, domain=[-domain_max, domain_max])


def feature_heatmap(df: pd.DataFrame, *, sequential: bool = False) -> alt.Chart:
    """Neurons of interest x the feature's time steps (seed 000's extracted heatmap).

    ``df``: columns ``neuron`` (label), ``step`` (index among matched steps), ``position``,
    ``token`` and ``value``.
    """
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("step:O", title="feature steps in reading order", axis=None),
            y=alt.Y("neuron:N", title="neuron", sort=None),
            color=alt.Color(
                "value:Q", title="activation", scale=_diverging(None, sequential=sequential)
            ),
            tooltip=["neuron:N", "position:Q", "token:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=alt.Step(16), width=720)
    )


def score_column(df: pd.DataFrame, *, score: str = "R") -> alt.Chart:
    """The score of each neuron of interest as one coloured column beside the heatmap."""
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.value(0),
            x2=alt.value(40),
            y=alt.Y("neuron:N", sort=None, axis=None),
            color=alt.Color(
                f"{score}:Q", scale=alt.Scale(scheme="greys", domain=[0, 1]), legend=None
            ),
            tooltip=["neuron:N", alt.Tooltip(f"{score}:Q", format=".3f")],
        )
        .properties(width=40, height=alt.Step(16), title=score)
    )


def layer_overview(df: pd.DataFrame) -> alt.Chart:
    """Every neuron of a layer over the text, aggregated into time bins.

    ``df``: columns ``neuron``, ``bin_start`` (first position of the bin) and ``value``.
    """
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("bin_start:O", title="position (binned)", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y("neuron:O", title="neuron", axis=alt.Axis(labelOverlap=True)),
            color=alt.Color("value:Q", title="mean", scale=_diverging()),
            tooltip=["neuron:O", "bin_start:Q", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=320)
    )


def heatmap_with_scores(
    steps: pd.DataFrame, scores: pd.DataFrame, *, sequential: bool = False, score: str = "R"
) -> alt.HConcatChart:
    """The :func:`feature_heatmap` of ``steps``, the :func:`score_column` of ``scores`` beside."""
    return alt.hconcat(
        feature_heatmap(steps, sequential=sequential), score_column(scores, score=score)
    )
