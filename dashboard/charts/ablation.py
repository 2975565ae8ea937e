"""Charts of the Ablation page: the loss change of the top-k neurons against random draws.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


def sweep_chart(df: pd.DataFrame, column: str) -> alt.LayerChart:
    """Loss change against k: the top-k neurons as a line, random draws as dots and boxes."""
    random = alt.Chart(df[df["kind"] == "random"])
    dots = random.mark_circle(size=18, opacity=0.4, color="#888").encode(
        x=alt.X("k:O", title="neurons switched off (k)"),
        y=alt.Y(f"{column}:Q", title="loss change (nats per token)"),
        tooltip=["k:O", "draw:Q", alt.Tooltip(f"{column}:Q", format=".4f")],
    )
    box = random.mark_boxplot(extent="min-max", opacity=0.3, color="#888").encode(
        x="k:O", y=f"{column}:Q"
    )
    top = (
        alt.Chart(df[df["kind"] == "top"])
        .mark_line(point=True, color="#b40426")
        .encode(x="k:O", y=f"{column}:Q", tooltip=["k:O", alt.Tooltip(f"{column}:Q", format=".4f")])
    )
    return (box + dots + top).properties(height=300)
