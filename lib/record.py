"""Record a text through a model: every signal of every layer at every step, as a Trace.

The text is one continuous sequence from a zero state. The exact path runs it as one
stream. The fast path (default for long texts) cuts it into S segments run side by side
as S streams, each starting ``warmup`` tokens early from a zero state, so one step is one
(S, units) x (units, gates*units) matmul instead of a matrix-vector product. Each
stream's state at the end of its warm-up is then compared with the previous stream's
state at the same position; where they differ by more than ``tol`` (a long memory such
as "inside a string" outlasting the warm-up), the segment is run again from the
previous stream's true state until its states agree with the first run. After that every
segment continues from the exact state of the one before, so the fast path equals the
exact path within ``tol`` plus float32 round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.cells import CellWeights, cell_weights, run, split_signals, state_of, step
from lib.trace import Trace


@dataclass
class StackWeights:
    """A language model's weights as NumPy arrays.

    ``table0`` has shape (vocab, G*units): the first layer's input projection of every
    token id (embedding @ kernel + bias), so layer 0's input is a lookup.
    """

    cell: str
    layers: list[CellWeights]
    table0: np.ndarray
    dense_w: np.ndarray
    dense_b: np.ndarray

    def project(self, layer: int, x: np.ndarray) -> np.ndarray:
        """Input projection of ``layer`` for ids (layer 0) or previous-layer h (others)."""
        if layer == 0:
            return self.table0[x]
        w = self.layers[layer]
        return x @ w.kernel + w.bias


def stack_weights(model, spec) -> StackWeights:
    """Extract NumPy weights from a model built by ``lib.models.build``."""
    emb = np.asarray(model.get_layer("embedding").get_weights()[0], np.float32)
    layers = [cell_weights(model.get_layer(f"recurrent_{k}")) for k in range(spec.layers)]
    table0 = emb @ layers[0].kernel + layers[0].bias
    dense_w, dense_b = (np.asarray(a, np.float32) for a in model.get_layer("logits").get_weights())
    return StackWeights(spec.cell, layers, table0, dense_w, dense_b)


def _run_layer_streams(
    w: CellWeights, xp: np.ndarray, warmup: int, tol: float
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one layer over stream windows and repair segments whose warm-up fell short.

    ``xp`` has shape (warmup + L, S, G*units); stream 0 is held at zero for its warm-up
    (it starts at position 0). Returns the segments' outputs, stream-major (S, L, ...),
    and repair statistics.
    """
    n_win, n_streams, _ = xp.shape
    reset = np.zeros(n_streams, dtype=int)
    reset[0] = warmup
    H, S, start = run(w, xp, reset_until=reset, keep_from=warmup)
    stats = {"repaired_streams": 0, "repair_steps": 0}
    if n_streams == 1:
        return H, S, stats
    u, lstm = w.units, w.cell == "lstm"

    def states(hs, ss):
        return state_of(hs, ss[..., 4 * u :] if lstm else None)

    repaired: set[int] = set()
    while True:
        ends = states(H[:, -1], S[:, -1])
        if start is not None:
            bad = np.flatnonzero(np.abs(start[1:] - ends[:-1]).max(axis=1) > tol) + 1
        else:
            bad = np.array(sorted(set(range(1, n_streams)) - repaired), dtype=int)
        if bad.size == 0:
            break
        # Rerun the bad segments from their predecessors' end states, in one batch,
        # until each agrees with its first run (from then on the first run is exact).
        init = ends[bad - 1]
        h = init[:, :u].copy()
        c = init[:, u:].copy() if lstm else None
        live = np.ones(bad.size, dtype=bool)
        h_new = np.empty((bad.size, u), np.float32)
        s_new = np.empty((bad.size, S.shape[2]), np.float32)
        for j in range(n_win - warmup):
            step(w, xp[warmup + j, bad], h, c, h_new, s_new)
            drift = np.abs(states(h_new, s_new) - states(H[bad, j], S[bad, j])).max(axis=1)
            rows = bad[live]
            H[rows, j] = h_new[live]
            S[rows, j] = s_new[live]
            live &= drift > tol
            stats["repair_steps"] += 1
            h = h_new.copy()
            if lstm:
                c = s_new[:, 4 * u :].copy()
            if not live.any():
                break
        if start is None:
            start = np.zeros_like(ends)
        start[bad] = init
        repaired.update(int(k) for k in bad)
    stats["repaired_streams"] = len(repaired)
    return H, S, stats


def forward(
    weights: StackWeights,
    ids: np.ndarray,
    *,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
) -> tuple[list[dict[str, np.ndarray]], np.ndarray, dict]:
    """All signals of all layers for ``ids`` read as one sequence from a zero state.

    Parameters
    ----------
    weights : StackWeights
    ids : ndarray of shape (T,)
    streams : int or "auto"
        1 is the exact sequential path; "auto" picks up to 64 streams of at least
        4 * warmup tokens each.
    warmup, tol : see the module docstring.

    Returns
    -------
    signals : list, one dict per layer, name -> float32 array (T, units)
    h_last : ndarray of shape (T, units), the last layer's h
    stats : dict with the number of streams and repairs
    """
    ids = np.asarray(ids)
    T = len(ids)
    if T == 0:
        raise ValueError("cannot record an empty text (0 tokens)")
    if streams == "auto":
        streams = max(1, min(64, T // (4 * max(warmup, 1))))
    streams = int(max(1, min(streams, T)))
    if streams == 1:
        warmup = 0
    seg = -(-T // streams)
    pos = np.arange(-warmup, seg)[:, None] + seg * np.arange(streams)[None, :]
    gather = np.clip(pos, 0, T - 1)
    out = []
    stats = {"streams": streams, "warmup": warmup, "repaired_streams": 0, "repair_steps": 0}
    x = ids
    for k, w in enumerate(weights.layers):
        H, S, st = _run_layer_streams(w, weights.project(k, x[gather]), warmup, tol)
        stats["repaired_streams"] += st["repaired_streams"]
        stats["repair_steps"] += st["repair_steps"]
        # stream-major segments are consecutive: reading order is a reshape
        H = H.reshape(streams * seg, -1)[:T]
        S = S.reshape(streams * seg, -1)[:T]
        sig = {name: np.ascontiguousarray(v) for name, v in
               split_signals(w.cell, w.units, H, S).items()}
        out.append(sig)
        x = sig["h"]
    return out, out[-1]["h"], stats


def output_probs(
    weights: StackWeights, h: np.ndarray, ids: np.ndarray, *, top_k: int = 10,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next-token top-k and the probability of the actual next token, chunked over T.

    Returns ``topk_ids`` (T, k) int32, ``topk_probs`` (T, k) float32 and ``next_prob`` (T,)
    float32 where next_prob[t] = p(ids[t+1] | ids[..t]) and next_prob[-1] = NaN.
    """
    T, V = len(h), weights.dense_w.shape[1]
    k = min(top_k, V)
    topk_ids = np.empty((T, k), np.int32)
    topk_probs = np.empty((T, k), np.float32)
    next_prob = np.full(T, np.nan, np.float32)
    for a in range(0, T, chunk):
        b = min(a + chunk, T)
        z = h[a:b] @ weights.dense_w + weights.dense_b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        part = np.argpartition(-p, k - 1, axis=1)[:, :k]
        pk = np.take_along_axis(p, part, axis=1)
        order = np.argsort(-pk, axis=1, kind="stable")
        topk_ids[a:b] = np.take_along_axis(part, order, axis=1)
        topk_probs[a:b] = np.take_along_axis(pk, order, axis=1)
        nb = min(b, T - 1)
        if nb > a:
            next_prob[a:nb] = p[np.arange(nb - a), ids[a + 1 : nb + 1]]
    return topk_ids, topk_probs, next_prob


def record(
    bundle,
    text: str | list[str],
    *,
    top_k: int = 10,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
) -> Trace:
    """Record ``text`` (a string, or a list of tokens) through ``bundle``'s model.

    Returns a Trace with every signal of every layer (see lib.trace), the next-token
    top-k and the expectancy. ``streams=1`` forces the exact sequential path.
    """
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    ids = bundle.vocab.encode(tokens)
    weights = bundle.numpy_weights
    per_layer, h_last, stats = forward(weights, ids, streams=streams, warmup=warmup, tol=tol)
    topk_ids, topk_probs, next_prob = output_probs(weights, h_last, ids, top_k=top_k)
    signals = {(k, name): v for k, sig in enumerate(per_layer) for name, v in sig.items()}
    return Trace(
        tokens=tokens,
        ids=ids,
        signals=signals,
        topk_ids=topk_ids,
        topk_probs=topk_probs,
        next_prob=next_prob,
        model_name=bundle.name,
        meta={"record": stats},
    )


__all__ = ["record", "forward", "output_probs", "stack_weights", "StackWeights"]
