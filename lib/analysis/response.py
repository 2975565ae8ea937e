"""Seed 004's expected response of every hidden unit to every token type (RNNVis).

RNNVis explains a hidden unit by how it *moves* when the model reads a word: the update
Δh_t = h_t - h_{t-1} (Δc_t for an LSTM's cell state), averaged over every occurrence of the
word. The (n_types, n_units) matrix of these means, ``S``, is the signed weight matrix of
the word-unit bipartite graph that :mod:`lib.analysis.coclustering` co-clusters.

- :func:`expected_response`: ``S`` over the most frequent token types, from plain arrays.
- :func:`expected_response_from_trace`: the same from a :class:`lib.run.trace.Trace`, with the
  seed's defaults (last layer; the cell state of an LSTM).
- :func:`unit_responses`: one unit's Δ samples per type, computed on demand for box plots.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse

from lib.analysis._arrays import check_acts, work_dtype

if TYPE_CHECKING:
    from lib.run.trace import Trace

#: rows per block when summing the updates: sums over at most this many rows are taken in the
#: activations' dtype (float32 round-off stays ~1e-6 relative), block sums in float64
_ROW_BLOCK = 1024


class ExpectedResponse(NamedTuple):
    """Result of :func:`expected_response`; unpacks as ``types, counts, S``."""

    #: the kept token types, most frequent first (ties: first occurrence in the text first)
    types: list
    #: ndarray of int64, shape (n_types,): occurrences of each type in the text
    counts: np.ndarray
    #: ndarray of float64, shape (n_types, n_units): mean update per type and unit
    S: np.ndarray


def _check_tokens(tokens: Sequence[Any], n_steps: int) -> np.ndarray:
    """`tokens` as a 1-D object array of length `n_steps`."""
    if isinstance(tokens, str):
        raise ValueError("`tokens` must be a sequence of tokens, got a single str.")
    values = np.asarray(tokens, dtype=object)
    if values.ndim != 1 or values.shape[0] != n_steps:
        raise ValueError(
            f"`tokens` must have shape ({n_steps},) to match `acts`, got {values.shape}."
        )
    return values


def _check_resets(resets: Sequence[int], n_steps: int) -> np.ndarray:
    """Boolean (n_steps,) array, True where the state before token t is the zero state."""
    starts = np.zeros(n_steps, dtype=bool)
    starts[0] = True
    idx = np.asarray(resets if resets is not None else ())
    if idx.size == 0:
        return starts
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"`resets` must be a 1-D sequence of step indices, got {idx.dtype} array "
            f"of shape {idx.shape}."
        )
    if idx.min() < 0 or idx.max() >= n_steps:
        raise ValueError(
            f"`resets` must hold steps in [0, {n_steps}), got values from {idx.min()} "
            f"to {idx.max()}."
        )
    starts[idx] = True
    return starts


def _updates_into(out: np.ndarray, acts: np.ndarray, first: int, starts: np.ndarray) -> None:
    """Write Δ of rows ``first:first + len(out)`` into `out`.

    Δ[t] = acts[t] - acts[t - 1], with acts[t - 1] := 0 where `starts` is True.
    """
    stop = first + out.shape[0]
    if first == 0:
        out[0] = acts[0]
        np.subtract(acts[1:stop], acts[: stop - 1], out=out[1:], dtype=out.dtype)
    else:
        np.subtract(acts[first:stop], acts[first - 1 : stop - 1], out=out, dtype=out.dtype)
    local = np.flatnonzero(starts[first:stop])
    out[local] = acts[first + local]


def expected_response(
    acts: npt.ArrayLike,
    tokens: Sequence,
    *,
    top_n: int | None = 300,
    min_count: int = 1,
    exclude: Collection = (),
    resets: Sequence[int] = (),
) -> ExpectedResponse:
    """Mean update of every unit on reading each token type (seed 004, Eq. 5).

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        States of one layer, row t after reading token t, e.g.
        ``trace.signals[(layer, "c")]``. The text is read from the zero state.
    tokens : sequence of length n_steps
        The token read at each step (str, or any hashable such as vocabulary ids).
    top_n : int or None, default 300
        Keep the `top_n` most frequent types (after `exclude` and `min_count`); None keeps
        every type. 300 is the word-node count of seed 004's reference code.
    min_count : int, default 1
        Drop types seen fewer times: their mean rests on too few samples.
    exclude : collection, default ()
        Types to leave out before ranking, e.g. ``{"<unk>", " "}``. Types absent from the
        text are ignored.
    resets : sequence of int, default ()
        Further steps whose previous state is the zero state, when `acts` concatenates
        several texts each read from a fresh state. Step 0 always is.

    Returns
    -------
    types : list, length n_types
        The kept types, most frequent first; equal counts keep the order of first
        occurrence in the text.
    counts : ndarray of int64, shape (n_types,)
        Occurrences of each kept type.
    S : ndarray of float64, shape (n_types, n_units)
        ``S[i, j]`` is the expected response ŝ of unit j to type i. Signed.

    Raises
    ------
    ValueError
        If `acts` is not 2-D or numeric, `tokens` does not have one entry per row,
        `top_n` or `min_count` is not a positive integer, `resets` holds steps outside the
        text, no type is left after filtering, or a kept update is NaN or inf.

    Notes
    -----
    Seed 004, section 1.2, Eq. (5)::

        ŝ(x) = (1 / #{t : x_t = x}) * sum_{t : x_t = x} Δh_t,    Δh_t = h_t - h_{t-1}

    with h_{-1} = 0, so the first token's update is its whole state h_0. The seed uses the
    update, not the state itself (Eq. 3: the update is the word's multiplicative
    contribution to the output), and for an LSTM the cell state c rather than h
    (:func:`expected_response_from_trace` picks it). There is no normalisation beyond the
    mean: no z-scoring, no division by the unit's range. Each Δ is computed in the
    activations' dtype (one rounding, exact for nearby values), so a large, slowly changing
    cell state keeps its small updates (summing states and subtracting the sums would lose
    them to cancellation). The Δ are summed per type by a sparse one-hot product over
    blocks of 1,024 rows in that dtype and the block sums in float64; the full
    (n_steps, n_units) Δ matrix is never held in memory.
    """
    acts = check_acts(acts, keep_half=True)
    n_steps, n_units = acts.shape
    values = _check_tokens(tokens, n_steps)
    if top_n is not None and (int(top_n) != top_n or top_n < 1):
        raise ValueError(f"`top_n` must be an integer >= 1 or None, got {top_n!r}.")
    if int(min_count) != min_count or min_count < 1:
        raise ValueError(f"`min_count` must be an integer >= 1, got {min_count!r}.")
    starts = _check_resets(resets, n_steps)

    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    all_counts = np.bincount(codes, minlength=len(uniques))
    left_out = list(exclude)
    excluded = pd.Index(uniques).isin(left_out) if left_out else np.zeros(len(uniques), bool)
    eligible = (all_counts >= min_count) & ~excluded
    candidates = np.flatnonzero(eligible)
    # most frequent first; a stable sort keeps first-occurrence order among equal counts
    kept = candidates[np.argsort(-all_counts[candidates], kind="stable")]
    if top_n is not None:
        kept = kept[: int(top_n)]
    if kept.size == 0:
        raise ValueError(
            f"No token type is left: {len(uniques)} type(s) in the text, "
            f"{int((all_counts >= min_count).sum())} seen at least min_count={min_count} "
            f"time(s), {int(excluded.sum())} of them excluded."
        )

    row_of_code = np.full(len(uniques), -1, dtype=np.int64)
    row_of_code[kept] = np.arange(kept.size)
    rows = row_of_code[codes]
    sums = np.zeros((kept.size, n_units))
    buffer = np.empty((min(_ROW_BLOCK, n_steps), n_units), dtype=work_dtype(acts.dtype))
    for first in range(0, n_steps, _ROW_BLOCK):
        stop = min(first + _ROW_BLOCK, n_steps)
        block_rows = rows[first:stop]
        steps = np.flatnonzero(block_rows >= 0)
        if steps.size == 0:
            continue
        updates = buffer[: stop - first]
        _updates_into(updates, acts, first, starts)
        one_hot = scipy.sparse.csr_array(
            (np.ones(steps.size, dtype=buffer.dtype), (block_rows[steps], steps)),
            shape=(kept.size, stop - first),
        )
        sums += one_hot @ updates

    counts = all_counts[kept].astype(np.int64)
    S = sums / counts[:, None]
    bad = ~np.isfinite(S).all(axis=0)
    if bad.any():
        units = np.flatnonzero(bad)
        raise ValueError(
            f"`acts` holds NaN or inf in {units.size} unit(s) at steps that enter the mean, "
            f"first {units[:5].tolist()}."
        )
    return ExpectedResponse(uniques[kept].tolist(), counts, S)


def expected_response_from_trace(
    trace: Trace, *, layer: int | None = None, signal: str | None = None, **kwargs: Any
) -> ExpectedResponse:
    """:func:`expected_response` of one layer and signal of a :class:`~lib.run.trace.Trace`.

    Parameters
    ----------
    trace : lib.run.trace.Trace
    layer : int or None, default None
        Recurrent layer (0 = first). None takes the last layer, seed 004's default.
    signal : str or None, default None
        Signal name, e.g. ``"h"`` or ``"c"``. None takes the cell state ``"c"`` when the
        layer has one (LSTM, seed 004 section 1.2) and ``"h"`` otherwise.
    **kwargs
        `top_n`, `min_count`, `exclude`, `resets`, passed on.

    Returns
    -------
    types, counts, S
        As :func:`expected_response`, over ``trace.tokens``.

    Raises
    ------
    KeyError
        If the trace has no such layer or signal (the message lists what it has).
    """
    layers = trace.layers
    if layer is None:
        if not layers:
            raise KeyError("The trace holds no signal.")
        layer = layers[-1]
    names = trace.signal_names(layer)
    if signal is None:
        signal = "c" if "c" in names else "h"
    if (layer, signal) not in trace.signals:
        raise KeyError(
            f"The trace has no signal {signal!r} at layer {layer}: layers {layers}, "
            f"signals at layer {layer}: {names}."
        )
    return expected_response(trace.signals[(layer, signal)], trace.tokens, **kwargs)


def unit_responses(
    acts: npt.ArrayLike, tokens: Sequence, unit: int, types: Sequence, *, resets: Sequence[int] = ()
) -> dict:
    """Every update Δ of one unit on reading each of the given types (box-plot samples).

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
    tokens : sequence of length n_steps
    unit : int
        Column of `acts`.
    types : sequence
        The types wanted, e.g. the words of :func:`lib.analysis.coclustering.unit_detail`.
    resets : sequence of int, default ()
        As :func:`expected_response`.

    Returns
    -------
    samples : dict
        type -> ndarray of float64, shape (count,): Δ of the unit at each occurrence of the
        type, in text order (empty for a type absent from the text). Its mean is
        ``S[type, unit]`` of :func:`expected_response`.

    Raises
    ------
    ValueError
        If `acts` is not 2-D, `tokens` does not match it, or `unit` is out of range.

    Notes
    -----
    Seed 004, section 1.3 and section 4: the detail view shows each unit's whole
    distribution of Δ per word (box 25-75 %, whiskers 9-91 %, mean marker), so only the
    means are kept for the whole layer and the samples of one unit are computed when it is
    selected: one (n_steps,) column, one stable argsort of the type codes.
    """
    acts = check_acts(acts, keep_half=True)
    n_steps, n_units = acts.shape
    values = _check_tokens(tokens, n_steps)
    if int(unit) != unit or not 0 <= unit < n_units:
        raise ValueError(f"`unit` must be an integer in [0, {n_units}), got {unit!r}.")
    starts = _check_resets(resets, n_steps)
    column = acts[:, int(unit)].astype(np.float64)
    delta = column.copy()
    delta[1:] -= column[:-1]
    delta[starts] = column[starts]

    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    code_of = {value: code for code, value in enumerate(uniques.tolist())}
    samples = {}
    for value in types:
        code = code_of.get(value)
        if code is None:
            samples[value] = np.empty(0)
        else:
            samples[value] = delta[order[bounds[code] : bounds[code + 1]]]
    return samples
