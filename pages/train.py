"""Train: a model in a background job, with live progress, stop and resume; experiments
(random searches and sweeps) in a second tab."""

import streamlit as st

from dashboard import jobs, routing, state
from dashboard.fmt import md
from dashboard.panels.experiments import experiments_tab
from dashboard.panels.jobs import job_panel, other_jobs_table
from dashboard.widgets.pickers import corpus_picker, dataset_picker
from dashboard.widgets.vectors import pretrained_picker
from lib.model.spec import ModelSpec, TrainConfig

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


def _range(name: str) -> str:
    lo, hi = bounds[name]
    return f"{lo:,} to {hi:,}"


state.bind(
    {
        "train.task": "Language model",
        "train.level": "char",
        "train.mode": "keep-space",
        "train.cell": "lstm",
        "train.layers": 1,
        "train.units": 128,
        "train.embedding": 32,
        "train.dropout": 0.0,
        "train.seq_len": 100,
        "train.batch": 64,
        "train.epochs": 5,
        "train.optimizer": "adam",
        "train.lr": 3e-3,
        "train.max_tokens": 500_000,
        "train.min_count": 1,
        "train.clipnorm": 5.0,
        "train.name": "",
        "train.cls_level": "word",
        "train.cls_mode": "words",
        "train.max_len": 40,
        "train.patience": 0,
        "train.keep_best": False,
        "train.tensorboard": False,
        "train.csv_log": False,
    }
)
for _name, (_lo, _hi) in bounds.items():  # a value from a link or an older limit: clamped
    _key = f"train.{_name}"
    if isinstance(st.session_state.get(_key), int | float):
        st.session_state[_key] = min(max(st.session_state[_key], _lo), _hi)

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
    if classifier:
        corpus = dataset_picker("train")
        if corpus is not None:
            st.caption(
                f"{md(corpus.name)}: {len(corpus.texts):,} texts; "
                + ", ".join(
                    f"{md(c)} {n:,}"
                    for c, n in zip(corpus.classes, corpus.class_counts, strict=True)
                )
            )
    else:
        corpus = corpus_picker("train")
        if corpus is not None:
            st.caption(f"{md(corpus.name)}: {len(corpus.text):,} characters.")

    c1, c2, c3, c4 = st.columns(4)
    p = "train.cls_" if classifier else "train."  # a classifier's level defaults to words
    level = c1.selectbox(
        "Level",
        ["char", "word"],
        key=f"{p}level",
        persist_state="session",
        help="Characters or words as tokens.",
    )
    mode = c1.selectbox(
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
    cell = c2.selectbox(
        "Cell",
        ["lstm", "gru", "rnn"],
        key="train.cell",
        persist_state="session",
        format_func={"lstm": "LSTM", "gru": "GRU", "rnn": "vanilla RNN"}.get,
        help="The recurrent cell.",
    )
    layers = c2.number_input(
        "Layers",
        *bounds["layers"],
        key="train.layers",
        persist_state="session",
        help=f"Stacked recurrent layers ({_range('layers')}).",
    )
    units = c3.number_input(
        "Units",
        *bounds["units"],
        step=32,
        key="train.units",
        persist_state="session",
        help=f"Neurons per recurrent layer ({_range('units')}).",
    )
    embedding = c3.number_input(
        "Embedding",
        *bounds["embedding"],
        key="train.embedding",
        persist_state="session",
        help=f"Size of the learned token vectors ({_range('embedding')}).",
    )
    dropout = c4.slider(
        "Dropout",
        0.0,
        0.8,
        step=0.05,
        key="train.dropout",
        persist_state="session",
        help="Randomly silence this share of inputs between layers while training.",
    )
    if classifier:
        max_len = c4.number_input(
            "Tokens per text",
            *bounds["max_len"],
            key="train.max_len",
            persist_state="session",
            help=f"{_range('max_len')}. Longer texts are cut, shorter ones padded (padding "
            "is masked: it changes nothing).",
        )
    else:
        seq_len = c4.number_input(
            "Sequence length",
            *bounds["seq_len"],
            key="train.seq_len",
            persist_state="session",
            help=f"Tokens per training window, backpropagation through time ({_range('seq_len')}).",
        )

    d1, d2, d3, d4 = st.columns(4)
    batch = d1.number_input(
        "Batch size",
        *bounds["batch"],
        key="train.batch",
        persist_state="session",
        help=f"Windows per step ({_range('batch')}).",
    )
    epochs = d2.number_input(
        "Epochs",
        *bounds["epochs"],
        key="train.epochs",
        persist_state="session",
        help=f"Passes over the text ({_range('epochs')}).",
    )
    optimizer = d3.selectbox(
        "Optimizer",
        ["adam", "rmsprop"],
        key="train.optimizer",
        persist_state="session",
        help="Adam is a good default; Dahlberg used RMSprop.",
    )
    lr = d4.number_input(
        "Learning rate",
        *bounds["lr"],
        format="%.5f",
        key="train.lr",
        persist_state="session",
        help="Step size of the optimizer (0.00001 to 1).",
    )
    with st.expander("More settings"):
        e1, e2, e3 = st.columns(3)
        max_tokens = e1.number_input(
            "Use the first N tokens (0 = all)",
            *bounds["max_tokens"],
            step=100_000,
            key="train.max_tokens",
            persist_state="session",
            help=f"Keeps training quick on big corpora ({_range('max_tokens')}).",
        )
        min_count = e2.number_input(
            "Min count",
            *bounds["min_count"],
            key="train.min_count",
            persist_state="session",
            help=f"Rarer tokens become <unk> ({_range('min_count')}).",
        )
        clipnorm = e3.number_input(
            "Gradient clipping",
            *bounds["clipnorm"],
            key="train.clipnorm",
            persist_state="session",
            help=f"Largest gradient norm per step ({_range('clipnorm')}).",
        )
        patience = e1.number_input(
            "Early stopping patience (0 = off)",
            *bounds["patience"],
            key="train.patience",
            persist_state="session",
            disabled=classifier,
            help="Stop after this many epochs without a lower validation "
            "loss (language models; Dahlberg used 2).",
        )
        keep_best = e2.toggle(
            "Keep the best epoch",
            key="train.keep_best",
            persist_state="session",
            disabled=classifier,
            help="When training ends, the saved model is the epoch with the "
            "lowest validation loss (later epochs stay in the history).",
        )
        tensorboard = e3.checkbox(
            "TensorBoard log",
            key="train.tensorboard",
            persist_state="session",
            help="Write each epoch's loss and accuracy as TensorBoard event files, in a "
            "folder named after the model in models/.logs (view with "
            "`tensorboard --logdir models/.logs`).",
        )
        csv_log = e3.checkbox(
            "CSV log",
            key="train.csv_log",
            persist_state="session",
            help="Write a row per epoch (loss, accuracy, validation) to training.csv in "
            "the model's folder in models/.logs; resuming adds rows.",
        )
        vectors, freeze = pretrained_picker(
            "train",
            level=level,
            embedding=int(embedding),
            corpus=None if classifier else corpus,
            spec=None if classifier else ModelSpec(level=level, tokenizer_mode=mode),
            config_key=(int(min_count), None, int(max_tokens) or None),
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
        try:
            shape = (
                {"task": "classifier", "n_classes": corpus.n_classes, "max_len": int(max_len)}
                if classifier
                else {"seq_len": int(seq_len)}
            )
            spec = ModelSpec(
                cell=cell,
                level=level,
                tokenizer_mode=mode,
                layers=int(layers),
                units=int(units),
                embedding=int(embedding),
                dropout=float(dropout),
                **shape,
            )
            config = TrainConfig(
                epochs=int(epochs),
                batch_size=int(batch),
                optimizer=optimizer,
                learning_rate=float(lr),
                clipnorm=float(clipnorm),
                min_count=int(min_count),
                max_tokens=int(max_tokens) or None,
                early_stopping=0 if classifier else int(patience),
                keep_best=not classifier and bool(keep_best),
                embedding_file=vectors,
                freeze_embedding=freeze,
                tensorboard=bool(tensorboard),
                csv_log=bool(csv_log),
            )
            with st.spinner("Checking the settings and tokenizing the text…"):
                jobs.start(owner, spec, corpus, config, name)
        except ValueError as e:
            st.error(f"Not started: {md(str(e))}")

    job_panel(owner)
    other_jobs_table(owner)
with tab_experiments:
    if tab_experiments.open:  # its results poll running jobs: only while it is shown
        experiments_tab(owner)
