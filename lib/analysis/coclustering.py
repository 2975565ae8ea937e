"""Seed 004's co-clustering of token types and hidden units, and the tables its views draw.

The input is the signed (n_types, n_units) expected-response matrix ``S`` of
:func:`lib.analysis.response.expected_response`: the weights of the bipartite graph
between word nodes and hidden-unit nodes of one layer (seed 004, section 2.1).

- :func:`nonnegative_weights` and :func:`cocluster`: Dhillon's spectral co-clustering of
  that graph (the steps of ``sklearn.cluster.SpectralCoclustering``) after making its
  weights non-negative by one of four sign modes; word cluster k is paired with unit
  cluster k.
- :func:`cluster_edges`: Eq. 8's edges between word clusters and unit clusters.
- :func:`memory_chips`: one grid cell per unit, packed into one chip per unit cluster, with
  a chosen word's response for the blue/orange heat map.
- :func:`word_cloud_data`: each word cluster's words with a font size.
- :func:`unit_detail`: a unit's most responsive words.

Every table is a long-form pandas DataFrame, ready for ``alt.Chart(df)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

#: sign modes of :func:`nonnegative_weights`; "raw-shift" reproduces seed 004's reference code
SIGNS = ("raw-shift", "abs", "positive", "negative")
#: chip layouts of :func:`memory_chips`
LAYOUTS = ("square", "equal-height", "equal-width")
#: measures a word cloud can size its words by (:func:`word_cloud_data`)
SIZE_BY = ("salience", "response", "centrality")
#: word orders of :func:`unit_detail`
DETAIL_BY = ("abs", "extremes")
#: label of the words and units left out of every co-cluster (all-zero weights)
NONE = -1


class Coclusters(NamedTuple):
    """Result of :func:`cocluster`; unpacks as ``row_labels, col_labels``."""

    #: ndarray of int64, shape (n_types,): word cluster of each type, or -1
    row_labels: np.ndarray
    #: ndarray of int64, shape (n_units,): unit cluster of each unit, or -1
    col_labels: np.ndarray


# --- checks ---------------------------------------------------------------------------------


def _check_matrix(S: npt.ArrayLike) -> np.ndarray:
    """`S` as a finite, non-empty 2-D float64 array."""
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"`S` must be 2-D (n_types, n_units), got shape {S.shape}.")
    if S.dtype.kind not in "fiub":
        raise ValueError(f"`S` must hold numbers, got dtype {S.dtype}.")
    if 0 in S.shape:
        raise ValueError(f"`S` must have at least one type and one unit, got shape {S.shape}.")
    S = S.astype(np.float64, copy=False)
    if not np.isfinite(S).all():
        raise ValueError(f"`S` holds {int((~np.isfinite(S)).sum())} NaN or inf value(s).")
    return S


def _check_labels(labels: npt.ArrayLike, size: int, name: str, axis: str) -> np.ndarray:
    """`labels` as int64 of shape (size,), every entry -1 or a cluster number >= 0."""
    labels = np.asarray(labels)
    if labels.shape != (size,):
        raise ValueError(
            f"`{name}` must have shape ({size},), one label per {axis} of `S`, got {labels.shape}."
        )
    if labels.size and labels.dtype.kind not in "iu":
        raise ValueError(f"`{name}` must hold integers, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < NONE:
        raise ValueError(f"`{name}` must be -1 (no cluster) or >= 0, got {labels.min()}.")
    return labels


def _check_counts(counts: npt.ArrayLike, n_types: int) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.shape != (n_types,):
        raise ValueError(f"`counts` must have shape ({n_types},), got {counts.shape}.")
    if counts.dtype.kind not in "iuf":
        raise ValueError(f"`counts` must hold numbers, got dtype {counts.dtype}.")
    return counts.astype(np.int64)


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {value!r}.")


def _check_index(value: Any, size: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or not 0 <= value < size:
        raise ValueError(f"`{name}` must be an integer in [0, {size}), got {value!r}.")
    return int(value)


def _check_types(types: Iterable[Any], n_types: int) -> list:
    types = list(types)
    if len(types) != n_types:
        raise ValueError(
            f"`types` must have one entry per row of `S` ({n_types}), got {len(types)}."
        )
    return types


# --- co-clustering --------------------------------------------------------------------------


def nonnegative_weights(S: npt.ArrayLike, *, sign: str = "raw-shift") -> np.ndarray:
    """Return the non-negative weights that :func:`cocluster` partitions.

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses.
    sign : {"raw-shift", "abs", "positive", "negative"}, default "raw-shift"
        - ``"raw-shift"``: ``S - min(S)``, the whole matrix shifted so its smallest entry
          is 0. What seed 004's reference code runs (its "raw" mode passes S to
          scikit-learn, which shifts it this way); a strong negative response then weighs
          less than no response.
        - ``"abs"``: ``|S|``, salience whatever the sign (seed 004: "a larger |s| means
          w is more salient"); the most defensible reading of the paper.
        - ``"positive"``: ``max(S, 0)``, only the responses that raise a unit.
        - ``"negative"``: ``max(-S, 0)``, only the responses that lower a unit.

    Returns
    -------
    A : ndarray of float64, shape (n_types, n_units)
        ``A >= 0``.
    """
    S = _check_matrix(S)
    _check_choice(sign, SIGNS, "sign")
    if sign == "raw-shift":
        return S - S.min()
    if sign == "abs":
        return np.abs(S)
    if sign == "positive":
        return np.maximum(S, 0.0)
    return np.maximum(-S, 0.0)


def _relabel(row_labels: np.ndarray, col_labels: np.ndarray, k: int) -> Coclusters:
    """Renumber co-clusters by decreasing units, then words, then old label; -1 stays."""
    n_units = np.bincount(col_labels[col_labels >= 0], minlength=k)
    n_words = np.bincount(row_labels[row_labels >= 0], minlength=k)
    order = np.lexsort((np.arange(k), -n_words, -n_units))
    new = np.empty(k + 1, dtype=np.int64)
    new[order] = np.arange(k)
    new[k] = NONE  # index -1 maps -1 to itself
    return Coclusters(new[row_labels], new[col_labels])


def _vector_count(n_vectors: str | int, k: int) -> int:
    """Count l, the non-trivial singular vector pairs: "k-1", "log2" or an integer."""
    if n_vectors == "k-1":
        return k - 1
    if n_vectors == "log2":
        return math.ceil(math.log2(k))
    if isinstance(n_vectors, str | bool) or int(n_vectors) != n_vectors or n_vectors < 1:
        raise ValueError(
            f'`n_vectors` must be "k-1", "log2" or an integer >= 1, got {n_vectors!r}.'
        )
    return int(n_vectors)


def _spectral_labels(A: np.ndarray, k: int, n_vectors: int, n_init: int, seed: int) -> np.ndarray:
    """Co-cluster A > 0 in every row and column (Dhillon 2001): labels of rows + columns."""
    row_scale = 1.0 / np.sqrt(A.sum(axis=1))
    col_scale = 1.0 / np.sqrt(A.sum(axis=0))
    normalized = row_scale[:, None] * A * col_scale
    u, _, vt = randomized_svd(normalized, n_vectors + 1, random_state=seed)
    z = np.vstack((row_scale[:, None] * u[:, 1:], col_scale[:, None] * vt[1:].T))
    return KMeans(k, init="k-means++", n_init=n_init, random_state=seed).fit(z).labels_


def cocluster(
    S: npt.ArrayLike,
    *,
    n_clusters: int = 10,
    sign: str = "raw-shift",
    n_vectors: int | str = "k-1",
    seed: int = 0,
    n_init: int = 10,
) -> Coclusters:
    """Spectral co-clustering of token types and hidden units (seed 004, section 2.2).

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses (:func:`lib.analysis.response.expected_response`).
    n_clusters : int, default 10
        Number k of co-clusters (seed 004: 10 in its language-model case study, 2 for
        sentiment; the UI handles up to 20).
    sign : {"raw-shift", "abs", "positive", "negative"}, default "raw-shift"
        How signed weights become non-negative (:func:`nonnegative_weights`).
    n_vectors : {"k-1", "log2"} or int, default "k-1"
        Number l of singular vector pairs (after the trivial first) that k-means sees.
        ``"log2"`` is Dhillon's ceil(log2 k), what ``sklearn.cluster.SpectralCoclustering``
        and so seed 004's code use, and gives the same labels as that class. ``"k-1"``
        (the usual choice for k-way spectral clustering) recovers planted blocks that
        ``"log2"`` merges: see the Notes. Both are the same for k = 2.
    seed : int, default 0
        Random state of the randomized SVD and of k-means (fixed to 0 in seed 004's code).
    n_init : int, default 10
        k-means restarts (scikit-learn's and seed 004's default).

    Returns
    -------
    row_labels : ndarray of int64, shape (n_types,)
        Word cluster of each type.
    col_labels : ndarray of int64, shape (n_units,)
        Unit cluster of each unit. Word cluster k and unit cluster k form co-cluster k.
        Co-clusters are numbered by decreasing number of units (0 has the most; ties by
        decreasing number of words). A co-cluster may have words but no unit, or units
        but no word. A type or unit whose non-negative weights are all zero (e.g. a unit
        no word raises, with ``sign="positive"``) is in no co-cluster and gets -1.

    Raises
    ------
    ValueError
        If `S` is not a finite, non-empty 2-D array, `sign` or `n_vectors` is unknown,
        `n_clusters` is not an integer >= 2, or fewer than `n_clusters` (or l + 1) types or
        units have a non-zero weight.

    Notes
    -----
    Dhillon (KDD 2001), as seed 004 uses it: with A >= 0 from the sign mode, row and column
    degrees D1 = diag(A 1), D2 = diag(A^T 1) and A_n = D1^{-1/2} A D2^{-1/2}, take the
    singular vector pairs 2 .. l + 1 of A_n (randomized SVD), stack
    Z = [D1^{-1/2} U; D2^{-1/2} V] and run k-means++ on its rows: the first n_types labels
    are the word clusters, the rest the unit clusters. These are the steps of
    ``sklearn.cluster.SpectralCoclustering``, written out (with
    ``sklearn.utils.extmath.randomized_svd`` and ``sklearn.cluster.KMeans``) only to make
    l a choice: on 10 planted signed blocks in a 1,000 x 512 matrix with ``sign="abs"``,
    l = ceil(log2 10) = 4 gives unit ARI 0.81 at noise 0.05 and 0.59 at noise 0.3, whereas
    l = 9 recovers every block (ARI 1.0) up to noise 0.5, in the same time.

    A zero degree breaks the normalisation (1 / sqrt(0) times 0 is NaN), so all-zero rows
    and columns are taken out first and labelled -1 rather than padded with an epsilon,
    which would attach them to an arbitrary co-cluster; removing a zero row leaves every
    column degree unchanged and vice versa. The SVD of a few vectors and the k-means on
    n_types + n_units points in l dimensions are too small to gain from threads, so BLAS
    and OpenMP run on one thread during the fit (1,000 x 512 on 2 busy cores: 0.1-0.2 s,
    against 2.5-7 s with their default threads).
    """
    A = nonnegative_weights(S, sign=sign)
    if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or n_clusters < 2:
        raise ValueError(f"`n_clusters` must be an integer >= 2, got {n_clusters!r}.")
    if isinstance(n_init, bool) or int(n_init) != n_init or n_init < 1:
        raise ValueError(f"`n_init` must be an integer >= 1, got {n_init!r}.")
    k = int(n_clusters)
    n_sv = _vector_count(n_vectors, k)
    rows = np.flatnonzero(A.sum(axis=1) > 0)
    cols = np.flatnonzero(A.sum(axis=0) > 0)
    need = max(k, n_sv + 1)
    if min(rows.size, cols.size) < need:
        raise ValueError(
            f"`n_clusters`={k} with {n_sv} singular vector(s) needs at least {need} types and "
            f"{need} units with a non-zero weight under sign={sign!r}, got {rows.size} of "
            f"{A.shape[0]} types and {cols.size} of {A.shape[1]} units."
        )
    with threadpool_limits(limits=1):  # BLAS and OpenMP, for this call only
        labels = _spectral_labels(A[np.ix_(rows, cols)], k, n_sv, int(n_init), seed)
    row_labels = np.full(A.shape[0], NONE, dtype=np.int64)
    col_labels = np.full(A.shape[1], NONE, dtype=np.int64)
    row_labels[rows] = labels[: rows.size]
    col_labels[cols] = labels[rows.size :]
    return _relabel(row_labels, col_labels, k)


# --- edges between clusters -----------------------------------------------------------------


def _block_means(
    S: np.ndarray, row_labels: np.ndarray, col_labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum S over each (word cluster, unit cluster) block; return the sums and block sizes."""
    rows = np.zeros((k, S.shape[0]))
    kept = np.flatnonzero(row_labels >= 0)
    rows[row_labels[kept], kept] = 1.0
    cols = np.zeros((S.shape[1], k))
    kept = np.flatnonzero(col_labels >= 0)
    cols[kept, col_labels[kept]] = 1.0
    return rows @ S @ cols, rows.sum(axis=1), cols.sum(axis=0)


def cluster_edges(
    S: npt.ArrayLike,
    row_labels: npt.ArrayLike,
    col_labels: npt.ArrayLike,
    *,
    min_strength: float = 0.2,
) -> pd.DataFrame:
    """Edges between word clusters and unit clusters (seed 004, Eq. 8).

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses (not the non-negative weights that were clustered).
    row_labels : array-like of int, shape (n_types,)
    col_labels : array-like of int, shape (n_units,)
        From :func:`cocluster`; -1 (no cluster) is left out.
    min_strength : float, default 0.2
        Keep edges with ``|e| >= min_strength * max |e|`` (seed 004's case study filters
        links below 20 % of the maximum; its reference code has a [0.2, 1] slider).

    Returns
    -------
    edges : DataFrame
        One row per kept (word cluster, unit cluster) pair, all pairs considered (not only
        the paired co-clusters), strongest first. Columns ``word_cluster``,
        ``unit_cluster`` (int), ``weight`` (e, signed), ``strength`` (|e| / max |e|, in
        [0, 1]: 0 everywhere when every e is 0), ``sign`` ("positive", "negative" or
        "zero": the colour, orange or blue), ``n_words``, ``n_units`` (block size).

    Raises
    ------
    ValueError
        If `S` is not a finite 2-D array, the labels do not match it, or `min_strength` is
        outside [0, 1].

    Notes
    -----
    Seed 004, Eq. (8)::

        e(W_i, H_j) = 1 / (|W_i| |H_j|) * sum_{w in W_i, h in H_j} s(x(w))_h

    the mean *signed* response over the block; edge width is proportional to |e| and its
    colour gives the sign. Blocks are summed with two one-hot products, ``R S C``. A strength
    within 1e-12 of `min_strength` counts as reaching it (float round-off).
    """
    S = _check_matrix(S)
    row_labels = _check_labels(row_labels, S.shape[0], "row_labels", "row")
    col_labels = _check_labels(col_labels, S.shape[1], "col_labels", "column")
    if not 0.0 <= min_strength <= 1.0:
        raise ValueError(f"`min_strength` must be in [0, 1], got {min_strength!r}.")
    columns = ["word_cluster", "unit_cluster", "weight", "strength", "sign", "n_words", "n_units"]
    k = int(max(row_labels.max(), col_labels.max())) + 1
    if k == 0:
        return pd.DataFrame({name: [] for name in columns})
    sums, n_words, n_units = _block_means(S, row_labels, col_labels, k)
    word_cluster, unit_cluster = np.nonzero(np.outer(n_words, n_units) > 0)
    sizes_w, sizes_u = n_words[word_cluster], n_units[unit_cluster]
    weight = sums[word_cluster, unit_cluster] / (sizes_w * sizes_u)
    top = np.abs(weight).max() if weight.size else 0.0
    strength = np.abs(weight) / top if top > 0 else np.zeros_like(weight)
    sign = np.where(weight > 0, "positive", np.where(weight < 0, "negative", "zero"))
    edges = pd.DataFrame(
        {
            "word_cluster": word_cluster.astype(np.int64),
            "unit_cluster": unit_cluster.astype(np.int64),
            "weight": weight,
            "strength": strength,
            "sign": sign,
            "n_words": sizes_w.astype(np.int64),
            "n_units": sizes_u.astype(np.int64),
        }
    )
    edges = edges[edges["strength"] >= min_strength - 1e-12]
    edges = edges.sort_values(
        ["strength", "word_cluster", "unit_cluster"], ascending=[False, True, True], kind="stable"
    )
    return edges.reset_index(drop=True)


# --- memory chips ---------------------------------------------------------------------------


def memory_chips(
    S: npt.ArrayLike,
    col_labels: npt.ArrayLike,
    word_index: int | None = None,
    *,
    layout: str = "square",
    cells: int | None = None,
) -> pd.DataFrame:
    """Grid positions of every unit in its cluster's memory chip (seed 004, section 2.4).

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses.
    col_labels : array-like of int, shape (n_units,)
        Unit clusters from :func:`cocluster`; units labelled -1 form a last chip, -1.
    word_index : int or None, default None
        Row of `S` (the selected word) whose responses colour the cells; None leaves them
        NaN (grey cells).
    layout : {"square", "equal-height", "equal-width"}, default "square"
        - ``"square"``: each chip ``ceil(sqrt(m))`` cells wide and as many rows as needed
          for its m units.
        - ``"equal-height"``: every chip `cells` rows high, width proportional to its size
          (seed 004's default layout).
        - ``"equal-width"``: every chip `cells` columns wide, height proportional to its
          size (seed 004's alternative for unbalanced clusters).
    cells : int or None, default None
        Chip height (equal-height) or width (equal-width) in cells; None takes
        ``ceil(sqrt(largest cluster size))``. Ignored by ``"square"``.

    Returns
    -------
    chips : DataFrame
        One row per unit, by chip (0, 1, ..., then -1) and unit index within a chip.
        Columns ``unit``, ``cluster``, ``position`` (order in the chip), ``row``, ``col``
        (cell, filled row by row from the top left), ``chip_rows``, ``chip_cols`` (chip
        size in cells, for centre-aligned stacking), ``response`` (S[word_index, unit]:
        negative blue, positive orange).

    Raises
    ------
    ValueError
        If `S` or `col_labels` are malformed, `word_index` is out of range, `layout` is
        unknown or `cells` is not a positive integer.
    """
    S = _check_matrix(S)
    col_labels = _check_labels(col_labels, S.shape[1], "col_labels", "column")
    _check_choice(layout, LAYOUTS, "layout")
    if cells is not None and (isinstance(cells, bool) or int(cells) != cells or cells < 1):
        raise ValueError(f"`cells` must be an integer >= 1 or None, got {cells!r}.")
    if word_index is None:
        response = np.full(S.shape[1], np.nan)
    else:
        response = S[_check_index(word_index, S.shape[0], "word_index")]

    # chips 0, 1, ... then -1; units in index order inside a chip
    order = np.lexsort((np.arange(col_labels.size), col_labels, col_labels < 0))
    labels = col_labels[order]
    _, firsts, sizes = np.unique(labels, return_index=True, return_counts=True)
    reorder = np.argsort(firsts)  # np.unique puts -1 first; keep the order above
    firsts, sizes = firsts[reorder], sizes[reorder]
    fixed = int(cells) if cells is not None else math.isqrt(int(sizes.max()) - 1) + 1

    chip_rows = np.empty(sizes.size, dtype=np.int64)
    chip_cols = np.empty(sizes.size, dtype=np.int64)
    for i, m in enumerate(sizes.tolist()):
        if layout == "square":
            chip_cols[i] = math.isqrt(m - 1) + 1
            chip_rows[i] = -(-m // chip_cols[i])
        elif layout == "equal-height":
            chip_rows[i] = fixed
            chip_cols[i] = -(-m // fixed)
        else:
            chip_cols[i] = fixed
            chip_rows[i] = -(-m // fixed)

    chip = np.repeat(np.arange(sizes.size), sizes)
    position = np.arange(labels.size) - firsts[chip]
    return pd.DataFrame(
        {
            "unit": order.astype(np.int64),
            "cluster": labels,
            "position": position,
            "row": position // chip_cols[chip],
            "col": position % chip_cols[chip],
            "chip_rows": chip_rows[chip],
            "chip_cols": chip_cols[chip],
            "response": response[order],
        }
    )


# --- word clouds ----------------------------------------------------------------------------


def word_cloud_data(
    S: npt.ArrayLike,
    types: Sequence,
    counts: npt.ArrayLike,
    row_labels: npt.ArrayLike,
    col_labels: npt.ArrayLike,
    *,
    top_per_cluster: int | None = 30,
    size_by: str = "salience",
    font_range: tuple[float, float] = (9.0, 17.0),
) -> pd.DataFrame:
    """Each word cluster's words with a font size, for one word cloud per cluster.

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses.
    types : sequence of length n_types
        The words (rows of `S`).
    counts : array-like of int, shape (n_types,)
        Occurrences of each word (shown, and the tie-break).
    row_labels : array-like of int, shape (n_types,)
    col_labels : array-like of int, shape (n_units,)
        From :func:`cocluster`. Words labelled -1 are left out.
    top_per_cluster : int or None, default 30
        Words kept per cloud, the largest first; None keeps all.
    size_by : {"salience", "response", "centrality"}, default "salience"
        - ``"salience"``: the word's mean |ŝ| over the units of the paired unit cluster.
        - ``"response"``: its mean signed ŝ over those units (seed 004's reference code;
          a word that lowers the units gets a small font however strong it is).
        - ``"centrality"``: closeness to the cloud's centroid, ``max d - d`` with d the
          Euclidean distance from the word's row of `S` to the mean row of its cluster
          (the paper's stated intent that central words are larger).
    font_range : (float, float), default (9, 17)
        Font sizes in px that the measure is mapped onto linearly within each cloud
        (9-17 px in seed 004's reference code).

    Returns
    -------
    clouds : DataFrame
        Columns ``word_cluster``, ``word``, ``count``, ``salience``, ``response``,
        ``distance`` (all three measures, whichever sizes the words), ``size`` (px),
        ``rank`` (0 = largest in its cloud), sorted by cluster and rank.

    Raises
    ------
    ValueError
        If the inputs do not match `S`, or an option is out of range.

    Notes
    -----
    Seed 004, section 2.5. The paper says a word's size is "proportional to the Euclidean
    distance d(c_i, w_ij)" to its cluster's centroid and then that "more centered words
    will have larger sizes", a contradiction (errata list, item 1); its reference code
    instead sizes words by (1/|H_i|) sum_{h in H_i} s(x(w))_h, mapped linearly to 9-17 px.
    The default here is that mean taken over |s| (salience, seed 004 section 1.2: a larger
    |s| means a more salient word), so strongly negative words are as large as strongly
    positive ones. A word cluster whose paired unit cluster is empty averages over every
    unit. Within a cloud the sizes run linearly from the smallest to the largest measure
    of the kept words; a cloud whose words all measure the same gets the largest font.
    Ties in the measure go to the more frequent word, then to the earlier row.
    """
    S = _check_matrix(S)
    n_types, n_units = S.shape
    types = _check_types(types, n_types)
    counts = _check_counts(counts, n_types)
    row_labels = _check_labels(row_labels, n_types, "row_labels", "row")
    col_labels = _check_labels(col_labels, n_units, "col_labels", "column")
    _check_choice(size_by, SIZE_BY, "size_by")
    if top_per_cluster is not None and (
        int(top_per_cluster) != top_per_cluster or top_per_cluster < 1
    ):
        raise ValueError(
            f"`top_per_cluster` must be an integer >= 1 or None, got {top_per_cluster!r}."
        )
    low, high = (float(v) for v in font_range)
    if not 0 < low <= high:
        raise ValueError(
            f"`font_range` must be (low, high) with 0 < low <= high, got {font_range}."
        )

    frames = []
    for cluster in np.unique(row_labels[row_labels >= 0]).tolist():
        words = np.flatnonzero(row_labels == cluster)
        units = np.flatnonzero(col_labels == cluster)
        if units.size == 0:
            units = np.arange(n_units)
        block = S[np.ix_(words, units)]
        salience = np.abs(block).mean(axis=1)
        response = block.mean(axis=1)
        rows = S[words]
        distance = np.sqrt(((rows - rows.mean(axis=0)) ** 2).sum(axis=1))
        measure = {
            "salience": salience,
            "response": response,
            "centrality": distance.max() - distance,
        }[size_by]
        rank = np.lexsort((words, -counts[words], -measure))
        if top_per_cluster is not None:
            rank = rank[: int(top_per_cluster)]
        kept = measure[rank]
        spread = kept.max() - kept.min()
        size = low + (kept - kept.min()) / spread * (high - low) if spread > 0 else high
        frames.append(
            pd.DataFrame(
                {
                    "word_cluster": cluster,
                    "word": [types[i] for i in words[rank].tolist()],
                    "count": counts[words[rank]],
                    "salience": salience[rank],
                    "response": response[rank],
                    "distance": distance[rank],
                    "size": size,
                    "rank": np.arange(rank.size),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=[
                "word_cluster",
                "word",
                "count",
                "salience",
                "response",
                "distance",
                "size",
                "rank",
            ]
        )
    return pd.concat(frames, ignore_index=True)


# --- unit detail ----------------------------------------------------------------------------


def unit_detail(
    S: npt.ArrayLike,
    types: Sequence,
    unit: int,
    *,
    top_m: int = 10,
    by: str = "abs",
    counts: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Interpret a unit by its most responsive words (Ming et al. 2017, RNNVis).

    Parameters
    ----------
    S : array-like of shape (n_types, n_units)
        Signed expected responses.
    types : sequence of length n_types
        The words (rows of `S`).
    unit : int
        Column of `S`.
    top_m : int, default 10
        Number of words (all of them when there are fewer).
    by : {"abs", "extremes"}, default "abs"
        - ``"abs"``: the m words with the largest |ŝ|, largest first (the paper).
        - ``"extremes"``: the ceil(m/2) largest and floor(m/2) smallest ŝ, by decreasing
          ŝ (the reference code's 4 most positive and 4 most negative words for m = 8).
    counts : array-like of int, shape (n_types,), optional
        Occurrences of each word, added as a ``count`` column.

    Returns
    -------
    detail : DataFrame
        Columns ``rank`` (0 first), ``word``, ``response`` (ŝ, signed), ``magnitude``
        (|ŝ|), ``sign`` ("positive", "negative" or "zero") and ``count`` if given. Ties
        keep the row order of `S` (the most frequent word first).

    Raises
    ------
    ValueError
        If `S`, `types` or `counts` are malformed, `unit` is out of range, `top_m` is not
        a positive integer or `by` is unknown.
    """
    S = _check_matrix(S)
    n_types, n_units = S.shape
    types = _check_types(types, n_types)
    unit = _check_index(unit, n_units, "unit")
    if isinstance(top_m, bool) or int(top_m) != top_m or top_m < 1:
        raise ValueError(f"`top_m` must be an integer >= 1, got {top_m!r}.")
    _check_choice(by, DETAIL_BY, "by")
    if counts is not None:
        counts = _check_counts(counts, n_types)
    values = S[:, unit]
    m = min(int(top_m), n_types)
    if by == "abs":
        picked = np.argsort(-np.abs(values), kind="stable")[:m]
    else:
        descending = np.argsort(-values, kind="stable")
        n_high = -(-m // 2)
        lowest = descending[n_types - (m - n_high) :] if m > n_high else descending[:0]
        picked = np.concatenate([descending[:n_high], lowest])
    response = values[picked]
    detail = pd.DataFrame(
        {
            "rank": np.arange(picked.size),
            "word": [types[i] for i in picked.tolist()],
            "response": response,
            "magnitude": np.abs(response),
            "sign": np.where(response > 0, "positive", np.where(response < 0, "negative", "zero")),
        }
    )
    if counts is not None:
        detail["count"] = counts[picked]
    return detail
