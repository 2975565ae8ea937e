"""Train: a model in a background job, with live progress, stop and resume; experiments
(random searches and sweeps) in a second tab."""

from typing import Any

import streamlit as st

from dashboard import export, jobs, routing, state
from dashboard.fmt import md
from dashboard.panels.experiments import experiments_tab
from dashboard.panels.jobs import job_panel, other_jobs_table
from dashboard.panels.train import (
    bind_settings,
    more_settings,
    number_setting,
    start_training,
    training_text,
)

routing.page_guard()
st.title("Train")
with st.expander("What happens here?"):
    st.markdown(
        "Choose a text and an architecture, then **Train**. Training runs in the background: "
        "you may change pages or settings meanwhile. After every epoch the model is saved and "
        "appears in the sidebar's model picker; **Stop** keeps the last finished epoch and "
        "**Resume** continues it. *Loss* is the model's surprise per token in nats; *bits per "
        "character* = loss / ln 2 (perplexity = e^loss for words), shown against a unigram "
        "model that ignores context — the gap is what the network learned from context."
    )
owner = state.session_id()
bounds = jobs.setting_bounds()  # each input's min and max: what training accepts

bind_settings(bounds)
# after the defaults, so the report lists every setting on a first visit too
export.report("Train", "train.")

# keyed, so the open tab survives reruns: unkeyed, it fell back to the first tab whenever a
# widget in the second changed
tab_train, tab_experiments = st.tabs(
    ["Train a model", "Experiments"], key="train.tab", on_change="rerun"
)
with tab_train:
    task = (
        st.segmented_control(
            "Task",
            ["Language model", "Sequence classifier"],
            key="train.task",
            persist_state="session",
            help="Predict the next token of a text, or the class of a whole text "
            "(e.g. its sentiment; explored on the Hidden States page).",
        )
        or "Language model"
    )
    classifier = task == "Sequence classifier"
    corpus = training_text(classifier)

    c1, c2, c3, c4 = st.columns(4)
    p = "train.cls_" if classifier else "train."  # a classifier's level defaults to words
    form: dict[str, Any] = {}  # the settings by name, for start_training
    form["level"] = level = c1.selectbox(
        "Level",
        ["char", "word"],
        key=f"{p}level",
        persist_state="session",
        help="Characters or words as tokens.",
    )
    form["mode"] = mode = c1.selectbox(
        "Word tokens",
        ["keep-space", "words"],
        key=f"{p}mode",
        persist_state="session",
        disabled=level == "char",
        format_func={
            "keep-space": "words, spaces and newlines",
            "words": "words and punctuation only",
        }.get,
        help="Dahlberg kept spaces and newlines as tokens.",
    )
    form["cell"] = cell = c2.selectbox(
        "Cell",
        ["lstm", "gru", "rnn"],
        key="train.cell",
        persist_state="session",
        format_func={"lstm": "LSTM", "gru": "GRU", "rnn": "vanilla RNN"}.get,
        help="The recurrent cell.",
    )
    form["layers"] = number_setting(
        c2, "Layers", "layers", "Stacked recurrent layers ({range}).", bounds
    )
    form["units"] = units = number_setting(
        c3, "Units", "units", "Neurons per recurrent layer ({range}).", bounds, step=32
    )
    form["embedding"] = embedding = number_setting(
        c3, "Embedding", "embedding", "Size of the learned token vectors ({range}).", bounds
    )
    form["dropout"] = c4.slider(
        "Dropout",
        0.0,
        0.8,
        step=0.05,
        key="train.dropout",
        persist_state="session",
        help="Randomly silence this share of inputs between layers while training.",
    )
    if classifier:
        form["max_len"] = number_setting(
            c4,
            "Tokens per text",
            "max_len",
            "{range}. Longer texts are cut, shorter ones padded (padding "
            "is masked: it changes nothing).",
            bounds,
        )
    else:
        form["seq_len"] = number_setting(
            c4,
            "Sequence length",
            "seq_len",
            "Tokens per training window, backpropagation through time ({range}).",
            bounds,
        )

    d1, d2, d3, d4 = st.columns(4)
    form["batch"] = number_setting(d1, "Batch size", "batch", "Windows per step ({range}).", bounds)
    form["epochs"] = number_setting(
        d2, "Epochs", "epochs", "Passes over the text ({range}).", bounds
    )
    form["optimizer"] = d3.selectbox(
        "Optimizer",
        ["adam", "rmsprop"],
        key="train.optimizer",
        persist_state="session",
        help="Adam is a good default; Dahlberg used RMSprop.",
    )
    form["lr"] = number_setting(
        d4,
        "Learning rate",
        "lr",
        "Step size of the optimizer (0.00001 to 1).",
        bounds,
        format="%.5f",
    )
    form |= more_settings(
        bounds,
        classifier=classifier,
        level=level,
        mode=mode,
        embedding=int(embedding),
        corpus=corpus,
    )
    default_name = f"my-{cell}-{'classifier' if classifier else level}-{units}"
    name = st.text_input(
        "Model name",
        key="train.name",
        persist_state="session",
        placeholder=default_name,
        help="Letters, digits, - and _. The model is saved under this name.",
    )
    name = name.strip() or default_name
    st.caption(f"The model will be saved as **{md(name)}**.")

    if st.button("Train", type="primary", disabled=corpus is None, key="btn.train"):
        start_training(owner, corpus, name, form, classifier=classifier)

    job_panel(owner)
    other_jobs_table(owner)
with tab_experiments:
    if tab_experiments.open:  # its results poll running jobs: only while it is shown
        experiments_tab(owner)
