"""Seed 000's embedding map: the vectors of the most frequent tokens projected to 2-D.

Seed 000 (§1.8, Figure 5.3) projects the fine-tuned GloVe vectors of the 25 most frequent
corpus words with a 2-component PCA (``sklearn.decomposition.PCA(n_components=2)``) and
labels each point with its word; it found "you" and "I" close together and punctuation
(parentheses, quotes) in a cluster apart from the words. Its similarity measures are the
Euclidean distance and the cosine (Eqs. 2.12-2.13), used here by :func:`nearest_tokens`.

The map works on any embedding matrix: the model's learned ``embedding`` layer, or
pre-trained vectors (rows of words without a vector set to NaN and left out). t-SNE and
UMAP come from :func:`lib.analysis.projection.project` (PCA stays the seed's default).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.projection import METHODS, project


def _check_weights(weights: npt.ArrayLike, n_tokens: int, offset: int) -> np.ndarray:
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"`weights` must be 2-D (n_rows, dim), got shape {W.shape}.")
    if W.shape[0] != n_tokens + offset:
        raise ValueError(
            f"`weights` must have len(tokens) + offset = {n_tokens + offset} "
            f"rows, got {W.shape[0]}."
        )
    return W


def most_frequent(
    counts: npt.ArrayLike,
    *,
    n: int,
    usable: np.ndarray | None = None,
    exclude_ids: Collection[int] = (0,),
) -> np.ndarray:
    """Return the ids of the ``n`` most frequent tokens (ties by id).

    Skips ``exclude_ids`` (by default ``<unk>``, id 0) and ids where ``usable`` is False.
    """
    counts = np.asarray(counts)
    if int(n) != n or n < 1:
        raise ValueError(f"`n` must be an integer >= 1, got {n!r}.")
    ok = np.ones(counts.size, bool) if usable is None else np.asarray(usable, bool).copy()
    ok[[i for i in exclude_ids if 0 <= i < counts.size]] = False
    order = np.lexsort((np.arange(counts.size), -counts))
    return order[ok[order]][: int(n)]


def embedding_map(
    weights: npt.ArrayLike,
    tokens: Sequence[str],
    counts: npt.ArrayLike,
    *,
    n: int = 25,
    method: str = "pca",
    offset: int = 0,
    exclude: Collection[str] = (),
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Project the ``n`` most frequent tokens' embedding vectors to 2-D.

    Parameters
    ----------
    weights : array-like of shape (len(tokens) + offset, dim)
        An embedding matrix; row ``i + offset`` is token ``i``. Rows holding NaN (a word
        without a pre-trained vector) are left out.
    tokens : sequence of str
        ``vocab.tokens`` (``<unk>`` first; it is never mapped).
    counts : array-like of shape (len(tokens),)
        Training counts, ``vocab.counts``.
    n : int, default 25
        Seed 000's ``n_words_pca_plot``.
    method : {"pca", "tsne", "umap"}, default "pca"
    offset : int, default 0
        1 for the classifiers of :mod:`lib.train.fit` (row 0 is padding).
    exclude : collection of str
        Tokens to leave out (e.g. the space and newline).
    seed : int, default 0
    **options
        Passed to :func:`lib.analysis.projection.project` (``perplexity``, ``n_neighbors``).

    Returns
    -------
    pandas.DataFrame
        One row per mapped token, most frequent first: ``rank`` (1 = most frequent),
        ``id``, ``token``, ``count``, ``x``, ``y``. For PCA, ``df.attrs["explained"]`` is
        the share of variance of each component (2 values).

    Raises
    ------
    ValueError
        Bad shapes, or fewer than 2 tokens to map (5 for t-SNE / UMAP).

    Notes
    -----
    PCA as seed 000 (its Eqs. 2.44-2.45): the covariance of the centred vectors,
    ``cov = X_c^T X_c / (n - 1)``, and its two eigenvectors of largest eigenvalue; the
    explained share of component k is ``lambda_k / sum(lambda)``.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    tokens = list(tokens)
    W = _check_weights(weights, len(tokens), offset)
    counts = np.asarray(counts)
    if counts.shape != (len(tokens),):
        raise ValueError(f"`counts` must have shape ({len(tokens)},), got {counts.shape}.")
    usable = np.isfinite(W[offset:]).all(axis=1)
    skip = [0] + [i for i, t in enumerate(tokens) if t in set(exclude)]
    ids = most_frequent(counts, n=n, usable=usable, exclude_ids=skip)
    if len(ids) < 2:
        raise ValueError(f"Only {len(ids)} token(s) have a vector to map; need at least 2.")
    X = W[ids + offset]
    Y = project(X, method=method, n_components=2, seed=seed, **options)
    df = pd.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1),
            "id": ids,
            "token": [tokens[i] for i in ids],
            "count": counts[ids],
            "x": Y[:, 0],
            "y": Y[:, 1],
        }
    )
    if method == "pca":
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False) ** 2
        df.attrs["explained"] = (s[:2] / s.sum()).tolist() if s.sum() > 0 else [0.0, 0.0]
    return df


def nearest_tokens(
    weights: npt.ArrayLike, tokens: Sequence[str], token: str, *, k: int = 10, offset: int = 0
) -> pd.DataFrame:
    """Find the ``k`` tokens whose vectors are most similar to ``token``'s.

    Cosine similarity (Dahlberg, Eqs. 2.12-2.13).

    Returns
    -------
    pandas.DataFrame
        ``token``, ``cosine`` = w1.w2 / (|w1| |w2|) and ``distance`` = |w1 - w2|, by
        decreasing cosine; ``<unk>``, ``token`` itself and rows holding NaN are left out.
        A zero vector has cosine 0 with every other.
    """
    tokens = list(tokens)
    W = _check_weights(weights, len(tokens), offset)[offset:]
    if token not in tokens:
        raise ValueError(f"{token!r} is not in the vocabulary.")
    i = tokens.index(token)
    if not np.isfinite(W[i]).all():
        raise ValueError(f"{token!r} has no vector.")
    ok = np.isfinite(W).all(axis=1)
    ok[[0, i]] = False
    W = np.nan_to_num(W)
    norms = np.linalg.norm(W, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(ok & (norms > 0) & (norms[i] > 0), W @ W[i] / (norms * norms[i]), 0.0)
    distance = np.linalg.norm(W - W[i], axis=1)
    ids = np.flatnonzero(ok)
    ids = ids[np.argsort(-cosine[ids], kind="stable")][: int(k)]
    return pd.DataFrame(
        {"token": [tokens[j] for j in ids], "cosine": cosine[ids], "distance": distance[ids]}
    )
