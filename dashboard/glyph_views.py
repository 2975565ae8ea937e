"""Cached sentence glyphs (seed 004) for the Memory Chips page.

A sentence is recorded from a zero state (``loaders.recorded_trace``, i.e.
``lib.run.record.record``), measured per cluster of the page's co-clustering
(``lib.analysis.glyphs``) and drawn by ``dashboard.glyph_charts``. Two sentences share
one vertical scale so their glyphs compare bar by bar.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import glyph_charts, loaders
from dashboard.fmt import display_token
from lib.analysis.glyphs import (
    KEEP_GATES,
    SentenceGlyphs,
    glyph_scale,
    glyph_table,
    glyphs_from_trace,
)
from lib.run.trace import Trace

#: choices of how β is measured, with their labels
BETA_LABELS = {"clip": "state (Eq. 7)", "gate": "keep gate"}


class GlyphPanel(NamedTuple):
    """One sentence's glyphs, ready to show with ``st.vega_lite_chart(panel.spec)``."""

    n_tokens: int
    glyphs: SentenceGlyphs
    #: the Vega-Lite spec of :func:`dashboard.glyph_charts.sentence_glyphs`, built once:
    #: building and serialising its eight layers costs Altair ~0.5 s a sentence
    spec: dict


def selected_chip(*states, chips: np.ndarray | None = None) -> int | None:
    """The chip clicked in a glyph chart, from the charts' selection states, or None.

    Each state is what ``st.vega_lite_chart(..., on_select="rerun", key=...)`` keeps in
    ``st.session_state[key]``: ``{"selection": {CHIP_SELECTION: [{"cluster": 3}]}}``.
    The first chart with a selection wins. With ``chips`` (the unit clusters shown), a
    chip picked under another clustering (a larger k) that no longer exists is ignored.
    """
    for state in states:
        try:
            picked = state["selection"][glyph_charts.CHIP_SELECTION]
        except (KeyError, TypeError):
            continue
        for point in picked or ():
            if isinstance(point, dict) and point.get("cluster") is not None:
                chip = int(point["cluster"])
                return chip if chips is None or chip in set(np.asarray(chips).tolist()) else None
    return None


def labels_digest(col_labels: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(col_labels, dtype=np.int64).tobytes()).hexdigest()[:16]


def beta_choices(cell: str, signal: str) -> list[str]:
    """ "clip", plus "gate" when this cell's ``signal`` has a gate that keeps it."""
    return ["clip", "gate"] if (cell, signal) in KEEP_GATES else ["clip"]


def cluster_words(words: pd.DataFrame, *, top: int = 5) -> dict[int, str]:
    """Each word cluster's ``top`` largest words (``word_cloud_data``'s table), joined."""
    ranked = words.sort_values(["word_cluster", "rank"])
    return {
        int(c): ", ".join(display_token(w) for w in group["word"].head(top))
        for c, group in ranked.groupby("word_cluster")
    }


@st.cache_data(max_entries=16, show_spinner="Drawing the sentence glyphs…")
def _panels(
    trace_keys: tuple[str, ...],
    layer: int,
    signal: str,
    digest: str,
    preserved: str,
    words: tuple[tuple[int, str], ...],
    _traces: list[Trace],
    _col_labels: np.ndarray,
) -> tuple[list[GlyphPanel], float]:
    measured = [
        glyphs_from_trace(trace, _col_labels, layer=layer, signal=signal, preserved=preserved)
        for trace in _traces
    ]
    scale = glyph_scale(*measured)
    return [
        GlyphPanel(
            g.n_steps,
            g,
            glyph_charts.sentence_glyphs(
                glyph_table(g, cluster_words=dict(words)), scale=scale
            ).to_dict(),
        )
        for g in measured
    ], scale


def glyph_panels(
    name: str,
    sentences: list[str],
    layer: int,
    signal: str,
    col_labels: np.ndarray,
    words: pd.DataFrame,
    preserved: str,
) -> tuple[list[GlyphPanel], float]:
    """Each sentence recorded and drawn as glyphs on one shared scale, and that scale.

    ``col_labels`` are the unit clusters of ``layer`` and ``signal`` (the chips shown),
    ``words`` the word clouds' table (each chip's top words go into the tooltips).
    """
    traces = [loaders.recorded_trace(name, text) for text in sentences]
    keys = tuple(trace.meta["cache_key"] for trace in traces)
    top = tuple(sorted(cluster_words(words).items()))
    return _panels(
        keys, layer, signal, labels_digest(col_labels), preserved, top, traces, col_labels
    )
