"""Hostile pre-trained vector files (issue 18, class 9): a small gzip that inflates past
the server's bounds, or holds one enormous line, is refused with a message before it is
held in memory; peak memory is measured in a subprocess, never by wall clock."""

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lib.data.embeddings import MAX_LINE_BYTES, VectorsError, read_vectors, sniff
from lib.limits import ROOT

#: a child process reading a hostile file may peak at this (Python + NumPy are ~40 MB)
MAX_RSS_MB = 200


def write_gzip(path, chunk: bytes, times: int, head: bytes = b"") -> None:
    """Stream ``head + chunk * times`` into a gzip, never holding it whole."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        for _ in range(times):
            f.write(chunk)


def in_child(call: str, path, env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run ``call`` (sniff or read_vectors) on ``path`` in a fresh interpreter.

    Returns the VectorsError message (empty if none) and the child's own peak RSS in MB:
    VmHWM of its memory map (ru_maxrss would include the test process's RSS at the fork).
    """
    code = (
        "import json, sys\n"
        "from lib.data.embeddings import VectorsError, read_vectors, sniff\n"
        "try:\n"
        f"    {call}(sys.argv[1])\n"
        "    message = ''\n"
        "except VectorsError as e:\n"
        "    message = str(e)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "rss = int(status.split()[0]) / 1024\n"
        "print(json.dumps({'message': message, 'rss_mb': rss}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["message"], out["rss_mb"]


def assert_no_server_path(message: str, tmp_path) -> None:
    assert str(tmp_path) not in message and str(ROOT) not in message, message


@pytest.mark.parametrize("call", ["sniff", "read_vectors"])
def test_a_gzip_of_one_enormous_line_is_refused_unread(tmp_path, call):
    path = tmp_path / "one-line.txt.gz"
    write_gzip(path, b"a" * 2**20, 256)  # 256 MB without a newline, 0.26 MB compressed
    assert path.stat().st_size < 2**20
    message, rss_mb = in_child(call, path)
    assert "one-line.txt.gz, line 1: longer than 64 KB, the longest line read" in message
    assert "it starts 'aaaa" in message and "not a vectors file" in message
    assert rss_mb < MAX_RSS_MB, f"peak RSS {rss_mb:.0f} MB"
    assert_no_server_path(message, tmp_path)


@pytest.mark.parametrize("call", ["sniff", "read_vectors"])
def test_a_long_line_in_a_plain_file_is_refused_too(tmp_path, call):
    path = tmp_path / "long.txt"
    path.write_bytes(b"word " + b"0.5 " * (MAX_LINE_BYTES // 4) + b"\n")
    with pytest.raises(VectorsError, match=r"^long\.txt, line 1: longer than 64 KB"):
        (sniff if call == "sniff" else read_vectors)(path)


def test_a_line_within_the_bound_is_read(tmp_path):
    dim = (MAX_LINE_BYTES - 100) // 4  # "0.5 " per value: just under 64 KB
    path = tmp_path / "wide.txt"
    path.write_bytes(b"word" + b" 0.5" * dim + b"\n")
    assert sniff(path).dim == dim
    v = read_vectors(path)
    assert v.matrix.shape == (1, dim) and v.matrix.dtype == np.float32


def test_a_gzip_bomb_may_not_inflate_past_its_ratio(tmp_path):
    # 64 MB of zeros in valid GloVe lines, 0.06 MB compressed: an upload of max_upload_mb
    # (20) may inflate to max_vectors_mb (8192), so this one to 8192 / 20 = 410 times
    # its size, some 26 MB.
    path = tmp_path / "bomb.txt.gz"
    line = b"the" + b" 0" * 511 + b"\n"
    write_gzip(path, line * 1024, 64)
    size = path.stat().st_size
    assert size < 0.2 * 2**20
    limits = {"RNN_LENS_MAX_UPLOAD_MB": "20", "RNN_LENS_MAX_VECTORS_MB": "8192"}
    message, rss_mb = in_child("read_vectors", path, limits)
    assert message.startswith("bomb.txt.gz: "), message
    assert "410 times its compressed" in message
    assert "max_vectors_mb / max_upload_mb = 8,192 MB / 20 MB" in message
    read_mb = float(message.split(": ")[1].split(" MB")[0].replace(",", ""))
    allowed_mb = 8192 / 20 * size / 2**20
    assert allowed_mb - 0.1 <= read_mb < allowed_mb + 0.1 < 64  # stopped at the bound
    assert rss_mb < MAX_RSS_MB, f"peak RSS {rss_mb:.0f} MB"
    assert_no_server_path(message, tmp_path)


def test_reading_stops_at_max_vectors_mb(tmp_path, monkeypatch):
    # random values compress 2-3 times only: the gzip ratio allows more than 1 MB, so
    # max_vectors_mb is the bound that refuses
    rng = np.random.default_rng(0)
    rows = [
        f"w{i} " + " ".join(f"{x:.5f}" for x in rng.normal(size=50)) + "\n" for i in range(6000)
    ]
    path = tmp_path / "big.txt.gz"
    path.write_bytes(gzip.compress("".join(rows).encode(), compresslevel=9))
    assert len("".join(rows)) > 2 * 2**20
    monkeypatch.setenv("RNN_LENS_MAX_VECTORS_MB", "1")
    with pytest.raises(VectorsError) as e:
        read_vectors(path, keep={"w1"})
    message = str(e.value)
    assert message.startswith("big.txt.gz: 1.0 MB read by line ")
    assert message.endswith("over this server's limit of 1 MB once decompressed (max_vectors_mb).")
    assert_no_server_path(message, tmp_path)
    assert sniff(path).dim == 50  # the first line is within every bound
    monkeypatch.setenv("RNN_LENS_MAX_VECTORS_MB", "8")
    assert read_vectors(path, keep={"w1", "w5999"}).words == ["w1", "w5999"]


def test_the_limit_applies_to_plain_files(tmp_path, monkeypatch):
    path = tmp_path / "plain.txt"
    path.write_bytes(b"the 0.1 0.2\n" * (2**20 // 12 + 10))
    monkeypatch.setenv("RNN_LENS_MAX_VECTORS_MB", "1")
    with pytest.raises(VectorsError, match=r"^plain\.txt: 1\.0 MB read by line 87,38\d, over"):
        read_vectors(path)


def test_a_corrupt_or_truncated_gzip_is_a_message(tmp_path):
    data = gzip.compress(b"the 0.1 0.2\n" * 10_000)
    truncated = tmp_path / "cut.txt.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorsError, match=r"^cut\.txt\.gz cannot be read: Compressed file ended"):
        read_vectors(truncated)
    corrupt = tmp_path / "bad.txt.gz"
    corrupt.write_bytes(data[:20] + bytes(200) + data[220:])
    with pytest.raises(VectorsError, match=r"^bad\.txt\.gz cannot be read: "):
        read_vectors(corrupt)
