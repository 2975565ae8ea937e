"""Seed 004's sentence glyphs: how a sentence moves each cluster of hidden units (RNNVis).

Given the unit clusters H_1 .. H_p of a co-clustering (:func:`lib.analysis.coclustering.
cocluster`'s ``col_labels``) and the states h^(t) (shape (T, n_units); the cell state c
for an LSTM by default) of one layer while the model reads a sentence, seed 004 (section
3.1, Eqs. 6-7) measures at each step t and for each cluster i:

- **aggregate information**, Eq. 6, from the state values (not their updates)::

      alpha_{i+}^(t) = sum_{j in H_i, h_j^(t) > 0} h_j^(t)     (>= 0)
      alpha_{i-}^(t) = sum_{j in H_i, h_j^(t) < 0} h_j^(t)     (<= 0)

- **updated information**, the glyph's "hats"::

      Δalpha_{i+}^(t) = alpha_{i+}^(t) - alpha_{i+}^(t-1)
      Δalpha_{i-}^(t) = alpha_{i-}^(t) - alpha_{i-}^(t-1)

  Δ > 0 (orange) is more positive or less negative information, Δ < 0 (blue) the
  opposite; |Δalpha_{i+} + Δalpha_{i-}| is the cluster's sensitivity to the token.

- **preserved information**, Eq. 7::

      beta_i^(t) = sum_{j in H_i} |h_j^(t-1)| min(1, max(0, h_j^(t) / h_j^(t-1)))

  computed without dividing as sum_j min(|h_j^(t-1)|, |h_j^(t)|) over the units whose two
  values share a sign (0 for the others), which is the same number and what the seed's
  reference code computes. The paper's alternative for gated cells replaces the clipped
  ratio by the gate that keeps the old state: beta_i^(t) = sum_j |c_j^(t-1)| f_j^(t) for an
  LSTM's cell state, and sum_j |h_j^(t-1)| z_j^(t) for a GRU here (Keras' GRU keeps
  z h^(t-1), h^(t) = z h^(t-1) + (1 - z) n, where the paper's Eq. 12 keeps (1 - z) h^(t-1);
  the spec's (1 - z) is the paper's convention).

- **preserved fraction**, the cursor of the control chart on top of each glyph: the paper
  divides beta_i^(t) by alpha_{i+}^(t) - alpha_{i-}^(t) (the current total), its reference
  code by the previous step's total sum_{j in H_i} |h_j^(t-1)|; seed 004's spec (section
  3.2 and errata item 3) takes the previous step's total, clamped to [0, 1], as "the
  percentage of information that flows from the previous step". That is the default
  here (``denominator="previous"``); ``"current"`` gives the paper's.

Step 0 (the first token) has no previous step in the text: the state before it is the
recorder's zero state h^(0) = 0 (seed 004 section 0.1; pass ``initial`` for a sentence
cut out of a longer text). So Δalpha^(0) = alpha^(0), beta^(0) = 0, and with the default
denominator the preserved fraction at step 0 is NaN ("nothing to preserve": no cursor is
drawn), as it is wherever a denominator is 0 (a cluster whose units were all exactly 0).

Glyphs draw everything divided by the cluster size |H_i|, on one symmetric vertical scale
shared by all glyphs (:func:`glyph_scale`).

- :func:`sentence_glyphs`: every measure from plain arrays, vectorized over steps and units.
- :func:`glyphs_from_trace`: the same from a :class:`lib.run.trace.Trace`, with the seed's
  defaults (last layer; an LSTM's cell state) and the gate-based beta on request.
- :func:`glyph_scale`: the shared vertical range of one or more sentences' glyphs.
- :func:`glyph_table`: a long-form table (one row per token and cluster) for the charts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.coclustering import NONE, Coclusters
from lib.run.trace import Trace

#: how beta is computed: Eq. 7's clipped ratio, or the gate that keeps the old state
PRESERVED = ("clip", "gate")
#: denominators of the preserved fraction (see the module docstring)
DENOMINATORS = ("previous", "current")
#: steps per block: (4096, 512) float64 temporaries are 17 MB each
_ROW_BLOCK = 4096
#: (cell, state signal) -> the gate that keeps the previous state, for ``preserved="gate"``
KEEP_GATES = {("lstm", "c"): "f", ("gru", "h"): "z"}


@dataclass(frozen=True, repr=False)
class SentenceGlyphs:
    """Seed 004's per-step, per-cluster measures of one sentence (:func:`sentence_glyphs`).

    Every (T, k) array has one row per token and one column per cluster, in the order of
    ``clusters`` (the memory chips' order: 0, 1, ..., then -1 for units in no cluster).
    Values are sums over the cluster's units; divide by ``sizes`` for the glyph's averages.
    """

    #: the T tokens (empty strings when none were given)
    tokens: list
    #: ndarray of int64, shape (k,): cluster number of each column
    clusters: np.ndarray
    #: ndarray of int64, shape (k,): units in each cluster, |H_i|
    sizes: np.ndarray
    #: ndarray of float64, shape (T, k): alpha_{i+}^(t) >= 0 (Eq. 6)
    positive: np.ndarray
    #: ndarray of float64, shape (T, k): alpha_{i-}^(t) <= 0 (Eq. 6)
    negative: np.ndarray
    #: ndarray of float64, shape (T, k): alpha_{i+}^(t) - alpha_{i+}^(t-1)
    delta_positive: np.ndarray
    #: ndarray of float64, shape (T, k): alpha_{i-}^(t) - alpha_{i-}^(t-1)
    delta_negative: np.ndarray
    #: ndarray of float64, shape (T, k): beta_i^(t) (Eq. 7, or its gate form)
    preserved: np.ndarray
    #: ndarray of float64, shape (T, k): the preserved fraction's denominator
    denominator_values: np.ndarray
    #: ndarray of float64, shape (T, k): beta / denominator clamped to [0, 1]; NaN where
    #: the denominator is 0
    fraction: np.ndarray
    #: "clip" (Eq. 7) or "gate"
    preserved_by: str = "clip"
    #: "previous" (sum |h^(t-1)|, the spec's fix) or "current" (alpha_+ - alpha_-, the paper)
    denominator: str = "previous"

    @property
    def n_steps(self) -> int:
        """Number of tokens (glyph columns)."""
        return self.positive.shape[0]

    @property
    def n_clusters(self) -> int:
        """Number of clusters (memory chips)."""
        return self.positive.shape[1]

    @property
    def previous_positive(self) -> np.ndarray:
        """alpha_{i+}^(t-1), shape (T, k)."""
        return self.positive - self.delta_positive

    @property
    def previous_negative(self) -> np.ndarray:
        """alpha_{i-}^(t-1), shape (T, k)."""
        return self.negative - self.delta_negative

    def __repr__(self) -> str:
        return (
            f"SentenceGlyphs(T={self.n_steps}, clusters={self.clusters.tolist()}, "
            f"sizes={self.sizes.tolist()}, preserved_by={self.preserved_by!r}, "
            f"denominator={self.denominator!r})"
        )


# --- checks ---------------------------------------------------------------------------------


def _check_states(states: npt.ArrayLike) -> np.ndarray:
    states = np.asarray(states)
    if states.ndim != 2:
        raise ValueError(f"`states` must be 2-D (n_steps, n_units), got shape {states.shape}.")
    if states.dtype.kind not in "fiub":
        raise ValueError(f"`states` must hold numbers, got dtype {states.dtype}.")
    if 0 in states.shape:
        raise ValueError(
            f"`states` needs at least one step and one unit, got shape {states.shape}."
        )
    if states.dtype.kind != "f":  # float16 / float32 are upcast block by block
        states = states.astype(np.float64)
    if not np.isfinite(states).all():
        raise ValueError(f"`states` holds {int((~np.isfinite(states)).sum())} NaN or inf value(s).")
    return states


def _check_col_labels(col_labels: npt.ArrayLike | Coclusters, n_units: int) -> np.ndarray:
    if isinstance(col_labels, Coclusters):
        col_labels = col_labels.col_labels
    labels = np.asarray(col_labels)
    if labels.shape != (n_units,):
        raise ValueError(
            f"`col_labels` must have shape ({n_units},), one cluster label per unit (column "
            f"of `states`), got shape {labels.shape}."
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"`col_labels` must hold integers, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.min() < NONE:
        raise ValueError(f"`col_labels` must be -1 (no cluster) or >= 0, got {labels.min()}.")
    return labels


def _check_like(values: npt.ArrayLike, shape: tuple, name: str, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}, {what}, got shape {values.shape}.")
    if values.dtype.kind not in "fiub":
        raise ValueError(f"`{name}` must hold numbers, got dtype {values.dtype}.")
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` holds {int((~np.isfinite(values)).sum())} NaN or inf value(s).")
    return values


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {value!r}.")


# --- measures -------------------------------------------------------------------------------


def cluster_membership(
    col_labels: npt.ArrayLike | Coclusters, n_units: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the clusters of the units, in memory-chip order, and a 0/1 membership matrix.

    Parameters
    ----------
    col_labels : array-like of int, shape (n_units,), or Coclusters
        Unit cluster of each unit (-1: in no cluster), e.g. ``cocluster(S).col_labels``.
    n_units : int, optional
        Expected number of units (checked when given).

    Returns
    -------
    clusters : ndarray of int64, shape (k,)
        The labels that occur, ascending, with -1 (if any unit has it) last.
    membership : ndarray of float64, shape (n_units, k)
        ``membership[j, i] = 1`` if unit j is in ``clusters[i]``, else 0.
    """
    if isinstance(col_labels, Coclusters):
        col_labels = col_labels.col_labels
    size = np.asarray(col_labels).shape[0] if n_units is None else n_units
    labels = _check_col_labels(col_labels, size)
    present = np.unique(labels)
    clusters = np.concatenate([present[present >= 0], present[present < 0]])
    membership = (labels[:, None] == clusters[None, :]).astype(np.float64)
    return clusters, membership


def sentence_glyphs(
    states: npt.ArrayLike,
    col_labels: npt.ArrayLike | Coclusters,
    *,
    tokens: Sequence[str] | None = None,
    keep: npt.ArrayLike | None = None,
    initial: npt.ArrayLike | None = None,
    denominator: str = "previous",
) -> SentenceGlyphs:
    """Aggregate, updated and preserved information of each cluster at each step.

    Parameters
    ----------
    states : array-like of shape (T, n_units)
        Row t is the state after reading token t (``trace.signals[(layer, "c")]`` for an
        LSTM, ``"h"`` otherwise).
    col_labels : array-like of int, shape (n_units,), or Coclusters
        Unit cluster of each unit from :func:`lib.analysis.coclustering.cocluster`; -1
        (no cluster) forms a last group, as in the memory chips.
    tokens : sequence of str of length T, optional
        The tokens, kept for the tables and tooltips.
    keep : array-like of shape (T, n_units), optional
        A gate in [0, 1] that keeps the previous state: f for an LSTM's c, z for a Keras
        GRU's h. Given, beta uses it (sum |h^(t-1)| keep^(t)) instead of Eq. 7's clipped
        ratio.
    initial : array-like of shape (n_units,), optional
        The state before token 0; default zeros (the recorder starts from h^(0) = 0).
    denominator : {"previous", "current"}, default "previous"
        Denominator of the preserved fraction: the previous step's total
        sum_{j in H_i} |h_j^(t-1)| (seed 004's spec, after its reference code) or the
        current total alpha_{i+}^(t) - alpha_{i-}^(t) (the paper's text).

    Returns
    -------
    glyphs : SentenceGlyphs
        Every measure as a (T, k) array, k the number of clusters.

    Raises
    ------
    ValueError
        If `states` is not a finite 2-D array with at least one step and unit, or
        `col_labels`, `tokens`, `keep` or `initial` do not match it, or `denominator` is
        unknown.

    Notes
    -----
    Seed 004, section 3.1, Eqs. 6-7; the formulas, the choice of denominator and the first
    step are in the module docstring. Unit j of cluster i contributes to beta_i^(t)
    min(|h_j^(t-1)|, |h_j^(t)|) when h_j^(t-1) h_j^(t) > 0 and nothing otherwise, which
    equals Eq. 7's |h_j^(t-1)| min(1, max(0, h_j^(t) / h_j^(t-1))) wherever h_j^(t-1) != 0
    and takes the limit 0 where it is 0. The preserved fraction is clamped to [0, 1]
    (only the gate form can exceed 1, with the current denominator) and is NaN where its
    denominator is 0, e.g. at step 0 with the previous-step denominator.
    """
    h = _check_states(states)
    n_steps, n_units = h.shape
    clusters, membership = cluster_membership(col_labels, n_units)
    _check_choice(denominator, DENOMINATORS, "denominator")
    if tokens is None:
        tokens = [""] * n_steps
    else:
        if isinstance(tokens, str):
            raise ValueError("`tokens` must be a sequence of tokens, got a single str.")
        tokens = list(tokens)
        if len(tokens) != n_steps:
            raise ValueError(
                f"`tokens` must have one entry per step of `states` ({n_steps}), got {len(tokens)}."
            )
    if initial is None:
        h0 = np.zeros(n_units)
    else:
        h0 = _check_like(initial, (n_units,), "initial", "the state before token 0")
    if keep is not None:
        keep = _check_like(keep, h.shape, "keep", "one gate value per step and unit")

    positive = np.empty((n_steps, clusters.size))
    negative = np.empty_like(positive)
    preserved = np.empty_like(positive)
    total_before = np.empty_like(positive)
    for start in range(0, n_steps, _ROW_BLOCK):  # bounded float64 temporaries
        stop = min(start + _ROW_BLOCK, n_steps)
        now = h[start:stop].astype(np.float64)
        before = h[max(start - 1, 0) : stop - 1].astype(np.float64)
        if start == 0:
            before = np.concatenate([h0[None], before])
        positive[start:stop] = np.maximum(now, 0.0) @ membership
        negative[start:stop] = np.minimum(now, 0.0) @ membership
        magnitude_before = np.abs(before)
        if keep is None:
            kept = np.where(now * before > 0, np.minimum(magnitude_before, np.abs(now)), 0.0)
        else:
            kept = magnitude_before * keep[start:stop]
        preserved[start:stop] = kept @ membership
        total_before[start:stop] = magnitude_before @ membership
    # alpha^(t-1) is the row above; before token 0 it is the initial state's
    first_positive = np.maximum(h0, 0.0) @ membership
    first_negative = np.minimum(h0, 0.0) @ membership
    delta_positive = positive - np.vstack([first_positive, positive[:-1]])
    delta_negative = negative - np.vstack([first_negative, negative[:-1]])
    below = total_before if denominator == "previous" else positive - negative
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(below > 0, np.clip(preserved / below, 0.0, 1.0), np.nan)
    return SentenceGlyphs(
        tokens=tokens,
        clusters=clusters,
        sizes=membership.sum(axis=0).astype(np.int64),
        positive=positive,
        negative=negative,
        delta_positive=delta_positive,
        delta_negative=delta_negative,
        preserved=preserved,
        denominator_values=below,
        fraction=fraction,
        preserved_by="clip" if keep is None else "gate",
        denominator=denominator,
    )


def _cell_of(trace: Trace, layer: int) -> str:
    names = set(trace.signal_names(layer))
    if "f" in names:
        return "lstm"
    if "z" in names:
        return "gru"
    return "rnn"


def glyphs_from_trace(
    trace: Trace,
    col_labels: npt.ArrayLike | Coclusters,
    *,
    layer: int | None = None,
    signal: str | None = None,
    preserved: str = "clip",
    denominator: str = "previous",
) -> SentenceGlyphs:
    """:func:`sentence_glyphs` of one layer of a recorded sentence.

    Parameters
    ----------
    trace : Trace
        The sentence recorded from the zero state (:func:`lib.run.record.record`).
    col_labels : array-like of int, shape (n_units,), or Coclusters
        Unit clusters of the same layer and signal.
    layer : int, optional
        Default the last layer (seed 004's default).
    signal : str, optional
        Default ``"c"`` for an LSTM (seed 004: the cell state holds the memory), else
        ``"h"``.
    preserved : {"clip", "gate"}, default "clip"
        ``"clip"``: Eq. 7. ``"gate"``: the gate that keeps the old state (f for an LSTM's c,
        z for a GRU's h, see :data:`KEEP_GATES`); only for those two signals.
    denominator : {"previous", "current"}, default "previous"
        See :func:`sentence_glyphs`.

    Returns
    -------
    glyphs : SentenceGlyphs

    Raises
    ------
    ValueError
        If the layer or signal is not in the trace, `preserved` is unknown, or the gate
        form is asked for a cell and signal without a keep gate.
    """
    _check_choice(preserved, PRESERVED, "preserved")
    if layer is None:
        if not trace.layers:
            raise ValueError("`trace` holds no signal.")
        layer = trace.layers[-1]
    cell = _cell_of(trace, layer)
    if signal is None:
        signal = "c" if cell == "lstm" else "h"
    if (layer, signal) not in trace.signals:
        raise ValueError(
            f"The trace has no signal {signal!r} in layer {layer}; it has {sorted(trace.signals)}."
        )
    keep = None
    if preserved == "gate":
        gate = KEEP_GATES.get((cell, signal))
        if gate is None:
            allowed = ", ".join(f"{s} of a {c.upper()}" for c, s in KEEP_GATES)
            raise ValueError(
                f'`preserved="gate"` needs a state with a keep gate ({allowed}), got '
                f"{signal!r} of a {cell.upper()}."
            )
        keep = trace.signals[(layer, gate)]
    return sentence_glyphs(
        trace.signals[(layer, signal)],
        col_labels,
        tokens=trace.tokens,
        keep=keep,
        denominator=denominator,
    )


def _ceil_2_significant(value: float) -> float:
    """Round ``value`` up to two significant digits (0.734 -> 0.74)."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(round(value / step, 9)) * step, 12)


def glyph_scale(*glyphs: SentenceGlyphs) -> float:
    """Return the shared symmetric vertical range ±scale of one or more sentences' glyphs.

    Parameters
    ----------
    *glyphs : SentenceGlyphs
        One or more sentences (compared sentences share the scale).

    Returns
    -------
    scale : float
        The largest extent of any bar, aggregate plus the hat drawn outside it, as an
        average per unit: max over steps and clusters of max(alpha_+^(t), alpha_+^(t-1),
        |alpha_-^(t)|, |alpha_-^(t-1)|) / |H_i| (seed 004 section 3.2: "±max ... rounded
        up"), rounded up here to two significant digits so that small states (a GRU's h
        near 0, 0.03) keep their resolution and large ones (an LSTM's cell counters, 12)
        a round number. 1.0 when every value is 0.

    Raises
    ------
    ValueError
        If no glyphs are given.
    """
    if not glyphs:
        raise ValueError("`glyph_scale` needs at least one SentenceGlyphs, got none.")
    largest = 0.0
    for g in glyphs:
        extent = np.maximum.reduce(
            [g.positive, g.previous_positive, -g.negative, -g.previous_negative]
        )
        largest = max(largest, float((extent / g.sizes).max()))
    return _ceil_2_significant(largest) if largest > 0 else 1.0


def glyph_table(
    glyphs: SentenceGlyphs, *, cluster_words: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """One row per token and cluster, with the glyph's averages, for ``alt.Chart(df)``.

    Parameters
    ----------
    glyphs : SentenceGlyphs
    cluster_words : mapping of int to str, optional
        A label per cluster number, e.g. its top words (missing clusters get "").

    Returns
    -------
    table : DataFrame
        T * k rows, by step then cluster. Columns ``step``, ``token``, ``cluster``,
        ``slot`` (the bar's position in the glyph, 0 .. k-1), ``size`` (|H_i|), ``words``,
        the averages per unit ``positive``, ``negative``, ``previous_positive``,
        ``previous_negative``, ``delta_positive``, ``delta_negative`` (each alpha / |H_i|),
        ``sensitivity`` (|Δalpha_+ + Δalpha_-| / |H_i|, the width of seed 004's
        sentence-to-chip links), the sums ``preserved`` (beta) and ``denominator``, and
        ``fraction`` (NaN where undefined).
    """
    n_steps, k = glyphs.n_steps, glyphs.n_clusters
    sizes = glyphs.sizes.astype(np.float64)
    words = cluster_words or {}

    def per_unit(values: np.ndarray) -> np.ndarray:
        return (values / sizes).ravel()

    dpos, dneg = glyphs.delta_positive, glyphs.delta_negative
    return pd.DataFrame(
        {
            "step": np.repeat(np.arange(n_steps), k),
            "token": np.repeat(np.asarray(glyphs.tokens, dtype=object), k),
            "cluster": np.tile(glyphs.clusters, n_steps),
            "slot": np.tile(np.arange(k), n_steps),
            "size": np.tile(glyphs.sizes, n_steps),
            "words": [words.get(int(c), "") for c in glyphs.clusters.tolist()] * n_steps,
            "positive": per_unit(glyphs.positive),
            "negative": per_unit(glyphs.negative),
            "previous_positive": per_unit(glyphs.previous_positive),
            "previous_negative": per_unit(glyphs.previous_negative),
            "delta_positive": per_unit(dpos),
            "delta_negative": per_unit(dneg),
            "sensitivity": per_unit(np.abs(dpos + dneg)),
            "preserved": glyphs.preserved.ravel(),
            "denominator": glyphs.denominator_values.ravel(),
            "fraction": glyphs.fraction.ravel(),
        }
    )
