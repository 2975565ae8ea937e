"""Hostile model archives and checkpoints are refused before the expensive work.

Each test builds its hostile input in tmp_path from the small TINY model (conftest
``tiny_registry``): nested zip bombs, configs that declare huge or mismatched models,
checkpoints with lying headers or junk, damaged zips. Each refusal is a RegistryError or
LimitError with a message, and the registry folder is unchanged afterwards. Memory is
measured as the peak RSS of a subprocess running the import.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from lib.limits import LimitError
from lib.model import registry as reg
from lib.model.registry import RegistryError
from tests.helpers import ROOT, TINY

#: peak RSS a refused import may reach: a valid import of TINY peaks at ~630 MB (TensorFlow),
#: these refusals at 30-80 MB, as they come before Keras is imported
MAX_RSS_MB = 400


# --- building archives ------------------------------------------------------------------------


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _files(root) -> dict[str, bytes]:
    folder = root / TINY
    return {n: (folder / n).read_bytes() for n in ("model.keras", "vocab.json", "meta.json")}


def _with_config(files: dict, edit) -> dict:
    """``files`` with model.keras's config.json changed by ``edit(config)``."""
    inner = _unzip(files["model.keras"])
    config = json.loads(inner["config.json"])
    edit(config)
    inner["config.json"] = json.dumps(config).encode()
    return {**files, "model.keras": _zip(inner, zipfile.ZIP_STORED)}


def _with_spec(files: dict, **changes) -> dict:
    meta = json.loads(files["meta.json"])
    meta["spec"].update(changes)
    return {**files, "meta.json": json.dumps(meta).encode()}


def _layers(config: dict, cls: str) -> list[dict]:
    return [layer for layer in config["config"]["layers"] if layer["class_name"] == cls]


def _patch_size(data: bytes, member: str, size: int) -> bytes:
    """Make the central directory of zip ``data`` declare ``size`` bytes for ``member``."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack("<H", out[at + 28 : at + 30])[0]
        if out[at + 46 : at + 46 + n] == member.encode():
            out[at + 24 : at + 28] = struct.pack("<I", size)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{member} not in the zip")


def _npz(arrays: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *arrays)
    return buf.getvalue()


def _npy_header_only(shape: tuple[int, ...], data: bytes = b"") -> bytes:
    """An .npy member whose header declares ``shape`` float32 but holds only ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue() + data


def _weights(root) -> list[np.ndarray]:
    return reg.load(TINY, root=root).model.get_weights()


def _refused(root, data: bytes, match: str, error=RegistryError) -> None:
    """Import ``data`` expecting ``error`` matching ``match``; the registry is unchanged."""
    before = sorted(os.listdir(root))
    with pytest.raises(error, match=match) as caught:
        reg.import_archive(data, "hostile", root=root)
    assert str(root) not in str(caught.value)  # never a server path
    assert sorted(os.listdir(root)) == before


def _import_in_subprocess(tmp_path, root, data: bytes) -> tuple[str, float, bool]:
    """Run the import in a fresh interpreter: (its message, peak RSS in MB, Keras loaded)."""
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    code = (
        "import sys\n"
        "from lib.model import registry\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        "try:\n"
        f"    registry.import_archive(data, 'hostile', root={str(root)!r})\n"
        "    print('imported')\n"
        "except ValueError as e:\n"
        "    print(type(e).__name__, e)\n"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
        "print('KERAS' if 'keras' in sys.modules else 'NO-KERAS')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # the child's own peak RSS (VmHWM, in KB): getrusage's ru_maxrss would include the
    # pytest process's RSS at fork (TensorFlow loaded), carried across exec
    lines = done.stdout.strip().splitlines()
    return "\n".join(lines[:-2]), int(lines[-2]) / 1024, lines[-1] == "KERAS"


# --- 1. small outside, huge inside ------------------------------------------------------------


def test_nested_weights_bomb_is_refused_by_its_ratio_in_bounded_memory(tiny_registry, tmp_path):
    files = _files(tiny_registry)
    inner = _unzip(files["model.keras"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", inner["metadata.json"])
        z.writestr("config.json", inner["config.json"])
        # 50 MB of zeros deflate to ~50 KB (1000:1); Keras would read all of them
        z.writestr("model.weights.h5", bytes(50 * 2**20), zipfile.ZIP_DEFLATED)
    bomb = _zip({**files, "model.keras": buf.getvalue()}, zipfile.ZIP_STORED)
    assert len(bomb) < 200_000
    _refused(tiny_registry, bomb, r"'model.weights.h5' in model.keras declares 50 MB .* ratio")
    message, rss_mb, keras_loaded = _import_in_subprocess(tmp_path, tiny_registry, bomb)
    assert "ArchiveError" in message and "200:1" in message
    assert not keras_loaded and rss_mb < MAX_RSS_MB


def test_nested_member_declaring_2_gb_is_refused(tiny_registry):
    files = _files(tiny_registry)
    inner = _unzip(files["model.keras"])
    keras_zip = _zip(inner, zipfile.ZIP_DEFLATED)  # Keras stores; a crafted one deflates
    lying = _patch_size(keras_zip, "model.weights.h5", 2 * 2**30)
    _refused(
        tiny_registry,
        _zip({**files, "model.keras": lying}),
        r"'model.weights.h5' in model.keras declares 2,048 MB compressed into",
    )


def test_model_keras_declaring_more_than_its_spec_needs_is_refused_before_it_is_read(
    tiny_registry,
):
    # 6 MB of model.keras for a 1 x 16 LSTM (a crafted one may declare 2 GB): refused by
    # the spec's parameter bound before the nested zip is decompressed even once
    files = _files(tiny_registry)
    inner = {**_unzip(files["model.keras"]), "metadata.json": os.urandom(6 * 2**20)}
    padded = _zip(inner, zipfile.ZIP_STORED)
    data = _zip({**files, "model.keras": padded}, zipfile.ZIP_STORED)
    _refused(tiny_registry, data, r"model.keras declares 6\.\d MB, more than the \d\.\d MB")


def test_outer_member_bomb_is_refused(tiny_registry):
    files = _files(tiny_registry)
    data = _zip({**files, "vocab.json": b" " * (30 * 2**20)})
    _refused(tiny_registry, data, r"'vocab.json' in the archive declares 30 MB .* 200:1")


def test_nested_members_count_towards_max_unpacked_mb(registry, monkeypatch):
    # the demo's model.keras is 3.8 MB: the outer archive fits 6 MB, with its nested
    # members (another 3.8 MB) it does not
    monkeypatch.setenv("RNN_LENS_MAX_UNPACKED_MB", "6")
    demo = "demo-ref-char-lstm"
    data = reg.export_archive(demo, root=registry)
    _refused(registry, data, r"model.keras declares 3.8 MB once unpacked, over the 2.\d MB left")
    monkeypatch.setenv("RNN_LENS_MAX_UNPACKED_MB", "3")
    _refused(registry, data, r"the archive declares 3.8 MB once unpacked, .*max_unpacked_mb")


def test_archive_size_cap_is_the_servers_max_archive_mb(tiny_registry, monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_ARCHIVE_MB", "1")
    files = _files(tiny_registry)
    data = _zip({**files, "vocab.json": os.urandom(2 * 2**20)}, zipfile.ZIP_STORED)
    _refused(tiny_registry, data, r"archive is 2.0 MB, over .* 1 MB \(max_archive_mb\)", LimitError)


# --- 2. the config must be the model the spec describes ---------------------------------------


def _huge_embedding(config):
    emb = _layers(config, "Embedding")[0]["config"]
    emb["input_dim"], emb["output_dim"] = 260_000, 1024


def test_config_declaring_a_huge_embedding_is_refused(tiny_registry):
    data = _zip(_with_config(_files(tiny_registry), _huge_embedding))
    _refused(tiny_registry, data, r"config.json declares Embedding\(260,000 x 1,024\)")


def test_huge_model_agreeing_with_spec_and_vocab_is_refused_before_keras(tiny_registry, tmp_path):
    """An attacker who makes spec, vocab.json and config.json agree on a 270 M-parameter
    model still cannot ship its 1 GB of weights in a small upload."""
    files = _with_spec(_files(tiny_registry), embedding=1024)
    tokens = ["<unk>"] + [f"t{k}" for k in range(259_999)]
    vocab = json.loads(files["vocab.json"])
    vocab["vocab"] = {"tokens": tokens, "counts": [1] * len(tokens)}
    files["vocab.json"] = json.dumps(vocab).encode()

    def edit(config):
        _huge_embedding(config)
        _layers(config, "Dense")[0]["config"]["units"] = 260_000

    data = _zip(_with_config(files, edit))
    _refused(tiny_registry, data, r"model.weights.h5 .* less than the 1,0\d\d,\d+,\d+ bytes")
    message, rss_mb, keras_loaded = _import_in_subprocess(tmp_path, tiny_registry, data)
    assert "float32 parameters config.json declares" in message
    assert not keras_loaded and rss_mb < MAX_RSS_MB


def test_spec_and_config_that_disagree_are_refused(tiny_registry):
    def lstm_700(config):
        _layers(config, "LSTM")[0]["config"]["units"] = 700

    files = _with_spec(_with_config(_files(tiny_registry), lstm_700), cell="rnn", units=256)
    _refused(
        tiny_registry,
        _zip(files),
        r"config.json builds 3 layers \[Embedding\(8\), LSTM\(700\), Dense\(\d+\)\], but "
        r"meta.json's spec says 1 x SimpleRNN\(256\)",
    )


def test_a_config_deeper_or_wider_than_the_limits_is_refused(tiny_registry):
    def deep(config):
        layers = config["config"]["layers"]
        lstm = _layers(config, "LSTM")[0]
        at = layers.index(lstm)
        layers[at:at] = [json.loads(json.dumps(lstm)) for _ in range(4)]

    files = _files(tiny_registry)
    _refused(
        tiny_registry,
        _zip(_with_config(files, deep)),
        r"number of layers is 5, over this server's limit of 3 \(max_layers",
        LimitError,
    )

    def wide(config):
        _layers(config, "LSTM")[0]["config"]["units"] = 5000

    _refused(
        tiny_registry,
        _zip(_with_config(files, wide)),
        r"number of units is 5,000, over .* \(max_units",
        LimitError,
    )


def test_a_layer_rnn_lens_never_builds_is_refused(tiny_registry):
    def add_conv(config):
        config["config"]["layers"].insert(2, {"class_name": "Conv1D", "config": {"filters": 9}})

    data = _zip(_with_config(_files(tiny_registry), add_conv))
    _refused(tiny_registry, data, r"a layer of class 'Conv1D', which RNN Lens never builds")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("task", ["lm", "classifier"])
def test_config_shapes_are_the_weights_keras_builds(cell, task):
    from lib.model.archive import config_shapes
    from lib.model.build import build
    from lib.model.spec import ModelSpec

    extra = {"n_classes": 3, "max_len": 10} if task == "classifier" else {}
    spec = ModelSpec(cell=cell, layers=2, units=6, embedding=4, dropout=0.1, task=task, **extra)
    model = build(spec, 11)
    config = json.loads(json.dumps(model.get_config()))
    config = {"class_name": "Functional", "config": config}
    shapes = config_shapes(config, spec, 11, 2**30)
    assert shapes == [tuple(w.shape) for w in model.get_weights()]


# --- 3. checkpoints ---------------------------------------------------------------------------


def _with_checkpoints(root, checkpoints: dict[str, bytes]) -> bytes:
    return _zip({**_files(root), **{f"checkpoints/{n}": d for n, d in checkpoints.items()}})


def test_valid_checkpoints_are_imported_and_loaded(tiny_registry):
    weights = _weights(tiny_registry)
    shifted = [w + 1 for w in weights]
    data = _with_checkpoints(
        tiny_registry,
        {"epoch-001.weights.npz": _npz(shifted), "epoch-002.weights.npz": _npz(weights)},
    )
    bundle = reg.import_archive(data, "with-checkpoints", root=tiny_registry)
    assert [e for e, _ in reg.checkpoints("with-checkpoints", root=tiny_registry)] == [1, 2]
    first = reg.load_checkpoint(bundle, 1)
    for a, b in zip(first.model.get_weights(), shifted, strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_with_a_huge_array_header_is_refused(tiny_registry, tmp_path):
    weights = _weights(tiny_registry)
    with zipfile.ZipFile(io.BytesIO(_npz(weights))) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["arr_0.npy"] = _npy_header_only((1_000_000_000,))  # 4 GB once read
    data = _with_checkpoints(tiny_registry, {"epoch-001.weights.npz": _zip(members)})
    _refused(
        tiny_registry,
        data,
        r"Checkpoint epoch-001.weights.npz in the archive: array 0 is float32 "
        r"\(1000000000,\), the model's weight 0 is float32 \(\d+, 8\)",
    )
    # a right header on too little data
    members["arr_0.npy"] = _npy_header_only(weights[0].shape, b"\0" * 12)
    data = _with_checkpoints(tiny_registry, {"epoch-001.weights.npz": _zip(members)})
    _refused(tiny_registry, data, r"array 0 holds 12 bytes of data, a float32 .* takes")


def test_truncated_and_junk_checkpoints_are_refused(tiny_registry):
    good = _npz(_weights(tiny_registry))
    cases = [
        (good[: len(good) // 2], r"epoch-001.weights.npz in the archive is truncated or corrupt"),
        (os.urandom(3000), r"truncated or corrupt \(BadZipFile"),
        (os.urandom(2**20), r"epoch-001.weights.npz in the archive declares 1.0 MB, more than"),
        (b"", r"truncated or corrupt"),
        (_npz(_weights(tiny_registry)[:-1]), r"holds \d+ arrays, the model has \d+ weights"),
    ]
    for junk, match in cases:
        data = _with_checkpoints(tiny_registry, {"epoch-001.weights.npz": junk})
        _refused(tiny_registry, data, match)
    data = _with_checkpoints(tiny_registry, {"notes.txt": b"x" * 1000})
    _refused(tiny_registry, data, r"files a model folder never has: \['checkpoints/notes.txt'\]")
    both = {"epoch-001.weights.npz": good, "epoch-0001.weights.npz": good}
    _refused(tiny_registry, _with_checkpoints(tiny_registry, both), r"repeats epoch 1")


def test_too_many_checkpoints_are_refused(tiny_registry):
    many = {f"epoch-{k:03d}.weights.npz": b"" for k in range(1, 601)}
    _refused(
        tiny_registry,
        _with_checkpoints(tiny_registry, many),
        r"holds 600 checkpoints, over this server's limit of 500 \(max_checkpoints",
        LimitError,
    )


def test_a_bad_checkpoint_on_disk_is_a_message_at_load(tiny_registry):
    bundle = reg.load(TINY, root=tiny_registry)
    folder = tiny_registry / TINY / "checkpoints"
    folder.mkdir()
    good = _npz(bundle.model.get_weights())
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["arr_1.npy"] = _npy_header_only((50_000, 50_000))  # 10 GB once read
    crc = bytearray(good)
    crc[len(crc) // 3] ^= 0xFF  # inside an array's data: a bad CRC
    files = {
        1: (good[: len(good) - 100], r"epoch-001.weights.npz of model .* truncated or corrupt"),
        2: (_zip(members), r"array 1 is float32 \(50000, 50000\), the model's weight 1 is"),
        3: (os.urandom(5 * 2**20), r"is 5.0 MB, more than the .* the model's weights take"),
        4: (bytes(crc), r"truncated or corrupt \(BadZipFile: Bad CRC-32"),
    }
    for epoch, (data, _) in files.items():
        (folder / f"epoch-{epoch:03d}.weights.npz").write_bytes(data)
    for epoch, (_, match) in files.items():
        with pytest.raises(RegistryError, match=match) as caught:
            reg.load_checkpoint(bundle, epoch)
        assert str(tiny_registry) not in str(caught.value)


# --- 6. every failure is a message ------------------------------------------------------------


def _bad_crc(files: dict) -> bytes:
    data = bytearray(_zip(files, zipfile.ZIP_STORED))
    at = data.find(files["vocab.json"][:40])
    data[at + 10] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_bad_crc, r"damaged .*BadZipFile: Bad CRC-32 for file 'vocab.json'"),
        (lambda f: _zip(f)[:-30], r"not a model archive \(not a zip file\)"),
        (lambda f: _zip(f)[: len(_zip(f)) // 2], r"not a model archive"),
        (lambda f: _zip({**f, "vocab.json": "é".encode("latin-1")}), r"vocab.json .* not UTF-8"),
        (
            lambda f: _zip({**f, "vocab.json": b"[" * 100_000}, zipfile.ZIP_STORED),
            r"vocab.json .* nested too deeply",
        ),
        (lambda f: _zip({**f, "vocab.json": b"{}"}), r"vocab.json in the archive is not a vocab"),
        (lambda f: _zip({**f, "meta.json": b'{"spec": 3}'}), r"meta.json .* no valid model spec"),
        (lambda f: _zip({**f, "model.keras": _zip({"config.json": b"[" * 100_000})}), "holds"),
        (
            lambda f: _zip(_with_config(f, lambda c: c.update(config=[[[1]]] * 3))),
            r"config.json in model.keras is not a Keras functional model",
        ),
        (
            lambda f: _zip(
                {**f, "model.keras": _patch_size(f["model.keras"], "config.json", 2**21)}
            ),
            r"model.keras is stored uncompressed but declares|config.json in model.keras is",
        ),
    ],
)
def test_damaged_archives_are_messages(tiny_registry, make, match):
    _refused(tiny_registry, make(_files(tiny_registry)), match)


def test_a_corrupt_nested_config_is_refused_before_keras(tiny_registry):
    files = _files(tiny_registry)
    inner = _unzip(files["model.keras"])
    inner["config.json"] = b"[" * 100_000
    keras_zip = _zip(inner, zipfile.ZIP_STORED)
    _refused(tiny_registry, _zip({**files, "model.keras": keras_zip}), r"nested too deeply")
    inner["config.json"] = zlib.compress(b"x")
    keras_zip = _zip(inner, zipfile.ZIP_STORED)
    _refused(tiny_registry, _zip({**files, "model.keras": keras_zip}), r"config.json .* not")
