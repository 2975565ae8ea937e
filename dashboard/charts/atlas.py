"""Charts of the Neuron Atlas page: one neuron's activation histogram.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


def activation_histogram(df: pd.DataFrame) -> alt.Chart:
    """Share of steps per activation bin (columns ``start``, ``end``, ``share``)."""
    return (
        alt.Chart(df)
        .mark_bar(color="#3b4cc0")
        .encode(
            x=alt.X("start:Q", bin="binned", title="activation"),
            x2="end:Q",
            y=alt.Y("share:Q", title="share of steps", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("start:Q", format=".3f", title="from"),
                alt.Tooltip("end:Q", format=".3f", title="to"),
                alt.Tooltip("share:Q", format=".2%"),
            ],
        )
        .properties(height=160)
    )
