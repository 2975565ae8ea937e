"""The Train page's form pieces: its defaults, a bounded number input per setting, the
text to train on, the "More settings" expander, and starting the job from the settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import jobs, state
from dashboard.fmt import md
from dashboard.widgets.pickers import corpus_picker, dataset_picker
from dashboard.widgets.vectors import pretrained_picker
from lib.data.tokenizer import Level, Mode
from lib.model.spec import ModelSpec, TrainConfig

#: every setting of the form: key -> default (session defaults, set once)
DEFAULTS: dict[str, Any] = {
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

Bounds = dict[str, tuple[float, float]]


def bind_settings(bounds: Bounds) -> None:
    """Sets the form's defaults once, and clamps a number from a link or an older limit
    into ``bounds`` (:func:`dashboard.jobs.setting_bounds`: setting -> (min, max))."""
    state.bind(DEFAULTS)
    for name, (lo, hi) in bounds.items():
        key = f"train.{name}"
        if isinstance(st.session_state.get(key), int | float):
            st.session_state[key] = min(max(st.session_state[key], lo), hi)


def _range(lo: float, hi: float) -> str:
    return f"{lo:,} to {hi:,}"


def number_setting(
    where: DeltaGenerator, label: str, setting: str, help: str, bounds: Bounds, **kwargs: Any
) -> Any:
    """A number input for one training setting, between the values training accepts.

    Parameters
    ----------
    where : DeltaGenerator
        The column (or ``st``) to draw in.
    label : str
        The input's label.
    setting : str
        The setting's name in ``bounds``; the widget key is ``"train.<setting>"``.
    help : str
        The tooltip; ``{range}`` in it becomes the bounds, e.g. ``"1 to 3"``.
    bounds : dict
        :func:`dashboard.jobs.setting_bounds`: setting -> (min, max).
    **kwargs
        Passed to ``number_input`` (``step``, ``format``, ``disabled``).

    Returns
    -------
    int or float
        The input's value.
    """
    lo, hi = bounds[setting]
    return where.number_input(
        label,
        lo,
        hi,
        key=f"train.{setting}",
        persist_state="session",
        help=help.format(range=_range(lo, hi)),
        **kwargs,
    )


def flag_setting(
    widget: Callable[..., bool], label: str, setting: str, help: str, **kwargs: Any
) -> bool:
    """A yes/no training setting: ``widget`` (a column's ``toggle`` or ``checkbox``) with
    the key ``"train.<setting>"``, kept for the session; ``kwargs`` (``disabled``) pass
    through."""
    return widget(label, key=f"train.{setting}", persist_state="session", help=help, **kwargs)


def training_text(classifier: bool) -> Any:
    """The dataset (classifier) or corpus (language model) to train on, with a caption of
    its size; None after the picker said why there is none yet."""
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
    return corpus


def more_settings(
    bounds: Bounds, *, classifier: bool, level: Level, mode: Mode, embedding: int, corpus: Any
) -> dict[str, Any]:
    """The "More settings" expander: token budget, vocabulary, clipping, early stopping,
    logs and pre-trained vectors.

    Returns
    -------
    dict
        ``max_tokens``, ``min_count``, ``clipnorm``, ``patience``, ``keep_best``,
        ``tensorboard``, ``csv_log``, ``vectors`` (a path or None) and ``freeze``.
    """
    out: dict[str, Any] = {}
    with st.expander("More settings"):
        e1, e2, e3 = st.columns(3)
        out["max_tokens"] = number_setting(
            e1,
            "Use the first N tokens (0 = all)",
            "max_tokens",
            "Keeps training quick on big corpora ({range}).",
            bounds,
            step=100_000,
        )
        out["min_count"] = number_setting(
            e2, "Min count", "min_count", "Rarer tokens become <unk> ({range}).", bounds
        )
        out["clipnorm"] = number_setting(
            e3,
            "Gradient clipping",
            "clipnorm",
            "Largest gradient norm per step ({range}).",
            bounds,
        )
        out["patience"] = number_setting(
            e1,
            "Early stopping patience (0 = off)",
            "patience",
            "Stop after this many epochs without a lower validation "
            "loss (language models; Dahlberg used 2).",
            bounds,
            disabled=classifier,
        )
        out["keep_best"] = flag_setting(
            e2.toggle,
            "Keep the best epoch",
            "keep_best",
            "When training ends, the saved model is the epoch with the "
            "lowest validation loss (later epochs stay in the history).",
            disabled=classifier,
        )
        out["tensorboard"] = flag_setting(
            e3.checkbox,
            "TensorBoard log",
            "tensorboard",
            "Write each epoch's loss and accuracy as TensorBoard event files, in a "
            "folder named after the model in models/.logs (view with "
            "`tensorboard --logdir models/.logs`).",
        )
        out["csv_log"] = flag_setting(
            e3.checkbox,
            "CSV log",
            "csv_log",
            "Write a row per epoch (loss, accuracy, validation) to training.csv in "
            "the model's folder in models/.logs; resuming adds rows.",
        )
        out["vectors"], out["freeze"] = pretrained_picker(
            "train",
            level=level,
            embedding=int(embedding),
            corpus=None if classifier else corpus,
            spec=None if classifier else ModelSpec(level=level, tokenizer_mode=mode),
            config_key=(int(out["min_count"]), None, int(out["max_tokens"]) or None),
        )
    return out


def start_training(
    owner: str, corpus: Any, name: str, settings: dict[str, Any], *, classifier: bool
) -> None:
    """Builds the spec and training config from the form's ``settings`` and starts the
    job; a setting training refuses is shown as an error ("Not started: ...").

    ``settings`` holds the form's values by setting name: ``cell``, ``level``, ``mode``,
    ``layers``, ``units``, ``embedding``, ``dropout``, ``seq_len`` (language model) or
    ``max_len`` (classifier), ``batch``, ``epochs``, ``optimizer``, ``lr`` and those of
    :func:`more_settings`.
    """
    s = settings
    try:
        shape = (
            {"task": "classifier", "n_classes": corpus.n_classes, "max_len": int(s["max_len"])}
            if classifier
            else {"seq_len": int(s["seq_len"])}
        )
        spec = ModelSpec(
            cell=s["cell"],
            level=s["level"],
            tokenizer_mode=s["mode"],
            layers=int(s["layers"]),
            units=int(s["units"]),
            embedding=int(s["embedding"]),
            dropout=float(s["dropout"]),
            **shape,
        )
        config = TrainConfig(
            epochs=int(s["epochs"]),
            batch_size=int(s["batch"]),
            optimizer=s["optimizer"],
            learning_rate=float(s["lr"]),
            clipnorm=float(s["clipnorm"]),
            min_count=int(s["min_count"]),
            max_tokens=int(s["max_tokens"]) or None,
            early_stopping=0 if classifier else int(s["patience"]),
            keep_best=not classifier and bool(s["keep_best"]),
            embedding_file=s["vectors"],
            freeze_embedding=s["freeze"],
            tensorboard=bool(s["tensorboard"]),
            csv_log=bool(s["csv_log"]),
        )
        with st.spinner("Checking the settings and tokenizing the text…"):
            jobs.start(owner, spec, corpus, config, name)
    except ValueError as e:
        st.error(f"Not started: {md(str(e))}")
