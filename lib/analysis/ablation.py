"""What switching neurons off costs: next-token loss with and without interventions.

:func:`loss_change` records a text with and without a set of
:class:`~lib.run.edits.Intervention` and compares the loss overall and at a feature's
positions. :func:`ablation_sweep` compares the top-k neurons of a ranking with random draws
of the same size, running many edited copies of the text side by side as streams;
:func:`control_summary` reads each control off as a distribution (median, 5th and 95th
percentile, the top-k's rank among the draws). :func:`neuron_costs` is the cost of each
neuron alone.

Switching off means one of :data:`lib.run.edits.ABLATION_MODES`: "zero"; "mean", the
unit held at its mean over a reference recording, which keeps the rest of the network on
the distribution it was trained on (Wang et al. 2023); or "resample", the unit's value at
a random step of the reference (Chan et al. 2022). The random control of a feature's
top-k is drawn from the units *unrelated* to the feature (:func:`unrelated_neurons`:
not significant and a small effect), or from all units but the top k; the second can
draw other neurons of the same feature, which then cost as much as the chosen ones.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.features import as_mask
from lib.run.edits import ABLATION_MODES, Intervention, layer_edits, run_edited
from lib.run.record import record, require_language_model
from lib.run.weights import StackWeights, numpy_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle
    from lib.model.spec import Level
    from lib.run.trace import Trace

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


#: the random controls of :func:`ablation_sweep`
CONTROLS = ("unrelated", "all")

#: a unit whose q-value is at least this counts as not significantly related to a feature
UNRELATED_Q = 0.05

#: and its effect at most this: |AUROC - 0.5| for a yes/no feature, |r| for a numeric one
UNRELATED_EFFECT = 0.1


def unrelated_neurons(
    table: pd.DataFrame, *, q_min: float = UNRELATED_Q, max_effect: float = UNRELATED_EFFECT
) -> np.ndarray:
    """Return the units a ranking finds unrelated to its feature, sorted, shape (n,).

    A unit is unrelated when it is not significant, ``q >= q_min`` (the
    Benjamini-Hochberg q-value of its circular-shift p-value), and its effect is small:
    ``|AUROC - 0.5| <= max_effect`` for a yes/no feature, ``|r| <= max_effect`` for a
    numeric one. Both conditions: with many steps a tiny effect is significant, with few
    a large one is not.

    Parameters
    ----------
    table : DataFrame
        From :func:`lib.analysis.ranking.rank_neurons` (columns ``neuron``, ``q`` and
        ``AUROC`` or ``r``).
    q_min : float, default 0.05
    max_effect : float, default 0.1

    Returns
    -------
    neurons : ndarray of int64

    Examples
    --------
    >>> t = pd.DataFrame({"neuron": [0, 1, 2], "q": [0.001, 0.5, 0.5], "AUROC": [0.9, 0.52, 0.8]})
    >>> unrelated_neurons(t).tolist()
    [1]

    An :func:`lib.analysis.effects.effect_table` works too (its ``effect`` is the AUROC of
    a yes/no feature, with an ``R`` column, or r).
    """
    if "AUROC" not in table.columns and {"effect", "R"} <= set(table.columns):
        table = table.assign(AUROC=table["effect"])  # an effects.effect_table, binary
    elif "r" not in table.columns and "effect" in table.columns:
        table = table.assign(r=table["effect"])  # an effects.effect_table, numeric
    missing = {"neuron", "q"} - set(table.columns)
    if missing or not ({"AUROC", "r"} & set(table.columns)):
        raise ValueError(
            "`table` must be a rank_neurons or effect_table table (columns neuron, q and "
            f"AUROC, r or effect), got columns {list(table.columns)}."
        )
    if not 0 <= q_min <= 1 or not max_effect >= 0:
        raise ValueError(
            f"need 0 <= q_min <= 1 and max_effect >= 0, got q_min={q_min}, max_effect={max_effect}."
        )
    effect = (table["AUROC"] - 0.5).abs() if "AUROC" in table.columns else table["r"].abs()
    keep = (table["q"] >= q_min) & (effect <= max_effect)
    return np.sort(table.loc[keep, "neuron"].to_numpy(dtype=np.int64))


def _check_layer(weights: StackWeights, layer: int) -> int:
    if not 0 <= layer < len(weights.layers):
        raise ValueError(f"`layer` must be 0 to {len(weights.layers) - 1}, got {layer}.")
    return weights.layers[layer].units


def _reference(
    bundle: ModelBundle,
    text: str | list[str],
    reference: Trace | npt.ArrayLike | None,
    *,
    layer: int,
    signal: str,
    mode: str,
    units: int,
) -> np.ndarray:
    """Return the reference of "mean" (per-unit means, (units,)) or "resample" ((P, units))."""
    if reference is None:
        ref = np.asarray(record(bundle, text).signals[(layer, signal)])
    elif hasattr(reference, "signals"):
        if (layer, signal) not in reference.signals:
            raise ValueError(f"the reference Trace has no signal {signal!r} of layer {layer}.")
        ref = np.asarray(reference.signals[(layer, signal)])
    else:
        ref = np.asarray(reference)
    shapes = "(P, units) or, for mode 'mean', (units,)"
    if ref.ndim not in (1, 2) or ref.shape[-1] != units or ref.shape[0] == 0:
        raise ValueError(
            f"`reference` must be a Trace or an array of shape {shapes} with units = {units} "
            f"(layer {layer}), got shape {ref.shape}."
        )
    if ref.ndim == 1 and mode == "resample":
        raise ValueError(
            f"mode 'resample' needs reference steps, a Trace or (P, {units}), got the "
            f"per-unit means, shape {ref.shape}."
        )
    if mode == "mean" and ref.ndim == 2:
        ref = ref.mean(axis=0, dtype=np.float64)
    if not np.isfinite(ref).all():
        raise ValueError("`reference` holds NaN or infinite values.")
    return ref if mode == "mean" else np.ascontiguousarray(ref, dtype=np.float32)


def _switch_off(
    layer: int, neurons: Sequence[int], mode: str, signal: str, ref: np.ndarray | None, seed: int
) -> Intervention:
    if mode == "zero":
        return Intervention(layer, tuple(neurons), "zero", signal=signal)
    assert ref is not None
    return Intervention.from_reference(layer, neurons, mode, ref, signal=signal, seed=seed)


class _Runs(Sequence[list[Intervention]]):
    """Runs built when :func:`run_losses` asks for them, a batch at a time.

    A resample intervention holds its pool, and a whole sweep's pools would not fit at once.
    """

    def __init__(self, sets: list[tuple[int, ...] | None], make: Callable[..., Intervention]):
        self.sets, self.make = sets, make

    def __len__(self) -> int:
        return len(self.sets)

    def _run(self, neurons: tuple[int, ...] | None) -> list[Intervention]:
        return [] if neurons is None else [self.make(neurons)]

    @overload
    def __getitem__(self, i: int) -> list[Intervention]: ...

    @overload
    def __getitem__(self, i: slice) -> list[list[Intervention]]: ...

    def __getitem__(self, i: int | slice) -> list[Intervention] | list[list[Intervention]]:
        if isinstance(i, slice):
            return [self._run(s) for s in self.sets[i]]
        return self._run(self.sets[i])


def _eligible(unrelated: npt.ArrayLike | None, units: int) -> np.ndarray | None:
    """``unrelated`` (bool mask (units,) or unit indices) as a bool mask (units,)."""
    if unrelated is None:
        return None
    u = np.asarray(unrelated)
    if u.dtype == bool:
        if u.shape != (units,):
            raise ValueError(
                f"`unrelated` as a mask must have one entry per unit ({units}), got shape "
                f"{u.shape}."
            )
        return u.copy()
    if u.size == 0:
        return np.zeros(units, dtype=bool)
    if u.ndim != 1 or u.dtype.kind not in "iu" or u.min() < 0 or u.max() >= units:
        raise ValueError(
            f"`unrelated` must be a bool mask or indices of units 0 to {units - 1}, got {u!r}."
        )
    mask = np.zeros(units, dtype=bool)
    mask[u] = True
    return mask


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
    mode: str = "zero",
    reference: Trace | npt.ArrayLike | None = None,
    control: str | Sequence[str] = "all",
    unrelated: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Compare the loss change from switching off the top-k ranked neurons with k random ones.

    Parameters
    ----------
    bundle : ModelBundle
    text : str or list of str
    ranked_neurons : sequence of int
        Units of ``layer``, best first (e.g. by relevance); at least max(ks) of them.
    layer : int
    ks : sequence of int, default (1, 2, 4, 8, 16)
        With the "all" control each needs 2 k <= units.
    n_random : int, default 20
        Random draws per k and control.
    seed : int, default 0
        Seed of the Generator that draws the random sets, and of "resample".
    positions_mask : array-like of bool, shape (T,), optional
        The feature's tokens, aligned as in :func:`loss_change`.
    signal : {"h", "c"}, default "h"
        What is switched off ("c" for LSTM only; see :mod:`lib.run.edits`: zeroing c is
        zeroing h).
    mode : {"zero", "mean", "resample"}, default "zero"
        How (module docstring and :mod:`lib.run.edits`).
    reference : Trace or array-like, optional
        "mean" and "resample": the recording whose ``signals[(layer, signal)]``, (P, units),
        gives each unit's mean or pool of values; or that array; or, for "mean", the
        per-unit means (units,). Default: the unedited recording of ``text`` itself.
    control : {"unrelated", "all"} or a sequence of them, default "all"
        Where the random sets are drawn from: "unrelated", the units of ``unrelated``;
        "all", every unit; the top k left out of both.
    unrelated : array-like, optional
        Bool mask (units,) or indices of the units eligible for the "unrelated" control,
        e.g. :func:`unrelated_neurons` of the layer's ranking. Required with it.

    Returns
    -------
    sweep : DataFrame
        One row per run: ``k``, ``kind`` ("top" or "random"), ``draw`` (0 for "top",
        0..n_random-1 for "random"), ``control`` ("" for "top", else the control),
        ``neurons`` (tuple), ``loss`` and ``loss_feature`` (mean nats per token with the
        units switched off), ``delta_loss`` and ``delta_loss_feature`` (minus the unedited
        loss; the feature columns are NaN without a mask). ``sweep.attrs`` holds
        ``loss_base``, ``loss_feature_base``, ``seed``, ``layer``, ``signal``, ``mode``,
        ``controls`` (list), ``n_eligible`` (control -> units it draws from before the top
        k is left out) and ``too_few`` (a list of {control, k, eligible}: no draws at that
        k, since fewer than k units were eligible).

    Notes
    -----
    Random sets: for each k, in the order of ``ks``, and each control in the order given,
    ``n_random`` draws of k distinct units from the control's units minus the top k, each
    ``rng.choice(pool, k, replace=False)`` with one ``rng = numpy.random.default_rng(seed)``
    for the whole sweep. The "unrelated" control cannot draw another neuron of the same
    feature, so a top-k cost above its spread is the feature's; "all" shows how far the
    layer's other units, feature neurons among them, matter. :func:`control_summary`
    reads the draws off as distributions. Each run is a full exact pass (see
    :func:`run_losses`, built a batch at a time); the unedited pass is run in the same
    batches.
    """
    require_language_model(bundle)
    weights = numpy_weights(bundle)
    units = _check_layer(weights, layer)
    ranked = np.asarray(ranked_neurons)
    if ranked.ndim != 1 or ranked.dtype.kind not in "iu":
        raise ValueError(f"`ranked_neurons` must be a 1-D sequence of ints, got {ranked!r}.")
    if ranked.size and (ranked.min() < 0 or ranked.max() >= units):
        raise ValueError(f"`ranked_neurons` must be units 0 to {units - 1} of layer {layer}.")
    if np.unique(ranked).size != ranked.size:
        raise ValueError("`ranked_neurons` holds a unit twice.")
    if mode not in ABLATION_MODES:
        raise ValueError(f"`mode` must be one of {ABLATION_MODES}, got {mode!r}.")
    controls = (control,) if isinstance(control, str) else tuple(control)
    if not controls or len(set(controls)) != len(controls) or set(controls) - set(CONTROLS):
        raise ValueError(
            f"`control` must be one of {CONTROLS} or a sequence of distinct ones, got {control!r}."
        )
    eligible = _eligible(unrelated, units)
    if "unrelated" in controls and eligible is None:
        raise ValueError(
            "control 'unrelated' needs `unrelated=` (a bool mask or the indices of the units "
            "unrelated to the feature, e.g. unrelated_neurons(table)); got None."
        )
    pools = {"all": np.ones(units, dtype=bool), "unrelated": eligible}
    ks = [operator.index(k) for k in ks]
    for k in ks:
        if not 1 <= k <= ranked.size:
            raise ValueError(f"each k must be 1 to len(ranked_neurons) = {ranked.size}, got {k}.")
        if "all" in controls and 2 * k > units:
            raise ValueError(
                f"k = {k} needs {2 * k} units (k top and k other random ones), but layer "
                f"{layer} has {units}."
            )
    if n_random < 0:
        raise ValueError(f"`n_random` must be >= 0, got {n_random}.")

    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    sets: list[tuple[int, ...] | None] = [None]
    too_few: list[dict[str, Any]] = []
    for k in ks:
        top = ranked[:k]
        chosen_sets = [("top", 0, "", top)]
        for name in controls:
            mask = pools[name]
            assert mask is not None
            pool = np.setdiff1d(np.flatnonzero(mask), top)
            if pool.size < k:
                too_few.append({"control": name, "k": k, "eligible": int(pool.size)})
                continue
            chosen_sets += [
                ("random", d, name, rng.choice(pool, k, replace=False)) for d in range(n_random)
            ]
        for kind, draw, name, chosen in chosen_sets:
            neurons = tuple(sorted(int(n) for n in chosen))
            rows.append({"k": k, "kind": kind, "draw": draw, "control": name, "neurons": neurons})
            sets.append(neurons)

    ids = _encode(bundle, text)
    scored, feature = _scored(len(ids), positions_mask)
    ref = (
        None
        if mode == "zero"
        else _reference(bundle, text, reference, layer=layer, signal=signal, mode=mode, units=units)
    )
    runs = _Runs(sets, lambda n: _switch_off(layer, n, mode, signal, ref, seed))
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
        "control",
        "neurons",
        "loss",
        "delta_loss",
        "loss_feature",
        "delta_loss_feature",
    ]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(
        loss_base=base,
        loss_feature_base=base_feature,
        seed=seed,
        layer=layer,
        signal=signal,
        mode=mode,
        controls=list(controls),
        n_eligible={name: int(pools[name].sum()) for name in controls},  # type: ignore[union-attr]
        too_few=too_few,
    )
    return df


def control_summary(df: pd.DataFrame, column: str = "delta_loss_feature") -> pd.DataFrame:
    """Read each random control of an :func:`ablation_sweep` off as a distribution.

    Parameters
    ----------
    df : DataFrame
        From :func:`ablation_sweep`.
    column : str, default "delta_loss_feature"
        The cost compared ("delta_loss" for the whole text).

    Returns
    -------
    summary : DataFrame
        One row per (k, control), in the sweep's order: ``k``, ``control``, ``n_draws``
        (n), ``n_distinct`` (different sets among them: a control with few eligible units
        draws the same set again), ``top`` (the top-k's cost x), ``median``, ``p5``,
        ``p95`` (percentiles of the draws, linear interpolation as ``numpy.percentile``),
        ``n_at_least`` (draws d with d >= x), ``share_at_least`` (n_at_least / n),
        ``rank`` (of x among the n draws and x itself, 1 = the costliest: 1 + #{d > x})
        and ``p_value``, the permutation p-value (1 + n_at_least) / (1 + n) (Phipson &
        Smyth 2010). A control with no draws at a k (``too_few``) has n_draws = 0 and NaN
        statistics; so does a NaN x.

    Examples
    --------
    >>> df = pd.DataFrame({"k": [1] * 4, "kind": ["top"] + ["random"] * 3,
    ...     "control": ["", "all", "all", "all"], "delta_loss": [0.5, 0.1, 0.6, 0.2]})
    >>> row = control_summary(df, "delta_loss").iloc[0]
    >>> int(row["n_draws"]), float(row["median"]), int(row["rank"]), float(row["p_value"])
    (3, 0.2, 2, 0.5)
    """
    need = {"k", "kind", "control", column}
    if need - set(df.columns):
        raise ValueError(
            f"`df` must be an ablation_sweep table with columns {sorted(need)}, got "
            f"{list(df.columns)}."
        )
    random = df[df["kind"] == "random"]
    controls = list(df.attrs.get("controls") or dict.fromkeys(random["control"]))
    rows = []
    for k in dict.fromkeys(df["k"]):
        top_rows = df[(df["k"] == k) & (df["kind"] == "top")]
        x = float(top_rows[column].iloc[0]) if len(top_rows) else float("nan")
        for name in controls:
            these = random[(random["k"] == k) & (random["control"] == name)]
            d = these[column].to_numpy(dtype=np.float64)
            distinct = these["neurons"].nunique() if "neurons" in these.columns else d.size
            row: dict[str, Any] = {
                "k": k,
                "control": name,
                "n_draws": d.size,
                "n_distinct": int(distinct),
                "top": x,
            }
            if d.size and math.isfinite(x):
                p5, median, p95 = np.percentile(d, [5, 50, 95])
                n_ge = int((d >= x).sum())
                row.update(
                    median=median,
                    p5=p5,
                    p95=p95,
                    n_at_least=n_ge,
                    share_at_least=n_ge / d.size,
                    rank=1 + int((d > x).sum()),
                    p_value=(1 + n_ge) / (1 + d.size),
                )
            elif d.size:
                p5, median, p95 = np.percentile(d, [5, 50, 95])
                row.update(median=median, p5=p5, p95=p95)
            rows.append(row)
    columns = [
        "k",
        "control",
        "n_draws",
        "n_distinct",
        "top",
        "median",
        "p5",
        "p95",
        "n_at_least",
        "share_at_least",
        "rank",
        "p_value",
    ]
    out = pd.DataFrame(rows, columns=columns)
    for name in ("n_at_least", "rank"):
        out[name] = out[name].astype("Int64")
    return out


def neuron_costs(
    bundle: ModelBundle,
    text: str | list[str],
    neurons: Sequence[int],
    *,
    layer: int,
    signal: str = "h",
    mode: str = "mean",
    reference: Trace | npt.ArrayLike | None = None,
    positions_mask: npt.ArrayLike | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Return what switching off each neuron alone costs in next-token loss.

    For every neuron n, ``delta_loss[n] = mean_t loss_t(n off) - mean_t loss_t`` over the
    scored positions (nats per token), one full exact pass per neuron, run side by side as
    streams (:func:`run_losses`): the one-neuron runs of :func:`loss_change`, batched.

    Parameters
    ----------
    bundle : ModelBundle
    text : str or list of str
    neurons : sequence of int
        Distinct units of ``layer``.
    layer : int
    signal : {"h", "c"}, default "h"
    mode : {"zero", "mean", "resample"}, default "mean"
        As in :func:`ablation_sweep`.
    reference : Trace or array-like, optional
        As in :func:`ablation_sweep`; default the unedited recording of ``text``.
    positions_mask : array-like of bool, shape (T,), optional
        The feature's tokens, aligned as in :func:`loss_change`.
    seed : int, default 0
        Seed of "resample" (every neuron reads the same reference steps).

    Returns
    -------
    costs : DataFrame
        One row per neuron, in the order given: ``neuron``, ``loss``, ``delta_loss``,
        ``loss_feature``, ``delta_loss_feature`` (NaN without a mask). ``costs.attrs``
        holds ``loss_base``, ``loss_feature_base``, ``layer``, ``signal``, ``mode``,
        ``seed``.

    Examples
    --------
    A tiny untrained character LSTM; zeroing a unit costs next to nothing there.

    >>> from lib.data.tokenizer import Vocab
    >>> from lib.model.build import build
    >>> from lib.model.bundle import ModelBundle
    >>> from lib.model.spec import ModelSpec
    >>> spec = ModelSpec(cell="lstm", level="char", units=8, embedding=4)
    >>> text = "hello world, hello lens"
    >>> vocab = Vocab.build(spec.tokenizer.tokenize(text))
    >>> bundle = ModelBundle(build(spec, len(vocab)), vocab, spec.tokenizer, spec, name="tiny")
    >>> costs = neuron_costs(bundle, text, [0, 3], layer=0)
    >>> costs["neuron"].tolist(), list(costs.columns[1:3])
    ([0, 3], ['loss', 'delta_loss'])
    """
    require_language_model(bundle)
    weights = numpy_weights(bundle)
    units = _check_layer(weights, layer)
    chosen = np.asarray(neurons)
    if chosen.ndim != 1 or (chosen.size and chosen.dtype.kind not in "iu"):
        raise ValueError(f"`neurons` must be a 1-D sequence of ints, got {chosen!r}.")
    if chosen.size and (chosen.min() < 0 or chosen.max() >= units):
        raise ValueError(
            f"`neurons` must be units 0 to {units - 1} of layer {layer}, got "
            f"{chosen.min()} to {chosen.max()}."
        )
    if np.unique(chosen).size != chosen.size:
        raise ValueError("`neurons` holds a unit twice.")
    if mode not in ABLATION_MODES:
        raise ValueError(f"`mode` must be one of {ABLATION_MODES}, got {mode!r}.")
    ids = _encode(bundle, text)
    scored, feature = _scored(len(ids), positions_mask)
    ref = (
        None
        if mode == "zero" or not chosen.size
        else _reference(bundle, text, reference, layer=layer, signal=signal, mode=mode, units=units)
    )
    sets: list[tuple[int, ...] | None] = [None, *((int(n),) for n in chosen)]
    runs = _Runs(sets, lambda n: _switch_off(layer, n, mode, signal, ref, seed))
    losses = run_losses(weights, ids, runs)
    base, base_feature = _mean(losses[0], scored), _mean(losses[0], feature)
    loss = np.array([_mean(x, scored) for x in losses[1:]])
    loss_feature = np.array([_mean(x, feature) for x in losses[1:]])
    df = pd.DataFrame(
        {
            "neuron": chosen.astype(np.int64),
            "loss": loss,
            "delta_loss": loss - base,
            "loss_feature": loss_feature,
            "delta_loss_feature": loss_feature - base_feature,
        }
    )
    df.attrs.update(
        loss_base=base,
        loss_feature_base=base_feature,
        layer=layer,
        signal=signal,
        mode=mode,
        seed=seed,
    )
    return df
