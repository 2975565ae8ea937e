"""The Distributions page's panels: the histogram settings, mean |activation| per layer
and signal, gate saturation, and several models compared (Ryšánek 2023)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, export, state
from dashboard.cache import gate_saturation_table, model_summaries
from dashboard.fmt import md
from dashboard.panels.experiments import group_picker, group_values
from lib.analysis.distributions import mean_abs_activation
from lib.model.bundle import ModelBundle
from lib.model.registry import list_models
from lib.run.trace import SIGNAL_LABELS, Trace


def distribution_settings() -> tuple[float, float, float, float, float]:
    """Sets the page's defaults once and draws the "Settings" expander.

    Returns
    -------
    tuple of float
        ``(bin_width, eps, dead_thr, dead_share, pct)``: the histogram bin width, the
        smoothing added to every bin before KL, what counts as near zero, the share near
        zero that makes a neuron dead, and the percentile unbounded signals are clipped at.
    """
    state.bind(
        {
            "dist.bin": 0.01,
            "dist.eps": 1e-10,
            "dist.dead_thr": 0.01,
            "dist.dead_share": 0.9,
            "dist.pct": 99.0,
            "dist.exclude_dead": True,
            "dist.rank": "sum",
        }
    )
    with st.expander("Settings", expanded=False):
        c1, c2, c3, c4, c5 = st.columns(5)
        bin_width = c1.number_input(
            "Bin width",
            0.001,
            1.0,
            step=0.005,
            format="%.3f",
            key="dist.bin",
            help="Width of the histogram bins.",
        )
        eps = c2.number_input(
            "Smoothing ε",
            1e-12,
            1e-2,
            format="%.0e",
            key="dist.eps",
            help="Added to every bin before KL, so empty bins stay finite.",
        )
        dead_thr = c3.number_input(
            "Dead: |value| ≤",
            0.0,
            1.0,
            step=0.005,
            format="%.3f",
            key="dist.dead_thr",
            help="What counts as near zero.",
        )
        dead_share = c4.slider(
            "Dead: share near zero >",
            0.5,
            1.0,
            step=0.01,
            key="dist.dead_share",
            help="Ryšánek (2023): more than 90 %.",
        )
        pct = c5.slider(
            "Clip c at percentile",
            90.0,
            100.0,
            step=0.5,
            key="dist.pct",
            help="Unbounded signals are clipped to ± this percentile of |value|.",
        )
    return bin_width, eps, dead_thr, dead_share, pct


def signal_means(trace: Trace) -> pd.DataFrame:
    """Mean |activation| of every recorded signal, grouped by kind of signal.

    Returns
    -------
    DataFrame
        A row per (layer, signal) of ``trace``: ``kind`` ("hidden state h", "cell state
        c" or "gates and others"), ``signal`` ("L0 h") and ``mean |activation|``.
    """
    return pd.DataFrame(
        [
            {
                "kind": {"h": "hidden state h", "c": "cell state c"}.get(sig, "gates and others"),
                "signal": f"L{lay} {sig}",
                "mean |activation|": mean_abs_activation(v),
            }
            for (lay, sig), v in trace.signals.items()
        ]
    )


def signal_means_view(trace: Trace) -> None:
    """One bar chart of mean |activation| per kind of signal, each on its own scale."""
    st.subheader("Mean |activation| per layer and signal")
    st.caption(
        "One chart per kind of signal, each with its own scale: an LSTM's cell state c is "
        "unbounded and can be far larger than the gates and h, which are bounded by 1."
    )
    means = signal_means(trace)
    kinds = list(dict.fromkeys(means["kind"]))
    for col, kind in zip(st.columns(len(kinds)), kinds, strict=True):
        col.markdown(f"**{md(kind)}**")
        export.chart(
            where=col,
            chart=charts.signal_means(means[means["kind"] == kind].drop(columns="kind")),
            name=f"Mean |activation| of {kind}",
            width="stretch",
        )


def gate_saturation_view(key: str, trace: Trace, cell: str) -> None:
    """Karpathy, Johnson & Fei-Fei (2015, fig. 4): how often each unit's gates are nearly
    shut and nearly open, and how many units keep their memory (LSTM f, GRU z open).

    ``key`` is the trace's cache key; ``cell`` ``"lstm"`` or ``"gru"``.
    """
    st.subheader("Gate saturation")
    st.caption(
        "Karpathy, Johnson & Fei-Fei (2015, fig. 4): one dot per unit and gate, placed by how "
        "often the gate is nearly shut (< 0.1, left) and nearly open (> 0.9, right). "
        + (
            "A unit right-saturated on the forget gate f keeps its memory: its cell carries "
            "what it holds from step to step."
            if cell == "lstm"
            else "Keras' GRU updates `h_t = z h_(t-1) + (1 - z) n`, so a unit right-saturated on "
            "the update gate z keeps its memory (papers that write the GRU the other way "
            "round swap left and right for z)."
        )
    )
    sat = pd.concat(
        [
            gate_saturation_table(key, lay, trace).assign(layer=f"layer {lay}")
            for lay in trace.layers
        ],
        ignore_index=True,
    )
    memory_gate = "f" if cell == "lstm" else "z"
    sat_shown = sat.assign(gate=sat["gate"].map(SIGNAL_LABELS))
    export.chart(charts.saturation_scatter(sat_shown), name="Gate saturation", width="stretch")
    keeps = sat[(sat["gate"] == memory_gate) & (sat["right"] > 0.5)]
    st.markdown(
        md(
            f"{len(keeps)} of {int((sat['gate'] == memory_gate).sum())} units have "
            f"{SIGNAL_LABELS[memory_gate]} open (> 0.9) more than half the time."
        )
    )


def compare_models(
    name: str, bundle: ModelBundle, trace: Trace, dead_thr: float, dead_share: float
) -> None:
    """The "Compare several models" expander: mean |h| and dead neurons of each chosen
    model on the same text, and mean |h| against the setting a sweep's group varies."""
    with st.expander(
        "Compare several models (e.g. the same architecture at several dropouts)",
        expanded=st.session_state.get("dist.model_group", "(none)") != "(none)"
        or "dist.model_group_open" in st.session_state,
    ):
        same = [
            m["name"]
            for m in list_models()
            if m["spec"]["level"] == bundle.spec.level and m["spec"]["task"] == "lm"
        ]
        members = group_picker(
            "dist.model_group",
            same,
            help="A sweep's models (Train page, "
            "Experiments tab), e.g. Ryšánek's (2023) dropouts: chooses them all.",
        )
        group = st.session_state.get("dist.model_group")
        if st.session_state.get("dist.model_group_applied") != group:
            st.session_state["dist.model_group_applied"] = group
            if members:
                st.session_state["dist.models"] = members
        st.session_state["dist.models"] = [
            m for m in st.session_state.get("dist.models", [name]) if m in same
        ]
        chosen = st.multiselect(
            "Models",
            same,
            key="dist.models",
            help="Each reads the same text; layer 0, hidden state h.",
        )
        if not chosen:
            return
        text = bundle.tokenizer.detokenize(trace.tokens)[:20_000]
        summary = model_summaries(tuple(chosen), text, dead_thr, dead_share)
        c1, c2 = st.columns(2)
        export.chart(
            where=c1,
            chart=charts.per_model_bars(summary, value="mean_abs", title="mean |h|"),
            name="Mean |h| per model",
            width="stretch",
        )
        export.chart(
            where=c2,
            chart=charts.per_model_bars(summary, value="dead", title="dead neurons"),
            name="Dead neurons per model",
            width="stretch",
        )
        values = group_values(list(chosen))
        if len(values) == len(chosen) > 1 and len({s for s, _ in values.values()}) == 1:
            setting = next(iter(values.values()))[0]
            line = summary.assign(**{setting: [values[m][1] for m in summary["model"]]})
            export.chart(
                charts.setting_line(line, x=setting, y="mean_abs", title="mean |h|"),
                width="stretch",
            )
            st.caption(f"Ryšánek (2023, fig. 5.7): mean |activation| falls as {md(setting)} rises.")
