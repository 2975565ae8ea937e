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
            x=alt.X("epoch:Q"),
            y=alt.Y("value:Q", title=metric),
            tooltip=["epoch:Q", alt.Tooltip("value:Q", format=".3f")],
        )
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
            color=alt.Color(
                "value:Q", title="activation", scale=_diverging(None, sequential=sequential)
            ),
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
            x=alt.value(0),
            x2=alt.value(40),
            y=alt.Y("neuron:N", sort=None, axis=None),
            color=alt.Color(
                f"{score}:Q", scale=alt.Scale(scheme="greys", domain=[0, 1]), legend=None
            ),
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


def spectrum_heatmap(df: pd.DataFrame) -> alt.Chart:
    """Neuron x frequency amplitude (seed 000's heat surface, seen from above).

    ``df``: columns ``neuron``, ``freq`` (bin start) and ``amplitude``.
    """
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X(
                "freq:O",
                title="frequency (cycles per token)",
                axis=alt.Axis(format=".2f", labelOverlap=True),
            ),
            y=alt.Y("neuron:O", title="neuron", axis=alt.Axis(labelOverlap=True)),
            color=alt.Color("amplitude:Q", scale=alt.Scale(scheme="inferno")),
            tooltip=[
                "neuron:O",
                alt.Tooltip("freq:Q", format=".3f"),
                alt.Tooltip("amplitude:Q", format=".4f"),
            ],
        )
        .properties(height=320)
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
            y=alt.Y("amplitude:Q"),
            color=alt.Color("neuron:N"),
            tooltip=[
                "neuron:N",
                alt.Tooltip("freq:Q", format=".4f"),
                alt.Tooltip("amplitude:Q", format=".4f"),
            ],
        )
    )
    return (shade + lines).properties(height=260)


BLUE_ORANGE = alt.Scale(domainMid=0, range=["#09adff", "#f2f2f2", "#ff5b09"])


def histogram_overlay(df: pd.DataFrame) -> alt.LayerChart:
    """A neuron's activation distribution (bars) over the layer's reference (line).

    ``df``: columns ``value`` (bin start), ``neuron`` and ``reference`` probabilities.
    """
    bars = (
        alt.Chart(df)
        .mark_bar(color="#3b4cc0", opacity=0.75)
        .encode(
            x=alt.X("value:Q", title="activation (bin start)"),
            y=alt.Y("neuron:Q", title="probability"),
            tooltip=[
                alt.Tooltip("value:Q", format=".2f"),
                alt.Tooltip("neuron:Q", format=".4f"),
                alt.Tooltip("reference:Q", format=".4f"),
            ],
        )
    )
    line = alt.Chart(df).mark_line(color="#b40426").encode(x="value:Q", y="reference:Q")
    return (bars + line).properties(height=220)


def per_model_bars(df: pd.DataFrame, *, value: str, title: str) -> alt.Chart:
    """One bar per model (seed 001 fig. 5.7): columns ``model`` and ``value``."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("model:N", sort=None, title=None),
            y=alt.Y(f"{value}:Q", title=title),
            tooltip=["model:N", alt.Tooltip(f"{value}:Q", format=".4f")],
        )
        .properties(height=220)
    )


def box_percentiles(df: pd.DataFrame, *, group: str = "token") -> alt.LayerChart:
    """RNNVis box plots: 25-75 box, 9-91 whiskers, median tick; one row per group."""
    base = alt.Chart(df).encode(y=alt.Y(f"{group}:N", sort=None, title=None))
    whisker = base.mark_rule(color="#888").encode(x=alt.X("p9:Q", title="activation"), x2="p91:Q")
    box = base.mark_bar(size=12, color="#ff9b5e").encode(x="p25:Q", x2="p75:Q")
    median = base.mark_tick(color="black", size=12).encode(
        x="p50:Q",
        tooltip=[
            f"{group}:N",
            "count:Q",
            alt.Tooltip("p50:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
        ],
    )
    return (whisker + box + median).properties(height=alt.Step(18))


def token_map(df: pd.DataFrame, *, colour: str, highlight: str | None = None) -> alt.Chart:
    """Token-state map: columns ``x``, ``y``, ``token``, ``context``, ``cluster`` and the
    ``colour`` column; tokens equal to ``highlight`` are drawn large and in red."""
    color = alt.Color(f"{colour}:N", legend=alt.Legend(columns=2, symbolLimit=40))
    size = alt.value(18)
    if highlight is not None:
        size = alt.condition(alt.datum.token == highlight, alt.value(90), alt.value(10))
        color = alt.condition(
            alt.datum.token == highlight, alt.value("#d62728"), alt.value("#bbbbbb")
        )
    return (
        alt.Chart(df)
        .mark_circle(opacity=0.75)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=color,
            size=size,
            tooltip=["token:N", "context:N", "cluster:N", "position:Q"],
        )
        .properties(height=520)
        .interactive()
    )


def cluster_positions(df: pd.DataFrame) -> alt.Chart:
    """Where a cluster's tokens sit in the text: ``position`` ticks, one row per cluster."""
    return (
        alt.Chart(df)
        .mark_tick(thickness=1)
        .encode(
            x=alt.X("position:Q", title="position in the text"),
            y=alt.Y("cluster:N", title="cluster"),
            tooltip=["token:N", "position:Q", "cluster:N"],
        )
        .properties(height=alt.Step(22))
    )


def memory_chips(df: pd.DataFrame, *, highlight: int | None = None) -> alt.FacetChart:
    """RNNVis memory chips: each unit a cell, each unit cluster a chip, coloured blue
    (negative) / orange (positive) by the selected word's response.

    ``df``: columns ``unit``, ``cluster``, ``row``, ``col`` and ``response``. With
    ``highlight``, the other chips are faded (the chip picked in the sentence glyphs).
    """
    opacity = alt.value(1.0)
    if highlight is not None:
        opacity = alt.condition(
            alt.datum.cluster == int(highlight), alt.value(1.0), alt.value(0.15)
        )
    return (
        alt.Chart(df)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X("col:O", axis=None),
            y=alt.Y("row:O", axis=None),
            opacity=opacity,
            color=alt.Color("response:Q", scale=BLUE_ORANGE, title="response"),
            tooltip=["unit:Q", "cluster:N", alt.Tooltip("response:Q", format=".3f")],
        )
        .properties(width=alt.Step(14), height=alt.Step(14))
        .facet(
            row=alt.Row(
                "cluster:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")
            ),
            spacing=6,
        )
    )


def word_clouds(df: pd.DataFrame) -> alt.FacetChart:
    """Word clusters as packed word lists sized by response, coloured by POS.

    ``df``: columns ``word``, ``label`` (shown), ``cluster``, ``x``, ``y`` (packing slots),
    ``size`` and ``pos``. Lines are a band scale, one 24 px step each, so a cloud is as tall
    as its lines and the largest font (18 px) never reaches the next cloud.
    """
    return (
        alt.Chart(df)
        .mark_text(align="left", baseline="middle")
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, 6])),
            y=alt.Y("y:O", axis=None),
            text="label:N",
            size=alt.Size("size:Q", scale=alt.Scale(range=[9, 18]), legend=None),
            color=alt.Color("pos:N", title="POS", scale=alt.Scale(scheme="tableau10")),
            tooltip=["word:N", "pos:N", alt.Tooltip("size:Q", format=".3f", title="response")],
        )
        .properties(width=520, height=alt.Step(24))
        .facet(
            row=alt.Row(
                "cluster:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")
            ),
            spacing=4,
        )
        .resolve_scale(y="independent")
    )


def edge_matrix(df: pd.DataFrame) -> alt.Chart:
    """Cluster-to-cluster edges: word cluster x unit cluster, signed mean response."""
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("unit_cluster:O", title="unit cluster (chip)"),
            y=alt.Y("word_cluster:O", title="word cluster (cloud)"),
            color=alt.Color("weight:Q", scale=BLUE_ORANGE, title="mean response"),
            tooltip=[
                "word_cluster:O",
                "unit_cluster:O",
                alt.Tooltip("weight:Q", format=".4f"),
                alt.Tooltip("strength:Q", format=".2f"),
            ],
        )
        .properties(height=alt.Step(22), width=alt.Step(22))
    )


EP_SCALE = alt.Scale(domain=[0, 0.5, 1], range=["#d6604d", "#dddddd", "#4393c3"])


def class_bars(df: pd.DataFrame) -> alt.Chart:
    """Seed 003's classification overview: per actual class, stacked by predicted class.

    ``df``: columns ``actual``, ``predicted`` and ``count``.
    """
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("actual:N", title="actual class"),
            x=alt.X("count:Q", stack=True),
            color=alt.Color("predicted:N", title="predicted"),
            tooltip=["actual:N", "predicted:N", "count:Q"],
        )
        .properties(height=alt.Step(26))
    )


def confusion_matrix(df: pd.DataFrame) -> alt.LayerChart:
    """Confusion matrix with counts: columns ``actual``, ``predicted``, ``count``."""
    base = alt.Chart(df).encode(x=alt.X("predicted:N"), y=alt.Y("actual:N"))
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
) -> alt.LayerChart:
    """Every hidden state as a point; a selected sequence's trajectory drawn over it.

    ``points``: x, y, seq, step, ep, actual, correct (and ``colour``); ``path``: the
    sequence's states in order (x, y, step, word, ep); ``events``: words to place.
    """
    if colour == "expected prediction" and binary:
        col = alt.Color("ep:Q", scale=EP_SCALE, title="P(class 1)")
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
    """Seed 003's time x class matrix: ``step`` (with "final" last), ``class``, ``ep``."""
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


def metric_vs_params(
    df: pd.DataFrame, *, metric: str, params: list[str], log: tuple[str, ...] = ("learning_rate",)
) -> alt.ConcatChart:
    """A search's metric against each setting (one small scatter per setting, seed 000's
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
                x=alt.X(f"{param}:{kinds[param]}", title=param.replace("_", " "), scale=scale),
                y=alt.Y(f"{metric}:Q", scale=alt.Scale(zero=False), title=metric),
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
    """A value against a sweep's setting (seed 001 fig. 5.7: mean |activation| against
    dropout): columns ``x``, ``y`` and ``model``."""
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:Q", title=x.replace("_", " ")),
            y=alt.Y(f"{y}:Q", title=title),
            tooltip=["model:N", f"{x}:Q", alt.Tooltip(f"{y}:Q", format=".4f")],
        )
        .properties(height=220)
    )


def embedding_map(df: pd.DataFrame) -> alt.LayerChart:
    """Seed 000's PCA projection of word vectors: points labelled with their token (Altair
    text marks, never HTML). ``df``: columns ``x``, ``y``, ``label``, ``count``, ``rank``."""
    base = alt.Chart(df).encode(
        x=alt.X("x:Q", title="component 1", scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title="component 2", scale=alt.Scale(zero=False)),
        tooltip=["label:N", "rank:Q", "count:Q"],
    )
    points = base.mark_circle(size=60, color="#2ca02c", opacity=0.8)
    labels = base.mark_text(align="left", dx=6, dy=-4, fontSize=12).encode(text="label:N")
    return (points + labels).properties(height=480).interactive()
