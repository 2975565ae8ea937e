"""Is a unit's link to a feature real? Effect sizes, p-values and agreement between scores.

Dahlberg's thesis ranks units by its relevance score but gives no way to tell a real neuron from
noise. This module adds, per unit and vectorized over units:

- effect sizes: :func:`auroc` (how well one unit separates feature from non-feature steps),
  :func:`point_biserial` and :func:`correlation` (Pearson r);
- a p-value that respects the autocorrelation of text and activations,
  :func:`circular_shift_pvalues` (:func:`circular_shift_test` also returns the
  cross-covariances at chosen shifts), and the Benjamini-Hochberg correction for testing every
  unit of a layer, :func:`benjamini_hochberg`;
- :func:`rank_agreement`, to show how far two rankings (e.g. R and AUROC) agree.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
import scipy.special

from lib.analysis._arrays import (
    block_units,
    check_acts,
    column_sums,
    map_unit_blocks,
    n_threads,
    work_dtype,
)
from lib.analysis.features import FeatureError, as_mask, check_binary

#: rows per block in :func:`correlation`: short float32 running sums, a 2 MB buffer at 512 units
_ROW_BLOCK = 1024
#: |r| within this of the observed |r| counts as "at least as large" (float32 FFT round-off
#: is ~1e-6 in correlation units; an exactly periodic feature repeats r at its period)
_TIE_TOLERANCE = 1e-5


# --- AUROC ----------------------------------------------------------------------------------


def _sortable(a: np.ndarray) -> np.ndarray:
    """int32 (from float32) keys in the same order as the values; -0.0 and 0.0 tie."""
    bits = (a + np.float32(0)).view(np.int32)  # + 0 turns -0.0 into 0.0
    return bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))


def _sorted_labels(a: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort every row of `a`, negatives before positives among equal values.

    Returns the sorted values (or integer keys in the same order) and the sorted labels
    (bool), both of shape a.shape.
    """
    if a.dtype == np.float32:
        # pack value and label into one int64 key and use numpy's fast value sort
        keys = np.left_shift(_sortable(a), 1, dtype=np.int64)
        keys |= labels
        keys.sort(axis=1)
        # the labels are the lowest bits: read them as bytes, a cheap bool view
        low_byte = 0 if sys.byteorder == "little" else 7
        labels_sorted = (keys.view(np.uint8)[:, low_byte::8] & 1).view(bool)
        return keys >> 1, labels_sorted
    # float64: a stable argsort of the columns in (negatives, positives) order
    neg_first = np.argsort(labels, kind="stable")
    a = a[:, neg_first] + 0.0
    order = np.argsort(a, axis=1, kind="stable")
    return np.take_along_axis(a, order, axis=1), labels[neg_first][order]


def _tied_pairs(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row, the number of (positive, negative) pairs with equal values.

    `values` and the boolean `labels` are row-sorted, shape (n, T). Only the
    elements of tied runs are visited, in linear passes (no sorting), so rare ties cost
    almost nothing and saturated units (half their steps at exactly 1.0) stay fast.
    """
    n, n_steps = values.shape
    same_as_next = values[:, 1:] == values[:, :-1]
    if not same_as_next.any():
        return np.zeros(n)
    same_as_prev = np.zeros((n, n_steps), dtype=bool)
    same_as_prev[:, 1:] = same_as_next
    in_run = same_as_prev.copy()
    in_run[:, :-1] |= same_as_next
    members = np.flatnonzero(in_run)  # flat (row, step) indices of tied elements, in order
    starts_run = ~same_as_prev.ravel()[members]
    run = np.cumsum(starts_run) - 1
    size = np.bincount(run)
    pos = np.bincount(run, weights=labels.ravel()[members])
    row = members[starts_run] // n_steps
    return np.bincount(row, weights=pos * (size - pos), minlength=n)


def auroc(acts: npt.ArrayLike, mask: npt.ArrayLike) -> np.ndarray:
    """Area under the ROC curve of every unit as a detector of the feature.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    mask : array-like of bool, shape (n_steps,)

    Returns
    -------
    auc : ndarray of float64, shape (n_units,)
        P(a_t > a_s) + P(a_t = a_s) / 2 for a random feature step t and a random
        non-feature step s: 1 when the unit is higher at every feature step, 0 when lower,
        0.5 for no link. Scale-free, and blind to the spike shape that relevance rewards.

    Raises
    ------
    ValueError
        If `acts` is not 2-D or holds NaN/inf, or `mask` has the wrong shape.
    FeatureError
        If `mask` matches no step or every step.

    Notes
    -----
    AUROC = U / (n1 n0), the Mann-Whitney U statistic of the feature steps
    (U = R1 - n1 (n1 + 1) / 2 with R1 the sum of their ranks, ties averaged). Each unit's
    column is sorted once with feature steps after equal non-feature steps; the positions
    p_i of the n1 feature steps then give U = sum(p_i) - n1 (n1 - 1) / 2 - ties / 2, where
    ties counts (feature, non-feature) pairs of equal value. Not in Dahlberg's thesis; equal to
    ``sklearn.metrics.roc_auc_score(mask, acts[:, n])``.

    Examples
    --------
    Unit 0 is higher at both feature steps than at the others, unit 1 lower:

    >>> import numpy as np
    >>> acts = np.array([[0.9, 0.1], [0.2, 0.5], [0.8, 0.4], [0.1, 0.6]])
    >>> auroc(acts, [True, False, True, False])
    array([1., 0.])
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    n_steps, n_units = acts.shape
    mask = check_binary(as_mask(mask, n_steps), "mask")
    column_sums(acts)  # NaN / inf check
    n_pos = int(np.count_nonzero(mask))
    n_neg = n_steps - n_pos
    out = np.empty(n_units, dtype=np.float64)

    def block_auroc(first: int, block: np.ndarray) -> None:
        n = block.shape[0]
        values, labels = _sorted_labels(block, mask)
        positions = np.flatnonzero(labels).reshape(n, n_pos) % n_steps
        u = positions.sum(axis=1, dtype=np.float64) - n_pos * (n_pos - 1) / 2
        u -= _tied_pairs(values, labels) / 2
        out[first : first + n] = u / (n_pos * n_neg)

    map_unit_blocks(block_auroc, acts)
    return out


# --- Pearson correlation --------------------------------------------------------------------


def _feature_values(feature: npt.ArrayLike, n_steps: int) -> tuple[np.ndarray, bool]:
    """Return the feature as float64 (n_steps,) and whether it is binary; check it varies."""
    values = np.asarray(feature)
    if values.ndim != 1 or values.shape[0] != n_steps:
        raise FeatureError(
            f"The feature must have shape ({n_steps},) to match the activations, "
            f"got {values.shape}."
        )
    if values.dtype == bool:
        check_binary(values, "feature")
        return values.astype(np.float64), True
    if values.dtype.kind not in "iuf":
        raise FeatureError(f"The feature must be boolean or numeric, got dtype {values.dtype}.")
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise FeatureError("The feature holds NaN or inf.")
    if values.max() == values.min():
        raise FeatureError(f"The feature is constant ({values[0]:g}) over all {n_steps} steps.")
    return values, False


def correlation(acts: npt.ArrayLike, values: npt.ArrayLike) -> np.ndarray:
    """Pearson correlation between every unit and a numeric (or binary) feature.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    values : array-like of shape (n_steps,)
        E.g. :func:`lib.analysis.features.bracket_depth`; booleans count as 0/1.

    Returns
    -------
    r : ndarray of float64, shape (n_units,)
        In [-1, 1]. A constant unit (variance at float round-off) has no defined r and
        gets 0 (no linear link).

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has fewer than 2 steps or holds NaN/inf.
    FeatureError
        If `values` has the wrong shape, is not finite, or is constant.

    Notes
    -----
    r_n = sum_t (a_nt - mean a_n)(v_t - mean v) / sqrt(sum_t (a_nt - mean a_n)^2
    sum_t (v_t - mean v)^2). The means are float64 sums; the centred products are summed
    in the activations' dtype over blocks of 1,024 rows and the block sums in float64, so
    float32 activations are never copied whole and r stays within ~1e-6 of
    ``scipy.stats.pearsonr`` per unit. Not in Dahlberg's thesis.
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    n_steps, n_units = acts.shape
    v, _ = _feature_values(values, n_steps)
    mean = column_sums(acts) / n_steps  # also the NaN / inf check
    dtype = work_dtype(acts.dtype)  # float16 blocks are centred into float32
    v = v - v.mean()
    v_cast, mean_cast = v.astype(dtype), mean.astype(dtype)
    cross = np.zeros(n_units)
    squares = np.zeros(n_units)
    buffer = np.empty((min(_ROW_BLOCK, n_steps), n_units), dtype=dtype)
    for i in range(0, n_steps, _ROW_BLOCK):
        rows = acts[i : i + _ROW_BLOCK]
        centred = np.subtract(rows, mean_cast, out=buffer[: rows.shape[0]])
        # einsum, not BLAS: waking BLAS threads for each small block costs more than it saves
        cross += np.einsum("i,ij->j", v_cast[i : i + _ROW_BLOCK], centred)
        squares += np.einsum("ij,ij->j", centred, centred)
    # a constant unit centres to exactly 0 (float32) or to round-off (float64)
    round_off = n_steps * (8 * np.finfo(dtype).eps * np.abs(mean)) ** 2
    varies = squares > round_off
    r = np.zeros(n_units)
    np.divide(cross, np.sqrt(squares * (v @ v)), out=r, where=varies)
    return np.clip(r, -1.0, 1.0)


def point_biserial(acts: npt.ArrayLike, mask: npt.ArrayLike) -> np.ndarray:
    """Point-biserial correlation of every unit with a binary feature, shape (n_units,).

    The Pearson r between the activations and the 0/1 mask (see :func:`correlation`);
    r = (mean_f - mean_notf) sqrt(n1 n0) / (n sd), a signed, variance-scaled version of
    relevance's mean-difference term. Raises FeatureError if the mask matches no step or
    every step.
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    mask = check_binary(as_mask(mask, acts.shape[0]), "mask")
    return correlation(acts, mask)


# --- circular-shift p-values ----------------------------------------------------------------


def _fft_length(n_steps: int) -> int:
    """FFT length for circular correlations over `n_steps` steps.

    `n_steps` itself when its FFT is fast (11-smooth); otherwise a fast length of at least
    2 n_steps - 1, over which the zero-padded linear correlation is wrapped back
    (:func:`_circular_correlation`). A length with a large prime factor (92,371 = 71 x
    1301) is ~10x slower to transform than a smooth one, padded ~2x.
    """
    if scipy.fft.next_fast_len(n_steps) == n_steps:
        return n_steps
    return int(scipy.fft.next_fast_len(2 * n_steps - 1))


def _circular_correlation(
    spectrum: np.ndarray, n_steps: int, fft_len: int, workers: int
) -> np.ndarray:
    """Return c(s) = sum_t a_t+s f_t mod n_steps from rfft(a, fft_len) * conj(rfft(f, fft_len)).

    Shape (n, n_steps). With padding (fft_len > n_steps) the inverse FFT is the linear
    correlation at lags -n_steps < k < n_steps, and c(s) = lin(s) + lin(s - n_steps).
    """
    lin = scipy.fft.irfft(spectrum, n=fft_len, axis=1, workers=workers)
    if fft_len == n_steps:
        return lin
    return lin[:, :n_steps] + lin[:, fft_len - n_steps :]


def default_min_shift(n_steps: int) -> int:
    """Default exclusion around shift 0 for :func:`circular_shift_pvalues`: max(1, T // 100)."""
    return max(1, n_steps // 100)


def circular_shift_pvalues(
    acts: npt.ArrayLike,
    feature: npt.ArrayLike,
    *,
    min_shift: int | None = None,
    n_shifts: int | None = None,
    spectra: ShiftSpectra | None = None,
) -> np.ndarray:
    """p-value of every unit's correlation with a feature, against circularly shifted features.

    The p-values of :func:`circular_shift_test`, whose docstring has the details
    (``spectra`` included).

    Examples
    --------
    Unit 0 follows the feature, unit 1 is unrelated noise:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = rng.random(400) < 0.3
    >>> acts = np.column_stack([mask + 0.1 * rng.standard_normal(400), rng.standard_normal(400)])
    >>> p = circular_shift_pvalues(acts, mask)
    >>> bool(p[0] < 0.01), bool(p[1] > 0.01)
    (True, True)
    """
    return circular_shift_test(
        acts, feature, min_shift=min_shift, n_shifts=n_shifts, spectra=spectra
    )[0]


@dataclass(frozen=True)
class ShiftSpectra:
    """The forward FFTs :func:`circular_shift_test` takes of every unit, kept for reuse.

    They do not depend on the feature, so on one trace every feature after the first
    costs only its inverse FFTs (:func:`shift_spectra`). ``spectra`` has shape
    (n_units, fft_len // 2 + 1): the rfft of each unit centred on its mean, zero-padded
    to ``fft_len``; ``norms`` the centred units' Euclidean norms; ``constant`` the units
    that do not vary.
    """

    n_steps: int
    fft_len: int
    spectra: np.ndarray
    norms: np.ndarray
    constant: np.ndarray

    @property
    def n_units(self) -> int:
        """Units transformed."""
        return int(self.spectra.shape[0])


def shift_spectra(acts: npt.ArrayLike) -> ShiftSpectra:
    """Transform every unit of ``acts`` once for :func:`circular_shift_test` (its ``spectra``).

    Memory: n_units x (fft_len / 2 + 1) complex values, ~205 MB for 100,000 steps x 512
    units in float32.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> acts = rng.standard_normal((200, 3)).astype(np.float32)
    >>> mask = rng.random(200) < 0.3
    >>> fresh = circular_shift_test(acts, mask)[0]
    >>> again = circular_shift_test(acts, mask, spectra=shift_spectra(acts))[0]
    >>> bool(np.array_equal(fresh, again))
    True
    """
    acts = check_acts(acts, min_steps=3, keep_half=True)
    n_steps, n_units = acts.shape
    means = column_sums(acts) / n_steps  # also the NaN / inf check
    dtype = work_dtype(acts.dtype)
    fft_len = _fft_length(n_steps)
    complex_dtype = np.result_type(dtype, np.complex64)
    spectra = np.empty((n_units, fft_len // 2 + 1), dtype=complex_dtype)
    norms = np.empty(n_units, dtype=np.float64)
    round_off = 8 * np.finfo(dtype).eps
    fft_workers = 1 if n_threads(acts) > 1 else -1

    def block(first: int, a: np.ndarray) -> None:
        n = a.shape[0]
        norms[first : first + n] = np.sqrt(np.einsum("ij,ij->i", a, a).astype(np.float64))
        spectra[first : first + n] = scipy.fft.rfft(a, n=fft_len, axis=1, workers=fft_workers)

    map_unit_blocks(block, acts, subtract=means)
    constant = norms <= round_off * np.abs(means) * np.sqrt(n_steps)
    return ShiftSpectra(n_steps, fft_len, spectra, norms, constant)


def circular_shift_test(
    acts: npt.ArrayLike,
    feature: npt.ArrayLike,
    *,
    min_shift: int | None = None,
    n_shifts: int | None = None,
    keep: npt.ArrayLike | None = None,
    tail: bool = False,
    spectra: ShiftSpectra | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Circular-shift p-values, and the cross-covariances at chosen shifts from the same FFTs.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    feature : array-like of shape (n_steps,)
        Boolean mask or numeric values.
    min_shift : int, optional
        Shifts closer than this to 0 (either way round the circle) are left out of the null.
        Default :func:`default_min_shift`, i.e. max(1, n_steps // 100).
    n_shifts : int, optional
        Use this many evenly spaced null shifts instead of all of them. Default None: all
        ``n_steps - 2 min_shift + 1`` shifts, which costs no more (every shift comes out of
        one inverse FFT) and gives the finest p-values.
    keep : array-like of int, shape (n_keep,), optional
        Shifts s in [0, n_steps) whose cross-covariances to return (e.g. 0 and the shifts of
        a null distribution of another statistic built on the feature's mean difference,
        :func:`lib.analysis.effects.relevance_z`). Default: none.
    tail : bool, default False
        Beyond the resolution of the shifts: a unit whose |r| beats every null shift gets
        min(1 / (1 + n_null), 2 Phi(-|r| / s)), s the root mean square of its null r(s),
        instead of 1 / (1 + n_null) (see Notes). Other units keep their count p-value.
    spectra : ShiftSpectra, optional
        :func:`shift_spectra` of these `acts`, computed once per trace: the forward FFT of
        every unit is then not taken again (the result is the same, bit for bit).

    Returns
    -------
    pvalues : ndarray of float64, shape (n_units,)
        In (0, 1]; the smallest possible value is 1 / (1 + n_null). Constant units get 1.
    cross : ndarray of float64, shape (n_units, n_keep)
        c_n(s) = sum_t (a_nt - mean a_n)(f_t-s - mean f) at each kept shift s, indices
        taken mod n_steps (float32 round-off for float32 input).

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has fewer than 3 steps or holds NaN/inf, `min_shift` /
        `n_shifts` leave no null shift, or a kept shift is not an integer in [0, n_steps).
    FeatureError
        If `feature` has the wrong shape, matches no step or every step, or is constant.

    Notes
    -----
    Statistic: |r_n(s)|, the absolute Pearson correlation between unit n and the feature
    rotated by s steps (for a mask, the point-biserial r, a monotone function of the mean
    difference that Dahlberg's relevance starts from). A plain shuffle of the feature
    destroys its autocorrelation, and text and RNN states are strongly autocorrelated, so
    shuffles make a slow, unrelated unit look significant. Rotating keeps both series'
    autocorrelation and breaks only their alignment. Every rotation at once, for all units:

        r_n(s) = irfft(rfft(a_n - mean a_n) * conj(rfft(f - mean f)))[s] / (|a_n - mean| |f - mean|)

    (zero-padded to a fast FFT length and wrapped back when n_steps has a large prime
    factor, which would make its FFT ~10x slower)

    p_n = (1 + #{null s : |r_n(s)| >= |r_n(0)| - 1e-5}) / (1 + n_null). The null shifts are
    min_shift <= s <= n_steps - min_shift: near-zero rotations overlap the real alignment
    (a unit that answers the feature with a lag of a few steps would put its true signal
    into the null), so they are left out; 1 % of the text (at least 1 step) is the default.
    The test is two-sided; not in Dahlberg's thesis. Units are processed 64 at a time in
    float32 for float32 input (~130 MB per block in flight for 100,000 steps, one block
    per thread).

    The count p-value cannot go below 1 / (1 + n_null), about 1 / n_steps, and testing m
    units with Benjamini-Hochberg at level alpha then needs n_null > m / alpha before a
    single unit can be found (25,600 steps for 256 units at 0.01). ``tail=True`` extends
    the null past its last shift with a normal tail: the correlation of two long
    autocorrelated series at unrelated alignments is close to normal with mean 0
    (Bartlett 1935), and its spread is measured on the unit's own null shifts, so
    autocorrelation is still accounted for. Only units beyond every null shift are
    affected; the result is never above the count p-value.
    """
    acts = check_acts(acts, min_steps=3, keep_half=True)
    n_steps, n_units = acts.shape
    values, _ = _feature_values(feature, n_steps)
    if spectra is not None and (spectra.n_steps, spectra.n_units) != (n_steps, n_units):
        raise ValueError(
            f"`spectra` were taken of {spectra.n_steps} steps x {spectra.n_units} units, "
            f"these activations are {n_steps} x {n_units}: call shift_spectra on them."
        )
    means = column_sums(acts) / n_steps  # also the NaN / inf check
    min_shift = default_min_shift(n_steps) if min_shift is None else min_shift
    if int(min_shift) != min_shift or min_shift < 1:
        raise ValueError(f"`min_shift` must be an integer >= 1, got {min_shift!r}.")
    min_shift = int(min_shift)
    last = n_steps - min_shift
    if last < min_shift:
        raise ValueError(
            f"`min_shift`={min_shift} leaves no null shift for {n_steps} steps "
            f"(need min_shift <= {n_steps // 2})."
        )
    shifts: slice | np.ndarray = slice(min_shift, last + 1)
    n_null = last - min_shift + 1
    if n_shifts is not None:
        if int(n_shifts) != n_shifts or n_shifts < 1:
            raise ValueError(f"`n_shifts` must be an integer >= 1 or None, got {n_shifts!r}.")
        if n_shifts < n_null:
            shifts = np.unique(np.round(np.linspace(min_shift, last, int(n_shifts))).astype(int))
            n_null = shifts.size

    kept = np.zeros(0, dtype=np.intp) if keep is None else np.asarray(keep)
    if kept.ndim != 1 or (kept.size and (kept.dtype.kind not in "iu" or kept.min() < 0)):
        raise ValueError(f"`keep` must be 1-D integer shifts >= 0, got {kept!r:.80}.")
    if kept.size and kept.max() >= n_steps:
        raise ValueError(f"`keep` shifts must be < n_steps = {n_steps}, got {int(kept.max())}.")
    kept_cross = np.empty((n_units, kept.size), dtype=np.float64)

    dtype = work_dtype(acts.dtype)  # unit blocks of float16 are upcast to float32
    centred = values - values.mean()
    feature_norm = float(np.sqrt(centred @ centred))
    fft_len = _fft_length(n_steps)
    conj_f = np.conj(scipy.fft.rfft(centred.astype(dtype), n=fft_len))
    conj_f[0] = 0  # exact zero mean
    fft_workers = 1 if n_threads(acts) > 1 else -1  # parallel over blocks, or inside FFTs
    round_off = 8 * np.finfo(dtype).eps
    out = np.empty(n_units, dtype=np.float64)

    def block_pvalues(first: int, a: np.ndarray | None) -> None:
        if spectra is not None:
            n = min(block_units(acts), n_units - first)
            norm = spectra.norms[first : first + n]
            constant = spectra.constant[first : first + n]
            spectrum = spectra.spectra[first : first + n] * conj_f
        else:
            assert a is not None
            n = a.shape[0]
            norm = np.sqrt(np.einsum("ij,ij->i", a, a).astype(np.float64))
            # a constant unit centres to exactly 0 (float32) or to round-off (float64)
            constant = norm <= round_off * np.abs(means[first : first + n]) * np.sqrt(n_steps)
            spectrum = scipy.fft.rfft(a, n=fft_len, axis=1, workers=fft_workers)
            spectrum *= conj_f
        cross = _circular_correlation(spectrum, n_steps, fft_len, fft_workers)
        del spectrum
        kept_cross[first : first + n] = cross[:, kept]
        np.abs(cross, out=cross)
        observed = cross[:, 0] - (_TIE_TOLERANCE * norm * feature_norm).astype(dtype)
        null = cross[:, shifts]
        count = np.count_nonzero(null >= observed[:, None], axis=1)
        p = (1.0 + count) / (1.0 + n_null)
        beyond = count == 0
        if tail and beyond.any():
            extreme = null[beyond].astype(np.float64)
            spread = np.sqrt(np.einsum("ij,ij->i", extreme, extreme) / n_null)
            z = np.abs(cross[beyond, 0].astype(np.float64)) / np.maximum(spread, 1e-300)
            tail_p = np.maximum(scipy.special.erfc(z / np.sqrt(2)), np.finfo(np.float64).tiny)
            p[beyond] = np.minimum(p[beyond], tail_p)  # floored: p stays > 0
        p[constant] = 1.0
        out[first : first + n] = p

    if spectra is None:
        # centred during the block copy: a mean far above the spread would swamp float32 FFTs
        map_unit_blocks(block_pvalues, acts, subtract=means)
    else:
        for first in range(0, n_units, block_units(acts)):
            block_pvalues(first, None)
    return out, kept_cross


# --- multiple testing and agreement ---------------------------------------------------------


def benjamini_hochberg(pvalues: npt.ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) for testing every unit of a layer.

    Parameters
    ----------
    pvalues : array-like of float, any shape
        Values in [0, 1].

    Returns
    -------
    qvalues : ndarray of float64, same shape as `pvalues`
        The units with q <= alpha are the BH discoveries at false discovery rate alpha.

    Raises
    ------
    ValueError
        If a p-value is NaN or outside [0, 1].

    Notes
    -----
    With the m p-values sorted, p_(1) <= ... <= p_(m):
    q_(i) = min(1, min_{j >= i} m p_(j) / j), the step-up adjustment of Benjamini and
    Hochberg (1995); monotone in p. Valid for independent or positively dependent tests.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    flat = p.ravel()
    if flat.size == 0:
        return p.copy()
    if np.isnan(flat).any() or (flat < 0).any() or (flat > 1).any():
        bad = flat[np.isnan(flat) | (flat < 0) | (flat > 1)]
        raise ValueError(f"p-values must lie in [0, 1], got {bad[:5].tolist()}.")
    m = flat.size
    order = np.argsort(flat, kind="stable")
    scaled = flat[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = adjusted
    return q.reshape(p.shape)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:k]


def rank_agreement(a_scores: npt.ArrayLike, b_scores: npt.ArrayLike, *, k: int) -> dict:
    """How far two per-unit scores agree: top-k overlap and Spearman rank correlation.

    Parameters
    ----------
    a_scores, b_scores : array-like of shape (n_units,)
        Higher = more relevant, e.g. relevance and AUROC (use ``abs(auc - 0.5)`` to count
        units that fall at the feature as well), or relevance and a Fourier band peak.
    k : int
        Size of each top set, 1 <= k <= n_units.

    Returns
    -------
    agreement : dict
        ``"k"``; ``"overlap"``: |top_k(a) & top_k(b)| / k in [0, 1]; ``"shared"``: sorted
        list of the units in both top sets; ``"spearman"``: Spearman's rho over all units
        (``scipy.stats.spearmanr``), NaN when a score is constant.

    Raises
    ------
    ValueError
        If the scores differ in shape, are not 1-D, hold NaN, or `k` is out of range.

    Notes
    -----
    Dahlberg (section 8) asks for a convergent-validity view between the relevance and FFT
    top-k; top sets break ties by the lower unit index.
    """
    a = np.asarray(a_scores, dtype=np.float64)
    b = np.asarray(b_scores, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"Scores must be 1-D and of equal shape, got {a.shape} and {b.shape}.")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("Scores must not hold NaN.")
    if int(k) != k or not 1 <= k <= a.size:
        raise ValueError(f"`k` must be an integer in [1, {a.size}], got {k!r}.")
    from scipy.stats import ConstantInputWarning, spearmanr  # slow to import

    k = int(k)
    shared = np.intersect1d(_top(a, k), _top(b, k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        rho = spearmanr(a, b).statistic if a.size > 1 else np.nan
    return {
        "k": k,
        "overlap": shared.size / k,
        "shared": shared.tolist(),
        "spearman": float(rho),
    }
