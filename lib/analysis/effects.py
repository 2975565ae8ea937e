"""How strongly each neuron tracks a feature, with an interval and a calibrated relevance.

Significance alone does not single out a neuron: over a long text most of a layer passes a
circular-shift test for a real feature, and Dahlberg's relevance R (KTH thesis, section 1.5)
mostly measures how rough a neuron is. This module reports, for every unit at once:

- an *effect size*: the AUROC for a binary feature (how well the unit separates the
  feature's steps from the others), Pearson's r for a numeric one, on a common 0..1
  ``size`` scale, with a *block-bootstrap interval* (:func:`auroc_interval`,
  :func:`correlation_interval`) that keeps the autocorrelation of text and states;
- Dahlberg's R calibrated against its own circular-shift null, :func:`relevance_z`, so a
  rough neuron unrelated to the feature scores near 0;
- :func:`effect_table`: one row per neuron with the effect, its interval, the circular-shift
  p-value and Benjamini-Hochberg q-value (:mod:`lib.analysis.significance`) and whether it
  is a *finding*: at least the minimum effect (:data:`MIN_AUROC_EFFECT`,
  :data:`MIN_CORRELATION`), q < alpha and an interval that excludes chance.

Ranks are computed once per trace (:func:`rank_acts`) and reused for every feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.fft

from lib.analysis._arrays import (
    check_acts,
    column_sums,
    map_unit_blocks,
    n_threads,
    work_dtype,
)
from lib.analysis.features import Feature, FeatureError, as_mask, check_binary
from lib.analysis.significance import (
    ShiftSpectra,
    _circular_correlation,
    _feature_values,
    _fft_length,
    _sortable,
    benjamini_hochberg,
    circular_shift_test,
    correlation,
    default_min_shift,
)

#: |AUROC - 0.5| a unit needs before it is called a finding: AUROC 0.6 (or 0.4), i.e. a
#: random feature step beats a random other step 60 % of the time
MIN_AUROC_EFFECT: float = 0.1
MIN_CORRELATION: float = math.sin(math.pi * MIN_AUROC_EFFECT)
"""|r| a unit needs for a numeric feature: sin(pi / 10) = 0.309.

The same bar as :data:`MIN_AUROC_EFFECT` on the scale both effects share, the probability
that two random steps are ordered alike by the unit and the feature (concordance). The
AUROC is that probability for a binary feature; for a numeric one, under bivariate
normality, it is 1/2 + arcsin(r) / pi (Kendall's tau = (2 / pi) arcsin r, Greiner 1909;
Kendall 1948), so |concordance - 1/2| >= 0.1 means |r| >= sin(0.1 pi). It is also about
Cohen's (1988) "medium" correlation, 0.3."""

#: shortest block the bootstrap uses: about a line of code or a sentence at character level
MIN_BLOCK = 64
#: most memory one chunk of units may take in the interval functions (histograms, columns)
HIST_BYTES = 32 * 2**20
#: block starts per block length (the grid of the moving-block bootstrap, see _coverage)
STARTS_PER_BLOCK = 2
#: quantile bins per unit for the bootstrap AUROC (see auroc_interval)
AUROC_BINS = 64
#: a unit whose values all lie within this of each other (times max(1, max |a|)) is constant
CONSTANT_TOLERANCE = 1e-6
#: fewest steps effect_table accepts
MIN_STEPS = 100
#: which units get an interval: one index, indices, or None for all
Units = int | Sequence[int] | np.ndarray | None
#: float32 holds every mid-rank (a multiple of 1/2) exactly below 2**23 steps
_FLOAT32_RANKS = 2**23


# --- ranks ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RankedActs:
    """Every unit's ranks over the steps, computed once per trace and reused across features.

    Parameters
    ----------
    ranks : ndarray of shape (n_steps, n_units)
        Mid-ranks 1..n_steps of each unit's activations (ties get the mean of their ranks),
        float32 (exact below 2**23 steps), float64 beyond.
    constant : ndarray of bool, shape (n_units,)
        Units whose values all lie within :data:`CONSTANT_TOLERANCE` x max(1, max |a|):
        dead or constant neurons, which no effect can describe.
    """

    ranks: np.ndarray
    constant: np.ndarray

    @property
    def n_steps(self) -> int:
        """Steps (tokens) ranked."""
        return int(self.ranks.shape[0])

    @property
    def n_units(self) -> int:
        """Units ranked."""
        return int(self.ranks.shape[1])


def _mid_ranks(sorted_values: np.ndarray, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """Mid-ranks (1-based) of row-sorted values, shape (n, T), in sorted order, as `dtype`.

    The rank is the position + 1; only the elements of tied runs are visited to average
    theirs (linear passes, no sort), so rare ties cost almost nothing.
    """
    n, n_steps = sorted_values.shape
    ranks = np.broadcast_to(np.arange(1, n_steps + 1, dtype=dtype), (n, n_steps)).copy()
    same_as_next = np.zeros((n, n_steps), dtype=bool)
    same_as_next[:, :-1] = sorted_values[:, 1:] == sorted_values[:, :-1]
    if not same_as_next.any():
        return ranks
    same_as_prev = np.zeros((n, n_steps), dtype=bool)
    same_as_prev[:, 1:] = same_as_next[:, :-1]
    members = np.flatnonzero(same_as_next | same_as_prev)  # flat indices of tied elements
    starts_run = ~same_as_prev.ravel()[members]
    run = np.cumsum(starts_run) - 1
    first = members[starts_run] % n_steps  # position of each run's first element
    size = np.bincount(run)
    flat = ranks.reshape(-1)
    flat[members] = (first + (size - 1) / 2 + 1)[run]
    return ranks


def _rank_block(
    block: np.ndarray, dtype: npt.DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mid-ranks (as `dtype`) of every row of a (n, T) block, and each row's min and max."""
    n, n_steps = block.shape
    if block.dtype == np.float32:
        # one int64 key per value: the sortable value bits above, the step below; numpy's
        # value sort of int64 is several times faster than an argsort
        keys = np.left_shift(_sortable(block), 32, dtype=np.int64)
        keys |= np.arange(n_steps, dtype=np.int64)
        keys.sort(axis=1)
        order = (keys & 0xFFFFFFFF).astype(np.intp)
        values = keys >> 32
        low = np.take_along_axis(block, order[:, :1], axis=1)[:, 0]
        high = np.take_along_axis(block, order[:, -1:], axis=1)[:, 0]
    else:
        order = np.argsort(block, axis=1, kind="stable")
        values = np.take_along_axis(block + 0.0, order, axis=1)  # + 0 ties -0.0 with 0.0
        low, high = values[:, 0], values[:, -1]
    ranks = np.empty((n, n_steps), dtype=dtype)
    np.put_along_axis(ranks, order, _mid_ranks(values, dtype), axis=1)
    return ranks, low.astype(np.float64), high.astype(np.float64)


def rank_acts(acts: npt.ArrayLike) -> RankedActs:
    """Rank every unit's activations over the steps, once per trace.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        Activations, e.g. ``trace.signals[(layer, name)]`` (float16 is read in blocks).

    Returns
    -------
    ranked : RankedActs
        Mid-ranks (ties averaged, as ``scipy.stats.rankdata(method="average")``) and the
        constant units.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has no step or holds NaN/inf.

    Notes
    -----
    Each unit's column is sorted once (float32 values are packed with their step into one
    int64 key, whose sort is several times faster than an argsort); the AUROC of any
    feature then costs one sum of ranks (:func:`effect_table`), and the bootstrap's quantile
    bins come from the ranks too. Units run in blocks on threads (:mod:`lib.analysis._arrays`).

    Examples
    --------
    >>> import numpy as np
    >>> ranked = rank_acts(np.array([[0.5, 1.0], [0.1, 1.0], [0.5, 1.0], [0.9, 1.0]]))
    >>> ranked.ranks[:, 0]
    array([2.5, 1. , 2.5, 4. ], dtype=float32)
    >>> ranked.constant
    array([False,  True])
    """
    acts = check_acts(acts, min_steps=1, keep_half=True)
    n_steps, n_units = acts.shape
    column_sums(acts)  # NaN / inf check
    dtype = np.float32 if n_steps < _FLOAT32_RANKS else np.float64
    ranks = np.empty((n_steps, n_units), dtype=dtype)
    low = np.empty(n_units)
    high = np.empty(n_units)

    def block_ranks(first: int, block: np.ndarray) -> None:
        r, lo, hi = _rank_block(block, dtype)
        ranks[:, first : first + block.shape[0]] = r.T
        low[first : first + block.shape[0]] = lo
        high[first : first + block.shape[0]] = hi

    map_unit_blocks(block_ranks, acts)
    scale = np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
    return RankedActs(ranks=ranks, constant=(high - low) <= CONSTANT_TOLERANCE * scale)


def _check_ranked(ranked: RankedActs, shape: tuple[int, ...]) -> None:
    if not isinstance(ranked, RankedActs):
        raise TypeError(f"`ranked` must be a RankedActs from rank_acts, got {type(ranked)}.")
    if ranked.ranks.shape != shape:
        raise ValueError(
            f"`ranked` was computed for activations of shape {ranked.ranks.shape}, "
            f"these have shape {shape}: call rank_acts on these activations."
        )


def ranked_auroc(ranked: RankedActs, mask: npt.ArrayLike) -> np.ndarray:
    """AUROC of every unit for a binary feature, from its ranks.

    Parameters
    ----------
    ranked : RankedActs
        :func:`rank_acts` of the activations.
    mask : array-like of bool, shape (n_steps,)

    Returns
    -------
    auc : ndarray of float64, shape (n_units,)
        Equal to :func:`lib.analysis.significance.auroc` and
        ``sklearn.metrics.roc_auc_score(mask, acts[:, n])`` (ties count 1/2).

    Raises
    ------
    FeatureError
        If `mask` has the wrong shape or matches no step or every step.

    Notes
    -----
    The Mann-Whitney U of the feature's steps: U = R1 - n1 (n1 + 1) / 2 with R1 the sum of
    their mid-ranks, and AUROC = U / (n1 n0). One sum of ranks per feature for all units
    (over the smaller group: all ranks add up to T (T + 1) / 2), exact in float64.

    Examples
    --------
    >>> import numpy as np
    >>> acts = np.array([[0.9, 0.1], [0.2, 0.5], [0.8, 0.4], [0.1, 0.6]])
    >>> ranked_auroc(rank_acts(acts), [True, False, True, False])
    array([1., 0.])
    """
    mask = check_binary(as_mask(mask, ranked.n_steps), "mask")
    return _auroc_from_ranks(ranked.ranks, mask)


def _auroc_from_ranks(ranks: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """AUROC of every unit from its mid-ranks: U / (n1 n0), U = R1 - n1 (n1 + 1) / 2."""
    n_steps = ranks.shape[0]
    n_pos = int(np.count_nonzero(mask))
    n_neg = n_steps - n_pos
    # sum over the smaller group: the ranks of all steps add up to T (T + 1) / 2
    if n_pos <= n_neg:
        rank_sum = ranks[mask].sum(axis=0, dtype=np.float64)
    else:
        rank_sum = n_steps * (n_steps + 1) / 2 - ranks[~mask].sum(axis=0, dtype=np.float64)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# --- the block bootstrap ----------------------------------------------------------------------


def block_length(n_steps: int) -> int:
    """Block length of the bootstrap for a series of `n_steps` steps.

    Parameters
    ----------
    n_steps : int
        Length of the text in tokens.

    Returns
    -------
    block : int
        max(:data:`MIN_BLOCK`, ceil(n_steps ** (1/3))), at most n_steps // 8 (so there are
        at least 8 blocks), at least 1.

    Notes
    -----
    A block must be longer than the series' memory for the resamples to keep its
    dependence, and short enough for many blocks to fit. The n^(1/3) rate is the
    MSE-optimal order for bootstrap variances (Hall, Horowitz & Jing 1995; Künsch 1989
    requires only L -> inf with L / n -> 0); it gives 47 at 100,000 steps and 100 at 10^6.
    The floor of 64 tokens is the autocorrelation scale of text at character level, about
    one line of code or one sentence; LSTM states that carry a quote or bracket over
    longer spans need longer blocks, which `block=` of the interval functions takes.

    Examples
    --------
    >>> block_length(100_000), block_length(10**6), block_length(200)
    (64, 100, 25)
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"`n_steps` must be an integer >= 1, got {n_steps!r}.")
    n_steps = int(n_steps)
    length = max(MIN_BLOCK, math.ceil(round(n_steps ** (1 / 3), 9)))
    return max(1, min(length, n_steps // 8))


def _coverage(
    n_steps: int, block: int, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Resamples of the moving-block bootstrap as counts per sub-block.

    Returns ``counts`` (n_boot, n_sub) float32: how often each sub-block is in each
    resample, and ``sub`` (n_steps,) int: the sub-block of every step. A resample's
    statistic is then a function of ``counts @ S`` for per-sub-block sums S; the per-step
    weights of resample b are ``counts[b, sub]``.
    """
    sub_len = math.ceil(block / STARTS_PER_BLOCK)
    n_sub = math.ceil(n_steps / sub_len)
    k = min(STARTS_PER_BLOCK, n_sub)
    n_draws = math.ceil(n_sub / k)
    starts = rng.integers(0, n_sub, size=(n_boot, n_draws))
    covered = (starts[:, :, None] + np.arange(k)) % n_sub  # circular wrap
    flat = (np.arange(n_boot)[:, None, None] * n_sub + covered).ravel()
    counts = np.bincount(flat, minlength=n_boot * n_sub).reshape(n_boot, n_sub)
    sub = np.arange(n_steps) // sub_len
    return counts.astype(np.float32), sub


def _check_interval_args(
    n_steps: int,
    n_units: int,
    n_boot: int,
    block: int | None,
    confidence: float,
    units: Units,
) -> tuple[int, np.ndarray]:
    if int(n_boot) != n_boot or n_boot < 10:
        raise ValueError(f"`n_boot` must be an integer >= 10, got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must lie strictly between 0 and 1, got {confidence!r}.")
    if block is None:
        block = block_length(n_steps)
    if int(block) != block or not 1 <= block <= n_steps // 2:
        raise ValueError(
            f"`block` must be an integer in [1, n_steps // 2 = {n_steps // 2}] so that the "
            f"bootstrap has at least 2 blocks, got {block!r}."
        )
    return int(block), _unit_list(units, n_units)


def _unit_list(units: Units, n_units: int) -> np.ndarray:
    if units is None:
        return np.arange(n_units)
    chosen = np.atleast_1d(np.asarray(units))
    if chosen.size == 0:
        return np.zeros(0, dtype=np.intp)
    if chosen.ndim != 1 or chosen.dtype.kind not in "iu":
        raise ValueError(f"`units` must be unit indices (integers), got {units!r:.80}.")
    if chosen.min() < 0 or chosen.max() >= n_units:
        bad = chosen[(chosen < 0) | (chosen >= n_units)]
        raise ValueError(f"`units` must lie in [0, {n_units}), got {bad[:5].tolist()}.")
    return np.unique(chosen).astype(np.intp)


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of (n_boot, n) resampled statistics; NaN where half are NaN."""
    tail = (1 - confidence) / 2
    enough = np.count_nonzero(np.isfinite(stats), axis=0) >= stats.shape[0] / 2
    low = np.full(stats.shape[1], np.nan)
    high = np.full(stats.shape[1], np.nan)
    if enough.any():
        q = np.nanquantile(stats[:, enough], [tail, 1 - tail], axis=0)
        low[enough], high[enough] = q[0], q[1]
    return low, high


def _binned_auroc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC from histograms on common bins, (..., n_bins) each; ties in a bin count 1/2."""
    below = np.cumsum(neg, axis=-1) - neg  # negatives in lower bins
    u = (pos * (below + neg / 2)).sum(axis=-1)
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / (n_pos * n_neg)


def auroc_interval(
    acts: npt.ArrayLike,
    mask: npt.ArrayLike,
    *,
    n_boot: int = 200,
    block: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    units: Units = None,
    ranked: RankedActs | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Block-bootstrap confidence interval of every (chosen) unit's AUROC for a binary feature.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    mask : array-like of bool, shape (n_steps,)
        True at the feature's steps.
    n_boot : int, default 200
        Bootstrap resamples (at least 10).
    block : int, optional
        Block length in steps; default :func:`block_length`.
    confidence : float, default 0.95
        Coverage of the interval.
    seed : int, default 0
        Seed of the resampling; the same seed gives the same resamples for every unit.
    units : int or sequence of int, optional
        The units to compute an interval for; default all of them.
    ranked : RankedActs, optional
        :func:`rank_acts` of `acts`, when already computed.

    Returns
    -------
    low, high : ndarray of float64, shape (n_units,)
        Percentile interval of the AUROC; NaN for units not in `units`, and where fewer
        than half the resamples hold both feature and other steps (a very rare feature).

    Raises
    ------
    ValueError
        If `acts` is not 2-D or holds NaN/inf, or an argument is out of range.
    FeatureError
        If `mask` has the wrong shape or matches no step or every step.

    Notes
    -----
    Resampling: the moving-block bootstrap of Künsch (1989) with circular wrap (the
    circular block bootstrap of Politis & Romano 1992): each resample joins blocks of
    length L (rounded up to a multiple of :data:`STARTS_PER_BLOCK`) drawn with replacement,
    so the dependence within a block survives; block starts lie on a grid of
    L / :data:`STARTS_PER_BLOCK` steps. Activations and feature are resampled together.

    Statistic without re-sorting: each unit's steps fall into :data:`AUROC_BINS` quantile
    bins of its ranks (equal ranks share a bin), and every sub-block of the grid keeps a
    histogram of its feature steps and of its other steps. A resample's histograms are a
    weighted sum of those (one matrix product for all resamples), and its AUROC is

        AUROC* = sum_b P_b (N_<b + N_b / 2) / (n1 n0)

    with P_b, N_b its feature and other steps in bin b and N_<b the others below: pairs in
    different bins are ordered exactly, pairs within a bin count 1/2. The binned AUROC of
    the whole text differs from the exact one (from ranks) by the within-bin pairs; that
    difference is added to every resample, so the bias cancels and what is left is its
    change between resamples (below 0.005 in AUROC in the tests, against
    ``sklearn.metrics.roc_auc_score`` on every resample). The interval is the
    percentile interval of the resampled AUROCs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = np.repeat(rng.random(100) < 0.3, 20)          # 2,000 steps, runs of 20
    >>> acts = rng.standard_normal((2000, 2)) + np.outer(mask, [1.0, 0.0])
    >>> low, high = auroc_interval(acts, mask)
    >>> bool(low[0] > 0.6), bool(low[1] < 0.5 < high[1])
    (True, True)
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    n_steps, n_units = acts.shape
    mask = check_binary(as_mask(mask, n_steps), "mask")
    block, chosen = _check_interval_args(n_steps, n_units, n_boot, block, confidence, units)
    low = np.full(n_units, np.nan)
    high = np.full(n_units, np.nan)
    if chosen.size == 0:
        return low, high
    if ranked is None:
        ranks = rank_acts(acts[:, chosen]).ranks
    else:
        _check_ranked(ranked, acts.shape)
        ranks = ranked.ranks[:, chosen]
    counts, sub = _coverage(n_steps, block, int(n_boot), np.random.default_rng(seed))
    low[chosen], high[chosen] = _percentiles(_auroc_resamples(ranks, mask, counts, sub), confidence)
    return low, high


def _auroc_resamples(
    ranks: np.ndarray, mask: np.ndarray, counts: np.ndarray, sub: np.ndarray
) -> np.ndarray:
    """Each resample's AUROC of each unit, (n_boot, n_units), from binned ranks.

    `ranks` (n_steps, n_units) mid-ranks; `counts`, `sub` from :func:`_coverage`.
    """
    n_steps = ranks.shape[0]
    exact = _auroc_from_ranks(ranks, mask)
    n_bins = min(AUROC_BINS, n_steps)
    bins = np.minimum(((ranks - 1) * (n_bins / n_steps)).astype(np.intp), n_bins - 1)
    n_sub = counts.shape[1]
    stats = np.empty((counts.shape[0], ranks.shape[1]))
    # units in chunks of at most HIST_BYTES of histograms (n_sub, chunk, 2, n_bins) float32
    chunk = max(1, HIST_BYTES // (n_sub * 2 * n_bins * 4))
    for first in range(0, ranks.shape[1], chunk):
        cols = slice(first, first + chunk)
        k = bins[:, cols].shape[1]
        # one bincount for the chunk: flat index ((sub, unit), feature?, bin)
        flat = ((sub[:, None] * k + np.arange(k)) * 2 + mask[:, None]) * n_bins + bins[:, cols]
        hist = np.bincount(flat.ravel(), minlength=n_sub * k * 2 * n_bins).astype(np.float32)
        hist = hist.reshape(n_sub, k, 2, n_bins)
        whole = hist.sum(axis=0, dtype=np.float64)
        offset = exact[cols] - _binned_auroc(whole[:, 1], whole[:, 0])
        resampled = (counts @ hist.reshape(n_sub, -1)).reshape(-1, k, 2, n_bins)
        pos = resampled[:, :, 1].astype(np.float64)
        stats[:, cols] = _binned_auroc(pos, resampled[:, :, 0]) + offset
    return stats


def correlation_interval(
    acts: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    n_boot: int = 200,
    block: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    units: Units = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Block-bootstrap confidence interval of every (chosen) unit's Pearson r with a feature.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    values : array-like of shape (n_steps,)
        A numeric feature (booleans count as 0/1).
    n_boot, block, confidence, seed, units
        As in :func:`auroc_interval`.

    Returns
    -------
    low, high : ndarray of float64, shape (n_units,)
        Percentile interval of r; NaN for units not in `units`. A constant unit has r = 0
        in every resample.

    Raises
    ------
    ValueError
        If `acts` is not 2-D or holds NaN/inf, or an argument is out of range.
    FeatureError
        If `values` has the wrong shape, is not finite, or is constant.

    Notes
    -----
    The moving-block bootstrap of Künsch (1989) with circular wrap (Politis & Romano 1992),
    as in :func:`auroc_interval`. Each sub-block of the grid keeps the sums of x, x^2 and
    x y for every unit and of 1, y and y^2 (x, y centred on the whole text's means, which
    keeps float64 sums exact enough); a resample's sums are one matrix product away and
    give its r exactly:

        r* = (n Sxy - Sx Sy) / sqrt((n Sxx - Sx^2) (n Syy - Sy^2))

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.cumsum(rng.standard_normal(2000))
    >>> acts = np.column_stack([y + 5 * rng.standard_normal(2000), rng.standard_normal(2000)])
    >>> low, high = correlation_interval(acts, y)
    >>> bool(low[0] > 0.5), bool(low[1] < 0 < high[1])
    (True, True)
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    n_steps, n_units = acts.shape
    y, _ = _feature_values(values, n_steps)
    block, chosen = _check_interval_args(n_steps, n_units, n_boot, block, confidence, units)
    low = np.full(n_units, np.nan)
    high = np.full(n_units, np.nan)
    if chosen.size == 0:
        return low, high
    y = y - y.mean()
    counts, sub = _coverage(n_steps, block, int(n_boot), np.random.default_rng(seed))
    weights = counts.astype(np.float64)
    # n, Sy, Syy of every resample, shared by all units
    n, sy, syy = (weights @ _sub_sums(np.column_stack([np.ones(n_steps), y, y * y]), sub)).T
    var_y = n * syy - sy * sy
    stats = np.empty((counts.shape[0], chosen.size))
    # units in chunks: three float64 columns per unit and step stay within HIST_BYTES
    chunk = max(1, HIST_BYTES // (3 * 8 * n_steps))
    for first in range(0, chosen.size, chunk):
        x = acts[:, chosen[first : first + chunk]].astype(np.float64)
        spread = x.max(axis=0) - x.min(axis=0)
        constant = spread <= CONSTANT_TOLERANCE * np.maximum(1.0, np.abs(x).max(axis=0))
        x -= column_sums(x) / n_steps  # centred: the float64 sums stay exact enough
        sums = weights @ _sub_sums(np.hstack([x, x * x, x * y[:, None]]), sub)
        sx, sxx, sxy = np.split(sums, 3, axis=1)
        var_x = n[:, None] * sxx - sx * sx
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (n[:, None] * sxy - sx * sy[:, None]) / np.sqrt(var_x * var_y[:, None])
        r[:, constant] = 0.0
        stats[:, first : first + chunk] = r
    low[chosen], high[chosen] = _percentiles(np.clip(stats, -1.0, 1.0), confidence)
    return low, high


def _sub_sums(columns: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """Sum the rows of `columns` within each sub-block (`sub`: 0, 0, ..., 1, 1, ...)."""
    starts = np.flatnonzero(np.diff(sub, prepend=-1))
    return np.add.reduceat(columns, starts, axis=0)


# --- Dahlberg's relevance against its own null ------------------------------------------------


def _null_shifts(n_steps: int, n_shifts: int, seed: int) -> np.ndarray:
    """`n_shifts` distinct random shifts in [min_shift, n_steps - min_shift] (sorted)."""
    if int(n_shifts) != n_shifts or n_shifts < 2:
        raise ValueError(f"`n_shifts` must be an integer >= 2, got {n_shifts!r}.")
    min_shift = default_min_shift(n_steps)
    allowed = n_steps - 2 * min_shift + 1
    if allowed < 2:
        raise FeatureError(
            f"The text has {n_steps} tokens: too short for a circular-shift null (it needs "
            "at least 4 tokens; use a longer text)."
        )
    rng = np.random.default_rng(seed)
    picked = rng.choice(allowed, size=min(int(n_shifts), allowed), replace=False)
    return np.sort(picked) + min_shift


def _spike_sums(acts: np.ndarray, mask: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """sum_t m_t-s |2 a_t - a_t-1 - a_t+1| for every unit and shift, (n_units, n_shifts).

    The second difference has relevance's reflect padding (a_-1 := a_1, a_T := a_T-2); the
    sums over every rotation of the mask come out of one FFT correlation per unit block.
    """
    n_steps, n_units = acts.shape
    n_pos = int(np.count_nonzero(mask))
    dtype = work_dtype(acts.dtype)
    centred_mask = mask - n_pos / n_steps
    fft_len = _fft_length(n_steps)
    conj_m = np.conj(scipy.fft.rfft(centred_mask.astype(dtype), n=fft_len))
    conj_m[0] = 0
    fft_workers = 1 if n_threads(acts) > 1 else -1
    out = np.empty((n_units, shifts.size))

    def block_sums(first: int, a: np.ndarray) -> None:
        spike = np.empty_like(a)
        np.subtract(2 * a[:, 1:-1], a[:, :-2], out=spike[:, 1:-1])
        spike[:, 1:-1] -= a[:, 2:]
        spike[:, 0] = 2 * (a[:, 0] - a[:, 1])
        spike[:, -1] = 2 * (a[:, -1] - a[:, -2])
        np.abs(spike, out=spike)
        mean = spike.mean(axis=1, dtype=np.float64)
        spike -= mean.astype(dtype)[:, None]
        spectrum = scipy.fft.rfft(spike, n=fft_len, axis=1, workers=fft_workers)
        del spike
        spectrum *= conj_m
        cross = _circular_correlation(spectrum, n_steps, fft_len, fft_workers)
        out[first : first + a.shape[0]] = cross[:, shifts] + n_pos * mean[:, None]

    map_unit_blocks(block_sums, acts)
    return out


def _relevance_z(
    acts: np.ndarray,
    mask: np.ndarray,
    cross: np.ndarray,
    shifts: np.ndarray,
    constant: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return R at shift 0 (unnormalized) and its z against R at the other `shifts`.

    `cross` is :func:`~lib.analysis.significance.circular_shift_test`'s at `shifts`, whose
    first element is 0.
    """
    n_steps = acts.shape[0]
    n_pos = int(np.count_nonzero(mask))
    n_neg = n_steps - n_pos
    # mean inside - mean outside = T c(s) / (n1 n0), c the centred cross-covariance
    scores = np.abs(cross) * (n_steps / (n_pos * n_neg))
    scores += _spike_sums(acts, mask, shifts) / n_pos
    observed, null = scores[:, 0], scores[:, 1:]
    centre = null.mean(axis=1)
    spread = null.std(axis=1, ddof=1)
    z = np.zeros(scores.shape[0])
    # a spread at float32 round-off of the scores is no spread
    varies = spread > 1e-6 * np.maximum(np.abs(centre), 1e-30)
    np.divide(observed - centre, spread, out=z, where=varies & ~constant)
    return observed, z


def _constant_units(acts: np.ndarray) -> np.ndarray:
    low = acts.min(axis=0).astype(np.float64)
    high = acts.max(axis=0).astype(np.float64)
    scale = np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
    return (high - low) <= CONSTANT_TOLERANCE * scale


def relevance_z(
    acts: npt.ArrayLike, mask: npt.ArrayLike, *, n_shifts: int = 100, seed: int = 0
) -> np.ndarray:
    """Dahlberg's relevance R of every unit, calibrated against its own circular-shift null.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    mask : array-like of bool, shape (n_steps,)
        True at the feature's steps.
    n_shifts : int, default 100
        Random rotations of the mask in the null (distinct, at least
        :func:`~lib.analysis.significance.default_min_shift` steps from 0 either way).
    seed : int, default 0
        Seed of the choice of rotations.

    Returns
    -------
    z : ndarray of float64, shape (n_units,)
        (R - mean_null) / sd_null per unit: how many null standard deviations the unit's R
        lies above what the same unit scores for a rotated feature. Near 0 for a unit
        unrelated to the feature however rough it is; 0 for a constant unit.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has fewer than 3 steps or holds NaN/inf, or `n_shifts` < 2.
    FeatureError
        If `mask` has the wrong shape or matches no step or every step.

    Notes
    -----
    Dahlberg's relevance (KTH thesis, section 1.5; :func:`lib.analysis.relevance.relevance`)

        R_n = |mean_{t in f} a_nt - mean_{t not in f} a_nt|
              + mean_{t in f} |2 a_nt - a_n,t-1 - a_n,t+1|

    adds a spike term that is large for any rough unit, feature or not, so R ranks units by
    roughness as much as by the feature. Rotating the mask by s steps keeps its structure
    and the unit's own roughness and breaks only their alignment; R_n(s) for the rotated
    mask is the null, and z_n = (R_n(0) - mean_s R_n(s)) / sd_s R_n(s) (ddof 1). Both terms
    of R(s) for every s come from FFT correlations: the mean difference is
    T c_n(s) / (n1 n0), c_n the centred cross-covariance of
    :func:`~lib.analysis.significance.circular_shift_test`, and the spike term is the mask
    correlated with |(1, -2, 1) * a_n|. R(s) equals ``relevance(acts, np.roll(mask, s),
    normalize=False)``.

    Examples
    --------
    Unit 0 spikes at the feature, unit 1 is rough white noise:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = rng.random(1000) < 0.2
    >>> acts = np.column_stack([mask + 0.3 * rng.standard_normal(1000), rng.standard_normal(1000)])
    >>> z = relevance_z(acts, mask)
    >>> bool(z[0] > 10), bool(abs(z[1]) < 3)
    (True, True)
    """
    acts = check_acts(acts, min_steps=3, keep_half=True)
    mask = check_binary(as_mask(mask, acts.shape[0]), "mask")
    shifts = np.concatenate([[0], _null_shifts(acts.shape[0], n_shifts, seed)])
    _, cross = circular_shift_test(acts, mask, keep=shifts)
    return _relevance_z(acts, mask, cross, shifts, _constant_units(acts))[1]


# --- the table --------------------------------------------------------------------------------


def _min_steps(alpha: float) -> int:
    """Fewest steps for which the shift test can give p < alpha (and at least MIN_STEPS)."""
    n = MIN_STEPS
    while 1 / (n - 2 * default_min_shift(n) + 2) >= alpha:
        n = max(n + 1, int(n * 1.01))
    return n


def effect_table(
    acts: npt.ArrayLike,
    feature: Feature | npt.ArrayLike,
    *,
    ranked: RankedActs | None = None,
    n_boot: int = 200,
    ci_units: Units = 10,
    alpha: float = 0.01,
    seed: int = 0,
    with_relevance: bool = True,
    spectra: ShiftSpectra | None = None,
) -> pd.DataFrame:
    """Every neuron's effect size for a feature, with its interval, test and verdict.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        Activations, e.g. ``trace.signals[(layer, name)]``.
    feature : Feature or array-like of shape (n_steps,)
        A :class:`~lib.analysis.features.Feature`, or its values: booleans make a binary
        feature, numbers a numeric one.
    ranked : RankedActs, optional
        :func:`rank_acts` of `acts`, computed once and reused across features (a binary
        feature needs it; it is computed here when not given).
    n_boot : int, default 200
        Block-bootstrap resamples per interval.
    ci_units : int or sequence of int or None, default 10
        Which units get an interval: an int N, the N largest effect sizes (constant units
        left out); a sequence, those units; None, every unit (slow on a large layer).
    alpha : float, default 0.01
        False discovery rate: a finding needs q < alpha.
    seed : int, default 0
        Seed of the bootstrap and of the relevance null.
    with_relevance : bool, default True
        Add ``R`` and ``R_z`` for a binary feature. They take a second FFT correlation per
        unit and decide no verdict, so a caller that only needs the effects (the Neuron
        Atlas, every feature of a bank) leaves them out; the other columns are the same.
    spectra : ShiftSpectra, optional
        :func:`~lib.analysis.significance.shift_spectra` of `acts`, computed once per
        trace: the circular-shift test then takes no forward FFT (same result).

    Returns
    -------
    table : DataFrame, one row per neuron
        ``neuron``; ``effect``: the AUROC (binary) or Pearson r (numeric); ``size``: the
        effect on a 0..1 scale, 2 |AUROC - 0.5| or |r|; ``direction``: "higher on the
        feature" / "lower on the feature" or "rises with it" / "falls with it" ("constant"
        for a constant unit, "" at exactly no effect); ``ci_low``, ``ci_high``: the
        block-bootstrap interval of ``effect`` (NaN outside `ci_units`); ``p``: the
        circular-shift p-value; ``q``: its Benjamini-Hochberg q-value over the layer;
        ``constant``: dead or constant neuron; ``finding``; and for binary features ``R``
        (Dahlberg's relevance, normalized to the layer's largest; from the same FFTs as
        the null, so equal to :func:`~lib.analysis.relevance.relevance` to float32
        round-off) and ``R_z`` (:func:`relevance_z`), unless `with_relevance` is False.
        Sorted by ``finding``, then ``size``, descending, constant neurons last (ties: lower
        neuron first).

    Raises
    ------
    FeatureError
        If the feature does not fit the activations, matches no step or every step, is
        constant, or the text is too short for the circular-shift test to reach p < alpha.
    ValueError
        If `acts` is not 2-D or holds NaN/inf, or an argument is out of range.

    Notes
    -----
    A neuron is a *finding* when all of these hold:

    - its effect is at least the minimum: 2 |AUROC - 0.5| >= 2 :data:`MIN_AUROC_EFFECT`
      (0.2) or |r| >= :data:`MIN_CORRELATION` (0.309);
    - q < alpha, q the Benjamini & Hochberg (1995) adjustment of the circular-shift p-values
      (:func:`~lib.analysis.significance.circular_shift_test`, which tests |r|, with
      ``tail=True``: a unit beyond every null shift gets the normal tail of its own null
      instead of the floor 1 / (1 + n_null), without which no lone neuron of a 256-unit
      layer could reach q < 0.01 on a text under ~26,000 tokens);
    - for a unit with an interval, the interval excludes chance (0.5 or 0);
    - it is not constant.

    Over a long text most units of a layer pass the test for a real feature, so the effect
    size, not the p-value, is what singles a neuron out; the minimum keeps "significant
    but tiny" effects from being reported. The AUROC comes from the shared ranks: the
    Mann-Whitney U = R1 - n1 (n1 + 1) / 2 with R1 the sum of mid-ranks at the feature's
    steps (ties count 1/2, as ``sklearn.metrics.roc_auc_score``), one sum per feature for
    all units. Intervals: :func:`auroc_interval`, :func:`correlation_interval`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = np.repeat(rng.random(150) < 0.3, 20)                     # 3,000 steps
    >>> acts = rng.standard_normal((3000, 4)).astype(np.float32)
    >>> acts[:, 2] += 1.5 * mask                                        # unit 2 tracks it
    >>> table = effect_table(acts, mask, ci_units=2)
    >>> int(table.loc[0, "neuron"]), table.loc[0, "direction"], bool(table.loc[0, "finding"])
    (2, 'higher on the feature', True)
    >>> int(table["finding"].sum())
    1
    """
    acts = check_acts(acts, min_steps=1, keep_half=True)
    n_steps, n_units = acts.shape
    if isinstance(feature, Feature):
        values, binary, name = feature.values, feature.kind == "binary", feature.name
    else:
        values = np.asarray(feature)
        binary, name = values.dtype == bool, "feature"
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must lie strictly between 0 and 1, got {alpha!r}.")
    n_top: int | None = None  # ci_units=N: the N largest effects
    picked: np.ndarray | None = None  # ci_units=[...]: those units
    if isinstance(ci_units, (int, np.integer)):
        if ci_units < 0:
            raise ValueError(
                f"`ci_units` must be an integer >= 0, a sequence or None, got {ci_units!r}."
            )
        n_top = int(ci_units)
    elif ci_units is not None:
        picked = _unit_list(ci_units, n_units)
    column_sums(acts)  # NaN / inf check before any other work
    needed = _min_steps(alpha)
    if n_steps < needed:
        raise FeatureError(
            f"The text has {n_steps} tokens: too short for the circular-shift test to give "
            f"p < {alpha:g} (it needs at least {needed}). Use a longer text."
        )
    if ranked is not None:
        _check_ranked(ranked, acts.shape)

    if binary:
        mask = check_binary(as_mask(values, n_steps, name=name), name)
        if ranked is None:
            ranked = rank_acts(acts)
        constant = ranked.constant
        effect = _auroc_from_ranks(ranked.ranks, mask)
        effect[constant] = 0.5
        size = 2 * np.abs(effect - 0.5)
        shifts = np.concatenate([[0], _null_shifts(n_steps, 100, seed)])
        p, cross = circular_shift_test(acts, mask, keep=shifts, tail=True, spectra=spectra)
        if with_relevance:
            raw, r_z = _relevance_z(acts, mask, cross, shifts, constant)
        minimum, chance = 2 * MIN_AUROC_EFFECT, 0.5
        words = ("higher on the feature", "lower on the feature")
    else:
        y, _ = _feature_values(values, n_steps)
        constant = _constant_units(acts) if ranked is None else ranked.constant
        effect = correlation(acts, y)
        effect[constant] = 0.0
        size = np.abs(effect)
        p = circular_shift_test(acts, y, tail=True, spectra=spectra)[0]
        minimum, chance = MIN_CORRELATION, 0.0
        words = ("rises with it", "falls with it")
    p[constant] = 1.0
    q = benjamini_hochberg(p)

    if picked is not None:
        chosen = picked
    else:
        order = np.lexsort((np.arange(n_units), -size, constant))  # constant ones last
        chosen = order if n_top is None else order[:n_top][~constant[order[:n_top]]]
    if binary:
        low, high = auroc_interval(
            acts, mask, n_boot=n_boot, seed=seed, units=chosen, ranked=ranked
        )
    else:
        low, high = correlation_interval(acts, y, n_boot=n_boot, seed=seed, units=chosen)
    with_interval = np.zeros(n_units, dtype=bool)
    with_interval[chosen] = True
    excludes = (low > chance) | (high < chance)  # False where NaN
    finding = (size >= minimum) & (q < alpha) & ~constant & (excludes | ~with_interval)

    direction = np.where(effect > chance, words[0], np.where(effect < chance, words[1], ""))
    direction = np.where(constant, "constant", direction)
    table = pd.DataFrame(
        {
            "neuron": np.arange(n_units),
            "effect": effect,
            "size": size,
            "direction": direction,
            "ci_low": low,
            "ci_high": high,
            "p": p,
            "q": q,
            "constant": constant,
            "finding": finding,
        }
    )
    if binary and with_relevance:
        raw[constant] = 0.0
        top = raw.max()
        table["R"] = raw / top if top > 0 else np.zeros(n_units)
        table["R_z"] = r_z
    table = table.sort_values(
        ["constant", "finding", "size"], ascending=[True, False, False], kind="stable"
    )
    return table.reset_index(drop=True)
