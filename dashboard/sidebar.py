"""The sidebar's model picker, shared by every page."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import streamlit as st

from dashboard.fmt import md
from dashboard.panels.glossary import glossary_expander
from lib import limits
from lib.model.registry import (
    RegistryError,
    broken_models,
    export_archive,
    import_archive,
    import_keras,
    list_models,
    validate_name,
)


def _number(value: object) -> float:
    """A metric as a float, NaN when meta.json holds something else there."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def headline(meta: object) -> str:
    """The model's headline metric, e.g. "1.84 bits/char (unigram 4.67)"; never raises,
    whatever meta.json holds (a value of the wrong type shows as nan). Only numbers are
    interpolated, so the text needs no escaping."""
    m = _mapping(_mapping(meta).get("metrics"))
    if "val_bpc" in m:
        bpc, base = _number(m["val_bpc"]), _number(m.get("baseline_bpc"))
        return f"{bpc:.2f} bits/char (unigram {base:.2f})"
    if "val_perplexity" in m:
        ppl, base = _number(m["val_perplexity"]), _number(m.get("baseline_perplexity"))
        return f"perplexity {ppl:.1f} (unigram {base:.1f})"
    if "test_accuracy" in m:
        acc, base = _number(m["test_accuracy"]), _number(m.get("baseline_accuracy"))
        return f"test accuracy {acc:.1%} (majority class {base:.1%})"
    return "no metrics yet"


def _corpus_name(meta: Mapping) -> object:
    source = meta.get("corpus", meta.get("dataset"))
    if isinstance(source, Mapping):
        return source.get("name", "?")
    return "?" if source is None else source


def summary(meta: object) -> str:
    """One Markdown line about a model: cell, size, corpus, epochs and headline metric.

    Every field of meta.json in it is escaped (:func:`dashboard.fmt.md`), and it never
    raises, whatever types meta.json holds (a missing field shows as "?").
    """
    meta = _mapping(meta)
    s = _mapping(meta.get("spec"))
    cell, level = md(str(s.get("cell", "?")).upper()), md(s.get("level", "?"))
    layers, units = md(s.get("layers", "?")), md(s.get("units", "?"))
    imported = _mapping(meta.get("imported"))
    if imported:  # a user's own Keras model: no corpus, no epochs here
        delta = _number(imported.get("max_abs_delta_h"))
        return (
            f"**{cell}**, {level} level, {layers} × {units} units · imported from "
            f"{md(imported.get('from', '?'))} · max |Δh| {delta:.1e} against Keras"
        )
    return (
        f"**{cell}**, {level} level, {layers} × {units} units · "
        f"corpus: {md(_corpus_name(meta))} · {md(meta.get('epochs_done', '?'))} epochs · "
        f"{headline(meta)}"
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


#: a file-system path in an exception's text (shown by its last part only)
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s'\"]*")
_log = logging.getLogger(__name__)


def _file_name(path: re.Match) -> str:
    return re.split(r"[\\/]", path.group().rstrip("\\/"))[-1]


def import_failure(error: BaseException, what: str = "the archive") -> str:
    """What the sidebar shows when an import of ``what`` fails: the message of a refusal
    (RegistryError, LimitError), or the type and first line of any other error, with
    file-system paths cut to the file's name; escaped for Markdown."""
    if isinstance(error, RegistryError | limits.LimitError):
        return f"Not imported: {md(error)}"
    lines = str(error).strip().splitlines()
    first = _PATH.sub(_file_name, lines[0]) if lines else ""
    kind = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return f"Not imported: {what} could not be read ({md(kind)})."


def _checked_upload(upload, name_key: str) -> tuple[bytes, str]:
    """The upload's bytes within ``max_archive_mb`` and the registry name to import it as:
    the one typed under ``name_key``, else the file's stem (validated)."""
    data = upload.getvalue()
    limits.check_archive(len(data))
    stem = str(upload.name).rsplit(".", 1)[0]
    return data, validate_name(st.session_state.get(name_key, "").strip() or stem)


def _import(upload) -> None:
    """Import an uploaded archive; any failure is a message in the sidebar, never a
    traceback (an unexpected one is logged in full on the server)."""
    try:
        data, name = _checked_upload(upload, "import.name")
        import_archive(data, name)
    except Exception as e:  # every failure must be a message, not a traceback
        if not isinstance(e, RegistryError | limits.LimitError):
            _log.exception("import of an uploaded model archive failed")
        st.sidebar.error(import_failure(e))
        return
    st.session_state["model.pending"] = name  # the picker exists already in this run
    st.rerun()


def class_names(text: str) -> list[str] | None:
    """The comma-separated class names typed for an imported classifier; None when empty."""
    names = [part.strip() for part in str(text or "").split(",")]
    return [n for n in names if n] or None


def _import_keras(model_up, vocab_up) -> None:
    """Import an uploaded Keras model and its vocabulary (lib.model.foreign); any failure
    is a message in the sidebar, never a traceback."""
    from lib.run.classify import record_sequences
    from lib.run.record import record

    try:
        data, name = _checked_upload(model_up, "import.keras.name")
        _, check = import_keras(
            data,
            str(model_up.name),
            name,
            record=record,
            record_sequences=record_sequences,
            vocab=vocab_up.getvalue() if vocab_up is not None else None,
            vocab_name=str(vocab_up.name) if vocab_up is not None else "vocabulary",
            classes=class_names(st.session_state.get("import.keras.classes", "")),
        )
    except Exception as e:  # every failure must be a message, not a traceback
        if not isinstance(e, RegistryError | limits.LimitError):
            _log.exception("import of an uploaded Keras model failed")
        st.session_state["import.keras.message"] = ("error", import_failure(e, "the model"))
        return
    st.session_state["import.keras.message"] = (
        "success",
        f"Imported {md(name)}: RNN Lens's recorder matches Keras on "
        f"{check['sample_tokens']:,} tokens (max |Δh| {check['max_abs_delta_h']:.1e}, "
        f"max |Δ output| {check['max_abs_delta_output']:.1e}).",
    )
    st.session_state["model.pending"] = name
    st.rerun()


def _keras_importer() -> None:
    """The "Import your own Keras model" part of the Model files expander."""
    st.markdown("**Import your own Keras model**")
    st.caption(
        "Embedding → 1–3 SimpleRNN/LSTM/GRU → Dense, a language model or a classifier "
        "(.keras or .h5), with its vocabulary: a JSON character or token list, a JSON word "
        "index, a Keras Tokenizer JSON or a vocabulary file (one token per line); none is "
        "needed when the model holds a TextVectorization layer."
    )
    st.text_input(
        "Name for the imported Keras model",
        key="import.keras.name",
        placeholder="the file's name",
        help="Letters, digits, - and _; must not be taken.",
    )
    model_up = st.file_uploader(
        "Keras model (.keras or .h5)",
        type=["keras", "h5"],
        key="upload.keras",
        help=f"At most {limits.limits().max_archive_mb:,} MB; loaded in Keras safe mode.",
    )
    vocab_up = st.file_uploader(
        "Its vocabulary (optional)", type=["json", "txt"], key="upload.keras.vocab"
    )
    st.text_input(
        "Class names (classifiers only, optional)",
        key="import.keras.classes",
        placeholder="neg, pos",
        max_chars=2000,
        help="Comma-separated, in the order of the model's outputs; left empty: 0, 1, ….",
    )
    if st.button("Import the Keras model", key="btn.import.keras", disabled=model_up is None):
        _import_keras(model_up, vocab_up)
    message = st.session_state.pop("import.keras.message", None)
    if message is not None:
        kind, text = message
        (st.sidebar.success if kind == "success" else st.sidebar.error)(text)


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
            help=f"An archive made by 'Download this model', at most "
            f"{limits.limits().max_archive_mb:,} MB.",
        )
        if up is not None and st.session_state.get("import.done") != up.file_id:
            st.session_state["import.done"] = up.file_id
            _import(up)
        _keras_importer()
    broken = broken_models()
    if broken:
        with st.sidebar.expander(f"{len(broken)} broken model folder(s)"):
            for bad, why in broken:
                st.markdown(f"**{md(bad)}**: {md(why)}")
            st.caption("These cannot be loaded and are left out of the picker.")
    with st.sidebar:
        glossary_expander()
