"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015, fig. 4): one dot per gate unit.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


def saturation_scatter(df: pd.DataFrame) -> alt.FacetChart:
    """Karpathy et al.'s saturation plot, one panel per gate.

    ``df``: columns ``gate`` (panel title, panels in order of appearance), ``layer``
    (colour), ``unit``, ``left`` (share of steps below 0.1, x) and ``right`` (share above
    0.9, y), both in [0, 1].
    """
    unit = alt.Scale(domain=[0, 1])
    return (
        alt.Chart(df)
        .mark_circle(size=28, opacity=0.7)
        .encode(
            x=alt.X("left:Q", scale=unit, title="fraction left-saturated (< 0.1)"),
            y=alt.Y("right:Q", scale=unit, title="fraction right-saturated (> 0.9)"),
            color=alt.Color("layer:N", title="layer"),
            tooltip=[
                "gate:N",
                "layer:N",
                alt.Tooltip("unit:Q", title="unit"),
                alt.Tooltip("left:Q", format=".1%"),
                alt.Tooltip("right:Q", format=".1%"),
            ],
        )
        .properties(width=220, height=220)
        .facet(column=alt.Column("gate:N", sort=list(dict.fromkeys(df["gate"])), title=None))
    )
