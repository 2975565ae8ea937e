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

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass
class CellWeights:
    """One recurrent layer's weights, as float32 arrays with gates along the last axis.

    ``kernel`` has shape (n_in, G*units), ``recurrent`` (units, G*units), ``bias``
    (G*units,) and, for GRU only, ``recurrent_bias`` (G*units,). For LSTM the gate
    columns are reordered from Keras' (i, f, g, o) to (i, f, o, g) so the three sigmoid
    gates are one contiguous block.
    """

    cell: str
    units: int
    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray
    recurrent_bias: np.ndarray | None = None


def _lstm_order(w: np.ndarray, units: int) -> np.ndarray:
    i, f, g, o = (w[..., k * units : (k + 1) * units] for k in range(4))
    return np.concatenate([i, f, o, g], axis=-1)


def cell_weights(layer) -> CellWeights:
    """Extract the weights of a Keras ``SimpleRNN``, ``LSTM`` or ``GRU`` layer."""
    kind = type(layer).__name__
    cell = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}.get(kind)
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


#: combined per-step buffer layout: name -> column block, in units
LAYOUT = {
    "rnn": {"a": 0},
    "lstm": {"i": 0, "f": 1, "o": 2, "g": 3, "c": 4},
    "gru": {"z": 0, "r": 1, "n": 2},
}
WIDTH = {"rnn": 1, "lstm": 5, "gru": 3}


def input_projection(x: np.ndarray, w: CellWeights) -> np.ndarray:
    """x W + b for every step at once; x of shape (..., n_in) -> (..., G*units)."""
    return np.asarray(x, dtype=np.float32) @ w.kernel + w.bias


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
        c_{t-1} for LSTM (a view into the previous step's ``sig_out``), else ignored.
    h_out : ndarray of shape (B, units)
        Receives h_t.
    sig_out : ndarray of shape (B, WIDTH[cell]*units)
        Receives the other signals in the column blocks of ``LAYOUT[cell]``.
    """
    u = w.units
    if w.cell == "lstm":
        z = h @ w.recurrent
        z += xp
        expit(z[:, : 3 * u], out=sig_out[:, : 3 * u])
        np.tanh(z[:, 3 * u :], out=sig_out[:, 3 * u : 4 * u])
        i, f, o, g = (sig_out[:, k * u : (k + 1) * u] for k in range(4))
        c = sig_out[:, 4 * u :]
        if state is None:
            np.multiply(i, g, out=c)
        else:
            np.multiply(f, state, out=c)
            c += i * g
        np.tanh(c, out=h_out)
        h_out *= o
    elif w.cell == "gru":
        zh = h @ w.recurrent
        zh += w.recurrent_bias
        zr = xp[:, : 2 * u] + zh[:, : 2 * u]
        expit(zr, out=sig_out[:, : 2 * u])
        z, r = sig_out[:, :u], sig_out[:, u : 2 * u]
        n = sig_out[:, 2 * u :]
        np.multiply(r, zh[:, 2 * u :], out=n)
        n += xp[:, 2 * u :]
        np.tanh(n, out=n)
        # h_t = z h_{t-1} + (1 - z) n = n + z (h_{t-1} - n)
        np.subtract(h, n, out=h_out)
        h_out *= z
        h_out += n
    else:
        a = sig_out
        np.matmul(h, w.recurrent, out=a)
        a += xp
        np.tanh(a, out=h_out)


def run(
    w: CellWeights,
    xp: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    reset_until: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run B streams through T steps.

    Parameters
    ----------
    w : CellWeights
    xp : ndarray of shape (T, B, G*units)
        Input projections, time-major.
    h0, c0 : ndarray of shape (B, units), optional
        Initial states (zeros by default; ``c0`` for LSTM only).
    reset_until : ndarray of shape (B,) of int, optional
        Stream b is held at the zero state for its first ``reset_until[b]`` steps
        (used to give a stream fewer real steps than the others).

    Returns
    -------
    H : ndarray of shape (T, B, units)
    S : ndarray of shape (T, B, WIDTH[cell]*units)
        The other signals, column blocks as in ``LAYOUT[cell]``.
    """
    T, B, _ = xp.shape
    u = w.units
    H = np.empty((T, B, u), dtype=np.float32)
    S = np.empty((T, B, WIDTH[w.cell] * u), dtype=np.float32)
    h = np.zeros((B, u), np.float32) if h0 is None else np.asarray(h0, np.float32)
    c = None
    if w.cell == "lstm":
        c = np.zeros((B, u), np.float32) if c0 is None else np.asarray(c0, np.float32)
    for t in range(T):
        step(w, xp[t], h, c, H[t], S[t])
        if reset_until is not None:
            held = reset_until > t
            if held.any():
                H[t][held] = 0.0
                if w.cell == "lstm":
                    S[t][held, 4 * u :] = 0.0
        h = H[t]
        if c is not None:
            c = S[t][:, 4 * u :]
    return H, S


def split_signals(cell: str, units: int, H: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Name the blocks of ``run``'s outputs: {"h": H, "c": ..., ...} as views."""
    out = {"h": H}
    for name, k in LAYOUT[cell].items():
        out[name] = S[..., k * units : (k + 1) * units]
    return out


def final_state(cell: str, units: int, H: np.ndarray, S: np.ndarray) -> np.ndarray:
    """The recurrent state after the last step, shape (B, units) or (B, 2*units) for LSTM."""
    if cell == "lstm":
        return np.concatenate([H[-1], S[-1][:, 4 * units :]], axis=-1)
    return H[-1]
