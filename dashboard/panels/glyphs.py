"""Sentence glyphs (Ming et al. 2017, RNNVis) for the Memory Chips page.

A sentence is recorded from a zero state (``cache.recorded_trace``, i.e.
``lib.run.record.record``), measured per cluster of the page's co-clustering
(``lib.analysis.glyphs``) and drawn by ``dashboard.glyph_charts``. Two sentences share
one vertical scale so their glyphs compare bar by bar.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import cache, charts
from dashboard.cache import GlyphPanel, labels_digest
from dashboard.tables import cluster_words
from lib.analysis.glyphs import (
    KEEP_GATES,
)

#: choices of how β is measured, with their labels
BETA_LABELS = {"clip": "overlap of old and new state", "gate": "keep gate"}


def selected_chip(*states, chips: np.ndarray | None = None) -> int | None:
    """The chip clicked in a glyph chart, from the charts' selection states, or None.

    Each state is what ``st.vega_lite_chart(..., on_select="rerun", key=...)`` keeps in
    ``st.session_state[key]``: ``{"selection": {CHIP_SELECTION: [{"cluster": 3}]}}``.
    The first chart with a selection wins. With ``chips`` (the unit clusters shown), a
    chip picked under another clustering (a larger k) that no longer exists is ignored.
    """
    for state in states:
        try:
            picked = state["selection"][charts.CHIP_SELECTION]
        except (KeyError, TypeError):
            continue
        for point in picked or ():
            if isinstance(point, dict) and point.get("cluster") is not None:
                chip = int(point["cluster"])
                return chip if chips is None or chip in set(np.asarray(chips).tolist()) else None
    return None


def beta_choices(cell: str, signal: str) -> list[str]:
    """ "clip", plus "gate" when this cell's ``signal`` has a gate that keeps it."""
    return ["clip", "gate"] if (cell, signal) in KEEP_GATES else ["clip"]


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
    traces = [cache.recorded_trace(name, text) for text in sentences]
    keys = tuple(cache.trace_key(trace) for trace in traces)
    top = tuple(sorted(cluster_words(words).items()))
    return cache.glyph_panel_specs(
        keys, layer, signal, labels_digest(col_labels), preserved, top, traces, col_labels
    )
