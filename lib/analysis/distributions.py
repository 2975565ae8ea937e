"""Seed 001's "values of a neuron": activation histograms, KL filtering and dead neurons.

Every unit's values over the text become a probability distribution over bins of width
0.01; the layer's mean distribution is the reference, and units are ranked by the KL
divergence between their distribution and the reference, in both directions. Units that sit
at zero almost all the time are flagged, since they top the KL ranking without showing any
pattern (seed 001, section 1A).

- :func:`histograms`: every unit's histogram as a probability distribution, vectorized.
- :func:`clip_range`: the symmetric interval for unbounded signals (the cell state).
- :func:`reference_distribution`, :func:`kl_scores`, :func:`kl_from_acts`: the KL ranking.
- :func:`dead_neurons`, :func:`outside_share`: units at zero, values outside the interval.
- :func:`mean_abs_activation`, :func:`mean_abs_per_unit`: seed 001's dropout statistic.
- :func:`token_percentiles`: one unit's values grouped by token or POS tag, for RNNVis-style
  box plots (seed 004: 9/25/50/75/91 percentiles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.special

from lib.analysis._arrays import check_acts, column_sums

#: most bins one histogram may have: 4,000 bins of 0.01 span [-20, 20]; (512, 4000) float64
#: is 16 MB
MAX_BINS = 4_000
#: rows per block: (2048, 512) float64 temporaries are 8 MB each
_ROW_BLOCK = 2048
_LN2 = math.log(2.0)
#: a value closer than this (in bins) to a bin edge is checked against the edges themselves
_NEAR_EDGE = 1e-6


def _number(value: Any, name: str, rule: str, ok: Callable[[float], bool]) -> float:
    """`value` as a float if it is finite and ``ok(value)``; else ValueError with the rule."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and ok(number)):
        raise ValueError(f"`{name}` must be {rule}, got {value!r}.")
    return number


def _check_positive(value: Any, name: str) -> float:
    return _number(value, name, "a positive number", lambda x: x > 0)


def _check_range(value_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`value_range` must be a pair (lo, hi) of numbers, got {value_range!r}."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"`value_range` must be finite with lo < hi, got {value_range!r}.")
    return lo, hi


def _n_bins(lo: float, hi: float, bin_width: float) -> int:
    # 1e-9: a range that is a whole number of bins up to float round-off is not widened
    n_bins = max(1, math.ceil((hi - lo) / bin_width - 1e-9))
    if n_bins > MAX_BINS:
        raise ValueError(
            f"The range [{lo:g}, {hi:g}] holds {n_bins} bins of width {bin_width:g}, more than "
            f"{MAX_BINS}: use a wider `bin_width` or a narrower `value_range` (e.g. clip_range)."
        )
    return n_bins


def _block_bins(a: np.ndarray, edges: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of every value of a (rows, n_units) block, ``n_bins`` for values outside the range.

    Same rule as ``numpy.histogram``: bins are half-open [e_b, e_b+1) except the last, which
    also holds its right edge; the first guess ``floor((a - lo) / width)`` is corrected
    against the edges, so a value on an edge lands where the comparison says.
    """
    lo, hi = edges[0], edges[-1]
    a = a.astype(np.float64)
    inside = (a >= lo) & (a <= hi)  # False for NaN
    scaled = (a - lo) * (n_bins / (hi - lo))
    np.clip(scaled, 0, n_bins - 1, out=scaled)
    idx = scaled.astype(np.intp)
    # only a value within round-off of an edge can be in the wrong bin: check those alone
    scaled -= idx
    near = np.flatnonzero((scaled < _NEAR_EDGE) | (scaled > 1 - _NEAR_EDGE))
    if near.size:
        a_near, idx_near = a.ravel()[near], idx.ravel()[near]
        idx_near -= a_near < edges[idx_near]
        idx_near += (a_near >= edges[idx_near + 1]) & (idx_near != n_bins - 1)
        idx.ravel()[near] = idx_near
    idx[~inside] = n_bins
    return idx


def histograms(
    acts: npt.ArrayLike, *, bin_width: float = 0.01, value_range: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every unit's activation histogram as a probability distribution.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        E.g. ``trace.signals[(layer, "h")]``.
    bin_width : float, default 0.01
        Width of every bin (seed 001).
    value_range : (float, float), optional
        Interval ``(lo, hi)`` to bin; values outside it are dropped. Use ``(-1, 1)`` for
        ``h`` and candidates, ``(0, 1)`` for gates and :func:`clip_range` for the cell state.
        Default: the data's range rounded out to multiples of `bin_width`,
        ``(floor(min / w) w, ceil(max / w) w)``, so nothing is dropped.

    Returns
    -------
    edges : ndarray of float64, shape (n_bins + 1,)
        ``lo + bin_width * arange(n_bins + 1)``. When ``hi - lo`` is not a whole number of
        bins, `hi` is moved out to the next bin edge, so every bin has the same width: the
        values kept are those in ``[edges[0], edges[-1]]``.
    P : ndarray of float64, shape (n_units, n_bins)
        ``P[u, b]``: share of unit u's in-range values that fall in bin b. Every row sums to
        1, except that a unit with no value in range gets a row of zeros.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, empty or holds NaN/inf, `bin_width` is not positive,
        `value_range` is not a finite (lo, hi) with lo < hi, or the range holds more than
        :data:`MAX_BINS` bins.

    Notes
    -----
    P_u[b] = #{t : a_ut in bin b} / #{t : e_0 <= a_ut <= e_B} (seed 001, section 1A). The
    seed leaves open whether P is renormalised after the values outside a fixed interval
    are dropped; it is here, so every unit's row is a probability distribution over the
    interval and the KL divergences compare shapes, not the share of dropped values (see
    :func:`outside_share` for that share). Bins follow ``numpy.histogram``: half-open
    [e_b, e_b+1), the last one closed; a unit's row equals
    ``numpy.histogram(acts[:, u], bins=edges)[0]`` divided by its sum. Vectorized: the bins
    of all units are counted by one ``numpy.bincount`` per block of 2,048 rows, with each
    unit's bins offset by ``u * (n_bins + 1)``.
    """
    acts = check_acts(acts, keep_half=True)
    n_steps, n_units = acts.shape
    bin_width = _check_positive(bin_width, "bin_width")
    column_sums(acts)  # NaN / inf check
    if value_range is None:
        lo = math.floor(float(acts.min()) / bin_width) * bin_width
        hi = math.ceil(float(acts.max()) / bin_width) * bin_width
        hi = max(hi, lo + bin_width)  # a constant layer on a bin edge
    else:
        lo, hi = _check_range(value_range)
    n_bins = _n_bins(lo, hi, bin_width)
    # rounded so the edges read as decimals (-0.99, not -0.9899999999999999)
    edges = np.round(lo + bin_width * np.arange(n_bins + 1, dtype=np.float64), 12)
    width = n_bins + 1  # one extra bin per unit collects the dropped values
    offsets = np.arange(n_units, dtype=np.intp) * width
    counts = np.zeros(n_units * width, dtype=np.int64)
    for first in range(0, n_steps, _ROW_BLOCK):
        idx = _block_bins(acts[first : first + _ROW_BLOCK], edges, n_bins)
        idx += offsets
        counts += np.bincount(idx.ravel(), minlength=counts.size)
    counts = counts.reshape(n_units, width)[:, :n_bins].astype(np.float64)
    kept = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, kept, out=np.zeros_like(counts), where=kept > 0)
    return edges, P


def outside_share(acts: npt.ArrayLike, value_range: Sequence[float]) -> np.ndarray:
    """Share of every unit's values that fall outside `value_range` (dropped by histograms).

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    value_range : (float, float)
        Closed interval ``[lo, hi]``.

    Returns
    -------
    share : ndarray of float64, shape (n_units,)
        In [0, 1].
    """
    acts = check_acts(acts, keep_half=True)
    lo, hi = _check_range(value_range)
    outside = np.zeros(acts.shape[1], dtype=np.int64)
    for first in range(0, acts.shape[0], _ROW_BLOCK):
        a = acts[first : first + _ROW_BLOCK]
        outside += np.count_nonzero((a < lo) | (a > hi), axis=0)
    return outside / acts.shape[0]


def clip_range(
    acts: npt.ArrayLike, *, percentile: float = 99.0, bin_width: float | None = None
) -> tuple[float, float]:
    """Return the symmetric interval ``(-k, k)`` holding `percentile` % of the layer's |values|.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        A whole layer, e.g. ``trace.signals[(layer, "c")]``.
    percentile : float, default 99.0
        In (0, 100]; 100 gives ``max |a|``.
    bin_width : float, optional
        When given, k is rounded up to a whole number of bins (at least one), so the
        interval's edges are bin edges.

    Returns
    -------
    lo, hi : float
        ``-k, k``.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, empty or holds NaN/inf, `percentile` is outside (0, 100], or
        k is 0 (the layer is zero at that percentile) and no `bin_width` is given.

    Notes
    -----
    k = the `percentile`-th percentile of |a_ut| over all units and steps of the layer
    (``numpy.percentile``, linear interpolation). Seed 001 compares cell-state histograms
    over a fixed interval "chosen by observing what values the cell state contains" and
    leaves the bounds open; this is its suggested default.
    """
    acts = check_acts(acts, keep_half=True)
    column_sums(acts)  # NaN / inf check
    percentile = _number(percentile, "percentile", "a number in (0, 100]", lambda x: 0 < x <= 100)
    k = float(np.percentile(np.abs(acts).ravel(), percentile))
    if bin_width is not None:
        bin_width = _check_positive(bin_width, "bin_width")
        k = round(max(1, math.ceil(k / bin_width - 1e-9)) * bin_width, 12)
    elif k == 0.0:
        raise ValueError(
            f"The {percentile:g}th percentile of |acts| is 0 (a layer of zeros): pass "
            "`bin_width` or a higher `percentile`."
        )
    return -k, k


# --- KL ranking -----------------------------------------------------------------------------


def _check_distributions(P: npt.ArrayLike, name: str, ndim: int) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != ndim or P.shape[-1] == 0 or P.size == 0:
        shape = "(n_units, n_bins)" if ndim == 2 else "(n_bins,)"
        raise ValueError(f"`{name}` must be {ndim}-D {shape} and non-empty, got shape {P.shape}.")
    if not np.isfinite(P).all() or (P < 0).any():
        raise ValueError(f"`{name}` must hold finite non-negative probabilities.")
    return P


def reference_distribution(P: npt.ArrayLike) -> np.ndarray:
    """Return the layer's reference: the mean of its units' distributions (Ryšánek 2023).

    Parameters
    ----------
    P : array-like of shape (n_units, n_bins)
        From :func:`histograms`.

    Returns
    -------
    Q : ndarray of float64, shape (n_bins,)
        Sums to 1.

    Raises
    ------
    ValueError
        If `P` is not 2-D, holds negative or non-finite values, or every row is zero.

    Notes
    -----
    Q[b] = (1 / N) sum_u P_u[b] over the N units whose row is not all zero (a unit with no
    value inside the interval carries no distribution and is left out, so Q sums to 1).
    """
    P = _check_distributions(P, "P", 2)
    used = P.sum(axis=1) > 0
    if not used.any():
        raise ValueError("Every row of `P` is zero: no unit has a value inside the interval.")
    return P[used].mean(axis=0)


def _smooth(P: np.ndarray, epsilon: float) -> np.ndarray:
    P = P + epsilon
    return P / P.sum(axis=-1, keepdims=True)


def kl_scores(
    P: npt.ArrayLike, Q: npt.ArrayLike | None = None, *, epsilon: float = 1e-10
) -> dict[str, np.ndarray]:
    """KL divergence of every unit's distribution from the reference, both ways, in bits.

    Parameters
    ----------
    P : array-like of shape (n_units, n_bins)
        Units' distributions, from :func:`histograms`. Rows are normalised after smoothing,
        so counts work too.
    Q : array-like of shape (n_bins,), optional
        Reference distribution. Default: :func:`reference_distribution` of `P`.
    epsilon : float, default 1e-10
        Additive smoothing, applied to both sides. 0 turns it off: a bin where one side is
        0 and the other is not then gives ``inf`` in one direction.

    Returns
    -------
    scores : dict of str to ndarray of float64, shape (n_units,)
        ``"forward"``: D_KL(P_u || Q); ``"reverse"``: D_KL(Q || P_u); ``"sum"``: their sum,
        the Jeffreys divergence (seed 001's suggested ranking). All >= 0; 0 when P_u = Q.
        NaN for a unit whose row of `P` is all zero (no value inside the interval).

    Raises
    ------
    ValueError
        If `P` or `Q` has the wrong shape or holds negative or non-finite values,
        `epsilon` is negative, or `Q` sums to 0.

    Notes
    -----
    D_KL(p || q) = sum_b p_b log2(p_b / q_b), with p <- (p + eps) / sum(p + eps) and the same
    for q. Seed 001 quotes the thesis's formula with a wrong leading minus sign; this is the
    corrected form, computed with ``scipy.special.rel_entr`` (natural log) divided by ln 2,
    and equal to ``scipy.stats.entropy(p, q, base=2)`` on the smoothed rows. Without the
    smoothing D(Q || P_u) is infinite for almost every unit, since some bin is empty in P_u
    but not in the layer mean.
    """
    P = _check_distributions(P, "P", 2)
    Q = reference_distribution(P) if Q is None else _check_distributions(Q, "Q", 1)
    if Q.shape[0] != P.shape[1]:
        raise ValueError(
            f"`Q` must have one value per bin of `P` ({P.shape[1]}), got shape {Q.shape}."
        )
    epsilon = _number(epsilon, "epsilon", "a number >= 0", lambda x: x >= 0)
    if Q.sum() == 0:
        raise ValueError("`Q` sums to 0: it is not a distribution.")
    empty = P.sum(axis=1) == 0
    forward = np.full(P.shape[0], np.nan)
    reverse = np.full(P.shape[0], np.nan)
    P, Q = _smooth(P[~empty], epsilon), _smooth(Q, epsilon)[None, :]
    # round-off can leave a tiny negative value for identical distributions
    forward[~empty] = np.maximum(scipy.special.rel_entr(P, Q).sum(axis=1) / _LN2, 0.0)
    reverse[~empty] = np.maximum(scipy.special.rel_entr(Q, P).sum(axis=1) / _LN2, 0.0)
    return {"forward": forward, "reverse": reverse, "sum": forward + reverse}


def kl_from_acts(
    acts: npt.ArrayLike,
    *,
    bin_width: float = 0.01,
    value_range: Sequence[float] | None = None,
    epsilon: float = 1e-10,
) -> dict[str, np.ndarray]:
    """:func:`kl_scores` of :func:`histograms` against the layer's reference, from `acts`.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    bin_width, value_range
        As in :func:`histograms`.
    epsilon
        As in :func:`kl_scores`.

    Returns
    -------
    scores : dict of str to ndarray of float64, shape (n_units,)
        ``"forward"``, ``"reverse"``, ``"sum"``, as in :func:`kl_scores`.
    """
    _, P = histograms(acts, bin_width=bin_width, value_range=value_range)
    return kl_scores(P, reference_distribution(P), epsilon=epsilon)


# --- dead neurons and the dropout statistic -------------------------------------------------


def dead_neurons(acts: npt.ArrayLike, *, threshold: float = 0.01, share: float = 0.9) -> np.ndarray:
    """Units that are near zero at more than `share` of the steps (seed 001).

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    threshold : float, default 0.01
        |a| <= threshold counts as near zero (seed 001's interval <-0.01, 0.01>).
    share : float, default 0.9
        In [0, 1].

    Returns
    -------
    dead : ndarray of bool, shape (n_units,)

    Raises
    ------
    ValueError
        If `acts` is not 2-D or empty, `threshold` is negative or `share` is outside [0, 1].

    Notes
    -----
    dead_u = #{t : |a_ut| <= threshold} / n_steps > share; exactly 90 % near zero is not
    dead. Seed 001 leaves these units out of its analysis: in a hidden state they top the
    KL ranking without showing any pattern. NaN never counts as near zero.
    """
    acts = check_acts(acts, keep_half=True)
    threshold = _number(threshold, "threshold", "a number >= 0", lambda x: x >= 0)
    share = _number(share, "share", "a number in [0, 1]", lambda x: 0 <= x <= 1)
    near_zero = np.zeros(acts.shape[1], dtype=np.int64)
    for first in range(0, acts.shape[0], _ROW_BLOCK):
        block = acts[first : first + _ROW_BLOCK]
        near_zero += np.count_nonzero((block >= -threshold) & (block <= threshold), axis=0)
    return near_zero / acts.shape[0] > share


def mean_abs_per_unit(acts: npt.ArrayLike) -> np.ndarray:
    """Mean |activation| of every unit over the steps.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)

    Returns
    -------
    mean_abs : ndarray of float64, shape (n_units,)

    Raises
    ------
    ValueError
        If `acts` is not 2-D, empty or holds NaN/inf.
    """
    acts = check_acts(acts, keep_half=True)
    column_sums(acts)  # NaN / inf check
    total = np.zeros(acts.shape[1], dtype=np.float64)
    for first in range(0, acts.shape[0], _ROW_BLOCK):
        total += np.abs(acts[first : first + _ROW_BLOCK]).sum(axis=0, dtype=np.float64)
    return total / acts.shape[0]


def mean_abs_activation(acts: npt.ArrayLike) -> float:
    """Seed 001's dropout statistic: the mean |activation| over all units and steps.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)

    Returns
    -------
    mean_abs : float

    Notes
    -----
    mean_abs = (1 / (N n)) sum_u sum_t |a_ut| (seed 001, section 5.1.2: higher dropout gave a
    lower mean |activation|). The seed does not say which layer and state; the caller picks.
    """
    return float(mean_abs_per_unit(acts).mean())


# --- one unit by token ----------------------------------------------------------------------


def token_percentiles(
    values: npt.ArrayLike,
    groups: Sequence[str] | np.ndarray,
    *,
    percentiles: Sequence[float] = (9, 25, 50, 75, 91),
    min_count: int = 5,
    top: int | None = 30,
) -> pd.DataFrame:
    """One unit's values grouped by token (or POS tag): counts, percentiles and mean.

    Parameters
    ----------
    values : array-like of shape (T,)
        E.g. ``acts[:, unit]``, or the expectancy. NaN values are left out.
    groups : sequence of str or array-like of shape (T,)
        The group of every step: ``trace.tokens``, or POS tags.
    percentiles : sequence of float, default (9, 25, 50, 75, 91)
        In [0, 100]; seed 004's box plot: box 25-75, whiskers 9-91.
    min_count : int, default 5
        Groups with fewer (non-NaN) values are left out.
    top : int or None, default 30
        Keep the `top` most frequent of the remaining groups; None keeps all.

    Returns
    -------
    table : pandas.DataFrame
        One row per group, most frequent first (ties by group, ascending); columns
        ``group`` (first), ``count``, ``p9``, ``p25``, ``p50``, ``p75``, ``p91`` (one per
        percentile, named ``f"p{q:g}"``) and ``mean``. Empty (with these columns) when no
        group has `min_count` values.

    Raises
    ------
    ValueError
        If `values` is not 1-D numeric, `groups` has another length, a percentile is outside
        [0, 100], or `min_count` / `top` is not a positive integer.

    Notes
    -----
    Percentiles are ``numpy.percentile``'s default (linear interpolation), computed for all
    groups at once with ``pandas`` ``groupby().quantile``. Seed 004 (RNNVis) draws each
    unit's response to its top words as box plots with a 25-75 % box, 9-91 % whiskers and
    a mean marker.
    """
    v = np.asarray(values)
    if v.ndim != 1 or v.dtype.kind not in "fiub":
        raise ValueError(f"`values` must be 1-D numbers (T,), got shape {v.shape} {v.dtype}.")
    g = np.asarray(groups, dtype=object) if not isinstance(groups, np.ndarray) else groups
    if g.ndim != 1 or g.shape[0] != v.shape[0]:
        raise ValueError(
            f"`groups` must have one entry per value ({v.shape[0]}), got shape {g.shape}."
        )
    qs = [float(q) for q in percentiles]
    if not qs or any(not 0.0 <= q <= 100.0 for q in qs):
        raise ValueError(f"`percentiles` must lie in [0, 100], got {list(percentiles)!r}.")
    if int(min_count) != min_count or min_count < 1:
        raise ValueError(f"`min_count` must be an integer >= 1, got {min_count!r}.")
    if top is not None and (int(top) != top or top < 1):
        raise ValueError(f"`top` must be an integer >= 1 or None, got {top!r}.")
    names = [f"p{q:g}" for q in qs]
    df = pd.DataFrame({"group": g, "value": v.astype(np.float64)}).dropna(subset=["value"])
    counts = df["group"].value_counts()
    counts = counts[counts >= min_count]
    order = pd.DataFrame({"group": counts.index, "count": counts.to_numpy()})
    order = order.sort_values(["count", "group"], ascending=[False, True], kind="stable")
    if top is not None:
        order = order.head(int(top))
    columns = ["group", "count", *names, "mean"]
    if order.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c == "group" else float) for c in columns}
        )
    kept = df[df["group"].isin(order["group"])]
    by_group = kept.groupby("group", sort=False)["value"]
    quant = by_group.quantile([q / 100.0 for q in qs]).unstack()
    quant.columns = names
    table = order.set_index("group").join(quant).join(by_group.mean().rename("mean"))
    return table.reset_index()[columns].reset_index(drop=True)


__all__ = [
    "MAX_BINS",
    "clip_range",
    "dead_neurons",
    "histograms",
    "kl_from_acts",
    "kl_scores",
    "mean_abs_activation",
    "mean_abs_per_unit",
    "outside_share",
    "reference_distribution",
    "token_percentiles",
]
