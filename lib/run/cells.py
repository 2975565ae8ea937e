"""NumPy forward passes of Keras' SimpleRNN, LSTM and GRU cells that expose every signal.

Keras returns only ``h``; the gates and the cell state are recomputed here from the
layer's own weights, biases included (seed 000's code omitted the biases and used h_t in
place of h_{t-1}; see spec/seed-000.md §1.1). The equations, with Keras' gate order:

- rnn:  a_t = x_t W + h_{t-1} U + b;  h_t = tanh(a_t)
- lstm: [i f g o] = x_t W + h_{t-1} U + b (Keras order i, f, c, o);
        i, f, o = sigmoid(.), g = tanh(.);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
- gru (reset_after=True, the Keras default): [z r n]_x = x_t W + b_x,
        [z r n]_h = h_{t-1} U + b_h;  z = sigmoid(z_x + z_h);  r = sigmoid(r_x + r_h);
        n = tanh(n_x + r n_h);  h_t = z h_{t-1} + (1 - z) n

Every step works on a batch of B independent streams, so the recurrent product is one
(B, units) x (units, gates*units) matmul per step. Where two CPUs are free, :func:`run`
splits the streams between two threads, each running its half through the steps on its
own (one BLAS thread each), as long as each gets a CPU of its own: where other work takes
the CPUs, they fall back to one (:func:`advance_while_cpus_are_free`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np
from threadpoolctl import ThreadpoolController

from lib.model.spec import Cell
from lib.run.buffers import prefaulted_empty


@dataclass
class CellWeights:
    """One recurrent layer's weights, as float32 arrays with gates along the last axis.

    ``kernel`` has shape (n_in, G*units), ``recurrent`` (units, G*units), ``bias``
    (G*units,) and, for GRU only, ``recurrent_bias`` (G*units,). For LSTM the gate
    columns are reordered from Keras' (i, f, g, o) to (i, f, o, g) so the three sigmoid
    gates are one contiguous block.
    """

    cell: Cell
    units: int
    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray
    recurrent_bias: np.ndarray | None = None


def _lstm_order(w: np.ndarray, units: int) -> np.ndarray:
    i, f, g, o = (w[..., k * units : (k + 1) * units] for k in range(4))
    return np.concatenate([i, f, o, g], axis=-1)


_CELL_OF_LAYER: dict[str, Cell] = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}


def cell_weights(layer: Any) -> CellWeights:
    """Extract the weights of a Keras ``SimpleRNN``, ``LSTM`` or ``GRU`` layer."""
    kind = type(layer).__name__
    cell = _CELL_OF_LAYER.get(kind)
    if cell is None:
        raise ValueError(f"expected a SimpleRNN, LSTM or GRU layer, got {kind}")
    units = layer.units
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    if len(weights) != 3:
        raise ValueError(f"{kind} layer without bias is not supported ({len(weights)} arrays)")
    kernel, recurrent, bias = weights
    if cell == "lstm":
        kernel, recurrent, bias = (_lstm_order(w, units) for w in (kernel, recurrent, bias))
        return CellWeights(cell, units, kernel, recurrent, bias)
    if cell == "gru":
        if not layer.cell.reset_after:
            raise ValueError("GRU with reset_after=False is not supported")
        return CellWeights(cell, units, kernel, recurrent, bias[0], bias[1])
    return CellWeights(cell, units, kernel, recurrent, bias)


class StepInputs(Protocol):
    """What :func:`run` reads its input projections from, one step ``xp[t]`` at a time.

    An ndarray of shape (T, B, G*units), or :class:`lib.run.weights.Lookup`, which
    gathers each step's rows from a table instead of holding them all.
    """

    @property
    def shape(self) -> tuple[int, ...]:
        """(T, B, G*units)."""
        ...

    def __getitem__(self, index: Any, /) -> Any: ...


#: combined per-step buffer layout: name -> column block, in units
LAYOUT: dict[str, dict[str, int]] = {
    "rnn": {"a": 0},
    "lstm": {"i": 0, "f": 1, "o": 2, "g": 3, "c": 4},
    "gru": {"z": 0, "r": 1, "n": 2},
}
WIDTH: dict[str, int] = {"rnn": 1, "lstm": 5, "gru": 3}


def sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Compute the logistic function as 0.5 tanh(x / 2) + 0.5, into ``out``.

    Exact, and several times faster in float32 than scipy.special.expit here.
    """
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


@cache
def _kernel(cell: Cell) -> Callable[..., None]:
    from lib.run.kernels import KERNELS  # numba: imported (and compiled) on first use

    return KERNELS[cell]


_NOT_HELD = np.zeros(1, np.uint8)


def _rows(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.intp)


def _no_bias(w: CellWeights) -> np.ndarray:
    return w.recurrent_bias if w.recurrent_bias is not None else w.bias


def step(
    w: CellWeights,
    xp: np.ndarray,
    h: np.ndarray,
    state: np.ndarray | None,
    h_out: np.ndarray,
    sig_out: np.ndarray,
) -> None:
    """Advance B streams by one step.

    Parameters
    ----------
    w : CellWeights
    xp : ndarray of shape (B, G*units)
        The input projection x_t W + b of this step.
    h : ndarray of shape (B, units)
        h_{t-1}.
    state : ndarray of shape (B, units) or None
        c_{t-1} for LSTM (None: the zero state), else ignored.
    h_out : ndarray of shape (B, units)
        Receives h_t.
    sig_out : ndarray of shape (B, WIDTH[cell]*units)
        Receives the other signals in the column blocks of ``LAYOUT[cell]``.

    Notes
    -----
    ``h @ U`` is one BLAS product; the gate math is one fused pass (lib.run.kernels), the
    same operations as :func:`run`'s, so both give bit-identical results.
    """
    B, u = h.shape
    z = h @ w.recurrent
    c = np.zeros_like(h) if state is None or w.cell != "lstm" else state
    held = _NOT_HELD if B == 1 else np.zeros(B, np.uint8)
    sig = np.empty((WIDTH[w.cell], B, 1, u), np.float32)  # the kernel's signal-major layout
    h_new = np.empty((B, 1, u), np.float32)
    _kernel(w.cell)(
        z,
        np.ascontiguousarray(xp, dtype=np.float32),
        _rows(B),
        _no_bias(w),
        np.ascontiguousarray(h)[:, None],
        0,
        np.ascontiguousarray(c)[None, :, None],
        0,
        held,
        h_new,
        sig,
        0,
        0,
        B,
    )
    h_out[:] = h_new[:, 0]
    sig_out.reshape(B, -1, u)[:] = sig[:, :, 0].transpose(1, 0, 2)


class _Steps:
    """The input projections of one step as ``(table, rows)`` for the kernels."""

    def __init__(self, xp: StepInputs):
        # lib.run.weights.Lookup (a table and the ids to gather), by its attributes:
        # weights imports this module
        self.lookup = hasattr(xp, "table") and hasattr(xp, "ids")
        self.xp = xp
        self.arange = _rows(xp.shape[1])

    def __call__(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if self.lookup:
            return self.xp.table, np.asarray(self.xp.ids[t], dtype=np.intp)  # type: ignore[attr-defined]
        return np.ascontiguousarray(self.xp[t], dtype=np.float32), self.arange


def run(
    w: CellWeights,
    xp: StepInputs,
    *,
    reset_until: np.ndarray | None = None,
    keep_from: int = 0,
    init: np.ndarray | None = None,
    threads: int | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Run B streams through T steps from the zero state (or from ``init``).

    Parameters
    ----------
    w : CellWeights
    xp : ndarray of shape (T, B, G*units), or another :class:`StepInputs`
        Input projections, time-major.
    reset_until : ndarray of shape (B,) of int, optional
        Stream b is held at the zero state for its first ``reset_until[b]`` steps
        (used to give a stream fewer real steps than the others).
    keep_from : int
        Outputs of the first ``keep_from`` steps (a warm-up) are not kept.
    init : ndarray of shape (B, state width), optional
        Initial states as returned by ``state_of`` (h, or h and c side by side).
    threads : int, optional
        BLAS threads for the recurrent product; by default one.
    workers : int, optional
        Python threads that advance disjoint groups of the B streams at once (each with
        its own products and fused passes). By default (None) :func:`auto_workers`
        decides how many could help, and they run while each gets a CPU of its own
        (:func:`advance_while_cpus_are_free`; runs shorter than :data:`SHORT_RUN` steps
        take the last run's verdict), unless :data:`FORCE_WORKERS` is set.

    Returns
    -------
    H : ndarray of shape (B, T - keep_from, units)
        Stream-major, so ``H.reshape(-1, units)`` puts consecutive segments in order.
    S : ndarray of shape (WIDTH[cell], B, T - keep_from, units)
        The other signals, signal-major in the order of ``LAYOUT[cell]`` (so each signal is
        one contiguous block; :func:`signal_views` names them).
    warm : ndarray of shape (B, state width) or None
        The recurrent state after step ``keep_from - 1`` (None when keep_from is 0).

    Notes
    -----
    Each step is one BLAS product ``h_{t-1} U`` into a scratch array and one fused pass
    (lib.run.kernels) that writes h_t and the signals straight into ``H[:, t]`` and
    ``S[:, :, t]``; the next product reads h_{t-1} from there (a strided view BLAS takes as
    it is). Warm-up steps write into two small scratch arrays used in turn.

    Streams are independent, so with several workers each runs its own rows through
    many steps without waiting for the others (they meet only between blocks of
    :data:`SHARE_BLOCK` steps), and the products and kernels release the GIL. A stream's outputs
    agree across numbers of workers within float32 round-off, not bit for bit: OpenBLAS
    rounds a row of a product differently with the number of rows in it (64 rows against
    two products of 32 differ in the last bit), as the reruns' smaller batches always did.
    """
    T, B, _ = xp.shape
    u = w.units
    n_sig = WIDTH[w.cell]
    H = prefaulted_empty((B, T - keep_from, u))
    S = prefaulted_empty((n_sig, B, T - keep_from, u))
    # scratch (warm-up steps and the initial state), two of each so no step reads and
    # writes the same array
    hs = np.zeros((2, B, 1, u), np.float32)
    ss = np.zeros((2, n_sig, B, 1, u), np.float32)
    c_at = LAYOUT["lstm"]["c"] if w.cell == "lstm" else 0
    if init is not None:
        hs[1, :, 0] = init[:, :u]
        if w.cell == "lstm":
            ss[1, c_at, :, 0] = init[:, u:]
    kernel = _kernel(w.cell)
    inputs = _Steps(xp)
    z = np.empty((B, w.recurrent.shape[1]), np.float32)
    rb = _no_bias(w)
    reset = None if reset_until is None else np.asarray(reset_until)
    not_held = np.zeros(B, np.uint8)
    width = 2 * u if w.cell == "lstm" else u
    warm = np.empty((B, width), np.float32) if keep_from > 0 else None

    def where(t: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the arrays and row holding step t's outputs (t = -1: the initial state)."""
        if t >= keep_from:
            return H, S, t - keep_from
        return hs[t % 2], ss[t % 2], 0

    def advance_streams(start: int, stop: int, lo: int, hi: int) -> float:
        """Advance streams lo..hi-1 over steps start..stop-1; return its CPU share."""
        wall, cpu = time.perf_counter(), time.thread_time()
        hp, sp, tp = where(start - 1)
        z_rows = z[lo:hi]
        for t in range(start, stop):
            np.matmul(hp[lo:hi, tp], w.recurrent, out=z_rows)
            table, rows = inputs(t)
            held = not_held if reset is None else (reset > t).view(np.uint8)
            ho, so, to = where(t)
            kernel(z, table, rows, rb, hp, tp, sp, c_at, held, ho, so, to, lo, hi)
            hp, sp, tp = ho, so, to
            if t == keep_from - 1:
                assert warm is not None
                warm[lo:hi, :u] = hp[lo:hi, tp]
                if w.cell == "lstm":
                    warm[lo:hi, u:] = sp[c_at, lo:hi, tp]
        return cpu_share(wall, cpu)

    def advance(start: int, stop: int, n_workers: int) -> float:
        bounds = np.linspace(0, B, n_workers + 1).round().astype(int).tolist()
        others = [
            _pool().submit(advance_streams, start, stop, lo, hi)
            for lo, hi in zip(bounds[1:-1], bounds[2:], strict=True)
        ]
        shares = []
        try:
            shares.append(advance_streams(start, stop, bounds[0], bounds[1]))
        finally:
            shares += [done.result() for done in others]
        return min(shares)

    most = auto_workers(B, B * w.recurrent.size) if workers is None else max(1, int(workers))
    most = min(most, B)
    with blas_threads(threads or 1):
        if workers is None and most > 1 and FORCE_WORKERS is None and T >= SHORT_RUN:
            STEPS["parallel"] += advance_while_cpus_are_free(advance, T, most)
        else:
            if workers is not None:
                n = most
            elif FORCE_WORKERS is not None:
                n = min(max(1, FORCE_WORKERS), B)
            else:  # too short to check (the reruns' blocks): the last run's verdict
                n = min(most, recent_workers())
            advance(0, T, n)
            STEPS["parallel"] += T * (n > 1)
    STEPS["all"] += T
    return H, S, warm


#: a step's recurrent product of at least this many multiply-adds (streams x units x
#: gates*units) may be split across workers; smaller ones always run in one thread
WORKERS_MIN_WORK = 2_000_000
#: every worker advances at least this many streams
WORKER_MIN_STREAMS = 4
#: at most this many workers (threads) advance one run's streams
MAX_WORKERS = 8
#: None: :func:`run` chooses its workers by their CPU shares; an int forces that many (tests and
#: benchmarks comparing 1 and 2 workers side by side)
FORCE_WORKERS: int | None = None
#: workers meet after every this many steps, and their CPU shares are checked
SHARE_BLOCK = 64
#: runs shorter than this many steps take the last run's verdict
SHORT_RUN = 2 * SHARE_BLOCK
#: a worker that ran for less than this share of its block's wall time waited for a CPU
SHARE_MIN = 0.85
#: after a block under SHARE_MIN, this many steps run with one worker before more are
#: tried again; the wait grows fourfold (up to BACKOFF_MAX) while they keep waiting
BACKOFF_FIRST = 256
BACKOFF_MAX = 4096
#: the workers the last run settled on (for runs too short to check)
LAST_VERDICT = {"workers": 1}
#: steps run by :func:`run` in this process, and those of them with more than one worker
STEPS = {"all": 0, "parallel": 0}


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # scanning the loaded libraries once, not at every limit


def blas_threads(n: int) -> AbstractContextManager[Any]:
    """Limit BLAS to at most ``n`` threads inside this context manager."""
    return _controller().limit(limits=n, user_api="blas")


def usable_cpus() -> int:
    """Count the CPUs this process may run on (its affinity mask, else os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def recent_workers() -> int:
    """Return :data:`FORCE_WORKERS` if set, else the workers the last run settled on.

    For work too short to check (a rerun's block of steps, the output layer's chunks).
    """
    return max(1, FORCE_WORKERS) if FORCE_WORKERS is not None else LAST_VERDICT["workers"]


def auto_workers(n_streams: int, work: int) -> int:
    """Return the most workers worth probing for ``n_streams`` streams of ``work`` per step.

    One when the process may use one CPU, the streams are too few
    (:data:`WORKER_MIN_STREAMS` each) or a step's product is small
    (:data:`WORKERS_MIN_WORK` multiply-adds); otherwise up to :data:`MAX_WORKERS`.
    """
    if work < WORKERS_MIN_WORK:
        return 1
    return max(1, min(usable_cpus(), MAX_WORKERS, n_streams // WORKER_MIN_STREAMS))


_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """Return the process's worker threads (created on first use, kept for the next runs)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(MAX_WORKERS - 1, thread_name_prefix="rnn-lens-run"))
    return _POOL[0]


def map_in_workers(fn: Callable[[int], None], n_tasks: int, workers: int) -> None:
    """Call ``fn(i)`` for i in 0..n_tasks-1 in up to ``workers`` threads, this one included.

    Worker j takes tasks j, j + workers, ...; exceptions are raised here. Meant for tasks
    that release the GIL (NumPy products and ufuncs, numba ``nogil`` kernels).
    """
    workers = max(1, min(workers, n_tasks, MAX_WORKERS))

    def share(j: int) -> None:
        for i in range(j, n_tasks, workers):
            fn(i)

    others = [_pool().submit(share, j) for j in range(1, workers)]
    try:
        share(0)
    finally:
        for done in others:
            done.result()


def cpu_share(wall: float, cpu: float) -> float:
    """Return the share of the time since ``wall`` this thread ran on a CPU (near 1: alone).

    ``wall`` is a ``time.perf_counter()`` and ``cpu`` a ``time.thread_time()`` taken then.
    """
    elapsed = time.perf_counter() - wall
    return 1.0 if elapsed <= 0 else (time.thread_time() - cpu) / elapsed


def advance_while_cpus_are_free(
    advance: Callable[[int, int, int], float], n_steps: int, most: int
) -> int:
    """Call ``advance(start, stop, n)`` over 0..n_steps with ``most`` workers while they fit.

    Returns the number of steps run with ``most``. They fit while each gets a CPU of its
    own; otherwise one worker runs.

    ``advance`` returns the smallest CPU share of its workers (:func:`cpu_share`). The
    workers run in blocks of :data:`SHARE_BLOCK` steps; two blocks in a row in which one of
    them ran for less than :data:`SHARE_MIN` of the time mean other work took its CPU, and
    then the next :data:`BACKOFF_FIRST` steps run with one. A retry with ``most`` that
    fails at once backs off fourfold longer (up to :data:`BACKOFF_MAX`).

    Measured on the 2-core machine (issue 19; 64 streams of a 1x256 LSTM, 400 steps): idle,
    both workers ran for 0.96-1.00 of the time and finished 1.37x sooner than one; with one
    other busy process, their shares were 0.53-0.71 and they were 1.25-1.5x slower than
    one worker (whose share stayed 0.95-1.00); with two, 0.38-0.51, and slower again. The
    rule before, timing blocks with one and two workers against each other, spent a fifth
    of an idle run's steps on one worker and on a loaded machine mistook scheduling noise
    for speed.
    """
    t, parallel, backoff, healthy, low = 0, 0, BACKOFF_FIRST, True, 0
    while t < n_steps:
        if not healthy:
            stop = min(t + backoff, n_steps)
            advance(t, stop, 1)
            backoff = min(backoff * 4, BACKOFF_MAX)
            t = stop
            if t >= n_steps:
                break
        stop = min(t + SHARE_BLOCK, n_steps)
        low = low + 1 if advance(t, stop, most) < SHARE_MIN else 0
        parallel += stop - t
        t = stop
        # one short block is scheduling noise (seen idle: one block in ~15 at 0.16-0.86,
        # the others at 0.98-1.00); a retry after backing off needs one block to fail
        healthy = low < (1 if backoff > BACKOFF_FIRST else 2)
        if not low:
            backoff = BACKOFF_FIRST
    LAST_VERDICT["workers"] = most if healthy else 1
    return parallel


def state_of(h: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """Return the recurrent state: h, or (h, c) side by side for LSTM; shape (..., width)."""
    return h.copy() if c is None else np.concatenate([h, c], axis=-1)


def signal_views(cell: Cell, H: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Name the signals of :func:`run`'s outputs, ``S`` signal-major: {"h": H, "c": S[4], ...}."""
    return {"h": H, **{name: S[k] for name, k in LAYOUT[cell].items()}}


def split_signals(cell: Cell, units: int, H: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Name the column blocks of :func:`step`'s (B, WIDTH*units) signals: {"h": H, "c": ...}."""
    out = {"h": H}
    for name, k in LAYOUT[cell].items():
        out[name] = S[..., k * units : (k + 1) * units]
    return out
