"""Interventions in the dashboard: switch neurons off and see what changes."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import loaders, state
from dashboard.analysis_views import feature_digest
from dashboard.analysis_widgets import feature_editor
from dashboard.fmt import md
from dashboard.widgets import NeuronChoice
from lib.analysis.ablation import ablation_sweep, loss_change
from lib.run.edits import Intervention


def validation_text(bundle, chars: int) -> str | None:
    """The end of the model's corpus (the validation split is its last part)."""
    corpus, problem = loaders.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(f"The model's corpus is not available here: {md(problem)}")
        return None
    return corpus[-chars:]


@st.cache_data(max_entries=16, show_spinner="Sampling with and without the intervention…")
def _generated(
    name: str,
    key: str,
    seed_text: str,
    length: int,
    temperature: float,
    top_k: int | None,
    seed: int,
    intervention: Intervention,
) -> str:
    from lib.run.generate import generate

    bundle = loaders.bundle(name)
    trace = generate(
        bundle,
        seed_text,
        length,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        interventions=(intervention,),
    )
    return bundle.tokenizer.detokenize(trace.tokens)


@st.cache_data(max_entries=16, show_spinner="Scoring the validation text with and without…")
def _loss(
    name: str,
    key: str,
    text: str,
    intervention: Intervention,
    digest: str,
    _mask: np.ndarray | None,
) -> dict:
    out = loss_change(loaders.bundle(name), text, (intervention,), positions_mask=_mask)
    return {k: v for k, v in out.items() if not k.startswith(("trace_", "position_"))}


def intervention_panel(
    name: str, bundle, choice: NeuronChoice, base_text: str, generation: tuple | None
) -> None:
    """Zero, clamp or scale the chosen neurons; same-seed samples and the loss change."""
    state.bind(
        {"gen.iv_mode": "zero", "gen.iv_value": 0.0, "gen.iv_signal": "h", "gen.iv_chars": 5000}
    )
    c1, c2, c3 = st.columns(3)
    mode = c1.selectbox(
        "Edit",
        ["zero", "clamp", "scale"],
        key="gen.iv_mode",
        help="zero: switch off; clamp: hold at a value; scale: multiply.",
    )
    value = c2.number_input(
        "Value",
        -100.0,
        100.0,
        step=0.5,
        key="gen.iv_value",
        disabled=mode == "zero",
        help="The clamp value or the factor.",
    )
    signals = ["h", "c"] if bundle.spec.cell == "lstm" else ["h"]
    if st.session_state["gen.iv_signal"] not in signals:
        st.session_state["gen.iv_signal"] = "h"
    signal = c3.selectbox(
        "In",
        signals,
        key="gen.iv_signal",
        help="h: the output of the layer; c: the LSTM cell state (h follows).",
    )
    iv = Intervention(
        layer=choice.layer,
        neurons=tuple(choice.neurons),
        mode=mode,
        value=float(value),
        signal=signal,
    )
    st.caption(
        f"Editing neurons {', '.join(map(str, iv.neurons))} of layer {iv.layer} at "
        "every step, from the first token on."
    )
    if generation is not None:
        left, right = st.columns(2)
        left.markdown("**Without**")
        left.code(base_text or " ", language=None, wrap_lines=True)
        right.markdown("**With the intervention** (same random seed)")
        right.code(
            _generated(name, loaders.model_key(name), *generation, iv) or " ",
            language=None,
            wrap_lines=True,
        )
    chars = st.slider(
        "Validation text (characters from the end of the corpus)",
        1000,
        50_000,
        step=1000,
        key="gen.iv_chars",
        help="The loss is measured on the end of the model's corpus.",
    )
    text = validation_text(bundle, chars)
    if text is None:
        return
    val_trace = loaders.recorded_trace(name, text)
    feature, _ = feature_editor("gen.iv", val_trace, bundle.spec.level)
    mask = feature.values.astype(bool) if feature is not None and feature.kind == "binary" else None
    digest = "" if mask is None else feature_digest(feature)
    out = _loss(name, loaders.model_key(name), text, iv, digest, mask)
    m1, m2 = st.columns(2)
    m1.metric(
        f"{out['metric']} (whole text)",
        f"{out['metric_intervened']:.4f}",
        delta=f"{out['delta_metric']:+.4f}",
        delta_color="inverse",
        help=f"Without the intervention: {out['metric_base']:.4f}.",
    )
    if mask is not None:
        m2.metric(
            f"{out['metric']} predicting the feature's tokens",
            f"{out['metric_feature_intervened']:.4f}",
            delta=f"{out['delta_metric_feature']:+.4f}",
            delta_color="inverse",
            help=f"Without: {out['metric_feature_base']:.4f}.",
        )


@st.cache_data(
    max_entries=8, show_spinner="Running the ablation sweep (every run is a full exact pass)…"
)
def sweep(
    name: str,
    key: str,
    text: str,
    ranked: tuple[int, ...],
    layer: int,
    ks: tuple,
    n_random: int,
    seed: int,
    digest: str,
    _mask,
) -> pd.DataFrame:
    return ablation_sweep(
        loaders.bundle(name),
        text,
        list(ranked),
        layer=layer,
        ks=ks,
        n_random=n_random,
        seed=seed,
        positions_mask=_mask,
    )


def sweep_chart(df: pd.DataFrame, column: str) -> alt.LayerChart:
    """Loss change against k: the top-k neurons as a line, random draws as dots and boxes."""
    random = alt.Chart(df[df["kind"] == "random"])
    dots = random.mark_circle(size=18, opacity=0.4, color="#888").encode(
        x=alt.X("k:O", title="neurons switched off (k)"),
        y=alt.Y(f"{column}:Q", title="loss change (nats per token)"),
        tooltip=["k:O", "draw:Q", alt.Tooltip(f"{column}:Q", format=".4f")],
    )
    box = random.mark_boxplot(extent="min-max", opacity=0.3, color="#888").encode(
        x="k:O", y=f"{column}:Q"
    )
    top = (
        alt.Chart(df[df["kind"] == "top"])
        .mark_line(point=True, color="#b40426")
        .encode(x="k:O", y=f"{column}:Q", tooltip=["k:O", alt.Tooltip(f"{column}:Q", format=".4f")])
    )
    return (box + dots + top).properties(height=300)


@st.cache_data(max_entries=8, show_spinner="Recording the text after every epoch…")
def evolution_table(
    name: str, key: str, text: str, layer: int, signal: str, neuron: int, digest: str, _mask
) -> pd.DataFrame:
    from lib.analysis.evolution import evolution

    return evolution(
        loaders.bundle(name), text, layer=layer, signal=signal, neuron=neuron, feature_mask=_mask
    )
