"""A sparse linear probe: is a feature carried by one unit, or spread over several.

An L1-regularised logistic regression reads the feature off all units of a layer at once;
as the penalty weakens, units enter the model one by one (a regularisation path). If the
held-out accuracy with one unit is already as good as with many, the feature lives in one
neuron, as Radford, Jozefowicz & Sutskever (2017) found for their "sentiment neuron"; if
the accuracy keeps rising as units enter and ends well above the best single unit, the
feature is spread out. The best single unit is scored the same way, with a threshold
chosen on the training part.

- :func:`probe_steps`: the steps a probe uses (a long text is subsampled).
- :func:`block_split`: training and held-out steps in contiguous blocks.
- :func:`sparse_probe`: the regularisation path and the best single unit
  (:class:`ProbeResult`).

Two choices guard against fooling ourselves. Neighbouring steps of a recurrent state are
nearly identical, so a random train/test split of steps puts near-copies of every test
step in the training part; the split is made of contiguous blocks instead. Features are
often rare (a quote, a digit), so accuracy is the *balanced* accuracy, the mean of the
true-positive and true-negative rates: always answering "no" scores 0.5, not 0.95.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.features import as_mask
from lib.run.trace import ConcatRows

#: most steps a probe fits by default; a longer text is subsampled (:func:`probe_steps`)
MAX_STEPS = 20_000
#: contiguous blocks the steps are cut into for the held-out split (:func:`block_split`)
N_BLOCKS = 10
#: regularisation strengths of the default path: C_min times these (:func:`sparse_probe`),
#: 1 + 10^e for 20 e from -2.5 to 2.5: dense just above C_min, where units enter one by one
PATH_FACTORS = 1.0 + np.logspace(-2.5, 2.5, 20)
#: the path stops after the first strength that keeps at least this many units: the
#: question is one unit or a few, and the weakest penalties (hundreds of units) are the
#: slowest fits
MAX_NEURONS = 64
#: rows of ``ProbeResult.best_single``: the best units by training accuracy
N_SINGLE = 10
#: liblinear's intercept is a constant column of this value, penalised like any weight;
#: a large value makes the intercept's penalty negligible
INTERCEPT_SCALING = 10.0
#: units per block in the single-unit thresholds: (20,000, 64) float64 is 10 MB
_UNIT_BLOCK = 64


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`sparse_probe` found.

    Attributes
    ----------
    path : DataFrame
        One row per regularisation strength, in the order of the strengths: ``C``,
        ``n_neurons`` (units with a non-zero weight), ``accuracy`` (held-out balanced
        accuracy of a logistic regression refitted on those units alone, weak L2
        penalty: the L1 penalty that chose them also shrank their weights),
        ``accuracy_l1`` (the same score of the L1 model itself) and ``neurons`` (list of
        those units, largest |weight| first; weights are per standardised unit, so they
        compare).
    best_single : DataFrame
        The :data:`N_SINGLE` best single units, best first (row 0 is *the* best single
        neuron): ``neuron``, ``accuracy`` (held-out balanced accuracy of its threshold
        classifier), ``train_accuracy`` (what it was chosen by), ``threshold`` and
        ``direction`` (+1: the feature is on above the threshold, -1: below).
    n_train, n_test : int
        Steps in the training and held-out parts.
    """

    path: pd.DataFrame
    best_single: pd.DataFrame
    n_train: int
    n_test: int


def probe_steps(n_steps: int, max_steps: int = MAX_STEPS, seed: int = 0) -> np.ndarray:
    """Return the steps a probe fits: all, or `max_steps` drawn at random, in text order.

    Parameters
    ----------
    n_steps : int
        Length of the text (T).
    max_steps : int, default 20,000
        Most steps kept. Drawn uniformly without replacement (``numpy.random.default_rng
        (seed)``) rather than every k-th step, which would alias with any feature of
        period k (e.g. an indent of 4 characters).
    seed : int, default 0

    Returns
    -------
    ndarray of int64, shape (min(n_steps, max_steps),)
        Increasing positions in ``0 .. n_steps - 1``.

    Examples
    --------
    >>> probe_steps(5).tolist()
    [0, 1, 2, 3, 4]
    >>> steps = probe_steps(1000, max_steps=10)
    >>> len(steps), bool((np.diff(steps) > 0).all())
    (10, True)
    """
    n_steps, max_steps = int(n_steps), int(max_steps)
    if n_steps < 1 or max_steps < 1:
        raise ValueError(
            f"`n_steps` and `max_steps` must be positive, got {n_steps} and {max_steps}."
        )
    if n_steps <= max_steps:
        return np.arange(n_steps, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_steps, size=max_steps, replace=False)).astype(np.int64)


def block_split(
    n_steps: int, test_fraction: float = 0.3, n_blocks: int = N_BLOCKS
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out steps, made of whole contiguous blocks.

    Steps ``0 .. n_steps - 1`` are cut into `n_blocks` contiguous blocks of (nearly)
    equal length; ``m = round(test_fraction * n_blocks)`` of them (at least 1, at most
    ``n_blocks - 1``), spread over the text, are held out: block
    ``floor((j + 1/2) n_blocks / m)`` for j = 0 .. m - 1 (10 blocks, 0.3: blocks 1, 5, 8).

    Parameters
    ----------
    n_steps : int
        At least `n_blocks`.
    test_fraction : float, default 0.3
        In (0, 1).
    n_blocks : int, default 10
        At least 2.

    Returns
    -------
    train, test : ndarray of int64
        Increasing step indices; together they are every step, once.

    Examples
    --------
    >>> train, test = block_split(20, 0.3)
    >>> test.tolist()
    [2, 3, 10, 11, 16, 17]
    """
    n_steps, n_blocks = int(n_steps), int(n_blocks)
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction!r}.")
    if n_blocks < 2 or n_steps < n_blocks:
        raise ValueError(
            f"A block split needs n_blocks >= 2 and at least n_blocks steps, got "
            f"{n_steps} steps and {n_blocks} blocks."
        )
    m = min(max(round(float(test_fraction) * n_blocks), 1), n_blocks - 1)
    held = np.floor((np.arange(m) + 0.5) * n_blocks / m).astype(int)
    block_of = np.arange(n_steps) * n_blocks // n_steps
    is_test = np.isin(block_of, held)
    return np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)


def _balanced_accuracy(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Balanced accuracy of every column of ``pred`` (n, k) bool against ``y`` (n,) bool."""
    tpr = pred[y].mean(axis=0)
    tnr = (~pred[~y]).mean(axis=0)
    return (tpr + tnr) / 2


def _thresholds(A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best threshold of every unit on (A, y): (balanced accuracy, threshold, direction).

    Vectorised over units: each column is sorted once; cutting after the k smallest
    values and calling everything above the cut positive has TPR = (P - P_k) / P and
    TNR = N_k / N, with P_k, N_k the positives and negatives among the k smallest. Only
    cuts between distinct values count, at their midpoint; direction -1 (positive below)
    scores 1 - that. A unit without a cut (constant) scores 0.5.
    """
    n, units = A.shape
    P, N = int(y.sum()), int(n - y.sum())
    best = np.empty(units)
    thr = np.empty(units)
    direction = np.empty(units)
    for first in range(0, units, _UNIT_BLOCK):
        block = A[:, first : first + _UNIT_BLOCK]
        order = np.argsort(block, axis=0, kind="stable")
        S = np.take_along_axis(block, order, axis=0)
        pos_below = np.cumsum(y[order], axis=0)[:-1]  # cut after rows 0..k, k < n - 1
        neg_below = np.arange(1, n)[:, None] - pos_below
        bacc = ((P - pos_below) / P + neg_below / N) / 2
        mid = (S[:-1] + S[1:]) / 2
        gain = np.abs(bacc - 0.5)
        # a cut needs a threshold strictly between the two values (not between equal
        # values, nor between neighbouring floats, whose midpoint is one of them)
        gain[~((S[:-1] < mid) & (mid < S[1:]))] = -1.0
        k = np.argmax(gain, axis=0)
        cols = np.arange(block.shape[1])
        found = gain[k, cols] >= 0
        b = np.where(found, bacc[k, cols], 0.5)
        sl = slice(first, first + block.shape[1])
        direction[sl] = np.where(b >= 0.5, 1.0, -1.0)
        best[sl] = 0.5 + np.abs(b - 0.5)
        thr[sl] = np.where(found, mid[k, cols], S[-1])
    return best, thr, direction


def _refit_accuracy(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    units: list[int],
) -> float:
    """Held-out balanced accuracy of a logistic regression refitted on `units` alone.

    The L1 penalty that picks the units also shrinks their weights, which moves the
    decision boundary; refitting the chosen units with a weak L2 penalty (C = 1 on
    standardised units, balanced class weights; the "relaxed lasso") scores how well
    those units can read the feature. No unit: 0.5, a constant guess.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    if not units:
        return 0.5
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train[:, units], y_train)
    return float(balanced_accuracy_score(y_test, model.predict(X_test[:, units])))


def _min_c(X: np.ndarray, y: np.ndarray) -> float:
    """Return the C below which the balanced L1 probe keeps no unit (liblinear's objective).

    liblinear minimises ``||w||_1 + C sum_i c_i log(1 + exp(-s_i w.x_i))`` with s_i = +-1
    and balanced class weights c_i = n / (2 n_class(i)). At w = 0 the loss gradient is
    ``-(1/2) sum_i c_i s_i x_i``; w = 0 stays optimal while ``C (1/2) |sum_i c_i s_i x_ij|
    <= 1`` for every unit j. The intercept column's sum is 0 with balanced weights.
    """
    n, P = len(y), int(y.sum())
    c = np.where(y, n / (2 * P), n / (2 * (n - P)))
    s = np.where(y, 1.0, -1.0)
    top = float(np.abs((c * s) @ X).max())
    return 2.0 / top if top > 0 else math.inf


def sparse_probe(
    acts: npt.ArrayLike | ConcatRows,
    mask: npt.ArrayLike,
    *,
    Cs: Sequence[float] | None = None,
    test_fraction: float = 0.3,
    max_steps: int = MAX_STEPS,
    seed: int = 0,
    max_neurons: int | None = MAX_NEURONS,
) -> ProbeResult:
    r"""Probe a yes/no feature with an L1 logistic regression on all units, and one unit.

    Steps: keep :func:`probe_steps` ``(T, max_steps, seed)``; split them with
    :func:`block_split` (contiguous blocks, `test_fraction` held out); standardise every
    unit with the training part's mean and standard deviation (a constant unit stays 0);
    fit, for every C, ``min_w ||w||_1 + C sum_i c_i log(1 + exp(-s_i (w.x_i + b)))``
    (scikit-learn's liblinear, balanced class weights c_i, s_i = +-1); refit the units it
    keeps with a weak L2 penalty (the relaxed lasso) and score the held-out balanced
    accuracy ``(TPR + TNR) / 2``. The best single unit is the one whose
    best threshold scores highest on the training part; its held-out balanced accuracy is
    reported, so picking the best of many units does not flatter it.

    Parameters
    ----------
    acts : array-like of shape (T, n_units)
        E.g. ``trace.signals[(layer, "h")]``; memory-mapped and shard arrays are read only
        at the kept steps.
    mask : array-like of bool, shape (T,)
        The feature (e.g. ``Feature.values`` of a binary feature).
    Cs : sequence of float, optional
        Regularisation strengths, larger = weaker penalty, fitted in this order.
        Default: ``C_min *`` :data:`PATH_FACTORS` (20 values from 1.003 to 317 C_min,
        increasing, dense near C_min), C_min the strength at which the first unit
        enters: ``2 / max_j |sum_i c_i s_i x_ij|``.
    test_fraction : float, default 0.3
        Share of the blocks held out.
    max_steps : int, default 20,000
        Longer texts are subsampled at random to this many steps (:func:`probe_steps`);
        a block is then still a contiguous stretch of the text.
    seed : int, default 0
        Seed of the subsample.
    max_neurons : int or None, default 64
        Stop the path after the first C whose model keeps at least this many units
        (None: fit every C).

    Returns
    -------
    ProbeResult
        ``path`` (one row per C fitted, in the order of `Cs`), ``best_single``,
        ``n_train``, ``n_test``.

    Raises
    ------
    ValueError
        If `acts` is not (T, n_units) numbers without NaN or inf, `mask` is not T
        booleans, a C is not positive, or the training or held-out part lacks steps with
        or without the feature (the message gives the counts).

    Notes
    -----
    The idea of asking whether one unit carries a feature is Radford, Jozefowicz &
    Sutskever (2017), "Learning to Generate Reviews and Discovering Sentiment", who fit
    an L1 logistic regression on an LSTM's states and found one unit doing most of the
    work. The probe is linear: a feature the units carry non-linearly can be missed.

    Examples
    --------
    Unit 2 carries the feature, the others are noise; the first unit to enter is 2.

    >>> rng = np.random.default_rng(0)
    >>> mask = rng.random(3000) < 0.3
    >>> acts = rng.normal(size=(3000, 6))
    >>> acts[:, 2] += 3 * mask
    >>> result = sparse_probe(acts, mask)
    >>> result.path["neurons"].iloc[0], int(result.best_single["neuron"].iloc[0])
    ([2], 2)
    >>> bool(result.best_single["accuracy"].iloc[0] > 0.9)
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    shape = getattr(acts, "shape", None) or np.shape(acts)
    if len(shape) != 2 or shape[1] == 0:
        raise ValueError(f"`acts` must be 2-D (n_steps, n_units), got shape {tuple(shape)}.")
    T = int(shape[0])
    y_all = as_mask(mask, T, name="mask")
    steps = probe_steps(T, max_steps, seed)
    source = acts if isinstance(acts, np.ndarray | ConcatRows) else np.asarray(acts)
    A = np.asarray(source[steps], dtype=np.float64)
    if not np.isfinite(A).all():
        raise ValueError("`acts` holds NaN or inf at the probed steps.")
    y = y_all[steps]
    train, test = block_split(len(steps), test_fraction)
    for part, rows in (("training", train), ("held-out", test)):
        n_pos = int(y[rows].sum())
        if n_pos == 0 or n_pos == len(rows):
            raise ValueError(
                f"The {part} part ({len(rows)} steps in contiguous blocks) needs steps with "
                f"and without the feature, got {n_pos} with and {len(rows) - n_pos} without: "
                "use a longer text or a feature that occurs throughout it."
            )
    mean = A[train].mean(axis=0)
    sd = A[train].std(axis=0)
    sd[sd == 0] = 1.0
    X = (A - mean) / sd
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]

    if Cs is None:
        Cs = (_min_c(X_train, y_train) * PATH_FACTORS).tolist()
    Cs = [float(c) for c in Cs]
    if not Cs or not all(math.isfinite(c) and c > 0 for c in Cs):
        raise ValueError(f"`Cs` must be positive finite numbers, got {Cs!r}.")
    rows_out = []
    refits: dict[tuple[int, ...], float] = {}
    for C in Cs:
        model = LogisticRegression(
            C=C,
            l1_ratio=1.0,
            solver="liblinear",
            class_weight="balanced",
            intercept_scaling=INTERCEPT_SCALING,
            max_iter=1000,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at the weakest penalties
            model.fit(X_train, y_train)
        w = model.coef_[0]
        chosen = np.flatnonzero(w)
        chosen = chosen[np.argsort(-np.abs(w[chosen]), kind="stable")]
        support = tuple(sorted(int(u) for u in chosen))
        if support not in refits:
            refits[support] = _refit_accuracy(X_train, y_train, X_test, y_test, list(support))
        rows_out.append(
            {
                "C": C,
                "n_neurons": int(chosen.size),
                "accuracy": refits[support],
                "accuracy_l1": float(balanced_accuracy_score(y_test, model.predict(X_test))),
                "neurons": [int(u) for u in chosen],
            }
        )
        if max_neurons is not None and chosen.size >= max_neurons:
            break
    path = pd.DataFrame(rows_out, columns=["C", "n_neurons", "accuracy", "accuracy_l1", "neurons"])

    train_acc, thr, direction = _thresholds(X_train, y_train)
    top = np.argsort(-train_acc, kind="stable")[:N_SINGLE]
    pred = direction[top] * (X_test[:, top] - thr[top]) > 0
    best_single = pd.DataFrame(
        {
            "neuron": top.astype(int),
            "accuracy": _balanced_accuracy(pred, y_test),
            "train_accuracy": train_acc[top],
            "threshold": thr[top] * sd[top] + mean[top],  # in the unit's own values
            "direction": direction[top].astype(int),
        }
    )
    return ProbeResult(path=path, best_single=best_single, n_train=len(train), n_test=len(test))
