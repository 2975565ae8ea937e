"""Charts of the Fourier page (Dahlberg): the spectrum heatmap and spectrum lines.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import row_axis


def spectrum_heatmap(df: pd.DataFrame) -> alt.Chart:
    """Neuron x frequency amplitude (Dahlberg's heat surface, seen from above).

    ``df``: columns ``neuron``, ``freq`` (bin start) and ``amplitude``. Up to 80 neurons
    every row is labelled (14 px a row); more make an overview whose labels thin out.
    """
    rows = row_axis(df["neuron"].nunique(), title="neuron", px=14)
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X(
                "freq:O",
                title="frequency (cycles per token)",
                axis=alt.Axis(format=".2f", labelOverlap=True),
            ),
            y=alt.Y("neuron:O", axis=alt.Axis(**rows["axis"])),
            color=alt.Color("amplitude:Q", title="amplitude", scale=alt.Scale(scheme="inferno")),
            tooltip=[
                "neuron:O",
                alt.Tooltip("freq:Q", format=".3f"),
                alt.Tooltip("amplitude:Q", format=".4f"),
            ],
        )
        .properties(height=rows["height"])
    )


def spectrum_lines(df: pd.DataFrame, *, band: tuple[float, float]) -> alt.LayerChart:
    """Amplitude spectra of selected neurons; the search band shaded."""
    shade = (
        alt.Chart(pd.DataFrame({"a": [band[0]], "b": [band[1]]}))
        .mark_rect(opacity=0.08, color="#b40426")
        .encode(x="a:Q", x2="b:Q")
    )
    lines = (
        alt.Chart(df)
        .mark_line()
        .encode(
            x=alt.X(
                "freq:Q", title="frequency (cycles per token)", scale=alt.Scale(domain=[0, 0.5])
            ),
            y=alt.Y("amplitude:Q", title="amplitude"),
            color=alt.Color("neuron:N", title="neuron", scale=alt.Scale(scheme="category20")),
            tooltip=[
                "neuron:N",
                alt.Tooltip("freq:Q", format=".4f"),
                alt.Tooltip("amplitude:Q", format=".4f"),
            ],
        )
    )
    return (shade + lines).properties(height=260)
