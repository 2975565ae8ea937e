"""What a clustering of token states follows: the token itself, or its part of speech.

Clusters of token states (Ryšánek 2023, lib.analysis.projection) are easy to over-read: a
cluster of "the", "a" and "an" looks like a learned category, but states that group by
which token was just read would look the same. The adjusted mutual information (AMI)
between the clusters and a labelling of the points says how much of the clustering that
labelling explains, corrected for chance (0: no more than random clusters of the same
sizes, 1: the same partition):

    AMI(U, V) = (MI(U, V) - E[MI]) / (mean(H(U), H(V)) - E[MI])

with MI the mutual information of the two partitions, H their entropies, the arithmetic
mean, and E[MI] the expected MI of random partitions with the same cluster sizes (Vinh,
Epps & Bailey 2010; ``sklearn.metrics.adjusted_mutual_info_score``).

The AMI of a trained model's clusters means little alone: even an untrained network maps
the same token to similar states. :func:`untrained_twin` builds a network of the same
shape with Keras' own initialisation from a fixed seed, to record on the same text and
cluster the same way; its AMI is the floor the trained model has to beat.

- :func:`cluster_agreement`: AMI of cluster labels with token identity and with POS tags.
- :func:`untrained_twin`: the same spec and vocabulary, untrained, seeded.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lib.model.bundle import ModelBundle

#: one build at a time touches Python's global random state (:func:`untrained_twin`)
_SEED_LOCK = threading.Lock()


def cluster_agreement(
    labels: npt.ArrayLike, tokens: Sequence[str], tags: Sequence[str] | None = None
) -> dict[str, float]:
    """Score cluster labels against token identity and POS tags (adjusted mutual information).

    Parameters
    ----------
    labels : array-like of int, shape (n_points,)
        The cluster of every point (e.g. the ``cluster`` column of a token map).
    tokens : sequence of str, length n_points
        The token each point read.
    tags : sequence of str, length n_points, optional
        Its part-of-speech tag (e.g. universal tags from
        :func:`lib.analysis.features.pos_tags`, whitespace included as its own tag).

    Returns
    -------
    dict
        ``ami_token``: AMI(labels, tokens); ``ami_pos``: AMI(labels, tags), NaN without
        tags; ``n_points``, ``n_clusters``, ``n_tokens`` (distinct tokens) and ``n_tags``
        (distinct tags, 0 without tags). AMI as in the module docstring (arithmetic mean;
        Vinh, Epps & Bailey 2010): 1 for the same partition, about 0 for unrelated ones
        (it can dip below 0).

    Raises
    ------
    ValueError
        If `labels` is not 1-D integers of at least 2 points, or `tokens` or `tags` has
        another length.

    Examples
    --------
    Clusters that are exactly the tokens, and split every tag in two:

    >>> out = cluster_agreement([0, 0, 1, 1, 2, 2], list("aabbcc"), list("NNVVNN"))
    >>> round(out["ami_token"], 6), round(out["ami_pos"], 3)
    (1.0, 0.615)
    """
    from sklearn.metrics import adjusted_mutual_info_score

    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iub" or y.shape[0] < 2:
        raise ValueError(
            f"`labels` must be 1-D integers of at least 2 points, got shape {y.shape} "
            f"and dtype {y.dtype}."
        )
    n = y.shape[0]
    for name, seq in (("tokens", tokens), ("tags", tags)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"`{name}` must have one entry per label ({n}), got {len(seq)}.")
    token_arr = np.asarray([str(t) for t in tokens], dtype=object)
    out = {
        "ami_token": float(adjusted_mutual_info_score(token_arr, y)),
        "ami_pos": math.nan,
        "n_points": float(n),
        "n_clusters": float(np.unique(y).size),
        "n_tokens": float(len(set(token_arr.tolist()))),
        "n_tags": 0.0,
    }
    if tags is not None:
        tag_arr = np.asarray([str(t) for t in tags], dtype=object)
        out["ami_pos"] = float(adjusted_mutual_info_score(tag_arr, y))
        out["n_tags"] = float(len(set(tag_arr.tolist())))
    return out


def untrained_twin(bundle: ModelBundle, seed: int = 0) -> ModelBundle:
    """Build a model of the same spec and vocabulary as `bundle`, with untrained weights.

    The Keras graph is built by :func:`lib.model.build.build` with Keras' own
    initialisers (Glorot-uniform kernels, orthogonal recurrent kernels, LSTM forget bias
    1, uniform embedding). Keras draws each initialiser's seed from Python's ``random``
    module when the layer is made, so the build runs with ``random.seed(seed)`` and the
    previous random state is restored afterwards: the same seed gives the same weights,
    and nothing else in the process sees its random numbers change.

    Parameters
    ----------
    bundle : ModelBundle
        The trained model whose shape to copy (its weights are not read).
    seed : int, default 0

    Returns
    -------
    ModelBundle
        Same ``spec``, ``vocab`` and ``tokenizer``; ``name`` says it is untrained;
        ``meta["untrained"] = {"of": bundle.name, "seed": seed}``.
    """
    from lib.model.build import build

    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise ValueError(f"`seed` must be an integer, got {seed!r}.")
    with _SEED_LOCK:
        saved = random.getstate()
        random.seed(int(seed))
        try:
            model = build(bundle.spec, len(bundle.vocab))
        finally:
            random.setstate(saved)
    return ModelBundle(
        model=model,
        vocab=bundle.vocab,
        tokenizer=bundle.tokenizer,
        spec=bundle.spec,
        meta={"untrained": {"of": bundle.name, "seed": int(seed)}},
        name=f"{bundle.name} (untrained, seed {int(seed)})",
    )
