"""Data for the Hidden States page: recorded test sequences and their long-form tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, loaders, state
from dashboard.analysis_widgets import feature_editor, text_source
from dashboard.fmt import display_token, md
from dashboard.loaders import bundle as load_bundle
from dashboard.loaders import model_key
from lib.analysis.projection import pca_map, stratified_sample


@st.cache_resource(max_entries=6, show_spinner="Recording the test sequences…")
def _classifier_trace(name: str, key: str, n: int):
    from lib.data.datasets import subsample
    from lib.run.classify import held_out, record_sequences

    bundle = load_bundle(name)
    test = held_out(bundle)
    n = min(n, len(test.texts))
    test = subsample(test, n, seed=0)  # the test split is in dataset order: neg, then pos
    trace = record_sequences(bundle, test.texts, labels=test.labels)
    trace.meta["cache_key"] = f"cls:{key}:{n}"
    return trace


def classifier_trace(name: str, n: int):
    """The first ``n`` held-out test sequences of classifier ``name``, recorded; None (with
    a message shown) when its dataset cannot be loaded here."""
    from lib.data.corpora import CorpusError

    try:
        return _classifier_trace(name, model_key(name), n)
    except CorpusError as e:  # e.g. an NLTK corpus neither installed nor downloadable
        st.error(f"Cannot load the test sentences of {md(name)}: {md(str(e))}")
        return None


def overview_frames(trace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stacked bars, confusion matrix) frames: actual x predicted counts."""
    from lib.run.classify import confusion

    known = trace.labels >= 0
    m = confusion(trace.labels[known], trace.prediction[known], trace.n_classes)
    names = trace.classes
    rows = [
        {"actual": names[a], "predicted": names[p], "count": int(m[a, p])}
        for a in range(len(names))
        for p in range(len(names))
    ]
    df = pd.DataFrame(rows)
    return df[df["count"] > 0], df


def sequence_table(trace) -> pd.DataFrame:
    names = trace.classes
    return pd.DataFrame(
        {
            "id": np.arange(len(trace)),
            "class": [names[k] if k >= 0 else "?" for k in trace.labels],
            "prediction": [names[k] for k in trace.prediction],
            "correct": trace.correct,
            "confidence": trace.final_confidence,
            "length": trace.lengths,
            "text": [" ".join(t)[:80] for t in trace.tokens],
        }
    )


def points_frame(trace, Y: np.ndarray) -> pd.DataFrame:
    """Every projected state with its sequence, step, expected prediction and classes."""
    seq = np.repeat(np.arange(len(trace)), trace.lengths)
    step = np.arange(len(seq)) - trace.offsets[seq]
    names = trace.classes
    binary = trace.n_classes == 2
    return pd.DataFrame(
        {
            "x": Y[:, 0],
            "y": Y[:, 1],
            "seq": seq,
            "step": step,
            "ep": trace.ep[:, 1] if binary else trace.ep.max(axis=1),
            "expected prediction": [names[k] for k in trace.pred_class],
            "actual": [names[trace.labels[s]] if trace.labels[s] >= 0 else "?" for s in seq],
            "correct": np.where(trace.correct[seq], "correct", "wrong"),
        }
    )


def step_labels(words: list[str]) -> list[str]:
    return [f"{display_token(w)} ({t})" for t, w in enumerate(words)]


def language_model_view(name: str, bundle) -> None:
    """A text's trajectory over a PCA map of a corpus sample's hidden states."""
    st.caption(
        "A language model: the map is a sample of the states of the model's corpus "
        "(PCA, which, unlike t-SNE, can place a new text on it); the line is your "
        "text's path through it."
    )
    sample_trace = text_source("hidlm", name, bundle)
    if sample_trace is None:
        return
    state.bind({"hidlm.text": 'def f(x):\n    return "(x)"\n', "hidlm.colour": "feature"})
    text = st.text_area(
        "Text to follow",
        key="hidlm.text",
        height=90,
        help="Its hidden states are drawn as a path over the map.",
    )
    colour = (
        st.segmented_control(
            "Colour the map by",
            ["feature", "expectancy"],
            key="hidlm.colour",
            help="A feature of the sample text, or how probable each token was to the model.",
        )
        or "feature"
    )
    layer = bundle.spec.layers - 1
    states = sample_trace.signals[(layer, "h")]
    positions = stratified_sample(sample_trace.tokens, 3000, seed=0)
    if not text:
        st.warning("Type a text to follow.")
        return
    path_trace = loaders.recorded_trace(name, text[:2000])
    Ys, Yt = pca_map(states[positions], path_trace.signals[(layer, "h")])
    points = pd.DataFrame(
        {
            "x": Ys[:, 0],
            "y": Ys[:, 1],
            "seq": 0,
            "step": positions,
            "ep": 0.0,
            "actual": "",
            "correct": "",
        }
    )
    if colour == "feature":
        feature, _ = feature_editor("hidlm", sample_trace, bundle.spec.level)
        if feature is None:
            return
        points["ep"] = feature.values[positions].astype(float)
        points["feature"] = feature.values[positions].astype(str)
        col, binary = ("feature", False) if feature.kind == "binary" else ("ep", True)
    else:
        points["ep"] = np.nan_to_num(sample_trace.expectancy[positions], nan=0.0)
        col, binary = "ep", True
    path = pd.DataFrame(
        {
            "x": Yt[:, 0],
            "y": Yt[:, 1],
            "step": np.arange(len(Yt)),
            "word": step_labels(path_trace.tokens),
            "ep": np.nan_to_num(path_trace.expectancy, nan=0.0),
        }
    )
    st.altair_chart(
        charts.state_projection(
            points, path, colour="expected prediction" if col == "ep" else col, binary=binary
        ),
        width="stretch",
    )
