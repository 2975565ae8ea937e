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
(B, units) x (units, gates*units) matmul per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np
from threadpoolctl import ThreadpoolController

from lib.model.spec import Cell


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
        BLAS threads for the recurrent product; by default one, or more where a large
        product is measured to run clearly faster with them (:func:`advance_with_faster_threads`).

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
    """
    T, B, _ = xp.shape
    u = w.units
    n_sig = WIDTH[w.cell]
    H = np.empty((B, T - keep_from, u), dtype=np.float32)
    S = np.empty((n_sig, B, T - keep_from, u), dtype=np.float32)
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
    warm = None

    def where(t: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the arrays and row holding step t's outputs (t = -1: the initial state)."""
        if t >= keep_from:
            return H, S, t - keep_from
        return hs[t % 2], ss[t % 2], 0

    def advance(start: int, stop: int) -> None:
        nonlocal warm
        hp, sp, tp = where(start - 1)
        for t in range(start, stop):
            np.matmul(hp[:, tp], w.recurrent, out=z)
            table, rows = inputs(t)
            held = not_held if reset is None else (reset > t).view(np.uint8)
            ho, so, to = where(t)
            kernel(z, table, rows, rb, hp, tp, sp, c_at, held, ho, so, to)
            hp, sp, tp = ho, so, to
            if t == keep_from - 1:
                c = sp[c_at, :, tp] if w.cell == "lstm" else None
                warm = state_of(hp[:, tp], c)

    if threads is None and B * w.recurrent.size >= PARALLEL_MIN_WORK:
        STEPS["parallel"] += advance_with_faster_threads(advance, T)
    else:
        with blas_threads(threads or 1):
            advance(0, T)
    STEPS["all"] += T
    return H, S, warm


#: a step's recurrent product of at least this many multiply-adds (streams x units x
#: gates*units) may be split across BLAS threads; smaller ones always get one thread
PARALLEL_MIN_WORK = 16_000_000
#: steps timed in each probe of a thread setting, and the first interval between probes
PROBE_STEPS = 4
PROBE_EVERY = 256
#: steps run by :func:`run` in this process, and those of them with more than one BLAS thread
STEPS = {"all": 0, "parallel": 0}
#: more BLAS threads are used only when they were this much faster in two probes in a row
PROBE_MARGIN = 1.3


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # scanning the loaded libraries once, not at every limit


def max_blas_threads() -> int:
    """Count the BLAS threads available when not limited (1 when no BLAS is found)."""
    pools = _controller().select(user_api="blas").lib_controllers
    return max((pool.num_threads for pool in pools), default=1)


def blas_threads(n: int) -> AbstractContextManager[Any]:
    """Limit BLAS to at most ``n`` threads inside this context manager."""
    return _controller().limit(limits=n, user_api="blas")


def advance_with_faster_threads(advance: Callable[[int, int], None], n_steps: int) -> int:
    """Call ``advance(start, stop)`` over 0..n_steps, with more BLAS threads only if faster.

    Returns the number of steps run with more than one thread.

    Threads that wait for each other at every step cost several times the work when other
    processes keep the cores busy (a shared 2-core server: a 2-thread product 8-23x slower
    than a 1-thread one, and a probe that picked 2 threads for 284 of 3,254 steps made a
    recording 1.9x slower, issue 19), and save time on an idle machine when the product
    is large. So a probe times ``PROBE_STEPS`` steps with one thread, with all, and both
    again (interleaved, so a burst of load hits both); all threads win a probe only if
    their slower time beats one thread's faster time by :data:`PROBE_MARGIN`, and they
    are used only after winning two probes in a row. The probe repeats after an interval
    that grows fourfold while its verdict stays the same.
    """
    n_all = max_blas_threads()
    if n_all <= 1:
        with blas_threads(1):
            advance(0, n_steps)
        return 0
    t, interval, wins, verdict, parallel_steps = 0, PROBE_EVERY, 0, 1, 0
    while t < n_steps:
        times: dict[int, list[float]] = {1: [], n_all: []}
        for n in (1, n_all, 1, n_all):
            stop = min(t + PROBE_STEPS, n_steps)
            with blas_threads(n):
                start = time.perf_counter()
                advance(t, stop)
            if stop > t:
                times[n].append((time.perf_counter() - start) / (stop - t))
                parallel_steps += (stop - t) * (n > 1)
            t = stop
        won = len(times[n_all]) == 2 and max(times[n_all]) * PROBE_MARGIN < min(times[1])
        wins = wins + 1 if won else 0
        best = n_all if wins >= 2 else 1
        interval = interval * 4 if best == verdict else PROBE_EVERY
        verdict = best
        # a first win is confirmed by the next probe at once
        stop = t if wins == 1 else min(t + interval, n_steps)
        with blas_threads(best):
            advance(t, stop)
        parallel_steps += (stop - t) * (best > 1)
        t = stop
    return parallel_steps


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
