"""One writer per model name, across the threads and processes of one machine.

A training job of the app, a ``python -m lib train`` in a terminal and an archive import
may all aim at one name. Each writer holds ``<registry>/.locks/<name>.lock`` for as long
as it writes (a whole training run, one save, one import); a second writer is refused at
once with a message that says who holds the name. The lock is ``fcntl.flock`` on that
file, so the kernel releases it when its process dies: a killed training never leaves a
name locked. Within one process a thread may take the lock it holds again (a training
saves after every epoch); another thread is refused like another process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lib.model.errors import RegistryError

LOCKS = ".locks"


class NameLocked(RegistryError):
    """Another writer holds this model name; the message says which."""


_held: dict[str, tuple[int, int, int]] = {}  # lock path -> (fd, thread id, depth)
_guard = threading.Lock()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        return f"{info['what']} (process {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another writer"


@contextlib.contextmanager
def name_lock(root: str | os.PathLike, name: str, what: str) -> Iterator[None]:
    """Hold the write lock of model ``name`` in registry ``root`` for the ``with`` block.

    Parameters
    ----------
    root : path-like
        The registry folder.
    name : str
        A validated model name (it becomes a file name).
    what : str
        What the writer does, for the refusal another writer sees ("training",
        "import", "saving").

    Raises
    ------
    NameLocked
        Another process, or another thread of this one, holds the name.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> with name_lock(root, "m", "training"):
    ...     with name_lock(root, "m", "saving"):  # the same thread may nest
    ...         pass
    """
    folder = Path(root) / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / f"{name}.lock")
    me = threading.get_ident()
    with _guard:
        if path in _held:
            fd, owner, depth = _held[path]
            if owner != me:
                raise NameLocked(
                    f"The model {name!r} is being written by {_holder(fd)} in this server; "
                    "wait until it has finished or pick another name."
                )
            _held[path] = (fd, owner, depth + 1)
            nested = True
        else:
            nested = False
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise NameLocked(
                    f"The model {name!r} is being written by {holder}; wait until it has "
                    "finished or pick another name."
                ) from None
            stamp = {"what": what, "pid": os.getpid(), "since": time.strftime("%H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(stamp).encode("utf-8"), 0)
            _held[path] = (fd, me, 1)
    try:
        yield
    finally:
        with _guard:
            fd, owner, depth = _held[path]
            if nested:
                _held[path] = (fd, owner, depth - 1)
            else:
                del _held[path]
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def held_elsewhere(root: str | os.PathLike, name: str) -> str | None:
    """Who holds ``name`` now if another writer (process or thread) does, else None.

    Returns a description such as ``"training (process 4711, since 14:02:11)"``.
    """
    path = Path(root) / LOCKS / f"{name}.lock"
    with _guard:
        if str(path) in _held:
            fd, owner, _ = _held[str(path)]
            return None if owner == threading.get_ident() else _holder(fd)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    finally:
        os.close(fd)  # closing releases a lock just taken
    return None
