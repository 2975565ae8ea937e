"""Interventions in the dashboard: switch neurons off and see what changes."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, state
from dashboard.cache import feature_digest
from dashboard.fmt import md
from dashboard.widgets.features import feature_editor
from dashboard.widgets.pickers import NeuronChoice
from lib.model.bundle import ModelBundle
from lib.run.edits import Intervention


def validation_text(bundle: ModelBundle, chars: int) -> str | None:
    """The end of the model's corpus (the validation split is its last part)."""
    corpus, problem = cache.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(f"The model's corpus is not available here: {md(problem)}")
        return None
    return corpus[-chars:]


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
            cache.edited_sample(name, cache.model_key(name), *generation, iv) or " ",
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
    val_trace = cache.recorded_trace(name, text)
    feature, _ = feature_editor("gen.iv", val_trace, bundle.spec.level)
    mask = feature.values.astype(bool) if feature is not None and feature.kind == "binary" else None
    digest = "" if mask is None else feature_digest(feature)
    out = cache.edited_loss(name, cache.model_key(name), text, iv, digest, mask)
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
