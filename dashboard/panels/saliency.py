"""Saliency views: every input token coloured by how much one output depended on it.

Generate & Highlight (a language model: the probability of a next token) and Hidden States
(a classifier: a class's probability) call one function each; the numbers come from
:func:`lib.analysis.saliency.saliency` through :func:`dashboard.cache.saliency_map`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from dashboard import cache, export
from dashboard.fmt import code, display_token, md
from dashboard.widgets.highlight import ColourScale, highlighted_rows_html
from lib import limits
from lib.analysis.saliency import Saliency, SaliencyError
from lib.model.bundle import ModelBundle
from lib.run.trace import Trace

#: tokens of a text the Generate page attributes (each one is run 100-500 times)
SALIENCY_TOKENS = 600
#: tokens just before the output attributed by default (module docstring of
#: lib.analysis.saliency: from an all-zero input over a long text the gradients explode)
WINDOW = 30

METHOD_LABELS = {
    "integrated_gradients": "Integrated gradients",
    "gradient_x_input": "Gradient × input",
}
QUANTITY_LABELS = {"probability": "probability", "log_probability": "log-probability"}

HELP = """
**Which input tokens did this output depend on?** Each token is coloured by its
*attribution*: red tokens pushed the chosen output up, blue ones pushed it down, white ones
hardly mattered; the outlined token is where the output is read. Tokens after it cannot
change it (the network reads left to right) and get exactly 0.

- **Integrated gradients** (Sundararajan, Taly & Yan 2017) follows a straight path from
  a *baseline* — every input embedding set to zero, "no input" — to the real text, adding
  up the gradient along the way. Its attributions add up to how much the output changed
  between the baseline and the text (*completeness*); the caption checks that sum. The
  integral is computed at up to 512 points, more where the path is rough, until the sum
  is within 1 %.
- **Gradient × input** (Simonyan, Vedaldi & Zisserman 2014; Shrikumar et al. 2016) is the
  gradient at the text times the input: one pass, cheaper, but only a local slope, so its
  sum need not match the change.

Each token's number is the sum over its embedding's components. Hover over a token for
its exact attribution.
"""

WINDOW_HELP = """
**The window.** Only the tokens just before the output are attributed (grey ones are not);
earlier ones keep their real embeddings along the path. From an all-zero input over a long
text a trained LSTM runs on "nothing" for hundreds of steps, states it never saw, where
its gradients can grow a billion-fold, and no number of steps makes the sum add up. Widen
the window as long as the completeness check holds.
"""


def saliency_scale(values: np.ndarray) -> ColourScale:
    """Diverging blue-white-red over ±max|attribution| (white: no effect)."""
    finite = np.abs(np.asarray(values, np.float64))
    m = float(finite[np.isfinite(finite)].max(initial=0.0))
    m = m if m > 0 else 1.0
    return ColourScale("diverging", -m, m, label="attribution")


def saliency_html(result: Saliency, tokens: list[str], *, show_whitespace: bool) -> str:
    """The tokens (as shown: ``tokens`` may add the spaces between words) coloured by
    ``result``'s attributions, the output's position outlined, tokens before the window
    grey (not attributed)."""
    scale = saliency_scale(result.attributions)
    values = np.asarray(result.attributions, np.float64).copy()
    values[: result.first] = np.nan
    return highlighted_rows_html(
        tokens,
        [("attribution", values)],
        scale,
        show_whitespace=show_whitespace,
        value_name="attribution",
        marked=result.position,
    )


def completeness_caption(result: Saliency) -> str:
    """The caption under a saliency view: the method, the check of completeness (escaped)."""
    method = METHOD_LABELS.get(result.method, result.method)
    if result.method == "integrated_gradients":
        verdict = "within 1 %" if result.complete else "NOT within 1 % even at this many steps"
        return (
            f"{md(method)} (Sundararajan, Taly & Yan 2017) over "
            f"{result.position - result.first + 1:d} tokens, {result.steps:d} steps: "
            f"{md(result.completeness_text())} — {md(verdict)}."
        )
    return (
        f"{md(method)} (Shrikumar et al. 2016) is a local slope, not complete: "
        f"{md(result.completeness_text())}."
    )


def _method_widgets(prefix: str) -> tuple[str, str]:
    st.session_state.setdefault(f"{prefix}.method", "integrated_gradients")
    st.session_state.setdefault(f"{prefix}.quantity", "probability")
    c1, c2 = st.columns(2)
    method = (
        c1.segmented_control(
            "Method",
            list(METHOD_LABELS),
            format_func=METHOD_LABELS.get,
            key=f"{prefix}.method",
            help="Integrated gradients (Sundararajan, Taly & Yan 2017): complete, checked "
            "below. Gradient × input (Shrikumar et al. 2016): one pass, a local slope.",
        )
        or "integrated_gradients"
    )
    quantity = (
        c2.segmented_control(
            "Explain the",
            list(QUANTITY_LABELS),
            format_func=QUANTITY_LABELS.get,
            key=f"{prefix}.quantity",
            help="The output whose changes are attributed: the probability (0 to 1) or its "
            "logarithm (which counts a change from 0.01 to 0.1 as much as from 0.1 to 1).",
        )
        or "probability"
    )
    return method, quantity


def _digest(ids: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(ids, np.int32).tobytes()).hexdigest()


def _window(key: str, n: int) -> int:
    top = max(2, min(n, 200))
    st.session_state[key] = min(int(st.session_state.get(key, WINDOW)), top)
    return int(
        st.slider(
            "Window (tokens attributed)",
            1,
            top,
            key=key,
            help="How many tokens up to the output are attributed; earlier ones keep their "
            "real values. Wider windows can break the completeness check (see above).",
        )
    )


def _compute(name: str, ids: np.ndarray, **settings) -> Saliency | None:
    try:
        return cache.saliency_map(
            name, cache.model_key(name), _digest(ids), ids, steps=32, **settings
        )
    except (limits.LimitError, SaliencyError) as e:
        st.error(md(str(e)))
        return None


def _show(result: Saliency, tokens: list[str], *, show_whitespace: bool) -> None:
    export.highlighted(
        "Input saliency", saliency_html(result, tokens, show_whitespace=show_whitespace)
    )
    st.caption(completeness_caption(result))


def language_model_saliency(
    name: str, bundle: ModelBundle, trace: Trace, *, show_whitespace: bool
) -> None:
    """Generate & Highlight: which tokens the probability of a next token depended on."""
    with st.expander("How is this computed? (Sundararajan, Taly & Yan 2017)"):
        st.markdown(HELP + WINDOW_HELP)
    n = min(len(trace), SALIENCY_TOKENS)
    key = "sal.position"
    st.session_state[key] = min(int(st.session_state.get(key, n - 1)), n - 1)
    if st.session_state.get("sal.text") != trace.meta.get("cache_key"):
        st.session_state["sal.text"] = trace.meta.get("cache_key")
        st.session_state[key] = n - 1  # a new text: explain its last position
    c1, c2 = st.columns(2)
    position = int(
        c1.number_input(
            "Output position",
            0,
            n - 1,
            key=key,
            help="The model has read the text up to this token (outlined) and predicts the "
            "next one.",
        )
    )
    actual = int(trace.ids[position + 1]) if position + 1 < len(trace) else None
    options = ([actual] if actual is not None else []) + [
        int(i) for i in trace.topk_ids[position] if int(i) != actual
    ]

    def label(i: int) -> str:
        tok = display_token(bundle.vocab.tokens[i])
        return f"{tok} (the text's next token)" if i == actual else f"{tok} (predicted)"

    if st.session_state.get("sal.target") not in options:
        st.session_state["sal.target"] = options[0]
    target = c2.selectbox(
        "Next token to explain",
        options,
        key="sal.target",
        format_func=label,
        help="Whose probability is explained: the token that really follows, or one of "
        "the model's ten most probable guesses.",
    )
    method, quantity = _method_widgets("sal")
    window = _window("sal.window", n)
    result = _compute(
        name,
        np.asarray(trace.ids[:n]),
        target=int(target),
        position=position,
        method=method,
        quantity=quantity,
        window=window,
    )
    if result is None:
        return
    st.markdown(
        f"The {md(QUANTITY_LABELS[result.quantity])} of {code(display_token(result.target_label))} "
        f"after position {result.position:d}: **{result.value:.4f}** "
        f"(with the attributed tokens' embeddings set to zero: {result.baseline_value:.4f})."
    )
    _show(result, list(trace.tokens[:n]), show_whitespace=show_whitespace)
    if len(trace) > n:
        st.caption(
            f"Only the first {n:,} of the {len(trace):,} tokens are attributed here (each "
            "is run through the network hundreds of times)."
        )


def classifier_saliency(
    name: str, ids: np.ndarray, tokens: list[str], classes: list[str], predicted: int
) -> None:
    """Hidden States: which words one sequence's class probability depended on.

    ``ids`` are the sequence's vocabulary ids, ``tokens`` its words as shown, ``predicted``
    the class the model gave it (explained first).
    """
    st.markdown(HELP)
    if not st.toggle(
        "Attribute this sentence's prediction to its words",
        key="hid.sal.on",
        help="Runs integrated gradients on this sentence (a few seconds); off until asked.",
    ):
        return
    if st.session_state.get("hid.sal.seq") != _digest(ids):
        st.session_state["hid.sal.seq"] = _digest(ids)
        st.session_state["hid.sal.class"] = predicted
    st.session_state["hid.sal.class"] = min(
        int(st.session_state["hid.sal.class"]), len(classes) - 1
    )
    k = st.selectbox(
        "Class to explain",
        list(range(len(classes))),
        key="hid.sal.class",
        format_func=lambda i: classes[i],
        help="Whose probability, after the whole sentence, is attributed to its words.",
    )
    method, quantity = _method_widgets("hid.sal")
    result = _compute(
        name,
        np.asarray(ids),
        target=int(k),
        position=None,
        method=method,
        quantity=quantity,
        window=None,  # a sentence of a classifier is short: every word
    )
    if result is None:
        return
    st.markdown(
        f"The {md(QUANTITY_LABELS[result.quantity])} of class {md(result.target_label)}: "
        f"**{result.value:.4f}** (from the all-zero input: {result.baseline_value:.4f})."
    )
    _show(result, tokens[: len(result.attributions)], show_whitespace=False)
