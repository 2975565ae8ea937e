"""Charts of training and experiments.

Learning curves, metrics against the baseline, settings against results; one chart per
function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts.titles import readable


def training_curves(batches: pd.DataFrame, epochs: pd.DataFrame) -> alt.LayerChart:
    """Training loss per batch (line) and per-epoch loss / val_loss (points and lines).

    ``batches``: columns ``epoch`` (fractional) and ``loss``; ``epochs``: ``epoch``,
    ``series`` ("loss" / "val_loss") and ``value``.
    """
    x = alt.X("epoch:Q", title="epoch")
    line = (
        alt.Chart(batches)
        .mark_line(opacity=0.35, color="#888")
        .encode(
            x=x,
            y=alt.Y("loss:Q", title="loss (nats per token)"),
            tooltip=[alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("loss:Q", format=".3f")],
        )
    )
    per_epoch = (
        alt.Chart(epochs)
        .mark_line(point=True)
        .encode(
            x=x,
            y="value:Q",
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=["loss", "val_loss"], range=["#3b4cc0", "#b40426"]),
                legend=alt.Legend(
                    labelExpr="datum.label == 'val_loss' ? 'validation loss' : 'training loss'"
                ),
            ),
            tooltip=["epoch:Q", "series:N", alt.Tooltip("value:Q", format=".4f")],
        )
    )
    return (line + per_epoch).properties(height=260)


def metric_vs_baseline(df: pd.DataFrame, *, metric: str, baseline: float) -> alt.LayerChart:
    """Per-epoch validation bits per char (or perplexity) against the unigram baseline."""
    base = (
        alt.Chart(pd.DataFrame({"baseline": [baseline]}))
        .mark_rule(strokeDash=[4, 4], color="#666")
        .encode(y="baseline:Q")
    )
    line = (
        alt.Chart(df)
        .mark_line(point=True, color="#b40426")
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("value:Q", title=readable(metric)),
            tooltip=["epoch:Q", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    return (line + base).properties(height=200)


def metric_vs_params(
    df: pd.DataFrame, *, metric: str, params: list[str], log: tuple[str, ...] = ("learning_rate",)
) -> alt.ConcatChart:
    """A search's metric against each setting (one small scatter per setting, Dahlberg's
    Tables 4.1-4.4 as a picture).

    ``df``: one row per finished trial with ``trial``, ``stage``, the ``params`` columns and
    ``metric``; settings in ``log`` get a log-scaled axis, text settings (cell) a nominal one.
    """
    kinds = {p: "Q" if pd.api.types.is_numeric_dtype(df[p]) else "N" for p in params}
    panels = []
    for param in params:
        scale = (
            (alt.Scale(type="log") if param in log else alt.Scale(zero=False))
            if kinds[param] == "Q"
            else alt.Undefined
        )
        panels.append(
            alt.Chart(df)
            .mark_circle(size=70, opacity=0.8)
            .encode(
                x=alt.X(f"{param}:{kinds[param]}", title=readable(param), scale=scale),
                y=alt.Y(f"{metric}:Q", scale=alt.Scale(zero=False), title=readable(metric)),
                color=alt.Color("stage:N", title="stage"),
                tooltip=[
                    "trial:Q",
                    "stage:N",
                    *[f"{p}:{kinds[p]}" for p in params],
                    alt.Tooltip(f"{metric}:Q", format=".4f"),
                ],
            )
            .properties(width=200, height=160)
        )
    return alt.concat(*panels, columns=3)


def setting_line(df: pd.DataFrame, *, x: str, y: str, title: str) -> alt.Chart:
    """A value against a sweep's setting (Ryšánek 2023, fig. 5.7: mean |activation| against
    dropout): columns ``x``, ``y`` and ``model``."""
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:Q", title=readable(x)),
            y=alt.Y(f"{y}:Q", title=title),
            tooltip=["model:N", f"{x}:Q", alt.Tooltip(f"{y}:Q", format=".4f")],
        )
        .properties(height=220)
    )
