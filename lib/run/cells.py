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
        c_{t-1} for LSTM, else ignored.
    h_out : ndarray of shape (B, units)
        Receives h_t.
    sig_out : ndarray of shape (B, WIDTH[cell]*units)
        Receives the other signals in the column blocks of ``LAYOUT[cell]``.

    Notes
    -----
    The nonlinearities run on contiguous scratch arrays (one matmul per block of gates)
    and are copied into ``sig_out`` afterwards: on column slices of a wider array NumPy's
    float32 tanh is several times slower.
    """
    u = w.units
    if w.cell == "lstm":
        sig = h @ w.recurrent[:, : 3 * u]
        sig += xp[:, : 3 * u]
        sigmoid(sig, out=sig)
        g = h @ w.recurrent[:, 3 * u :]
        g += xp[:, 3 * u :]
        np.tanh(g, out=g)
        c = sig[:, u : 2 * u] * state if state is not None else np.zeros_like(g)
        c += sig[:, :u] * g
        np.tanh(c, out=h_out)
        h_out *= sig[:, 2 * u :]
        sig_out[:, : 3 * u] = sig
        sig_out[:, 3 * u : 4 * u] = g
        sig_out[:, 4 * u :] = c
    elif w.cell == "gru":
        zh = h @ w.recurrent
        zh += w.recurrent_bias
        zr = xp[:, : 2 * u] + zh[:, : 2 * u]
        sigmoid(zr, out=zr)
        z, r = zr[:, :u], zr[:, u:]
        n = r * zh[:, 2 * u :]
        n += xp[:, 2 * u :]
        np.tanh(n, out=n)
        # h_t = z h_{t-1} + (1 - z) n = n + z (h_{t-1} - n)
        np.subtract(h, n, out=h_out)
        h_out *= z
        h_out += n
        sig_out[:, : 2 * u] = zr
        sig_out[:, 2 * u :] = n
    else:
        a = h @ w.recurrent
        a += xp
        np.tanh(a, out=h_out)
        sig_out[:] = a


def run(
    w: CellWeights,
    xp: StepInputs,
    *,
    reset_until: np.ndarray | None = None,
    keep_from: int = 0,
    init: np.ndarray | None = None,
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

    Returns
    -------
    H : ndarray of shape (B, T - keep_from, units)
        Stream-major, so ``H.reshape(-1, units)`` puts consecutive segments in order.
    S : ndarray of shape (B, T - keep_from, WIDTH[cell]*units)
        The other signals, column blocks as in ``LAYOUT[cell]``.
    warm : ndarray of shape (B, state width) or None
        The recurrent state after step ``keep_from - 1`` (None when keep_from is 0).
    """
    T, B, _ = xp.shape
    u = w.units
    H = np.empty((B, T - keep_from, u), dtype=np.float32)
    S = np.empty((B, T - keep_from, WIDTH[w.cell] * u), dtype=np.float32)
    h = np.zeros((B, u), np.float32) if init is None else init[:, :u].copy()
    c = None
    if w.cell == "lstm":
        c = np.zeros((B, u), np.float32) if init is None else init[:, u:].copy()
    h_next = np.empty_like(h)
    sig = np.empty((B, WIDTH[w.cell] * u), np.float32)
    warm = None

    def advance(start: int, stop: int) -> None:
        nonlocal h, h_next, c, warm
        for t in range(start, stop):
            step(w, xp[t], h, c, h_next, sig)
            h, h_next = h_next, h
            if c is not None:
                c = sig[:, 4 * u :].copy()
            if reset_until is not None:
                held = reset_until > t
                if held.any():
                    h[held] = 0.0
                    if c is not None:
                        c[held] = 0.0
            if t >= keep_from:
                H[:, t - keep_from] = h
                S[:, t - keep_from] = sig
            elif t == keep_from - 1:
                warm = state_of(h, c)

    if B * w.recurrent.size >= PARALLEL_MIN_WORK:
        advance_with_faster_threads(advance, T)
    else:
        with blas_threads(1):
            advance(0, T)
    return H, S, warm


#: a step's recurrent product of at least this many multiply-adds (streams x units x
#: gates*units) may be split across BLAS threads; smaller ones always get one thread
PARALLEL_MIN_WORK = 16_000_000
#: steps timed with each thread setting, and the first interval before timing again
PROBE_STEPS = 4
PROBE_EVERY = 256


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


def advance_with_faster_threads(advance: Callable[[int, int], None], n_steps: int) -> None:
    """Call ``advance(start, stop)`` over steps 0..n_steps with the faster BLAS setting.

    Threads that wait for each other at every step cost several times the work when other
    processes keep the cores busy (a shared server: 20x slower measured here), and save
    time on an idle machine when the product is large. So a few steps run with one thread
    and a few with all, the faster setting runs on, and the choice is timed again after an
    interval that doubles while the same setting keeps winning.
    """
    n_all = max_blas_threads()
    if n_all <= 1:
        with blas_threads(1):
            advance(0, n_steps)
        return
    t, interval, last = 0, PROBE_EVERY, None
    while t < n_steps:
        per_step: dict[int, float] = {}
        for n in (1, n_all):
            stop = min(t + PROBE_STEPS, n_steps)
            with blas_threads(n):
                start = time.perf_counter()
                advance(t, stop)
            if stop > t:
                per_step[n] = (time.perf_counter() - start) / (stop - t)
            t = stop
        best = min(per_step, key=per_step.__getitem__) if per_step else 1
        interval = interval * 2 if best == last else PROBE_EVERY
        last = best
        stop = min(t + interval, n_steps)
        with blas_threads(best):
            advance(t, stop)
        t = stop


def state_of(h: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """Return the recurrent state: h, or (h, c) side by side for LSTM; shape (..., width)."""
    return h.copy() if c is None else np.concatenate([h, c], axis=-1)


def split_signals(cell: Cell, units: int, H: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Name the blocks of ``run``'s outputs: {"h": H, "c": ..., ...} as views."""
    out = {"h": H}
    for name, k in LAYOUT[cell].items():
        out[name] = S[..., k * units : (k + 1) * units]
    return out
