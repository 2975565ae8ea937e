"""Charts of the Generate & Highlight page: the next-token bars.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import row_axis


def topk_bars(df: pd.DataFrame, *, actual: str | None = None) -> alt.Chart:
    """Next-token candidates: columns ``token`` (display text) and ``prob``; the actual next
    token, if among them, is drawn in red. Every bar is named (one 20 px row each)."""
    data = df.assign(actual=df["token"] == actual if actual is not None else False)
    rows = row_axis(len(data), title=None, px=20, most=10**6)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("prob:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("token:N", sort="-x", axis=alt.Axis(**rows["axis"])),
            color=alt.condition("datum.actual", alt.value("#b40426"), alt.value("#3b4cc0")),
            tooltip=[alt.Tooltip("token:N"), alt.Tooltip("prob:Q", format=".4f")],
        )
        .properties(height=rows["height"])
    )
