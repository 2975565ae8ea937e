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

import copy
import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.data.tokenizer import Tokenizer, Vocab
from lib.limits import check_archive, limits
from lib.model import archive
from lib.model import checkpoints as ckpt
from lib.model.bundle import ModelBundle
from lib.model.errors import RegistryError
from lib.model.lock import NameLocked, held_elsewhere, name_lock
from lib.model.meta import meta_problem
from lib.model.spec import ModelSpec

if TYPE_CHECKING:
    import keras

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "models"


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


def writing(
    name: str, *, root: str | os.PathLike | None = None, what: str = "saving"
) -> AbstractContextManager[None]:
    """Hold the write lock of model ``name`` (a context manager, :func:`lib.model.lock.name_lock`).

    Every writer of a model folder (save, delete, import, a whole training run) holds it,
    so a second writer of one name, in this process or another, is refused with
    :class:`~lib.model.lock.NameLocked` (a RegistryError) instead of overwriting the first.
    """
    validate_name(name)
    base = models_root(root)
    base.mkdir(parents=True, exist_ok=True)
    return name_lock(base, name, what)


def check_writable(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Refuse, before any work, a write of ``name`` while another writer holds it.

    Raises
    ------
    NameLocked
        Saying who holds it: "training (process 4711, since 14:02:11)".
    """
    holder = held_elsewhere(models_root(root), validate_name(name))
    if holder is not None:
        raise NameLocked(
            f"The model {name!r} is being written by {holder}; wait until it has finished "
            "or pick another name."
        )


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

    Raises
    ------
    NameLocked
        Another writer (another process, or another thread) holds ``name``.
    """
    validate_name(name)
    base = models_root(root)
    base.mkdir(parents=True, exist_ok=True)
    with name_lock(base, name, "saving"):
        _save_locked(bundle, name, base, new_checkpoint)
    return base / name


def _save_locked(
    bundle: ModelBundle, name: str, base: Path, new_checkpoint: tuple[int, keras.Model] | None
) -> None:
    _settle(base, name)
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


def model_dir(name: str, *, root: str | os.PathLike | None = None) -> Path:
    """Return the folder of model ``name``, recovering from a save cut between renames."""
    validate_name(name)
    base = models_root(root)
    target = base / name
    if not target.is_dir():
        olds = _olds(base, name)
        if olds:
            return olds[-1]
        raise RegistryError(f"There is no model named {name!r} in the registry.")
    return target


def _olds(base: Path, name: str) -> list[Path]:
    """Return the previous versions a save cut between its renames left, oldest first."""
    found = []
    for p in base.glob(f".{name}.old-*"):
        try:
            found.append((p.stat().st_mtime_ns, p))
        except OSError:  # removed meanwhile
            continue
    return [p for _, p in sorted(found)]


def _read_meta_file(path: Path, name: str) -> dict:
    """meta.json of a model folder, bounded (``max_meta_kb``) and checked against its schema."""
    lim = limits()
    try:
        size = path.stat().st_size
        if size > lim.max_meta_kb * 1024:
            raise RegistryError(
                f"meta.json of model {name!r} is {size / 1024:,.0f} KB, over this server's "
                f"limit of {lim.max_meta_kb:,} KB (max_meta_kb); it is not read."
            )
        with open(path, "rb") as f:
            meta = json.loads(f.read(lim.max_meta_kb * 1024 + 1).decode("utf-8"))
    except OSError as e:
        raise RegistryError(f"meta.json of model {name!r} cannot be read: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RegistryError(
            f"meta.json of model {name!r} is not valid JSON: {type(e).__name__}: {str(e)[:120]}"
        ) from None
    problem = meta_problem(meta)
    if problem:
        raise RegistryError(f"meta.json of model {name!r} is not valid: {problem}.")
    meta["name"] = name  # the folder's name is the model's name
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
    except (OSError, KeyError, TypeError, ValueError, RecursionError) as e:
        raise RegistryError(
            f"vocab.json or spec of model {name!r} is not valid: {archive.describe(e)}"
        ) from None
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
        size = (folder / "vocab.json").stat().st_size
        if size > archive.MAX_VOCAB_BYTES:
            most = archive.mb(archive.MAX_VOCAB_BYTES)
            return f"vocab.json is {archive.mb(size)}, over the {most} a vocabulary may take"
        json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
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


_LEFTOVER = re.compile(r"\.(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(?P<kind>tmp|old)-[0-9a-f]+")


def _settle(base: Path, name: str) -> None:
    """Finish or undo what a crashed writer of ``name`` left; the caller holds its lock.

    A save cut between its renames left the previous version as ``.<name>.old-*`` and no
    ``<name>/``: the newest one becomes ``<name>/`` again. Every other ``.<name>.tmp-*`` or
    ``.<name>.old-*`` is a stale partial write (no writer holds the name) and is removed.
    """
    olds = _olds(base, name)
    if olds and not (base / name).is_dir():
        os.rename(olds.pop(), base / name)
    for p in [*olds, *base.glob(f".{name}.tmp-*")]:
        shutil.rmtree(p, ignore_errors=True)


def recover(*, root: str | os.PathLike | None = None) -> list[str]:
    """Clean up after writers that crashed: return the names settled.

    Called when the registry is listed, so a server (or a CLI run) starting after a crash
    shows every model and resumes it. A name another writer holds now is left alone.
    """
    base = models_root(root)
    if not base.is_dir():
        return []
    names = sorted({m["name"] for f in base.iterdir() if (m := _LEFTOVER.fullmatch(f.name))})
    settled = []
    for name in names:
        try:
            with name_lock(base, name, "recovery"):
                _settle(base, name)
        except (NameLocked, OSError):
            continue
        settled.append(name)
    return settled


def _entries(base: Path) -> list[str]:
    """Model names in ``base``: its folders, and names only a cut save's ``.old-*`` holds."""
    names = set()
    for f in base.iterdir():
        if f.name.startswith("."):
            m = _LEFTOVER.fullmatch(f.name)
            if m and m["kind"] == "old" and f.is_dir():
                names.add(m["name"])
        elif NAME_RE.fullmatch(f.name) and f.is_dir():
            names.add(f.name)
    return sorted(names)


def _stamp(base: Path) -> tuple:
    """Return what changes whenever a listing of ``base`` could (entries, model files)."""
    marks: list = [base.stat().st_mtime_ns, limits().max_meta_kb]
    for f in sorted(base.iterdir()):
        if f.name.startswith(".") and not _LEFTOVER.fullmatch(f.name):
            continue
        marks.append(f.name)
        for part in ("", "meta.json", "vocab.json", "model.keras"):
            try:
                st = (f / part).stat()
                marks += [st.st_mtime_ns, st.st_size]
            except OSError:
                marks.append(None)
    return tuple(marks)


_listings: dict[str, tuple[tuple, list[dict], list[tuple[str, str]]]] = {}


def _listing(base: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """(usable models' meta.json, broken entries) of ``base``, cached until it changes.

    Every rerun of every session lists the registry; reading each meta.json and opening
    each model.keras then is what a 60 MB meta.json made cost 20 s, so the result is kept
    while :func:`_stamp` is unchanged.
    """
    if not base.is_dir():
        return [], []
    stamp = _stamp(base)
    cached = _listings.get(str(base))
    if cached is None or cached[0] != stamp:
        recover(root=base)
        stamp = _stamp(base)
        models, broken = [], []
        for name in _entries(base):
            problem = entry_problem(name, root=base)
            if problem is None:
                models.append(read_meta(name, root=base))
            else:
                broken.append((name, problem))
        models.sort(key=lambda m: (not m.get("demo", False), m.get("demo_rank", 0), m["name"]))
        cached = (stamp, models, broken)
        _listings[str(base)] = cached
    return copy.deepcopy(cached[1]), list(cached[2])


def list_models(*, root: str | os.PathLike | None = None) -> list[dict]:
    """Read the meta.json of every usable model (cached until the registry changes).

    Demo models come first (in their shipped order), then the others by name. Broken
    entries are left out (see :func:`broken_models`).
    """
    return _listing(models_root(root))[0]


def broken_models(*, root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """List (name, problem) of every registry folder that cannot be used as a model."""
    return _listing(models_root(root))[1]


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
    """Return a copy of ``bundle`` with the weights it had after ``epoch`` (its checkpoint).

    The checkpoint's size and array headers are checked against the model's weights
    before any array is read (:func:`lib.model.checkpoints.read`).

    Raises
    ------
    RegistryError
        There is no such checkpoint, or it is truncated, corrupt, oversized or holds
        weights of another shape; the message says which.
    """
    import keras

    found = dict(checkpoints(bundle.name, root=bundle.path.parent if bundle.path else None))
    if epoch not in found:
        raise RegistryError(
            f"Model {bundle.name!r} has no checkpoint for epoch {epoch}; it has "
            f"{sorted(found) or 'none'}."
        )
    what = f"Checkpoint {found[epoch].name} of model {bundle.name!r}"
    try:
        weights = ckpt.read(found[epoch], ckpt.model_weights(bundle.model), what)
    except OSError as e:
        raise RegistryError(f"{what} cannot be read: {e.strerror}") from None
    model = keras.models.clone_model(bundle.model)
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise RegistryError(f"{what} does not fit the model: {str(e)[:200]}") from None
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


LOGS = ".logs"
"""The registry's sub-folder of training logs, one folder per model name
(:func:`lib.train.fit.training_logs`)."""


def delete(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Remove model ``name`` from the registry, and its training logs (holding its write lock)."""
    with writing(name, root=root, what="deleting"):
        shutil.rmtree(model_dir(name, root=root))
        shutil.rmtree(models_root(root) / LOGS / validate_name(name), ignore_errors=True)


# --- model archives (download a model, upload it on another server) ---------------------------

ARCHIVE_FILES = archive.ARCHIVE_FILES  # what an archive may hold; unpacked size: max_unpacked_mb


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
    data: bytes, name: str, *, root: str | os.PathLike | None = None, max_bytes: int | None = None
) -> ModelBundle:
    """Add a model from an archive made by :func:`export_archive`, as ``name``.

    The archive is checked before anything reaches the registry (:mod:`lib.model.archive`):
    a zip of at most ``max_bytes`` (default: the server's ``max_archive_mb``), only the
    files a model folder holds (so nothing can be written outside it), every member of it
    and of its nested model.keras bounded in size and compression ratio and, together, by
    ``max_unpacked_mb``; a config.json that builds what meta.json's spec and vocab.json
    say, within ``max_units`` / ``max_layers``; at most ``max_checkpoints`` checkpoints,
    each holding exactly the model's weights (:mod:`lib.model.checkpoints`); and a model
    that loads in Keras safe mode. It then appears in one atomic rename.

    Raises
    ------
    RegistryError
        The name is taken or invalid, or the file is not a usable model archive (damaged
        zips included); the message says what was found and the limit.
    LimitError
        The archive or its model is over one of the server's limits.
    """
    validate_name(name)
    base = models_root(root)
    if (base / name).exists():
        raise RegistryError(f"There is a model named {name!r} already; pick another name.")
    if not data:
        raise RegistryError("The file is empty; upload a model archive (.zip) made by RNN Lens.")
    lim = limits()
    if max_bytes is None:
        check_archive(len(data), lim)
    elif len(data) > max_bytes:
        raise RegistryError(
            f"The archive is {len(data) / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB cap."
        )
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except archive.READ_ERRORS:
        raise RegistryError(
            "The file is not a model archive (not a zip file); download one "
            "with 'Download this model'."
        ) from None
    with z:
        with archive.reading():  # nothing is written before every check has passed
            plan = archive.inspect(z, lim)  # central directory, meta.json, vocab.json
            expected = ckpt.float32(archive.inspect_keras(z, plan))
            for _, info in plan.checkpoints:
                what = f"Checkpoint {info.filename.rsplit('/', 1)[-1]} in the archive"
                archive.check_size(info, ckpt.max_bytes(expected), what)
                with z.open(info) as f:
                    ckpt.check(f, expected, what, size=info.file_size)
        with writing(name, root=base, what="importing"):
            if (base / name).exists():
                raise RegistryError(f"There is a model named {name!r} already; pick another name.")
            tmp = base / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                with archive.reading():
                    archive.unpack(z, plan, tmp)
                    meta = dict(plan.meta, name=name, demo=False)
                    meta.pop("demo_rank", None)
                    if isinstance(meta.get("pretrained"), dict):  # a path on another server
                        path = str(meta["pretrained"].get("path", ""))
                        meta["pretrained"] = {**meta["pretrained"], "path": Path(path).name}
                    _write_json(tmp / "meta.json", meta)
                    problem = _folder_problem(tmp, name)
                    if problem:
                        raise RegistryError(f"The archive is not a usable model: {problem}")
                    loaded = _load_folder(tmp, name)  # Keras safe mode: refuses foreign code
                    if ckpt.model_weights(loaded.model) != expected:
                        raise RegistryError(
                            "model.keras builds weights other than its config.json declares; "
                            "refused."
                        )
                    del loaded
                os.rename(tmp, base / name)
            except RegistryError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if str(base) in str(e):  # never show a server path
                    message = str(e).replace(str(tmp), "the archive")
                    raise RegistryError(message.replace(str(base), "the registry")) from None
                raise
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    return load(name, root=base)


def import_keras(
    data: bytes,
    filename: str,
    name: str,
    *,
    record: Callable[..., Any],
    record_sequences: Callable[..., Any],
    vocab: bytes | None = None,
    vocab_name: str = "vocabulary",
    classes: Sequence[str] | None = None,
    max_len: int | None = None,
    root: str | os.PathLike | None = None,
) -> tuple[ModelBundle, dict[str, float]]:
    """Add a user's own Keras model (.keras or .h5) and its vocabulary as ``name``.

    :func:`lib.model.foreign.read_keras` maps the architecture and vocabulary to the
    project's (refusing by layer and option what cannot be mapped), and
    :func:`lib.model.foreign.check_recorder` runs the recorder (``record`` =
    :func:`lib.run.record.record`, ``record_sequences`` =
    :func:`lib.run.classify.record_sequences`) against Keras' own output of the original
    model; only then is the model written, atomically, under the name's write lock.

    Returns
    -------
    (ModelBundle, dict)
        The loaded model and the check's ``max_abs_delta_h`` / ``max_abs_delta_output``
        (also in meta.json ``imported``).

    Raises
    ------
    RegistryError
        The name is taken or invalid, or the model or vocabulary cannot be imported
        (:class:`lib.model.foreign.ForeignModelError`); nothing is written.
    LimitError
        The file or the model is over one of the server's limits.
    """
    from lib.model import foreign

    validate_name(name)
    base = models_root(root)
    if (base / name).exists():
        raise RegistryError(f"There is a model named {name!r} already; pick another name.")
    check_writable(name, root=base)
    imported = foreign.read_keras(
        data, filename, vocab=vocab, vocab_name=vocab_name, classes=classes, max_len=max_len
    )
    result = foreign.check_recorder(imported, record, record_sequences)
    bundle = imported.bundle
    bundle.meta["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with writing(name, root=base, what="importing"):
        if (base / name).exists():
            raise RegistryError(f"There is a model named {name!r} already; pick another name.")
        _save_locked(bundle, name, base, None)
    return load(name, root=base), result


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
