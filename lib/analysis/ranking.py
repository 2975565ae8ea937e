"""Tables ranking every neuron of a layer against a feature of interest.

:func:`rank_neurons` (the Fourier, Compare and Ablation pages) gives binary features
Dahlberg's relevance R (KTH thesis, section 1.5), the AUROC of activation vs feature, the
point-biserial correlation r, its circular-shift p-value and the Benjamini–Hochberg
q-value, sorted by R; numeric features (bracket depth, position in line) get the Pearson
correlation with its p and q, sorted by |r|.

:func:`effect_ranking` (the Neuron Relevance page) ranks by effect size instead, with a
block-bootstrap interval and the verdict of :func:`lib.analysis.effects.effect_table`:
over a long text most neurons pass the significance test for a real feature, so only the
size of the effect singles one out, and R is shown beside its calibrated R_z.
:func:`effect_headline` says in one sentence what the top neuron does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.effects import (
    MIN_AUROC_EFFECT,
    MIN_CORRELATION,
    RankedActs,
    effect_table,
    rank_acts,
    ranked_auroc,
)
from lib.analysis.features import Feature, check_binary
from lib.analysis.relevance import relevance
from lib.analysis.significance import (
    ShiftSpectra,
    auroc,
    benjamini_hochberg,
    circular_shift_pvalues,
    correlation,
    rank_agreement,
)


def rank_neurons(
    acts: np.ndarray,
    feature: Feature,
    *,
    n_shifts: int | None = None,
    ranked: RankedActs | None = None,
    spectra: ShiftSpectra | None = None,
) -> pd.DataFrame:
    """Score every neuron of ``acts`` against ``feature``.

    Parameters
    ----------
    acts : ndarray of shape (T, n_units)
    feature : Feature of length T
    n_shifts : int, optional
        Circular shifts in the null distribution (see
        :func:`lib.analysis.significance.circular_shift_pvalues`).
    ranked : RankedActs, optional
        :func:`lib.analysis.effects.rank_acts` of `acts`, computed once per trace: the
        AUROC of a binary feature is then one sum of ranks per unit (O(T x units), no
        sort), equal to the sorting :func:`~lib.analysis.significance.auroc`. Not needed
        for a numeric feature.
    spectra : ShiftSpectra, optional
        :func:`lib.analysis.significance.shift_spectra` of `acts`, computed once per trace:
        the p-values then take no forward FFT (same result).

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
    if ranked is not None and ranked.ranks.shape != acts.shape:
        raise ValueError(
            f"`ranked` was computed for activations of shape {ranked.ranks.shape}, these "
            f"have shape {acts.shape}: call rank_acts on these activations."
        )
    p = circular_shift_pvalues(acts, feature.values, n_shifts=n_shifts, spectra=spectra)
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
            "AUROC": auroc(acts, mask) if ranked is None else ranked_auroc(ranked, mask),
            "r": r,
            "p": p,
            "q": q,
            "mean_inside": acts[mask].mean(axis=0, dtype=np.float32),
            "mean_outside": acts[~mask].mean(axis=0, dtype=np.float32),
        }
    )
    return table.sort_values("R", ascending=False, kind="stable").reset_index(drop=True)


def ranking_agreement(table: pd.DataFrame, *, k: int) -> dict:
    """How far Dahlberg's R and the AUROC rank the same neurons first.

    `table` is a :func:`rank_neurons` table (column ``AUROC``) or an :func:`effect_ranking`
    of a binary feature (column ``effect``). AUROC is folded to |AUROC - 0.5| so a neuron
    that is reliably *lower* on the feature counts as much as one that is higher. Returns
    :func:`rank_agreement`'s dict.
    """
    by_unit = table.sort_values("neuron")
    auc = by_unit["AUROC" if "AUROC" in by_unit.columns else "effect"].to_numpy()
    return rank_agreement(by_unit["R"].to_numpy(), np.abs(auc - 0.5), k=k)


def score_column(table: pd.DataFrame) -> str:
    """Return the column a :func:`rank_neurons` table is sorted by: ``"R"`` or ``"|r|"``."""
    return "R" if "R" in table.columns else "|r|"


def reliability(
    table: pd.DataFrame, other: pd.DataFrame, *, k: int, column: str | None = None
) -> dict:
    """How far one ranking agrees with itself on a second text (Dahlberg's reliability).

    Both tables come from :func:`rank_neurons` (or both from :func:`effect_ranking`) for
    the same layer and feature on two texts; their scores in `column` (default: the
    :func:`score_column` of a :func:`rank_neurons` table) are compared unit by unit with
    :func:`~lib.analysis.significance.rank_agreement` (top-k overlap, shared units,
    Spearman's rho).
    """
    col = score_column(table) if column is None else column
    other_col = score_column(other) if column is None else column
    if col not in table.columns or col not in other.columns:
        raise ValueError(f"both tables need the column {col!r}, got {list(other.columns)}.")
    if col != other_col or len(table) != len(other):
        raise ValueError(
            f"both tables must rank the same units by the same score, got {len(table)} units "
            f"by {col!r} and {len(other)} by {other_col!r}."
        )
    a = table.sort_values("neuron")[col].to_numpy()
    b = other.sort_values("neuron")[col].to_numpy()
    return rank_agreement(a, b, k=k)


#: what :func:`effect_ranking` tables can be ordered by: the effect size, or Dahlberg's R
RANK_BY = ("size", "R")


def effect_ranking(
    acts: np.ndarray,
    feature: Feature,
    *,
    ranked: RankedActs | None = None,
    spectra: ShiftSpectra | None = None,
    n_ci: int = 10,
    n_boot: int = 200,
    alpha: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """Every neuron's effect size for `feature`, ranked, with intervals for the top neurons.

    Parameters
    ----------
    acts : ndarray of shape (T, n_units)
    feature : Feature of length T
    ranked : RankedActs, optional
        :func:`lib.analysis.effects.rank_acts` of `acts`, if already computed.
    spectra : ShiftSpectra, optional
        :func:`lib.analysis.significance.shift_spectra` of `acts`, if already computed.
    n_ci : int, default 10
        The `n_ci` largest effects get a block-bootstrap interval, and for a binary feature
        so do the `n_ci` largest R, so either order (:func:`order_by`) shows intervals at
        its top.
    n_boot, alpha, seed
        As in :func:`lib.analysis.effects.effect_table`.

    Returns
    -------
    DataFrame, one row per neuron
        :func:`~lib.analysis.effects.effect_table`'s columns (sorted the same way: findings,
        then effect size, constant neurons last), plus ``mean_inside`` and
        ``mean_outside`` (the mean activation on and off the feature) for a binary feature.

    Raises
    ------
    FeatureError
        As :func:`~lib.analysis.effects.effect_table`: an empty or full mask, a constant
        feature, a text too short for the circular-shift test.
    """
    acts = np.asarray(acts)
    if acts.ndim != 2 or acts.shape[0] != len(feature):
        raise ValueError(f"`acts` must be (T, n_units) with T = {len(feature)}, got {acts.shape}.")
    if int(n_ci) != n_ci or n_ci < 0:
        raise ValueError(f"`n_ci` must be an integer >= 0, got {n_ci!r}.")
    binary = feature.kind == "binary"
    units: int | np.ndarray = int(n_ci)
    if binary:
        mask = check_binary(feature.values, feature.name)
        if ranked is None:
            ranked = rank_acts(acts)
        # the largest effects and the largest R, each leaving constant neurons out
        live = ~ranked.constant
        size = np.abs(ranked_auroc(ranked, mask) - 0.5)
        r = relevance(acts, mask)
        by_size = np.flatnonzero(live)[np.argsort(-size[live], kind="stable")[:n_ci]]
        by_r = np.flatnonzero(live)[np.argsort(-r[live], kind="stable")[:n_ci]]
        units = np.union1d(by_size, by_r)
    table = effect_table(
        acts,
        feature,
        ranked=ranked,
        spectra=spectra,
        n_boot=n_boot,
        ci_units=units,
        alpha=alpha,
        seed=seed,
    )
    if binary:
        by_unit = table["neuron"].to_numpy()
        table["mean_inside"] = acts[mask].mean(axis=0, dtype=np.float64)[by_unit]
        table["mean_outside"] = acts[~mask].mean(axis=0, dtype=np.float64)[by_unit]
    return table


def order_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Order an :func:`effect_ranking` table by `column` of :data:`RANK_BY`, descending.

    ``"size"`` keeps the table's own order (findings first, then effect size); ``"R"``
    sorts by Dahlberg's R. Constant neurons stay last either way; ties keep the lower neuron
    first.
    """
    if column not in RANK_BY or column not in table.columns:
        raise ValueError(
            f"`column` must be one of {RANK_BY} and in the table, got {column!r} "
            f"(columns {list(table.columns)})."
        )
    if column == "size":
        keys, ascending = ["constant", "finding", "size", "neuron"], [True, False, False, True]
    else:
        keys, ascending = ["constant", "R", "neuron"], [True, False, True]
    return table.sort_values(keys, ascending=ascending, kind="stable").reset_index(drop=True)


def minimum_size(kind: str) -> float:
    """Smallest ``size`` a finding needs: 2 MIN_AUROC_EFFECT (binary) or MIN_CORRELATION."""
    return 2 * MIN_AUROC_EFFECT if kind == "binary" else MIN_CORRELATION


def _q_text(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def effect_headline(table: pd.DataFrame, kind: str, *, alpha: float = 0.01) -> str:
    """One sentence on the first neuron of an :func:`effect_ranking` table (plain text).

    E.g. "Neuron 204: AUROC 0.82 [0.79, 0.85], higher on the feature; survives the
    circular-shift test (q < 0.001)." The effect comes with its block-bootstrap interval
    where the neuron has one, and the sentence says when the effect is below the minimum
    (:func:`minimum_size`) or the test is not passed at false discovery rate `alpha`.
    """
    if table.empty:
        raise ValueError("The table has no neuron.")
    row = table.iloc[0]
    if bool(row["constant"]):
        return "Every neuron of this layer is constant on this text: there is nothing to rank."
    name = "AUROC" if kind == "binary" else "r"
    interval = ""
    if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
        interval = f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    text = f"Neuron {int(row['neuron'])}: {name} {row['effect']:.2f}{interval}"
    if row["direction"]:
        text += f", {row['direction']}"
    if row["q"] < alpha:
        text += f"; survives the circular-shift test ({_q_text(row['q'])})"
    else:
        text += f"; does not survive the circular-shift test ({_q_text(row['q'])})"
    if row["size"] < minimum_size(kind):
        if kind == "binary":
            text += (
                f", but its effect is below the minimum (AUROC between "
                f"{0.5 - MIN_AUROC_EFFECT:.1f} and {0.5 + MIN_AUROC_EFFECT:.1f} counts as no "
                "clear link)"
            )
        else:
            text += f", but its effect is below the minimum (|r| < {MIN_CORRELATION:.2f})"
    elif interval and not bool(row["finding"]) and row["q"] < alpha:
        text += ", but its interval includes chance"
    return text + "."
