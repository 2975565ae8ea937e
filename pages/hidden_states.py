"""Hidden States: how a classifier's hidden state travels through a sequence (Garcia, Munz
& Weiskopf 2021)."""

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import classifier_trace, projection
from dashboard.fmt import md
from dashboard.panels.hidden_states import (
    colour_with_labels,
    language_model_view,
    overview_metrics,
    own_sentences_trace,
    wants_own_sentences,
)
from dashboard.panels.saliency import classifier_saliency
from dashboard.tables import overview_frames, points_frame, sequence_table, step_labels
from dashboard.widgets.highlight import ColourScale, highlighted_rows_html
from dashboard.widgets.needs import offer_model
from lib.run.classify import jump_distances, threshold_events

routing.page_guard()
st.title("Hidden States")
with st.expander("What am I looking at? (and what is linked)"):
    st.markdown("""
For a **sequence classifier** (Garcia, Munz & Weiskopf 2021): every test sentence is fed
through the model and the hidden state after every word is kept. The **expected
prediction** at a word is what the model would answer if the sentence ended there (its output
layer applied to that hidden state); the last one is the model's real answer.

- **Projection**: every hidden state of every loaded sequence as one point (t-SNE, PCA or
  UMAP of the original states), coloured by its expected prediction (binary: red = class 0,
  grey = undecided, blue = class 1), by the sentence's actual class, or by whether the model
  got the sentence right.
- **Pick a sequence** in the table: its **trajectory** (start to end marker) is drawn over the
  faded cloud; its words are coloured by the expected prediction after each word; the **time ×
  class** matrix shows how the prediction evolves; the **distance bars** show how far the
  hidden state jumps at each word (normalised by the largest jump of all loaded sequences).
  Words where the jump passes its threshold, the prediction moves by more than its threshold,
  or the predicted class flips are written on the projection.

Linked: the table selection drives every detail view; hovering shows the word and step in
each chart. Streamlit does not pass a hover from one chart to another, so steps are matched
by their labels "word (step)" instead.""")

name, bundle = cache.current_bundle(task=None)
export.report("Hidden States", "hid.", name, bundle.meta)
if bundle.spec.task != "classifier":
    offer_model(
        "The full view needs a sequence classifier (one that labels whole sentences); "
        f"{md(name)} is a language model, so only its states over a text are shown below. "
        "Open it with ★ demo-polarity-lstm, or train one on the Train page with the task "
        "'Sequence classifier'.",
        "demo-polarity-lstm",
        key="btn.hid.offer",  # btn.: state.keep_alive must not write a button's key
    )
    language_model_view(name, bundle)
    st.stop()
state.bind(
    {
        "hid.n": 100,
        "hid.method": "umap",
        "hid.colour": "expected prediction",
        "hid.dist": 0.40,
        "hid.ep": 0.30,
    }
)
own = wants_own_sentences(bundle)
c1, c2, c3 = st.columns(3)
if not own:
    n = c1.number_input(
        "Test sequences",
        10,
        2000,
        step=10,
        key="hid.n",
        help="How many held-out test sentences to load (Garcia et al. 2021 used 100).",
    )
method = c2.selectbox(
    "Projection",
    ["umap", "tsne", "pca"],
    key="hid.method",
    format_func={"tsne": "t-SNE (perplexity 100, slow)", "pca": "PCA", "umap": "UMAP"}.get,
    help="How the hidden states are mapped to 2-D. UMAP: ~10 s for 10,000 "
    "states here; Garcia et al.'s (2021) t-SNE: ~30 s for 2,000, ~100 s for 11,000.",
)
colour = c3.selectbox(
    "Colour by",
    ["expected prediction", "actual", "correct"],
    key="hid.colour",
    help="What a point's colour shows.",
)
trace = None if own else classifier_trace(name, int(n))
if trace is None:
    if not own:
        st.info("…or give the model sentences of your own:")
    own = True
    trace = own_sentences_trace(name, bundle)
if trace is None:
    st.stop()
binary = trace.n_classes == 2
colour = colour_with_labels(colour, trace)

st.subheader("Overview")
overview_metrics(trace, bundle, own)
bars, matrix = overview_frames(trace)
left, right = st.columns(2)
export.chart(where=left, chart=charts.class_bars(bars), name="Sequences by class", width="stretch")
export.chart(where=right, chart=charts.confusion_matrix(matrix), name="Confusion matrix")

states = trace.states[max(trace.states)]
Y = projection((cache.trace_key(trace),), states, method, 100.0 if method == "tsne" else 15)
points = points_frame(trace, Y)

table = sequence_table(trace)
st.subheader("Sequences")
picked = export.table(
    table,
    hide_index=True,
    height=220,
    on_select="rerun",
    selection_mode="single-row",
    key="hid.table",
    column_config={"confidence": st.column_config.NumberColumn(format="%.3f")},
)
rows = picked.selection.rows if picked is not None else []
state.bind({"hid.seq": -1})
if st.session_state["hid.seq"] >= len(table):  # fewer sequences than before
    st.session_state["hid.seq"] = -1
chosen = st.number_input(
    "…or sequence id (-1: none)",
    -1,
    len(table) - 1,
    key="hid.seq",
    help="Follow one sequence: pick a table row or type its id.",
)
seq = int(table["id"].iloc[rows[0]]) if rows else (int(chosen) if chosen >= 0 else None)

path = events = None
if seq is not None:
    words = trace.tokens[seq]
    a, b = trace.offsets[seq], trace.offsets[seq + 1]
    labels = step_labels(words)
    dist = jump_distances(trace.sequence_states())[seq]
    d1, d2 = st.columns(2)
    dist_thr = d1.slider(
        "Jump threshold",
        0.0,
        1.0,
        step=0.05,
        key="hid.dist",
        help="Mark words where the hidden state moves this far (Garcia et al. 2021 used 0.40).",
    )
    ep_thr = d2.slider(
        "Prediction-change threshold",
        0.0,
        1.0,
        step=0.05,
        key="hid.ep",
        help="Mark words where the expected prediction moves this much (0.30).",
    )
    flags = threshold_events(dist, trace.ep[a:b], dist_threshold=dist_thr, ep_threshold=ep_thr)
    marked = flags["jump_after"] | flags["ep_after"] | flags["class_after"]
    path = points[points["seq"] == seq].assign(word=labels)
    events = path[marked]

st.subheader("Projection of every hidden state")
export.chart(
    charts.state_projection(
        points, path, colour=colour, binary=binary, events=events, positive=trace.classes[-1]
    ),
    name="Projection of every hidden state",
    width="stretch",
)

if seq is not None:
    st.subheader(
        f"Sequence {seq}: actual {md(str(table['class'][seq]))}, predicted "
        f"{md(str(table['prediction'][seq]))}"
    )
    ep = trace.ep[a:b]
    value = ep[:, 1] if binary else ep[np.arange(len(ep)), max(trace.labels[seq], 0)]
    scale = ColourScale(
        "diverging",
        0.0,
        1.0,
        mid=0.5,
        low=(214, 96, 77),
        high=(67, 147, 195),
        centre=(221, 221, 221),
        label=f"P({trace.classes[1]})" if binary else f"P({table['class'][seq]})",
    )
    spaced = words if bundle.spec.tokenizer_mode == "keep-space" else [w + " " for w in words]
    export.highlighted(
        "Expected prediction over the sequence",
        highlighted_rows_html(
            spaced,
            [("expected prediction", value)],
            scale,
            show_whitespace=False,
            value_name=scale.label,
        ),
    )
    with st.expander("Which input tokens did this depend on?"):
        classifier_saliency(name, trace.ids[a:b], spaced, trace.classes, int(trace.prediction[seq]))
    heat = pd.DataFrame(
        [
            {"label": lab, "class": c, "ep": float(ep[t, k])}
            for t, lab in enumerate(labels)
            for k, c in enumerate(trace.classes)
        ]
    )
    final = [
        {"label": "final", "class": c, "ep": float(ep[-1, k])} for k, c in enumerate(trace.classes)
    ]
    export.chart(charts.time_class_heatmap(pd.concat([heat, pd.DataFrame(final)])), width="stretch")
    jumps = pd.DataFrame({"label": labels[1:], "distance": dist})
    export.chart(charts.jump_bars(jumps, threshold=dist_thr), width="stretch", height=300)
else:
    st.caption("Select a row of the table to follow one sequence.")
state.publish(["hid.n", "hid.method", "hid.colour"])
