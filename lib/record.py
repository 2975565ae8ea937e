"""Record a text through a model: every signal of every layer at every step, as a Trace.

The text is one continuous sequence from a zero state. The exact path runs it as one
stream. The fast path (default for long texts) cuts it into S segments run side by side
as S streams, each starting ``warmup`` tokens early from a zero state, so one step is one
(S, units) x (units, gates*units) matmul instead of a matrix-vector product.

The warm-up is not trusted: in reading order, each segment is checked against the exact
end state of the one before. Trained LSTMs keep counters in their cell state (values in
the thousands that never decay), so the cell state is corrected exactly through its
linear recurrence where h already agrees; segments whose h disagrees (a long memory such
as "inside a string" outlasting the warm-up) are run again from the true state. The fast
path thus equals the exact path within ``tol`` plus float32 round-off; how much rerunning
it needed is in ``trace.meta["record"]``.

With ``interventions`` (lib.interventions) the text is always run on the exact path: the
fast path's repairs compare segments with the unedited recurrence, which an edit breaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lib.cells import CellWeights, cell_weights, run, split_signals, state_of
from lib.trace import Trace

if TYPE_CHECKING:
    from lib.interventions import Intervention


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


class Lookup:
    """Layer 0's input projections ``table[ids]`` gathered one step at a time.

    Behaves like the (T, B, G*units) array for the indexing ``run`` and the segment checks
    use, without materialising it (for 100,000 tokens of a 512-unit LSTM that array is
    0.8 GB, and filling it cost as much as a third of the recording).
    """

    def __init__(self, table: np.ndarray, ids: np.ndarray):
        self.table, self.ids = table, ids
        self.shape = (*ids.shape, table.shape[1])

    def __getitem__(self, index):
        sub = self.ids[index]
        return self.table[sub] if np.ndim(sub) <= 1 else Lookup(self.table, sub)


def stack_weights(model, spec) -> StackWeights:
    """Extract NumPy weights from a model built by ``lib.models.build``.

    For a classifier ``table0`` is indexed by the model's input ids (vocabulary id + 1,
    row 0 = padding) and ``dense_w``/``dense_b`` are the output layer's (before its sigmoid
    or softmax).
    """
    emb = np.asarray(model.get_layer("embedding").get_weights()[0], np.float32)
    layers = [cell_weights(model.get_layer(f"recurrent_{k}")) for k in range(spec.layers)]
    table0 = emb @ layers[0].kernel + layers[0].bias
    head = "output" if getattr(spec, "task", "lm") == "classifier" else "logits"
    dense_w, dense_b = (np.asarray(a, np.float32) for a in model.get_layer(head).get_weights())
    return StackWeights(spec.cell, layers, table0, dense_w, dense_b)


def _end_state(w: CellWeights, H: np.ndarray, S: np.ndarray, k: int) -> np.ndarray:
    c = S[k, -1, 4 * w.units :] if w.cell == "lstm" else None
    return state_of(H[k, -1], c)


def _align(w: CellWeights, H: np.ndarray, S: np.ndarray, k: int, exact: np.ndarray,
           start: np.ndarray, tol: float) -> bool:
    """Make segment k exact given the exact state it should start from; False if it can't.

    The segment ran from ``start`` instead of ``exact``. If h agrees (within ``tol``), the
    gates agree; the LSTM cell state then obeys the linear recurrence c_t = f_t c_{t-1} +
    i_t g_t, so its error is delta_c * prod(f_1..f_t) and is corrected in place. The
    segment is exact if h = o tanh(c) recomputed from the corrected c still agrees.
    """
    u = w.units
    if np.abs(exact[:u] - start[:u]).max() > tol:
        return False
    if w.cell != "lstm":
        return True
    delta = exact[u:] - start[u:]
    if np.abs(delta).max() <= tol:
        return True
    c = S[k, :, 4 * u :] + delta * np.cumprod(S[k, :, u : 2 * u], axis=0)
    h = np.tanh(c)
    h *= S[k, :, 2 * u : 3 * u]
    if np.abs(h - H[k]).max() > tol:
        return False
    S[k, :, 4 * u :] = c
    H[k] = h
    return True


def _run_layer_streams(
    w: CellWeights, xp: np.ndarray, warmup: int, tol: float, max_rounds: int = 3
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one layer over stream windows, then make every segment exact.

    ``xp`` has shape (warmup + L, S, G*units); stream 0 is held at zero for its warm-up
    (it starts at position 0), so its segment is exact. In reading order, each next
    segment is checked against the exact end state of the one before (``_align``). The
    segments that fail are run again, in one batch, from their predecessors' end states
    (up to ``max_rounds`` times: each round fixes at least the first failing segment and
    usually all); any left after that are run one by one from exact states.

    Returns the segments' outputs, stream-major (S, L, ...), and statistics.
    """
    n_win, n_streams, _ = xp.shape
    reset = np.zeros(n_streams, dtype=int)
    reset[0] = warmup
    H, S, start = run(w, xp, reset_until=reset, keep_from=warmup)
    stats = {"rerun_rounds": 0, "rerun_segments": 0, "sequential_segments": 0}
    if n_streams == 1:
        return H, S, stats
    exact = np.zeros(n_streams, dtype=bool)
    exact[0] = True
    for rounds in range(max_rounds + 1):
        for k in range(1, n_streams):
            if not exact[k] and exact[k - 1]:
                exact[k] = _align(w, H, S, k, _end_state(w, H, S, k - 1), start[k], tol)
        bad = np.flatnonzero(~exact)
        if bad.size == 0:
            break
        if rounds == max_rounds:  # the slow, always-exact way, in reading order
            for k in bad:
                init = _end_state(w, H, S, k - 1)[None]
                H[k:k + 1], S[k:k + 1], _ = run(w, xp[warmup:, k:k + 1], init=init)
                start[k] = init[0]
            stats["sequential_segments"] = int(bad.size)
            break
        init = np.stack([_end_state(w, H, S, k - 1) for k in bad])
        H[bad], S[bad], _ = run(w, xp[warmup:, bad], init=init)
        start[bad] = init
        stats["rerun_rounds"] += 1
        stats["rerun_segments"] += int(bad.size)
    return H, S, stats


def forward(
    weights: StackWeights,
    ids: np.ndarray,
    *,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
    interventions: Sequence[Intervention] = (),
) -> tuple[list[dict[str, np.ndarray]], np.ndarray, dict]:
    """All signals of all layers for ``ids`` read as one sequence from a zero state.

    Parameters
    ----------
    weights : StackWeights
    ids : ndarray of shape (T,)
    streams : int or "auto"
        1 is the exact sequential path; "auto" picks up to 64 streams of at least
        1,500 tokens each.
    warmup, tol : see the module docstring.
    interventions : sequence of Intervention, default ()
        Edits applied inside the recurrence after every step (lib.interventions); the
        signals returned are the edited ones. Any intervention forces the exact path:
        ``streams`` and ``warmup`` are then ignored.

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
    interventions = tuple(interventions)
    edits = None
    if interventions:
        # imported here: lib.interventions imports this module
        from lib.interventions import layer_edits, run_edited

        edits = layer_edits(weights, [list(interventions)])
        streams = 1
    if streams == "auto":  # long segments: trained LSTMs remember for ~1,000 tokens
        streams = max(1, min(64, T // 1500))
    streams = int(max(1, min(streams, T)))
    if streams == 1:
        warmup = 0
    seg = -(-T // streams)
    pos = np.arange(-warmup, seg)[:, None] + seg * np.arange(streams)[None, :]
    gather = np.clip(pos, 0, T - 1)
    out = []
    stats = {"streams": streams, "warmup": warmup, "rerun_rounds": 0, "rerun_segments": 0,
             "sequential_segments": 0}
    x = ids
    for k, w in enumerate(weights.layers):
        if edits is None:
            xp = (Lookup(weights.table0, x[gather]) if k == 0 else
                  weights.project(k, x[gather]))
            H, S, st = _run_layer_streams(w, xp, warmup, tol)
            for name, count in st.items():
                stats[name] += count
        else:
            H, S = run_edited(w, weights.project(k, x[gather]), edits[k])
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


def require_language_model(bundle) -> None:
    """ValueError if `bundle` is a sequence classifier (record it with lib.classify)."""
    if getattr(bundle.spec, "task", "lm") != "lm":
        raise ValueError(
            f"model {bundle.name!r} is a sequence classifier, not a language model: record "
            "its texts with lib.classify.record_sequences"
        )


def record(
    bundle,
    text: str | list[str],
    *,
    top_k: int = 10,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
    interventions: Sequence[Intervention] = (),
) -> Trace:
    """Record ``text`` (a string, or a list of tokens) through ``bundle``'s model.

    Returns a Trace with every signal of every layer (see lib.trace), the next-token
    top-k and the expectancy. ``streams=1`` forces the exact sequential path.

    ``interventions`` (lib.interventions.Intervention) edit chosen neurons after every
    step; they force the exact path, the Trace shows the edited signals, and
    ``trace.meta["record"]["interventions"]`` lists them.
    """
    require_language_model(bundle)
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    ids = bundle.vocab.encode(tokens)
    weights = bundle.numpy_weights
    interventions = tuple(interventions)
    per_layer, h_last, stats = forward(weights, ids, streams=streams, warmup=warmup, tol=tol,
                                       interventions=interventions)
    if interventions:
        stats["interventions"] = [asdict(iv) for iv in interventions]
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


__all__ = ["record", "forward", "output_probs", "stack_weights", "StackWeights",
           "require_language_model"]
