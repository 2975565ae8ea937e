"""How much of each neuron's activation the current token alone explains.

A trained character model's units respond first of all to the character they read: a unit
that is high on every digit is "higher on numbers" with an AUROC near 1, yet it tracks
nothing beyond its input. To ask what a neuron tracks *in context* (inside a string, at
bracket depth 2), compare it with what the token alone predicts: subtract each token
type's mean activation and score features on the residual.

For unit n and token type v with c_v occurrences, the token's prediction is the mean
m[v, n] = (sum of a[t, n] over the c_v steps + k * mean_n) / (c_v + k), with k = ``shrink``
(default 0: the plain type means). The share explained is
R^2[n] = 1 - sum_t (a[t, n] - m[ids[t], n])^2 / sum_t (a[t, n] - mean_n)^2, in sample: a
type seen once explains its own step, so at word level with many rare words R^2 is an upper
bound. Shrinking (k > 0) lowers that bias but leaves part of every rare type's offset in the
residual, where features that pick out rare tokens (digits, say) would find it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse

from lib.analysis._arrays import check_acts


@dataclass(frozen=True)
class TokenExplained:
    """The token-type prediction of every unit and what is left of it.

    Attributes
    ----------
    residual : ndarray of float32, shape (n_steps, n_units)
        ``acts`` minus each step's shrunken token-type mean.
    r2 : ndarray of float64, shape (n_units,)
        Share of each unit's variance the current token explains (0 for a constant unit).
    """

    residual: np.ndarray
    r2: np.ndarray


def token_explained(
    acts: npt.ArrayLike, ids: npt.ArrayLike, *, shrink: float = 0.0
) -> TokenExplained:
    """Split every unit's activation into what the current token predicts and the rest.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    ids : array-like of int, shape (n_steps,)
        The token id read at each step (``Trace.ids``).
    shrink : float, default 0.0
        Pseudo-count k pulling a rare type's mean towards the unit's mean (module
        docstring); 0 gives the plain type means.

    Returns
    -------
    TokenExplained

    Raises
    ------
    ValueError
        If the shapes disagree or `shrink` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> ids = np.array([0, 1, 0, 1, 0, 1])
    >>> acts = np.array([[1.0], [-1.0], [1.0], [-1.0], [1.0], [-1.0]])
    >>> round(float(token_explained(acts, ids).r2[0]), 3)
    1.0
    """
    acts = check_acts(acts)
    ids = np.asarray(ids).astype(np.int64, copy=False)
    if ids.shape != (acts.shape[0],):
        raise ValueError(f"`ids` must have shape ({acts.shape[0]},), got {ids.shape}.")
    if shrink < 0:
        raise ValueError(f"`shrink` must be >= 0, got {shrink}.")
    n_steps = acts.shape[0]
    types, inverse = np.unique(ids, return_inverse=True)
    onehot = scipy.sparse.csr_matrix(
        (np.ones(n_steps, np.float64), (inverse, np.arange(n_steps))), shape=(len(types), n_steps)
    )
    sums = np.asarray(onehot @ acts.astype(np.float64))  # (n_types, n_units)
    counts = np.bincount(inverse, minlength=len(types)).astype(np.float64)[:, None]
    mean = acts.mean(axis=0, dtype=np.float64)
    means = (sums + shrink * mean[None, :]) / (counts + shrink)
    residual = acts - means[inverse].astype(acts.dtype)
    total = ((acts - mean[None, :].astype(acts.dtype)) ** 2).sum(axis=0, dtype=np.float64)
    left = (residual.astype(np.float64) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - left / total, 0.0)
    return TokenExplained(residual=residual.astype(np.float32), r2=np.clip(r2, 0.0, 1.0))
