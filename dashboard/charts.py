"""Altair chart builders: one chart per function, a long-form DataFrame in, a chart out."""

from __future__ import annotations

import altair as alt
import pandas as pd


def topk_bars(df: pd.DataFrame, *, actual: str | None = None) -> alt.Chart:
    """Next-token candidates: columns ``token`` (display text) and ``prob``; the actual next
    token, if among them, is drawn in red."""
    data = df.assign(actual=df["token"] == actual if actual is not None else False)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("prob:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("token:N", sort="-x", title=None),
            color=alt.condition("datum.actual", alt.value("#b40426"), alt.value("#3b4cc0")),
            tooltip=[alt.Tooltip("token:N"), alt.Tooltip("prob:Q", format=".4f")],
        )
        .properties(height=alt.Step(18))
    )


def training_curves(batches: pd.DataFrame, epochs: pd.DataFrame) -> alt.LayerChart:
    """Training loss per batch (line) and per-epoch loss / val_loss (points and lines).

    ``batches``: columns ``epoch`` (fractional) and ``loss``; ``epochs``: ``epoch``,
    ``series`` ("loss" / "val_loss") and ``value``.
    """
    x = alt.X("epoch:Q", title="epoch")
    line = alt.Chart(batches).mark_line(opacity=0.35, color="#888").encode(
        x=x, y=alt.Y("loss:Q", title="loss (nats per token)"),
        tooltip=[alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("loss:Q", format=".3f")],
    )
    per_epoch = alt.Chart(epochs).mark_line(point=True).encode(
        x=x, y="value:Q",
        color=alt.Color("series:N", title=None,
                        scale=alt.Scale(domain=["loss", "val_loss"], range=["#3b4cc0", "#b40426"])),
        tooltip=["epoch:Q", "series:N", alt.Tooltip("value:Q", format=".4f")],
    )
    return (line + per_epoch).properties(height=260)


def metric_vs_baseline(df: pd.DataFrame, *, metric: str, baseline: float) -> alt.LayerChart:
    """Per-epoch validation bits per char (or perplexity) against the unigram baseline."""
    base = alt.Chart(pd.DataFrame({"baseline": [baseline]})).mark_rule(
        strokeDash=[4, 4], color="#666").encode(y="baseline:Q")
    line = alt.Chart(df).mark_line(point=True, color="#b40426").encode(
        x=alt.X("epoch:Q"), y=alt.Y("value:Q", title=metric),
        tooltip=["epoch:Q", alt.Tooltip("value:Q", format=".3f")],
    )
    return (line + base).properties(height=200)
