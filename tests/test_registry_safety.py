"""A shared registry: unsafe names, broken entries and model archives never break the app."""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from lib.model import registry as reg
from lib.model.registry import RegistryError

DEMO = "demo-ref-char-lstm"


@pytest.mark.parametrize(
    "name",
    ["../evil", "a/b", "a\\b", "a.b", ".hidden", "", "-x", "x" * 65, "name with space", "..", "ü"],
)
def test_unsafe_names_are_refused(registry, name):
    with pytest.raises(RegistryError, match="A model name is 1 to 64 letters"):
        reg.load(name)
    with pytest.raises(RegistryError, match="A model name is 1 to 64 letters"):
        reg.save(reg.load(DEMO), name)
    assert sorted(p.name for p in registry.iterdir()) == [DEMO]


def _break(root, how: str) -> str:
    name = f"broken-{how}"
    folder = root / name
    shutil.copytree(root / DEMO, folder)
    meta = json.loads((folder / "meta.json").read_text())
    meta["name"], meta["demo"] = name, False
    (folder / "meta.json").write_text(json.dumps(meta))
    if how == "no-model":
        (folder / "model.keras").unlink()
    elif how == "garbage-model":
        (folder / "model.keras").write_bytes(b"\x00\x01 not a zip")
    elif how == "bad-meta":
        (folder / "meta.json").write_text("{not json")
    elif how == "no-vocab":
        (folder / "vocab.json").unlink()
    elif how == "bad-spec":
        meta["spec"]["units"] = -3
        (folder / "meta.json").write_text(json.dumps(meta))
    return name


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("no-model", "model.keras is missing"),
        ("garbage-model", "model.keras is corrupt"),
        ("bad-meta", "meta.json of model 'broken-bad-meta' is not valid JSON"),
        ("no-vocab", "vocab.json cannot be read"),
        ("bad-spec", "units must be 1 to 4096, got -3"),
    ],
)
def test_broken_entries_are_listed_as_broken_never_as_models(registry, how, why):
    name = _break(registry, how)
    (registry / "dotted.name").mkdir()  # not a model name: ignored entirely
    assert [m["name"] for m in reg.list_models()] == [DEMO]
    broken = dict(reg.broken_models())
    assert list(broken) == [name] and why in broken[name]
    with pytest.raises(RegistryError):
        reg.load(name)


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_archive_round_trip(registry):
    data = reg.export_archive(DEMO)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sorted(z.namelist()) == ["meta.json", "model.keras", "vocab.json"]
    imported = reg.import_archive(data, "my-copy")
    original = reg.load(DEMO)
    assert imported.meta["name"] == "my-copy" and not imported.meta["demo"]
    for a, b in zip(original.model.get_weights(), imported.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "my-copy" in [m["name"] for m in reg.list_models()]
    with pytest.raises(RegistryError, match="There is a model named 'my-copy' already"):
        reg.import_archive(data, "my-copy")


def _model_files(root):
    folder = root / DEMO
    return {n: (folder / n).read_bytes() for n in ("model.keras", "vocab.json", "meta.json")}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda f: b"", "The file is empty"),
        (lambda f: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a model archive .not a zip"),
        (lambda f: "text that is not a zip ✓".encode(), "not a zip file"),
        (lambda f: _zip({**f, "../evil.py": b"x"}), r"files a model folder never has: \['../evil"),
        (lambda f: _zip({**f, "/etc/cron.d/x": b"x"}), "files a model folder never has"),
        (lambda f: _zip({**f, "extra.txt": b"x"}), "files a model folder never has"),
        (lambda f: _zip({"meta.json": f["meta.json"]}), r"lacks \['model.keras', 'vocab.json'\]"),
        (lambda f: _zip({**f, "model.keras": b"garbage"}), "model.keras is corrupt"),
        (
            lambda f: _zip({**f, "meta.json": b"[1, 2]"}),
            "meta.json in the archive is not an object",
        ),
        (lambda f: _zip({**f, "meta.json": b"\xff\xfe"}), "meta.json in the archive is not JSON"),
        (lambda f: _zip({**f, "model.keras": _zip({"config.json": b"{}"})}), "could not be loaded"),
    ],
)
def test_bad_archives_are_refused_and_leave_the_registry_unchanged(registry, make, match):
    before = sorted(p.name for p in registry.iterdir())
    with pytest.raises(RegistryError, match=match):
        reg.import_archive(make(_model_files(registry)), "imported")
    assert sorted(p.name for p in registry.iterdir()) == before


def test_archive_import_refuses_a_bad_name_before_reading(registry):
    with pytest.raises(RegistryError, match="A model name"):
        reg.import_archive(b"anything", "../up")
