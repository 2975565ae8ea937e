"""Altair chart of the sentence glyphs (Ming et al. 2017, RNNVis).

A sentence is a column of glyphs, one per token, read from top to bottom (RNNVis Fig. 1B).
Every glyph holds one bar per unit cluster, in the memory chips' order:

- a bold box from alpha_- / |H| below the zero line to alpha_+ / |H| above it;
- hats between the previous and the current value of each part, orange when it went up
  (more positive or less negative), blue when it went down; an increase lies inside the
  box, a decrease outside it, reaching back to where the bar was;
- just above the glyph, a control chart: one track per cluster, filled from the bottom up
  to a cursor at the preserved fraction (1 at the top), the share of the previous step's
  information the cluster kept; no cursor where there was nothing to keep (the first
  token).

Clicking a bar selects its chip (the Vega-Lite point selection :data:`CHIP_SELECTION`,
over the field ``cluster``): its bars are drawn bold in every glyph and the page reads the
selection to pick the chip out on the memory chips (Ming et al. 2017, §3.2, link bars to chips on
hover; a Streamlit chart can only report a click). A double click clears it.

All glyphs share one vertical scale ±scale (average value per unit), so two sentences
drawn with the same scale can be compared bar by bar.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from dashboard.fmt import short_label

#: Ming et al.'s (2017) colours (its reference code): orange up / positive, blue down / negative
ORANGE = "#ff5b09"
BLUE = "#09adff"
UP, DOWN = "up (Δ > 0)", "down (Δ < 0)"
#: control chart and gaps, as shares of the glyph's half-height (the scale)
_CONTROL_GAP, _CONTROL, _BETWEEN = 0.08, 0.6, 0.5
_BAR, _TRACK = 0.38, 0.1  # half the width of a bar and of a control track, in cluster slots
#: name of the click selection of a chip (read back by the page through ``on_select``)
CHIP_SELECTION = "chip"


def sentence_glyphs(
    df: pd.DataFrame,
    *,
    scale: float,
    glyph_px: int = 56,
    bar_px: int = 28,
    label_chars: int = 12,
) -> alt.LayerChart:
    """Ming et al.'s (2017) glyph per token: aggregate box, update hats and preserved-fraction
    cursor.

    Parameters
    ----------
    df : DataFrame
        :func:`lib.analysis.glyphs.glyph_table`: one row per token and cluster with
        ``step``, ``token``, ``cluster``, ``slot``, ``size``, ``words``, ``positive``,
        ``negative``, ``previous_positive``, ``previous_negative``, ``delta_positive``,
        ``delta_negative``, ``preserved`` and ``fraction``.
    scale : float
        Half-height of a glyph in average value per unit (:func:`glyph_scale`).
    glyph_px, bar_px : int
        Height of a glyph's box and width of a cluster's slot, in pixels.
    label_chars : int
        Token labels longer than this are cut with "…".
    """
    s = float(scale)
    k = int(df["slot"].max()) + 1 if len(df) else 1
    n_steps = int(df["step"].max()) + 1 if len(df) else 0
    pitch = s * (2 + _CONTROL_GAP + _CONTROL + _BETWEEN)
    centre = -df["step"].to_numpy() * pitch
    track_low = centre + s * (1 + _CONTROL_GAP)
    # one row per token and cluster, only the columns the marks and tooltips read
    rows = pd.DataFrame(
        {
            "step": df["step"],
            "label": df["token"].map(lambda t: short_label(t, label_chars)),
            "cluster": df["cluster"],
            "size": df["size"],
            "words": df["words"],
            "positive": df["positive"],
            "negative": df["negative"],
            "delta_positive": df["delta_positive"],
            "delta_negative": df["delta_negative"],
            "preserved": df["preserved"],
            "fraction": df["fraction"],
            "x0": df["slot"] - _BAR,
            "x1": df["slot"] + _BAR,
            "t0": df["slot"] - _TRACK,
            "t1": df["slot"] + _TRACK,
            "low": centre + df["negative"],
            "high": centre + df["positive"],
            "track_low": track_low,
            "track_high": track_low + s * _CONTROL,
            "cursor": track_low + df["fraction"] * s * _CONTROL,
        }
    )
    hats = pd.DataFrame(
        {
            "x0": np.tile(rows["x0"], 2),
            "x1": np.tile(rows["x1"], 2),
            "from": np.concatenate(
                [centre + df["previous_positive"], centre + df["previous_negative"]]
            ),
            "to": np.concatenate([rows["high"], rows["low"]]),
            "delta": np.concatenate([df["delta_positive"], df["delta_negative"]]),
            "part": np.repeat(["positive part", "negative part"], len(df)),
            "step": np.tile(rows["step"], 2),
            "label": np.tile(rows["label"], 2),
            "cluster": np.tile(rows["cluster"], 2),
            "words": np.tile(rows["words"], 2),
        }
    )
    hats = hats[hats["delta"] != 0].assign(direction=lambda d: np.where(d["delta"] > 0, UP, DOWN))
    per_token = rows.drop_duplicates("step")[["step", "label"]].assign(
        centre=lambda d: -d["step"] * pitch, left=-0.5, right=k - 0.5, text_x=-0.9
    )
    per_token = per_token.assign(
        frame_low=per_token["centre"] - s, frame_high=per_token["centre"] + s
    )

    label_slots = label_chars * 6.5 / bar_px + 0.8
    x_scale = alt.Scale(domain=[-0.5 - label_slots, k - 0.5], nice=False, zero=False)
    top = s * (1 + _CONTROL_GAP + _CONTROL) + 0.05 * s
    bottom = -(n_steps - 1) * pitch - 1.05 * s
    y_scale = alt.Scale(domain=[bottom, top], nice=False, zero=False)

    def X(field: str) -> alt.X:
        return alt.X(f"{field}:Q", scale=x_scale, axis=None)

    def Y(field: str) -> alt.Y:
        return alt.Y(f"{field}:Q", scale=y_scale, axis=None)

    where = [
        alt.Tooltip("step:Q", title="token #"),
        alt.Tooltip("label:N", title="token"),
        alt.Tooltip("cluster:N", title="chip (cluster)"),
        alt.Tooltip("words:N", title="top words"),
    ]
    kept = [
        alt.Tooltip("fraction:Q", title="preserved fraction", format=".0%"),
        alt.Tooltip("preserved:Q", title="β (preserved)", format=".3f"),
    ]
    tooltip = [
        *where,
        alt.Tooltip("size:Q", title="units"),
        alt.Tooltip("positive:Q", title="α₊ / |H|", format=".3f"),
        alt.Tooltip("negative:Q", title="α₋ / |H|", format=".3f"),
        alt.Tooltip("delta_positive:Q", title="Δα₊ / |H|", format="+.3f"),
        alt.Tooltip("delta_negative:Q", title="Δα₋ / |H|", format="+.3f"),
        *kept,
    ]

    token = alt.Chart(per_token)
    frames = token.mark_rect(fill=None, stroke="#bbbbbb", strokeWidth=0.8).encode(
        x=X("left"), x2="right:Q", y=Y("frame_low"), y2="frame_high:Q"
    )
    zero = token.mark_rule(color="#666666", strokeWidth=0.8).encode(
        x=X("left"), x2="right:Q", y=Y("centre")
    )
    labels = token.mark_text(align="right", baseline="middle", fontSize=12).encode(
        x=X("text_x"), y=Y("centre"), text="label:N", tooltip=where[:2]
    )

    pick = alt.selection_point(
        name=CHIP_SELECTION, fields=["cluster"], on="click", clear="dblclick", empty=False
    )
    bar = alt.Chart()
    boxes = (
        bar.mark_rect(stroke="#222222")
        .encode(
            x=X("x0"),
            x2="x1:Q",
            y=Y("low"),
            y2="high:Q",
            tooltip=tooltip,
            fill=alt.condition(pick, alt.value("#ffe08a"), alt.value("#eeeeee")),
            strokeWidth=alt.condition(pick, alt.value(3.0), alt.value(1.5)),
        )
        .add_params(pick)
    )
    tracks = bar.mark_rect(color="#e3e3e3").encode(
        x=X("t0"), x2="t1:Q", y=Y("track_low"), y2="track_high:Q"
    )
    valid = bar.transform_filter("isValid(datum.fraction)")
    kept_bars = valid.mark_rect(color="#777777").encode(
        x=X("t0"), x2="t1:Q", y=Y("track_low"), y2="cursor:Q", tooltip=[*where, *kept]
    )
    cursors = valid.mark_rule(color="#222222", strokeWidth=2).encode(
        x=X("x0"), x2="x1:Q", y=Y("cursor"), tooltip=[*where, *kept]
    )
    hat_marks = (
        alt.Chart(hats)
        .mark_rect(opacity=0.9)
        .encode(
            x=X("x0"),
            x2="x1:Q",
            y=Y("from"),
            y2="to:Q",
            color=alt.Color(
                "direction:N",
                title="update",
                scale=alt.Scale(domain=[UP, DOWN], range=[ORANGE, BLUE]),
                legend=alt.Legend(orient="top", direction="vertical"),
            ),
            tooltip=[
                alt.Tooltip("part:N", title="hat"),
                *where,
                alt.Tooltip("delta:Q", title="Δα / |H|", format="+.3f"),
            ],
        )
    )
    width = int(round((k + label_slots) * bar_px))
    height = int(round(max(n_steps, 1) * pitch / (2 * s) * glyph_px))
    return alt.layer(
        frames,
        zero,
        alt.layer(boxes, tracks, kept_bars, cursors, data=rows),
        hat_marks,
        labels,
    ).properties(width=width, height=height)
