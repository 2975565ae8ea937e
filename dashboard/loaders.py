"""Cached loaders: models once per server (st.cache_resource), traces per parameters.

Models are keyed on their file's modification time and size, so a retrained model is
reloaded. Traces are cached as resources, shared read-only: a corpus-slice Trace can be
hundreds of MB, and st.cache_data would copy it on every rerun. Each Trace carries its
cache key in ``trace.meta["cache_key"]`` so analyses of it can be cached with st.cache_data
on (trace key, parameters).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from lib import registry
from lib.corpora import CorpusError, load_corpus
from lib.generate import generate
from lib.record import record
from lib.trace import Trace


def model_key(name: str) -> str:
    """Changes whenever model ``name`` is saved again."""
    path = registry.model_dir(name) / "model.keras"
    try:
        stat = path.stat()
    except OSError:
        raise registry.RegistryError(f"Model {name!r} has no model.keras any more; pick "
                                     "another model.") from None
    return f"{registry.models_root()}:{name}:{stat.st_mtime_ns}:{stat.st_size}"


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _load(name: str, key: str):
    return registry.load(name)


def bundle(name: str):
    """The ModelBundle of ``name`` (RegistryError when it cannot be loaded)."""
    return _load(name, model_key(name))


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@st.cache_resource(max_entries=24, show_spinner="Generating…")
def _generated(_bundle, key: str, seed_text: str, length: int, temperature: float,
               top_k: int | None, seed: int | None) -> Trace:
    trace = generate(_bundle, seed_text, length, temperature=temperature, top_k=top_k, seed=seed)
    trace.meta["cache_key"] = f"gen:{key}:{seed_text!r}:{length}:{temperature}:{top_k}:{seed}"
    return trace


def generated_trace(name: str, seed_text: str, length: int, temperature: float,
                    top_k: int | None, seed: int | None) -> Trace:
    return _generated(bundle(name), model_key(name), seed_text, length, temperature, top_k, seed)


@st.cache_resource(max_entries=12, show_spinner="Recording the text through the model…")
def _recorded(_bundle, key: str, digest: str, _text: str) -> Trace:
    trace = record(_bundle, _text)
    trace.meta["cache_key"] = f"rec:{key}:{digest}"
    return trace


def recorded_trace(name: str, text: str) -> Trace:
    return _recorded(bundle(name), model_key(name), text_hash(text), text)


@st.cache_data(max_entries=8, show_spinner="Loading the corpus…")
def corpus_text(ref: str) -> str:
    return load_corpus(ref).text


def model_corpus_text(meta: dict) -> tuple[str | None, str]:
    """(text, message): the corpus a model was trained on, or why it is not available."""
    ref = meta.get("corpus", {}).get("ref", "")
    try:
        return corpus_text(ref), ""
    except CorpusError as e:
        return None, str(e)


def current_bundle(task: str | None = "lm"):
    """The sidebar's model, loaded; stops the page with a message when there is none or it
    is not of the ``task`` the page needs (None: any)."""
    name = st.session_state.get("model")
    if name is None:
        st.info("There is no model yet. Train one on the Train page.")
        st.stop()
    try:
        found = bundle(name)
    except registry.RegistryError as e:
        st.error(str(e))
        st.stop()
    if task == "lm" and found.spec.task != "lm":
        st.info(f"{name} is a sequence classifier: this page looks at language models. Pick "
                "one in the sidebar, or see the classifier on the Hidden States page.")
        st.stop()
    return name, found


@st.cache_resource(max_entries=8, show_spinner="Loading the checkpoint…")
def _checkpoint(name: str, key: str, epoch: int):
    return registry.load_checkpoint(bundle(name), epoch)


def checkpoint_bundle(name: str, epoch: int):
    """Model ``name`` with the weights it had after ``epoch``."""
    return _checkpoint(name, model_key(name), epoch)


def checkpoint_trace(name: str, epoch: int, text: str) -> Trace:
    """``text`` recorded through model ``name`` as it was after ``epoch``."""
    return _recorded(checkpoint_bundle(name, epoch), f"{model_key(name)}@{epoch}",
                     text_hash(text), text)
