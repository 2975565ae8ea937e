"""Pattern search, after LSTMVis's hypothesis-and-match views (Strobelt et al., 2017).

Select a span of the text; the *pattern* is the set of neurons that switch on for it
(:func:`pattern`). :func:`search` then finds the other places where those neurons are on
together for as long, and as few other neurons are — LSTMVis's "match" view.

A neuron is *on* at a step when its activation is >= ``threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.ndimage import minimum_filter1d

from lib.analysis._arrays import check_acts

ORDERS = ("score", "lexicographic")


def _check_span(start: int, end: int, n_steps: int) -> None:
    if not 0 <= start <= end < n_steps:
        raise ValueError(
            f"The span needs 0 <= start <= end < n_steps = {n_steps}, got start={start}, end={end}."
        )


def pattern(acts: npt.ArrayLike, start: int, end: int, *, threshold: float) -> np.ndarray:
    """Find the neurons that switch on for the span [start, end] and stay on throughout it.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    start, end : int
        First and last step of the span, both included.
    threshold : float
        On means activation >= threshold (NaN is off).

    Returns
    -------
    neurons : ndarray of int64, shape (n_pattern,)
        Ascending: the units on at every step of [start, end] and off at step start - 1
        (the last condition is dropped when start = 0). May be empty.
    """
    acts = check_acts(acts)
    _check_span(start, end, acts.shape[0])
    on = (acts[start : end + 1] >= threshold).all(axis=0)
    if start > 0:
        on &= ~(acts[start - 1] >= threshold)
    return np.flatnonzero(on)


def search(
    acts: npt.ArrayLike,
    neurons: Sequence[int],
    length: int,
    *,
    threshold: float,
    top: int = 50,
    exclude: tuple[int, int] | None = None,
    order: str = "score",
) -> pd.DataFrame:
    """Find the places where the pattern's neurons are on together, best first.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    neurons : sequence of int
        The pattern (e.g. from :func:`pattern`).
    length : int
        Window length in steps (the selected span's, end - start + 1).
    threshold : float
        On means activation >= threshold.
    top : int, default 50
        Rows returned.
    exclude : (start, end), optional
        Leave out every window that overlaps this span (the selection itself, and its
        shifted copies, which would trivially match).
    order : {"score", "lexicographic"}, default "score"
        The ranking (Notes).

    Returns
    -------
    matches : DataFrame
        Columns ``start``, ``end`` (inclusive, end = start + length - 1),
        ``n_pattern_on`` (pattern neurons on at every step of the window), ``n_other_on``
        (other neurons on at every step of it) and ``score`` = n_pattern_on - n_other_on;
        at most ``top`` rows, best first, index 0..n-1.

    Notes
    -----
    Every window [p, p + length - 1] of the activation matrix is scored; a neuron counts
    when it is on throughout the window (a sliding minimum of the boolean on-matrix,
    ``scipy.ndimage.minimum_filter1d``, so the cost is O(n_steps x n_units) whatever the
    length). The ranking follows LSTMVis's match view, which rewards the selected cells
    being on and penalises additional cells being on:

    - ``"score"``: by score = n_pattern_on - n_other_on, descending; ties by earlier start.
    - ``"lexicographic"``: LSTMVis's own sort key (``query_similar_activations`` in its
      ``lstmdata/data_handler.py``): most pattern neurons on, then fewest neurons on in
      all (its smallest union of selected and active cells, i.e. fewest other ones), then
      earlier start. LSTMVis searches phrases of varying length; here the length is fixed.
    """
    acts = check_acts(acts)
    n_steps, n_units = acts.shape
    idx = np.asarray(neurons)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError(f"`neurons` must be a 1-D sequence of ints, got {neurons!r}.")
    idx = np.unique(idx.astype(np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= n_units):
        raise ValueError(f"`neurons` must be units 0 to {n_units - 1}, got {idx.tolist()}.")
    if int(length) != length or not 1 <= length <= n_steps:
        raise ValueError(f"`length` must be an integer 1 to n_steps = {n_steps}, got {length}.")
    if int(top) != top or top < 1:
        raise ValueError(f"`top` must be an integer >= 1, got {top!r}.")
    if order not in ORDERS:
        raise ValueError(f"`order` must be one of {ORDERS}, got {order!r}.")
    length = int(length)

    on = (acts >= threshold).view(np.uint8)
    # out[p] = min(on[p : p + length]): the window starting at p (origin shifts it right)
    all_on = minimum_filter1d(on, length, axis=0, origin=-(length // 2))
    all_on = all_on[: n_steps - length + 1].view(bool)
    n_on = all_on.sum(axis=1, dtype=np.int64)
    n_pattern = all_on[:, idx].sum(axis=1, dtype=np.int64)
    n_other = n_on - n_pattern
    starts = np.arange(n_pattern.size)
    keep = np.ones(n_pattern.size, dtype=bool)
    if exclude is not None:
        ex_start, ex_end = exclude
        keep &= (starts > ex_end) | (starts + length - 1 < ex_start)
    score = n_pattern - n_other
    if order == "score":
        ranked = np.lexsort((starts, -score))
    else:
        ranked = np.lexsort((starts, n_other, -n_pattern))
    ranked = ranked[keep[ranked]][: int(top)]
    return pd.DataFrame(
        {
            "start": ranked,
            "end": ranked + length - 1,
            "n_pattern_on": n_pattern[ranked],
            "n_other_on": n_other[ranked],
            "score": score[ranked],
        }
    )


__all__ = ["pattern", "search"]
