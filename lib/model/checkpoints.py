"""Per-epoch checkpoints (``checkpoints/epoch-NNN.weights.npz``) checked before they are read.

A checkpoint is ``np.savez(path, *model.get_weights())``: a zip of ``arr_0.npy``,
``arr_1.npy``, ... . Before any array is read, :func:`check` compares the file's size,
its members and each member's ``.npy`` header (shape and dtype, read with
``numpy.lib.format``; the header itself is bounded) with the weights of the model it
belongs to, so a truncated, foreign or oversized file is refused with a message and a
1 GB array hidden in a small file is never allocated.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from lib.model.archive import READ_ERRORS, ArchiveError, check_members, describe, mb

if TYPE_CHECKING:
    import keras

Weights = list[tuple[tuple[int, ...], np.dtype]]
"""Expected (shape, dtype) of each array, in ``model.get_weights()`` order."""

MAX_HEADER = 10_000
"""Bytes of one ``.npy`` header (NumPy's own default bound)."""
SLACK_PER_ARRAY = MAX_HEADER + 512
"""Bytes a checkpoint may hold per array beyond its data (npy header, zip headers)."""


class CheckpointError(ArchiveError):
    """A checkpoint file that does not hold the weights of its model."""


def model_weights(model: keras.Model) -> Weights:
    """Return the (shape, dtype) of each of ``model.get_weights()``, without copying them."""
    return [(tuple(int(n) for n in v.shape), np.dtype(v.dtype)) for v in model.weights]


def float32(shapes: list[tuple[int, ...]]) -> Weights:
    """Return expected weights of these shapes, all float32 (as RNN Lens trains and saves)."""
    return [(tuple(s), np.dtype("float32")) for s in shapes]


def max_bytes(expected: Weights) -> int:
    """Return the most bytes a checkpoint of these weights may take on disk."""
    data = sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in expected)
    return data + SLACK_PER_ARRAY * len(expected) + 4096


def check(source: Path | IO[bytes], expected: Weights, what: str, size: int | None = None) -> None:
    """Refuse a checkpoint whose size, members or array headers do not fit ``expected``.

    Parameters
    ----------
    source : Path or binary file
        The ``.npz`` file, or a seekable stream of it (a member of an uploaded archive).
    expected : Weights
        The model's weights (:func:`model_weights` or :func:`float32`).
    what : str
        The checkpoint's name in messages (never a path).
    size : int, optional
        The stream's size (a path's is read from the file system).

    Raises
    ------
    CheckpointError
        Says what was found and what the model needs.
    """
    size = os.path.getsize(source) if isinstance(source, Path) else size
    most = max_bytes(expected)
    if size is None or size > most:
        raise CheckpointError(
            f"{what} is {mb(size or 0)}, more than the {mb(most)} the model's weights take; "
            f"refused."
        )
    try:
        with zipfile.ZipFile(source) as z:
            _check_members(z, expected, what)
    except ArchiveError:
        raise
    except READ_ERRORS as e:
        raise CheckpointError(f"{what} is truncated or corrupt ({describe(e)}).") from None


def _check_members(z: zipfile.ZipFile, expected: Weights, what: str) -> None:
    infos = z.infolist()
    names = {i.filename for i in infos}
    want = {f"arr_{k}.npy" for k in range(len(expected))}
    if names != want:
        extra, lacking = sorted(names - want), sorted(want - names)
        raise CheckpointError(
            f"{what} holds {len(names)} arrays, the model has {len(expected)} weights "
            f"(unexpected: {extra[:4]}, missing: {lacking[:4]})."
        )
    check_members(infos, what, max_bytes(expected))
    for info in infos:
        k = int(info.filename[4:-4])
        shape, dtype = expected[k]
        with z.open(info) as f:
            got_shape, got_dtype, offset = _header(f)
        if got_shape != shape or got_dtype != dtype:
            raise CheckpointError(
                f"{what}: array {k} is {got_dtype} {got_shape}, the model's weight {k} is "
                f"{dtype} {shape}; refused."
            )
        if info.file_size != offset + int(np.prod(shape)) * dtype.itemsize:
            raise CheckpointError(
                f"{what}: array {k} holds {info.file_size - offset:,} bytes of data, a "
                f"{dtype} {shape} array takes {int(np.prod(shape)) * dtype.itemsize:,}."
            )


def _header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of an ``.npy`` stream, from its bounded header."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER)
    else:
        raise ValueError(f"npy format version {version} is not read")
    return tuple(int(n) for n in shape), np.dtype(dtype), f.tell()


def read(path: Path, expected: Weights, what: str) -> list[np.ndarray]:
    """Check a checkpoint (:func:`check`), then read its arrays in ``expected`` order.

    Raises
    ------
    CheckpointError
        The file does not fit ``expected``, or is damaged (bad CRC, truncated data).
    """
    check(path, expected, what)
    try:
        with zipfile.ZipFile(path) as z:
            out = []
            for k in range(len(expected)):
                with z.open(f"arr_{k}.npy") as f:
                    out.append(
                        np.lib.format.read_array(f, allow_pickle=False, max_header_size=MAX_HEADER)
                    )
            return out
    except READ_ERRORS as e:
        raise CheckpointError(f"{what} is truncated or corrupt ({describe(e)}).") from None
