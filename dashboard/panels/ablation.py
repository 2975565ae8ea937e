"""The Ablation page's panels: the sweep's results (charts and findings in words) and the
training evolution of one neuron."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import cache, export, state
from dashboard.cache import evolution_table, feature_digest
from dashboard.charts import control_range_chart, relevance_by_epoch, sweep_chart
from dashboard.fmt import md
from dashboard.panels.tokens import neuron_rows_html
from dashboard.widgets.gates import run_gate
from dashboard.widgets.needs import offer_model
from dashboard.widgets.pickers import NeuronChoice
from lib.analysis.ablation import control_summary
from lib.analysis.evolution import first_epoch_of_best
from lib.analysis.features import Feature
from lib.model.registry import checkpoints
from lib.run.trace import Trace

MODE_LABELS = {
    "mean": "mean: hold at its average",
    "resample": "resample: a random step's value",
    "zero": "zero: set to 0",
}
CONTROL_WORDS = {
    "unrelated": "unrelated neurons (not significant, small effect)",
    "all": "all other neurons",
}


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def signed(x: float) -> str:
    """A loss change as ``+0.0123``; ``n/a`` when it is not finite."""
    return "n/a" if not math.isfinite(x) else f"{x:+.4f}"


def findings_markdown(summary: pd.DataFrame, *, char: bool) -> str:
    """The sweep in words: a Markdown bullet per k, the top k's cost against each control.

    Parameters
    ----------
    summary : DataFrame
        :func:`lib.analysis.ablation.control_summary`'s table: a row per (k, control) with
        ``top``, ``n_draws``, ``n_distinct``, ``median``, ``p5``, ``p95``, ``rank`` and
        ``share_at_least``.
    char : bool
        A character-level model: the cost is also given in bits per character
        (nats / ln 2).

    Returns
    -------
    str
        Markdown, one line per k; every value from the table is escaped or a number.
    """
    lines = []
    for k, rows in summary.groupby("k", sort=False):
        top = float(rows["top"].iloc[0])
        bits = f" (= {top / math.log(2):+.4f} bits per character)" if char else ""
        parts = [
            f"- **k = {md(k)}**: switching off the top {md(k)} cost **{signed(top)}** nats "
            f"per token{bits}."
        ]
        for row in rows.itertuples():
            words = CONTROL_WORDS.get(row.control, row.control)
            if row.n_draws == 0:
                parts.append(
                    f"No draws from {md(words)}: fewer than {md(k)} of them are outside the "
                    f"top {md(k)}."
                )
                continue
            rank = (
                f"the top {md(k)} rank **{ordinal(int(row.rank))} of {row.n_draws + 1}**, and "
                f"{row.share_at_least:.0%} of the draws cost at least as much"
                if not pd.isna(row.rank)
                else "no rank (the feature has no scored token)"
            )
            sets = (
                f" ({md(row.n_distinct)} different sets: few neurons to draw from)"
                if row.n_distinct < row.n_draws
                else ""
            )
            parts.append(
                f"{md(row.n_draws)} draws from {md(words)}{sets}: median {signed(row.median)} "
                f"(5th to 95th percentile {signed(row.p5)} to {signed(row.p95)}); {rank}."
            )
        lines.append(" ".join(parts))
    return "\n".join(lines)


def sweep_view(df: pd.DataFrame, feature_name: str, *, char: bool) -> None:
    """The sweep's results: loss change per k (whole text, feature tokens), the controls
    as distributions, the findings in words and the numbers.

    ``df`` is :func:`dashboard.cache.sweep`'s table: a row per switched-off set.
    """
    left, right = st.columns(2)
    left.caption("Loss change, whole text")
    export.chart(
        where=left, chart=sweep_chart(df, "delta_loss"), name="Loss change", width="stretch"
    )
    right.caption(f"Loss change predicting the feature's tokens ({md(feature_name)})")
    export.chart(
        where=right,
        chart=sweep_chart(df, "delta_loss_feature"),
        name="Loss change on the feature's tokens",
        width="stretch",
    )
    st.caption(
        "Red line: the top k by relevance. Dots: the random draws, blue from the unrelated "
        "neurons, grey from all other neurons."
    )
    summary = control_summary(df, "delta_loss_feature")
    st.markdown("**The controls as distributions** (predicting the feature's tokens)")
    export.chart(control_range_chart(summary), name="Top k against the controls", width="stretch")
    st.caption(
        "Bars: the 5th to 95th percentile of each control's draws; black tick: their median; "
        "red line: the top k."
    )
    st.markdown(findings_markdown(summary, char=char))
    with st.expander("The numbers"):
        export.table(summary, hide_index=True)


def evolution_view(
    name: str,
    text: str,
    trace: Trace,
    layer: int,
    signal: str,
    feature: Feature,
    top_neuron: int,
) -> None:
    """Training evolution: one neuron's relevance and spectral peak after every epoch of a
    model with per-epoch checkpoints, and the neuron on the text after a chosen epoch.

    ``trace`` is the final model's recording of ``text``; ``top_neuron`` (the final
    model's best neuron for ``feature``) is the neuron input's default.
    """
    st.subheader("Training evolution")
    found = checkpoints(name)
    if not found:
        offer_model(
            "Training evolution needs a model that kept a checkpoint after every epoch; "
            f"{md(name)} kept none. Open it with ★ demo-stdlib-char-lstm, or train one on the "
            "Train page (it keeps them).",
            "demo-stdlib-char-lstm",
            key="btn.abl.offer",  # btn.: state.keep_alive must not write a button's key
        )
        return
    state.bind({"abl.neuron": top_neuron})
    neuron = int(
        st.number_input(
            "Neuron",
            0,
            trace.signals[(layer, signal)].shape[1] - 1,
            key="abl.neuron",
            help="Default: the final model's top neuron for the feature.",
        )
    )
    # one exact recording of the text per checkpoint: only when asked
    request = (
        name,
        cache.model_key(name),
        cache.trace_key(trace),
        layer,
        signal,
        neuron,
        feature_digest(feature),
    )
    if not run_gate(
        "Trace the training evolution",
        request,
        key="btn.abl.evolution",
        help=f"Record the text through the model after each of its {len(found)} epochs.",
        remember="abl.evolution_requested",
    ):
        st.info(
            f"Press **Trace the training evolution** to record the text after each of the "
            f"{len(found)} epochs and follow neuron {neuron}."
        )
        return
    evo = evolution_table(
        name,
        cache.model_key(name),
        text,
        layer,
        signal,
        neuron,
        feature_digest(feature),
        feature.values.astype(bool),
    )
    export.table(evo, hide_index=True)
    st.markdown(
        f"The final best neuron for **{md(feature.name)}** is the best from epoch "
        f"**{first_epoch_of_best(evo)}** on."
    )
    export.chart(relevance_by_epoch(evo), width="stretch")
    epoch = st.select_slider(
        "Highlighted text after epoch",
        [e for e, _ in found],
        value=found[-1][0],
        key="btn.abl.epoch",
        help="The neuron on the same text after this epoch.",
    )
    past = cache.checkpoint_trace(name, epoch, text)
    export.highlighted(
        "The neuron on the text",
        neuron_rows_html(
            past,
            NeuronChoice(layer, signal, [neuron]),
            output_aligned=False,
            show_whitespace=True,
            stop=600,
        ),
    )
