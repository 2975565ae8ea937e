"""Seed 000's relevance score of every unit for a binary feature, and its auto-detection."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lib.analysis._arrays import check_acts, column_sums, work_dtype
from lib.analysis.features import as_mask, check_binary

#: feature steps per block: (8192, 1024) float32 temporaries are 32 MB each
STEP_BLOCK = 8192

#: half-width of the neuron window around each hypothesis (seed 000, section 1.7 [code]):
#: [n-1, n+1] for relevance, [n-2, n+2] for the Fourier band peak
HALF_WIDTH = {"relevance": 1, "fourier": 2}


def relevance(acts: npt.ArrayLike, mask: npt.ArrayLike, *, normalize: bool = True) -> np.ndarray:
    """Seed 000's relevance R of every unit for a binary feature.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        Activations, one row per token (e.g. ``trace.signals[(layer, name)]``).
    mask : array-like of bool, shape (n_steps,)
        True at the steps whose token has the feature.
    normalize : bool, default True
        Divide by the largest score of the layer, so the top unit has R = 1.

    Returns
    -------
    scores : ndarray of float64, shape (n_units,)
        All zeros when every unit scores 0 (e.g. constant activations).

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has fewer than 3 steps or holds NaN/inf, or `mask` does not
        have shape (n_steps,).
    FeatureError
        If `mask` matches no step or every step.

    Notes
    -----
    Seed 000, section 1.5 (Algorithm 5/6, lines 19-28, and its code)::

        R_n = |mean_{t in f} a_nt - mean_{t not in f} a_nt|
              + mean_{t in f} |2 a_nt - a_n,t-1 - a_n,t+1|

    The second term is the magnitude of the (1 -2 1) second-difference kernel (a spike
    detector) at the feature steps, with reflect padding that does not repeat the edge
    sample (thesis eq. 2.42): a_-1 := a_1 and a_T := a_T-2. With ``normalize`` the scores
    are divided by their maximum over all units given, as in seed 000's auto-detect mode
    (its manual mode normalizes over the listed neurons only, section 7 item 3).

    The feature steps are read in blocks of :data:`STEP_BLOCK` (float16 upcast to float32
    per block), so a long or memory-mapped `acts` is never copied whole.

    Examples
    --------
    Unit 0 is constant, unit 1 spikes at the feature's steps, unit 2 ramps up regardless:

    >>> import numpy as np
    >>> mask = np.zeros(12, dtype=bool)
    >>> mask[[2, 6, 10]] = True
    >>> acts = np.zeros((12, 3))
    >>> acts[mask, 1] = 1.0
    >>> acts[:, 2] = np.linspace(0.0, 1.0, 12)
    >>> relevance(acts, mask).round(2)
    array([0.  , 1.  , 0.02])
    >>> relevance(acts, mask, normalize=False).round(3)
    array([0.   , 3.   , 0.061])
    """
    acts = check_acts(acts, min_steps=3, keep_half=True)
    n_steps, n_units = acts.shape
    mask = check_binary(as_mask(mask, n_steps), "mask")
    total = column_sums(acts)
    dtype = work_dtype(acts.dtype)

    steps = np.flatnonzero(mask)
    spike = np.zeros(n_units)
    sum_in = np.zeros(n_units)
    for first in range(0, steps.size, STEP_BLOCK):
        block = steps[first : first + STEP_BLOCK]
        prev = np.where(block == 0, 1, block - 1)
        nxt = np.where(block == n_steps - 1, n_steps - 2, block + 1)
        at_feature = acts[block].astype(dtype, copy=False)
        prominence = 2 * at_feature
        prominence -= acts[prev]
        prominence -= acts[nxt]
        spike += np.abs(prominence).sum(axis=0, dtype=np.float64)
        sum_in += at_feature.sum(axis=0, dtype=np.float64)

    n_in = steps.size
    spike /= n_in
    delta = np.abs(sum_in / n_in - (total - sum_in) / (n_steps - n_in))
    scores = delta + spike
    if normalize:
        top = scores.max()
        scores = scores / top if top > 0 else np.zeros_like(scores)
    return scores


def auto_detect_windows(
    scores: npt.ArrayLike, n_hypotheses: int, *, half_width: int
) -> list[list[int]]:
    """Windows of neighbouring units around the top-scoring units (seed 000's auto-detect).

    Parameters
    ----------
    scores : array-like of shape (n_units,)
        Relevance (:func:`relevance`) or Fourier band peak (:func:`lib.analysis.fourier.
        band_peaks`) per unit. NaN ranks last.
    n_hypotheses : int
        Number of top units; more than n_units gives one window per unit.
    half_width : int
        Units on each side of a hypothesis: 1 for relevance, 2 for Fourier
        (:data:`HALF_WIDTH`).

    Returns
    -------
    windows : list of list of int
        ``[n - half_width, ..., n + half_width]`` clipped to ``[0, n_units)`` for each top
        unit n, in decreasing order of score (ties: lower unit first). The hypothesis n is
        the middle unit of its window unless the window is clipped at the layer's edge.
        Windows may overlap.

    Notes
    -----
    Seed 000, section 1.7: ``argsort`` the scores of all units, keep the top nh, and show
    each as a window of 3 (relevance) or 5 (Fourier) neurons. The seed's code orders the
    windows by neuron index and prints the hypotheses by decreasing value; this returns the
    decreasing-score order and leaves sorting by index to the page
    (``sorted(windows)``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"`scores` must be 1-D (n_units,) and non-empty, got {scores.shape}.")
    if int(n_hypotheses) != n_hypotheses or n_hypotheses < 1:
        raise ValueError(f"`n_hypotheses` must be an integer >= 1, got {n_hypotheses!r}.")
    if int(half_width) != half_width or half_width < 0:
        raise ValueError(f"`half_width` must be an integer >= 0, got {half_width!r}.")
    n_units = scores.size
    ranked = np.argsort(np.where(np.isnan(scores), np.inf, -scores), kind="stable")
    top = ranked[: min(int(n_hypotheses), n_units)]
    return [
        list(range(max(0, n - half_width), min(n_units, n + half_width + 1))) for n in top.tolist()
    ]
