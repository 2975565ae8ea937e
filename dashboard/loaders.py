"""Cached loaders: models once per server (st.cache_resource), traces per parameters.

Models are keyed on their file's modification time and size, so a retrained model is
reloaded. Traces are cached as resources, shared read-only: a corpus-slice Trace can be
hundreds of MB, and st.cache_data would copy it on every rerun. Each Trace carries its
cache key in ``trace.meta["cache_key"]`` so analyses of it can be cached with st.cache_data
on (trace key, parameters).

Every recording is checked against the server's limits (lib.limits) before it starts:
over them the page shows the refusal and stops; where float32 would not fit but float16
does, the Trace is recorded as float16 and ``trace.meta["storage"]["why"]`` says so.
Traces recorded elsewhere (``python -m lib record``) are opened memory-mapped from the
traces folder or the registry (:func:`disk_trace`), and analysed a window at a time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from dashboard.fmt import md
from lib import limits
from lib.data.corpora import CorpusError, load_corpus
from lib.model import registry
from lib.run.generate import generate
from lib.run.record import record
from lib.run.trace import SIGNALS, Trace, open_trace, resolve_trace_path, traces_root


def model_key(name: str) -> str:
    """Changes whenever model ``name`` is saved again."""
    path = registry.model_dir(name) / "model.keras"
    try:
        stat = path.stat()
    except OSError:
        raise registry.RegistryError(
            f"Model {name!r} has no model.keras any more; pick another model."
        ) from None
    return f"{registry.models_root()}:{name}:{stat.st_mtime_ns}:{stat.st_size}"


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _load(name: str, key: str):
    return registry.load(name)


def bundle(name: str):
    """The ModelBundle of ``name`` (RegistryError when it cannot be loaded)."""
    return _load(name, model_key(name))


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@st.cache_resource(max_entries=24, show_spinner="Generating…")
def _generated(
    _bundle,
    key: str,
    seed_text: str,
    length: int,
    temperature: float,
    top_k: int | None,
    seed: int | None,
) -> Trace:
    trace = generate(_bundle, seed_text, length, temperature=temperature, top_k=top_k, seed=seed)
    trace.meta["cache_key"] = f"gen:{key}:{seed_text!r}:{length}:{temperature}:{top_k}:{seed}"
    return trace


def generated_trace(
    name: str, seed_text: str, length: int, temperature: float, top_k: int | None, seed: int | None
) -> Trace:
    return _generated(bundle(name), model_key(name), seed_text, length, temperature, top_k, seed)


@st.cache_resource(max_entries=12, show_spinner="Recording the text through the model…")
def _recorded(
    _bundle, key: str, digest: str, _text: str, dtype: str = "float32", why: str = ""
) -> Trace:
    trace = record(_bundle, _text, dtype=dtype)
    trace.meta["cache_key"] = f"rec:{key}:{digest}:{dtype}"
    trace.meta["storage"] = {"kind": "memory", "dtype": dtype, "why": why}
    return trace


@st.cache_data(max_entries=64, show_spinner=False)
def _token_count(key: str, digest: str, _text: str, _tokenizer) -> int:
    return len(_tokenizer.tokenize(_text))


def signals_per_layer(spec) -> int:
    """How many signals a recording of this model keeps per layer (h and the gates)."""
    return len(SIGNALS[spec.cell])


#: recordings held by ``_recorded``'s cache -> their bytes (an over-estimate: the cache also
#: evicts by count, without telling)
_HELD: dict[str, int] = {}


def _record_checked(found, key: str, text: str) -> Trace:
    """Record ``text`` through ``found`` (cached) within the server's limits.

    lib.limits.trace_dtype picks float32, or float16 where float32 would not fit; over the
    limits the page shows the refusal and stops. The cached recordings together stay
    under twice ``max_trace_gb`` (one being analysed and one more): a recording that would
    pass that first empties the cache.
    """
    spec, digest = found.spec, text_hash(text)
    n = _token_count(key, digest, text, found.tokenizer)
    n_signals = signals_per_layer(spec)
    try:
        dtype, why = limits.trace_dtype(n, spec.units, spec.layers, n_signals)
    except limits.LimitError as e:
        st.error(md(str(e)))
        st.stop()
    entry = f"{key}:{digest}:{dtype}"
    if entry not in _HELD:
        need = limits.trace_bytes(
            n, spec.units, spec.layers, n_signals, itemsize=2 if dtype == "float16" else 4
        )
        if sum(_HELD.values()) + need > 2 * limits.limits().max_trace_gb * 1e9:
            _recorded.clear()
            _HELD.clear()
        _HELD[entry] = need
    return _recorded(found, key, digest, text, dtype, why)


def recorded_trace(name: str, text: str) -> Trace:
    """``text`` recorded through model ``name``, checked against the server's limits first
    (module docstring)."""
    return _record_checked(bundle(name), model_key(name), text)


@st.cache_data(max_entries=8, show_spinner="Loading the corpus…")
def corpus_text(ref: str) -> str:
    return load_corpus(ref).text


def model_corpus_text(meta: dict) -> tuple[str | None, str]:
    """(text, message): the corpus a model was trained on, or why it is not available."""
    ref = meta.get("corpus", {}).get("ref", "")
    try:
        return corpus_text(ref), ""
    except CorpusError as e:
        return None, str(e)


def current_bundle(task: str | None = "lm"):
    """The sidebar's model, loaded; stops the page with a message when there is none or it
    is not of the ``task`` the page needs (None: any)."""
    name = st.session_state.get("model")
    if name is None:
        st.info("There is no model yet. Train one on the Train page.")
        st.stop()
    try:
        found = bundle(name)
    except registry.RegistryError as e:
        st.error(md(str(e)))
        st.stop()
    if task == "lm" and found.spec.task != "lm":
        st.info(
            f"{name} is a sequence classifier: this page looks at language models. Pick "
            "one in the sidebar, or see the classifier on the Hidden States page."
        )
        st.stop()
    return name, found


@st.cache_resource(max_entries=8, show_spinner="Loading the checkpoint…")
def _checkpoint(name: str, key: str, epoch: int):
    return registry.load_checkpoint(bundle(name), epoch)


def checkpoint_bundle(name: str, epoch: int):
    """Model ``name`` with the weights it had after ``epoch``."""
    return _checkpoint(name, model_key(name), epoch)


def checkpoint_trace(name: str, epoch: int, text: str) -> Trace:
    """``text`` recorded through model ``name`` as it was after ``epoch``."""
    return _record_checked(checkpoint_bundle(name, epoch), f"{model_key(name)}@{epoch}", text)


# --- traces recorded elsewhere (python -m lib record) -------------------------------------


def trace_roots() -> list[Path]:
    """Folders the app opens recorded traces from: the traces folder, then the registry."""
    return [traces_root(), registry.models_root()]


def _stamp(path: Path) -> str:
    """Changes when the trace at ``path`` is written again."""
    marks = (
        [path]
        if path.is_file()
        else [path / "manifest.json", path / "trace.json", *sorted(path.glob("shard-*/trace.json"))]
    )
    return ":".join(f"{m.stat().st_mtime_ns}" for m in marks if m.exists())


@st.cache_resource(max_entries=4, show_spinner="Opening the recorded trace…")
def _opened(path: str, stamp: str) -> Trace:
    trace = open_trace(path)
    trace.meta["cache_key"] = f"disk:{path}:{stamp}"
    return trace


def disk_trace(path_text: str) -> Trace:
    """The recorded trace at ``path_text`` (a .npz file, trace folder or shard folder under
    :func:`trace_roots`), memory-mapped. Raises lib.run.trace.TraceError with the reason."""
    path = resolve_trace_path(path_text, trace_roots())
    return _opened(str(path), _stamp(path))


@st.cache_resource(max_entries=8, show_spinner="Reading the tokens from disk…")
def _window(_whole: Trace, key: str, start: int, stop: int) -> Trace:
    window = _whole.window(start, stop)
    window.meta["cache_key"] = f"{key}:{start}:{stop}"
    return window


def disk_window(whole: Trace, start: int, stop: int) -> Trace:
    """Tokens ``start`` to ``stop - 1`` of a trace from :func:`disk_trace`, in memory."""
    return _window(whole, whole.meta["cache_key"], start, stop)
