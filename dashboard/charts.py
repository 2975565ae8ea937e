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
            color=alt.Color("value:Q", title="activation", scale=_diverging(
                None, sequential=sequential)),
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
            x=alt.value(0), x2=alt.value(40),
            y=alt.Y("neuron:N", sort=None, axis=None),
            color=alt.Color(f"{score}:Q", scale=alt.Scale(scheme="greys", domain=[0, 1]),
                            legend=None),
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


def score_scatter(df: pd.DataFrame, *, x: str, y: str, highlight: str = "top") -> alt.Chart:
    """Two rankings of the same neurons against each other; ``highlight`` is a bool column."""
    return (
        alt.Chart(df)
        .mark_circle(size=40)
        .encode(
            x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q"),
            color=alt.condition(f"datum.{highlight}", alt.value("#b40426"), alt.value("#999")),
            tooltip=["neuron:Q", alt.Tooltip(f"{x}:Q", format=".3f"),
                     alt.Tooltip(f"{y}:Q", format=".3f")],
        )
        .properties(height=260)
    )


def spectrum_heatmap(df: pd.DataFrame) -> alt.Chart:
    """Neuron x frequency amplitude (seed 000's heat surface, seen from above).

    ``df``: columns ``neuron``, ``freq`` (bin start) and ``amplitude``.
    """
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("freq:O", title="frequency (cycles per token)",
                    axis=alt.Axis(format=".2f", labelOverlap=True)),
            y=alt.Y("neuron:O", title="neuron", axis=alt.Axis(labelOverlap=True)),
            color=alt.Color("amplitude:Q", scale=alt.Scale(scheme="inferno")),
            tooltip=["neuron:O", alt.Tooltip("freq:Q", format=".3f"),
                     alt.Tooltip("amplitude:Q", format=".4f")],
        )
        .properties(height=320)
    )


def spectrum_lines(df: pd.DataFrame, *, band: tuple[float, float]) -> alt.LayerChart:
    """Amplitude spectra of selected neurons; the search band shaded."""
    shade = alt.Chart(pd.DataFrame({"a": [band[0]], "b": [band[1]]})).mark_rect(
        opacity=0.08, color="#b40426").encode(x="a:Q", x2="b:Q")
    lines = alt.Chart(df).mark_line().encode(
        x=alt.X("freq:Q", title="frequency (cycles per token)", scale=alt.Scale(domain=[0, 0.5])),
        y=alt.Y("amplitude:Q"),
        color=alt.Color("neuron:N"),
        tooltip=["neuron:N", alt.Tooltip("freq:Q", format=".4f"),
                 alt.Tooltip("amplitude:Q", format=".4f")],
    )
    return (shade + lines).properties(height=260)
