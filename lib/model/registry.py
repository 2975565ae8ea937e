"""The model registry on disk: ``models/<name>/`` holding one trained model.

Layout of a model folder::

    model.keras      the Keras model (latest epoch, with optimizer state for resuming)
    vocab.json       {"tokenizer": {...}, "vocab": {...}}
    meta.json        spec, corpus, metrics, history, train config
    checkpoints/     epoch-001.weights.npz, ... (layer weights after each epoch,
                     model.get_weights() order; no optimizer state)

Saving is atomic: the new version is written to a hidden temporary folder which then
replaces the old one by two renames. If a crash falls between them, the previous version
is still on disk as ``.<name>.old-*`` and ``load`` uses it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lib.data.tokenizer import Tokenizer, Vocab
from lib.model.bundle import ModelBundle
from lib.model.spec import ModelSpec

if TYPE_CHECKING:
    import keras

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "models"


class RegistryError(ValueError):
    """A model name, folder or file that cannot be used; the message says why."""


def models_root(root: str | os.PathLike | None = None) -> Path:
    """Return the registry folder: ``root``, else $RNN_LENS_MODELS, else the repo's ``models/``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("RNN_LENS_MODELS", DEFAULT_ROOT))


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe model name, else raise RegistryError."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise RegistryError(
            "A model name is 1 to 64 letters, digits, '-' or '_', starting with a letter or "
            f"digit; got {name!r}."
        )
    return name


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _link_or_copy(src: str, dst: str) -> None:
    """Checkpoints never change once written, so the new version may share their files."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def save(
    bundle: ModelBundle,
    name: str,
    *,
    root: str | os.PathLike | None = None,
    new_checkpoint: tuple[int, keras.Model] | None = None,
) -> Path:
    """Write ``bundle`` as ``<root>/<name>/`` atomically; return the folder.

    Checkpoints of an earlier version are carried over. ``new_checkpoint`` =
    (epoch, keras model) adds ``checkpoints/epoch-<epoch>.weights.npz``.
    """
    validate_name(name)
    base = models_root(root)
    base.mkdir(parents=True, exist_ok=True)
    target = base / name
    tag = uuid.uuid4().hex[:8]
    tmp = base / f".{name}.tmp-{tag}"
    tmp.mkdir()
    try:
        bundle.model.save(tmp / "model.keras")
        _write_json(
            tmp / "vocab.json",
            {"tokenizer": bundle.tokenizer.to_dict(), "vocab": bundle.vocab.to_dict()},
        )
        meta = dict(bundle.meta, name=name, spec=bundle.spec.to_dict())
        _write_json(tmp / "meta.json", meta)
        if (target / "checkpoints").is_dir():
            shutil.copytree(
                target / "checkpoints", tmp / "checkpoints", copy_function=_link_or_copy
            )
        if new_checkpoint is not None:
            epoch, model = new_checkpoint
            (tmp / "checkpoints").mkdir(exist_ok=True)
            np.savez(tmp / "checkpoints" / f"epoch-{epoch:03d}.weights.npz", *model.get_weights())
        old = base / f".{name}.old-{tag}"
        if target.exists():
            os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bundle.name, bundle.path, bundle.fingerprint = name, target, _file_hash(target / "model.keras")
    return target


def model_dir(name: str, *, root: str | os.PathLike | None = None) -> Path:
    """Return the folder of model ``name``, recovering from a save cut between renames."""
    validate_name(name)
    base = models_root(root)
    target = base / name
    if not target.is_dir():
        olds = sorted(base.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds:
            return olds[-1]
        raise RegistryError(f"There is no model named {name!r} in {base}.")
    return target


def _read_meta_file(path: Path, name: str) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegistryError(f"meta.json of model {name!r} cannot be read: {e}") from None
    if not isinstance(meta, dict) or "spec" not in meta:
        raise RegistryError(f"meta.json of model {name!r} has no model spec.")
    return meta


def read_meta(name: str, *, root: str | os.PathLike | None = None) -> dict:
    """Read the meta.json of model ``name`` (cheap: does not load the model)."""
    return _read_meta_file(model_dir(name, root=root) / "meta.json", name)


def load(name: str, *, root: str | os.PathLike | None = None, compile: bool = False) -> ModelBundle:
    """Load model ``name`` in Keras safe mode; RegistryError for anything unusable."""
    return _load_folder(model_dir(name, root=root), name, compile=compile)


def _load_folder(folder: Path, name: str, *, compile: bool = False) -> ModelBundle:
    import keras

    meta = _read_meta_file(folder / "meta.json", name)
    try:
        spec = ModelSpec.from_dict(meta["spec"]).validate()
        v = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        tokenizer, vocab = Tokenizer.from_dict(v["tokenizer"]), Vocab.from_dict(v["vocab"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise RegistryError(f"vocab.json or spec of model {name!r} is not valid: {e}") from None
    path = folder / "model.keras"
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for foreign or corrupt files
        raise RegistryError(
            f"model.keras of model {name!r} could not be loaded (corrupt, or not a Keras "
            f"model saved by RNN Lens): {type(e).__name__}: {str(e)[:200]}"
        ) from None
    if spec.is_classifier:
        if model.output_shape[-1] != spec.n_outputs:
            raise RegistryError(
                f"classifier {name!r} has {model.output_shape[-1]} outputs but its spec has "
                f"{spec.n_classes} classes (expected {spec.n_outputs} outputs)."
            )
    elif model.output_shape[-1] != len(vocab):
        raise RegistryError(
            f"model {name!r} outputs {model.output_shape[-1]} classes but its vocabulary has "
            f"{len(vocab)} tokens."
        )
    return ModelBundle(
        model=model,
        vocab=vocab,
        tokenizer=tokenizer,
        spec=spec,
        meta=meta,
        name=name,
        path=folder,
        fingerprint=_file_hash(path),
    )


def entry_problem(name: str, *, root: str | os.PathLike | None = None) -> str | None:
    """Why registry entry ``name`` cannot be used, or None when it looks whole.

    Cheap (no model is loaded): meta.json and its spec must be valid, vocab.json must be
    JSON, model.keras must be a zip archive (the Keras format) with ``config.json``.
    """
    try:
        return _folder_problem(model_dir(name, root=root), name)
    except RegistryError as e:
        return str(e)


def _folder_problem(folder: Path, name: str) -> str | None:
    try:
        meta = _read_meta_file(folder / "meta.json", name)
        ModelSpec.from_dict(meta["spec"]).validate()
    except (RegistryError, TypeError, ValueError) as e:
        return str(e)
    try:
        json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"vocab.json cannot be read: {type(e).__name__}"
    path = folder / "model.keras"
    if not path.is_file():
        return "model.keras is missing"
    try:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                return "model.keras is not a Keras model (no config.json inside)"
    except (OSError, zipfile.BadZipFile):
        return "model.keras is corrupt (not a zip archive)"
    return None


def _entries(base: Path) -> list[str]:
    return sorted(
        f.name
        for f in base.iterdir()
        if f.is_dir() and not f.name.startswith(".") and NAME_RE.fullmatch(f.name)
    )


def list_models(*, root: str | os.PathLike | None = None) -> list[dict]:
    """Read the meta.json of every usable model.

    Demo models come first (in their shipped order), then the others by name. Broken
    entries are left out (see :func:`broken_models`).
    """
    base = models_root(root)
    if not base.is_dir():
        return []
    out = []
    for name in _entries(base):
        if entry_problem(name, root=base) is None:
            out.append(read_meta(name, root=base))
    return sorted(out, key=lambda m: (not m.get("demo", False), m.get("demo_rank", 0), m["name"]))


def broken_models(*, root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """List (name, problem) of every registry folder that cannot be used as a model."""
    base = models_root(root)
    if not base.is_dir():
        return []
    found = []
    for name in _entries(base):
        problem = entry_problem(name, root=base)
        if problem is not None:
            found.append((name, problem))
    return found


def checkpoints(name: str, *, root: str | os.PathLike | None = None) -> list[tuple[int, Path]]:
    """List (epoch, path) of the per-epoch weight checkpoints of model ``name``, oldest first."""
    folder = model_dir(name, root=root) / "checkpoints"
    found = []
    for p in folder.glob("epoch-*.weights.npz"):
        m = re.fullmatch(r"epoch-(\d+)\.weights\.npz", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def load_checkpoint(bundle: ModelBundle, epoch: int) -> ModelBundle:
    """Return a copy of ``bundle`` with the weights it had after ``epoch`` (its checkpoint)."""
    import keras

    found = dict(checkpoints(bundle.name, root=bundle.path.parent if bundle.path else None))
    if epoch not in found:
        raise RegistryError(
            f"Model {bundle.name!r} has no checkpoint for epoch {epoch}; it has "
            f"{sorted(found) or 'none'}."
        )
    with np.load(found[epoch], allow_pickle=False) as z:
        weights = [z[f"arr_{i}"] for i in range(len(z.files))]
    model = keras.models.clone_model(bundle.model)
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise RegistryError(
            f"Checkpoint {epoch} of {bundle.name!r} does not fit the model: {e}"
        ) from None
    return ModelBundle(
        model=model,
        vocab=bundle.vocab,
        tokenizer=bundle.tokenizer,
        spec=bundle.spec,
        meta=bundle.meta,
        name=bundle.name,
        path=bundle.path,
        fingerprint=f"{bundle.fingerprint}@{epoch}",
    )


def delete(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Remove model ``name`` from the registry."""
    shutil.rmtree(model_dir(name, root=root))


# --- model archives (download a model, upload it on another server) ---------------------------

ARCHIVE_FILES = re.compile(
    r"(model\.keras|vocab\.json|meta\.json|"
    r"checkpoints/epoch-\d{3,4}\.weights\.npz)"
)
MAX_ARCHIVE_UNPACKED = 2 * 2**30  # bytes once unpacked: refuses zip bombs


def export_archive(name: str, *, root: str | os.PathLike | None = None) -> bytes:
    """Pack model ``name`` as a zip archive (its folder's files) for :func:`import_archive`."""
    folder = model_dir(name, root=root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and ARCHIVE_FILES.fullmatch(rel):
                z.write(path, rel)
    return buf.getvalue()


def import_archive(
    data: bytes, name: str, *, root: str | os.PathLike | None = None, max_bytes: int = 200 * 2**20
) -> ModelBundle:
    """Add a model from an archive made by :func:`export_archive`, as ``name``.

    The archive is checked before anything reaches the registry: a zip of at most
    `max_bytes`, only the files a model folder holds (no other paths, so nothing can be
    written outside it), at most :data:`MAX_ARCHIVE_UNPACKED` bytes unpacked, and a model
    that loads in Keras safe mode. It then appears in one atomic rename.

    Raises
    ------
    RegistryError
        The name is taken or invalid, or the file is not a model archive; the message says
        what was found.
    """
    validate_name(name)
    base = models_root(root)
    if (base / name).exists():
        raise RegistryError(f"There is a model named {name!r} already; pick another name.")
    if not data:
        raise RegistryError("The file is empty; upload a model archive (.zip) made by RNN Lens.")
    if len(data) > max_bytes:
        raise RegistryError(
            f"The archive is {len(data) / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB cap."
        )
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RegistryError(
            "The file is not a model archive (not a zip file); download one "
            "with 'Download this model'."
        ) from None
    with z:
        names = [i.filename for i in infos]
        foreign = [n for n in names if not ARCHIVE_FILES.fullmatch(n)]
        if foreign:
            raise RegistryError(
                f"The archive holds files a model folder never has: "
                f"{foreign[:5]}; expected model.keras, vocab.json, meta.json "
                f"and checkpoints/."
            )
        missing = {"model.keras", "vocab.json", "meta.json"} - set(names)
        if missing:
            raise RegistryError(f"The archive lacks {sorted(missing)}; it is not a model archive.")
        if sum(i.file_size for i in infos) > MAX_ARCHIVE_UNPACKED:
            raise RegistryError("The archive unpacks to over 2 GB; refused.")
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for info in infos:
                target = tmp / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            meta_path = tmp / "meta.json"
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise RegistryError(f"meta.json in the archive is not JSON: {e}") from None
            if not isinstance(meta, dict):
                raise RegistryError("meta.json in the archive is not an object.")
            meta.update(name=name, demo=False)
            meta.pop("demo_rank", None)
            _write_json(meta_path, meta)
            problem = _folder_problem(tmp, name)
            if problem:
                raise RegistryError(f"The archive is not a usable model: {problem}")
            _load_folder(tmp, name)  # Keras safe mode: refuses foreign code
            os.rename(tmp, base / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return load(name, root=base)


# --- model groups (sweeps: one architecture at several values of one setting) ----------------


def list_groups(*, root: str | os.PathLike | None = None) -> dict[str, list[dict]]:
    """Group the models of sweeps: each group's members' meta.json, in sweep order.

    A model belongs to group ``g`` when its meta.json holds ``"group": {"name": g,
    "setting", "value", "index", ...}`` (written by :func:`lib.train.experiments.run_sweep`).
    Groups come in name order; a group's members by ``index``, then name.
    """
    groups: dict[str, list[dict]] = {}
    for meta in list_models(root=root):
        group = meta.get("group")
        if isinstance(group, dict) and isinstance(group.get("name"), str):
            groups.setdefault(group["name"], []).append(meta)
    return {
        g: sorted(members, key=lambda m: (m["group"].get("index", 0), m["name"]))
        for g, members in sorted(groups.items())
    }
