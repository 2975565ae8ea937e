"""Gate saturation: how often each gate unit sits near 0 or near 1.

Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks"
(fig. 4), call a gate *left-saturated* at a step when its activation is below 0.1 and
*right-saturated* when it is above 0.9, and plot every unit as one dot: x = the share of
steps it is left-saturated, y = the share it is right-saturated. A unit high on the forget
gate f is nearly always open: its cell keeps what it holds, step after step (an
integrator). A unit near the origin works in the gate's soft middle range.

- :func:`gate_saturation`: left and right shares of every unit of one gate signal.
- :func:`layer_saturation`: the same for every gate of one recorded layer (LSTM i, f, o;
  GRU z, r), in long form.

Keras' GRU (lib.run.cells) updates ``h_t = z h_{t-1} + (1 - z) n``, so a unit
right-saturated on z keeps its state. Papers that write the GRU the other way round,
``h_t = (1 - z) h_{t-1} + z n``, swap left and right for z.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.run.trace import ConcatRows, Trace

#: below this a gate is left-saturated (nearly closed), Karpathy et al. (2015)
SATURATION_LOW = 0.1
#: above this a gate is right-saturated (nearly open), Karpathy et al. (2015)
SATURATION_HIGH = 0.9
#: the gates of each cell, in the order they are reported (candidates are not gates)
GATES = {"lstm": ("i", "f", "o"), "gru": ("z", "r"), "rnn": ()}
#: rows per block, so a long (memory-mapped) gate is never compared whole: (65,536, 512)
#: booleans are 32 MB
_ROW_BLOCK = 65_536
#: a gate value may stray this far outside [0, 1] (float16 storage rounds)
_SLACK = 1e-3
COLUMNS = ["unit", "left", "right"]
LONG_COLUMNS = ["gate", "unit", "left", "right"]


def _check_bounds(low: float, high: float) -> tuple[float, float]:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(
            f"`low` and `high` must be numbers with 0 <= low < high <= 1, got {low!r}, {high!r}."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo < hi <= 1.0):
        raise ValueError(
            f"`low` and `high` must satisfy 0 <= low < high <= 1, got low={low!r}, high={high!r}."
        )
    return lo, hi


def _check_gate(gate: npt.ArrayLike | ConcatRows) -> np.ndarray | ConcatRows:
    """`gate` as a 2-D array of numbers, memory-mapped and shard arrays left unread."""
    g = gate if isinstance(gate, np.ndarray | ConcatRows) else np.asarray(gate)
    if g.ndim != 2:
        raise ValueError(f"`gate` must be 2-D (n_steps, n_units), got shape {g.shape}.")
    if np.dtype(g.dtype).kind not in "fiub":
        raise ValueError(f"`gate` must hold numbers, got dtype {g.dtype}.")
    if g.shape[0] == 0 or g.shape[1] == 0:
        raise ValueError(f"`gate` needs at least one step and one unit, got shape {g.shape}.")
    return g


def gate_saturation(
    gate: npt.ArrayLike | ConcatRows, *, low: float = SATURATION_LOW, high: float = SATURATION_HIGH
) -> pd.DataFrame:
    """Share of steps each unit's gate is left-saturated (< low) and right-saturated (> high).

    Parameters
    ----------
    gate : array-like of shape (n_steps, n_units)
        Gate activations in [0, 1], e.g. ``trace.signals[(0, "f")]``; memory-mapped and
        shard arrays (lib.run.trace) are read a block of rows at a time.
    low, high : float, default 0.1 and 0.9
        The saturation thresholds of Karpathy, Johnson & Fei-Fei (2015), with
        ``0 <= low < high <= 1``.

    Returns
    -------
    DataFrame
        One row per unit (n_units rows): ``unit`` (int), ``left`` = (1/T) sum_t
        [g_t < low] and ``right`` = (1/T) sum_t [g_t > high] (floats in [0, 1],
        ``left + right <= 1``).

    Raises
    ------
    ValueError
        If `gate` is not 2-D numbers with at least one step and one unit, holds NaN or
        values outside [0, 1] (more than float16 round-off), or the thresholds are not
        ``0 <= low < high <= 1``.

    Examples
    --------
    >>> g = np.array([[0.05, 0.95], [0.5, 0.99], [0.02, 0.2], [0.5, 0.95]])
    >>> gate_saturation(g)
       unit  left  right
    0     0   0.5   0.00
    1     1   0.0   0.75
    """
    lo, hi = _check_bounds(low, high)
    g = _check_gate(gate)
    n_steps, n_units = g.shape
    left = np.zeros(n_units, dtype=np.int64)
    right = np.zeros(n_units, dtype=np.int64)
    for start in range(0, n_steps, _ROW_BLOCK):
        block = np.asarray(g[start : start + _ROW_BLOCK])
        if np.isnan(block).any():
            raise ValueError("`gate` holds NaN; a gate's values must be numbers in [0, 1].")
        smallest, largest = float(block.min()), float(block.max())
        if smallest < -_SLACK or largest > 1 + _SLACK:
            raise ValueError(
                "`gate` must hold gate activations in [0, 1] (a sigmoid), got values from "
                f"{smallest:.4g} to {largest:.4g}: pass a gate signal (i, f, o, z or r), not "
                "h, c or a candidate."
            )
        # float64 thresholds: a float16 gate is compared with 0.1 itself, not its float16
        left += np.count_nonzero(block < np.float64(lo), axis=0)
        right += np.count_nonzero(block > np.float64(hi), axis=0)
    return pd.DataFrame(
        {"unit": np.arange(n_units), "left": left / n_steps, "right": right / n_steps}
    )


def layer_saturation(
    trace: Trace, layer: int, *, low: float = SATURATION_LOW, high: float = SATURATION_HIGH
) -> pd.DataFrame:
    """:func:`gate_saturation` of every gate of one layer of `trace`, in long form.

    Parameters
    ----------
    trace : Trace
        A recording (lib.run.trace); the cell is told by its signals: an LSTM layer has
        i, f, o (reported in that order), a GRU layer z, r; a vanilla RNN has no gate.
    layer : int
        The recurrent layer, 0 = the first.
    low, high : float, default 0.1 and 0.9
        As in :func:`gate_saturation` (Karpathy, Johnson & Fei-Fei 2015).

    Returns
    -------
    DataFrame
        Columns ``gate`` (str), ``unit``, ``left``, ``right``: n_gates x units rows, gate
        by gate; empty (same columns) for a vanilla RNN layer. The candidates (LSTM g, GRU
        n) are tanh outputs, not gates, and are left out.

    Raises
    ------
    ValueError
        If `trace` has no layer `layer`, or a gate holds values outside [0, 1].

    Examples
    --------
    >>> f = np.array([[0.95, 0.5], [0.97, 0.05]], dtype=np.float32)
    >>> signals = {(0, "h"): f - 0.5, (0, "z"): f, (0, "r"): 1 - f, (0, "n"): f - 0.5}
    >>> none = np.zeros((2, 1))
    >>> tr = Trace(["a", "b"], np.array([0, 1]), signals, none, none, np.zeros(2))
    >>> layer_saturation(tr, 0)
      gate  unit  left  right
    0    z     0   0.0    1.0
    1    z     1   0.5    0.0
    2    r     0   1.0    0.0
    3    r     1   0.0    0.5
    """
    names = {name for (k, name) in trace.signals if k == layer}
    if not names:
        layers = sorted({k for (k, _) in trace.signals})
        raise ValueError(f"The trace has no layer {layer!r}; its layers are {layers}.")
    gates = next((g for g in GATES.values() if g and set(g) <= names), ())
    parts = [
        gate_saturation(trace.signals[(layer, gate)], low=low, high=high).assign(gate=gate)
        for gate in gates
    ]
    if not parts:
        return pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in zip(LONG_COLUMNS, "Oiff", strict=True)}
        )
    return pd.concat(parts, ignore_index=True)[LONG_COLUMNS]
