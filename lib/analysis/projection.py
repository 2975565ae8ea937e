"""Seed 001's word representation: token states mapped to 2-D, then clustered.

Every token occurrence is one point: the state vector of one layer after reading that token.
Seed 001 maps the points to 2-D with t-SNE and clusters the 2-D map with agglomerative
clustering (single or ward linkage), numbering clusters by size; it found hidden-state
clusters that group tokens of one kind, and cell-state clusters that are runs of
consecutive tokens (seed 001, section 1C).

- :func:`stratified_sample`: which occurrences to map, so frequent tokens do not swamp it.
- :func:`project`: PCA, t-SNE or UMAP to 2-D, with a progress callback.
- :func:`cluster`, :func:`relabel_by_size`: agglomerative clusters, 0 = the largest.
- :func:`cluster_table`: each cluster's size and most frequent tokens (seed 001's Table 5.1).
- :func:`runs_of_consecutive`, :func:`adjacent_share`: are clusters runs of the text?
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

METHODS = ("pca", "tsne", "umap")
LINKAGES = ("ward", "single", "average", "complete")
#: clusters when neither `n_clusters` nor `distance_threshold` is given (seed 001: >= 20)
DEFAULT_CLUSTERS = 20
#: t-SNE iterations x points for the automatic ``max_iter`` (:func:`default_tsne_iterations`):
#: 350 iterations of 5,000 points take ~21 s on one thread of a busy 2-core machine
TSNE_BUDGET = 1_750_000
#: UMAP optimisation epochs by default (UMAP's own default above 10,000 points)
UMAP_EPOCHS = 200
#: fewest points :func:`project` maps with t-SNE or UMAP
MIN_POINTS = 5

Progress = Callable[[float, str], None]


# --- sampling -------------------------------------------------------------------------------


def _quotas(counts: np.ndarray, n: int, cap: np.ndarray) -> np.ndarray:
    """Integer quotas q_i <= cap_i summing to min(n, sum cap), proportional to sqrt(counts)."""
    weights = np.sqrt(counts.astype(np.float64))
    target = min(n, int(cap.sum()))
    share = np.zeros(counts.size)
    active = np.ones(counts.size, dtype=bool)
    remaining = float(target)
    while active.any():  # water filling: a type that hits its cap gives the rest to others
        scale = remaining / weights[active].sum()
        full = active & (scale * weights >= cap)
        if not full.any():
            share[active] = scale * weights[active]
            break
        share[full] = cap[full]
        remaining -= cap[full].sum()
        active &= ~full
    quota = np.minimum(np.floor(share).astype(np.int64), cap)
    short = target - int(quota.sum())
    if short > 0:  # largest remainders first, ties by first occurrence in the text
        room = np.flatnonzero(quota < cap)
        order = room[np.argsort(-(share[room] - quota[room]), kind="stable")]
        quota[order[:short]] += 1
    return quota


def stratified_sample(
    tokens: Sequence[str], n: int, *, seed: int | None = 0, per_type_cap: int | None = None
) -> np.ndarray:
    """Up to `n` token positions, with frequent tokens sampled less than their share.

    Parameters
    ----------
    tokens : sequence of str, length T
        ``trace.tokens``.
    n : int
        Number of positions wanted, >= 1. All T positions when ``n >= T``.
    seed : int or None, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same positions.
    per_type_cap : int, optional
        At most this many occurrences of any one token type. With a cap, fewer than `n`
        positions come back when the types cannot fill `n`.

    Returns
    -------
    positions : ndarray of int64, shape (n_sampled,)
        Sorted, distinct, in ``[0, T)``; ``n_sampled = min(n, T)`` without a cap.

    Raises
    ------
    ValueError
        If `n` or `per_type_cap` is not a positive integer or `tokens` is empty.

    Notes
    -----
    Square-root allocation: type i, with c_i occurrences, gets a quota
    q_i = min(c_i, cap, s sqrt(c_i)) with s chosen so the quotas add up to `n` (types that
    hit c_i or the cap pass their excess to the others; rounding by largest remainder).
    A type 100 times as frequent as another then gets 10 times the points, not 100, so
    "the" or the space character do not fill the map and rare tokens still show; within a
    type the q_i occurrences are drawn uniformly without replacement. Seed 001 maps one
    point per occurrence (all ~18,000 tokens of its text) and notes that "the" blends into
    most clusters; the sampling is not in the seed. With ``n >= T`` every position is kept
    and the map is the seed's.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"`n` must be an integer >= 1, got {n!r}.")
    if per_type_cap is not None and (int(per_type_cap) != per_type_cap or per_type_cap < 1):
        raise ValueError(f"`per_type_cap` must be an integer >= 1 or None, got {per_type_cap!r}.")
    n_tokens = len(tokens)
    if n_tokens == 0:
        raise ValueError("`tokens` is empty.")
    if n >= n_tokens and per_type_cap is None:
        return np.arange(n_tokens, dtype=np.int64)
    inverse, _ = pd.factorize(np.asarray(tokens, dtype=object))  # types by first occurrence
    counts = np.bincount(inverse)
    cap = counts if per_type_cap is None else np.minimum(counts, int(per_type_cap))
    quota = _quotas(counts, int(n), cap)
    # rank of each position within its type, in a random order: keep ranks below the quota
    keys = np.random.default_rng(seed).random(n_tokens)
    order = np.lexsort((keys, inverse))
    first_of_type = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n_tokens, dtype=np.int64)
    rank[order] = np.arange(n_tokens) - first_of_type[inverse[order]]
    return np.flatnonzero(rank < quota[inverse]).astype(np.int64)


# --- projection -----------------------------------------------------------------------------


def _check_points(X: npt.ArrayLike, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "fiub":
        raise ValueError(
            f"`{name}` must be a 2-D numeric array (n_points, n_dims), got shape {X.shape} "
            f"{X.dtype}."
        )
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"`{name}` needs at least 2 points and 1 column, got shape {X.shape}.")
    X = X.astype(np.float32 if X.dtype == np.float32 else np.float64, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"`{name}` holds NaN or inf.")
    return X


def default_tsne_iterations(n_points: int) -> int:
    """t-SNE iterations used when ``max_iter`` is None: 1,000 up to 1,750 points, fewer above.

    ``clip(TSNE_BUDGET // n_points, 350, 1000)``: 350 at 5,000 points and more (250
    early-exaggeration iterations, sklearn's fixed first phase, then 100 more).
    """
    return int(min(1000, max(350, TSNE_BUDGET // max(n_points, 1))))


def project(
    X: npt.ArrayLike,
    *,
    method: str = "pca",
    n_components: int = 2,
    pca_dims: int | None = 50,
    seed: int | None = 0,
    perplexity: float = 30.0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    max_iter: int | None = None,
    n_epochs: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Map points (e.g. token states) to `n_components` dimensions with PCA, t-SNE or UMAP.

    Parameters
    ----------
    X : array-like of shape (n_points, n_dims)
        E.g. ``acts[positions]`` from :func:`stratified_sample`. float32 stays float32.
    method : {"pca", "tsne", "umap"}, default "pca"
    n_components : int, default 2
    pca_dims : int or None, default 50
        For t-SNE and UMAP, first reduce `X` to this many principal components when it has
        more columns (the usual t-SNE preprocessing; it removes noise and makes the
        neighbour search fast). None skips it.
    seed : int or None, default 0
        ``random_state`` of PCA, t-SNE and UMAP: the same seed gives the same map (on the
        same machine and library versions). None lets UMAP optimise on all cores (faster,
        not reproducible).
    perplexity : float, default 30.0
        t-SNE only. Clipped to ``(n_points - 1) / 3`` for small inputs (sklearn needs
        perplexity < n_points; 3 x perplexity neighbours are searched).
    n_neighbors : int, default 15
        UMAP only. Clipped to ``n_points - 1``.
    min_dist : float, default 0.1
        UMAP only.
    max_iter : int, optional
        t-SNE iterations, >= 250. Default :func:`default_tsne_iterations`.
    n_epochs : int, optional
        UMAP optimisation epochs. Default :data:`UMAP_EPOCHS` (200).
    progress : callable(fraction: float, message: str), optional
        Called at each stage with the fraction done in [0, 1] and what runs next; a note
        about a clipped parameter is part of the message.

    Returns
    -------
    Y : ndarray of float64, shape (n_points, n_components)

    Raises
    ------
    ValueError
        If `X` is not 2-D, finite and numeric, has too few points (2 for PCA,
        :data:`MIN_POINTS` for t-SNE and UMAP) or columns, or an option is out of range.

    Notes
    -----
    Seed 001 maps the 2000-D states of about 18,000 tokens with t-SNE and gives no
    parameters; its suggested defaults are sklearn's (perplexity 30, ``init="pca"``,
    ``learning_rate="auto"``, Barnes-Hut, fixed random state), used here except for the
    number of iterations (1,000 in the seed's suggestion; see below). PCA first and UMAP are
    not in the seed (its "possible extensions"). With ``seed=None`` maps differ run to run.

    Speed, for 5,000 x 512 float32 states of the stdlib char LSTM (h and c) on 2 cores that
    other processes keep busy (load ~2.5; ``benchmarks/projection_benchmark.py``):

    - PCA: 1.5 s cold, 0.2 s warm.
    - t-SNE: 21 s cold (no compilation: warm is the same) with the default 350 iterations;
      1,000 iterations take 37 s for about the same trustworthiness (0.998 vs 0.999 over
      10 neighbours), hence the time-budgeted default (:func:`default_tsne_iterations`:
      1,000 iterations up to 1,750 points, 350 from 5,000 points). sklearn's Barnes-Hut
      gradient runs on one OpenMP thread here: with two, on a busy machine, the threads
      spin waiting on each other (5,000 points: 50 s instead of 31-39 s; 1,000 points:
      20 s instead of 5 s).
    - UMAP: 16 s cold (first call in a process), 7 s warm, plus ~6 s for ``import umap``,
      which loads tensorflow (already loaded in the dashboard). Its own neighbour search
      (NN-descent) compiles ~60 s of numba code on its first call, so the exact nearest
      neighbours come from ``sklearn.neighbors.NearestNeighbors`` (< 1 s on 50 dimensions)
      and are passed as ``precomputed_knn``; the layout code still compiles on the first
      call (~10 s). 200 epochs (UMAP's default above 10,000 points; its 500 below take 9 s
      warm for the same trustworthiness, 0.998). With `seed` set UMAP runs on one thread
      (its ``random_state`` turns parallelism off): the dashboard caches maps, so the same
      settings giving the same map matters more than the seconds saved; ``seed=None``
      runs it on every core.
    """
    X = _check_points(X, "X")
    n_points, n_dims = X.shape
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    if int(n_components) != n_components or n_components < 1:
        raise ValueError(f"`n_components` must be an integer >= 1, got {n_components!r}.")
    n_components = int(n_components)
    if pca_dims is not None and (int(pca_dims) != pca_dims or pca_dims < n_components):
        raise ValueError(
            f"`pca_dims` must be an integer >= n_components ({n_components}) or None, "
            f"got {pca_dims!r}."
        )
    report = progress or (lambda fraction, message: None)
    from sklearn.decomposition import PCA

    if method == "pca":
        if n_components > min(n_points, n_dims):
            raise ValueError(
                f"PCA gives at most min(n_points, n_dims) = {min(n_points, n_dims)} "
                f"components for X of shape {X.shape}, got n_components={n_components}."
            )
        report(0.0, f"PCA of {n_points:,} points…")
        Y = PCA(n_components, random_state=seed).fit_transform(X)
        report(1.0, "PCA done.")
        return Y.astype(np.float64)

    if n_points < MIN_POINTS:
        raise ValueError(
            f"{method} needs at least {MIN_POINTS} points, got {n_points} (X shape {X.shape})."
        )
    start = time.perf_counter()
    if pca_dims is not None and n_dims > pca_dims:
        dims = min(int(pca_dims), n_points)
        report(0.0, f"PCA from {n_dims} to {dims} dimensions…")
        X = np.asarray(PCA(dims, random_state=seed).fit_transform(X), dtype=np.float32)
    if method == "tsne":
        Y = _tsne(X, n_components, seed, perplexity, max_iter, report)
    else:
        Y = _umap(X, n_components, seed, n_neighbors, min_dist, n_epochs, report)
    name = {"tsne": "t-SNE", "umap": "UMAP"}[method]
    report(1.0, f"{name} done in {time.perf_counter() - start:.1f} s.")
    return Y.astype(np.float64)


def _tsne(
    X: np.ndarray,
    n_components: int,
    seed: int | None,
    perplexity: float,
    max_iter: int | None,
    report: Progress,
) -> np.ndarray:
    from sklearn.manifold import TSNE

    n_points = X.shape[0]
    perplexity = float(perplexity)
    if not (math.isfinite(perplexity) and perplexity > 0):
        raise ValueError(f"`perplexity` must be a positive number, got {perplexity!r}.")
    if max_iter is None:
        max_iter = default_tsne_iterations(n_points)
    elif int(max_iter) != max_iter or max_iter < 250:
        raise ValueError(f"`max_iter` must be an integer >= 250 or None, got {max_iter!r}.")
    note = ""
    limit = (n_points - 1) / 3
    if perplexity > limit:
        note = f" (perplexity {perplexity:g} clipped to {limit:.3g} for {n_points} points)"
        perplexity = limit
    report(0.1, f"t-SNE: {int(max_iter)} iterations on {n_points:,} points{note}…")
    tsne = TSNE(
        n_components,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        max_iter=int(max_iter),
        method="barnes_hut" if n_components <= 3 else "exact",
        random_state=seed,
    )
    # one OpenMP thread: on a busy machine the gradient's threads spin waiting on each other
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(X)


def _umap(
    X: np.ndarray,
    n_components: int,
    seed: int | None,
    n_neighbors: int,
    min_dist: float,
    n_epochs: int | None,
    report: Progress,
) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    n_points = X.shape[0]
    if int(n_neighbors) != n_neighbors or n_neighbors < 2:
        raise ValueError(f"`n_neighbors` must be an integer >= 2, got {n_neighbors!r}.")
    if not (math.isfinite(float(min_dist)) and min_dist >= 0):
        raise ValueError(f"`min_dist` must be a number >= 0, got {min_dist!r}.")
    if n_epochs is None:
        n_epochs = UMAP_EPOCHS
    elif int(n_epochs) != n_epochs or n_epochs < 1:
        raise ValueError(f"`n_epochs` must be an integer >= 1 or None, got {n_epochs!r}.")
    note = ""
    k = int(n_neighbors)
    if k > n_points - 1:
        note = f" (n_neighbors {k} clipped to {n_points - 1})"
        k = n_points - 1
    report(0.1, f"UMAP: the {k} nearest neighbours of {n_points:,} points{note}…")
    # each point is its own first neighbour, as in UMAP's own search
    dists, indices = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    report(0.2, f"UMAP: {int(n_epochs)} epochs (the first run compiles numba code)…")
    with warnings.catch_warnings():
        # no search index (only needed by .transform); tensorflow and numba chatter
        warnings.simplefilter("ignore")
        import umap

        reducer = umap.UMAP(
            n_neighbors=k,
            n_components=n_components,
            min_dist=float(min_dist),
            n_epochs=int(n_epochs),
            random_state=seed,
            n_jobs=1 if seed is not None else -1,
            precomputed_knn=(indices, dists.astype(np.float32), None),
        )
        return reducer.fit_transform(X)


# --- clustering -----------------------------------------------------------------------------


def _check_labels(labels: npt.ArrayLike, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"`{name}` must be 1-D integers (n_points,), got shape {labels.shape} {labels.dtype}."
        )
    return labels.astype(np.int64)


def relabel_by_size(labels: npt.ArrayLike) -> np.ndarray:
    """Renumber clusters by decreasing size: 0 is the largest (Ryšánek 2023).

    Parameters
    ----------
    labels : array-like of int, shape (n_points,)

    Returns
    -------
    labels : ndarray of int64, shape (n_points,)
        The same partition; clusters of equal size are numbered in the order of their first
        member. Negative labels (noise, as some clusterers give) are kept as they are.

    Raises
    ------
    ValueError
        If `labels` is not 1-D integers.
    """
    labels = _check_labels(labels)
    out = labels.copy()
    real = labels >= 0
    if not real.any():
        return out
    _, first, inverse, counts = np.unique(
        labels[real], return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))  # by size, then by first member
    new = np.empty(order.size, dtype=np.int64)
    new[order] = np.arange(order.size)
    out[real] = new[inverse]
    return out


def cluster(
    Y: npt.ArrayLike,
    *,
    n_clusters: int | None = None,
    distance_threshold: float | None = None,
    linkage: str = "ward",
) -> np.ndarray:
    """Agglomerative clusters of points (the 2-D map, or the states), numbered by size.

    Parameters
    ----------
    Y : array-like of shape (n_points, n_dims)
        Seed 001 clusters the 2-D t-SNE output; the original states work too.
    n_clusters : int, optional
        Number of clusters, in [1, n_points]. Give this or `distance_threshold`, not both;
        with neither, :data:`DEFAULT_CLUSTERS` (20, or n_points if fewer).
    distance_threshold : float, optional
        Merge clusters while the linkage distance is below this (the number of clusters
        then follows from the data).
    linkage : {"ward", "single", "average", "complete"}, default "ward"
        Seed 001 used single and ward.

    Returns
    -------
    labels : ndarray of int64, shape (n_points,)
        0 for the largest cluster, 1 for the next, ...; ties by first member
        (:func:`relabel_by_size`).

    Raises
    ------
    ValueError
        If `Y` is not a finite 2-D array of at least 2 points, both or an invalid one of
        `n_clusters` / `distance_threshold` are given, or `linkage` is unknown.

    Notes
    -----
    ``sklearn.cluster.AgglomerativeClustering`` with Euclidean distances (seed 001, section
    1C; the thesis warns that ward splits t-SNE's central blob and single linkage leaves
    tiny clusters). Ward, average and complete linkage keep an n_points x n_points distance
    matrix (200 MB at 5,000 points); single linkage uses a minimum spanning tree.
    """
    from sklearn.cluster import AgglomerativeClustering

    Y = _check_points(Y, "Y")
    n_points = Y.shape[0]
    if linkage not in LINKAGES:
        raise ValueError(f"`linkage` must be one of {LINKAGES}, got {linkage!r}.")
    if n_clusters is not None and distance_threshold is not None:
        raise ValueError(
            f"Give `n_clusters` or `distance_threshold`, not both: got n_clusters={n_clusters!r} "
            f"and distance_threshold={distance_threshold!r}."
        )
    if distance_threshold is not None:
        if not (math.isfinite(float(distance_threshold)) and distance_threshold > 0):
            raise ValueError(
                f"`distance_threshold` must be a positive number, got {distance_threshold!r}."
            )
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=float(distance_threshold), linkage=linkage
        )
    else:
        if n_clusters is None:
            n_clusters = min(DEFAULT_CLUSTERS, n_points)
        if int(n_clusters) != n_clusters or not 1 <= n_clusters <= n_points:
            raise ValueError(
                f"`n_clusters` must be an integer in [1, {n_points}] (the number of points), "
                f"got {n_clusters!r}."
            )
        model = AgglomerativeClustering(n_clusters=int(n_clusters), linkage=linkage)
    return relabel_by_size(model.fit_predict(Y))


def _show(token: str) -> str:
    return repr(token) if not token or token.isspace() or not token.isprintable() else token


def cluster_table(
    labels: npt.ArrayLike,
    tokens_at_points: Sequence[str],
    *,
    top: int = 8,
    format_token: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    r"""Each cluster's size and its most frequent tokens (seed 001's Table 5.1).

    Parameters
    ----------
    labels : array-like of int, shape (n_points,)
        From :func:`cluster`.
    tokens_at_points : sequence of str, length n_points
        The token of every point, e.g. ``[tokens[p] for p in positions]``.
    top : int, default 8
        Tokens listed per cluster.
    format_token : callable(str) -> str, optional
        How a token is written in ``top_tokens``. Default: as is, or ``repr`` for whitespace
        and invisible characters (``' '``, ``'\n'``).

    Returns
    -------
    table : pandas.DataFrame
        One row per cluster in label order; columns ``cluster``, ``size``, ``share`` (of
        all points), ``distinct`` (number of different tokens) and ``top_tokens``, e.g.
        ``"the ×34, a ×12"``: the `top` most frequent tokens, ties by token.

    Raises
    ------
    ValueError
        If `labels` is not 1-D integers, the lengths differ or `top` is not >= 1.
    """
    labels = _check_labels(labels)
    tokens = list(tokens_at_points)
    if len(tokens) != labels.shape[0]:
        raise ValueError(
            f"`tokens_at_points` must have one token per label ({labels.shape[0]}), "
            f"got {len(tokens)}."
        )
    if int(top) != top or top < 1:
        raise ValueError(f"`top` must be an integer >= 1, got {top!r}.")
    show = format_token or _show
    counts = (
        pd.DataFrame({"cluster": labels, "token": pd.Series(tokens, dtype=object)})
        .value_counts()
        .rename("count")
        .reset_index()
        .sort_values(["cluster", "count", "token"], ascending=[True, False, True])
    )
    rows = []
    for label, group in counts.groupby("cluster", sort=True):
        head = group.head(int(top))
        rows.append(
            {
                "cluster": int(label),
                "size": int(group["count"].sum()),
                "distinct": len(group),
                "top_tokens": ", ".join(
                    f"{show(tok)} ×{c}" for tok, c in zip(head["token"], head["count"], strict=True)
                ),
            }
        )
    table = pd.DataFrame(rows, columns=["cluster", "size", "distinct", "top_tokens"])
    table.insert(2, "share", table["size"] / max(len(tokens), 1))
    return table


# --- runs of consecutive tokens -------------------------------------------------------------


def _check_positions(positions: npt.ArrayLike, labels: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions)
    if positions.ndim != 1 or positions.dtype.kind not in "iu":
        raise ValueError(
            f"`positions` must be 1-D integers (n_points,), got shape {positions.shape} "
            f"{positions.dtype}."
        )
    if positions.shape != labels.shape:
        raise ValueError(
            f"`positions` and `labels` must have the same shape, got {positions.shape} and "
            f"{labels.shape}."
        )
    positions = positions.astype(np.int64)
    if np.unique(positions).size != positions.size:
        raise ValueError("`positions` must be distinct (one point per token occurrence).")
    return positions


def _adjacency(positions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point: has a same-cluster point at position +-1, and how many points at +-1."""
    order = np.argsort(positions, kind="stable")
    sorted_pos, sorted_lab = positions[order], labels[order]
    same = np.zeros(positions.size, dtype=bool)
    sampled = np.zeros(positions.size, dtype=np.int64)
    for step in (-1, 1):
        at = np.searchsorted(sorted_pos, positions + step)
        at_clipped = np.minimum(at, positions.size - 1)
        there = (at < positions.size) & (sorted_pos[at_clipped] == positions + step)
        sampled += there
        same |= there & (sorted_lab[at_clipped] == labels)
    return same, sampled


def adjacent_share(positions: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Share of all points with a point of the same cluster at text position +-1.

    Parameters
    ----------
    positions : array-like of int, shape (n_points,)
        Distinct text positions of the points (:func:`stratified_sample`).
    labels : array-like of int, shape (n_points,)

    Returns
    -------
    share : float
        In [0, 1]; see :func:`runs_of_consecutive`.
    """
    labels = _check_labels(labels)
    positions = _check_positions(positions, labels)
    if positions.size == 0:
        return float("nan")
    same, _ = _adjacency(positions, labels)
    return float(same.mean())


def runs_of_consecutive(positions: npt.ArrayLike, labels: npt.ArrayLike) -> pd.DataFrame:
    """Per cluster: how far its points are runs of consecutive tokens of the text.

    Parameters
    ----------
    positions : array-like of int, shape (n_points,)
        Distinct text positions of the points.
    labels : array-like of int, shape (n_points,)
        From :func:`cluster`.

    Returns
    -------
    table : pandas.DataFrame
        One row per cluster in label order, columns:

        - ``cluster``, ``size``;
        - ``adjacent``: points with a point of the same cluster at position +-1;
        - ``adjacent_share``: ``adjacent / size``;
        - ``chance_share``: the expected ``adjacent_share`` if the other points' labels
          were shuffled, each point keeping its own (a large cluster is adjacent to itself
          often by chance);
        - ``runs``: maximal runs of consecutive positions in the cluster;
        - ``longest_run``: points in the longest run.

        ``table.attrs["adjacent_share"]`` holds the share over all points
        (:func:`adjacent_share`).

    Raises
    ------
    ValueError
        If the inputs are not 1-D integers of equal length or positions repeat.

    Notes
    -----
    Seed 001 (section 4, Fig. 5.12) found that layer-2 cell-state clusters hold consecutive
    words of one passage, e.g. a section about a hockey season. Point i is adjacent when
    a point j of the same cluster has |pos_i - pos_j| = 1. Only meaningful when positions
    are dense (all tokens of a window, or a sample of most of them): with a sparse sample,
    neighbours are rarely sampled at all and every share is near 0. The chance level of
    point i with m_i in {0, 1, 2} sampled neighbours, in a cluster of size s among n
    points, is 1 - C(n - s, m_i) / C(n - 1, m_i) (hypergeometric: its m_i neighbours' labels
    drawn from the other n - 1 points, s - 1 of them in its cluster); ``chance_share`` is
    its mean over the cluster.
    """
    labels = _check_labels(labels)
    positions = _check_positions(positions, labels)
    columns = [
        "cluster", "size", "adjacent", "adjacent_share", "chance_share", "runs", "longest_run",
    ]  # fmt: skip
    if positions.size == 0:
        table = pd.DataFrame(columns=columns)
        table.attrs["adjacent_share"] = float("nan")
        return table
    n = positions.size
    same, sampled = _adjacency(positions, labels)
    clusters, inverse, size = np.unique(labels, return_inverse=True, return_counts=True)
    s = size[inverse].astype(np.float64)
    # P(no same-cluster label among m neighbours) = C(n - s, m) / C(n - 1, m), m <= 2
    miss1 = (n - s) / max(n - 1, 1)
    miss2 = miss1 * (n - s - 1) / max(n - 2, 1)
    chance = np.where(sampled == 0, 0.0, np.where(sampled == 1, 1 - miss1, 1 - miss2))
    # runs: sort by (cluster, position); a run starts where the cluster changes or pos jumps
    order = np.lexsort((positions, inverse))
    lab, pos = inverse[order], positions[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (lab[1:] != lab[:-1]) | (pos[1:] != pos[:-1] + 1)
    start_at = np.flatnonzero(starts)
    run_length = np.diff(np.append(start_at, n))
    run_cluster = lab[start_at]
    longest = np.zeros(clusters.size, dtype=np.int64)
    np.maximum.at(longest, run_cluster, run_length)
    adjacent = np.bincount(inverse, weights=same, minlength=clusters.size).astype(np.int64)
    table = pd.DataFrame(
        {
            "cluster": clusters,
            "size": size,
            "adjacent": adjacent,
            "adjacent_share": adjacent / size,
            "chance_share": np.bincount(inverse, weights=chance, minlength=clusters.size) / size,
            "runs": np.bincount(run_cluster, minlength=clusters.size),
            "longest_run": longest,
        }
    )
    table.attrs["adjacent_share"] = float(same.mean())
    return table


__all__ = [
    "DEFAULT_CLUSTERS",
    "LINKAGES",
    "METHODS",
    "adjacent_share",
    "cluster",
    "cluster_table",
    "default_tsne_iterations",
    "project",
    "relabel_by_size",
    "runs_of_consecutive",
    "stratified_sample",
]


def pca_map(
    reference: npt.ArrayLike, others: npt.ArrayLike, *, n_components: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Fit PCA on ``reference`` states and place both them and ``others`` in its plane.

    Unlike t-SNE or UMAP, PCA can place new points (a text's trajectory) on a map made
    from a corpus sample.

    Parameters
    ----------
    reference : ndarray of shape (n, units)
    others : ndarray of shape (m, units)

    Returns
    -------
    reference_2d : ndarray of shape (n, n_components)
    others_2d : ndarray of shape (m, n_components)
    """
    from sklearn.decomposition import PCA

    reference = np.asarray(reference, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64)
    if reference.ndim != 2 or others.ndim != 2 or reference.shape[1] != others.shape[1]:
        raise ValueError(
            f"`reference` and `others` must be 2-D with the same number of "
            f"columns, got {reference.shape} and {others.shape}."
        )
    pca = PCA(n_components=n_components, random_state=0).fit(reference)
    return pca.transform(reference), pca.transform(others)
