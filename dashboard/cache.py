"""Every cache of the app (st.cache_resource, st.cache_data and the two kept by hand).

Models are loaded once per server (st.cache_resource), keyed on their file's modification
time and size, so a retrained model is reloaded. Traces are cached as resources, shared
read-only: a corpus-slice Trace can be hundreds of MB, and st.cache_data would copy it on
every rerun. Each cached Trace has a key (:func:`trace_key`) that changes with the model
and the text, so analyses of it are cached with st.cache_data on (trace key, parameters);
arrays too large to hash are passed with a leading underscore next to that key.

Every recording and generated text is checked against the server's limits (lib.limits)
before it starts: over them the page shows the refusal and stops; where float32 would
not fit but float16 does, the Trace is recorded as float16 and
``trace.meta["storage"]["why"]`` says so. Traces recorded elsewhere (``python -m lib
record``) are opened memory-mapped from the traces folder or the registry
(:func:`disk_trace`), and analysed a window at a time.

2-D projections and token maps are remembered by hand (:func:`projection`), so a miss
shows a progress bar and a hit replays nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.fmt import display_token, md
from lib import limits
from lib.analysis import features as F
from lib.analysis.ablation import ablation_sweep, loss_change
from lib.analysis.embedding_map import embedding_map
from lib.analysis.features import Feature
from lib.analysis.fourier import spectrum
from lib.analysis.ranking import rank_neurons
from lib.data.corpora import CorpusError, load_corpus
from lib.data.embeddings import embedding_matrix, read_vectors, wanted_words
from lib.model import registry
from lib.model.bundle import ModelBundle
from lib.model.spec import ModelSpec
from lib.run.edits import Intervention
from lib.run.generate import check_generation, generate, generation_bytes
from lib.run.record import record
from lib.run.trace import (
    SIGNAL_RANGES,
    SIGNALS,
    Trace,
    open_trace,
    resolve_trace_path,
    traces_root,
)

if TYPE_CHECKING:
    from lib.analysis.glyphs import SentenceGlyphs


def trace_key(trace: Trace) -> str:
    """The cache key of a Trace this module made: changes with the model and the text."""
    return trace.meta["cache_key"]


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


def bundle(name: str) -> ModelBundle:
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
    trace = generate(
        _bundle,
        seed_text,
        length,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        lim=limits.limits(),
    )
    trace.meta["cache_key"] = f"gen:{key}:{seed_text!r}:{length}:{temperature}:{top_k}:{seed}"
    return trace


#: characters a seed-text input takes (Streamlit cuts a longer one off)
SEED_CHARS = 20_000


def _generation_need(found, key: str, seed_text: str, length: int) -> int:
    """Bytes of the Trace of ``length`` tokens generated after ``seed_text``.

    Raises lib.limits.LimitError, before tokenizing a seed longer than max_corpus_chars,
    or when seed and sample would pass max_tokens_per_analysis or max_trace_gb.
    """
    lim = limits.limits()
    if len(seed_text) > lim.max_corpus_chars:
        raise limits.LimitError(
            f"The seed text is {len(seed_text):,} characters, over this server's limit of "
            f"{lim.max_corpus_chars:,} (max_corpus_chars)."
        )
    n_seed = _token_count(key, text_hash(seed_text), seed_text, found.tokenizer)
    check_generation(found.spec, n_seed, length, lim)
    return generation_bytes(found.spec, n_seed, length)


def generated_trace(
    name: str, seed_text: str, length: int, temperature: float, top_k: int | None, seed: int | None
) -> Trace:
    """``length`` tokens sampled from model ``name`` after ``seed_text`` (cached).

    Checked against the server's limits before generating (seed tokens plus ``length``:
    lib.run.generate.check_generation): over them the page shows the refusal and stops.
    Counted with the recordings in the memory the trace caches hold (:func:`_hold`).
    """
    found, key = bundle(name), model_key(name)
    try:
        need = _generation_need(found, key, seed_text, length)
    except limits.LimitError as e:
        st.error(md(str(e)))
        st.stop()
        raise  # outside a Streamlit run (a test, a notebook) st.stop returns
    _hold(f"gen:{key}:{text_hash(seed_text)}:{length}:{temperature}:{top_k}:{seed}", need)
    return _generated(found, key, seed_text, length, temperature, top_k, seed)


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


def signals_per_layer(spec: ModelSpec) -> int:
    """How many signals a recording of this model keeps per layer (h and the gates)."""
    return len(SIGNALS[spec.cell])


#: traces held by ``_recorded``'s and ``_generated``'s caches -> their bytes (an
#: over-estimate: the caches also evict by count, without telling)
_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


def _hold(entry: str, need: int) -> None:
    """Count ``need`` bytes for trace-cache ``entry`` (once) in :data:`_HELD`.

    One accounting for recorded, generated and classifier traces: an entry that would
    take the held total past twice ``max_trace_gb`` (one trace being analysed and one
    more) first empties all three caches.
    """
    with _HELD_LOCK:
        if entry in _HELD:
            return
        if sum(_HELD.values()) + need > 2 * limits.limits().max_trace_gb * 1e9:
            _recorded.clear()
            _generated.clear()
            _classifier_trace.clear()
            _sentences_trace.clear()
            _HELD.clear()
        _HELD[entry] = need


def _record_checked(found, key: str, text: str) -> Trace:
    """Record ``text`` through ``found`` (cached) within the server's limits.

    lib.limits.trace_dtype picks float32, or float16 where float32 would not fit; over the
    limits the page shows the refusal and stops. The cached traces together stay under
    twice ``max_trace_gb`` (:func:`_hold`).
    """
    spec, digest = found.spec, text_hash(text)
    n = _token_count(key, digest, text, found.tokenizer)
    n_signals = signals_per_layer(spec)
    try:
        dtype, why = limits.trace_dtype(n, spec.units, spec.layers, n_signals)
    except limits.LimitError as e:
        st.error(md(str(e)))
        st.stop()
        raise  # outside a Streamlit run st.stop returns
    itemsize = 2 if dtype == "float16" else 4
    _hold(
        f"{key}:{digest}:{dtype}",
        limits.trace_bytes(n, spec.units, spec.layers, n_signals, itemsize=itemsize),
    )
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


def current_bundle(
    task: str | None = "lm", *, offer: str = "demo-ref-char-lstm"
) -> tuple[str, ModelBundle]:
    """The sidebar's model, loaded; stops the page with a message when there is none or it
    is not of the ``task`` the page needs (None: any), offering the shipped model ``offer``
    with one click (:func:`dashboard.widgets.needs.offer_model`)."""
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
        from dashboard.widgets.needs import offer_model  # above cache; imports no cache

        offer_model(
            f"This page needs a language model (one that predicts the next token); "
            f"{md(name)} is a sequence classifier. Open it with {md(offer)}, pick another "
            "model in the sidebar, or see the classifier on the Hidden States page.",
            offer,
            key="needs.language_model",
        )
        st.stop()
    return name, found


@st.cache_resource(max_entries=8, show_spinner="Loading the checkpoint…")
def _checkpoint(name: str, key: str, epoch: int):
    return registry.load_checkpoint(bundle(name), epoch)


def checkpoint_bundle(name: str, epoch: int) -> ModelBundle:
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
    """Changes when the trace at ``path`` is written again; TraceError if it cannot be read."""
    from lib.run.trace import TraceError

    try:
        marks = (
            [path]
            if path.is_file()
            else [
                path / "manifest.json",
                path / "trace.json",
                *sorted(path.glob("shard-*/trace.json")),
            ]
        )
        return ":".join(f"{m.stat().st_mtime_ns}" for m in marks if m.exists())
    except OSError as e:  # no path in the message: e.strerror only
        raise TraceError(f"the trace {path.name!r} cannot be read: {e.strerror}") from None


@st.cache_resource(max_entries=4, show_spinner="Opening the recorded trace…")
def _opened(path: str, stamp: str) -> Trace:
    trace = open_trace(path)
    trace.meta["cache_key"] = f"disk:{path}:{stamp}"
    return trace


def disk_trace(path_text: str) -> Trace:
    """The recorded trace at ``path_text`` (a .npz file, trace folder or shard folder under
    :func:`trace_roots`), memory-mapped. Raises lib.run.trace.TraceError with the reason,
    naming the trace by its file name only."""
    from lib.run.trace import TraceError

    path = resolve_trace_path(path_text, trace_roots())
    try:
        return _opened(str(path), _stamp(path))
    except TraceError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as e:  # a damaged trace or manifest
        why = getattr(e, "strerror", None) or f"{type(e).__name__} {e}"
        raise TraceError(f"the trace {path.name!r} cannot be opened: {why}") from None


@st.cache_resource(max_entries=8, show_spinner="Reading the tokens from disk…")
def _window(_whole: Trace, key: str, start: int, stop: int) -> Trace:
    window = _whole.window(start, stop)
    window.meta["cache_key"] = f"{key}:{start}:{stop}"
    return window


def disk_window(whole: Trace, start: int, stop: int) -> Trace:
    """Tokens ``start`` to ``stop - 1`` of a trace from :func:`disk_trace`, in memory."""
    return _window(whole, trace_key(whole), start, stop)


def feature_digest(feature: Feature) -> str:
    return hashlib.sha1(np.ascontiguousarray(feature.values).tobytes()).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Ranking every neuron's activations…")
def _unit_ranks(trace_key: str, layer: int, signal: str, shape: tuple, _acts: np.ndarray):
    from lib.analysis.effects import rank_acts

    ranked = rank_acts(_acts)
    ranked.ranks.setflags(write=False)  # shared by every session: read-only
    ranked.constant.setflags(write=False)
    return ranked


def unit_ranks(trace_key: str, layer: int, signal: str, acts: np.ndarray):
    """:func:`lib.analysis.effects.rank_acts` of one layer's signal, once per trace.

    Every binary feature's AUROC (and its bootstrap bins) on the same trace, layer and
    signal reuses these ranks: a new feature costs one sum of ranks per unit, not a sort.
    A resource (shared read-only, 4 bytes per step and unit), keyed on the trace key and
    the shape, so a slice of the same trace gets its own ranks.
    """
    return _unit_ranks(trace_key, layer, signal, tuple(acts.shape), acts)


@st.cache_resource(max_entries=2, show_spinner="Transforming every neuron's activations…")
def _unit_spectra(trace_key: str, layer: int, signal: str, shape: tuple, _acts: np.ndarray):
    from lib.analysis.significance import shift_spectra

    spectra = shift_spectra(_acts)
    for array in (spectra.spectra, spectra.norms, spectra.constant):
        array.setflags(write=False)  # shared by every session: read-only
    return spectra


def unit_spectra(trace_key: str, layer: int, signal: str, acts: np.ndarray):
    """:func:`lib.analysis.significance.shift_spectra` of one layer's signal, once per trace.

    The forward FFTs of the circular-shift test do not depend on the feature: every
    feature after the first on the same trace, layer and signal takes only its inverse
    FFTs. A resource (read-only, ~205 MB for 100,000 steps x 512 units; two kept).
    """
    return _unit_spectra(trace_key, layer, signal, tuple(acts.shape), acts)


@st.cache_data(
    max_entries=32, show_spinner="Ranking every neuron (relevance, AUROC, circular-shift p-values)…"
)
def neuron_table(
    trace_key: str, layer: int, signal: str, digest: str, _acts: np.ndarray, _feature: Feature
) -> pd.DataFrame:
    spectra = unit_spectra(trace_key, layer, signal, _acts)
    if _feature.kind != "binary":  # Pearson r needs no ranks
        return rank_neurons(_acts, _feature, spectra=spectra)
    ranked = unit_ranks(trace_key, layer, signal, _acts)
    return rank_neurons(_acts, _feature, ranked=ranked, spectra=spectra)


@st.cache_data(max_entries=16, show_spinner="Computing every neuron's spectrum…")
def spectra(
    trace_key: str,
    layer: int,
    signal: str,
    remove_mean: bool,
    window: str | None,
    _acts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    return spectrum(_acts, remove_mean=remove_mean, window=window)


@st.cache_data(max_entries=16, show_spinner="Computing each token type's expected response…")
def response_matrix(
    trace_key: str, layer: int, signal: str, top_n: int, _acts: np.ndarray, _tokens: list[str]
):
    from lib.analysis.response import expected_response

    return expected_response(_acts, _tokens, top_n=top_n)


@st.cache_data(max_entries=16, show_spinner="Co-clustering token types and units…")
def coclusters(
    trace_key: str, layer: int, signal: str, top_n: int, k: int, sign: str, _S: np.ndarray
):
    from lib.analysis.coclustering import cocluster

    return cocluster(_S, n_clusters=k, sign=sign)


@st.cache_data(max_entries=16, show_spinner="Histograms and KL divergences of every neuron…")
def layer_distributions(
    trace_key: str,
    layer: int,
    signal: str,
    bin_width: float,
    eps: float,
    dead_threshold: float,
    dead_share: float,
    percentile: float,
    _acts: np.ndarray,
) -> dict:
    """Histograms, the layer reference, KL in both directions and the dead-neuron flags."""
    from lib.analysis import distributions as D

    value_range = SIGNAL_RANGES[signal] or D.clip_range(
        _acts, percentile=percentile, bin_width=bin_width
    )
    edges, P = D.histograms(_acts, bin_width=bin_width, value_range=value_range)
    Q = D.reference_distribution(P)
    kl = D.kl_scores(P, Q, epsilon=eps)
    table = pd.DataFrame(
        {
            "neuron": np.arange(P.shape[0]),
            "kl_forward": kl["forward"],
            "kl_reverse": kl["reverse"],
            "kl_sum": kl["sum"],
            "dead": D.dead_neurons(_acts, threshold=dead_threshold, share=dead_share),
            "mean_abs": D.mean_abs_per_unit(_acts),
        }
    )
    return {"edges": edges, "P": P, "Q": Q, "table": table, "range": value_range}


@st.cache_data(max_entries=8, show_spinner="Recording the text through each model…")
def model_summaries(
    names: tuple[str, ...], text: str, dead_threshold: float, dead_share: float
) -> pd.DataFrame:
    """Mean |h| and dead-neuron count of layer 0 of each model on the same text."""
    from lib.analysis.distributions import dead_neurons, mean_abs_activation

    rows = []
    for name in names:
        h = recorded_trace(name, text).signals[(0, "h")]
        rows.append(
            {
                "model": name,
                "mean_abs": mean_abs_activation(h),
                "dead": int(dead_neurons(h, threshold=dead_threshold, share=dead_share).sum()),
            }
        )
    return pd.DataFrame(rows)


_MAPS: OrderedDict = OrderedDict()


_MAPS_LOCK = threading.Lock()


def _remembered(key):
    with _MAPS_LOCK:
        if key in _MAPS:
            _MAPS.move_to_end(key)
            return _MAPS[key]
    return None


def _remember(key, value) -> None:
    with _MAPS_LOCK:
        _MAPS[key] = value
        while len(_MAPS) > 12:
            _MAPS.popitem(last=False)


def projection(key: tuple, X: np.ndarray, method: str, param) -> np.ndarray:
    """2-D projection of the rows of X with a progress bar, remembered for 12 calls.

    Cached by hand (shared by all sessions) rather than with st.cache_data so the progress
    bar shows on a miss and nothing is replayed on a hit.
    """
    from lib.analysis.projection import project

    key = ("projection", *key, method, param)
    found = _remembered(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text=f"Projecting {len(X):,} states with {method}…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    options = (
        {"perplexity": param}
        if method == "tsne"
        else ({"n_neighbors": int(param)} if method == "umap" else {})
    )
    if method == "umap":
        from dashboard.warmup import import_umap

        import_umap()  # numba's disk cache on for UMAP's functions (if not imported yet)
    Y = project(X, method=method, seed=0, progress=progress, **options)
    bar.empty()
    _remember(key, Y)
    return Y


def token_map(
    trace_key: str,
    layer: int,
    signal: str,
    n: int,
    method: str,
    param,
    k: int,
    linkage: str,
    on: str,
    acts: np.ndarray,
    tokens: list[str],
) -> pd.DataFrame:
    """Sampled token occurrences projected to 2-D and clustered (numbered by size)."""
    from lib.analysis import projection as P

    key = ("map", trace_key, layer, signal, n, method, param, k, linkage, on)
    found = _remembered(key)
    if found is not None:
        return found.copy()
    positions = P.stratified_sample(tokens, n, seed=0)
    Y = projection((trace_key, layer, signal, n), acts[positions], method, param)
    with st.spinner("Clustering…"):
        X = Y if on == "2-D points" else acts[positions]
        labels = P.cluster(X, n_clusters=min(k, len(positions) - 1), linkage=linkage)
    context = [
        "".join(tokens[max(0, p - 20) : p]) + "[" + tokens[p] + "]" + "".join(tokens[p + 1 : p + 8])
        for p in positions
    ]
    df = pd.DataFrame(
        {
            "x": Y[:, 0],
            "y": Y[:, 1],
            "position": positions,
            "token": [display_token(tokens[p]) for p in positions],
            "context": context,
            "cluster": labels,
        }
    )
    df.attrs["adjacent"] = P.adjacent_share(positions, labels)
    _remember(key, df)
    return df.copy()


@st.cache_data(max_entries=8, show_spinner="Tagging parts of speech…")
def pos_tags_cached(trace_key: str, _tokens: list[str], level: str, tagset: str) -> list[str]:
    return F.pos_tags(_tokens, level=level, tagset=tagset)


@st.cache_data(
    max_entries=8, show_spinner="Reading the vectors and intersecting them with the vocabulary…"
)
def coverage_preview(
    path: str, stamp: tuple, corpus_sha1: str, spec_dict: dict, config_key: tuple, _corpus
) -> dict:
    """Coverage of the vocabulary the model would have (same tokenizer, split, min count)."""
    from lib.model.spec import ModelSpec, TrainConfig
    from lib.train.fit import prepare

    min_count, max_vocab, max_tokens = config_key
    data = prepare(
        _corpus,
        ModelSpec.from_dict(spec_dict),
        TrainConfig(min_count=min_count, max_vocab=max_vocab, max_tokens=max_tokens),
    )
    tokens = data.vocab.tokens
    vectors = read_vectors(path, keep=wanted_words(tokens[1:]))
    _, coverage = embedding_matrix(vectors, tokens, data.vocab.counts)
    return {
        "describe": coverage.describe(),
        "missing": list(coverage.missing),
        "notes": vectors.notes,
    }


@st.cache_data(max_entries=8, show_spinner="Reading the pre-trained vectors…")
def pretrained_rows(path: str, stamp: tuple, tokens: tuple[str, ...]) -> np.ndarray:
    """The vocabulary's rows of a vectors file, NaN where a word has none."""
    vectors = read_vectors(path, keep=wanted_words(tokens[1:]))
    base = np.full((len(tokens), vectors.dim), np.nan)
    matrix, _ = embedding_matrix(vectors, list(tokens), base=base)
    return matrix


@st.cache_data(max_entries=16, show_spinner="Projecting the embedding…")
def embedding_map_table(
    key: tuple,
    _weights: np.ndarray,
    tokens: tuple[str, ...],
    counts: tuple[int, ...],
    n: int,
    method: str,
    offset: int,
    exclude: tuple[str, ...],
) -> pd.DataFrame:
    options = {"perplexity": min(30.0, max(2.0, (n - 1) / 3))} if method == "tsne" else {}
    if method == "umap":
        from dashboard.warmup import import_umap

        import_umap()  # numba's disk cache on for UMAP's functions (if not imported yet)
    return embedding_map(
        _weights,
        tokens,
        np.asarray(counts),
        n=n,
        method=method,
        offset=offset,
        exclude=exclude,
        **options,
    )


class GlyphPanel(NamedTuple):
    """One sentence's glyphs, ready to show with ``st.vega_lite_chart(panel.spec)``."""

    n_tokens: int
    glyphs: SentenceGlyphs
    #: the Vega-Lite spec of :func:`dashboard.charts.glyphs.sentence_glyphs`, built once:
    #: building and serialising its eight layers costs Altair ~0.5 s a sentence
    spec: dict


def labels_digest(col_labels: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(col_labels, dtype=np.int64).tobytes()).hexdigest()[:16]


@st.cache_data(max_entries=16, show_spinner="Drawing the sentence glyphs…")
def glyph_panel_specs(
    trace_keys: tuple[str, ...],
    layer: int,
    signal: str,
    digest: str,
    preserved: str,
    words: tuple[tuple[int, str], ...],
    _traces: list[Trace],
    _col_labels: np.ndarray,
) -> tuple[list[GlyphPanel], float]:
    # imported here: glyphs needs scikit-learn (its clustering), 1-2 s no other page pays
    from lib.analysis.glyphs import glyph_scale, glyph_table, glyphs_from_trace

    measured = [
        glyphs_from_trace(trace, _col_labels, layer=layer, signal=signal, preserved=preserved)
        for trace in _traces
    ]
    scale = glyph_scale(*measured)
    return [
        GlyphPanel(
            g.n_steps,
            g,
            charts.sentence_glyphs(
                glyph_table(g, cluster_words=dict(words)), scale=scale
            ).to_dict(),
        )
        for g in measured
    ], scale


@st.cache_resource(max_entries=6, show_spinner="Recording the test sequences…")
def _classifier_trace(name: str, key: str, n: int):
    from lib.data.datasets import subsample
    from lib.run.classify import held_out, record_sequences

    found = bundle(name)
    test = held_out(found)
    n = min(n, len(test.texts))
    test = subsample(test, n, seed=0)  # the test split is in dataset order: neg, then pos
    spec, max_len = found.spec, found.spec.max_len or 1
    tokens = [found.tokenizer.tokenize(t)[:max_len] for t in test.texts]
    # only h of each layer is kept, as float32
    n_tokens = sum(map(len, tokens))
    limits.check_trace(n_tokens, spec.units, spec.layers, 1)
    _hold(f"cls:{key}:{n}", limits.trace_bytes(n_tokens, spec.units, spec.layers, 1))
    trace = record_sequences(found, tokens, labels=test.labels)
    trace.meta["cache_key"] = f"cls:{key}:{n}"
    return trace


def classifier_trace(name: str, n: int):
    """The first ``n`` held-out test sequences of classifier ``name``, recorded; None (with
    a message shown) when its dataset cannot be loaded here or the recording would pass the
    server's limits."""
    from lib.data.corpora import CorpusError

    try:
        return _classifier_trace(name, model_key(name), n)
    except CorpusError as e:  # e.g. an NLTK corpus neither installed nor downloadable
        st.error(f"Cannot load the test sentences of {md(name)}: {md(str(e))}")
        return None
    except limits.LimitError as e:
        st.error(md(str(e)))
        return None


@st.cache_resource(max_entries=6, show_spinner="Recording your sentences…")
def _sentences_trace(name: str, key: str, digest: str, _sentences):
    from lib.data.datasets import DatasetError
    from lib.run.classify import record_sequences

    found = bundle(name)
    spec, max_len = found.spec, found.spec.max_len or 1
    tokens = [found.tokenizer.tokenize(t)[:max_len] for t in _sentences.texts]
    keep = [i for i, t in enumerate(tokens) if t]
    if not keep:
        raise DatasetError(
            f"none of the {len(tokens)} sentences has a token {name} reads "
            f"({spec.level} level); write words of its vocabulary"
        )
    given = _sentences.subset(keep)
    tokens = [tokens[i] for i in keep]
    n_tokens = sum(map(len, tokens))
    limits.check_trace(n_tokens, spec.units, spec.layers, 1)
    _hold(f"own:{key}:{digest}", limits.trace_bytes(n_tokens, spec.units, spec.layers, 1))
    trace = record_sequences(found, tokens, labels=given.labels)
    trace.meta["cache_key"] = f"own:{key}:{digest}"
    trace.meta["lines"] = list(given.lines)
    kept = set(keep)
    trace.meta["dropped_lines"] = [
        _sentences.lines[i] if _sentences.lines else i + 1
        for i in range(len(_sentences))
        if i not in kept
    ]
    return trace


def sentences_trace(name: str, sentences):
    """A user's :class:`lib.data.datasets.Sentences` recorded through classifier ``name``
    (cached on the model and the sentences' content hash); None, with the message shown,
    when the recording would pass the server's limits.

    Sentences with no token (after the model's tokenizer and standardization) are left
    out; ``trace.meta["dropped_lines"]`` lists their lines and ``trace.meta["lines"]``
    the line of every recorded one.
    """
    from lib.data.datasets import DatasetError

    try:
        return _sentences_trace(name, model_key(name), sentences.sha1, sentences)
    except (DatasetError, limits.LimitError) as e:
        st.error(md(str(e)))
        return None


@st.cache_data(max_entries=16, show_spinner="Sampling with and without the intervention…")
def edited_sample(
    name: str,
    key: str,
    seed_text: str,
    length: int,
    temperature: float,
    top_k: int | None,
    seed: int,
    intervention: Intervention,
) -> str:
    found = bundle(name)
    trace = generate(
        found,
        seed_text,
        length,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        interventions=(intervention,),
        lim=limits.limits(),
    )
    return found.tokenizer.detokenize(trace.tokens)


@st.cache_data(max_entries=16, show_spinner="Scoring the validation text with and without…")
def edited_loss(
    name: str,
    key: str,
    text: str,
    intervention: Intervention,
    digest: str,
    _mask: np.ndarray | None,
) -> dict:
    out = loss_change(bundle(name), text, (intervention,), positions_mask=_mask)
    return {k: v for k, v in out.items() if not k.startswith(("trace_", "position_"))}


@st.cache_data(
    max_entries=8, show_spinner="Running the ablation sweep (every run is a full exact pass)…"
)
def sweep(
    name: str,
    key: str,
    text: str,
    ranked: tuple[int, ...],
    layer: int,
    ks: tuple,
    n_random: int,
    seed: int,
    digest: str,
    _mask,
    mode: str = "zero",
    signal: str = "h",
    control: tuple[str, ...] = ("all",),
    unrelated: tuple[int, ...] | None = None,
    reference_key: str = "",
    _reference: np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`lib.analysis.ablation.ablation_sweep`; ``reference_key`` names ``_reference``
    (the trace key and signal of the recording mean/resample read their values from)."""
    return ablation_sweep(
        bundle(name),
        text,
        list(ranked),
        layer=layer,
        ks=ks,
        n_random=n_random,
        seed=seed,
        positions_mask=_mask,
        mode=mode,
        signal=signal,
        reference=_reference,
        control=control,
        unrelated=unrelated,
    )


@st.cache_data(max_entries=8, show_spinner="Recording the text after every epoch…")
def evolution_table(
    name: str, key: str, text: str, layer: int, signal: str, neuron: int, digest: str, _mask
) -> pd.DataFrame:
    from lib.analysis.evolution import evolution

    return evolution(
        bundle(name), text, layer=layer, signal=signal, neuron=neuron, feature_mask=_mask
    )


@st.cache_data(max_entries=6, show_spinner="Loading the corpus…")
def builtin_or_nltk_corpus(ref: str):
    from lib.data.corpora import load_corpus

    return load_corpus(ref)


@st.cache_data(max_entries=6, show_spinner="Loading the dataset…")
def labelled_dataset(ref: str):
    from lib.data.datasets import load_dataset

    return load_dataset(ref)


# --- the Neuron Atlas ----------------------------------------------------------------------

#: tokens of the text the atlas's ablation cost is measured on (one exact pass per neuron)
ATLAS_ABLATION_TOKENS = 3000


@st.cache_resource(
    max_entries=8,
    show_spinner="Building the atlas: every neuron against every feature of the bank…",
)
def _neuron_atlas(key: str, layer: int, signal: str, level: str, _trace: Trace):
    from lib.analysis.atlas import atlas

    return atlas(_trace, layer, signal=signal, level=level)  # type: ignore[arg-type]


def neuron_atlas(source_key: str, trace: Trace, layer: int, signal: str, level: str):
    """The :func:`lib.analysis.atlas.atlas` of a recording (cached, shared read-only: a
    resource, so reopening it replays nothing and copies nothing)."""
    return _neuron_atlas(source_key, layer, signal, level, trace)


def atlas_built(source_key: str, layer: int, signal: str) -> bool:
    """Whether this session asked for this atlas already (it then opens from the cache)."""
    return (source_key, layer, signal) in st.session_state.get("atlas.built", set())


def mark_atlas_built(source_key: str, layer: int, signal: str) -> None:
    built = set(st.session_state.get("atlas.built", set()))
    st.session_state["atlas.built"] = built | {(source_key, layer, signal)}


@st.cache_data(max_entries=64, show_spinner="Replacing the neuron by its mean, token by token…")
def atlas_ablation(
    name: str, source_key: str, layer: int, signal: str, neuron: int, feature: str, _trace: Trace
) -> dict | None:
    """Mean-ablation cost of ``neuron`` on the first tokens of the atlas's text, at the
    positions of its feature; None when the feature does not occur there."""
    from lib.analysis.ablation import neuron_costs
    from lib.analysis.feature_bank import feature_bank

    found = bundle(name)
    tokens = list(_trace.tokens[:ATLAS_ABLATION_TOKENS])
    bank = feature_bank(tokens, level=found.spec.level)
    match = [f for f in bank.features if f.name == feature]
    if not match or match[0].kind != "binary" or not np.asarray(match[0].values).any():
        return None
    costs = neuron_costs(
        found,
        tokens,
        [neuron],
        layer=layer,
        signal=signal,
        mode="mean",
        reference=_trace,
        positions_mask=np.asarray(match[0].values, dtype=bool),
    )
    row = costs.iloc[0]
    return {
        "delta_loss": float(row["delta_loss"]),
        "delta_loss_feature": float(row["delta_loss_feature"]),
    }


# --- gate saturation, the sparse probe, what word clusters follow -------------------------


@st.cache_data(max_entries=32, show_spinner="Counting saturated gates…")
def gate_saturation_table(trace_key: str, layer: int, _trace: Trace) -> pd.DataFrame:
    """:func:`lib.analysis.saturation.layer_saturation` of one layer (Karpathy et al. 2015)."""
    from lib.analysis.saturation import layer_saturation

    return layer_saturation(_trace, layer)


def probe_digest(acts, mask: np.ndarray, max_steps: int, seed: int) -> str:
    """Hash of exactly what :func:`lib.analysis.probe.sparse_probe` reads: the subsampled
    steps of ``acts`` and ``mask`` (at most ``max_steps`` rows, so hashing is cheap)."""
    from lib.analysis.probe import probe_steps

    steps = probe_steps(acts.shape[0], max_steps, seed)
    h = hashlib.sha1(np.ascontiguousarray(acts[steps]).tobytes())
    h.update(np.ascontiguousarray(np.asarray(mask)[steps], dtype=bool).tobytes())
    h.update(f"{acts.shape}:{acts.dtype}:{max_steps}:{seed}".encode())
    return h.hexdigest()[:20]


@st.cache_data(
    max_entries=32, show_spinner="Fitting the L1 probe at every regularisation strength…"
)
def probe_result(
    digest: str, test_fraction: float, max_steps: int, seed: int, _acts, _mask: np.ndarray
):
    """:func:`lib.analysis.probe.sparse_probe`, keyed on :func:`probe_digest`."""
    from lib.analysis.probe import sparse_probe

    return sparse_probe(_acts, _mask, test_fraction=test_fraction, max_steps=max_steps, seed=seed)


#: seed of the untrained network the Word Clusters page compares with
UNTRAINED_SEED = 0


@st.cache_resource(max_entries=4, show_spinner="Building an untrained network of the same shape…")
def _untrained(name: str, key: str, seed: int) -> ModelBundle:
    from lib.analysis.cluster_agreement import untrained_twin

    return untrained_twin(bundle(name), seed)


@st.cache_data(
    max_entries=8, show_spinner="Recording the text through an untrained network of the same shape…"
)
def untrained_states(
    name: str,
    key: str,
    seed: int,
    trace_key: str,
    layer: int,
    signal: str,
    positions_digest: str,
    _tokens: list[str],
    _positions: np.ndarray,
) -> np.ndarray:
    """The untrained twin's ``signal`` of ``layer`` at ``positions`` of the same tokens.

    Raises lib.limits.LimitError when the recording would pass the server's limits."""
    twin = _untrained(name, key, seed)
    spec = twin.spec
    dtype, _ = limits.trace_dtype(len(_tokens), spec.units, spec.layers, signals_per_layer(spec))
    trace = record(twin, list(_tokens), dtype=dtype)
    return np.array(trace.signals[(layer, signal)][_positions], dtype=np.float32)


def cluster_report(
    name: str,
    trace_key: str,
    layer: int,
    signal: str,
    n: int,
    method: str,
    param,
    k: int,
    linkage: str,
    on: str,
    df: pd.DataFrame,
    trace: Trace,
) -> pd.DataFrame:
    """AMI of the token map's clusters with token identity and POS tags, for this model,
    an untrained network of the same shape (seed :data:`UNTRAINED_SEED`) and the
    context-free embedding; remembered by hand (the projection shows a progress bar).

    ``df`` is :func:`token_map`'s table for the same settings. Raises lib.limits.LimitError
    when the untrained recording would pass the server's limits."""
    from lib.analysis import projection as P
    from lib.analysis.cluster_agreement import cluster_agreement

    mkey = model_key(name)
    key = ("agreement", mkey, trace_key, layer, signal, n, method, param, k, linkage, on)
    found = _remembered(key)
    if found is not None:
        return found.copy()
    positions = df["position"].to_numpy()
    tokens = [trace.tokens[p] for p in positions]
    level = bundle(name).spec.level
    try:
        all_tags = pos_tags_cached(trace_key, trace.tokens, level, "universal")
        tags = [all_tags[p] for p in positions]
    except F.FeatureError:
        tags = None
    rows = [{"states": "this model", **cluster_agreement(df["cluster"], tokens, tags)}]

    digest = hashlib.sha1(np.ascontiguousarray(positions, dtype=np.int64).tobytes()).hexdigest()
    X = untrained_states(
        name, mkey, UNTRAINED_SEED, trace_key, layer, signal, digest, trace.tokens, positions
    )
    n_clusters = min(k, len(positions) - 1)
    if on == "2-D points":
        X = projection(
            ("untrained", mkey, UNTRAINED_SEED, trace_key, layer, signal, n), X, method, param
        )
    with st.spinner("Clustering the untrained network's states…"):
        labels = P.cluster(X, n_clusters=n_clusters, linkage=linkage)
    rows.append({"states": "untrained, same shape", **cluster_agreement(labels, tokens, tags)})

    weights = np.asarray(bundle(name).model.get_layer("embedding").get_weights()[0])
    E = weights[np.asarray(trace.ids)[positions]]
    distinct = len(np.unique(E, axis=0))
    with st.spinner("Clustering the embedding vectors…"):
        labels = P.cluster(E, n_clusters=min(n_clusters, distinct), linkage=linkage)
    rows.append({"states": "embedding (no context)", **cluster_agreement(labels, tokens, tags)})
    report = pd.DataFrame(rows)
    _remember(key, report)
    return report.copy()


@st.cache_data(
    max_entries=32,
    show_spinner="Measuring every neuron's effect (AUROC or r, intervals, circular-shift test)…",
)
def effect_ranking_table(
    trace_key: str, layer: int, signal: str, digest: str, _acts: np.ndarray, _feature: Feature
) -> pd.DataFrame:
    """:func:`lib.analysis.ranking.effect_ranking` of one layer's signal for a feature."""
    from lib.analysis.ranking import effect_ranking

    spectra = unit_spectra(trace_key, layer, signal, _acts)
    if _feature.kind != "binary":  # Pearson r needs no ranks
        return effect_ranking(_acts, _feature, spectra=spectra)
    ranked = unit_ranks(trace_key, layer, signal, _acts)
    return effect_ranking(_acts, _feature, ranked=ranked, spectra=spectra)


@st.cache_data(max_entries=8, show_spinner="Computing the feature bank…")
def feature_bank_for(trace_key: str, level: str, _tokens: list[str]):
    """:func:`lib.analysis.feature_bank.feature_bank` of a recording's tokens."""
    from lib.analysis.feature_bank import feature_bank

    return feature_bank(_tokens, level=level)  # type: ignore[arg-type]


@st.cache_data(max_entries=32, show_spinner="Attributing the output to the input tokens…")
def saliency_map(
    name: str,
    key: str,
    digest: str,
    _ids: np.ndarray,
    target: int | None,
    position: int | None,
    method: str,
    quantity: str,
    steps: int,
    window: int | None = None,
):
    """:func:`lib.analysis.saliency.saliency` of vocabulary ids ``_ids`` (hashed as
    ``digest``) through model ``name`` (``key``: :func:`model_key`); raises
    lib.limits.LimitError over the server's limits, before any work."""
    from lib.analysis.saliency import saliency

    return saliency(
        bundle(name),
        np.asarray(_ids),
        target=target,
        position=position,
        method=method,  # type: ignore[arg-type]
        quantity=quantity,  # type: ignore[arg-type]
        steps=steps,
        window=window,
    )
