"""Input checks and memory-friendly unit blocks shared by the analysis modules (private)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

#: units per block in the FFT and sorting loops: (64, 100_000) float32 is 25 MB
UNIT_BLOCK = 64
#: most memory one block may take (float32, every step): a long series gets fewer units per
#: block, e.g. 13 at 5,000,000 steps (250 MB; its FFT temporaries take as much again)
BLOCK_BYTES = 256 * 2**20
#: blocks processed at once: numpy's sorts and ufuncs and scipy's FFTs release the GIL, so
#: threads use every core; capped to bound memory (~130 MB per block at 100,000 steps)
MAX_THREADS = 4
#: rows per tile when copying a block of units into (units, steps) order; a 256 x 64 float32
#: tile is 64 KB and stays in cache, which makes the copy ~3x faster than a plain ``.T.copy()``
_ROW_TILE = 256


def work_dtype(dtype: npt.DTypeLike) -> np.dtype:
    """Return the dtype to compute in for activations stored as `dtype`.

    float16 is upcast to float32 (its sums and products would lose digits), float32 and
    float64 stay.
    """
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def check_acts(acts: npt.ArrayLike, *, min_steps: int = 1, keep_half: bool = False) -> np.ndarray:
    """Return `acts` as a floating 2-D array, float32 kept as float32 (no copy when possible).

    A memory-mapped array (a trace folder, lib.run.trace) stays mapped. float16 is upcast to
    float32 as a whole, unless `keep_half`: the caller then reads it in blocks and upcasts
    each with :func:`work_dtype` (:func:`unit_block` does), so a float16 trace is never
    copied whole. Other numbers become float64.

    Raises ValueError if `acts` is not 2-D (n_steps, n_units), has no unit, has fewer than
    `min_steps` steps, or is not numeric.
    """
    acts = np.asarray(acts)
    if acts.ndim != 2:
        raise ValueError(f"`acts` must be 2-D (n_steps, n_units), got shape {acts.shape}.")
    if acts.dtype.kind not in "fiub":
        raise ValueError(f"`acts` must hold numbers, got dtype {acts.dtype}.")
    if acts.dtype == np.float16:
        if not keep_half:
            acts = acts.astype(np.float32)
    elif acts.dtype not in (np.float32, np.float64):
        acts = acts.astype(np.float64)
    if acts.shape[1] == 0:
        raise ValueError(f"`acts` has no unit (shape {acts.shape}).")
    if acts.shape[0] < min_steps:
        raise ValueError(
            f"`acts` needs at least {min_steps} steps (rows), got {acts.shape[0]} "
            f"(shape {acts.shape})."
        )
    return acts


def column_sums(acts: np.ndarray) -> np.ndarray:
    """Float64 sum of every column, raising ValueError if any unit holds NaN or inf.

    One pass over the data; NaN and inf propagate into the sums, so checking the n_units
    sums is as good as checking all n_steps x n_units values, at a fraction of the cost.
    """
    sums = acts.sum(axis=0, dtype=np.float64)
    bad = ~np.isfinite(sums)
    if bad.any():
        units = np.flatnonzero(bad)
        raise ValueError(
            f"`acts` holds NaN or inf in {units.size} unit(s), first {units[:5].tolist()}."
        )
    return sums


def unit_block(
    acts: np.ndarray, first: int, block: int = UNIT_BLOCK, *, subtract: np.ndarray | None = None
) -> np.ndarray:
    """Units ``first:first + block`` as a C-contiguous (units, n_steps) array.

    FFTs and sorts along the last, contiguous axis are several times faster than along the
    strided first axis of a (n_steps, n_units) array, and the tiled copy is cheap. With
    `subtract` (shape (n_units,), e.g. the column means) each unit's value is subtracted
    during the copy. Without it the result is a view (do not write to it) when `acts` is
    already stored unit by unit. float16 is upcast to float32 in the copy
    (:func:`work_dtype`).
    """
    cols = acts[:, first : first + block]
    dtype = work_dtype(acts.dtype)
    shift = None if subtract is None else subtract[first : first + block].astype(dtype)
    if cols.flags.f_contiguous and shift is None and dtype == acts.dtype:
        return cols.T
    out = np.empty((cols.shape[1], acts.shape[0]), dtype=dtype)
    for i in range(0, acts.shape[0], _ROW_TILE):
        tile = cols[i : i + _ROW_TILE]
        if shift is None:
            out[:, i : i + _ROW_TILE] = tile.T
        else:
            np.subtract(tile.T, shift[:, None], out=out[:, i : i + _ROW_TILE])
    return out


def block_units(acts: np.ndarray) -> int:
    """Units per block: :data:`UNIT_BLOCK`, fewer when that would pass :data:`BLOCK_BYTES`."""
    return int(max(1, min(UNIT_BLOCK, BLOCK_BYTES // (4 * max(acts.shape[0], 1)))))


def n_threads(acts: np.ndarray, block: int | None = None) -> int:
    """Threads worth using: one per core, at most one per block and :data:`MAX_THREADS`."""
    n_blocks = -(-acts.shape[1] // (block or block_units(acts)))
    return max(1, min(os.cpu_count() or 1, MAX_THREADS, n_blocks))


def map_unit_blocks(
    fn: Callable[[int, np.ndarray], object],
    acts: np.ndarray,
    block: int | None = None,
    *,
    subtract: np.ndarray | None = None,
) -> list:
    """``[fn(first, unit_block(acts, first, ...)) for first in 0, block, 2 block ...]``.

    Blocks (default :func:`block_units` units each) run on :func:`n_threads` threads; each
    thread copies its own block, so at most that many blocks are in memory at once.
    """
    block = block or block_units(acts)

    def run(first: int) -> object:
        return fn(first, unit_block(acts, first, block, subtract=subtract))

    starts = range(0, acts.shape[1], block)
    threads = n_threads(acts, block)
    if threads == 1:
        return [run(first) for first in starts]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, starts))
