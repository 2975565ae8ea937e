"""Charts of the Ablation page: the loss change of the top-k neurons against random draws.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import readable

#: colour of each random control, and of the top-k line
CONTROL_COLOURS = {"unrelated": "#4c78a8", "all": "#999999"}
TOP_COLOUR = "#b40426"

#: how each control is named in a legend
CONTROL_LABELS = {
    "unrelated": "random unrelated neurons",
    "all": "random from all other neurons",
}


def _control_colour(title: str = "random control") -> alt.Color:
    labels = list(CONTROL_LABELS.values())
    return alt.Color(
        "control_label:N",
        title=title,
        scale=alt.Scale(domain=labels, range=[CONTROL_COLOURS[c] for c in CONTROL_LABELS]),
        legend=alt.Legend(orient="bottom", labelLimit=320),
    )


def sweep_chart(df: pd.DataFrame, column: str) -> alt.LayerChart:
    """Loss change against k: the top-k neurons as a line, each control's draws as dots.

    ``df`` is an ``ablation_sweep`` table (``kind``, ``control``, ``k``, ``draw`` and
    ``column``); the draws of the two controls sit side by side at each k.
    """
    random = df[df["kind"] == "random"].assign(
        control_label=lambda d: d["control"].map(CONTROL_LABELS).fillna(d["control"])
    )
    dots = (
        alt.Chart(random)
        .mark_circle(size=22, opacity=0.55)
        .encode(
            x=alt.X("k:O", title="neurons switched off (k)", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("control_label:N"),
            y=alt.Y(f"{column}:Q", title=readable(column)),
            color=_control_colour(),
            tooltip=[
                "k:O",
                alt.Tooltip("control_label:N", title="control"),
                "draw:Q",
                alt.Tooltip(f"{column}:Q", format="+.4f"),
            ],
        )
    )
    top = (
        alt.Chart(df[df["kind"] == "top"])
        .mark_line(point=alt.OverlayMarkDef(color=TOP_COLOUR), color=TOP_COLOUR)
        .encode(
            x="k:O",
            y=f"{column}:Q",
            tooltip=["k:O", alt.Tooltip(f"{column}:Q", title="top k", format="+.4f")],
        )
    )
    return (dots + top).properties(height=300)


def control_range_chart(summary: pd.DataFrame) -> alt.LayerChart:
    """Each control as its 5th-95th percentile range with the median, and the top-k cost.

    ``summary`` is a ``control_summary`` table (``k``, ``control``, ``p5``, ``median``,
    ``p95``, ``top``, ``n_draws``, ``rank``); controls without draws are left out.
    """
    drawn = summary[summary["n_draws"] > 0].assign(
        control_label=lambda d: d["control"].map(CONTROL_LABELS).fillna(d["control"]),
        rank=lambda d: d["rank"].astype("float"),
    )
    base = alt.Chart(drawn).encode(
        x=alt.X("k:O", title="neurons switched off (k)", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("control_label:N"),
        color=_control_colour(),
    )
    tooltip = [
        "k:O",
        alt.Tooltip("control_label:N", title="control"),
        alt.Tooltip("n_draws:Q", title="draws"),
        alt.Tooltip("p5:Q", title="5th percentile", format="+.4f"),
        alt.Tooltip("median:Q", format="+.4f"),
        alt.Tooltip("p95:Q", title="95th percentile", format="+.4f"),
        alt.Tooltip("rank:Q", title="top k's rank"),
    ]
    ranges = base.mark_rule(strokeWidth=6, opacity=0.6).encode(
        y=alt.Y("p5:Q", title="loss change (nats per token)"), y2="p95:Q", tooltip=tooltip
    )
    medians = base.mark_tick(thickness=2, size=14, color="black").encode(
        y="median:Q", tooltip=tooltip
    )
    tops = summary.drop_duplicates("k")[["k", "top"]]
    top = (
        alt.Chart(tops)
        .mark_line(point=alt.OverlayMarkDef(color=TOP_COLOUR), color=TOP_COLOUR)
        .encode(
            x="k:O",
            y="top:Q",
            tooltip=["k:O", alt.Tooltip("top:Q", title="top k", format="+.4f")],
        )
    )
    return (ranges + medians + top).properties(height=300)


def relevance_by_epoch(evo: pd.DataFrame) -> alt.Chart:
    """The final best neuron's relevance R after each saved epoch (one line with points).

    ``evo``: one row per epoch, columns ``epoch`` and ``relevance``
    (:func:`lib.analysis.evolution.evolution` via ``dashboard.cache.evolution_table``).
    """
    return (
        alt.Chart(evo[["epoch", "relevance"]])
        .mark_line(point=True, color=TOP_COLOUR)
        .encode(
            x=alt.X("epoch:O", title="Epoch"),
            y=alt.Y("relevance:Q", title="Relevance R (raw)"),
            tooltip=[
                alt.Tooltip("epoch:O", title="epoch"),
                alt.Tooltip("relevance:Q", format=".4f"),
            ],
        )
        .properties(height=200, title="Relevance of the final best neuron after each epoch")
    )
