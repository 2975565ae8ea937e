"""The Hidden States page's view for a language model: a text's path over a map of states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, state
from dashboard.tables import step_labels
from dashboard.widgets.features import feature_editor
from dashboard.widgets.text_source import text_source
from lib.analysis.projection import pca_map, stratified_sample
from lib.model.bundle import ModelBundle


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
