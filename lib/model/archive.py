"""Inspection of an uploaded model archive before anything is unpacked or built.

A model archive (:func:`lib.model.registry.export_archive`) is a zip of a model folder;
its ``model.keras`` is itself a zip (``metadata.json``, ``config.json``,
``model.weights.h5``). Every check here reads central directories, declared sizes and
small JSON members only, so a hostile archive is refused before its bulk is inflated and
before Keras builds anything:

- every member of both zips: stored or deflated, not encrypted, not duplicated, not
  overlapping another, at most :data:`MAX_RATIO` : 1 compressed, and all of them together
  at most ``max_unpacked_mb`` declared;
- meta.json, vocab.json and config.json: bounded sizes, UTF-8 JSON;
- config.json: exactly the layers :func:`lib.model.build.build` makes, agreeing with
  meta.json's spec, vocab.json's size and the server's ``max_units`` / ``max_layers``;
- model.weights.h5: holds at least the parameters config.json declares, and not far more;
- checkpoints: at most ``max_checkpoints``, one per epoch (see :mod:`lib.model.checkpoints`).

Refusals raise :class:`ArchiveError` (a RegistryError) or :class:`~lib.limits.LimitError`;
:func:`reading` turns every error a damaged zip or JSON file raises into an ArchiveError.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.data.tokenizer import Vocab
from lib.limits import LimitError, Limits, check_model
from lib.model.errors import RegistryError
from lib.model.spec import ID_OFFSET, ModelSpec

ARCHIVE_FILES = re.compile(
    r"(model\.keras|vocab\.json|meta\.json|checkpoints/epoch-(\d{3,4})\.weights\.npz)"
)
"""The files a model archive may hold (nothing else, so nothing lands outside its folder)."""
KERAS_FILES = ("metadata.json", "config.json", "model.weights.h5")
"""The members of a ``model.keras`` saved by RNN Lens (Keras 3)."""
MAX_RATIO = 200
"""Largest compression ratio of one member; real members compress 1 to 5 : 1."""
RATIO_FLOOR = 64 * 2**10
"""Members declaring at most this many bytes are not ratio-checked (they cannot be bombs)."""
MAX_CONFIG_BYTES = 2**20
"""Size of the nested config.json (RNN Lens writes under 10 KB)."""
MAX_METADATA_BYTES = 64 * 2**10
"""Size of the nested metadata.json (Keras writes 64 bytes)."""
MAX_VOCAB_BYTES = 64 * 2**20
"""Size of vocab.json (a 50,000-word vocabulary is about 2 MB)."""
WEIGHTS_SLACK = 4 * 2**20
"""model.weights.h5 may hold 4 copies of the parameters (weights and optimizer slots)
plus this much HDF5 bookkeeping."""

READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    zlib.error,
    ValueError,
    RecursionError,
    KeyError,
    TypeError,
    NotImplementedError,
)
"""What reading a damaged zip or JSON can raise; the registry turns each into a message."""

RECURRENT = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
_WEIGHTLESS = {"InputLayer", "Dropout", "NotEqual"}


class ArchiveError(RegistryError):
    """An uploaded model archive that is refused; the message says what and the limit."""


def mb(n_bytes: float) -> str:
    """``n_bytes`` in MB for a message: 0.012 MB, 2.5 MB, 2,048 MB."""
    value = n_bytes / 2**20
    if value >= 10:
        return f"{value:,.0f} MB"
    return f"{value:.1f} MB" if value >= 0.1 else f"{value:.2g} MB"


def describe(err: BaseException) -> str:
    """Describe a read error in one line, without any file-system path."""
    if isinstance(err, OSError) and not isinstance(err, zipfile.BadZipFile):
        return f"{type(err).__name__}: {err.strerror or 'read error'}"
    return f"{type(err).__name__}: {str(err)[:200]}"


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Turn what reading a damaged archive raises (:data:`READ_ERRORS`) into ArchiveError.

    RegistryError and LimitError (refusals with their own message) pass through.
    """
    try:
        yield
    except (RegistryError, LimitError):
        raise
    except READ_ERRORS as e:
        raise ArchiveError(
            f"The archive is damaged or not made by RNN Lens ({describe(e)}); nothing was imported."
        ) from None


# --- zip members ------------------------------------------------------------------------


def check_members(infos: list[zipfile.ZipInfo], where: str, budget: int) -> int:
    """Refuse the members of one zip that could inflate past ``budget``; return their total.

    Parameters
    ----------
    infos : list of zipfile.ZipInfo
        The zip's central directory.
    where : str
        The zip's name for messages (``"the archive"``, ``"model.keras"``).
    budget : int
        Bytes the members may declare in total (what is left of ``max_unpacked_mb``).
    """
    seen: set[str] = set()
    for info in infos:
        what = f"{info.filename!r} in {where}"
        if info.filename in seen:
            raise ArchiveError(f"{where} holds {info.filename!r} twice; refused.")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{what} is encrypted; model archives never are.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(
                f"{what} uses compression method {info.compress_type}; only stored or "
                f"deflated members are read."
            )
        stored_mismatch = info.compress_type == zipfile.ZIP_STORED and (
            info.file_size != info.compress_size
        )
        if stored_mismatch:
            raise ArchiveError(
                f"{what} is stored uncompressed but declares {info.file_size:,} bytes in "
                f"{info.compress_size:,}; the zip is damaged."
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise ArchiveError(
                f"{what} declares {mb(info.file_size)} compressed into "
                f"{info.compress_size:,} bytes, a ratio of {ratio:,.0f}:1, over the "
                f"{MAX_RATIO}:1 a model file can have (a zip bomb?); refused."
            )
    _check_no_overlap(infos, where)
    total = sum(i.file_size for i in infos)
    if total > budget:
        raise ArchiveError(
            f"{where} declares {mb(total)} once unpacked, over the {mb(budget)} left of "
            f"this server's limit on what one model archive may unpack to (max_unpacked_mb; "
            f"an operator can raise it in rnn_lens.toml)."
        )
    return total


def _check_no_overlap(infos: list[zipfile.ZipInfo], where: str) -> None:
    """Refuse members whose data overlap (one block of data listed many times)."""
    spans = sorted((i.header_offset, i) for i in infos)
    for (start, info), (next_start, other) in zip(spans, spans[1:], strict=False):
        end = start + 30 + len(info.orig_filename.encode()) + info.compress_size
        if end > next_start:
            raise ArchiveError(
                f"{info.filename!r} and {other.filename!r} in {where} overlap; the zip is "
                f"damaged or crafted."
            )


def read_member(
    z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str, limit_name: str = ""
) -> bytes:
    """Read one small member whole, refusing it over ``limit`` bytes (declared or real).

    ``limit_name`` names the server limit in the message (else the bound is fixed).
    """
    where = f" ({limit_name}; an operator can raise it in rnn_lens.toml)" if limit_name else ""
    if info.file_size > limit:
        raise ArchiveError(
            f"{what} is {mb(info.file_size)}, over the {mb(limit)} such a file may have"
            f"{where}; refused."
        )
    with z.open(info) as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ArchiveError(f"{what} holds more than the {mb(limit)} it may have{where}; refused.")
    return raw


def parse_json(raw: bytes, what: str) -> Any:
    """Decode UTF-8 JSON; ArchiveError saying why not (deep nesting included)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ArchiveError(
            f"{what} is not JSON: not UTF-8 text ({e.reason} at byte {e.start})."
        ) from None
    except json.JSONDecodeError as e:
        raise ArchiveError(f"{what} is not JSON: {e}") from None
    except RecursionError:
        raise ArchiveError(f"{what} is nested too deeply to be read; refused.") from None


def extract(z: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Write one member to ``target``; zipfile stops at its declared size and checks its CRC."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with z.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


# --- the outer archive ------------------------------------------------------------------


@dataclass
class Plan:
    """What the outer archive holds, once its small files are read and checked."""

    meta: dict
    vocab_raw: bytes
    spec: ModelSpec
    vocab_size: int
    members: dict[str, zipfile.ZipInfo]
    checkpoints: list[tuple[int, zipfile.ZipInfo]] = field(default_factory=list)
    budget: int = 0
    """Bytes the nested model.keras members may still declare."""


def inspect(z: zipfile.ZipFile, lim: Limits) -> Plan:
    """Check the outer archive's directory, meta.json and vocab.json; nothing is written.

    Raises
    ------
    ArchiveError
        Foreign or missing files, sizes over the limits, a bad spec or vocabulary.
    LimitError
        The spec is wider or deeper than ``max_units`` / ``max_layers``.
    """
    infos = z.infolist()
    foreign = [i.filename for i in infos if not ARCHIVE_FILES.fullmatch(i.filename)]
    if foreign:
        raise ArchiveError(
            f"The archive holds files a model folder never has: {foreign[:5]}; expected "
            f"model.keras, vocab.json, meta.json and checkpoints/epoch-NNN.weights.npz."
        )
    members = {i.filename: i for i in infos}
    missing = {"model.keras", "vocab.json", "meta.json"} - set(members)
    if missing:
        raise ArchiveError(f"The archive lacks {sorted(missing)}; it is not a model archive.")
    found = _checkpoint_members(infos, lim)
    used = check_members(infos, "the archive", lim.max_unpacked_bytes)
    meta = parse_json(
        read_member(
            z,
            members["meta.json"],
            lim.max_meta_kb * 2**10,
            "meta.json in the archive",
            "max_meta_kb",
        ),
        "meta.json in the archive",
    )
    if not isinstance(meta, dict):
        raise ArchiveError("meta.json in the archive is not an object.")
    spec = _spec(meta)
    vocab_raw = read_member(z, members["vocab.json"], MAX_VOCAB_BYTES, "vocab.json")
    vocab_size = _vocab_size(parse_json(vocab_raw, "vocab.json in the archive"))
    # bounded before the nested zip is decompressed even once to read its directory
    check_size(members["model.keras"], max_keras_bytes(spec, vocab_size), "model.keras")
    return Plan(
        meta=meta,
        vocab_raw=vocab_raw,
        spec=spec,
        vocab_size=vocab_size,
        members=members,
        checkpoints=found,
        budget=lim.max_unpacked_bytes - used,
    )


def max_params(spec: ModelSpec, vocab_size: int) -> int:
    """Return an upper bound of the parameters of the model ``spec`` builds.

    Embedding ``(V + 1) x E``; per recurrent layer at most 4 gates of ``u x (in + u + 2)``
    (LSTM's 4 gates with one bias; GRU's 3 with two); the output layer ``u x max(V + 1,
    n_out)`` plus its bias.
    """
    v, u, width = vocab_size + 1, spec.units, spec.embedding
    total = v * spec.embedding
    for _ in range(spec.layers):
        total += 4 * u * (width + u + 2)
        width = u
    out = spec.n_outputs if spec.is_classifier else v
    return total + u * out + out


def max_keras_bytes(spec: ModelSpec, vocab_size: int) -> int:
    """Return the most a ``model.keras`` of this spec may declare.

    Its weights file at its largest (:func:`_check_weights_size` of :func:`max_params`),
    config.json and metadata.json at theirs, and the zip's own records.
    """
    weights = 4 * (4 * max_params(spec, vocab_size)) + WEIGHTS_SLACK
    return weights + MAX_CONFIG_BYTES + MAX_METADATA_BYTES + 2**16


def _checkpoint_members(
    infos: list[zipfile.ZipInfo], lim: Limits
) -> list[tuple[int, zipfile.ZipInfo]]:
    found: dict[int, zipfile.ZipInfo] = {}
    for info in infos:
        m = ARCHIVE_FILES.fullmatch(info.filename)
        if m and m.group(2):
            epoch = int(m.group(2))
            if epoch < 1 or epoch in found:
                raise ArchiveError(
                    f"The archive's checkpoint {info.filename!r} repeats epoch {epoch} or "
                    f"is not a training epoch (1 or more); refused."
                )
            found[epoch] = info
    if len(found) > lim.max_checkpoints:
        raise LimitError(
            f"The archive holds {len(found):,} checkpoints, over this server's limit of "
            f"{lim.max_checkpoints:,} (max_checkpoints; an operator can raise it in "
            f"rnn_lens.toml)."
        )
    return sorted(found.items())


def _spec(meta: dict) -> ModelSpec:
    try:
        spec = ModelSpec.from_dict(meta["spec"]).validate()
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ArchiveError(f"meta.json in the archive has no valid model spec: {e}") from None
    check_model(spec.units, spec.layers)
    return spec


def _vocab_size(v: Any) -> int:
    try:
        return len(Vocab.from_dict(v["vocab"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ArchiveError(f"vocab.json in the archive is not a vocabulary: {e}") from None


# --- the nested model.keras -------------------------------------------------------------


def inspect_keras(z: zipfile.ZipFile, plan: Plan) -> list[tuple[int, ...]]:
    """Check the archive's nested ``model.keras`` before it is unpacked; return its weight shapes.

    Reads the nested zip through the outer member (its central directory, metadata.json
    and config.json only). The shapes are those of ``model.get_weights()`` of the model
    config.json builds.

    Raises
    ------
    ArchiveError
        Foreign members, sizes over what is left of ``max_unpacked_mb``, a config that
        is not what RNN Lens builds or disagrees with the spec or vocabulary, weights far
        from the parameters the config declares.
    LimitError
        config.json's layers are wider or deeper than ``max_units`` / ``max_layers``.
    """
    with z.open(plan.members["model.keras"]) as f:
        try:
            inner = zipfile.ZipFile(f)
        except zipfile.BadZipFile as e:
            if "CRC" in str(e):
                raise  # reading() says the archive is damaged, naming the member
            raise ArchiveError(
                "The archive is not a usable model: model.keras is corrupt (not a zip archive)."
            ) from None
        with inner:
            return _inspect_inner(inner, plan)


def _inspect_inner(z: zipfile.ZipFile, plan: Plan) -> list[tuple[int, ...]]:
    infos = z.infolist()
    names = sorted(i.filename for i in infos)
    if names != sorted(KERAS_FILES):
        raise ArchiveError(
            f"model.keras could not be loaded: it holds {names[:6]}, a model saved by "
            f"RNN Lens holds exactly {list(KERAS_FILES)}."
        )
    check_members(infos, "model.keras", plan.budget)
    members = {i.filename: i for i in infos}
    parse_json(
        read_member(z, members["metadata.json"], MAX_METADATA_BYTES, "model.keras metadata"),
        "metadata.json in model.keras",
    )
    config = parse_json(
        read_member(z, members["config.json"], MAX_CONFIG_BYTES, "config.json in model.keras"),
        "config.json in model.keras",
    )
    shapes = config_shapes(config, plan.spec, plan.vocab_size, plan.budget)
    _check_weights_size(members["model.weights.h5"].file_size, shapes)
    return shapes


def n_params(shapes: list[tuple[int, ...]]) -> int:
    """Count the parameters of weights of these shapes."""
    return sum(math.prod(s) for s in shapes)


def _check_weights_size(size: int, shapes: list[tuple[int, ...]]) -> None:
    need = 4 * n_params(shapes)
    most = 4 * need + WEIGHTS_SLACK
    if size < need:
        raise ArchiveError(
            f"model.weights.h5 in model.keras is {size:,} bytes, less than the {need:,} "
            f"bytes of the {need // 4:,} float32 parameters config.json declares; refused."
        )
    if size > most:
        raise ArchiveError(
            f"model.weights.h5 in model.keras declares {mb(size)}, far over the {mb(most)} "
            f"the {need // 4:,} parameters of config.json need; refused."
        )


def _int(cfg: dict, key: str, where: str) -> int:
    value = cfg.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArchiveError(f"config.json: {where} has {key} = {value!r}; expected a count.")
    return value


def config_shapes(
    config: Any, spec: ModelSpec, vocab_size: int, budget: int
) -> list[tuple[int, ...]]:
    """Weight shapes of the model a Keras config.json describes, checked against the spec.

    Only the layers :func:`lib.model.build.build` makes are accepted: InputLayer,
    Embedding, Dropout, NotEqual (the classifier's mask), ``spec.layers`` recurrent layers
    of ``spec.cell`` with ``spec.units`` units, and one Dense output layer.

    Raises
    ------
    ArchiveError
        Any other layer, or a count or size that disagrees with the spec, the vocabulary
        (``vocab_size``) or the ``budget`` bytes of float32 parameters.
    LimitError
        Over ``max_units`` / ``max_layers``.
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or config.get("class_name") != "Functional":
        raise ArchiveError("config.json in model.keras is not a Keras functional model.")
    kinds = [_layer(layer) for layer in layers]
    weighted = [(cls, cfg) for cls, cfg in kinds if cls not in _WEIGHTLESS]
    rnns = [cfg for cls, cfg in weighted if cls in _GATES]
    units = [_int(cfg, "units", "a recurrent layer") for cfg in rnns]
    check_model(max(units, default=0), len(rnns))
    order = [cls for cls, _ in weighted]
    cell = RECURRENT[spec.cell]
    expected = ["Embedding"] + [cell] * spec.layers + ["Dense"]
    if order != expected or units != [spec.units] * spec.layers:
        raise ArchiveError(
            f"config.json builds {_summary(weighted)}, but meta.json's spec says "
            f"{spec.layers} x {cell}({spec.units}) after Embedding({spec.embedding}); refused."
        )
    emb, dense = weighted[0][1], weighted[-1][1]
    rows, dim = _int(emb, "input_dim", "Embedding"), _int(emb, "output_dim", "Embedding")
    outputs = _int(dense, "units", "Dense")
    want_rows = vocab_size + ID_OFFSET if spec.is_classifier else vocab_size
    want_out = spec.n_outputs if spec.is_classifier else vocab_size
    if (rows, dim, outputs) != (want_rows, spec.embedding, want_out):
        raise ArchiveError(
            f"config.json declares Embedding({rows:,} x {dim:,}) and {outputs:,} outputs, "
            f"but the spec and vocab.json ({vocab_size:,} tokens) imply Embedding("
            f"{want_rows:,} x {spec.embedding:,}) and {want_out:,} outputs; refused."
        )
    shapes: list[tuple[int, ...]] = [(rows, dim)]
    width = dim
    for cfg in rnns:
        shapes += _recurrent_shapes(cell, width, spec.units, cfg)
        width = spec.units
    shapes += [(width, outputs)] + ([(outputs,)] if dense.get("use_bias", True) else [])
    if 4 * n_params(shapes) > budget:
        raise ArchiveError(
            f"config.json declares {n_params(shapes):,} parameters ({mb(4 * n_params(shapes))} "
            f"as float32), over the {mb(budget)} left of max_unpacked_mb; refused."
        )
    return shapes


def _layer(layer: Any) -> tuple[str, dict]:
    if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
        raise ArchiveError("config.json in model.keras has a layer that is not an object.")
    cls, cfg = layer.get("class_name"), layer["config"]
    if cls not in _WEIGHTLESS | set(_GATES) | {"Embedding", "Dense"}:
        raise ArchiveError(
            f"config.json in model.keras has a layer of class {str(cls)[:50]!r}, which RNN "
            f"Lens never builds; refused."
        )
    if cfg.get("lora_rank") or cfg.get("quantization_config") or cfg.get("stateful"):
        raise ArchiveError(
            f"config.json in model.keras has a {cls} layer with LoRA, quantization or state, "
            f"which RNN Lens never builds; refused."
        )
    return cls, cfg


def _recurrent_shapes(cls: str, width: int, units: int, cfg: dict) -> list[tuple[int, ...]]:
    g = _GATES[cls] * units
    shapes: list[tuple[int, ...]] = [(width, g), (units, g)]
    if cfg.get("use_bias", True):
        shapes.append((2, g) if cls == "GRU" and cfg.get("reset_after", True) else (g,))
    return shapes


def _summary(weighted: list[tuple[str, dict]]) -> str:
    parts = []
    for cls, cfg in weighted[:6]:
        size = cfg.get("units", cfg.get("output_dim", "?"))
        parts.append(f"{cls}({str(size)[:12]})")
    more = ", ..." if len(weighted) > 6 else ""
    return f"{len(weighted)} layers [{', '.join(parts)}{more}]"


def unpack(z: zipfile.ZipFile, plan: Plan, folder: Path) -> None:
    """Write the checked archive's files to ``folder`` (zipfile checks each CRC)."""
    for info in plan.members.values():
        if info.filename == "vocab.json":
            (folder / "vocab.json").write_bytes(plan.vocab_raw)
        elif info.filename != "meta.json":  # written by the registry, renamed
            extract(z, info, folder / info.filename)


def check_size(info: zipfile.ZipInfo, limit: int, what: str) -> None:
    """Refuse a member declaring more than ``limit`` bytes, before it is unpacked."""
    if info.file_size > limit:
        raise ArchiveError(
            f"{what} declares {mb(info.file_size)}, more than the {mb(limit)} the model's "
            f"weights take; refused."
        )
