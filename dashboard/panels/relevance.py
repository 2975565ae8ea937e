"""The Neuron Relevance page's panels: the headline numbers, the ranking table and the
reliability check on a second text."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import cache, export
from dashboard.cache import effect_ranking_table, feature_digest
from dashboard.fmt import md
from dashboard.widgets.features import make_feature
from lib.analysis.effects import MIN_AUROC_EFFECT, MIN_CORRELATION
from lib.analysis.features import FeatureError
from lib.analysis.ranking import order_by, ranking_agreement, reliability
from lib.model.bundle import ModelBundle

ALPHA = 0.01  # false discovery rate of a finding (effect_ranking's default)
RANK_LABELS = {"size": "effect size", "R": "R (Dahlberg)"}


def headline_metrics(
    table: pd.DataFrame, clear: pd.Series, *, binary: bool, effect_name: str
) -> None:
    """Three numbers over the ranking: neurons with a clear effect, findings, and (yes/no
    features) how alike R and the effect size order the neurons; then a caption on the
    constant (dead) neurons, when there are any.

    ``table`` is the effect ranking (a row per neuron); ``clear`` marks the live neurons
    whose effect reaches the minimum.
    """
    m1, m2, m3 = st.columns(3)
    m1.metric(
        "Neurons with a clear effect",
        f"{int(clear.sum())} of {len(table)}",
        help=(
            f"Neurons whose effect reaches the minimum ({md(effect_name)} "
            + (
                f"at least {0.5 + MIN_AUROC_EFFECT:.1f} or at most {0.5 - MIN_AUROC_EFFECT:.1f})"
                if binary
                else f"|r| at least {MIN_CORRELATION:.2f})"
            )
            + ", however small their p-value."
        ),
    )
    m2.metric(
        "Findings",
        f"{int(table['finding'].sum())}",
        help=f"A clear effect that also survives the shift test (q < {ALPHA}), with an interval "
        "that leaves out 'no link' for the top neurons.",
    )
    if binary:
        agree = ranking_agreement(table, k=min(10, len(table)))
        m3.metric(
            "R vs effect size (Spearman ρ)",
            f"{agree['spearman']:.2f}",
            help="How alike Dahlberg's R and the effect size order the neurons (1: the same "
            "order, 0: unrelated).",
        )
    n_constant = int(table["constant"].sum())
    if n_constant:
        st.caption(
            f"{n_constant} neuron(s) do not move on this text (constant); they are listed last."
        )


def ranking_view(table: pd.DataFrame, *, binary: bool, effect_name: str, file_name: str) -> None:
    """The top 50 of the ranking, a column per score with its meaning, and a CSV download
    of every neuron (``file_name``)."""
    number = st.column_config.NumberColumn
    columns = ["neuron", "effect", "ci_low", "ci_high", "direction", "finding", "size", "q", "p"]
    columns += ["R", "R_z", "mean_inside", "mean_outside"] if binary else []
    columns += ["constant"]
    export.table(
        table[columns].head(50),
        hide_index=True,
        height=280,
        column_config={
            "effect": number(
                effect_name,
                format="%.3f",
                help="Chance that the neuron is higher on a random feature token than on a "
                "random other token (0.5: no link)."
                if binary
                else "Correlation with the feature (0: no link).",
            ),
            "ci_low": number("95% interval from", format="%.3f", help="Block-bootstrap interval."),
            "ci_high": number("to", format="%.3f", help="Block-bootstrap interval."),
            "size": number("size", format="%.3f", help="The effect on a 0–1 scale."),
            "q": number(
                "q",
                format="%.2g",
                help="p corrected for testing every neuron (Benjamini & Hochberg 1995); "
                "below 0.05: unlikely to be chance.",
            ),
            "p": number(
                "p",
                format="%.2g",
                help="Share of shifted copies of the feature that matched the neuron as well.",
            ),
            "R": number("R", format="%.3f", help="Dahlberg's relevance (1 = the layer's top)."),
            "R_z": number("R_z", format="%.1f", help="R against shifted copies of the feature."),
            "mean_inside": number("mean on", format="%.3f", help="Mean on the feature's tokens."),
            "mean_outside": number("mean off", format="%.3f", help="Mean on the other tokens."),
        },
    )
    st.download_button(
        "Download the full ranking (CSV)",
        table.to_csv(index=False),
        file_name=file_name,
        mime="text/csv",
        key="btn.rel.csv",
        help="Every neuron with every score.",
    )


def reliability_check(
    source: Any,
    name: str,
    bundle: ModelBundle,
    feature_spec: tuple,
    table: pd.DataFrame,
    *,
    layer: int,
    signal: str,
    rank_by: str,
    n_h: int,
) -> None:
    """Ranks the neurons again on a second text (on a press) and says how many of the top
    ones come out in both, with the Spearman ρ of the scores over all neurons.

    ``source`` is the page's :func:`dashboard.widgets.text_source.text_source`;
    ``feature_spec`` the feature editor's spec, rebuilt on the second text; ``table`` the
    ranking on the first text, ordered by ``rank_by``.
    """
    other_seed = st.number_input(
        "Other random seed (generated text)",
        0,
        2**31 - 1,
        key="rel.other",
        help="Dahlberg trusted neurons found in both texts most.",
    )
    if not st.button(
        "Run on the second text",
        key="btn.rel.other",
        help="Rank the neurons again on a second text and compare the two rankings.",
    ):
        return
    other = source.second(name, bundle, int(other_seed))
    if other is None:
        st.warning("There is no second text of this kind (the recording is too short).")
        return
    try:
        other_feature = make_feature(feature_spec, other, bundle.spec.level)
        t2 = effect_ranking_table(
            cache.trace_key(other),
            layer,
            signal,
            feature_digest(other_feature),
            other.signals[(layer, signal)],
            other_feature,
        )
    except FeatureError as e:
        st.warning(f"On the second text: {md(str(e))}")
        return
    t2 = order_by(t2, rank_by)
    k = min(max(n_h, 5), len(table))
    agree = reliability(table, t2, k=k, column=rank_by)
    st.write(
        f"Top-{md(k)} by {RANK_LABELS[rank_by]} here: "
        f"{md(table['neuron'].head(k).tolist())}; on the other text: "
        f"{md(t2['neuron'].head(k).tolist())}; in both: "
        f"**{md(agree['shared'] or 'none')}** ({agree['overlap']:.0%}; Spearman ρ of the "
        f"scores over all neurons {agree['spearman']:.2f})."
    )
