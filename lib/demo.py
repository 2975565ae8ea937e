"""The shipped demo models: what they are and how ``make demo-models`` trains them.

All train on the built-in offline corpora, so the command needs no network. Each
meta.json records its validation metrics beside the unigram baseline of the same split.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from lib.corpora import builtin_corpus
from lib.models import ModelSpec, TrainConfig, model_dir, train


@dataclass(frozen=True)
class Demo:
    name: str
    corpus: str
    max_chars: int | None
    spec: ModelSpec
    config: TrainConfig
    keep_checkpoints: bool = False
    description: str = ""


DEMOS = (
    Demo(
        "demo-ref-char-lstm", "python-reference", None,
        ModelSpec(cell="lstm", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=20, batch_size=32, learning_rate=3e-3, seed=0),
        description="Character LSTM on the Python language reference: the default model.",
    ),
    Demo(
        "demo-ref-char-gru", "python-reference", None,
        ModelSpec(cell="gru", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=15, batch_size=32, learning_rate=3e-3),
        description="Character GRU on the Python language reference.",
    ),
    Demo(
        "demo-ref-char-rnn", "python-reference", None,
        ModelSpec(cell="rnn", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=20, batch_size=32, learning_rate=1e-3),
        description="Character vanilla RNN on the Python language reference.",
    ),
    Demo(
        "demo-stdlib-char-lstm", "python-stdlib", 1_500_000,
        ModelSpec(cell="lstm", level="char", units=256, embedding=32, seq_len=100),
        TrainConfig(epochs=8, batch_size=64, learning_rate=3e-3),
        keep_checkpoints=True,
        description="Character LSTM on Python standard-library source: quotes, brackets, "
        "indentation. Keeps its per-epoch checkpoints.",
    ),
    Demo(
        "demo-ref-word-lstm", "python-reference", None,
        ModelSpec(cell="lstm", level="word", tokenizer_mode="keep-space", units=256,
                  embedding=64, seq_len=50),
        TrainConfig(epochs=12, batch_size=32, learning_rate=2e-3, min_count=3),
        description="Word LSTM on the Python language reference (spaces and newlines are "
        "tokens, as in seed 000).",
    ),
)


def train_demo_models(names: list[str] | None = None, *, root=None, progress=None) -> list:
    """Train the demo models (all, or those named) into the registry."""
    chosen = [d for d in DEMOS if names is None or d.name in names]
    unknown = set(names or ()) - {d.name for d in DEMOS}
    if unknown:
        raise ValueError(f"unknown demo models {sorted(unknown)}; known: "
                         f"{[d.name for d in DEMOS]}")
    bundles = []
    for demo in chosen:
        rank = DEMOS.index(demo)
        corpus = builtin_corpus(demo.corpus, max_chars=demo.max_chars)
        bundle = train(
            demo.spec, corpus, name=demo.name, config=demo.config, root=root,
            progress=progress, overwrite=True,
            extra_meta={"demo": True, "demo_rank": rank, "description": demo.description},
        )
        if not demo.keep_checkpoints:
            shutil.rmtree(model_dir(demo.name, root=root) / "checkpoints", ignore_errors=True)
        bundles.append(bundle)
    return bundles
