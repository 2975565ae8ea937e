"""Large output arrays of a recording: mapped in one call, and recycled between recordings.

A recording writes every signal of every token: 100,000 tokens of a 1x256 LSTM are 600 MB
(h, i, f, o, g, c). On the sandboxed VM these recordings are measured on, memory is
expensive the first time it is touched: a large ``np.empty`` is mapped page by page as it
is written, 3-8 s a GB under load; one ``mmap`` call with ``MAP_POPULATE`` maps it in
about 0.4 s a GB (600 MB: 0.21-0.27 s); and memory freed is handed back to the host within
seconds (free page reporting), so a server paid that again at every recording. On the
trained demo LSTM, mapping the output was 0.44-0.52 s of a 0.87 s recording (issue 19).

So the arrays of at least :data:`PREFAULT_MIN_BYTES` come from :func:`prefaulted_empty`,
and when such an array is freed (its Trace dropped, a cache entry evicted), its mapping is
kept for the next recording of about the same size instead of being handed back: the
same idea as the caching allocators of TensorFlow and PyTorch. At most
``recycled_memory_mb`` (lib.limits, 2 GB by default) is kept, for at most
:data:`KEEP_SECONDS` after it was freed; an array is served from a kept mapping between
its size and :data:`MAX_SLACK` times it. A recycled array holds the old values (as
``np.empty`` may): every caller writes all of it.
"""

from __future__ import annotations

import contextlib
import mmap
import sys
import threading
import time
import weakref
from typing import Any

import numpy as np

#: arrays of at least this many bytes are mapped whole, and recycled when freed
PREFAULT_MIN_BYTES = 16 * 2**20
#: a mapping freed this many seconds ago is handed back to the system
KEEP_SECONDS = 120.0
#: an array may take a kept mapping up to this many times its size
MAX_SLACK = 1.5
_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0x8000 if sys.platform.startswith("linux") else 0)


class _Kept:
    """The mappings of freed arrays, oldest first: [(bytes, mapping, when freed)]."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # a finalizer may run while this thread holds it
        self.items: list[tuple[int, mmap.mmap, float]] = []
        self.timer: threading.Timer | None = None
        self.served = 0  # arrays served from a kept mapping (tests, benchmarks)
        self.budget = 0  # bytes; read from lib.limits at every take, never in a finalizer

    def read_budget(self) -> None:
        from lib.limits import limits

        # a broken rnn_lens.toml (LimitError): the pages say so; keep the last budget
        with contextlib.suppress(ValueError):
            self.budget = max(0, int(limits().recycled_memory_mb)) * 2**20

    def take(self, nbytes: int) -> mmap.mmap | None:
        """Take out the smallest kept mapping of ``nbytes`` to MAX_SLACK times that."""
        self.read_budget()
        with self.lock:
            self.expire()
            most = nbytes * MAX_SLACK
            fits = [i for i, (n, _, _) in enumerate(self.items) if nbytes <= n <= most]
            if not fits:
                return None
            best = min(fits, key=lambda i: self.items[i][0])
            self.served += 1
            return self.items.pop(best)[1]

    def give(self, nbytes: int, buf: mmap.mmap) -> None:
        """Keep a freed array's mapping (the oldest ones go when over the budget)."""
        with self.lock:
            budget = self.budget
            if nbytes > budget:
                return  # dropped: unmapped with its last reference
            self.items.append((nbytes, buf, time.monotonic()))
            while sum(n for n, _, _ in self.items) > budget:
                self.items.pop(0)
            if self.timer is None:
                self.timer = threading.Timer(KEEP_SECONDS, self.on_timer)
                self.timer.daemon = True
                self.timer.start()

    def expire(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.items = [item for item in self.items if now - item[2] < KEEP_SECONDS]

    def on_timer(self) -> None:
        with self.lock:
            self.timer = None
            self.expire()
            if self.items:  # look again when the oldest left is due
                wait = KEEP_SECONDS - (time.monotonic() - self.items[0][2])
                self.timer = threading.Timer(max(1.0, wait), self.on_timer)
                self.timer.daemon = True
                self.timer.start()

    def clear(self) -> None:
        """Hand every kept mapping back now."""
        with self.lock:
            self.items.clear()

    def kept_bytes(self) -> int:
        with self.lock:
            return sum(n for n, _, _ in self.items)


KEPT = _Kept()


def prefaulted_empty(shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """Return an uninitialised C-contiguous array whose memory is already mapped.

    Arrays of at least :data:`PREFAULT_MIN_BYTES` take a kept mapping of a freed one when
    there is one of about their size, else a fresh one mapped in one ``mmap`` call with
    ``MAP_POPULATE`` (module docstring); smaller ones, and systems without
    ``MAP_POPULATE``, get ``np.empty``. When the array (and every view of it) is freed,
    its mapping is kept for the next (or handed back when over the budget).

    Examples
    --------
    >>> a = prefaulted_empty((2, 3))
    >>> a.shape, a.dtype
    ((2, 3), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes < PREFAULT_MIN_BYTES or not _MAP_POPULATE:
        return np.empty(shape, dtype)
    buf = KEPT.take(nbytes)
    if buf is None:
        try:
            flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_POPULATE
            buf = mmap.mmap(-1, nbytes, flags=flags)
        except (OSError, ValueError, OverflowError):
            return np.empty(shape, dtype)
    root = np.frombuffer(buf, dtype, count=count)
    weakref.finalize(root, KEPT.give, len(buf), buf).atexit = False
    return root.reshape(shape)
