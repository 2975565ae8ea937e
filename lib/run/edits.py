"""Interventions: zero, clamp, scale, mean- or resample-ablate chosen neurons inside the recurrence.

An :class:`Intervention` edits one signal of one layer after every step, so the edit
reaches everything downstream of that step: the layer's own next step, the layers above
and the output layer. ``lib.run.record.record`` and ``lib.run.generate.generate`` take a
sequence of them (``interventions=``); ``lib.analysis.ablation`` measures what they cost
in next-token loss.

What is edited, at every step t (``x[n]`` is unit n of the signal, ``n`` the i-th of the
intervention's sorted neurons)::

    zero:      x[n] <- 0
    clamp:     x[n] <- value
    scale:     x[n] <- value * x[n]
    mean:      x[n] <- values[i]           (the unit's mean over a reference recording)
    resample:  x[n] <- pool[s_t, i]        (its value at a random reference step s_t)

"mean" and "resample" keep the unit on its own distribution instead of at 0, a value it
may never take (mean ablation: Wang et al. 2023, "Interpretability in the wild";
resampling ablation: Chan et al. 2022, "Causal scrubbing"). :meth:`Intervention.from_reference`
builds them from a recording. For "resample" one reference step s_t is drawn per step and
shared by the intervention's neurons, so they keep their joint distribution; the steps
come from :func:`resample_steps` (``seed``, the pool's length P): s_t depends only on the
seed, P and t, so a run is reproducible and every edited value is one of the pool's.

- ``signal="h"`` (any cell): the cell computes h_t from h_{t-1} (and c_{t-1}) as usual, then
  h_t[n] is edited. The edited h_t is the layer's output: the input of the next layer (or
  of the output layer), and h_{t-1} of the layer's own next step. An LSTM's cell state c_t
  is left as computed (it changes at later steps only through the edited h).
- ``signal="c"`` (LSTM only): after c_t = f_t c_{t-1} + i_t g_t, c_t[n] is edited and the
  unit's output is recomputed from it, h_t[n] = o_t[n] tanh(c_t[n]). The edited c_t is
  carried to step t + 1 and the recomputed h_t goes everywhere h goes. Zeroing c therefore
  also zeroes h (tanh 0 = 0); the gates of step t are those computed from the unedited past.

Zeroing c[n] and zeroing h[n] give the same model: both put h_t[n] = 0 at every step, and
the rest of the network (the gates of every unit, the layers above, the output) reads
unit n only through h[n] (a Keras LSTM has no peepholes). They differ only in the
carried c[n] (0 under "c", as computed under "h"), which feeds nothing but h[n]
(tests/test_ablation_modes.py checks that the losses and every h are bit-identical).
Mean and resample of c do differ from those of h: h_t[n] = o_t[n] tanh(value) still
follows the output gate.

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from lib.run.cells import WIDTH, CellWeights, step
from lib.run.weights import StackWeights

if TYPE_CHECKING:
    from lib.run.trace import Trace

MODES = ("zero", "clamp", "scale", "mean", "resample")
#: the modes that switch a unit off (no ``value``): what an ablation uses
ABLATION_MODES = ("zero", "mean", "resample")
SIGNALS = ("h", "c")
#: steps per block of :func:`resample_steps` (each block has its own generator)
RESAMPLE_BLOCK = 1024


def resample_steps(seed: int, size: int, start: int, stop: int) -> np.ndarray:
    """Return the reference steps a "resample" intervention reads at steps start..stop-1.

    Step t reads reference step ``s_t``: steps are cut into blocks of
    :data:`RESAMPLE_BLOCK`, and block j holds
    ``numpy.random.default_rng([seed, j]).integers(0, size, RESAMPLE_BLOCK)``. So s_t
    depends only on (seed, size, t), not on where a run starts or how long it is.

    Parameters
    ----------
    seed : int
        >= 0.
    size : int
        The pool's length P (>= 1); every s_t is in 0..P-1.
    start, stop : int
        0 <= start <= stop.

    Returns
    -------
    steps : ndarray of int64, shape (stop - start,)

    Examples
    --------
    >>> a = resample_steps(3, 10, 0, 2000)
    >>> bool((resample_steps(3, 10, 1500, 1600) == a[1500:1600]).all()), int(a.max()) <= 9
    (True, True)
    """
    if not (0 <= start <= stop):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}.")
    if size < 1:
        raise ValueError(f"a resample pool needs at least 1 step, got size={size}.")
    if stop == start:
        return np.zeros(0, np.int64)
    first, last = start // RESAMPLE_BLOCK, (stop - 1) // RESAMPLE_BLOCK
    drawn = np.concatenate(
        [
            np.random.default_rng([seed, j]).integers(0, size, RESAMPLE_BLOCK)
            for j in range(first, last + 1)
        ]
    )
    offset = first * RESAMPLE_BLOCK
    return drawn[start - offset : stop - offset]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32)  # a copy
    a.flags.writeable = False
    return a


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _digest(a: np.ndarray | None) -> bytes | None:
    return None if a is None else bytes(a.shape) + a.tobytes()


@dataclass(frozen=True, eq=False)
class Intervention:
    """Edit ``neurons`` of one layer's ``signal`` after every step (module docstring).

    Parameters
    ----------
    layer : int
        Recurrent layer, 0 = the first.
    neurons : tuple of int
        Units to edit; stored sorted and without duplicates (with ``values`` or ``pool``
        they must be distinct, and the columns are reordered with them). Empty edits
        nothing.
    mode : {"zero", "clamp", "scale", "mean", "resample"}
        Set to 0, set to ``value``, multiply by ``value``, set to ``values`` (one per
        neuron), or set to the value at a random step of ``pool``.
    value : float, default 0.0
        The clamp value or scale factor; ignored by the other modes.
    signal : {"h", "c"}, default "h"
        The hidden state (any cell) or the LSTM cell state.
    values : array-like of shape (n_neurons,), optional
        "mean" only (and required there): each neuron's value, in the order of
        ``neurons`` as given. Stored as a read-only float32 array.
    pool : array-like of shape (P, n_neurons), optional
        "resample" only (and required there): P >= 1 reference steps of the neurons, in
        the order of ``neurons`` as given. Stored as a read-only float32 array.
    seed : int, default 0
        "resample": the seed of :func:`resample_steps` (>= 0).

    Notes
    -----
    Equality and hashing compare the arrays by value, so an Intervention can key a cache.

    Examples
    --------
    >>> Intervention(0, [5, 2], "mean", values=[0.5, -0.25]).values.tolist()
    [-0.25, 0.5]
    >>> Intervention(0, (1,), "resample", pool=[[0.1], [0.2], [0.3]], seed=4).pool.shape
    (3, 1)
    """

    layer: int
    neurons: tuple[int, ...]
    mode: str
    value: float = 0.0
    signal: str = "h"
    values: np.ndarray | None = field(default=None, repr=False)
    pool: np.ndarray | None = field(default=None, repr=False)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}, got {self.mode!r}.")
        if self.signal not in SIGNALS:
            raise ValueError(f"`signal` must be one of {SIGNALS}, got {self.signal!r}.")
        try:
            layer = operator.index(self.layer)
            given = [operator.index(n) for n in self.neurons]
            seed = operator.index(self.seed)
        except TypeError:
            raise ValueError(
                "`layer` must be an integer and `neurons` a sequence of integers, got "
                f"layer={self.layer!r}, neurons={self.neurons!r}."
            ) from None
        neurons = tuple(sorted(set(given)))
        if layer < 0 or (neurons and neurons[0] < 0):
            raise ValueError(
                f"`layer` and `neurons` must be >= 0, got layer={layer}, neurons={neurons}."
            )
        value = float(self.value)
        if not math.isfinite(value):
            raise ValueError(f"`value` must be finite, got {self.value!r}.")
        for name, wanted in (("values", "mean"), ("pool", "resample")):
            if getattr(self, name) is None and self.mode == wanted:
                raise ValueError(f"mode {wanted!r} needs `{name}=`; got none.")
            if getattr(self, name) is not None and self.mode != wanted:
                raise ValueError(f"`{name}=` is only for mode {wanted!r}, got mode {self.mode!r}.")
        order = np.argsort(given, kind="stable")
        if self.mode in ("mean", "resample") and len(neurons) != len(given):
            raise ValueError(
                f"with mode {self.mode!r} the neurons must be distinct (one column each), "
                f"got {tuple(given)}."
            )
        values, pool = self.values, self.pool
        if values is not None:
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (len(given),) or not np.isfinite(values).all():
                raise ValueError(
                    f"`values` must hold one finite number per neuron ({len(given)}), got "
                    f"shape {values.shape}"
                    + ("" if np.isfinite(values).all() else " with non-finite entries")
                    + "."
                )
            values = _frozen(values[order])
        if pool is not None:
            pool = np.asarray(pool, dtype=np.float64)
            if pool.ndim != 2 or pool.shape[0] < 1 or pool.shape[1] != len(given):
                raise ValueError(
                    "`pool` must be (P, n_neurons) with P >= 1 reference steps and "
                    f"n_neurons = {len(given)}, got shape {pool.shape}."
                )
            if not np.isfinite(pool).all():
                raise ValueError("`pool` must be finite, got NaN or infinite entries.")
            if seed < 0:
                raise ValueError(f"`seed` must be >= 0, got {seed}.")
            pool = _frozen(pool[:, order])
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "neurons", neurons)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "pool", pool)
        object.__setattr__(self, "seed", seed)

    @classmethod
    def from_reference(
        cls,
        layer: int,
        neurons: Sequence[int],
        mode: str,
        reference: Trace | npt.ArrayLike,
        *,
        signal: str = "h",
        seed: int = 0,
    ) -> Intervention:
        """Build a "mean" or "resample" intervention from a reference recording.

        Parameters
        ----------
        layer : int
        neurons : sequence of int
        mode : {"mean", "resample"}
        reference : Trace, or array-like of shape (P, units) or (units,)
            A recording of the same model (its ``signals[(layer, signal)]`` is used), or
            that signal's array itself (rows = steps, columns = all units of the layer).
            "mean" also takes the per-unit means, shape (units,).
        signal : {"h", "c"}, default "h"
        seed : int, default 0
            "resample" only.

        Returns
        -------
        Intervention
            "mean": ``values[i] = (1/P) sum_s ref[s, neurons[i]]`` (float64 sum);
            "resample": ``pool = ref[:, neurons]``.
        """
        if mode not in ("mean", "resample"):
            raise ValueError(f"`mode` must be 'mean' or 'resample', got {mode!r}.")
        if hasattr(reference, "signals"):
            key = (layer, signal)
            if key not in reference.signals:
                raise ValueError(f"the reference Trace has no signal {signal!r} of layer {layer}.")
            ref = np.asarray(reference.signals[key])
        else:
            ref = np.asarray(reference)
        cols = [operator.index(n) for n in neurons]
        if ref.ndim not in (1, 2) or (ref.ndim == 1 and mode == "resample") or ref.shape[0] == 0:
            raise ValueError(
                "`reference` must be a Trace, a (P, units) array with P >= 1"
                + (" or the (units,) means" if mode == "mean" else "")
                + f", got shape {ref.shape}."
            )
        units = ref.shape[-1]
        if cols and (min(cols) < 0 or max(cols) >= units):
            raise ValueError(
                f"`neurons` must be units 0 to {units - 1} of the reference, got {tuple(cols)}."
            )
        if mode == "mean":
            means = ref[cols] if ref.ndim == 1 else ref[:, cols].mean(axis=0, dtype=np.float64)
            return cls(layer, tuple(cols), "mean", signal=signal, values=means)
        return cls(layer, tuple(cols), "resample", signal=signal, pool=ref[:, cols], seed=seed)

    def _key(self) -> tuple:
        return (
            self.layer,
            self.neurons,
            self.mode,
            self.value,
            self.signal,
            self.seed,
            _digest(self.values),
            _digest(self.pool),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Intervention):
            return NotImplemented
        return self._key()[:6] == other._key()[:6] and (
            _same(self.values, other.values) and _same(self.pool, other.pool)
        )

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def affine(self) -> tuple[float | np.ndarray, float | np.ndarray]:
        """The edit as x <- a x + b: (a, b); b is per neuron for "mean".

        Raises ValueError for "resample" (a different value at every step).
        """
        if self.mode == "resample":
            raise ValueError("a 'resample' intervention is not affine (it reads its pool).")
        if self.mode == "mean":
            assert self.values is not None
            return 0.0, self.values
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
class Resample:
    """The resampled part of an :class:`Affine`: ``mult * pool value at s_t``, per stream.

    Every pool (one per "resample" intervention, a "group") is flattened row-major into
    ``flat``; unit (b, j) of group g reads ``flat[base[b, j] + stride[b, j] * s_t(g)]``,
    where s_t(g) comes from :func:`resample_steps` with the group's seed and length.
    """

    flat: np.ndarray  # (total,) float32
    mult: np.ndarray  # (B, n_cols) float32, 0 where the unit is not resampled
    base: np.ndarray  # (B, n_cols) int64
    stride: np.ndarray  # (B, n_cols) int64
    group: np.ndarray  # (B, n_cols) int64
    seeds: list[int]
    sizes: list[int]
    _block: int = -1
    _steps: np.ndarray | None = None  # (n_groups, RESAMPLE_BLOCK)

    def at(self, t: int) -> np.ndarray:
        """Return the (B, n_cols) term added at step t."""
        block, i = divmod(t, RESAMPLE_BLOCK)
        if block != self._block or self._steps is None:
            a = block * RESAMPLE_BLOCK
            self._steps = np.stack(
                [
                    resample_steps(s, n, a, a + RESAMPLE_BLOCK)
                    for s, n in zip(self.seeds, self.sizes, strict=True)
                ]
            )
            self._block = block
        s = self._steps[:, i]
        return self.mult * self.flat[self.base + self.stride * s[self.group]]


@dataclass
class Affine:
    """x[:, cols] <- scale * x[:, cols] + shift (+ the resampled term), one row per stream."""

    cols: np.ndarray  # (n_cols,) int
    scale: np.ndarray  # (B, n_cols) float32
    shift: np.ndarray  # (B, n_cols) float32
    draw: Resample | None = None

    def apply(self, x: np.ndarray, t: int = 0) -> None:
        sub = x[:, self.cols]
        sub *= self.scale
        sub += self.shift
        if self.draw is not None:
            sub += self.draw.at(t)
        x[:, self.cols] = sub


@dataclass
class LayerEdits:
    """The edits of one layer for B streams; None where a signal is not edited.

    ``t`` is the step the next :func:`edit_step` call edits when it is not told (it
    counts the calls); it matters only to "resample".
    """

    h: Affine | None = None
    c: Affine | None = None
    t: int = 0

    @property
    def empty(self) -> bool:
        return self.h is None and self.c is None


def _compile(units: int, touched: list[list[Intervention]]) -> Affine | None:
    """One stream's interventions on one (layer, signal) per row of an :class:`Affine`.

    Per unit, in order: x <- a x + b + m r_t, where r_t is a resampled value; zero,
    clamp and mean set (a, b, m) = (0, v, 0), scale multiplies all three by its factor,
    resample sets (0, 0, 1) and points the unit at its pool.
    """
    cols = sorted({n for ivs in touched for iv in ivs for n in iv.neurons})
    if not cols:
        return None
    where = np.full(units, -1)
    where[cols] = np.arange(len(cols))
    shape = (len(touched), len(cols))
    scale, shift, mult = np.ones(shape), np.zeros(shape), np.zeros(shape)
    base, stride, group = (np.zeros(shape, np.int64) for _ in range(3))
    pools: list[np.ndarray] = []
    seeds: list[int] = []
    offset = 0
    for b, ivs in enumerate(touched):
        for iv in ivs:
            j = where[list(iv.neurons)]
            if iv.mode == "scale":
                scale[b, j] *= iv.value
                shift[b, j] *= iv.value
                mult[b, j] *= iv.value
                continue
            scale[b, j], mult[b, j] = 0.0, 0.0
            if iv.mode == "clamp":
                shift[b, j] = iv.value
            elif iv.mode == "mean":
                assert iv.values is not None
                shift[b, j] = iv.values
            else:
                shift[b, j] = 0.0
            if iv.mode == "resample":
                assert iv.pool is not None
                mult[b, j] = 1.0
                group[b, j] = len(pools)
                base[b, j] = offset + np.arange(len(j))
                stride[b, j] = len(j)
                pools.append(iv.pool)
                seeds.append(iv.seed)
                offset += iv.pool.size
    draw = None
    if pools:
        flat = np.concatenate([p.ravel() for p in pools]).astype(np.float32)
        draw = Resample(
            flat, mult.astype(np.float32), base, stride, group, seeds, [len(p) for p in pools]
        )
    return Affine(np.asarray(cols), scale.astype(np.float32), shift.astype(np.float32), draw=draw)


def layer_edits(
    weights: StackWeights, runs: Sequence[Sequence[Intervention]], *, start: int = 0
) -> list[LayerEdits]:
    """Compile the interventions of B streams into one :class:`LayerEdits` per layer.

    ``runs[b]`` are the interventions of stream b. ``start`` is the step of the first
    :func:`edit_step` call that does not pass ``t`` (a generation that continues a text
    of ``start`` tokens), so resampled steps continue the text's.

    Each stream's interventions on a (layer, signal) compose into one edit per unit
    (x <- a x + b + m r_t, in order; see :func:`_compile`); units a stream does not touch
    get a = 1, b = 0, m = 0, which leaves them bit for bit as they are.
    """
    for ivs in runs:
        check_interventions(ivs, weights)
    out = []
    for k, w in enumerate(weights.layers):
        edits = LayerEdits(t=start)
        for signal in SIGNALS:
            touched = [
                [iv for iv in ivs if iv.layer == k and iv.signal == signal and iv.neurons]
                for ivs in runs
            ]
            setattr(edits, signal, _compile(w.units, touched))
        out.append(edits)
    return out


def edit_step(
    w: CellWeights, edits: LayerEdits, h: np.ndarray, sig: np.ndarray, t: int | None = None
) -> None:
    """Apply one layer's edits in place to the output of :func:`lib.run.cells.step`.

    ``h`` (B, units) is h_t and ``sig`` (B, WIDTH*units) the other signals; for "c" edits
    the LSTM cell state block of ``sig`` is edited and h_t recomputed on those units.
    ``t`` is the step (for "resample"); without it ``edits.t`` is used. Either way
    ``edits.t`` becomes t + 1.
    """
    if t is None:
        t = edits.t
    edits.t = t + 1
    u = w.units
    if edits.c is not None:
        c = sig[:, 4 * u :]
        cols = edits.c.cols
        before = c[:, cols]  # a copy (fancy indexing)
        edits.c.apply(c, t)
        # h recomputed only where c was changed: elsewhere it keeps the step kernel's own
        # value, bit for bit (its tanh is not NumPy's), so an unedited stream of the batch
        # is exactly what it would be alone
        changed = c[:, cols] != before
        o = sig[:, 2 * u : 3 * u][:, cols]
        h[:, cols] = np.where(changed, o * np.tanh(c[:, cols]), h[:, cols])
    if edits.h is not None:
        edits.h.apply(h, t)


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
                edit_step(w, edits, h, sig, t)
            if c is not None:
                c = sig[:, 4 * u :].copy()
            H[:, t] = h
            if S is not None:
                S[:, t] = sig
    return H, S


__all__ = [
    "ABLATION_MODES",
    "Intervention",
    "MODES",
    "RESAMPLE_BLOCK",
    "SIGNALS",
    "check_interventions",
    "edit_step",
    "layer_edits",
    "resample_steps",
    "run_edited",
]
