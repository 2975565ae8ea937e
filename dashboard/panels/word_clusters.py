"""The Word Clusters page's panels: the clusters' token table, and what the clusters follow
(AMI with the token and its part of speech, against an untrained network)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import export
from dashboard.cache import cluster_report
from dashboard.fmt import md
from dashboard.widgets.gates import run_gate
from lib.limits import LimitError
from lib.run.trace import Trace

#: what the token map was made with: (trace key, layer, signal, n, method, param, k,
#: linkage, on), in :func:`dashboard.cache.token_map`'s order
MapSettings = tuple[str, int, str, int, str, Any, int, str, str]


def cluster_table(shown: pd.DataFrame) -> pd.DataFrame:
    """A row per cluster of the map's points: its size, its distinct tokens, and its eight
    most frequent tokens with their counts (``"the ×12, a ×7"``).

    ``shown`` is :func:`dashboard.cache.token_map`'s table (a row per point, with
    ``cluster`` and ``token``) after the page's filters.
    """
    return (
        shown.groupby("cluster")
        .agg(
            size=("token", "size"),
            distinct=("token", "nunique"),
            tokens=(
                "token",
                lambda s: ", ".join(f"{t} ×{c}" for t, c in s.value_counts().head(8).items()),
            ),
        )
        .reset_index()
    )


def agreement_view(
    name: str,
    df: pd.DataFrame,
    trace: Trace,
    settings: MapSettings,
    *,
    unit_word: str,
) -> None:
    """ "What do these clusters follow?": on a press, the adjusted mutual information (AMI;
    Vinh, Epps & Bailey 2010) of the clusters with the token read and its part of speech,
    for this model, an untrained network of the same shape and the embedding alone.

    ``df`` is the map (:func:`dashboard.cache.token_map`); ``settings`` the map's
    ``(trace key, layer, signal, n, method, param, k, linkage, on)``; ``unit_word``
    ``"character"`` or ``"word"``. A server limit the untrained copy would break stops
    the page with its message.
    """
    st.subheader("What do these clusters follow?")
    st.caption(
        "The adjusted mutual information (AMI; Vinh, Epps & Bailey 2010) of the clusters with "
        f"which {md(unit_word)} each point read and with its part of speech: 1 means the clusters "
        "are exactly those groups, 0 no more than chance. An untrained network of the same "
        "shape (Keras' initialisation, fixed random state), recorded on the same text and "
        "clustered the same way, "
        "shows how much of that any network would give; the embedding vectors alone (no "
        "context, clustered on the vectors themselves) show what the token alone explains."
    )
    if not run_gate(
        "Compare with an untrained network",
        settings,
        key="btn.map.agreement",
        remember="map.agreement_for",
        help="Records the text through an untrained copy and clusters it (as slow as the map).",
    ):
        return
    try:
        report = cluster_report(name, *settings, df, trace)
    except LimitError as e:
        st.error(md(str(e)))
        st.stop()
    ours, untrained, emb = (report.iloc[i] for i in range(3))
    if not math.isnan(float(ours["ami_pos"])):
        than = "more" if ours["ami_token"] >= ours["ami_pos"] else "less"
        text = (
            f"These clusters follow which {unit_word} it is (AMI {ours['ami_token']:.2f}) "
            f"{than} than its part of speech ({ours['ami_pos']:.2f}); an untrained network "
            f"of the same shape gets {untrained['ami_token']:.2f} and "
            f"{untrained['ami_pos']:.2f}, the embedding alone {emb['ami_token']:.2f} and "
            f"{emb['ami_pos']:.2f}."
        )
    else:
        text = (
            f"These clusters follow which {unit_word} it is with AMI "
            f"{ours['ami_token']:.2f}; an untrained network of the same shape gets "
            f"{untrained['ami_token']:.2f}, the embedding alone {emb['ami_token']:.2f} "
            "(no part-of-speech tagger here)."
        )
    st.markdown(md(text))
    number = st.column_config.NumberColumn
    export.table(
        report[["states", "ami_token", "ami_pos", "n_clusters", "n_tokens", "n_tags"]],
        hide_index=True,
        column_config={
            "ami_token": number(f"AMI with the {unit_word}", format="%.3f"),
            "ami_pos": number("AMI with POS", format="%.3f"),
            "n_clusters": number("clusters", format="%d"),
            "n_tokens": number(f"distinct {unit_word}s", format="%d"),
            "n_tags": number("distinct tags", format="%d"),
        },
    )
