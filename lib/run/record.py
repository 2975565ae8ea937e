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

With ``interventions`` (lib.run.edits) the text is always run on the exact path: the
fast path's repairs compare segments with the unedited recurrence, which an edit breaks.

Long texts are recorded in chunks of about :data:`CHUNK_BYTES` of working memory each,
written into the Trace as they finish (``dtype="float16"`` halves the Trace,
``out_dir=`` writes it to a trace folder instead of memory; see lib.run.trace). The exact
state at the end of a chunk is carried into the next: the next chunk's first segment
warms up on the tokens before it and is checked against that state like any other
segment, so a chunked recording equals an unchunked one within ``tol``.
:func:`record_shards` writes the chunks of a text into several trace folders (shards)
plus a manifest, which ``lib.run.trace.open_trace`` opens as one Trace.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.run.cells import (
    LAYOUT,
    STEPS,
    WIDTH,
    CellWeights,
    StepInputs,
    blas_threads,
    map_in_workers,
    recent_workers,
    run,
    signal_views,
    split_signals,
    state_of,
)
from lib.run.edits import Intervention, layer_edits, run_edited
from lib.run.trace import Trace, TraceWriter, check_dtype, write_manifest
from lib.run.weights import Lookup, StackWeights, numpy_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle

#: working memory (float32 temporaries) one recording chunk may take; long texts are cut
#: into chunks of about this size (100,000 tokens of a 512-unit LSTM take ~2.7 GB)
CHUNK_BYTES = 3 * 2**30
#: a chunk is never shorter than this many tokens (but the text may be)
MIN_CHUNK_TOKENS = 4096


_F, _O, _C = (LAYOUT["lstm"][name] for name in "foc")


def _end_state(w: CellWeights, H: np.ndarray, S: np.ndarray, k: int, t: int = -1) -> np.ndarray:
    """Segment k's state after its step t (default: its last)."""
    c = S[_C, k, t] if w.cell == "lstm" else None
    return state_of(H[k, t], c)


def _align(
    w: CellWeights,
    H: np.ndarray,
    S: np.ndarray,
    exact: np.ndarray,
    start: np.ndarray,
    tol: float,
) -> bool:
    """Make a segment's outputs exact given the exact state it should start from.

    Returns False if it can't.

    ``H`` (L, units) and ``S`` (WIDTH, L, units) are the outputs of a run from ``start``
    instead of ``exact``. If h agrees (within ``tol``), the gates agree; the LSTM cell
    state then obeys the linear recurrence c_t = f_t c_{t-1} + i_t g_t, so its error is
    delta_c * prod(f_1..f_t) and is corrected in place. The segment is exact if
    h = o tanh(c) recomputed from the corrected c still agrees.
    """
    u = w.units
    if np.abs(exact[:u] - start[:u]).max() > tol:
        return False
    if w.cell != "lstm" or len(H) == 0:
        return True
    delta = exact[u:] - start[u:]
    if np.abs(delta).max() <= tol:
        return True
    from lib.run.kernels import lstm_correct  # compiled on first use

    args = (H, S[_F], S[_O], S[_C], delta.astype(np.float32), np.float32(tol))
    if lstm_correct(*args, False) > tol:
        return False
    lstm_correct(*args, True)
    return True


#: a rerun is checked against the warm-started run after this many steps, then after
#: intervals growing by RERUN_GROWTH up to RERUN_MAX_BLOCK
RERUN_BLOCK = 32
RERUN_GROWTH = 1.5
RERUN_MAX_BLOCK = 512


def _rerun(
    w: CellWeights,
    xp: StepInputs,
    H: np.ndarray,
    S: np.ndarray,
    segments: np.ndarray,
    init: np.ndarray,
    tol: float,
) -> int:
    """Run ``segments`` again from the states ``init``, in place, until each meets its first run.

    Returns the steps run (summed over segments).

    ``xp`` (L, S, G*units) are the segments' inputs and ``H`` (S, L, units), ``S``
    (WIDTH, S, L, units) their outputs from the warm-started run. The segments run side by
    side in blocks of steps; after each block, a segment whose h agrees with the
    warm-started h at the same step (within ``tol``) keeps the warm-started outputs for the
    rest, made exact by :func:`_align` (the LSTM cell state's linear correction), and
    leaves the batch. Where the two never meet, the whole segment is run again.
    """
    L = H.shape[1]
    active, state = segments.copy(), init.copy()
    t, block, steps = 0, float(RERUN_BLOCK), 0
    while active.size and t < L:
        b = min(t + int(block), L)
        Hn, Sn, _ = run(w, xp[t:b, active], init=state, threads=1)
        steps += (b - t) * active.size
        keep = np.ones(active.size, dtype=bool)
        for i, k in enumerate(active.tolist()):
            if b < L:
                new = _end_state(w, Hn, Sn, i)
                old = _end_state(w, H, S, k, b - 1)
                keep[i] = not _align(w, H[k, b:], S[:, k, b:], new, old, tol)
            H[k, t:b] = Hn[i]
            S[:, k, t:b] = Sn[:, i]
        if b < L and keep.any():
            state = np.stack([_end_state(w, Hn, Sn, int(i)) for i in np.flatnonzero(keep)])
        active = active[keep]
        t, block = b, min(block * RERUN_GROWTH, RERUN_MAX_BLOCK)
    return steps


def _run_layer_streams(
    w: CellWeights,
    xp: StepInputs,
    warmup: int,
    tol: float,
    max_rounds: int = 3,
    init0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one layer over stream windows, then make every segment exact.

    ``xp`` has shape (warmup + L, S, G*units). Without ``init0`` the text starts at
    stream 0's segment: it is held at zero for its warm-up, so its segment is exact.
    With ``init0`` (shape (state width,), the exact state before the segment, when a
    chunk continues a text) stream 0 warms up like the others and is checked against
    ``init0``. In reading order, each next segment is checked against the exact end
    state of the one before (``_align``). The segments that fail are run again, in one
    batch, from their predecessors' end states, each only until it meets its first run
    (:func:`_rerun`), up to ``max_rounds`` times (each round fixes at least the first
    failing segment and usually all); any left after that are run one by one from exact
    states.

    Returns the segments' outputs as :func:`lib.run.cells.run` does (H (S, L, units), S
    (WIDTH, S, L, units)), and statistics.
    """
    n_win, n_streams, _ = xp.shape
    reset = np.zeros(n_streams, dtype=int)
    stats = {
        "rerun_rounds": 0,
        "rerun_segments": 0,
        "rerun_steps": 0,
        "sequential_segments": 0,
        "segment_steps": (n_win - warmup) * n_streams,
    }
    if init0 is not None and warmup == 0:  # one stream from the exact state
        H, S, _ = run(w, xp, init=init0[None])
        return H, S, stats
    if init0 is None:
        reset[0] = warmup
    H, S, start = run(w, xp, reset_until=reset, keep_from=warmup)
    if n_streams == 1 and init0 is None:
        return H, S, stats
    if start is None:  # no warm-up: every segment ran from the zero state
        width = 2 * w.units if w.cell == "lstm" else w.units
        start = np.zeros((n_streams, width), np.float32)

    def exact_before(k: int) -> np.ndarray:
        if k > 0:
            return _end_state(w, H, S, k - 1)
        assert init0 is not None  # else segment 0 starts the text and is exact
        return init0

    exact = np.zeros(n_streams, dtype=bool)
    exact[0] = init0 is None
    for rounds in range(max_rounds + 1):
        for k in range(n_streams):
            if not exact[k] and (k == 0 or exact[k - 1]):
                exact[k] = _align(w, H[k], S[:, k], exact_before(k), start[k], tol)
        bad = np.flatnonzero(~exact)
        if bad.size == 0:
            break
        if rounds == max_rounds:  # the slow, always-exact way, in reading order
            for k in bad.tolist():
                init = exact_before(k)[None]
                Hk, Sk, _ = run(w, xp[warmup:, k : k + 1], init=init)
                H[k], S[:, k] = Hk[0], Sk[:, 0]
                start[k] = init[0]
            stats["sequential_segments"] = int(bad.size)
            break
        init = np.stack([exact_before(k) for k in bad.tolist()])
        stats["rerun_steps"] += _rerun(w, xp[warmup:], H, S, bad, init, tol)
        start[bad] = init
        stats["rerun_rounds"] += 1
        stats["rerun_segments"] += int(bad.size)
    return H, S, stats


@dataclass
class Carry:
    """Where a recording left off, to continue it exactly in the next chunk.

    ``states[k]`` is layer k's state after the last token recorded (h, or h and c side
    by side); ``tails[k]`` the last (up to ``warmup``) inputs of layer k: token ids for
    layer 0, the previous layer's h (float32) for the others. The tails only warm up the
    next chunk's first segment, which is then checked against ``states``.
    """

    states: list[np.ndarray]
    tails: list[np.ndarray]


def _layers(
    weights: StackWeights,
    ids: np.ndarray,
    *,
    streams: int | str,
    warmup: int,
    tol: float,
    carry: Carry | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, dict]]:
    """Run ``ids`` through every layer; yield ``(k, H, S, stats)`` per layer, in order.

    ``H`` (T, units) and ``S`` (WIDTH, T, units) are in reading order (views of the run's
    buffers: copy what is kept before the next layer runs). With ``carry`` the text
    continues an earlier chunk from its exact end state.
    """
    T = len(ids)
    if streams == "auto":  # long segments: trained LSTMs remember for ~1,000 tokens
        streams = max(1, min(64, T // 1500))
    streams = int(max(1, min(streams, T)))
    if streams == 1:
        warmup = 0
    seg = -(-T // streams)
    pos = np.arange(-warmup, seg)[:, None] + seg * np.arange(streams)[None, :]
    x = ids
    for k, w in enumerate(weights.layers):
        lead = carry.tails[k][max(0, len(carry.tails[k]) - warmup) :] if carry and warmup else x[:0]
        xk = np.concatenate([lead, x]) if len(lead) else x
        gather = np.clip(pos + len(lead), 0, T + len(lead) - 1)
        # layers above the first project each row of h once and gather per step: the
        # warm-ups repeat rows, and the gathered (steps, streams, G*units) array was 300 MB
        table = weights.table0 if k == 0 else weights.project(k, xk)
        xp = Lookup(table, xk[gather] if k == 0 else gather)
        parallel_before, steps_before = STEPS["parallel"], STEPS["all"]
        H, S, stats = _run_layer_streams(
            w, xp, warmup, tol, init0=carry.states[k] if carry else None
        )
        # steps run by more than one worker (lib.run.cells.run; approximate when other
        # recordings run in the same process at the same time)
        stats["parallel_steps"] = STEPS["parallel"] - parallel_before
        stats["steps"] = STEPS["all"] - steps_before
        del xp, xk, table
        # stream-major segments are consecutive: reading order is a reshape
        H = H.reshape(streams * seg, -1)[:T]
        S = S.reshape(len(S), streams * seg, -1)[:, :T]
        yield k, H, S, {"streams": streams, "warmup": warmup, **stats}
        x = H


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
        Edits applied inside the recurrence after every step (lib.run.edits); the
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
    out = []
    if interventions:
        edits = layer_edits(weights, [list(interventions)])
        x = ids
        for k, w in enumerate(weights.layers):
            xp = weights.table0[x][:, None] if k == 0 else weights.project(k, x[:, None])
            H, S = run_edited(w, xp, edits[k])
            sig = {
                name: np.ascontiguousarray(v)
                for name, v in split_signals(
                    w.cell, w.units, H.reshape(T, -1), S.reshape(T, -1)
                ).items()
            }
            out.append(sig)
            x = sig["h"]
        stats = {
            "streams": 1,
            "warmup": 0,
            "rerun_rounds": 0,
            "rerun_segments": 0,
            "sequential_segments": 0,
        }
        return out, out[-1]["h"], stats
    stats = {}
    for k, H, S, st in _layers(weights, ids, streams=streams, warmup=warmup, tol=tol):
        w = weights.layers[k]
        out.append(
            {name: np.ascontiguousarray(v) for name, v in signal_views(w.cell, H, S).items()}
        )
        _add_stats(stats, st)
    return out, out[-1]["h"], stats


def _add_stats(total: dict, part: dict) -> None:
    for name, value in part.items():
        if name in ("streams", "warmup"):
            total[name] = max(total.get(name, 0), value)
        else:
            total[name] = total.get(name, 0) + value


def output_probs(
    weights: StackWeights,
    h: np.ndarray,
    ids: np.ndarray,
    *,
    top_k: int = 10,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next-token top-k and the probability of the actual next token, chunked over T.

    Returns ``topk_ids`` (T, k) int32, ``topk_probs`` (T, k) float32 and ``next_prob`` (T,)
    float32 where next_prob[t] = p(ids[t+1] | ids[..t]) and next_prob[-1] = NaN, unless
    ``ids`` holds T + 1 ids (a chunk and the token after it).
    """
    from lib.run.kernels import top_k_rows  # compiled on first use

    T, V = len(h), weights.dense_w.shape[1]
    k = min(top_k, V)
    topk_ids = np.empty((T, k), np.int32)
    topk_probs = np.empty((T, k), np.float32)
    next_prob = np.full(T, np.nan, np.float32)
    n_chunks = -(-T // chunk)

    def chunk_probs(i: int) -> None:
        a = i * chunk
        b = min(a + chunk, T)
        z = h[a:b] @ weights.dense_w + weights.dense_b
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        nb = min(b, len(ids) - 1)
        following = np.full(b - a, -1, np.int64)
        if nb > a:
            following[: nb - a] = ids[a + 1 : nb + 1]
        top_k_rows(z, z.sum(axis=1), following, topk_ids[a:b], topk_probs[a:b], next_prob[a:b])

    # the chunks are independent: as many threads as the recording's last run settled on
    # (lib.run.cells.run), one BLAS thread each
    workers = min(recent_workers(), n_chunks)
    if workers > 1:
        with blas_threads(1):
            map_in_workers(chunk_probs, n_chunks, workers)
    else:
        for i in range(n_chunks):
            chunk_probs(i)
    return topk_ids, topk_probs, next_prob


def require_language_model(bundle: ModelBundle) -> None:
    """Raise ValueError if `bundle` is a sequence classifier (use lib.run.classify for it)."""
    if bundle.spec.task != "lm":
        raise ValueError(
            f"model {bundle.name!r} is a sequence classifier, not a language model: record "
            "its texts with lib.run.classify.record_sequences"
        )


def auto_chunk_tokens(weights: StackWeights, budget: int = CHUNK_BYTES) -> int:
    """Tokens per recording chunk so that one chunk's float32 temporaries take ~``budget``.

    Per token and layer the run keeps h and the other signals ((1 + WIDTH) x units), the
    input projection of layers after the first (G x units) and the previous layer's h;
    segments are ~10 % longer for their warm-up, and segments run again from exact states
    get new output arrays (up to twice the first), hence the factor 2: 5,000,000 tokens of
    a trained 128-unit LSTM recorded in chunks estimated at 2 GB without it (490 segments
    run again) peaked at 6.3 GB, about 1 GB of it TensorFlow and the model.
    """
    per_token, prev = 0, 0
    for k, w in enumerate(weights.layers):
        inputs = w.recurrent.shape[1] + prev if k else 0
        per_token = max(per_token, (1 + WIDTH[w.cell]) * w.units + inputs + prev)
        prev = w.units
    return max(MIN_CHUNK_TOKENS, int(budget / (4 * per_token * 1.1 * 2)))


def _units(weights: StackWeights) -> dict[tuple[int, str], int]:
    """Width of every signal, in the order ``split_signals`` names them."""
    return {
        (k, name): w.units for k, w in enumerate(weights.layers) for name in ("h", *LAYOUT[w.cell])
    }


def _record_span(
    weights: StackWeights,
    ids: np.ndarray,
    start: int,
    stop: int,
    writer: TraceWriter | None,
    offset: int,
    carry: Carry | None,
    *,
    size: int,
    streams: int | str,
    warmup: int,
    tol: float,
    top_k: int,
    stats: dict,
) -> Carry:
    """Record ``ids[start:stop]`` in chunks of about ``size`` tokens; return the carry after.

    Continues from ``carry`` (None: the zero state) and writes rows ``start - offset ...``
    of ``writer`` (None: only run, to warm up).
    """
    n_chunks = max(1, -(-(stop - start) // size))
    bounds = np.linspace(start, stop, n_chunks + 1).round().astype(int)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        states, tails = [], [ids[max(0, b - warmup) : b]]
        for k, H, S, st in _layers(
            weights, ids[a:b], streams=streams, warmup=warmup, tol=tol, carry=carry
        ):
            w = weights.layers[k]
            if writer is not None:
                _write_signals(writer, k, a - offset, signal_views(w.cell, H, S))
            states.append(state_of(H[-1], S[_C, -1] if w.cell == "lstm" else None))
            if k + 1 < len(weights.layers):  # the next layer's input tail
                before = carry.tails[k + 1] if carry else H[:0]
                tails.append(
                    np.concatenate([before, H[max(0, len(H) - warmup) :]])[-warmup:]
                    if warmup
                    else H[:0].copy()
                )
            _add_stats(stats, st)
        stats["chunks"] = stats.get("chunks", 0) + 1
        carry = Carry(states, tails)
        if writer is not None:
            probs = output_probs(weights, H, ids[a : b + 1], top_k=top_k)
            writer.write_outputs(a - offset, *probs)
    assert carry is not None  # there is at least one chunk
    return carry


def _write_signals(writer: TraceWriter, k: int, start: int, named: dict[str, np.ndarray]) -> None:
    """Write layer k's signals into ``writer``.

    A whole text's signals are adopted (:meth:`lib.run.trace.TraceWriter.adopt`) where
    they can be, not copied.
    """
    for name, v in named.items():
        if not (start == 0 and writer.adopt(k, name, v)):
            writer.write_signals(k, start, {name: v})


def _model_meta(bundle: ModelBundle) -> dict[str, Any]:
    return {
        "name": bundle.name,
        "updated": bundle.meta.get("updated"),
        "epochs_done": bundle.meta.get("epochs_done"),
    }


def record(
    bundle: ModelBundle,
    text: str | list[str],
    *,
    top_k: int = 10,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
    interventions: Sequence[Intervention] = (),
    dtype: str = "float32",
    out_dir: str | os.PathLike | None = None,
    chunk_tokens: int | None = None,
) -> Trace:
    """Record ``text`` (a string, or a list of tokens) through ``bundle``'s model.

    Returns a Trace with every signal of every layer (see lib.run.trace), the next-token
    top-k and the expectancy. ``streams=1`` forces the exact sequential path.

    ``interventions`` (lib.run.edits.Intervention) edit chosen neurons after every
    step; they force the exact path, the Trace shows the edited signals, and
    ``trace.meta["record"]["interventions"]`` lists them.

    Parameters
    ----------
    dtype : {"float32", "float16"}, default "float32"
        Storage of the signals; float16 halves the Trace (computation stays float32).
    out_dir : path, optional
        Write a trace folder there (lib.run.trace) and return it memory-mapped, so the Trace
        need not fit in memory; without it the arrays are kept in memory.
    chunk_tokens : int, optional
        Tokens per chunk (default :func:`auto_chunk_tokens`, ~:data:`CHUNK_BYTES` of
        working memory). Chunks continue each other exactly (module docstring).

    Examples
    --------
    A tiny untrained character LSTM: every signal has one row per token and one column
    per unit.

    >>> from lib.data.tokenizer import Vocab
    >>> from lib.model.build import build
    >>> from lib.model.bundle import ModelBundle
    >>> from lib.model.spec import ModelSpec
    >>> spec = ModelSpec(cell="lstm", level="char", units=8, embedding=4)
    >>> text = "hello world, hello lens"
    >>> vocab = Vocab.build(spec.tokenizer.tokenize(text))
    >>> bundle = ModelBundle(build(spec, len(vocab)), vocab, spec.tokenizer, spec, name="tiny")
    >>> trace = record(bundle, text, top_k=3)
    >>> len(trace), trace.signals[(0, "h")].shape, trace.topk_ids.shape
    (23, (23, 8), (23, 3))
    >>> trace.signal_names(0)
    ['h', 'i', 'f', 'o', 'g', 'c']
    """
    require_language_model(bundle)
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    ids = np.asarray(bundle.vocab.encode(tokens))
    if len(ids) == 0:
        raise ValueError("cannot record an empty text (0 tokens)")
    storage = check_dtype(dtype)
    weights = numpy_weights(bundle)
    interventions = tuple(interventions)
    writer = TraceWriter(
        len(ids),
        _units(weights),
        min(top_k, weights.dense_w.shape[1]),
        dtype=storage,
        folder=out_dir,
    )
    if interventions:
        per_layer, h_last, stats = forward(weights, ids, interventions=interventions)
        stats["interventions"] = [asdict(iv) for iv in interventions]
        for k, sig in enumerate(per_layer):
            writer.write_signals(k, 0, sig)
        writer.write_outputs(0, *output_probs(weights, h_last, ids, top_k=top_k))
    else:
        stats = {}
        _record_span(
            weights,
            ids,
            0,
            len(ids),
            writer,
            0,
            None,
            size=chunk_tokens or auto_chunk_tokens(weights),
            streams=streams,
            warmup=warmup,
            tol=tol,
            top_k=top_k,
            stats=stats,
        )
    stats["dtype"] = storage.name
    return writer.finish(
        tokens, ids, model_name=bundle.name, meta={"record": stats, "model": _model_meta(bundle)}
    )


def record_shards(
    bundle: ModelBundle,
    text: str | list[str],
    out_dir: str | os.PathLike,
    n_shards: int,
    *,
    shard: int | None = None,
    shard_warmup: int = 2000,
    dtype: str = "float16",
    top_k: int = 10,
    streams: int | str = "auto",
    warmup: int = 128,
    tol: float = 1e-5,
    chunk_tokens: int | None = None,
) -> Path:
    """Record ``text`` as ``n_shards`` trace folders of contiguous slices plus a manifest.

    ``out_dir/manifest.json`` lists the shards (``shard-000`` ...: token ranges of equal
    length); ``lib.run.trace.open_trace(out_dir)`` opens them as one Trace.

    Parameters
    ----------
    n_shards : int
        1 to the number of tokens.
    shard : int, optional
        None records every shard, in order, each continuing from the exact end state of
        the one before: the shards together equal one recording of the whole text. An
        index K records shard K alone (to record shards on several machines at once): it
        starts ``shard_warmup`` tokens early from the zero state, so its first states are
        approximate until the warm-up is forgotten (exact for shard 0, or when the
        warm-up reaches the text's start); ``meta["shard"]["start_state"]`` says which.
    dtype : {"float16", "float32"}, default "float16"
    top_k, streams, warmup, tol, chunk_tokens
        As for :func:`record`.

    Returns
    -------
    out_dir : Path

    Raises
    ------
    ValueError
        An empty text, ``n_shards`` outside [1, T], ``shard`` outside [0, n_shards), or an
        ``out_dir`` whose manifest describes another recording (other model, text or
        shards).
    """
    require_language_model(bundle)
    tokens = bundle.tokenizer.tokenize(text) if isinstance(text, str) else list(text)
    ids = np.asarray(bundle.vocab.encode(tokens))
    T = len(ids)
    if T == 0:
        raise ValueError("cannot record an empty text (0 tokens)")
    if not 1 <= int(n_shards) <= T:
        raise ValueError(
            f"the number of shards must be 1 to {T:,} (the text's tokens), got {n_shards!r}"
        )
    n_shards = int(n_shards)
    if shard is not None and not 0 <= shard < n_shards:
        raise ValueError(f"shard index must be 0 to {n_shards - 1}, got {shard!r}")
    storage = check_dtype(dtype)
    folder = Path(out_dir)
    bounds = np.linspace(0, T, n_shards + 1).round().astype(int).tolist()
    manifest: dict[str, Any] = {
        "model_name": bundle.name,
        "model": _model_meta(bundle),
        "n_tokens": T,
        "ids_sha1": hashlib.sha1(ids.astype(np.int32).tobytes()).hexdigest(),
        "dtype": storage.name,
        "shards": [
            {"index": i, "folder": f"shard-{i:03d}", "start": bounds[i], "stop": bounds[i + 1]}
            for i in range(n_shards)
        ],
    }
    old = folder / "manifest.json"
    if old.is_file():
        previous = json.loads(old.read_text(encoding="utf-8"))
        same = all(
            previous.get(key) == manifest[key]
            for key in ("model_name", "n_tokens", "ids_sha1", "dtype", "shards")
        )
        if not same:
            raise ValueError(
                f"{folder} holds shards of another recording (model "
                f"{previous.get('model_name')!r}, {previous.get('n_tokens')} "
                f"tokens, {len(previous.get('shards', []))} shards); choose "
                "another folder"
            )
    write_manifest(folder, manifest)
    weights = numpy_weights(bundle)
    k = min(top_k, weights.dense_w.shape[1])
    size = chunk_tokens or auto_chunk_tokens(weights)
    options: dict[str, Any] = {
        "size": size,
        "streams": streams,
        "warmup": warmup,
        "tol": tol,
        "top_k": top_k,
    }
    carry = None
    for part in manifest["shards"] if shard is None else [manifest["shards"][shard]]:
        a, b = part["start"], part["stop"]
        if shard is None or a == 0:
            start_state = "exact"
        else:
            w0 = max(0, a - int(shard_warmup))
            carry = _record_span(weights, ids, w0, a, None, 0, None, stats={}, **options)
            start_state = (
                "exact"
                if w0 == 0
                else f"zero state {a - w0:,} tokens before the shard (approximate)"
            )
        stats: dict[str, Any] = {}
        writer = TraceWriter(
            b - a, _units(weights), k, dtype=storage, folder=folder / part["folder"]
        )
        carry = _record_span(weights, ids, a, b, writer, a, carry, stats=stats, **options)
        stats["dtype"] = storage.name
        writer.finish(
            tokens[a:b],
            ids[a:b],
            model_name=bundle.name,
            meta={
                "record": stats,
                "model": manifest["model"],
                "shard": {**part, "n_shards": n_shards, "start_state": start_state},
            },
        )
    return folder


__all__ = [
    "record",
    "record_shards",
    "forward",
    "output_probs",
    "require_language_model",
    "auto_chunk_tokens",
    "Carry",
]


def warm_kernels() -> float:
    """Load (or compile) every recording kernel on a tiny run; return the seconds it took.

    The fused kernels are compiled once and cached on disk, but each process still pays
    importing numba and loading them (~0.5 s here) at its first recording; a server can
    pay it at start instead (``dashboard.warmup``).
    """
    from lib.run.kernels import lstm_correct

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    for cell in ("rnn", "lstm", "gru"):
        g = WIDTH[cell] if cell != "lstm" else 4
        u = 4
        f32 = np.float32
        w = CellWeights(
            cell,
            u,
            rng.standard_normal((3, g * u)).astype(f32),
            rng.standard_normal((u, g * u)).astype(f32),
            np.zeros(g * u, f32),
            np.zeros(g * u, f32) if cell == "gru" else None,
        )
        table = rng.standard_normal((5, g * u)).astype(f32)
        ids = np.zeros((6, 2), np.int64)
        H, S, _ = run(w, Lookup(table, ids), reset_until=np.array([2, 0]), keep_from=2)
        run(w, table[ids], workers=1)  # projections as an array (layers above the first)
        if cell == "lstm":
            delta = np.zeros(u, f32)
            lstm_correct(H[0], S[1, 0], S[2, 0], S[4, 0], delta, f32(1e-5), False)
    return time.perf_counter() - start
