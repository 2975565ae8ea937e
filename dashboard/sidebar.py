"""The sidebar's model picker, shared by every page."""

from __future__ import annotations

import streamlit as st

from dashboard.fmt import md
from dashboard.panels.glossary import glossary_expander
from lib import limits
from lib.model.registry import (
    RegistryError,
    broken_models,
    export_archive,
    import_archive,
    list_models,
    validate_name,
)


def headline(meta: dict) -> str:
    """The model's headline metric, e.g. "1.84 bits/char (unigram 4.67)"."""
    m = meta.get("metrics", {})
    if "val_bpc" in m:
        return f"{m['val_bpc']:.2f} bits/char (unigram {m.get('baseline_bpc', float('nan')):.2f})"
    if "val_perplexity" in m:
        return (
            f"perplexity {m['val_perplexity']:.1f} "
            f"(unigram {m.get('baseline_perplexity', float('nan')):.1f})"
        )
    if "test_accuracy" in m:
        return (
            f"test accuracy {m['test_accuracy']:.1%} "
            f"(majority class {m.get('baseline_accuracy', float('nan')):.1%})"
        )
    return "no metrics yet"


def summary(meta: dict) -> str:
    s = meta["spec"]
    corpus = meta.get("corpus", meta.get("dataset", {})).get("name", "?")
    return (
        f"**{s['cell'].upper()}**, {s['level']} level, {s['layers']} × {s['units']} units · "
        f"corpus: {corpus} · {meta.get('epochs_done', '?')} epochs · {headline(meta)}"
    )


def model_picker() -> str | None:
    """Pick the model every page works on; kept in session state and the URL."""
    models = list_models()
    if not models:
        st.sidebar.info("No models yet: train one on the Train page, or run `make demo-models`.")
        return None
    by_name = {m["name"]: m for m in models}
    names = list(by_name)
    if st.session_state.get("model.pending") in by_name:
        st.session_state["model"] = st.session_state.pop("model.pending")
        st.sidebar.success(f"Imported {md(st.session_state['model'])}.")
    if st.session_state.get("model") not in by_name:
        wanted = st.query_params.get("model")
        st.session_state["model"] = wanted if wanted in by_name else names[0]
    name = st.sidebar.selectbox(
        "Model",
        names,
        key="model",
        format_func=lambda n: f"★ {n}" if by_name[n].get("demo") else n,
        help="The model every page looks into. ★ marks the shipped demo models.",
    )
    st.sidebar.caption(summary(by_name[name]))
    if st.query_params.get("model") != name:
        st.query_params["model"] = name
    return name


def _import(upload) -> None:
    data = upload.getvalue()
    try:
        limits.check_upload(len(data))
        stem = upload.name.rsplit(".", 1)[0]
        name = st.session_state.get("import.name", "").strip() or stem
        validate_name(name)
        import_archive(data, name)
    except (RegistryError, limits.LimitError) as e:
        st.sidebar.error(f"Not imported: {e}")
        return
    st.session_state["model.pending"] = name  # the picker exists already in this run
    st.rerun()


def model_files(name: str | None) -> None:
    """Download the current model as an archive, import one, list broken entries, and show
    the glossary and references."""
    with st.sidebar.expander("Model files"):
        if name is not None:  # the archive is built only when the button is clicked
            st.download_button(
                "Download this model",
                lambda: export_archive(name),
                f"{name}.zip",
                mime="application/zip",
                key="btn.export",
                on_click="ignore",
                help="A .zip another RNN Lens server can import.",
            )
        st.text_input(
            "Name for the imported model",
            key="import.name",
            placeholder="the file's name",
            help="Letters, digits, - and _; must not be taken.",
        )
        up = st.file_uploader(
            "Import a model (.zip)",
            type=["zip"],
            key="upload.model",
            help="An archive made by 'Download this model'.",
        )
        if up is not None and st.session_state.get("import.done") != up.file_id:
            st.session_state["import.done"] = up.file_id
            _import(up)
    broken = broken_models()
    if broken:
        with st.sidebar.expander(f"{len(broken)} broken model folder(s)"):
            for bad, why in broken:
                st.markdown(f"**{md(bad)}**: {md(why)}")
            st.caption("These cannot be loaded and are left out of the picker.")
    with st.sidebar:
        glossary_expander()
