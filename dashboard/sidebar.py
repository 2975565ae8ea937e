"""The sidebar's model picker, shared by every page."""

from __future__ import annotations

import streamlit as st

from lib.registry import list_models


def headline(meta: dict) -> str:
    """The model's headline metric, e.g. "1.84 bits/char (unigram 4.67)"."""
    m = meta.get("metrics", {})
    if "val_bpc" in m:
        return f"{m['val_bpc']:.2f} bits/char (unigram {m.get('baseline_bpc', float('nan')):.2f})"
    if "val_perplexity" in m:
        return (f"perplexity {m['val_perplexity']:.1f} "
                f"(unigram {m.get('baseline_perplexity', float('nan')):.1f})")
    if "test_accuracy" in m:
        return (f"test accuracy {m['test_accuracy']:.1%} "
                f"(majority class {m.get('baseline_accuracy', float('nan')):.1%})")
    return "no metrics yet"


def summary(meta: dict) -> str:
    s = meta["spec"]
    corpus = meta.get("corpus", meta.get("dataset", {})).get("name", "?")
    return (f"**{s['cell'].upper()}**, {s['level']} level, {s['layers']} × {s['units']} units · "
            f"corpus: {corpus} · {meta.get('epochs_done', '?')} epochs · {headline(meta)}")


def model_picker() -> str | None:
    """Pick the model every page works on; kept in session state and the URL."""
    models = list_models()
    if not models:
        st.sidebar.info("No models yet: train one on the Train page, or run `make demo-models`.")
        return None
    by_name = {m["name"]: m for m in models}
    names = list(by_name)
    if st.session_state.get("model") not in by_name:
        wanted = st.query_params.get("model")
        st.session_state["model"] = wanted if wanted in by_name else names[0]
    name = st.sidebar.selectbox(
        "Model", names, key="model",
        format_func=lambda n: f"★ {n}" if by_name[n].get("demo") else n,
        help="The model every page looks into. ★ marks the shipped demo models.",
    )
    st.sidebar.caption(summary(by_name[name]))
    if st.query_params.get("model") != name:
        st.query_params["model"] = name
    return name
