"""The Neuron Atlas: what every neuron of a layer does, with the evidence for it.

Every neuron of a layer is scored against every feature of the feature bank
(:mod:`lib.analysis.feature_bank`: string literals, comments, indentation, brackets for
code; quotations, sentence and word position, parts of speech for prose) by effect size
with a block-bootstrap interval and a circular-shift test (:mod:`lib.analysis.effects`).
A neuron gets a role only when its best feature is a *finding*: an effect of at least the
minimum size (e.g. |AUROC - 0.5| >= 0.1), significant after Benjamini-Hochberg over the
layer, with an interval that excludes chance. Otherwise it is "no clear role"; a neuron
that barely moves is "dead (constant)". Karpathy, Johnson & Fei-Fei (2015) estimated that
about 5% of an LSTM's cells are interpretable this way; :attr:`Atlas.share_clear` is the
same figure for this model and text.

Features are scored on what the current token does *not* explain: each token type's mean
activation is subtracted first (:func:`lib.analysis.token_share.token_explained`). A trained
character model's units respond to the character they read (a unit high on every digit has
an AUROC near 1 for "number" and tracks nothing else), so raw scores would label most of a
layer by input characters; on the residual a role means the neuron tracks the feature in
context, beyond the token: the kind of cell Karpathy et al. found. A neuron whose variance
the token explains (R^2 >= :data:`TOKEN_DRIVEN`) and that has no contextual role is labelled
"driven by the current token".

Beside the label each neuron has its best matches (up to ``per_neuron`` features), its
max-activating and quantile-sampled contexts (:mod:`lib.analysis.contexts`), its dominant
period where one stands out (Dahlberg's Fourier view, :mod:`lib.analysis.fourier`) and, for
gated cells, its gate saturation (Karpathy et al. 2015, :mod:`lib.analysis.saturation`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.analysis.contexts import Contexts, neuron_contexts
from lib.analysis.distributions import dead_neurons
from lib.analysis.effects import auroc_interval, correlation_interval, effect_table, rank_acts
from lib.analysis.feature_bank import FeatureBank, feature_bank
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.ranking import minimum_size
from lib.analysis.saturation import layer_saturation
from lib.analysis.token_share import token_explained

if TYPE_CHECKING:
    from lib.data.tokenizer import Level
    from lib.run.trace import Trace

NO_ROLE = "no clear role"
DEAD = "dead (constant)"
#: features a unit can only track by remembering more than the last token or two (the
#: kind of cell Karpathy et al. 2015 found: quotes, line position, brackets, indentation);
#: the others (keyword, number, start of line, parts of speech...) are local
MEMORY_FEATURES = frozenset(
    {
        "inside string literal",
        "inside docstring",
        "inside comment",
        "indentation depth",
        "bracket depth in code",
        "bracket depth",
        "inside brackets",
        "position in line",
        "inside quotes",
        "position in sentence",
    }
)
#: a neuron without a contextual role is "driven by the current token" when the token
#: alone explains at least this share of its variance (:mod:`lib.analysis.token_share`)
TOKEN_DRIVEN = 0.5
#: a unit's dominant period is reported when its peak is at least this many times the
#: median amplitude of the frequencies around it
PERIOD_PROMINENCE = 8.0
#: the periods considered: 2 tokens (Nyquist) to 1/50 of the text
MAX_PERIOD_SHARE = 50
#: frequency bins on each side of a peak that its prominence is measured against
PERIOD_NEIGHBOURS = 32


@dataclass(frozen=True)
class Atlas:
    """The atlas of one layer and signal over one recording.

    Attributes
    ----------
    layer, signal : int, str
    n_tokens : int
    kind : {"code", "prose"}
        The kind of text the feature bank was chosen for.
    table : DataFrame
        One row per neuron: ``neuron``, ``label`` (e.g. "inside string literal (higher
        there): AUROC 0.82 [0.79, 0.85]", with "; also ..." naming up to two more findings
        that need memory, or :data:`NO_ROLE`, :data:`DEAD`), ``role`` (bool),
        ``memory`` (the role needs memory: :data:`MEMORY_FEATURES`),
        ``feature`` (its best feature, "" when none), ``effect``, ``size``, ``direction``,
        ``ci_low``, ``ci_high``, ``p``, ``q`` of that best match (scored on the residual
        after the token-type means), ``dead``, ``token_r2`` (the share of variance the
        current token explains), ``period`` (tokens; NaN when no period stands out),
        ``spread`` (the unit's 5-95% range of activation), and
        for gated cells ``<gate>_left`` / ``<gate>_right`` saturation shares.
    matches : DataFrame
        Long form: the best ``per_neuron`` features of every neuron, on the residual
        (``neuron``,
        ``feature``, ``kind``, ``effect``, ``size``, ``direction``, ``ci_low``, ``ci_high``,
        ``p``, ``q``, ``finding``, ``memory``), plus its best feature that needs memory;
        findings first, those that need memory before local ones, then by size.
    contexts : Contexts
        Max-activating and quantile-sampled steps of every neuron.
    saturation : DataFrame
        :func:`lib.analysis.saturation.layer_saturation` of the layer (empty for an RNN).
    skipped : dict of str to str
        Features of the bank that could not be used on this text, and why.
    """

    layer: int
    signal: str
    n_tokens: int
    kind: str
    table: pd.DataFrame
    matches: pd.DataFrame
    contexts: Contexts
    saturation: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def share_clear(self) -> float:
        """Share of the layer's neurons with a clear (contextual) role, 0 to 1."""
        return float(self.table["role"].mean()) if len(self.table) else 0.0

    @property
    def share_memory(self) -> float:
        """Share of the layer's neurons whose role needs memory (:data:`MEMORY_FEATURES`)."""
        return float(self.table["memory"].mean()) if len(self.table) else 0.0

    @property
    def share_token_driven(self) -> float:
        """Share of the layer's neurons without a role that the current token drives."""
        driven = ~self.table["role"] & ~self.table["dead"]
        driven &= self.table["token_r2"] >= TOKEN_DRIVEN
        return float(driven.mean()) if len(self.table) else 0.0

    def top_features(self, n: int = 5, *, memory: bool = False) -> list[tuple[str, int]]:
        """Return the ``n`` commonest roles with their counts (``memory``: those that need it)."""
        roles = self.table.loc[self.table["memory" if memory else "role"], "feature"]
        return Counter(roles).most_common(n)

    def search(self, text: str) -> pd.DataFrame:
        """Return the rows of :attr:`table` whose label contains ``text`` (any case)."""
        text = text.strip().lower()
        if not text:
            return self.table
        return self.table[self.table["label"].str.lower().str.contains(text, regex=False)]


def _finding(kind: str, size: float, q: float, lo: float, hi: float, alpha: float) -> bool:
    minimum = minimum_size(kind)  # the same bar as the Relevance page's findings
    chance = 0.5 if kind == "binary" else 0.0
    excludes = np.isfinite(lo) and np.isfinite(hi) and (lo > chance or hi < chance)
    return bool(size >= minimum and q < alpha and excludes)


def _label(row: pd.Series) -> str:
    """Label a neuron: its role ("higher inside string literal: AUROC 0.82 [0.79, 0.85]")."""
    if row["dead"]:
        return DEAD
    if not row["role"]:
        if row["token_r2"] >= TOKEN_DRIVEN:
            return f"driven by the current token (R² {row['token_r2']:.2f})"
        return NO_ROLE
    name = "AUROC" if row["kind"] == "binary" else "r"
    way = {
        "higher on the feature": "higher there",
        "lower on the feature": "lower there",
        "rises with it": "rises with it",
        "falls with it": "falls with it",
    }.get(row["direction"], row["direction"])
    label = (
        f"{row['feature']} ({way}): {name} {row['effect']:.2f} "
        f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    )
    also = row.get("also")
    return f"{label}; also {also}" if isinstance(also, str) and also else label


def _periods(acts: np.ndarray) -> np.ndarray:
    """Return each unit's dominant period in tokens, NaN where no narrow peak stands out.

    A peak counts when it is :data:`PERIOD_PROMINENCE` times the median amplitude of the
    frequencies around it (:data:`PERIOD_NEIGHBOURS` bins each side, its own 2 bins each
    side left out): a periodic unit has a narrow line, while the slow drift every unit has
    raises a whole region of low frequencies and is not a period.
    """
    n_steps = acts.shape[0]
    freqs, amps = spectrum(acts, remove_mean=True, window="hann")
    amps = np.asarray(amps)
    f_min = max(MAX_PERIOD_SHARE / n_steps, freqs[1])
    band = np.flatnonzero((freqs >= f_min) & (freqs <= 0.5))
    out = np.full(acts.shape[1], np.nan)
    if len(band) < 4 * PERIOD_NEIGHBOURS:
        return out
    _, at = band_peaks(freqs, amps, f_min=f_min, f_max=0.5)
    for unit, f in enumerate(at):
        k = int(np.searchsorted(freqs, f))
        lo, hi = max(band[0], k - PERIOD_NEIGHBOURS), min(band[-1] + 1, k + PERIOD_NEIGHBOURS + 1)
        around = np.r_[amps[lo : max(lo, k - 2), unit], amps[min(hi, k + 3) : hi, unit]]
        if len(around) and amps[k, unit] >= PERIOD_PROMINENCE * max(np.median(around), 1e-12):
            out[unit] = 1.0 / f
    return out


def atlas(
    trace: Trace,
    layer: int,
    *,
    signal: str = "h",
    level: Level,
    kind: str | None = None,
    bank: FeatureBank | None = None,
    n_boot: int = 200,
    alpha: float = 0.01,
    per_neuron: int = 3,
    seed: int = 0,
) -> Atlas:
    """Score every neuron of ``trace``'s ``layer`` against the feature bank and label it.

    Parameters
    ----------
    trace : Trace
        A recording of a text (a corpus slice is best: it holds many instances of each
        feature).
    layer : int
    signal : str, default "h"
        Any recorded signal of the layer: h, c, or a gate.
    level : {"char", "word"}
        The model's tokenization (features are computed per token).
    kind : {"code", "prose"}, optional
        The feature bank to use; by default detected from the text.
    bank : FeatureBank, optional
        A bank computed already (the same tokens).
    n_boot : int, default 200
        Block-bootstrap resamples for the interval of each neuron's best match.
    alpha : float, default 0.01
        Benjamini-Hochberg level over the layer, per feature.
    per_neuron : int, default 3
        Best matches kept per neuron in :attr:`Atlas.matches`.
    seed : int, default 0

    Returns
    -------
    Atlas

    Raises
    ------
    KeyError
        If the trace has no such layer and signal.
    lib.analysis.features.FeatureError
        If no feature of the bank can be used on this text (too short, or constant).

    Notes
    -----
    Two passes keep it fast: every (neuron, feature) pair is scored by effect size and
    shift-test q-value from ranks shared by all features; then only each neuron's best
    candidate gets its bootstrap interval. A neuron's role is its largest effect among the
    matches that are findings.
    """
    from lib.analysis.features import FeatureError

    acts = np.asarray(trace.signals[(layer, signal)])
    if bank is None:
        bank = feature_bank(trace.tokens, level=level, kind=kind)  # type: ignore[arg-type]
    if not bank.features:
        raise FeatureError(
            "No feature of the bank can be used on this text: "
            + "; ".join(f"{k}: {v}" for k, v in bank.skipped.items())
        )
    explained = token_explained(acts, trace.ids)
    context = explained.residual
    ranked = rank_acts(context)
    by_name = {f.name: f for f in bank.features}
    parts = []
    for f in bank.features:
        t = effect_table(
            context,
            f,
            ranked=ranked,
            n_boot=n_boot,
            ci_units=0,
            alpha=alpha,
            seed=seed,
            with_relevance=False,  # R and R_z are not kept: a second FFT per feature saved
        )
        t = t[["neuron", "effect", "size", "direction", "p", "q", "constant"]].copy()
        t["feature"], t["kind"] = f.name, f.kind
        parts.append(t)
    scores = pd.concat(parts, ignore_index=True)
    n_units = acts.shape[1]
    q05, q95 = np.quantile(acts, [0.05, 0.95], axis=0)
    dead = dead_neurons(acts) | (q95 - q05 < 1e-4)
    ranked_scores = scores[~scores["constant"]].sort_values(
        ["neuron", "size"], ascending=[True, False], kind="stable"
    )
    top = ranked_scores.groupby("neuron").head(per_neuron)
    memory = ranked_scores[ranked_scores["feature"].isin(MEMORY_FEATURES)]
    best = pd.concat([top, memory.groupby("neuron").head(1)])
    best = best[~best.index.duplicated()].copy()
    best["ci_low"], best["ci_high"] = np.nan, np.nan
    for name, rows in best.groupby("feature"):
        f = by_name[str(name)]
        units = rows["neuron"].to_numpy()
        if f.kind == "binary":  # the shared ranks: no sort per feature
            lo, hi = auroc_interval(
                context, f.values, n_boot=n_boot, seed=seed, units=units, ranked=ranked
            )
        else:
            lo, hi = correlation_interval(context, f.values, n_boot=n_boot, seed=seed, units=units)
        best.loc[rows.index, "ci_low"] = np.asarray(lo)[units]
        best.loc[rows.index, "ci_high"] = np.asarray(hi)[units]
    best["finding"] = [
        _finding(r.kind, r.size, r.q, r.ci_low, r.ci_high, alpha) for r in best.itertuples()
    ]
    best["memory"] = best["feature"].isin(MEMORY_FEATURES)
    # a role that needs memory comes first: it is what the neuron adds beyond its input
    matches = best.sort_values(
        ["neuron", "finding", "memory", "size"],
        ascending=[True, False, False, False],
        kind="stable",
    ).reset_index(drop=True)
    matches = matches[
        ["neuron", "feature", "kind", "effect", "size", "direction", "ci_low", "ci_high"]
        + ["p", "q", "finding", "memory"]
    ]
    first = matches.groupby("neuron").head(1).set_index("neuron")
    table = pd.DataFrame({"neuron": np.arange(n_units)})
    table = table.join(first, on="neuron")
    table["dead"] = dead
    table["token_r2"] = explained.r2
    table["role"] = table["finding"].fillna(False).astype(bool) & ~table["dead"]
    table["memory"] = table["memory"].fillna(False).astype(bool) & table["role"]
    table["feature"] = np.where(table["role"], table["feature"].fillna(""), "")
    table["kind"] = table["kind"].fillna("")
    table["direction"] = table["direction"].fillna("")
    others = matches[matches["finding"] & matches["memory"]]
    others = others[others.groupby("neuron").cumcount() > 0]  # besides the role itself
    also = others.groupby("neuron")["feature"].agg(lambda f: ", ".join(list(f)[:2]))
    table["also"] = table["neuron"].map(also).where(table["role"], None)
    table["label"] = table.apply(_label, axis=1)
    table = table.drop(columns=["also"])
    table["period"] = _periods(acts)
    table["spread"] = q95 - q05
    saturation = layer_saturation(trace, layer)
    if len(saturation):
        wide = saturation.pivot_table(index="unit", columns="gate", values=["left", "right"])
        for (side, gate), col in wide.items():
            table[f"{gate}_{side}"] = col.reindex(range(n_units)).to_numpy()
    table = table.drop(columns=["finding"])
    order = ["neuron", "label", "role", "memory", "feature", "kind", "effect", "size"]
    order += ["direction"]
    order += ["ci_low", "ci_high", "p", "q", "dead", "token_r2", "period", "spread"]
    table = table[order + [c for c in table.columns if c not in order]]
    return Atlas(
        layer=layer,
        signal=signal,
        n_tokens=len(trace.tokens),
        kind=bank.kind,
        table=table,
        matches=matches,
        contexts=neuron_contexts(acts),
        saturation=saturation,
        skipped=dict(bank.skipped),
    )
