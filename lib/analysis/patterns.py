"""Pattern search, after LSTMVis's hypothesis-and-match views (Strobelt et al., 2017).

Select a span of the text; the *pattern* is the set of neurons that switch on for it
(:func:`pattern`). :func:`search` then finds the other places where those neurons are on
together for as long, and as few other neurons are — LSTMVis's "match" view. With
``merge=True`` (or :func:`merge_near`) near-duplicate matches, the same place shifted by a
step or two, are merged into the best of them. :func:`text_spans` turns a piece of typed
text into the token spans where it occurs, so a span can be chosen by its text.

A neuron is *on* at a step when its activation is >= ``threshold``.
"""

from __future__ import annotations

import re
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
    merge: bool = False,
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
    merge : bool, default False
        Merge near-duplicates before keeping ``top``: a window is dropped when a better one
        starts fewer than 2 x ``length`` steps away, i.e. when the two overlap or the gap
        between them is shorter than ``length`` (:func:`merge_near`).

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
    ranked = ranked[keep[ranked]]
    ranked = merge_near(ranked, 2 * length, top=int(top)) if merge else ranked[: int(top)]
    return pd.DataFrame(
        {
            "start": ranked,
            "end": ranked + length - 1,
            "n_pattern_on": n_pattern[ranked],
            "n_other_on": n_other[ranked],
            "score": score[ranked],
        }
    )


def merge_near(ranked: npt.ArrayLike, distance: int, *, top: int | None = None) -> np.ndarray:
    """Keep the best of every group of ranked positions closer than ``distance``.

    Greedy non-maximum suppression in rank order: a position is kept unless a position
    kept before it (a better one) lies fewer than ``distance`` steps away,
    ``|p - q| < distance``.

    Parameters
    ----------
    ranked : array-like of int, shape (n,)
        Positions (window starts), best first, each once.
    distance : int
        Minimum distance between two kept positions (>= 1; 1 keeps everything).
    top : int, optional
        Stop after this many kept positions.

    Returns
    -------
    kept : ndarray of int64, shape (n_kept,)
        The kept positions, in rank order; no two closer than ``distance``.

    Examples
    --------
    >>> merge_near([10, 11, 30, 9, 12, 50], 3).tolist()
    [10, 30, 50]
    """
    order = np.asarray(ranked, dtype=np.int64)
    if order.ndim != 1:
        raise ValueError(f"`ranked` must be 1-D, got shape {order.shape}.")
    if int(distance) != distance or distance < 1:
        raise ValueError(f"`distance` must be an integer >= 1, got {distance!r}.")
    if top is not None and (int(top) != top or top < 1):
        raise ValueError(f"`top` must be an integer >= 1, got {top!r}.")
    if order.size == 0:
        return order
    if order.min() < 0:
        raise ValueError(f"`ranked` must hold positions >= 0, got {int(order.min())}.")
    distance = int(distance)
    blocked = np.zeros(int(order.max()) + distance + 1, dtype=bool)
    kept: list[int] = []
    for p in order.tolist():  # one pass over windows, not over neurons
        if blocked[p]:
            continue
        kept.append(p)
        if top is not None and len(kept) >= top:
            break
        blocked[max(p - distance + 1, 0) : p + distance] = True
    return np.asarray(kept, dtype=np.int64)


def text_spans(
    tokens: Sequence[str], query: str, *, limit: int | None = None
) -> list[tuple[int, int]]:
    """Find the token spans covering each occurrence of ``query`` in the joined tokens.

    Parameters
    ----------
    tokens : sequence of str, length n_steps
        The recorded tokens; the text searched is ``"".join(tokens)``.
    query : str
        Searched for exactly (case and whitespace count); occurrences do not overlap.
    limit : int, optional
        Stop after this many occurrences.

    Returns
    -------
    spans : list of (start, end)
        Inclusive token positions: the first token holding a character of the occurrence
        and the last one, in text order. Empty when ``query`` is empty or absent.

    Examples
    --------
    >>> text_spans(list('x = "ab" + "ab"'), '"ab')
    [(4, 6), (11, 13)]
    >>> text_spans(["The", " ", "cat", " ", "sat"], "e ca")
    [(0, 2)]
    """
    if limit is not None and (int(limit) != limit or limit < 1):
        raise ValueError(f"`limit` must be an integer >= 1, got {limit!r}.")
    if not query:
        return []
    text = "".join(tokens)
    hits = []
    for m in re.finditer(re.escape(query), text):
        hits.append(m.start())
        if limit is not None and len(hits) >= limit:
            break
    if not hits:
        return []
    # offsets[i] = the character where token i begins
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in tokens])])[:-1]
    first = np.asarray(hits)
    starts = np.searchsorted(offsets, first, side="right") - 1
    ends = np.searchsorted(offsets, first + len(query) - 1, side="right") - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


__all__ = ["merge_near", "pattern", "search", "text_spans"]
