"""Fused per-step gate math of the SimpleRNN, LSTM and GRU cells (numba), one pass a step.

:func:`lib.run.cells.step` and :func:`lib.run.cells.run` compute the recurrent product
``z = h_{t-1} U`` with BLAS and hand it here: one compiled loop over the B streams and the
units adds the input projection, applies every nonlinearity, updates the state and writes
h_t and the other signals straight into the caller's output arrays (one block per signal of
``lib.run.cells.LAYOUT``). NumPy needed about 15 separate passes over (B, G*units) arrays
for the same work, plus a copy of every step into the stream-major outputs.

tanh is the rational approximation of Eigen (``generic_fast_tanh_float``, Eigen 3.4,
Eigen/src/Core/MathFunctionsImpl.h: a degree 13/6 odd/even ratio on [-7.9053, 7.9053],
x itself for |x| < 4e-4), pure arithmetic so the compiler vectorises it (libm's tanhf
does not vectorise, and numba has no SVML here); its error against float64 tanh is below
3e-7 (tests/test_record.py checks it). sigmoid(x) = 0.5 tanh(x / 2) + 0.5, as in NumPy's
path before.

Compiled on first use and cached on disk (``cache=True``, under NUMBA_CACHE_DIR when set);
importing this module compiles nothing.

Arguments of every kernel (B streams, u units, G gates):

- ``z`` (B, G*u): h_{t-1} U for this step;
- ``xt``, ``rows``: the input projection of stream b is ``xt[rows[b]]`` (a token table
  and the step's ids, or the step's (B, G*u) projections and ``arange(B)``);
- ``rb`` (G*u,): GRU's recurrent bias (ignored by the others);
- ``hp[b, tp]`` h_{t-1}, ``cp[cg, b, tp]`` c_{t-1} (LSTM);
- ``held[b]``: nonzero holds stream b at the zero state after this step;
- outputs ``h[b, to]`` (u,) and ``s[k, b, to]`` (u,), signal k of ``LAYOUT[cell]``
  (signal-major, so each signal of a run is one contiguous (B, T, u) block);
- ``lo``, ``hi``: only streams ``lo <= b < hi`` are advanced (and only their rows of ``z``
  are read), so several threads can advance disjoint groups of streams of the same arrays
  at once (``nogil=True``: a kernel runs without Python's lock).
"""

from __future__ import annotations

import numba
import numpy as np

_F = np.float32
_CLAMP = _F(7.90531110763549805)
_TINY = _F(0.0004)
_A1, _A3, _A5 = _F(4.89352455891786e-03), _F(6.37261928875436e-04), _F(1.48572235717979e-05)
_A7, _A9 = _F(5.12229709037114e-08), _F(-8.60467152213735e-11)
_A11, _A13 = _F(2.00018790482477e-13), _F(-2.76076847742355e-16)
_B0, _B2 = _F(4.89352518554385e-03), _F(2.26843463243900e-03)
_B4, _B6 = _F(1.18534705686654e-04), _F(1.19825839466702e-06)
_HALF, _ZERO, _ONE = _F(0.5), _F(0.0), _F(1.0)

#: only contraction into FMA: no approximate division, no assumption about NaN or infinity
_FAST = {"contract"}


@numba.njit(inline="always", fastmath=_FAST, error_model="numpy")
def tanh(a):  # type: ignore[no-untyped-def]
    """Return tanh of a float32 scalar (Eigen's rational approximation, see the module doc)."""
    x = min(max(a, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return a if abs(a) < _TINY else p / q


@numba.njit(inline="always", fastmath=_FAST, error_model="numpy")
def sigmoid(a):  # type: ignore[no-untyped-def]
    """Return the logistic function 0.5 tanh(a / 2) + 0.5 of a float32 scalar."""
    return _HALF * tanh(_HALF * a) + _HALF


@numba.njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def tanh_array(x):  # type: ignore[no-untyped-def]
    """:func:`tanh` over a 1-D float32 array (for tests)."""
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])
    return out


@numba.njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def rnn_step(z, xt, rows, rb, hp, tp, cp, cg, held, h, s, to, lo, hi):  # type: ignore[no-untyped-def]
    """Advance a SimpleRNN step: a = z + x_t W + b;  h = tanh(a);  s = [a]."""
    u = z.shape[1]
    for b in range(lo, hi):
        zb, xb, ab, hb = z[b], xt[rows[b]], s[0, b, to], h[b, to]
        keep = _ZERO if held[b] else _ONE
        for j in range(u):
            a = zb[j] + xb[j]
            ab[j] = a
            hb[j] = tanh(a) * keep


# Row views and one loop per kind of gate: a single loop over all of a row's arrays is
# not vectorised (too many possible overlaps for LLVM's runtime checks); these are.
@numba.njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def lstm_step(z, xt, rows, rb, hp, tp, cp, cg, held, h, s, to, lo, hi):  # type: ignore[no-untyped-def]
    """Advance an LSTM step.

    Gates in the order (i, f, o, g): c = f c_{t-1} + i g;  h = o tanh(c);  s = [i f o g c].
    """
    u = z.shape[1] // 4
    for b in range(lo, hi):
        zb, xb, hb, cb = z[b], xt[rows[b]], h[b, to], cp[cg, b, tp]
        ib, fb, ob, gb, cn = s[0, b, to], s[1, b, to], s[2, b, to], s[3, b, to], s[4, b, to]
        keep = _ZERO if held[b] else _ONE
        for j in range(u):
            ib[j] = sigmoid(zb[j] + xb[j])
        for j in range(u):
            fb[j] = sigmoid(zb[u + j] + xb[u + j])
        for j in range(u):
            ob[j] = sigmoid(zb[2 * u + j] + xb[2 * u + j])
        for j in range(u):
            gb[j] = tanh(zb[3 * u + j] + xb[3 * u + j])
        for j in range(u):
            c = (fb[j] * cb[j] + ib[j] * gb[j]) * keep
            cn[j] = c
            hb[j] = ob[j] * tanh(c)


@numba.njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def gru_step(z, xt, rows, rb, hp, tp, cp, cg, held, h, s, to, lo, hi):  # type: ignore[no-untyped-def]
    """Advance a GRU step (reset_after).

    z, r = sigmoid(x + hU + b_h);  n = tanh(x_n + r (hU_n + b_h,n));  h = n + z (h_{t-1} - n);
    s = [z r n].
    """
    u = z.shape[1] // 3
    for b in range(lo, hi):
        zb, xb, hb, hpb = z[b], xt[rows[b]], h[b, to], hp[b, tp]
        zg, rg, ng = s[0, b, to], s[1, b, to], s[2, b, to]
        keep = _ZERO if held[b] else _ONE
        for j in range(u):
            zg[j] = sigmoid(xb[j] + (zb[j] + rb[j]))
        for j in range(u):
            rg[j] = sigmoid(xb[u + j] + (zb[u + j] + rb[u + j]))
        for j in range(u):
            ng[j] = tanh(xb[2 * u + j] + rg[j] * (zb[2 * u + j] + rb[2 * u + j]))
        for j in range(u):
            hb[j] = (ng[j] + zg[j] * (hpb[j] - ng[j])) * keep


KERNELS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


@numba.njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def lstm_correct(h, f, o, c, delta, tol, write):  # type: ignore[no-untyped-def]
    """Correct an LSTM segment's cell state by ``delta`` carried through its forget gates.

    c_t <- c_t + delta * prod(f_1..f_t) and h_t <- o_t tanh(c_t), for ``h``, ``f``, ``o``,
    ``c`` of shape (L, u). Returns the largest change of h (stopping at the first row
    where it exceeds ``tol``); with ``write`` the corrected c and h are stored in place.

    A unit leaves the loop once its correction |delta prod f| is at most ``tol / 100``:
    forget gates are below 1, so the correction only shrinks from there, and leaving it
    out changes c and h by less than that. Most units forget within tens of steps; only
    the counters (f near 1) are carried through the whole segment. (Carried to the end,
    the products also sank into subnormal floats, each multiplication ~100x slower.)
    """
    L, u = h.shape
    p = delta.copy()
    live = np.empty(u, np.int64)
    n = 0
    floor = tol * _F(0.01)
    for j in range(u):
        if abs(p[j]) > floor:
            live[n] = j
            n += 1
    worst = _ZERO
    for t in range(L):
        if n == 0:
            break
        ht, ft, ot, ct = h[t], f[t], o[t], c[t]
        kept = 0
        for k in range(n):
            j = live[k]
            p[j] *= ft[j]
            cc = ct[j] + p[j]
            hh = ot[j] * tanh(cc)
            worst = max(worst, abs(hh - ht[j]))
            if write:
                ct[j] = cc
                ht[j] = hh
            if abs(p[j]) > floor:
                live[kept] = j
                kept += 1
        if worst > tol:
            return worst
        n = kept
    return worst


@numba.njit(cache=True, nogil=True, error_model="numpy")
def top_k_rows(e, total, next_ids, top_ids, top_probs, next_prob):  # type: ignore[no-untyped-def]
    """Write each row's k most probable tokens and the next token's probability.

    ``e`` (n, V) holds exp(z - max z) of a row's logits and ``total`` (n,) its sums, so
    p = e / total. For row r: ``top_ids[r]`` and ``top_probs[r]`` (k,) receive the k
    largest p in descending order (of equal ones, the lower id first), and
    ``next_prob[r]`` p[next_ids[r]] where ``next_ids[r] >= 0``. One pass a row, keeping
    the k best in order; NumPy needed a division of every element, argpartition, three
    gathers and a sort.
    """
    n, V = e.shape
    k = top_ids.shape[1]
    for r in range(n):
        row, ids, vals = e[r], top_ids[r], top_probs[r]
        m = 0
        for j in range(V):
            x = row[j]
            if m == k:
                if not x > vals[k - 1]:
                    continue
                pos = k - 1
            else:
                pos = m
                m += 1
            while pos > 0 and vals[pos - 1] < x:
                vals[pos] = vals[pos - 1]
                ids[pos] = ids[pos - 1]
                pos -= 1
            vals[pos] = x
            ids[pos] = j
        s = total[r]
        for q in range(k):
            vals[q] = vals[q] / s
        if next_ids[r] >= 0:
            next_prob[r] = row[next_ids[r]] / s
