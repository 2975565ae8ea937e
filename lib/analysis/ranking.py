"""One table ranking every neuron of a layer against a feature of interest.

Binary features get seed 000's relevance R (spec/seed-000.md §1.5), the AUROC of
activation vs feature, the point-biserial correlation r, its circular-shift p-value and
the Benjamini–Hochberg q-value. Numeric features (bracket depth, position in line) get the
Pearson correlation with its p and q; relevance and AUROC need two groups of steps, so
they are left out there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.features import Feature, check_binary
from lib.analysis.relevance import relevance
from lib.analysis.significance import (
    auroc,
    benjamini_hochberg,
    circular_shift_pvalues,
    correlation,
    rank_agreement,
)


def rank_neurons(
    acts: np.ndarray, feature: Feature, *, n_shifts: int | None = None
) -> pd.DataFrame:
    """Score every neuron of ``acts`` against ``feature``.

    Parameters
    ----------
    acts : ndarray of shape (T, n_units)
    feature : Feature of length T
    n_shifts : int, optional
        Circular shifts in the null distribution (see
        :func:`lib.analysis.significance.circular_shift_pvalues`).

    Returns
    -------
    DataFrame, one row per neuron, sorted by the default ranking (R for binary features,
    |r| for numeric ones), with columns ``neuron``, and for binary features ``R``,
    ``AUROC``, ``r``, ``p``, ``q``, ``mean_inside``, ``mean_outside``; for numeric
    features ``r``, ``|r|``, ``p``, ``q``.
    """
    acts = np.asarray(acts)
    if acts.dtype not in (np.float16, np.float32):  # float16 is upcast block by block
        acts = acts.astype(np.float32)
    if acts.ndim != 2 or acts.shape[0] != len(feature):
        raise ValueError(f"`acts` must be (T, n_units) with T = {len(feature)}, got {acts.shape}.")
    p = circular_shift_pvalues(acts, feature.values, n_shifts=n_shifts)
    q = benjamini_hochberg(p)
    units = np.arange(acts.shape[1])
    if feature.kind == "numeric":
        r = correlation(acts, feature.values)
        table = pd.DataFrame({"neuron": units, "r": r, "|r|": np.abs(r), "p": p, "q": q})
        return table.sort_values("|r|", ascending=False, kind="stable").reset_index(drop=True)
    mask = check_binary(feature.values, feature.name)
    r = correlation(acts, mask.astype(np.float32))
    table = pd.DataFrame(
        {
            "neuron": units,
            "R": relevance(acts, mask),
            "AUROC": auroc(acts, mask),
            "r": r,
            "p": p,
            "q": q,
            "mean_inside": acts[mask].mean(axis=0, dtype=np.float32),
            "mean_outside": acts[~mask].mean(axis=0, dtype=np.float32),
        }
    )
    return table.sort_values("R", ascending=False, kind="stable").reset_index(drop=True)


def ranking_agreement(table: pd.DataFrame, *, k: int) -> dict:
    """How far seed 000's R and the AUROC rank the same neurons first.

    AUROC is folded to |AUROC - 0.5| so a neuron that is reliably *lower* on the feature
    counts as much as one that is higher. Returns :func:`rank_agreement`'s dict.
    """
    by_unit = table.sort_values("neuron")
    return rank_agreement(by_unit["R"].to_numpy(), np.abs(by_unit["AUROC"].to_numpy() - 0.5), k=k)


def score_column(table: pd.DataFrame) -> str:
    """Return the column a :func:`rank_neurons` table is sorted by: ``"R"`` or ``"|r|"``."""
    return "R" if "R" in table.columns else "|r|"


def reliability(table: pd.DataFrame, other: pd.DataFrame, *, k: int) -> dict:
    """How far one ranking agrees with itself on a second text (Dahlberg's reliability).

    Both tables come from :func:`rank_neurons` for the same layer and feature on two
    texts; their default scores are compared unit by unit with
    :func:`~lib.analysis.significance.rank_agreement` (top-k overlap, shared units,
    Spearman's rho).
    """
    col = score_column(table)
    if col != score_column(other) or len(table) != len(other):
        raise ValueError(
            f"both tables must rank the same units by the same score, got {len(table)} units "
            f"by {col!r} and {len(other)} by {score_column(other)!r}."
        )
    a = table.sort_values("neuron")[col].to_numpy()
    b = other.sort_values("neuron")[col].to_numpy()
    return rank_agreement(a, b, k=k)
