"""Where a neuron fires: its max-activating and quantile-sampled contexts.

The view Neuroscope and Neuronpedia give every transformer neuron, here for every unit of a
recurrent layer at once: the steps where the unit is highest, and steps spread over its whole
range of values (so a reader sees what "low", "typical" and "high" mean for that unit, not
only its extremes; Bills et al. 2023 sample by quantile for the same reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lib.analysis._arrays import check_acts

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Contexts:
    """Selected steps of every unit; each row of ``top`` / ``quantile`` is one unit.

    Attributes
    ----------
    top : ndarray of int64, shape (n_units, k)
        The k steps with the largest activation of each unit, largest first, at least
        ``min_gap`` steps apart.
    quantile : ndarray of int64, shape (n_units, len(quantiles))
        For each quantile q, a step whose activation is the closest to the unit's q-quantile.
    quantiles : tuple of float
    """

    top: np.ndarray
    quantile: np.ndarray
    quantiles: tuple[float, ...]


def _spread_top(steps: np.ndarray, values: np.ndarray, k: int, min_gap: int) -> np.ndarray:
    """Pick the k largest of ``steps`` by ``values``, ``min_gap`` steps apart, greedily.

    The slots left over are -1.
    """
    chosen: list[int] = []
    for t in steps[np.lexsort((steps, -values))]:  # largest first, earlier step on ties
        if all(abs(int(t) - c) >= min_gap for c in chosen):
            chosen.append(int(t))
            if len(chosen) == k:
                break
    return np.array(chosen + [-1] * (k - len(chosen)), dtype=np.int64)


def neuron_contexts(
    acts: npt.ArrayLike,
    *,
    k: int = 8,
    min_gap: int = 10,
    quantiles: tuple[float, ...] = QUANTILES,
    candidates: int = 64,
) -> Contexts:
    """Max-activating and quantile-sampled steps of every unit.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    k : int, default 8
        Max-activating steps per unit.
    min_gap : int, default 10
        Steps kept apart between two max-activating contexts of a unit, so one long run
        of high activation (a long string literal) does not fill every slot.
    quantiles : tuple of float in [0, 1]
    candidates : int, default 64
        The largest ``candidates`` steps of each unit (found for all units at once with
        ``np.argpartition``) from which the spread-out top k are chosen; the slot is left
        at -1 when fewer than k are ``min_gap`` apart.

    Returns
    -------
    Contexts
        Steps index ``acts``'s rows. Where a unit has fewer than k usable steps the
        remaining ``top`` entries are -1.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, is empty, or k, min_gap or a quantile is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> acts = np.zeros((100, 2), np.float32)
    >>> acts[[10, 50, 90], 0] = [3.0, 2.0, 1.0]
    >>> neuron_contexts(acts, k=2).top[0].tolist()
    [10, 50]
    """
    acts = check_acts(acts, keep_half=True)
    n_steps, n_units = acts.shape
    if k < 1 or min_gap < 1:
        raise ValueError(f"k and min_gap must be >= 1, got k={k}, min_gap={min_gap}.")
    if not all(0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}.")
    m = min(max(candidates, k), n_steps)
    part = np.argpartition(-acts, m - 1, axis=0)[:m]  # (m, n_units): the m largest per unit
    top = np.empty((n_units, k), dtype=np.int64)
    for u in range(n_units):  # m candidates per unit: a small greedy pass each
        cand = part[:, u]
        top[u] = _spread_top(cand, acts[cand, u].astype(np.float64), k, min_gap)
    q_values = np.quantile(acts, quantiles, axis=0)  # (n_q, n_units)
    quantile = np.empty((n_units, len(quantiles)), dtype=np.int64)
    for j, row in enumerate(q_values):
        quantile[:, j] = np.abs(acts - row[None, :].astype(acts.dtype)).argmin(axis=0)
    return Contexts(top=top, quantile=quantile, quantiles=tuple(quantiles))


def window(n_steps: int, step: int, *, before: int = 30, after: int = 10) -> tuple[int, int]:
    """Return the slice ``[start, stop)`` of a context around ``step`` in ``[0, n_steps)``."""
    return max(step - before, 0), min(step + after + 1, n_steps)
