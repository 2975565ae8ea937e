"""Interventions: zero, clamp or scale chosen neurons of a layer inside the recurrence.

An :class:`Intervention` edits one signal of one layer after every step, so the edit
reaches everything downstream of that step: the layer's own next step, the layers above
and the output layer. ``lib.run.record.record`` and ``lib.run.generate.generate`` take a sequence of
them (``interventions=``); :func:`loss_change` and :func:`ablation_sweep` measure what they
cost in next-token loss.

What is edited, at every step t (``x[n]`` is unit n of the signal)::

    zero:   x[n] <- 0
    clamp:  x[n] <- value
    scale:  x[n] <- value * x[n]

- ``signal="h"`` (any cell): the cell computes h_t from h_{t-1} (and c_{t-1}) as usual, then
  h_t[n] is edited. The edited h_t is the layer's output: the input of the next layer (or
  of the output layer), and h_{t-1} of the layer's own next step. An LSTM's cell state c_t
  is left as computed (it changes at later steps only through the edited h).
- ``signal="c"`` (LSTM only): after c_t = f_t c_{t-1} + i_t g_t, c_t[n] is edited and the
  unit's output is recomputed from it, h_t[n] = o_t[n] tanh(c_t[n]). The edited c_t is
  carried to step t + 1 and the recomputed h_t goes everywhere h goes. Zeroing c therefore
  also zeroes h (tanh 0 = 0); the gates of step t are those computed from the unedited past.

Several interventions are applied in the order given; on one layer the "c" ones come
first (with the recomputation of h), then the "h" ones. The recorded signals are the
edited values, and the gates are those the cell computed from the edited past.

Recording with interventions always runs the exact path (one stream, ``streams=1``): the
fast path's segments start from a warmed-up zero state and are repaired by comparing
them with the unedited recurrence, which no longer holds once the state is edited.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
from threadpoolctl import threadpool_limits

from lib.run.cells import WIDTH, CellWeights, step
from lib.run.weights import StackWeights

MODES = ("zero", "clamp", "scale")
SIGNALS = ("h", "c")


@dataclass(frozen=True)
class Intervention:
    """Edit ``neurons`` of one layer's ``signal`` after every step (module docstring).

    Parameters
    ----------
    layer : int
        Recurrent layer, 0 = the first.
    neurons : tuple of int
        Units to edit; stored sorted and without duplicates. Empty edits nothing.
    mode : {"zero", "clamp", "scale"}
        Set to 0, set to ``value``, or multiply by ``value``.
    value : float, default 0.0
        The clamp value or scale factor; ignored by "zero".
    signal : {"h", "c"}, default "h"
        The hidden state (any cell) or the LSTM cell state.
    """

    layer: int
    neurons: tuple[int, ...]
    mode: str
    value: float = 0.0
    signal: str = "h"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}, got {self.mode!r}.")
        if self.signal not in SIGNALS:
            raise ValueError(f"`signal` must be one of {SIGNALS}, got {self.signal!r}.")
        try:
            layer = operator.index(self.layer)
            neurons = tuple(sorted({operator.index(n) for n in self.neurons}))
        except TypeError:
            raise ValueError(
                "`layer` must be an integer and `neurons` a sequence of integers, got "
                f"layer={self.layer!r}, neurons={self.neurons!r}."
            ) from None
        if layer < 0 or (neurons and neurons[0] < 0):
            raise ValueError(
                f"`layer` and `neurons` must be >= 0, got layer={layer}, neurons={neurons}."
            )
        value = float(self.value)
        if not math.isfinite(value):
            raise ValueError(f"`value` must be finite, got {self.value!r}.")
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "neurons", neurons)
        object.__setattr__(self, "value", value)

    @property
    def affine(self) -> tuple[float, float]:
        """The edit as x <- a x + b: (a, b)."""
        return {"zero": (0.0, 0.0), "clamp": (0.0, self.value), "scale": (self.value, 0.0)}[
            self.mode
        ]


def check_interventions(interventions: Sequence[Intervention], weights: StackWeights) -> None:
    """ValueError unless every intervention fits the model (layer, neurons, signal)."""
    n_layers = len(weights.layers)
    for iv in interventions:
        if not isinstance(iv, Intervention):
            raise ValueError(f"expected Intervention objects, got {type(iv).__name__}: {iv!r}")
        if iv.layer >= n_layers:
            raise ValueError(
                f"Intervention on layer {iv.layer}, but the model has {n_layers} layer(s) "
                f"(0 to {n_layers - 1})."
            )
        w = weights.layers[iv.layer]
        if iv.neurons and iv.neurons[-1] >= w.units:
            raise ValueError(
                f"Intervention on neuron {iv.neurons[-1]} of layer {iv.layer}, which has "
                f"{w.units} units (0 to {w.units - 1})."
            )
        if iv.signal == "c" and w.cell != "lstm":
            raise ValueError(
                f"signal 'c' (cell state) exists only in LSTM layers; layer {iv.layer} is "
                f"{w.cell!r}: edit 'h' instead."
            )


@dataclass
class Affine:
    """x[:, cols] <- scale * x[:, cols] + shift, one row of ``scale``/``shift`` per stream."""

    cols: np.ndarray  # (n_cols,) int
    scale: np.ndarray  # (B, n_cols) float32
    shift: np.ndarray  # (B, n_cols) float32

    def apply(self, x: np.ndarray) -> None:
        sub = x[:, self.cols]
        sub *= self.scale
        sub += self.shift
        x[:, self.cols] = sub


@dataclass
class LayerEdits:
    """The edits of one layer for B streams; None where a signal is not edited."""

    h: Affine | None = None
    c: Affine | None = None

    @property
    def empty(self) -> bool:
        return self.h is None and self.c is None


def layer_edits(weights: StackWeights, runs: Sequence[Sequence[Intervention]]) -> list[LayerEdits]:
    """Compile the interventions of B streams into one :class:`LayerEdits` per layer.

    ``runs[b]`` are the interventions of stream b.

    Each stream's interventions on a (layer, signal) compose into one affine edit per unit
    (x <- a x + b, in order); units a stream does not touch get a = 1, b = 0, which leaves
    them bit for bit as they are.
    """
    for ivs in runs:
        check_interventions(ivs, weights)
    out = []
    for k, w in enumerate(weights.layers):
        edits = LayerEdits()
        for signal in SIGNALS:
            touched = [
                [iv for iv in ivs if iv.layer == k and iv.signal == signal and iv.neurons]
                for ivs in runs
            ]
            cols = sorted({n for ivs in touched for iv in ivs for n in iv.neurons})
            if not cols:
                continue
            where = np.full(w.units, -1)
            where[cols] = np.arange(len(cols))
            scale = np.ones((len(runs), len(cols)), np.float64)
            shift = np.zeros((len(runs), len(cols)), np.float64)
            for b, ivs in enumerate(touched):
                for iv in ivs:
                    a, c = iv.affine
                    j = where[list(iv.neurons)]
                    scale[b, j] *= a
                    shift[b, j] = shift[b, j] * a + c
            setattr(
                edits,
                signal,
                Affine(np.asarray(cols), scale.astype(np.float32), shift.astype(np.float32)),
            )
        out.append(edits)
    return out


def edit_step(w: CellWeights, edits: LayerEdits, h: np.ndarray, sig: np.ndarray) -> None:
    """Apply one layer's edits in place to the output of :func:`lib.run.cells.step`.

    ``h`` (B, units) is h_t and ``sig`` (B, WIDTH*units) the other signals; for "c" edits
    the LSTM cell state block of ``sig`` is edited and h_t recomputed on those units.
    """
    u = w.units
    if edits.c is not None:
        c = sig[:, 4 * u :]
        edits.c.apply(c)
        cols = edits.c.cols
        h[:, cols] = sig[:, 2 * u : 3 * u][:, cols] * np.tanh(c[:, cols])
    if edits.h is not None:
        edits.h.apply(h)


@overload
def run_edited(
    w: CellWeights, xp: np.ndarray, edits: LayerEdits, *, keep_signals: Literal[True] = ...
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def run_edited(
    w: CellWeights, xp: np.ndarray, edits: LayerEdits, *, keep_signals: bool
) -> tuple[np.ndarray, np.ndarray | None]: ...


def run_edited(
    w: CellWeights, xp: np.ndarray, edits: LayerEdits, *, keep_signals: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run :func:`lib.run.cells.run` from the zero state, ``edits`` applied after every step.

    Parameters
    ----------
    w : CellWeights
    xp : ndarray of shape (T, B, G*units)
        Input projections, time-major (a broadcast view is fine).
    edits : LayerEdits
        For B streams.
    keep_signals : bool, default True
        Keep the signals other than h (False saves memory in the sweep).

    Returns
    -------
    H : ndarray of shape (B, T, units)
    S : ndarray of shape (B, T, WIDTH[cell]*units), or None without ``keep_signals``

    Notes
    -----
    With empty ``edits`` this performs exactly the operations of ``lib.run.cells.run`` and so
    gives bit-identical results.
    """
    T, B, _ = xp.shape
    u = w.units
    H = np.empty((B, T, u), dtype=np.float32)
    S = np.empty((B, T, WIDTH[w.cell] * u), dtype=np.float32) if keep_signals else None
    h = np.zeros((B, u), np.float32)
    c = np.zeros((B, u), np.float32) if w.cell == "lstm" else None
    h_next = np.empty_like(h)
    sig = np.empty((B, WIDTH[w.cell] * u), np.float32)
    with threadpool_limits(1, user_api="blas"):  # see lib.run.cells.run
        for t in range(T):
            step(w, xp[t], h, c, h_next, sig)
            h, h_next = h_next, h
            if not edits.empty:
                edit_step(w, edits, h, sig)
            if c is not None:
                c = sig[:, 4 * u :].copy()
            H[:, t] = h
            if S is not None:
                S[:, t] = sig
    return H, S


__all__ = [
    "Intervention",
    "MODES",
    "SIGNALS",
    "check_interventions",
    "edit_step",
    "layer_edits",
    "run_edited",
]
