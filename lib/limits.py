"""Server limits: the one place a server operator caps what a request may cost.

A lab or a class shares one Streamlit server, so every request that could exhaust the
machine is checked against these limits *before* any work starts, and refused with a
message that names the limit, the value asked for and where to change it.

The defaults keep the app within a 2-core, 24 GB machine. An operator changes them in
``rnn_lens.toml`` at the repository root (or the file named by ``$RNN_LENS_CONFIG``)::

    [limits]
    max_corpus_chars = 5_000_000
    max_units = 1024
    max_tokens_per_analysis = 200_000
    max_concurrent_jobs = 2

or one at a time in the environment, e.g. ``RNN_LENS_MAX_UNITS=512`` (environment wins).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent


class LimitError(ValueError):
    """A request over a server limit; refused before any work starts."""


@dataclass(frozen=True)
class Limits:
    """What one request may cost (see the module docstring for where to set them)."""

    max_corpus_chars: int = 5_000_000
    """Characters of a training or analysis corpus (seed 000's TED corpus is 5 M)."""
    max_upload_mb: int = 20
    """Size of one uploaded file, in MB."""
    max_units: int = 1024
    """Units of one recurrent layer."""
    max_layers: int = 3
    """Recurrent layers of one model."""
    max_tokens_per_analysis: int = 200_000
    """Tokens one Trace may record for an analysis page."""
    max_trace_gb: float = 6.0
    """Memory the recorded signals of one Trace may take, in GB. A recording over it as
    float32 is stored as float16 when that fits (:func:`trace_dtype`)."""
    max_concurrent_jobs: int = 2
    """Training or experiment jobs running at once on the server (one per core here)."""
    max_jobs_per_session: int = 1
    """Jobs one browser session may run at once."""
    max_trials: int = 50
    """Trials of one hyperparameter search or sweep."""
    max_archive_mb: int = 200
    """Size of one uploaded model archive (.zip), in MB."""
    max_unpacked_mb: int = 2048
    """What one model archive may unpack to, in MB, the members of the nested
    ``model.keras`` zip included (refuses archives small outside and huge inside)."""
    max_meta_kb: int = 1024
    """Size of one model's meta.json, in KB (every listing of the registry reads it)."""
    max_checkpoints: int = 500
    """Per-epoch checkpoints one model (or an imported archive) may hold."""
    max_vectors_mb: int = 8192
    """Bytes read from one pre-trained vectors file once decompressed, in MB (GloVe 840B
    is 5.6 GB)."""
    max_regex_chars: int = 300
    """Characters of one regular expression given as a feature."""
    max_jobs_per_address: int = 1
    """Jobs all sessions of one client network address may run at once (a cleared cookie
    makes a new session, not a new address). Raise it where a class reaches the server
    through one address (a NAT); behind a reverse proxy on this machine every client is
    loopback, which is not counted."""
    recycled_memory_mb: int = 2048
    """Memory of freed recordings the server keeps mapped for the next ones, in MB, for up
    to two minutes (lib.run.buffers: mapping fresh memory was half of a recording's time
    here; a 2x256 GRU's 100,000 tokens take 1.1 GB); 0 hands it back at once."""

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 2**20)

    @property
    def max_archive_bytes(self) -> int:
        """``max_archive_mb`` in bytes."""
        return int(self.max_archive_mb * 2**20)

    @property
    def max_unpacked_bytes(self) -> int:
        """``max_unpacked_mb`` in bytes."""
        return int(self.max_unpacked_mb * 2**20)


def _source() -> Path:
    return Path(os.environ.get("RNN_LENS_CONFIG") or ROOT / "rnn_lens.toml")


#: limits where 0 means "none" rather than a mistake
MAY_BE_ZERO = frozenset({"recycled_memory_mb"})


def load_limits(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Limits:
    """Read the limits from the config file (if any), then ``RNN_LENS_MAX_*`` variables.

    Raises
    ------
    LimitError
        The file is not TOML, names an unknown limit, or a value is not a positive number.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path = Path(path) if path is not None else _source()
    known = {f.name: f.type for f in fields(Limits)}
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")).get("limits", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise LimitError(f"{path.name} is not valid TOML: {e}") from None
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise LimitError(f"{path.name} names unknown limits {unknown}; known: {sorted(known)}")
        values.update(data)
    for name in known:
        key = f"RNN_LENS_{name.upper()}"
        if key in environ:
            values[name] = environ[key]
    out: dict[str, Any] = {}
    for name, raw in values.items():
        cast = float if known[name] in ("float", float) else int
        try:
            value = cast(raw)
        except (TypeError, ValueError):
            raise LimitError(f"limit {name} must be a number, got {raw!r}") from None
        if value < 0 or (value == 0 and name not in MAY_BE_ZERO):
            raise LimitError(f"limit {name} must be positive, got {raw!r}")
        out[name] = value
    return replace(Limits(), **out)


def limits() -> Limits:
    """Return the server's limits, read afresh (cheap), so an operator's edit applies at once."""
    return load_limits()


def _refuse(what: str, asked: float, limit_name: str, limit: float) -> NoReturn:
    raise LimitError(
        f"{what} is {asked:,}, over this server's limit of {limit:,} "
        f"({limit_name}; an operator can raise it in rnn_lens.toml)."
    )


def check_corpus(n_chars: int, lim: Limits | None = None) -> None:
    """Refuse a corpus longer than ``max_corpus_chars``."""
    lim = lim or limits()
    if n_chars > lim.max_corpus_chars:
        _refuse("The corpus length (characters)", n_chars, "max_corpus_chars", lim.max_corpus_chars)


def check_upload(n_bytes: int, lim: Limits | None = None) -> None:
    """Refuse an upload over ``max_upload_mb``."""
    lim = lim or limits()
    if n_bytes > lim.max_upload_bytes:
        raise LimitError(
            f"The file is {n_bytes / 2**20:.1f} MB, over this server's limit of "
            f"{lim.max_upload_mb} MB (max_upload_mb)."
        )


def check_archive(n_bytes: int, lim: Limits | None = None) -> None:
    """Refuse a model archive over ``max_archive_mb``."""
    lim = lim or limits()
    if n_bytes > lim.max_archive_bytes:
        raise LimitError(
            f"The model archive is {n_bytes / 2**20:.1f} MB, over this server's limit of "
            f"{lim.max_archive_mb} MB (max_archive_mb)."
        )


def check_model(units: int, layers: int, lim: Limits | None = None) -> None:
    """Refuse a model wider or deeper than the limits."""
    lim = lim or limits()
    if units > lim.max_units:
        _refuse("The number of units", units, "max_units", lim.max_units)
    if layers > lim.max_layers:
        _refuse("The number of layers", layers, "max_layers", lim.max_layers)


def trace_bytes(
    n_tokens: int,
    units: int,
    layers: int,
    signals_per_layer: int,
    topk: int = 10,
    itemsize: int = 4,
) -> int:
    """Memory of a recorded Trace: T x units x signals x layers values, plus top-k."""
    return int(n_tokens) * (units * signals_per_layer * layers * itemsize + topk * 8 + 16)


def check_trace(
    n_tokens: int,
    units: int,
    layers: int,
    signals_per_layer: int,
    lim: Limits | None = None,
    *,
    itemsize: int = 4,
) -> None:
    """Refuse a recording over ``max_tokens_per_analysis`` tokens or ``max_trace_gb``.

    ``itemsize`` is the bytes per stored value: 4 for float32, 2 for float16.
    """
    lim = lim or limits()
    if n_tokens > lim.max_tokens_per_analysis:
        _refuse(
            "The number of tokens to record",
            n_tokens,
            "max_tokens_per_analysis",
            lim.max_tokens_per_analysis,
        )
    need = trace_bytes(n_tokens, units, layers, signals_per_layer, itemsize=itemsize)
    if need > lim.max_trace_gb * 1e9:
        as_type = "" if itemsize == 4 else f" (as float{8 * itemsize})"
        raise LimitError(
            f"Recording {n_tokens:,} tokens of {layers} x {units} units with "
            f"{signals_per_layer} signals needs {need / 1e9:.1f} GB{as_type}, over this "
            f"server's limit of {lim.max_trace_gb:g} GB (max_trace_gb); record fewer tokens "
            f"or fewer signals."
        )


def trace_dtype(
    n_tokens: int, units: int, layers: int, signals_per_layer: int, lim: Limits | None = None
) -> tuple[str, str]:
    """How to store a recording within the limits: ``(dtype, why)``.

    Returns ``("float32", "")`` when float32 fits ``max_trace_gb``, else ``("float16",
    why)`` when half the memory fits, with ``why`` a sentence for the app to show.

    Raises
    ------
    LimitError
        Over ``max_tokens_per_analysis``, or over ``max_trace_gb`` even as float16 (the
        message gives both sizes).
    """
    lim = lim or limits()
    try:
        check_trace(n_tokens, units, layers, signals_per_layer, lim)
        return "float32", ""
    except LimitError:
        if n_tokens > lim.max_tokens_per_analysis:
            raise
    full = _gb(trace_bytes(n_tokens, units, layers, signals_per_layer))
    half_bytes = trace_bytes(n_tokens, units, layers, signals_per_layer, itemsize=2)
    if half_bytes > lim.max_trace_gb * 1e9:
        most = max_tokens(units, layers, signals_per_layer, lim)
        raise LimitError(
            f"Recording {n_tokens:,} tokens of {layers} x {units} units with "
            f"{signals_per_layer} signals needs {full} as float32 and {_gb(half_bytes)} "
            f"as float16, over this server's limit of {lim.max_trace_gb:g} GB "
            f"(max_trace_gb); record at most {most:,} tokens of this model."
        )
    return "float16", (
        f"stored as float16: as float32 the {n_tokens:,} tokens would need "
        f"{full}, over this server's {lim.max_trace_gb:g} GB (max_trace_gb)"
    )


def _gb(n_bytes: float) -> str:
    """7.4 GB, 0.025 GB: a tenth of a GB, or two significant digits below that."""
    gb = n_bytes / 1e9
    return f"{gb:.1f} GB" if gb >= 0.1 else f"{gb:.2g} GB"


def max_tokens(
    units: int, layers: int, signals_per_layer: int, lim: Limits | None = None, *, itemsize: int = 2
) -> int:
    """Return the most tokens a model of this shape may record for an analysis.

    Bounded by ``max_tokens_per_analysis`` and ``max_trace_gb`` (``itemsize`` 2: as
    float16, where float32 would not fit; 4: as float32).
    """
    lim = lim or limits()
    per_token = trace_bytes(1, units, layers, signals_per_layer, itemsize=itemsize)
    return int(min(lim.max_tokens_per_analysis, lim.max_trace_gb * 1e9 // per_token))


def check_jobs(
    n_running: int, n_mine: int, lim: Limits | None = None, *, n_address: int = 0
) -> None:
    """Refuse a new job when the server or this session runs its maximum already.

    ``n_mine`` counts the jobs of this browser session (its cookie), ``n_address`` those
    started from its client address by any session: clearing the cookie makes a new session
    but not a new address, held to ``max_jobs_per_address``.
    """
    lim = lim or limits()
    if n_running >= lim.max_concurrent_jobs:
        raise LimitError(
            f"{n_running} jobs are running on this server, its limit "
            f"(max_concurrent_jobs = {lim.max_concurrent_jobs}); try again when "
            f"one has finished."
        )
    if n_mine >= lim.max_jobs_per_session:
        raise LimitError(
            f"You are running {n_mine} job(s), the limit per session "
            f"(max_jobs_per_session = {lim.max_jobs_per_session}); stop it or "
            f"wait for it to finish."
        )
    if n_address >= lim.max_jobs_per_address:
        raise LimitError(
            f"{n_address} job(s) started from your network address are running (from "
            f"another browser or tab, or before its cookie was cleared), the limit per "
            f"address (max_jobs_per_address = {lim.max_jobs_per_address}); wait for it to "
            f"finish or stop it where it was started."
        )


def check_trials(n_trials: int, lim: Limits | None = None) -> None:
    """Refuse a search or sweep with more than ``max_trials`` trials."""
    lim = lim or limits()
    if n_trials > lim.max_trials:
        _refuse("The number of trials", n_trials, "max_trials", lim.max_trials)
