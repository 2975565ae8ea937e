"""The Trace: the record of one text passing through one model.

Every analysis page reads a Trace. Shapes, in one place:

- ``tokens``: list of T str, the text in reading order.
- ``ids``: int32 array of shape (T,), the vocabulary ids of ``tokens``.
- ``signals[(layer, name)]``: array of shape (T, units), float32 (or float16, see
  Storage). Row t is the state after reading token t; layer 0 is the first recurrent
  layer. Names: ``h`` for every cell; LSTM adds ``c``, ``i``, ``f``, ``g`` (candidate),
  ``o``; GRU adds ``z``, ``r``, ``n`` (candidate); vanilla RNN adds ``a`` (pre-activation).
- ``topk_ids`` / ``topk_probs``: arrays of shape (T, k), the k most probable next tokens
  after reading token t, most probable first.
- ``expectancy``: float32 array of shape (T,); entry t is the probability the model gave
  to token t before reading it (seed 001's expectancy). Entry 0 is NaN: nothing came
  before the first token.
- ``next_prob``: float32 array of shape (T,); entry t is the probability given after
  token t to token t+1 (the last entry is NaN).

Storage. A long Trace need not fit in memory as float32:

- ``dtype="float16"`` (``lib.run.record.record``) halves the signals' memory; values keep
  about 3 significant digits (relative error <= 2**-11; the cell state c, unbounded, up to
  65,504). The analyses in lib.analysis upcast float16 block by block.
- A *trace folder* holds one ``.npy`` file per array (``signal__<layer>__<name>.npy``,
  ``ids.npy``, ...), ``tokens.json`` and ``trace.json`` (model, dtype, meta; written last,
  so a folder without it is incomplete). :func:`open_trace` memory-maps the arrays: only
  the rows an analysis touches are read from disk.
- A *shard folder* holds ``manifest.json`` and one trace folder per contiguous slice of
  one text (``lib.run.record.record_shards``). :func:`open_trace` opens it as one Trace whose
  signals are :class:`ConcatRows`: rows are read from the shards they fall in, and
  :meth:`Trace.window` gives a slice as plain arrays without joining the rest.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TRACE_FORMAT = "rnn-lens-trace"
SHARDS_FORMAT = "rnn-lens-trace-shards"
DTYPES = ("float32", "float16")


class TraceError(ValueError):
    """A trace file or folder that cannot be opened; the message says why."""


SignalArray: TypeAlias = "np.ndarray | ConcatRows"
"""A Trace's per-token array: in memory or memory-mapped, or joined from shards."""


SIGNALS = {
    "rnn": ("h", "a"),
    "lstm": ("h", "c", "i", "f", "g", "o"),
    "gru": ("h", "z", "r", "n"),
}

SIGNAL_LABELS = {
    "h": "hidden state h",
    "c": "cell state c",
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "z": "update gate z",
    "r": "reset gate r",
    "n": "candidate n",
    "a": "pre-activation a",
}

#: value range of each signal, None where unbounded
SIGNAL_RANGES = {
    "h": (-1.0, 1.0),
    "g": (-1.0, 1.0),
    "n": (-1.0, 1.0),
    "i": (0.0, 1.0),
    "f": (0.0, 1.0),
    "o": (0.0, 1.0),
    "z": (0.0, 1.0),
    "r": (0.0, 1.0),
    "c": None,
    "a": None,
}


@dataclass
class Trace:
    """Record of one text passing through one model (see the module docstring)."""

    tokens: list[str]
    ids: np.ndarray
    signals: dict[tuple[int, str], SignalArray]
    topk_ids: SignalArray
    topk_probs: SignalArray
    next_prob: np.ndarray
    model_name: str = ""
    n_seed: int = 0  # number of leading tokens that were given, not generated
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def expectancy(self) -> np.ndarray:
        """Probability given to token t before reading it, shape (T,); NaN at t = 0."""
        out = np.full(len(self.ids), np.nan, dtype=np.float32)
        out[1:] = self.next_prob[:-1]
        return out

    @property
    def layers(self) -> list[int]:
        """The recorded recurrent layers, in order (0 = the first)."""
        return sorted({layer for layer, _ in self.signals})

    def signal_names(self, layer: int = 0) -> list[str]:
        """Names of the signals recorded for `layer`, e.g. ``["h", "c", "i", "f", "g", "o"]``."""
        return [name for (lay, name) in self.signals if lay == layer]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dtype(self) -> np.dtype:
        """The signals' dtype: float32, or float16 for a half-precision recording."""
        first = next(iter(self.signals.values()), None)
        return np.dtype(np.float32 if first is None else first.dtype)

    @property
    def storage(self) -> str:
        """Where the signals live: ``"memory"``, ``"memory-mapped"`` or ``"shards"``.

        ``"memory-mapped"``: a trace folder; ``"shards"``: a shard folder (see the module
        docstring).
        """
        first = next(iter(self.signals.values()), None)
        if isinstance(first, ConcatRows):
            return "shards"
        return "memory-mapped" if isinstance(first, np.memmap) else "memory"

    def window(self, start: int, stop: int) -> Trace:
        """Tokens ``start`` to ``stop - 1`` as a Trace of in-memory arrays.

        Only these rows are read (from the shards they fall in, for a shard folder).
        ``meta["window"]`` holds ``start``, ``stop`` and the length of the whole trace;
        the window's expectancy at its first token is NaN, like any trace's.

        Raises
        ------
        ValueError
            Unless ``0 <= start < stop <= len(self)``.
        """
        n = len(self)
        if not (0 <= start < stop <= n):
            raise ValueError(
                f"a window needs 0 <= start < stop <= {n:,} (the trace's length), "
                f"got start={start:,}, stop={stop:,}"
            )

        def rows(a: SignalArray) -> np.ndarray:
            return np.array(a[start:stop])

        return Trace(
            tokens=list(self.tokens[start:stop]),
            ids=rows(self.ids),
            signals={key: rows(v) for key, v in self.signals.items()},
            topk_ids=rows(self.topk_ids),
            topk_probs=rows(self.topk_probs),
            next_prob=rows(self.next_prob),
            model_name=self.model_name,
            n_seed=max(0, min(self.n_seed - start, stop - start)),
            meta={**self.meta, "window": {"start": start, "stop": stop, "of": n}},
        )

    def __repr__(self) -> str:
        sig = ", ".join(f"{k[0]}.{k[1]}{tuple(v.shape)}" for k, v in self.signals.items())
        return (
            f"Trace(model={self.model_name!r}, T={len(self.ids)}, n_seed={self.n_seed}, "
            f"k={self.topk_ids.shape[1] if self.topk_ids.ndim == 2 else 0}, signals=[{sig}])"
        )

    def save_folder(self, path: str | os.PathLike) -> Trace:
        """Write the trace as a trace folder (module docstring); return it memory-mapped."""
        units = {key: v.shape[1] for key, v in self.signals.items()}
        writer = TraceWriter(
            len(self), units, self.topk_ids.shape[1], dtype=str(self.dtype), folder=path
        )
        for (layer, name), v in self.signals.items():
            writer.write_signals(layer, 0, {name: v})
        writer.write_outputs(0, self.topk_ids, self.topk_probs, self.next_prob)
        return writer.finish(
            self.tokens, self.ids, model_name=self.model_name, n_seed=self.n_seed, meta=self.meta
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the trace to a compressed ``.npz`` file."""
        arrays: dict[str, Any] = {
            f"signal__{lay}__{name}": v for (lay, name), v in self.signals.items()
        }
        np.savez_compressed(
            path,
            tokens=np.array(json.dumps(self.tokens)),
            ids=self.ids,
            topk_ids=self.topk_ids,
            topk_probs=self.topk_probs,
            next_prob=self.next_prob,
            model_name=np.array(self.model_name),
            n_seed=np.array(self.n_seed),
            **arrays,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        """Read a trace written by :meth:`save` (prefer :func:`open_trace`)."""
        with np.load(path, allow_pickle=False) as z:
            signals: dict[tuple[int, str], SignalArray] = {}
            for key in z.files:
                if key.startswith("signal__"):
                    _, lay, name = key.split("__")
                    signals[(int(lay), name)] = z[key]
            return cls(
                tokens=json.loads(str(z["tokens"])),
                ids=z["ids"],
                signals=signals,
                topk_ids=z["topk_ids"],
                topk_probs=z["topk_probs"],
                next_prob=z["next_prob"],
                model_name=str(z["model_name"]),
                n_seed=int(z["n_seed"]),
            )


# --- long traces: lazily joined shards, folders on disk -----------------------------------


class ConcatRows:
    """Arrays joined along their first axis without copying them.

    Stands for the (sum of rows, ...) array a shard folder's signal would be: indexing
    with an int, a slice or an index array reads only the parts those rows fall in (a
    column index is applied to each part before joining). ``np.asarray`` joins every part
    in memory: prefer :meth:`Trace.window` for a long trace.

    Parameters
    ----------
    parts : sequence of ndarray (or ConcatRows)
        Same trailing shape and dtype, e.g. memory-mapped ``.npy`` files.
    """

    def __init__(self, parts: Sequence[SignalArray]):
        if not parts:
            raise ValueError("ConcatRows needs at least one part, got none")
        tail, dtype = parts[0].shape[1:], parts[0].dtype
        for k, p in enumerate(parts):
            if p.shape[1:] != tail or p.dtype != dtype:
                raise ValueError(
                    f"part {k} has shape {p.shape} and dtype {p.dtype}; part 0 "
                    f"has {parts[0].shape} and {dtype}"
                )
        self.parts: list[SignalArray] = list(parts)
        self.offsets: np.ndarray = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape: tuple[int, ...] = (int(self.offsets[-1]), *tail)
        self.dtype: np.dtype = dtype
        self.ndim: int = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ConcatRows(shape={self.shape}, dtype={self.dtype}, parts={len(self.parts)})"

    def _slice(self, start: int, stop: int, rest: tuple) -> np.ndarray:
        first = max(int(np.searchsorted(self.offsets, start, side="right")) - 1, 0)
        pieces = []
        for k in range(first, len(self.parts)):
            lo, hi = self.offsets[k], self.offsets[k + 1]
            if lo >= stop:
                break
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            if b > a:
                pieces.append(np.asarray(self.parts[k][(slice(a, b), *rest)]))
        if not pieces:
            return np.asarray(self.parts[0][(slice(0, 0), *rest)])
        return pieces[0].copy() if len(pieces) == 1 else np.concatenate(pieces)

    def __getitem__(self, index: Any) -> Any:
        rows, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        n = len(self)
        if isinstance(rows, slice):
            start, stop, step = rows.indices(n)
            if step == 1:
                return self._slice(start, max(start, stop), rest)
            rows = np.arange(start, stop, step)
        if np.ndim(rows) == 0 and not isinstance(rows, np.ndarray | list):
            i = int(rows) + (n if int(rows) < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"row {rows} is out of range for {n} rows")
            k = int(np.searchsorted(self.offsets, i, side="right")) - 1
            return self.parts[k][(i - self.offsets[k], *rest)]
        idx = np.asarray(rows)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"row indices must lie in [0, {n}), got {idx.min()} to {idx.max()}")
        which = np.searchsorted(self.offsets, idx, side="right") - 1
        out = np.empty((idx.size, *self.shape[1:]), dtype=self.dtype)
        for k in np.unique(which):
            sel = which == k
            out[sel] = self.parts[k][idx[sel] - self.offsets[k]]
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self._slice(0, len(self), ())
        return whole if dtype is None else whole.astype(dtype, copy=False)


def check_dtype(dtype: str | np.dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is one of :data:`DTYPES`, else raise ValueError."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ValueError(f"a Trace stores its signals as one of {DTYPES}, got {dtype!r}")
    return np.dtype(name)


class _NpyAppender:
    """A ``.npy`` file of known shape written in row blocks, in order, without mapping it.

    Pages written through a memory map would count towards the process's memory.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any):
        self.path, self.shape, self.dtype, self.rows = path, shape, np.dtype(dtype), 0
        self.file = open(path, "wb")  # noqa: SIM115  (closed by close())
        np.lib.format.write_array_header_1_0(
            self.file,
            {
                "descr": np.lib.format.dtype_to_descr(self.dtype),
                "fortran_order": False,
                "shape": shape,
            },
        )

    def write(self, start: int, block: SignalArray) -> None:
        if start != self.rows:
            raise RuntimeError(
                f"{self.path.name}: rows must be written in order; expected "
                f"row {self.rows}, got {start}"
            )
        np.ascontiguousarray(block, dtype=self.dtype).tofile(self.file)
        self.rows += len(block)

    def close(self) -> None:
        self.file.close()
        if self.rows != self.shape[0]:
            raise RuntimeError(f"{self.path.name}: {self.rows} of {self.shape[0]} rows written")


class TraceWriter:
    """Build a Trace row block by row block, in memory or as a trace folder.

    Parameters
    ----------
    n_tokens : int
    units : dict of (layer, name) -> int
        The signals to hold and their widths.
    top_k : int
    dtype : {"float32", "float16"}, default "float32"
        Storage of the signals (converted block by block as they are written).
    folder : path, optional
        Write a trace folder (module docstring) instead of keeping the arrays in memory;
        blocks must then arrive in reading order. ``trace.json`` is written by
        :meth:`finish`, last.
    """

    def __init__(
        self,
        n_tokens: int,
        units: dict[tuple[int, str], int],
        top_k: int,
        *,
        dtype: str | np.dtype = "float32",
        folder: str | os.PathLike | None = None,
    ):
        self.n_tokens, self.dtype = int(n_tokens), check_dtype(dtype)
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "trace.json").unlink(missing_ok=True)  # incomplete until finish()
        self.signals = {
            key: self._new(f"signal__{key[0]}__{key[1]}", (self.n_tokens, u), self.dtype)
            for key, u in units.items()
        }
        self.topk_ids = self._new("topk_ids", (self.n_tokens, top_k), np.int32)
        self.topk_probs = self._new("topk_probs", (self.n_tokens, top_k), np.float32)
        self.next_prob = self._new("next_prob", (self.n_tokens,), np.float32)

    def _new(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray | _NpyAppender:
        if self.folder is None:
            return np.empty(shape, dtype=dtype)
        return _NpyAppender(self.folder / f"{name}.npy", shape, dtype)

    @staticmethod
    def _in_memory(target: np.ndarray | _NpyAppender) -> np.ndarray:
        assert isinstance(target, np.ndarray)  # a writer without a folder holds arrays
        return target

    @staticmethod
    def _put(target: np.ndarray | _NpyAppender, start: int, block: SignalArray) -> None:
        if isinstance(target, _NpyAppender):
            target.write(start, block)
        else:
            target[start : start + len(block)] = block

    def write_signals(self, layer: int, start: int, named: Mapping[str, SignalArray]) -> None:
        """Rows ``start:start + len(block)`` of each named signal of ``layer``."""
        for name, block in named.items():
            self._put(self.signals[(layer, name)], start, block)

    def adopt(self, layer: int, name: str, values: np.ndarray) -> bool:
        """Hold ``values`` as the whole of signal ``name`` of ``layer``, without a copy.

        Only an in-memory writer of the values' dtype adopts, and only a C-contiguous
        (n_tokens, units) array; returns whether it did (otherwise write the rows with
        :meth:`write_signals`). A recording's outputs are adopted this way: copying them
        into fresh memory cost ~40 % of recording a trained 1x256 LSTM (issue 19).
        """
        target = self.signals[(layer, name)]
        if (
            self.folder is not None
            or values.dtype != self.dtype
            or not values.flags.c_contiguous
            or values.shape != target.shape
        ):
            return False
        self.signals[(layer, name)] = values
        return True

    def write_outputs(
        self, start: int, topk_ids: SignalArray, topk_probs: SignalArray, next_prob: np.ndarray
    ) -> None:
        """Rows ``start:start + len(next_prob)`` of the next-token outputs."""
        self._put(self.topk_ids, start, topk_ids)
        self._put(self.topk_probs, start, topk_probs)
        self._put(self.next_prob, start, next_prob)

    def finish(
        self,
        tokens: list[str],
        ids: np.ndarray,
        *,
        model_name: str = "",
        n_seed: int = 0,
        meta: dict[str, Any] | None = None,
    ) -> Trace:
        """Return the finished Trace (a folder is closed, described and opened memory-mapped)."""
        if len(tokens) != self.n_tokens or len(ids) != self.n_tokens:
            raise ValueError(
                f"expected {self.n_tokens:,} tokens and ids, got {len(tokens):,} and {len(ids):,}"
            )
        ids = np.asarray(ids, dtype=np.int32)
        meta = dict(meta or {})
        if self.folder is None:
            return Trace(
                tokens=list(tokens),
                ids=ids,
                signals={key: self._in_memory(v) for key, v in self.signals.items()},
                topk_ids=self._in_memory(self.topk_ids),
                topk_probs=self._in_memory(self.topk_probs),
                next_prob=self._in_memory(self.next_prob),
                model_name=model_name,
                n_seed=n_seed,
                meta=meta,
            )
        for f in (*self.signals.values(), self.topk_ids, self.topk_probs, self.next_prob):
            if isinstance(f, _NpyAppender):
                f.close()
        np.save(self.folder / "ids.npy", ids)
        _write_json(self.folder / "tokens.json", list(tokens))
        _write_json(
            self.folder / "trace.json",
            {
                "format": TRACE_FORMAT,
                "version": 1,
                "model_name": model_name,
                "n_seed": int(n_seed),
                "n_tokens": self.n_tokens,
                "dtype": self.dtype.name,
                "signals": [[layer, name, f.shape[1]] for (layer, name), f in self.signals.items()],
                "meta": meta,
            },
        )
        return open_trace(self.folder)


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=_json_default), encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TraceError(
            f"cannot read the {what} {path.name}: {getattr(e, 'strerror', None) or e}"
        ) from None


def _open_folder(folder: Path, mmap: bool) -> Trace:
    info = _read_json(folder / "trace.json", "trace description")
    if info.get("format") != TRACE_FORMAT:
        raise TraceError(
            f"{folder.name}/trace.json is not an RNN Lens trace (format {info.get('format')!r})"
        )
    mode: Literal["r"] | None = "r" if mmap else None
    n = int(info["n_tokens"])

    def load(name: str) -> np.ndarray:
        try:
            a = np.load(folder / f"{name}.npy", mmap_mode=mode, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise TraceError(
                f"cannot read {folder.name}/{name}.npy: {getattr(e, 'strerror', None) or e}"
            ) from None
        if len(a) != n:
            raise TraceError(f"{folder.name}/{name}.npy has {len(a):,} rows, the trace {n:,}")
        return a

    signals: dict[tuple[int, str], SignalArray] = {
        (int(layer), name): load(f"signal__{layer}__{name}") for layer, name, _ in info["signals"]
    }
    tokens = _read_json(folder / "tokens.json", "token list")
    if len(tokens) != n:
        raise TraceError(f"{folder.name}/tokens.json holds {len(tokens):,} tokens, the trace {n:,}")
    meta = {
        **info.get("meta", {}),
        "storage": {"kind": "folder", "path": str(folder), "dtype": info["dtype"]},
    }
    return Trace(
        tokens=tokens,
        ids=np.asarray(load("ids")),
        signals=signals,
        topk_ids=load("topk_ids"),
        topk_probs=load("topk_probs"),
        next_prob=load("next_prob"),
        model_name=info.get("model_name", ""),
        n_seed=int(info.get("n_seed", 0)),
        meta=meta,
    )


def write_manifest(folder: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Write a shard folder's ``manifest.json`` (atomically; see lib.run.record.record_shards)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "manifest.json", {"format": SHARDS_FORMAT, "version": 1, **manifest})


#: shards of one recording a manifest may list
MAX_SHARDS = 10_000


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read a shard folder's manifest; TraceError if it is missing or not one."""
    manifest = _read_json(Path(folder) / "manifest.json", "shard manifest")
    where = f"{Path(folder).name}/manifest.json"
    if not isinstance(manifest, dict) or manifest.get("format") != SHARDS_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise TraceError(f"{where} is not an RNN Lens shard manifest (format {got!r})")
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not 1 <= len(shards) <= MAX_SHARDS:
        raise TraceError(f"{where} must list 1 to {MAX_SHARDS:,} shards")
    for s in shards:
        # a shard is a sub-folder named by record.py: never a path out of the trace folder
        ok = isinstance(s, dict) and isinstance(s.get("folder"), str)
        ok = ok and bool(re.fullmatch(r"shard-\d{1,6}", s["folder"]))
        ok = ok and all(isinstance(s.get(k), int) for k in ("index", "start", "stop"))
        if not ok:
            raise TraceError(f"{where} lists a shard that is not one RNN Lens writes: {s!r:.80}")
    return manifest


def _open_shards(folder: Path, mmap: bool) -> Trace:
    manifest = read_manifest(folder)
    shards = manifest["shards"]
    missing = [s["index"] for s in shards if not (folder / s["folder"] / "trace.json").is_file()]
    if missing:
        raise TraceError(
            f"{folder.name} is missing {len(missing)} of {len(shards)} shards (indices "
            f"{missing[:10]}{' ...' if len(missing) > 10 else ''}): record them with "
            f"`python -m lib record --shards {len(shards)} --shard-index K`, or wait for "
            f"the running recordings to finish"
        )
    parts = [_open_folder(folder / s["folder"], mmap) for s in shards]
    for s, part in zip(shards, parts, strict=True):
        if len(part) != s["stop"] - s["start"] or part.model_name != manifest["model_name"]:
            raise TraceError(
                f"shard {s['index']} ({folder.name}/{s['folder']}) holds {len(part):,} "
                f"tokens of model {part.model_name!r}; the manifest expects "
                f"{s['stop'] - s['start']:,} of {manifest['model_name']!r}"
            )

    def join(arrays: list[SignalArray]) -> SignalArray:
        return arrays[0] if len(arrays) == 1 else ConcatRows(arrays)

    first = parts[0]
    return Trace(
        tokens=[tok for p in parts for tok in p.tokens],
        ids=np.concatenate([np.asarray(p.ids) for p in parts]),
        signals={key: join([p.signals[key] for p in parts]) for key in first.signals},
        topk_ids=join([p.topk_ids for p in parts]),
        topk_probs=join([p.topk_probs for p in parts]),
        next_prob=np.concatenate([np.asarray(p.next_prob) for p in parts]),
        model_name=manifest["model_name"],
        meta={
            "storage": {
                "kind": "shards",
                "path": str(folder),
                "dtype": manifest["dtype"],
                "n_shards": len(parts),
            },
            "shards": [
                {**s, **p.meta.get("shard", {}), "record": p.meta.get("record", {})}
                for s, p in zip(shards, parts, strict=True)
            ],
        },
    )


def open_trace(path: str | os.PathLike, *, mmap: bool = True) -> Trace:
    """Open a saved Trace: a ``.npz`` file, a trace folder or a shard folder.

    Parameters
    ----------
    path : str or path
    mmap : bool, default True
        Memory-map the arrays of folders (read on demand) instead of loading them.

    Raises
    ------
    TraceError
        The path does not exist, is none of the three, or a folder is incomplete (a shard
        still being recorded, a file of the wrong length).
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        try:
            return Trace.load(path)
        except (OSError, ValueError, KeyError) as e:
            raise TraceError(
                f"cannot read the trace file {path.name}: {getattr(e, 'strerror', None) or e}"
            ) from None
    if path.is_dir() and (path / "manifest.json").is_file():
        return _open_shards(path, mmap)
    if path.is_dir() and (path / "trace.json").is_file():
        return _open_folder(path, mmap)
    if path.is_dir() and any(path.glob("signal__*.npy")):
        raise TraceError(
            f"{path.name} has no trace.json: its recording has not finished (or was interrupted)"
        )
    raise TraceError(
        f"{path.name} is not a saved Trace: expected a .npz file, a trace folder "
        f"(with trace.json) or a shard folder (with manifest.json)"
    )


def traces_root() -> Path:
    """Return where the app may open recorded traces.

    ``$RNN_LENS_TRACES``, else ``traces/`` of the repository (model folders in the
    registry are allowed too).
    """
    return Path(os.environ.get("RNN_LENS_TRACES") or ROOT / "traces")


def resolve_trace_path(path: str | os.PathLike, roots: Sequence[str | os.PathLike]) -> Path:
    """Resolve ``path`` (symbolic links and ``..`` included) if it lies under one of ``roots``.

    A relative path is taken relative to the first root. Messages quote an absolute path
    by its last part and name the roots by their folder names, never by the server's paths.

    Raises
    ------
    TraceError
        An empty path; one holding a NUL character, over 1,024 characters, with a part over
        255 bytes (NAME_MAX) or characters no file name holds; one that cannot be resolved
        (a loop of links); one outside every root (say, ``/etc`` or ``../..``).
    """

    def problem(text: str) -> str | None:
        if "\x00" in text:
            return "it holds a NUL character"
        if len(text) > 1024:
            return f"it has {len(text):,} characters, over the 1,024 a path may have"
        try:
            longest = max(len(part) for part in os.fsencode(text).split(b"/"))
        except UnicodeError:
            return "it holds characters that no file name can hold"
        if longest > 255:
            return f"a part has {longest:,} bytes, over the 255 of a file name"
        return None

    text = os.fsdecode(os.fspath(path)).strip()
    if not text:
        raise TraceError("give the path of a trace file or folder")
    last = text.rstrip("/").rpartition("/")[2] if os.path.isabs(text) else text
    shown = repr(last[:60] + ("…" if len(last) > 60 else ""))
    if why := problem(text):
        raise TraceError(f"the trace path {shown} cannot be used: {why}")
    try:
        folders = [Path(r).resolve() for r in roots]
        raw = Path(text).expanduser()
        resolved = (raw if raw.is_absolute() else folders[0] / raw).resolve()
    except (OSError, ValueError, RuntimeError) as e:  # RuntimeError: a loop of links
        why = getattr(e, "strerror", None) or "a loop of symbolic links"
        raise TraceError(f"the trace path {shown} cannot be resolved: {why}") from None
    if not any(resolved == r or resolved.is_relative_to(r) for r in folders):
        raise TraceError(
            f"{shown} lies outside the folders this server opens traces from (the "
            f"{', '.join(Path(r).name for r in roots)} folders; an operator can set "
            "RNN_LENS_TRACES to another folder)"
        )
    return resolved
