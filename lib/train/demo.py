"""The shipped demo models: what they are and how ``make demo-models`` trains them.

The language models train on the built-in offline corpora, so they need no network; each
meta.json records its validation metrics beside the unigram baseline of the same split.
The sequence classifier trains on NLTK's sentence_polarity (data/nltk_data, $NLTK_DATA or
a download); when that corpus is not on the machine and cannot be downloaded, it is
skipped with a message and the others still train. Its meta.json holds its test accuracy
beside the majority-class baseline.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from lib.data.corpora import builtin_corpus
from lib.data.datasets import DatasetError, load_dataset
from lib.model.bundle import ModelBundle
from lib.model.registry import model_dir
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import ProgressHook, train, train_classifier


@dataclass(frozen=True)
class Demo:
    """One shipped demo model: its registry name, training data, spec and config.

    A language model trains on the built-in corpus ``corpus`` (cut at ``max_chars``); a
    classifier (``dataset`` set) on that lib.data.datasets ref.
    """

    name: str
    corpus: str
    max_chars: int | None
    spec: ModelSpec
    config: TrainConfig
    keep_checkpoints: bool = False
    description: str = ""
    dataset: str | None = None  # a lib.data.datasets ref: a classifier demo (corpus unused)


DEMOS = (
    Demo(
        "demo-ref-char-lstm",
        "python-reference",
        None,
        ModelSpec(cell="lstm", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=20, batch_size=32, learning_rate=3e-3, seed=0),
        description="Character LSTM on the Python language reference: the default model.",
    ),
    Demo(
        "demo-ref-char-gru",
        "python-reference",
        None,
        ModelSpec(cell="gru", level="char", units=256, embedding=32, seq_len=100),
        # it overfits after epoch 7 (val_loss 1.296 there, 1.370 at epoch 15): stop early
        # and keep the best epoch
        TrainConfig(epochs=15, batch_size=32, learning_rate=3e-3, early_stopping=2, keep_best=True),
        description="Character GRU on the Python language reference.",
    ),
    Demo(
        "demo-ref-char-rnn",
        "python-reference",
        None,
        ModelSpec(cell="rnn", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=20, batch_size=32, learning_rate=1e-3),
        description="Character vanilla RNN on the Python language reference.",
    ),
    Demo(
        "demo-stdlib-char-lstm",
        "python-stdlib",
        1_500_000,
        ModelSpec(cell="lstm", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=8, batch_size=64, learning_rate=3e-3),
        keep_checkpoints=True,
        description="Character LSTM on Python standard-library source: quotes, brackets, "
        "indentation. Keeps its per-epoch checkpoints.",
    ),
    Demo(
        "demo-ref-word-lstm",
        "python-reference",
        None,
        ModelSpec(
            cell="lstm",
            level="word",
            tokenizer_mode="keep-space",
            units=256,
            embedding=64,
            seq_len=50,
        ),
        TrainConfig(epochs=12, batch_size=32, learning_rate=2e-3, min_count=3),
        description="Word LSTM on the Python language reference (spaces and newlines are "
        "tokens, as in seed 000).",
    ),
    Demo(
        "demo-polarity-lstm",
        "",
        None,
        ModelSpec(
            task="classifier",
            cell="lstm",
            level="word",
            tokenizer_mode="words",
            units=128,
            embedding=32,
            dropout=0.5,
            n_classes=2,
            max_len=40,
        ),
        TrainConfig(epochs=3, batch_size=64, learning_rate=1e-3, min_count=2, seed=0),
        dataset="nltk:sentence_polarity",
        description="Word LSTM classifier of movie-review sentences as negative or positive "
        "(NLTK sentence_polarity; seed 003's hidden-state views).",
    ),
)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_demo_models(
    names: list[str] | None = None,
    *,
    root: str | os.PathLike | None = None,
    progress: ProgressHook | None = None,
    notice: Callable[[str], None] = _to_stderr,
) -> list[ModelBundle]:
    """Train the demo models (all, or those named) into the registry.

    A classifier demo whose dataset cannot be loaded is skipped: ``notice`` gets a message
    saying why and how to fix it, and the other demos still train.
    """
    chosen = [d for d in DEMOS if names is None or d.name in names]
    unknown = set(names or ()) - {d.name for d in DEMOS}
    if unknown:
        raise ValueError(f"unknown demo models {sorted(unknown)}; known: {[d.name for d in DEMOS]}")
    bundles = []
    for demo in chosen:
        rank = DEMOS.index(demo)
        extra = {"demo": True, "demo_rank": rank, "description": demo.description}
        if demo.dataset is not None:
            try:
                data = load_dataset(demo.dataset)
            except DatasetError as err:
                notice(f"skipping demo model {demo.name}: {err}")
                continue
            bundle = train_classifier(
                demo.spec,
                data,
                name=demo.name,
                config=demo.config,
                root=root,
                progress=progress,
                overwrite=True,
                extra_meta=extra,
            )
        else:
            corpus = builtin_corpus(demo.corpus, max_chars=demo.max_chars)
            bundle = train(
                demo.spec,
                corpus,
                name=demo.name,
                config=demo.config,
                root=root,
                progress=progress,
                overwrite=True,
                extra_meta=extra,
            )
        if not demo.keep_checkpoints:
            shutil.rmtree(model_dir(demo.name, root=root) / "checkpoints", ignore_errors=True)
        bundles.append(bundle)
    return bundles
