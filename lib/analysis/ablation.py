"""What switching neurons off costs: next-token loss with and without interventions.

:func:`loss_change` records a text with and without a set of
:class:`~lib.run.edits.Intervention` and compares the loss overall and at a feature's
positions; :func:`ablation_sweep` compares the top-k neurons of a ranking with random draws
of the same size (a seeded generator, the top-k excluded), running many edited copies of
the text side by side as streams.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.features import as_mask
from lib.run.edits import Intervention, layer_edits, run_edited
from lib.run.record import record, require_language_model
from lib.run.weights import StackWeights, numpy_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle
    from lib.model.spec import Level

#: bytes of per-stream working arrays the ablation sweep keeps at once (sets its batch size)
SWEEP_MEMORY = 256 * 2**20


#: most streams run side by side in the sweep
SWEEP_MAX_BATCH = 64


def _encode(bundle: ModelBundle, text: str | list[str]) -> np.ndarray:
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    return np.asarray(bundle.vocab.encode(tokens))


def token_losses(next_prob: np.ndarray) -> np.ndarray:
    """Return the next-token loss in nats per position, shape (T,), from ``Trace.next_prob``.

    ``loss[t] = -ln p(token t | tokens < t) = -ln next_prob[t - 1]`` for t >= 1: the loss of
    predicting token t counts at position t. ``loss[0]`` is NaN (nothing predicts the first
    token). Probabilities that underflowed float32 to 0 count as the smallest normal
    float32 (a loss of about 87.3 nats) instead of infinity.
    """
    p = np.asarray(next_prob, dtype=np.float64)
    loss = np.full(p.shape[0], np.nan)
    loss[1:] = -np.log(np.maximum(p[:-1], np.finfo(np.float32).tiny))
    return loss


def _scored(
    n_tokens: int, positions_mask: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray | None]:
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


def _metric(level: Level, loss: float) -> float:
    return loss / math.log(2) if level == "char" else math.exp(loss)


def loss_change(
    bundle: ModelBundle,
    text: str | list[str],
    interventions: Sequence[Intervention],
    *,
    positions_mask: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Compare the next-token loss of ``text`` with and without ``interventions``.

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
    level = bundle.spec.level
    scored, feature = _scored(len(base), positions_mask)
    loss_b, loss_i = token_losses(base.next_prob), token_losses(edited.next_prob)
    out: dict[str, Any] = {
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
    """Compute the per-position next-token loss of ``ids`` under each run's interventions.

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
    bundle: ModelBundle,
    text: str | list[str],
    ranked_neurons: Sequence[int],
    *,
    layer: int,
    ks: Sequence[int] = (1, 2, 4, 8, 16),
    n_random: int = 20,
    seed: int = 0,
    positions_mask: npt.ArrayLike | None = None,
    signal: str = "h",
) -> pd.DataFrame:
    """Compare the loss change from zeroing the top-k ranked neurons with k random ones.

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
    weights = numpy_weights(bundle)
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
    rows: list[dict[str, Any]] = []
    runs: list[list[Intervention]] = [[]]
    for k in ks:
        top = ranked[:k]
        sets = [("top", 0, top)]
        pool = np.setdiff1d(np.arange(units), top)
        sets += [("random", d, rng.choice(pool, k, replace=False)) for d in range(n_random)]
        for kind, draw, chosen in sets:
            neurons = tuple(sorted(int(n) for n in chosen))
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
