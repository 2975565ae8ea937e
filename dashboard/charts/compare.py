"""Charts of the Compare page: what two unrelated models can be compared by."""

from __future__ import annotations

import altair as alt
import pandas as pd


def score_distributions(df: pd.DataFrame, *, title: str) -> alt.LayerChart:
    """Each model's distribution of per-neuron scores: a box plot over one tick per neuron.

    ``df``: columns ``model`` (one label per model) and ``score`` (one row per neuron).
    Neuron numbers are not used: two models' neurons are not the same units.
    """
    base = alt.Chart(df).encode(
        y=alt.Y("model:N", title=None, sort=None),
        x=alt.X("score:Q", title=title),
    )
    ticks = base.mark_tick(opacity=0.35, thickness=1, size=18).encode(
        tooltip=["model:N", alt.Tooltip("score:Q", format=".3f")]
    )
    boxes = base.mark_boxplot(size=26, opacity=0.5, outliers=False)
    return (ticks + boxes).properties(height=alt.Step(44))
