"""Interventions: zero, clamp or scale chosen neurons of a layer inside the recurrence.

An :class:`Intervention` edits one signal of one layer after every step, so the edit
reaches everything downstream of that step: the layer's own next step, the layers above
and the output layer. ``lib.record.record`` and ``lib.generate.generate`` take a sequence of
them (``interventions=``); :func:`loss_change` and :func:`ablation_sweep` measure what they
cost in next-token loss.

What is edited, at every step t (``x[n]`` is unit n of the signal)::

    zero:   x[n] <- 0
    clamp:  x[n] <- value
    scale:  x[n] <- value * x[n]

- ``signal="h"`` (any cell): the cell computes h_t from h_{t-1} (and c_{t-1}) as usual, then
  h_t[n] is edited. The edited h_t is the layer's output: the input of the next layer (or
  of the output layer), and h_{t-1} of the layer's own next step. An LSTM's cell state c_t
  is left as computed (it changes at later steps only through the edited h).
- ``signal="c"`` (LSTM only): after c_t = f_t c_{t-1} + i_t g_t, c_t[n] is edited and the
  unit's output is recomputed from it, h_t[n] = o_t[n] tanh(c_t[n]). The edited c_t is
  carried to step t + 1 and the recomputed h_t goes everywhere h goes. Zeroing c therefore
  also zeroes h (tanh 0 = 0); the gates of step t are those computed from the unedited past.

Several interventions are applied in the order given; on one layer the "c" ones come
first (with the recomputation of h), then the "h" ones. The recorded signals are the
edited values, and the gates are those the cell computed from the edited past.

Recording with interventions always runs the exact path (one stream, ``streams=1``): the
fast path's segments start from a warmed-up zero state and are repaired by comparing
them with the unedited recurrence, which no longer holds once the state is edited.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from lib.analysis.features import as_mask
from lib.cells import WIDTH, CellWeights, step
from lib.record import StackWeights, record, require_language_model

MODES = ("zero", "clamp", "scale")
SIGNALS = ("h", "c")
#: bytes of per-stream working arrays the ablation sweep keeps at once (sets its batch size)
SWEEP_MEMORY = 256 * 2**20
#: most streams run side by side in the sweep
SWEEP_MAX_BATCH = 64


@dataclass(frozen=True)
class Intervention:
    """Edit ``neurons`` of one layer's ``signal`` after every step (module docstring).

    Parameters
    ----------
    layer : int
        Recurrent layer, 0 = the first.
    neurons : tuple of int
        Units to edit; stored sorted and without duplicates. Empty edits nothing.
    mode : {"zero", "clamp", "scale"}
        Set to 0, set to ``value``, or multiply by ``value``.
    value : float, default 0.0
        The clamp value or scale factor; ignored by "zero".
    signal : {"h", "c"}, default "h"
        The hidden state (any cell) or the LSTM cell state.
    """

    layer: int
    neurons: tuple[int, ...]
    mode: str
    value: float = 0.0
    signal: str = "h"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}, got {self.mode!r}.")
        if self.signal not in SIGNALS:
            raise ValueError(f"`signal` must be one of {SIGNALS}, got {self.signal!r}.")
        try:
            layer = operator.index(self.layer)
            neurons = tuple(sorted({operator.index(n) for n in self.neurons}))
        except TypeError:
            raise ValueError(
                "`layer` must be an integer and `neurons` a sequence of integers, got "
                f"layer={self.layer!r}, neurons={self.neurons!r}."
            ) from None
        if layer < 0 or (neurons and neurons[0] < 0):
            raise ValueError(
                f"`layer` and `neurons` must be >= 0, got layer={layer}, neurons={neurons}."
            )
        value = float(self.value)
        if not math.isfinite(value):
            raise ValueError(f"`value` must be finite, got {self.value!r}.")
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "neurons", neurons)
        object.__setattr__(self, "value", value)

    @property
    def affine(self) -> tuple[float, float]:
        """The edit as x <- a x + b: (a, b)."""
        return {"zero": (0.0, 0.0), "clamp": (0.0, self.value), "scale": (self.value, 0.0)}[
            self.mode
        ]


def check_interventions(interventions: Sequence[Intervention], weights: StackWeights) -> None:
    """ValueError unless every intervention fits the model (layer, neurons, signal)."""
    n_layers = len(weights.layers)
    for iv in interventions:
        if not isinstance(iv, Intervention):
            raise ValueError(f"expected Intervention objects, got {type(iv).__name__}: {iv!r}")
        if iv.layer >= n_layers:
            raise ValueError(
                f"Intervention on layer {iv.layer}, but the model has {n_layers} layer(s) "
                f"(0 to {n_layers - 1})."
            )
        w = weights.layers[iv.layer]
        if iv.neurons and iv.neurons[-1] >= w.units:
            raise ValueError(
                f"Intervention on neuron {iv.neurons[-1]} of layer {iv.layer}, which has "
                f"{w.units} units (0 to {w.units - 1})."
            )
        if iv.signal == "c" and w.cell != "lstm":
            raise ValueError(
                f"signal 'c' (cell state) exists only in LSTM layers; layer {iv.layer} is "
                f"{w.cell!r}: edit 'h' instead."
            )


@dataclass
class Affine:
    """x[:, cols] <- scale * x[:, cols] + shift, one row of ``scale``/``shift`` per stream."""

    cols: np.ndarray  # (n_cols,) int
    scale: np.ndarray  # (B, n_cols) float32
    shift: np.ndarray  # (B, n_cols) float32

    def apply(self, x: np.ndarray) -> None:
        sub = x[:, self.cols]
        sub *= self.scale
        sub += self.shift
        x[:, self.cols] = sub


@dataclass
class LayerEdits:
    """The edits of one layer for B streams; None where a signal is not edited."""

    h: Affine | None = None
    c: Affine | None = None

    @property
    def empty(self) -> bool:
        return self.h is None and self.c is None


def layer_edits(weights: StackWeights, runs: Sequence[Sequence[Intervention]]) -> list[LayerEdits]:
    """Compile the interventions of B streams (``runs[b]`` for stream b) into one
    :class:`LayerEdits` per layer.

    Each stream's interventions on a (layer, signal) compose into one affine edit per unit
    (x <- a x + b, in order); units a stream does not touch get a = 1, b = 0, which leaves
    them bit for bit as they are.
    """
    for ivs in runs:
        check_interventions(ivs, weights)
    out = []
    for k, w in enumerate(weights.layers):
        edits = LayerEdits()
        for signal in SIGNALS:
            touched = [
                [iv for iv in ivs if iv.layer == k and iv.signal == signal and iv.neurons]
                for ivs in runs
            ]
            cols = sorted({n for ivs in touched for iv in ivs for n in iv.neurons})
            if not cols:
                continue
            where = np.full(w.units, -1)
            where[cols] = np.arange(len(cols))
            scale = np.ones((len(runs), len(cols)), np.float64)
            shift = np.zeros((len(runs), len(cols)), np.float64)
            for b, ivs in enumerate(touched):
                for iv in ivs:
                    a, c = iv.affine
                    j = where[list(iv.neurons)]
                    scale[b, j] *= a
                    shift[b, j] = shift[b, j] * a + c
            setattr(
                edits,
                signal,
                Affine(np.asarray(cols), scale.astype(np.float32), shift.astype(np.float32)),
            )
        out.append(edits)
    return out


def edit_step(w: CellWeights, edits: LayerEdits, h: np.ndarray, sig: np.ndarray) -> None:
    """Apply one layer's edits in place to the output of :func:`lib.cells.step`.

    ``h`` (B, units) is h_t and ``sig`` (B, WIDTH*units) the other signals; for "c" edits
    the LSTM cell state block of ``sig`` is edited and h_t recomputed on those units.
    """
    u = w.units
    if edits.c is not None:
        c = sig[:, 4 * u :]
        edits.c.apply(c)
        cols = edits.c.cols
        h[:, cols] = sig[:, 2 * u : 3 * u][:, cols] * np.tanh(c[:, cols])
    if edits.h is not None:
        edits.h.apply(h)


def run_edited(
    w: CellWeights, xp: np.ndarray, edits: LayerEdits, *, keep_signals: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`lib.cells.run` from the zero state with ``edits`` applied after every step.

    Parameters
    ----------
    w : CellWeights
    xp : ndarray of shape (T, B, G*units)
        Input projections, time-major (a broadcast view is fine).
    edits : LayerEdits
        For B streams.
    keep_signals : bool, default True
        Keep the signals other than h (False saves memory in the sweep).

    Returns
    -------
    H : ndarray of shape (B, T, units)
    S : ndarray of shape (B, T, WIDTH[cell]*units), or None without ``keep_signals``

    Notes
    -----
    With empty ``edits`` this performs exactly the operations of ``lib.cells.run`` and so
    gives bit-identical results.
    """
    T, B, _ = xp.shape
    u = w.units
    H = np.empty((B, T, u), dtype=np.float32)
    S = np.empty((B, T, WIDTH[w.cell] * u), dtype=np.float32) if keep_signals else None
    h = np.zeros((B, u), np.float32)
    c = np.zeros((B, u), np.float32) if w.cell == "lstm" else None
    h_next = np.empty_like(h)
    sig = np.empty((B, WIDTH[w.cell] * u), np.float32)
    with threadpool_limits(1, user_api="blas"):  # see lib.cells.run
        for t in range(T):
            step(w, xp[t], h, c, h_next, sig)
            h, h_next = h_next, h
            if not edits.empty:
                edit_step(w, edits, h, sig)
            if c is not None:
                c = sig[:, 4 * u :].copy()
            H[:, t] = h
            if S is not None:
                S[:, t] = sig
    return H, S


def _encode(bundle, text: str | list[str]) -> np.ndarray:
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    return np.asarray(bundle.vocab.encode(tokens))


def token_losses(next_prob: np.ndarray) -> np.ndarray:
    """Next-token loss in nats per position, shape (T,), from ``Trace.next_prob``.

    ``loss[t] = -ln p(token t | tokens < t) = -ln next_prob[t - 1]`` for t >= 1: the loss of
    predicting token t counts at position t. ``loss[0]`` is NaN (nothing predicts the first
    token). Probabilities that underflowed float32 to 0 count as the smallest normal
    float32 (a loss of about 87.3 nats) instead of infinity.
    """
    p = np.asarray(next_prob, dtype=np.float64)
    loss = np.full(p.shape[0], np.nan)
    loss[1:] = -np.log(np.maximum(p[:-1], np.finfo(np.float32).tiny))
    return loss


def _scored(n_tokens: int, positions_mask) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions with a loss (1..T-1) and the feature's positions among them (or None)."""
    if n_tokens < 2:
        raise ValueError(f"a loss needs at least 2 tokens, got {n_tokens}.")
    scored = np.ones(n_tokens, dtype=bool)
    scored[0] = False
    if positions_mask is None:
        return scored, None
    return scored, as_mask(positions_mask, n_tokens, name="positions_mask") & scored


def _mean(loss: np.ndarray, where: np.ndarray | None) -> float:
    if where is None or not where.any():
        return float("nan")
    return float(loss[where].mean())


def _metric(level: str, loss: float) -> float:
    return loss / math.log(2) if level == "char" else math.exp(loss)


def loss_change(
    bundle,
    text: str | list[str],
    interventions: Sequence[Intervention],
    *,
    positions_mask=None,
) -> dict:
    """Next-token loss of ``text`` with and without ``interventions``.

    Parameters
    ----------
    bundle : ModelBundle
        A language model.
    text : str or list of str
        The text (or its tokens), read from a zero state.
    interventions : sequence of Intervention
    positions_mask : array-like of bool, shape (T,), optional
        The feature's tokens. Position t holds the loss of predicting token t (from
        tokens 0..t-1), so the feature's loss is that of predicting the feature's tokens;
        position 0 has no loss and is ignored.

    Returns
    -------
    result : dict
        ``level`` ("char"/"word") and ``metric``: "bits per character" (char level,
        loss / ln 2) or "perplexity" (word level, exp(loss)); ``n_tokens``; ``n_scored``
        (T - 1) and ``n_feature`` (feature positions with a loss). Means over the scored
        positions, in nats per token: ``loss_base``, ``loss_intervened``, ``delta_loss``
        (intervened - base), the same three with ``_feature`` over the feature's positions
        (NaN without a mask or with no feature position), and ``metric_base``,
        ``metric_intervened``, ``delta_metric``, ``metric_feature_base``,
        ``metric_feature_intervened``, ``delta_metric_feature`` (the metric of the mean
        loss). Per position, float64 arrays of shape (T,) with NaN at 0:
        ``position_loss_base``, ``position_loss_intervened``, ``position_delta``. And the
        two traces, ``trace_base`` and ``trace_intervened`` (edited signals).

    Notes
    -----
    Both texts are recorded on the exact path (``record(..., streams=1)``), so the
    difference holds the intervention's effect and no stream-path round-off.
    """
    base = record(bundle, text, streams=1)
    edited = record(bundle, text, streams=1, interventions=interventions)
    level = getattr(bundle.spec, "level", "char")
    scored, feature = _scored(len(base), positions_mask)
    loss_b, loss_i = token_losses(base.next_prob), token_losses(edited.next_prob)
    out: dict = {
        "level": level,
        "metric": "bits per character" if level == "char" else "perplexity",
        "n_tokens": len(base),
        "n_scored": int(scored.sum()),
        "n_feature": 0 if feature is None else int(feature.sum()),
    }
    for suffix, where in (("", scored), ("_feature", feature)):
        b, i = _mean(loss_b, where), _mean(loss_i, where)
        out[f"loss{suffix}_base"], out[f"loss{suffix}_intervened"] = b, i
        out[f"delta_loss{suffix}"] = i - b
        mb, mi = _metric(level, b), _metric(level, i)
        out[f"metric{suffix}_base"], out[f"metric{suffix}_intervened"] = mb, mi
        out[f"delta_metric{suffix}"] = mi - mb
    out["position_loss_base"] = loss_b
    out["position_loss_intervened"] = loss_i
    out["position_delta"] = loss_i - loss_b
    out["trace_base"], out["trace_intervened"] = base, edited
    return out


def _batch_size(weights: StackWeights, n_tokens: int, n_runs: int) -> int:
    # per stream: a layer's h (T, u) and the next layer's input projection (T, G*u)
    per_stream = max(n_tokens * 4 * (w.recurrent.shape[1] + w.units) for w in weights.layers)
    return int(max(1, min(n_runs, SWEEP_MAX_BATCH, SWEEP_MEMORY // per_stream)))


def _next_token_losses(weights: StackWeights, h: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """-ln softmax(h_t W + b)[ids[t + 1]] at position t + 1 for B streams; h is (T, B, u).

    Returns float64 (B, T), NaN at position 0 (as :func:`token_losses`).
    """
    T, B, _ = h.shape
    out = np.full((B, T), np.nan)
    rows = max(1, 4096 // B)
    for a in range(0, T - 1, rows):
        b = min(a + rows, T - 1)
        z = h[a:b] @ weights.dense_w
        z += weights.dense_b
        z -= z.max(axis=-1, keepdims=True)
        log_total = np.log(np.exp(z).sum(axis=-1, dtype=np.float64))
        picked = np.take_along_axis(
            z, np.broadcast_to(ids[a + 1 : b + 1, None, None], (b - a, B, 1)), axis=-1
        )[..., 0]
        out[:, a + 1 : b + 1] = (log_total - picked).T
    return out


def run_losses(
    weights: StackWeights, ids: np.ndarray, runs: Sequence[Sequence[Intervention]]
) -> np.ndarray:
    """Per-position next-token loss of ``ids`` under each run's interventions.

    Each run is one full exact pass of the text; runs go side by side as streams of one
    batch (a (B, units) x (units, G*units) matmul per step instead of B matrix-vector
    products). Layers below a batch's lowest edit are computed once for the batch.

    Returns
    -------
    losses : ndarray of float64, shape (n_runs, T)
        As :func:`token_losses` (NaN at position 0), from the log-softmax of the logits.
        Equal to recording each run with ``record(..., streams=1, interventions=run)`` up
        to float32 round-off.
    """
    ids = np.asarray(ids)
    T = len(ids)
    out = np.full((len(runs), T), np.nan)
    batch = _batch_size(weights, T, len(runs))
    for first in range(0, len(runs), batch):
        chunk = runs[first : first + batch]
        edits = layer_edits(weights, chunk)
        x, shared = ids, True  # shared: one sequence for every stream so far, (T, ...)
        for k, w in enumerate(weights.layers):
            xp = weights.project(k, x)  # (T, G*u) if shared, else (T, B, G*u)
            if shared and edits[k].empty:
                H, _ = run_edited(w, xp[:, None], edits[k], keep_signals=False)
                x = H[0]
                continue
            if shared:
                xp = np.broadcast_to(xp[:, None], (T, len(chunk), xp.shape[-1]))
                shared = False
            H, _ = run_edited(w, xp, edits[k], keep_signals=False)
            x = H.transpose(1, 0, 2)
        out[first : first + len(chunk)] = _next_token_losses(
            weights, x[:, None] if shared else x, ids
        )
    return out


def ablation_sweep(
    bundle,
    text: str | list[str],
    ranked_neurons: Sequence[int],
    *,
    layer: int,
    ks: Sequence[int] = (1, 2, 4, 8, 16),
    n_random: int = 20,
    seed: int = 0,
    positions_mask=None,
    signal: str = "h",
) -> pd.DataFrame:
    """Loss change from zeroing the top-k ranked neurons against k random ones.

    Parameters
    ----------
    bundle : ModelBundle
    text : str or list of str
    ranked_neurons : sequence of int
        Units of ``layer``, best first (e.g. by relevance); at least max(ks) of them.
    layer : int
    ks : sequence of int, default (1, 2, 4, 8, 16)
        Each needs 2 k <= units (the random control avoids the top k, below).
    n_random : int, default 20
        Random draws per k.
    seed : int, default 0
        Seed of the Generator that draws the random sets.
    positions_mask : array-like of bool, shape (T,), optional
        The feature's tokens, aligned as in :func:`loss_change`.
    signal : {"h", "c"}, default "h"
        What is zeroed ("c" for LSTM only; see the module docstring).

    Returns
    -------
    sweep : DataFrame
        One row per run: ``k``, ``kind`` ("top" or "random"), ``draw`` (0 for "top",
        0..n_random-1 for "random"), ``neurons`` (tuple), ``loss`` and ``loss_feature``
        (mean nats per token with the units zeroed), ``delta_loss`` and
        ``delta_loss_feature`` (minus the unedited loss; the feature columns are NaN
        without a mask). ``sweep.attrs`` holds ``loss_base``, ``loss_feature_base``,
        ``seed`` and ``layer``.

    Notes
    -----
    Random sets: for each k, in the order of ``ks``, ``n_random`` draws of k distinct units
    from the layer's units minus the top k, each ``rng.choice(pool, k, replace=False)``
    with one ``rng = numpy.random.default_rng(seed)`` for the whole sweep. Leaving out the
    top k keeps the control disjoint from the tested set, so "random" is "k other units".
    Each run is a full exact pass (see :func:`run_losses`); the unedited pass is run in
    the same batches.
    """
    require_language_model(bundle)
    weights = bundle.numpy_weights
    if not 0 <= layer < len(weights.layers):
        raise ValueError(f"`layer` must be 0 to {len(weights.layers) - 1}, got {layer}.")
    units = weights.layers[layer].units
    ranked = np.asarray(ranked_neurons)
    if ranked.ndim != 1 or ranked.dtype.kind not in "iu":
        raise ValueError(f"`ranked_neurons` must be a 1-D sequence of ints, got {ranked!r}.")
    if ranked.size and (ranked.min() < 0 or ranked.max() >= units):
        raise ValueError(f"`ranked_neurons` must be units 0 to {units - 1} of layer {layer}.")
    if np.unique(ranked).size != ranked.size:
        raise ValueError("`ranked_neurons` holds a unit twice.")
    ks = [operator.index(k) for k in ks]
    for k in ks:
        if not 1 <= k <= ranked.size:
            raise ValueError(f"each k must be 1 to len(ranked_neurons) = {ranked.size}, got {k}.")
        if 2 * k > units:
            raise ValueError(
                f"k = {k} needs {2 * k} units (k top and k other random ones), but layer "
                f"{layer} has {units}."
            )
    if n_random < 0:
        raise ValueError(f"`n_random` must be >= 0, got {n_random}.")

    rng = np.random.default_rng(seed)
    rows, runs = [], [[]]
    for k in ks:
        top = ranked[:k]
        sets = [("top", 0, top)]
        pool = np.setdiff1d(np.arange(units), top)
        sets += [("random", d, rng.choice(pool, k, replace=False)) for d in range(n_random)]
        for kind, draw, neurons in sets:
            neurons = tuple(sorted(int(n) for n in neurons))
            rows.append({"k": k, "kind": kind, "draw": draw, "neurons": neurons})
            runs.append([Intervention(layer, neurons, "zero", signal=signal)])

    ids = _encode(bundle, text)
    scored, feature = _scored(len(ids), positions_mask)
    losses = run_losses(weights, ids, runs)
    base, base_feature = _mean(losses[0], scored), _mean(losses[0], feature)
    for row, loss in zip(rows, losses[1:], strict=True):
        row["loss"] = _mean(loss, scored)
        row["delta_loss"] = row["loss"] - base
        row["loss_feature"] = _mean(loss, feature)
        row["delta_loss_feature"] = row["loss_feature"] - base_feature
    columns = [
        "k",
        "kind",
        "draw",
        "neurons",
        "loss",
        "delta_loss",
        "loss_feature",
        "delta_loss_feature",
    ]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(loss_base=base, loss_feature_base=base_feature, seed=seed, layer=layer)
    return df


__all__ = [
    "Intervention",
    "MODES",
    "SIGNALS",
    "ablation_sweep",
    "check_interventions",
    "edit_step",
    "layer_edits",
    "loss_change",
    "run_edited",
    "run_losses",
    "token_losses",
]
