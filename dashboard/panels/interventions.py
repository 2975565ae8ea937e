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

#: the edits the panel offers, as the menu names them
EDIT_LABELS = {
    "zero": "zero: switch off",
    "mean": "mean: hold at its average",
    "resample": "resample: a random step's value",
    "clamp": "clamp: hold at a value",
    "scale": "scale: multiply",
}

#: why an LSTM's "zero" offers no choice between h and c
ZERO_H_IS_ZERO_C = (
    "Zero switches off h. In an LSTM h = o · tanh(c), so zeroing c also zeroes h, and c "
    "reaches the rest of the network only through h: both give the same model (only the "
    "carried cell state differs, and it feeds nothing but h)."
)


def validation_text(bundle: ModelBundle, chars: int) -> str | None:
    """The end of the model's corpus (the validation split is its last part)."""
    corpus, problem = cache.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(f"The model's corpus is not available here: {md(problem)}")
        return None
    return corpus[-chars:]


def edit_signal_picker(key: str, cell: str, mode: str, column=st) -> str:
    """Edit h or the LSTM's c: offered only where the choice changes the result.

    Not for GRU/RNN layers (they have no c), and not for "zero" (zeroing c is zeroing h:
    the reason is shown instead). Returns "h" or "c".
    """
    if cell != "lstm":
        return "h"
    if mode == "zero":
        column.caption(ZERO_H_IS_ZERO_C)
        return "h"
    if st.session_state.get(key) not in ("h", "c"):
        st.session_state[key] = "h"
    return column.selectbox(
        "In",
        ["h", "c"],
        key=key,
        format_func=lambda s: {"h": "h (hidden state)", "c": "c (cell state)"}[s],
        help="h: the layer's output; c: the LSTM cell state, h recomputed as o · tanh(c).",
    )


def intervention_panel(
    name: str, bundle, choice: NeuronChoice, base_text: str, generation: tuple | None
) -> None:
    """Edit the chosen neurons (zero, mean, resample, clamp, scale); samples and loss change."""
    state.bind(
        {
            "gen.iv_mode": "zero",
            "gen.iv_value": 0.0,
            "gen.iv_signal": "h",
            "gen.iv_chars": 5000,
            "gen.iv_seed": 0,
        }
    )
    if st.session_state["gen.iv_mode"] not in EDIT_LABELS:
        st.session_state["gen.iv_mode"] = "zero"
    c1, c2, c3 = st.columns(3)
    mode = c1.selectbox(
        "Edit",
        list(EDIT_LABELS),
        key="gen.iv_mode",
        format_func=EDIT_LABELS.__getitem__,
        help="How the neurons are changed at every step; mean and resample keep them on "
        "values they really take.",
    )
    if mode == "resample":
        seed = c2.number_input(
            "Seed",
            0,
            2**31 - 1,
            key="gen.iv_seed",
            help="Seed of the random steps whose values are put in.",
        )
        value = 0.0
    else:
        seed = 0
        value = c2.number_input(
            "Value",
            -100.0,
            100.0,
            step=0.5,
            key="gen.iv_value",
            disabled=mode not in ("clamp", "scale"),
            help="The clamp value or the factor.",
        )
    signal = edit_signal_picker("gen.iv_signal", bundle.spec.cell, mode, c3)
    chars = st.slider(
        "Validation text (characters from the end of the corpus)",
        1000,
        50_000,
        step=1000,
        key="gen.iv_chars",
        help="The loss is measured on the end of the model's corpus; mean and resample "
        "take the neurons' values from it.",
    )
    text = validation_text(bundle, chars)
    if text is None:
        return
    val_trace = cache.recorded_trace(name, text)
    neurons = tuple(choice.neurons)
    if mode in ("mean", "resample"):
        iv = Intervention.from_reference(
            choice.layer, neurons, mode, val_trace, signal=signal, seed=int(seed)
        )
    else:
        iv = Intervention(choice.layer, neurons, mode, value=float(value), signal=signal)
    what = {
        "mean": "held at its mean over the validation text",
        "resample": "given its value at a random step of the validation text (seeded)",
    }.get(mode, "edited")
    st.caption(
        f"Neurons {md(', '.join(map(str, iv.neurons)) or '(none)')} of layer {md(iv.layer)} "
        f"({md(iv.signal)}): each {md(what)} at every step, from the first token on."
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
    feature, _ = feature_editor("gen.iv", val_trace, bundle.spec.level)
    mask = feature.values.astype(bool) if feature is not None and feature.kind == "binary" else None
    digest = "" if mask is None else feature_digest(feature)
    out = cache.edited_loss(name, cache.model_key(name), text, iv, digest, mask)
    m1, m2 = st.columns(2)
    m1.metric(
        f"{md(out['metric'])} (whole text)",
        f"{out['metric_intervened']:.4f}",
        delta=f"{out['delta_metric']:+.4f}",
        delta_color="inverse",
        help=f"Without the intervention: {out['metric_base']:.4f}.",
    )
    if mask is not None:
        m2.metric(
            f"{md(out['metric'])} predicting the feature's tokens",
            f"{out['metric_feature_intervened']:.4f}",
            delta=f"{out['delta_metric_feature']:+.4f}",
            delta_color="inverse",
            help=f"Without: {out['metric_feature_base']:.4f}.",
        )
