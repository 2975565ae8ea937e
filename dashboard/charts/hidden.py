"""Charts of the Hidden States page (Garcia, Munz & Weiskopf 2021).

Class bars, confusion matrix, state projection, time x class heatmap, jump bars; one chart
per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

EP_SCALE = alt.Scale(domain=[0, 0.5, 1], range=["#d6604d", "#dddddd", "#4393c3"])


def class_bars(df: pd.DataFrame) -> alt.Chart:
    """Garcia et al.'s (2021) classification overview: per actual class, stacked by predicted class.

    ``df``: columns ``actual``, ``predicted`` and ``count``.
    """
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("actual:N", title="actual class"),
            x=alt.X("count:Q", stack=True, title="sequences"),
            color=alt.Color("predicted:N", title="predicted"),
            tooltip=["actual:N", "predicted:N", "count:Q"],
        )
        .properties(height=alt.Step(26))
    )


def confusion_matrix(df: pd.DataFrame) -> alt.LayerChart:
    """Confusion matrix with counts: columns ``actual``, ``predicted``, ``count``."""
    base = alt.Chart(df).encode(
        x=alt.X("predicted:N", title="predicted class"), y=alt.Y("actual:N", title="actual class")
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None)
    )
    text = base.mark_text().encode(text="count:Q")
    return (cells + text).properties(height=alt.Step(30), width=alt.Step(30))


def state_projection(
    points: pd.DataFrame,
    path: pd.DataFrame | None,
    *,
    colour: str,
    binary: bool,
    events: pd.DataFrame | None = None,
    positive: str = "class 1",
) -> alt.LayerChart:
    """Every hidden state as a point; a selected sequence's trajectory drawn over it.

    ``points``: x, y, seq, step, ep, actual, correct (and ``colour``); ``path``: the
    sequence's states in order (x, y, step, word, ep); ``events``: words to place;
    ``positive``: the name of a binary classifier's class 1 (the legend's "P(pos)").
    """
    if colour == "expected prediction" and binary:
        col = alt.Color(
            "ep:Q",
            scale=EP_SCALE,
            title=f"P({positive[:40]})",
            legend=alt.Legend(gradientOpacity=1),  # not the faded points' opacity
        )
    else:
        col = alt.Color(f"{colour}:N")
    faded = path is not None
    layers = [
        alt.Chart(points)
        .mark_circle(size=12, opacity=0.12 if faded else 0.55)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=col,
            tooltip=["seq:Q", "step:Q", alt.Tooltip("ep:Q", format=".3f"), "actual:N"],
        )
    ]
    if path is not None:
        layers.append(
            alt.Chart(path)
            .mark_line(color="#333", strokeWidth=1.5)
            .encode(x="x:Q", y="y:Q", order="step:Q")
        )
        layers.append(
            alt.Chart(path)
            .mark_circle(size=40)
            .encode(
                x="x:Q",
                y="y:Q",
                color=col,
                tooltip=["step:Q", "word:N", alt.Tooltip("ep:Q", format=".3f")],
            )
        )
        ends = path.iloc[[0, -1]].assign(marker=["start", "end"])
        layers.append(
            alt.Chart(ends)
            .mark_point(size=160, filled=True, color="black")
            .encode(x="x:Q", y="y:Q", shape=alt.Shape("marker:N", title=None))
        )
        if events is not None and len(events):
            layers.append(
                alt.Chart(events)
                .mark_text(dy=-9, fontSize=12, color="#000")
                .encode(x="x:Q", y="y:Q", text="word:N")
            )
    return alt.layer(*layers).properties(height=480).interactive()


def time_class_heatmap(df: pd.DataFrame) -> alt.Chart:
    """Garcia et al.'s (2021) time x class matrix: ``step`` (with "final" last), ``class``,
    ``ep``."""
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("label:N", sort=None, title="word (step)"),
            y=alt.Y("class:N"),
            color=alt.Color(
                "ep:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="expected prediction"
            ),
            tooltip=["label:N", "class:N", alt.Tooltip("ep:Q", format=".3f")],
        )
        .properties(height=alt.Step(22))
    )


def jump_bars(df: pd.DataFrame, *, threshold: float) -> alt.LayerChart:
    """Distance between consecutive hidden states (normalised), threshold as a rule."""
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=None, title="word (step)"),
            y=alt.Y("distance:Q", scale=alt.Scale(domain=[0, 1]), title="jump distance"),
            color=alt.condition(
                alt.datum.distance >= threshold, alt.value("#b40426"), alt.value("#999")
            ),
            tooltip=["label:N", alt.Tooltip("distance:Q", format=".3f")],
        )
    )
    rule = alt.Chart(pd.DataFrame({"t": [threshold]})).mark_rule(strokeDash=[4, 4]).encode(y="t:Q")
    return (bars + rule).properties(height=180)
