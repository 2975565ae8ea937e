"""Reusable pickers: neurons (with "top neurons" shortcuts), layer and signal, corpus, dataset."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard import cache, state
from dashboard.fmt import md
from lib import limits
from lib.model.spec import ModelSpec
from lib.run.trace import SIGNAL_LABELS, SIGNALS, Trace


def parse_neurons(text: str, units: int) -> tuple[list[int], str]:
    """Parse "3, 17, 40-45" into neuron numbers in [0, units); (neurons, problem message)."""
    neurons, bad = [], []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            bad.append(part)
            continue
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo or hi >= units:
            bad.append(part)
            continue
        neurons.extend(n for n in range(lo, hi + 1) if n not in neurons)
    problem = ""
    if bad:
        problem = (
            f"Ignored {', '.join(repr(b) for b in bad)}: neurons are numbers from 0 to "
            f"{units - 1}, or ranges like 40-45."
        )
    return neurons[:64], problem


def register_top_neurons(
    model: str, layer: int, signal: str, label: str, neurons: list[int]
) -> None:
    """Offer a ranking (e.g. from the Relevance page) as a shortcut in the neuron picker."""
    store = st.session_state.setdefault("top_neurons", {})
    store[(model, layer, signal, label)] = [int(n) for n in neurons]


def most_variable(values: np.ndarray, k: int = 3) -> list[int]:
    """The k neurons whose activation varies most over the text (values: (T, units))."""
    return [int(n) for n in np.argsort(-values.var(axis=0), kind="stable")[:k]]


@dataclass
class NeuronChoice:
    layer: int
    signal: str
    neurons: list[int]


def _set_neurons(key: str, neurons: list[int]) -> None:
    st.session_state[key] = ", ".join(map(str, neurons))


def neuron_picker(prefix: str, model: str, spec: ModelSpec, trace: Trace) -> NeuronChoice:
    """Layer, signal and neuron numbers; empty neurons = the 3 most variable on this text."""
    cols = st.columns([1, 2, 3])
    layers = list(range(spec.layers))
    signals = list(SIGNALS[spec.cell])
    key = f"{prefix}.neurons"
    state.bind({f"{prefix}.layer": 0, f"{prefix}.signal": "h", key: ""})
    if st.session_state[f"{prefix}.layer"] not in layers:
        st.session_state[f"{prefix}.layer"] = 0
    layer = cols[0].selectbox(
        "Layer", layers, key=f"{prefix}.layer", help="Recurrent layer; 0 reads the embeddings."
    )
    if st.session_state[f"{prefix}.signal"] not in signals:
        st.session_state[f"{prefix}.signal"] = "h"
    signal = cols[1].selectbox(
        "Signal",
        signals,
        key=f"{prefix}.signal",
        format_func=lambda s: SIGNAL_LABELS[s],
        help="Which quantity of the cell to show: the hidden state h, the LSTM cell state c, "
        "or a gate.",
    )
    text = cols[2].text_input(
        "Neurons",
        key=key,
        placeholder="e.g. 3, 17, 40-45 (empty: the 3 most variable here)",
        help="Neuron numbers of the layer, separated by commas; ranges like 40-45 work.",
    )
    values = trace.signals[(layer, signal)]
    neurons, problem = parse_neurons(text, values.shape[1])
    if problem:
        st.warning(problem)
    shortcuts = {"most variable on this text": most_variable(values, 5)}
    for (m, lay, sig, label), found in st.session_state.get("top_neurons", {}).items():
        if (m, lay, sig) == (model, layer, signal):
            shortcuts[label] = found
    with st.container(horizontal=True):
        st.caption("Top neurons:")
        for label, found in shortcuts.items():
            st.button(
                f"{label}: {', '.join(map(str, found[:5]))}",
                key=f"btn.top.{prefix}.{label}",
                on_click=_set_neurons,
                args=(key, found[:5]),
                type="tertiary",
                help="Show these neurons.",
            )
    if not neurons:
        neurons = most_variable(values, 3)
    return NeuronChoice(layer, signal, neurons)


def corpus_picker(prefix: str):
    """Choose a corpus: built-in, NLTK, uploaded file or pasted text.

    Returns a ``lib.data.corpora.Corpus``, or None after showing why there is none yet.
    """
    from lib.data.corpora import (
        BUILTIN_CORPORA,
        NLTK_CORPORA,
        CorpusError,
        corpus_from_bytes,
        corpus_from_text,
    )

    lim = limits.limits()
    state.bind({f"{prefix}.corpus_kind": "Built-in"})
    kind = (
        st.segmented_control(
            "Corpus",
            ["Built-in", "NLTK", "Upload", "Paste"],
            key=f"{prefix}.corpus_kind",
            help="Built-in corpora work offline; NLTK corpora are downloaded when missing.",
        )
        or "Built-in"
    )
    try:
        if kind == "Built-in":
            key = st.selectbox(
                "Built-in corpus",
                list(BUILTIN_CORPORA),
                key=f"{prefix}.builtin",
                format_func=BUILTIN_CORPORA.get,
                help="Text of the running Python: its language reference "
                "(English prose) or its standard library (code).",
            )
            return cache.builtin_or_nltk_corpus(f"builtin:{key}")
        if kind == "NLTK":
            name = st.selectbox(
                "NLTK corpus",
                NLTK_CORPORA,
                key=f"{prefix}.nltk",
                help="Read through nltk.corpus; downloaded on demand.",
            )
            return cache.builtin_or_nltk_corpus(f"nltk:{name}")
        if kind == "Upload":
            up = st.file_uploader(
                "UTF-8 text file",
                type=["txt", "md", "py", "csv"],
                key=f"upload.{prefix}",
                help=f"Up to {lim.max_upload_mb:,} MB of UTF-8 text.",
            )
            if up is None:
                st.info("Upload a text file to train on.")
                return None
            corpus = corpus_from_bytes(up.getvalue(), name=up.name, max_bytes=lim.max_upload_bytes)
        elif not (
            text := st.text_area(
                "Text", key=f"{prefix}.paste", height=150, help="Paste the training text here."
            )
        ).strip():
            st.info("Paste a text to train on.")
            return None
        else:
            corpus = corpus_from_text(text)
        limits.check_corpus(len(corpus.text), lim)
        return corpus
    except (CorpusError, limits.LimitError) as e:
        st.error(md(str(e)))
        return None


def layer_signal_picker(prefix: str, spec: ModelSpec) -> tuple[int, str]:
    """Layer and signal of the chosen model (kept in the URL under ``prefix``)."""
    state.bind({f"{prefix}.layer": 0, f"{prefix}.signal": "h"})
    signals = list(SIGNALS[spec.cell])
    if st.session_state[f"{prefix}.layer"] >= spec.layers:
        st.session_state[f"{prefix}.layer"] = 0
    if st.session_state[f"{prefix}.signal"] not in signals:
        st.session_state[f"{prefix}.signal"] = "h"
    c1, c2 = st.columns([1, 3])
    layer = c1.selectbox(
        "Layer",
        list(range(spec.layers)),
        key=f"{prefix}.layer",
        help="Recurrent layer; 0 reads the embeddings.",
    )
    signal = c2.selectbox(
        "Signal",
        signals,
        key=f"{prefix}.signal",
        format_func=lambda s: SIGNAL_LABELS[s],
        help="Hidden state h, LSTM cell state c, or a gate.",
    )
    return layer, signal


def send_to_generate(
    layer: int, signal: str, neurons: list[int], *, corpus_start: int | None = None
) -> None:
    """Open Generate & Highlight on these neurons (and on this corpus position)."""
    st.session_state["pick.layer"] = layer
    st.session_state["pick.signal"] = signal
    st.session_state["pick.neurons"] = ", ".join(map(str, neurons))
    if corpus_start is not None:
        st.session_state["gen.source"] = "Corpus slice"
        st.session_state["gen.start"] = max(corpus_start, 0)
    st.switch_page("pages/generate.py")


def dataset_picker(prefix: str):
    """Choose a labelled dataset for a classifier; None (with the reason) when none yet."""
    from lib.data.corpora import CorpusError
    from lib.data.datasets import BROWN_DEFAULT_CATEGORIES, from_csv_bytes

    state.bind({f"{prefix}.dataset": "nltk:sentence_polarity"})
    refs = {
        "nltk:sentence_polarity": "Sentence polarity (NLTK, 2 classes)",
        "nltk:movie_reviews": "Movie reviews (NLTK, 2 classes)",
        "nltk:brown": f"Brown genres (NLTK, {len(BROWN_DEFAULT_CATEGORIES)} classes)",
        "keras:imdb": "IMDB reviews (Keras, downloaded)",
        "keras:reuters": "Reuters newswire topics (Keras, downloaded)",
        "csv": "Upload a CSV (text and label columns)",
    }
    ref = st.selectbox(
        "Dataset",
        list(refs),
        format_func=refs.get,
        key=f"{prefix}.dataset",
        help="Labelled texts. NLTK and Keras data are downloaded when missing.",
    )
    try:
        if ref != "csv":
            return cache.labelled_dataset(ref)
        up = st.file_uploader(
            "CSV file",
            type=["csv"],
            key=f"upload.{prefix}.csv",
            help="UTF-8 CSV with a text column and a label column.",
        )
        if up is None:
            st.info("Upload a CSV with a text column and a label column.")
            return None
        return from_csv_bytes(
            up.getvalue(), name=up.name, max_bytes=limits.limits().max_upload_bytes
        )
    except CorpusError as e:  # DatasetError too
        st.error(md(str(e)))
        return None
