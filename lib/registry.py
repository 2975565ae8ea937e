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
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib.tokenizer import Tokenizer, Vocab

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "models"


class RegistryError(ValueError):
    """A model name, folder or file that cannot be used; the message says why."""


def models_root(root: str | os.PathLike | None = None) -> Path:
    """The registry folder: ``root``, else $RNN_LENS_MODELS, else ``models/`` of the repo."""
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


@dataclass
class ModelBundle:
    """A trained model with everything needed to use it.

    Attributes
    ----------
    model : keras.Model
        Language model: maps token ids (batch, T) to next-token logits (batch, T, vocab).
        Classifier: maps ids shifted by one, 0 = padding (lib.models.ID_OFFSET), to class
        probabilities (batch, 1 or n_classes); see lib.models.
    vocab : Vocab
    tokenizer : Tokenizer
    spec : ModelSpec
    meta : dict
        The contents of meta.json (metrics, history, corpus, ...).
    name : str
    fingerprint : str
        Hash of the model file; changes whenever the model is saved again.
    """

    model: object
    vocab: Vocab
    tokenizer: Tokenizer
    spec: object
    meta: dict = field(default_factory=dict)
    name: str = ""
    path: Path | None = None
    fingerprint: str = ""
    _weights: object = field(default=None, repr=False)

    @property
    def numpy_weights(self):
        """The model's weights as NumPy arrays for lib.record (computed once)."""
        if self._weights is None:
            from lib.record import stack_weights

            self._weights = stack_weights(self.model, self.spec)
        return self._weights

    def encode(self, text: str) -> tuple[list[str], np.ndarray]:
        tokens = self.tokenizer.tokenize(text)
        return tokens, self.vocab.encode(tokens)


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
    new_checkpoint: tuple[int, object] | None = None,
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
            shutil.copytree(target / "checkpoints", tmp / "checkpoints",
                            copy_function=_link_or_copy)
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
    """The folder of model ``name``, recovering from a save interrupted between renames."""
    validate_name(name)
    base = models_root(root)
    target = base / name
    if not target.is_dir():
        olds = sorted(base.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds:
            return olds[-1]
        raise RegistryError(f"There is no model named {name!r} in {base}.")
    return target


def read_meta(name: str, *, root: str | os.PathLike | None = None) -> dict:
    """meta.json of model ``name`` (cheap: does not load the model)."""
    path = model_dir(name, root=root) / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegistryError(f"meta.json of model {name!r} cannot be read: {e}") from None
    if not isinstance(meta, dict) or "spec" not in meta:
        raise RegistryError(f"meta.json of model {name!r} has no model spec.")
    return meta


def load(name: str, *, root: str | os.PathLike | None = None, compile: bool = False):
    """Load model ``name`` in Keras safe mode; RegistryError for anything unusable."""
    import keras

    from lib.models import ModelSpec

    folder = model_dir(name, root=root)
    meta = read_meta(name, root=root)
    try:
        spec = ModelSpec.from_dict(meta["spec"])
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
    if getattr(spec, "task", "lm") == "classifier":
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


def list_models(*, root: str | os.PathLike | None = None) -> list[dict]:
    """Every readable model's meta.json: demo models first (in their shipped order), then
    the others by name."""
    base = models_root(root)
    if not base.is_dir():
        return []
    out = []
    for folder in base.iterdir():
        if folder.name.startswith(".") or not folder.is_dir() or not NAME_RE.fullmatch(folder.name):
            continue
        try:
            out.append(read_meta(folder.name, root=base))
        except RegistryError:
            continue
    return sorted(out, key=lambda m: (not m.get("demo", False), m.get("demo_rank", 0), m["name"]))


def checkpoints(name: str, *, root: str | os.PathLike | None = None) -> list[tuple[int, Path]]:
    """(epoch, path) of the per-epoch weight checkpoints of model ``name``, oldest first."""
    folder = model_dir(name, root=root) / "checkpoints"
    found = []
    for p in folder.glob("epoch-*.weights.npz"):
        m = re.fullmatch(r"epoch-(\d+)\.weights\.npz", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def load_checkpoint(bundle: ModelBundle, epoch: int) -> ModelBundle:
    """A copy of ``bundle`` with the weights it had after ``epoch`` (from its checkpoints)."""
    import keras

    found = dict(checkpoints(bundle.name, root=bundle.path.parent if bundle.path else None))
    if epoch not in found:
        raise RegistryError(f"Model {bundle.name!r} has no checkpoint for epoch {epoch}; it has "
                            f"{sorted(found) or 'none'}.")
    with np.load(found[epoch], allow_pickle=False) as z:
        weights = [z[f"arr_{i}"] for i in range(len(z.files))]
    model = keras.models.clone_model(bundle.model)
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise RegistryError(f"Checkpoint {epoch} of {bundle.name!r} does not fit the model: "
                            f"{e}") from None
    return ModelBundle(model=model, vocab=bundle.vocab, tokenizer=bundle.tokenizer,
                       spec=bundle.spec, meta=bundle.meta, name=bundle.name, path=bundle.path,
                       fingerprint=f"{bundle.fingerprint}@{epoch}")


def delete(name: str, *, root: str | os.PathLike | None = None) -> None:
    """Remove model ``name`` from the registry."""
    shutil.rmtree(model_dir(name, root=root))
