"""Small models with planted weights, shared by the tests."""

from __future__ import annotations

import numpy as np

from lib.data.tokenizer import Vocab
from lib.model.build import build
from lib.model.bundle import ModelBundle
from lib.model.spec import ModelSpec

TEXT = (
    'def f(x):\n    return "a (b) c" + x  # note\n'
    "The quick brown fox jumps over the lazy dog. <script>alert(1)</script>\n"
) * 6


def random_bundle(
    cell="lstm", layers=1, units=12, level="char", scale=0.25, seed=0, text=TEXT, embedding=6
) -> ModelBundle:
    """A model with random weights of moderate size (so float32 round-off stays small)."""
    spec = ModelSpec(
        cell=cell, level=level, layers=layers, units=units, embedding=embedding, seq_len=20
    )
    vocab = Vocab.build(spec.tokenizer.tokenize(text))
    model = randomize_weights(build(spec, len(vocab)), scale=scale, seed=seed)
    return ModelBundle(
        model=model, vocab=vocab, tokenizer=spec.tokenizer, spec=spec, name=f"test-{cell}"
    )


def randomize_weights(model, *, scale: float, seed: int):
    """Replace every weight of ``model`` by N(0, scale) draws; returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in weights])
    return model
