"""The Hidden States page's panels: a language model's text over a map of states, and a
classifier given the user's own sentences (an imported one has no dataset)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, state
from dashboard.fmt import md
from dashboard.tables import step_labels
from dashboard.widgets.features import feature_editor
from dashboard.widgets.text_source import text_source
from lib import limits
from lib.analysis.projection import pca_map, stratified_sample
from lib.data.datasets import DatasetError, Sentences, parse_labelled_lines, sentences_from_csv
from lib.model.bundle import ModelBundle
from lib.run.classify import ClassifierTrace


def language_model_view(name: str, bundle: ModelBundle) -> None:
    """A text's trajectory over a PCA map of a corpus sample's hidden states."""
    st.caption(
        "A language model: the map is a sample of the states of the model's corpus "
        "(PCA, which, unlike t-SNE, can place a new text on it); the line is your "
        "text's path through it."
    )
    source = text_source("hidlm", name, bundle)
    if source is None:
        return
    sample_trace = source.trace
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
    path_trace = cache.recorded_trace(name, text[:2000])
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
    export.chart(
        charts.state_projection(
            points, path, colour="expected prediction" if col == "ep" else col, binary=binary
        ),
        width="stretch",
    )


# --- a classifier given the user's own sentences ------------------------------------------------


def has_test_set(bundle: ModelBundle) -> bool:
    """Whether the classifier's meta.json names a dataset its test split may be rebuilt from
    (not an upload, which is not stored; not an imported model, which has none)."""
    ref = str(bundle.meta.get("dataset", {}).get("ref", ""))
    return bool(ref) and not ref.startswith("csv:") and bool(bundle.meta.get("split"))


def wants_own_sentences(bundle: ModelBundle) -> bool:
    """A choice between the test set and the user's own sentences where there is a test
    set; True (no widget) where there is none."""
    if not has_test_set(bundle):
        return True
    state.bind({"hid.source": "test set"})
    choice = st.segmented_control(
        "Sentences",
        ["test set", "your own"],
        key="hid.source",
        help="The model's held-out test sentences, or sentences you write or upload.",
    )
    return choice == "your own"


def _read_sentences(text: str, upload: Any, classes: list[str]) -> Sentences:
    """The uploaded CSV if there is one, else the pasted lines (DatasetError, LimitError)."""
    lim = limits.limits()
    if upload is not None:
        data = upload.getvalue()
        limits.check_upload(len(data), lim)
        return sentences_from_csv(
            data, classes, name=str(upload.name), max_bytes=lim.max_upload_bytes
        )
    return parse_labelled_lines(text, classes, max_chars=lim.max_corpus_chars)


def own_sentences_trace(name: str, bundle: ModelBundle) -> ClassifierTrace | None:
    """Sentences the user pastes or uploads, recorded through classifier ``name`` when the
    button is pressed (cached on their content, so later reruns replay nothing); None
    until then."""
    classes = [str(c) for c in bundle.meta.get("classes") or range(bundle.spec.n_classes or 2)]
    if len(classes) != (bundle.spec.n_classes or 2):
        classes = [str(k) for k in range(bundle.spec.n_classes or 2)]
    st.markdown("**Your own sentences**")
    by_index = classes != [str(k) for k in range(len(classes))]
    st.caption(
        "One sentence a line, with its label first if you know it (label, then a tab or a "
        f"comma): the model's classes are {', '.join(md(c) for c in classes)}"
        + (f" (or their indices 0 to {len(classes) - 1})" if by_index else "")
        + ". Lines without a label are drawn too; only the colouring by actual class and "
        "by correctness needs labels."
    )
    example = "\n".join(
        [f"{classes[-1]}\tsuch a warm and funny film", f"{classes[0]},a dull, tired plot"]
        + ["a sentence without a label"]
    )
    text = st.text_area(
        "Sentences (one a line)",
        key="hid.own.text",
        height=140,
        placeholder=example,
        help="label<TAB>sentence, label,sentence or just the sentence.",
    )
    upload = st.file_uploader(
        "…or a CSV file (a text column, optionally a label column)",
        type=["csv"],
        key="upload.hid.own",  # not hid.: state.keep_alive must not write an uploader's key
        help=f"At most {limits.limits().max_upload_mb:,} MB; the same columns as on Train.",
    )
    if st.button("Record these sentences", key="btn.hid.own", type="primary"):
        try:
            sentences = _read_sentences(text, upload, classes)
        except (DatasetError, limits.LimitError) as e:
            st.error(md(str(e)))
        else:
            st.session_state["hid.own.sentences"] = (name, sentences)
    stored = st.session_state.get("hid.own.sentences")
    if not stored or stored[0] != name:
        st.info("Write or upload sentences, then press **Record these sentences**.")
        return None
    trace = cache.sentences_trace(name, stored[1])
    if trace is None:
        return None
    dropped = trace.meta.get("dropped_lines", [])
    if dropped:
        st.warning(
            f"{len(dropped)} sentence(s) have no token the model reads and were left out "
            f"(line or row {', '.join(md(k) for k in dropped[:10])})."
        )
    n_labelled = int((trace.labels >= 0).sum())
    if n_labelled < len(trace):
        st.caption(
            f"{len(trace) - n_labelled} of {len(trace)} sentences have no label: their actual "
            "class and correctness are unknown (shown as ?, and counted as not correct)."
        )
    return trace


def overview_metrics(trace: ClassifierTrace, bundle: ModelBundle, own: bool) -> None:
    """Classes, accuracy, sequences loaded and correctly classified, as four metrics."""
    m1, m2, m3, m4 = st.columns(4)
    counts = np.bincount(trace.labels[trace.labels >= 0], minlength=trace.n_classes)
    m1.markdown(
        "**Classes**  \n"
        + ", ".join(f"{md(c)} ({md(k)})" for c, k in zip(trace.classes, counts, strict=True))
    )
    labelled = int((trace.labels >= 0).sum())
    if own:
        accuracy = trace.correct.sum() / labelled if labelled else float("nan")
        m2.metric("Accuracy on your labelled sentences", "—" if not labelled else f"{accuracy:.1%}")
    else:
        m2.metric(
            "Test accuracy (whole test set)",
            f"{bundle.meta.get('metrics', {}).get('test_accuracy', float('nan')):.1%}",
        )
    m3.metric("Sequences loaded", len(trace))
    m4.metric(
        "Correctly classified",
        f"{int(trace.correct.sum())} of {labelled}" if labelled else "— (no labels)",
    )


def colour_with_labels(colour: str, trace: ClassifierTrace) -> str:
    """``colour``, or "expected prediction" (said so) when it needs labels none has."""
    if colour != "expected prediction" and not (trace.labels >= 0).any():
        st.caption(f"No sentence has a label, so colouring by {md(colour)} is unavailable.")
        return "expected prediction"
    return colour
