"""How data becomes a model's inputs: language-model windows and classifier id matrices.

Texts for a classifier are cut to their first ``max_len`` tokens and padded at the end
with :data:`~lib.model.spec.PAD_ID` (Garcia et al.'s code kept the last 100 tokens and padded
in front, without masking, so its states include the padding; here padded steps are masked
and never recorded). :func:`classifier_splits` is deterministic, so the held-out test texts
of a saved classifier can be rebuilt from its dataset ref (:func:`lib.run.classify.held_out`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.data.datasets import DatasetError, LabelledData, split_indices
from lib.data.tokenizer import Vocab
from lib.model.spec import ID_OFFSET, PAD_ID, ModelSpec, TrainConfig


def windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, target) windows: target is input shifted by one token.

    Returns arrays of shape (n, seq_len); n = (len(ids) - 1) // seq_len.
    """
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return x, y


def classifier_ids(
    vocab: Vocab, token_lists: list[list[str]], max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode texts for a classifier: first `max_len` tokens, padded at the end.

    Parameters
    ----------
    vocab : Vocab
    token_lists : list of n token lists
    max_len : int

    Returns
    -------
    ids : ndarray of shape (n, max_len), int32
        Vocabulary id + :data:`ID_OFFSET`; :data:`PAD_ID` (0) after each text's end.
    lengths : ndarray of shape (n,), int64
        Real (unpadded) length of each row, ``min(len(tokens), max_len)``.
    """
    n = len(token_lists)
    lengths = np.fromiter((min(len(t), max_len) for t in token_lists), np.int64, count=n)
    ids = np.full((n, max_len), PAD_ID, np.int32)
    flat = vocab.encode(tok for t in token_lists for tok in t[:max_len])
    ids[np.arange(max_len)[None, :] < lengths[:, None]] = flat + ID_OFFSET
    return ids, lengths


def _targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Keras targets: (n, 1) float32 for the sigmoid unit, (n,) int32 class indices else."""
    if n_classes == 2:
        return labels.astype(np.float32)[:, None]
    return labels.astype(np.int32)


@dataclass
class ClassifierSplits:
    """A labelled dataset tokenized and split for one classifier spec and config.

    ``train``, ``val`` and ``test`` index ``data`` (the texts left after dropping those
    with no tokens); ``tokens[i]`` are the tokens of ``data.texts[i]``.
    """

    data: LabelledData
    tokens: list[list[str]]
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    dropped_empty: int


def classifier_splits(data: LabelledData, spec: ModelSpec, config: TrainConfig) -> ClassifierSplits:
    """Tokenize `data`, drop texts without tokens, and split it train / validation / test.

    The test split is :func:`lib.data.datasets.split_indices` with ``config.test_fraction`` and
    ``config.seed``; the validation split takes ``config.val_fraction`` of what is left
    (seed + 1). Both stratified and deterministic, so the test texts of a saved model can
    be rebuilt from its dataset ref (:func:`lib.run.classify.held_out`).
    """
    tokenizer = spec.tokenizer
    tokens = [tokenizer.tokenize(t) for t in data.texts]
    keep = [i for i, t in enumerate(tokens) if t]
    if not keep:
        raise DatasetError(
            f"every text of {data.name!r} is empty after {spec.level}-level "
            "tokenization; check the text column"
        )
    dropped = len(tokens) - len(keep)
    if dropped:
        data = data.subset(keep, info={**data.info, "dropped_empty": dropped})
        tokens = [tokens[i] for i in keep]
    counts = data.class_counts
    rare = [f"{c!r} ({n})" for c, n in zip(data.classes, counts, strict=True) if n < 3]
    if rare:
        raise DatasetError(
            f"each class needs at least 3 texts (train, validation and test); "
            f"too few: {', '.join(rare)}"
        )
    rest, test = split_indices(data.labels, test_fraction=config.test_fraction, seed=config.seed)
    train, val = split_indices(
        data.labels[rest], test_fraction=config.val_fraction, seed=config.seed + 1
    )
    return ClassifierSplits(data, tokens, rest[train], rest[val], test, dropped)
