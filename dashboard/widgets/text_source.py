"""The text an analysis page looks at: a corpus slice, generated text, or a trace on disk.

:func:`text_source` draws the choice and returns a :class:`TextSource`: the recording, its
cache key, and how the text was made, so a page can ask for a second text of the same kind
(:meth:`TextSource.second`) or where a token sits in the corpus (:meth:`TextSource.corpus_offset`)
without reading other widgets' keys or parsing cache keys.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import streamlit as st

from dashboard import cache, state
from dashboard.fmt import code, md
from lib import limits
from lib.model.bundle import ModelBundle
from lib.run.trace import Trace, TraceError


class SourceKind(enum.Enum):
    """Where an analysed text comes from (the values are the labels shown)."""

    CORPUS = "Corpus slice"
    GENERATED = "Generated"
    DISK = "Recorded on disk"


SOURCES = [kind.value for kind in SourceKind]


@dataclass(frozen=True)
class Generation:
    """The settings a generated text was sampled with."""

    seed_text: str
    length: int
    temperature: float
    seed: int


@dataclass(frozen=True)
class TextSource:
    """The text an analysis page looks at and its recording through the model.

    Attributes
    ----------
    kind : SourceKind
    trace : Trace
        The recording every analysis of the page reads.
    key : str
        Its cache key (:func:`dashboard.cache.trace_key`): pass it to cached analyses.
    span : tuple of int
        Corpus slice: characters ``[start, stop)`` of the model's corpus. Trace on disk:
        tokens ``[start, stop)`` of the whole recording. Generated: ``(0, len(trace))``.
    generation : Generation or None
        How a generated text was sampled.
    whole : Trace or None
        The whole recording on disk that ``trace`` is a window of.
    """

    kind: SourceKind
    trace: Trace
    key: str
    span: tuple[int, int]
    generation: Generation | None = None
    whole: Trace | None = None

    def corpus_offset(self, token: int) -> int | None:
        """Character offset in the model's corpus of token ``token``, for a corpus slice."""
        if self.kind is not SourceKind.CORPUS:
            return None
        return self.span[0] + len("".join(self.trace.tokens[:token]))

    def second(self, name: str, bundle: ModelBundle, seed: int) -> Trace | None:
        """Another text of the same kind, for a reliability check (Dahlberg): the same
        settings with random seed ``seed`` (generated), the next slice of the corpus of the
        same length, or the next window of the recording on disk; None if there is none."""
        if self.kind is SourceKind.GENERATED and self.generation is not None:
            g = self.generation
            return cache.generated_trace(name, g.seed_text, g.length, g.temperature, None, seed)
        start, stop = self.span
        if self.kind is SourceKind.DISK and self.whole is not None:
            n = stop - start
            if len(self.whole) <= n:
                return None
            first = stop if stop + n <= len(self.whole) else 0
            return cache.disk_window(self.whole, first, first + n)
        corpus, _ = cache.model_corpus_text(bundle.meta)
        if corpus is None:
            return None
        n = stop - start
        first = stop % max(len(corpus) - n, 1)
        return cache.recorded_trace(name, corpus[first : first + n])


def text_source(prefix: str, name: str, bundle: ModelBundle) -> TextSource | None:
    """Generated text, a slice of the model's corpus, or a window of a trace recorded on
    disk; None with a message. A caption says how many tokens the analyses use."""
    source = _text_source(prefix, name, bundle)
    if source is not None:
        st.caption(analysed_caption(source.trace))
    return source


def analysed_caption(trace: Trace) -> str:
    """The caption under the text: "Analysed 20,000 tokens (float32)." and, for a window
    of a trace on disk, of how many and from where; for a float16 recording, why."""
    window = trace.meta.get("window")
    storage = trace.meta.get("storage", {})
    count, where = f"{len(trace):,} tokens", ""
    if window:
        count = f"{len(trace):,} of {window['of']:,} tokens"
        where = (
            f" (tokens {window['start']:,} to {window['stop'] - 1:,} of "
            f"{md(storage.get('path', 'the trace on disk'))})"
        )
    why = storage.get("why")
    return f"Analysed {count}{where} ({trace.dtype}{'; ' + why if why else ''})."


def _disk_source(prefix: str, name: str, bundle: ModelBundle) -> TextSource | None:
    """A window of a trace recorded with ``python -m lib record`` (file or folder)."""
    state.bind(
        {f"{prefix}.trace_path": "", f"{prefix}.trace_start": 0, f"{prefix}.trace_len": 20_000}
    )
    roots = " or ".join(code(r.name) for r in cache.trace_roots())  # names, not server paths
    path = st.text_input(
        "Trace file or folder",
        key=f"{prefix}.trace_path",
        help=f"Written by `python -m lib record --out PATH` (a .npz file, a trace folder, or "
        f"a folder of shards), under {roots}; relative paths start at the first.",
    )
    if not path.strip():
        st.info(
            f"Give the path of a recorded trace under {roots}: see the README, *Train "
            "on a GPU server, then explore on a laptop*."
        )
        return None
    try:
        whole = cache.disk_trace(path)
    except TraceError as e:
        st.warning(md(str(e)))
        return None
    if whole.model_name != name:
        st.warning(
            f"This trace was recorded through model **{md(whole.model_name)}**; pick "
            "that model in the sidebar to analyse it."
        )
        return None
    recorded_with = whole.meta.get("model", {}).get("updated")
    if recorded_with and recorded_with != bundle.meta.get("updated"):
        st.caption(
            f"Recorded through the version of {md(name)} saved {md(recorded_with)}; the "
            f"model here was saved {md(bundle.meta.get('updated'))}."
        )
    spec, n = bundle.spec, len(whole)
    n_signals = cache.signals_per_layer(spec)
    most = max(
        1,
        min(
            n, limits.max_tokens(spec.units, spec.layers, n_signals, itemsize=whole.dtype.itemsize)
        ),
    )
    st.session_state[f"{prefix}.trace_start"] = min(
        st.session_state[f"{prefix}.trace_start"], n - 1
    )
    st.session_state[f"{prefix}.trace_len"] = min(st.session_state[f"{prefix}.trace_len"], most)
    c1, c2 = st.columns(2)
    start = c1.number_input(
        f"First token (of {n:,})",
        0,
        n - 1,
        step=1000,
        key=f"{prefix}.trace_start",
        help="Where in the recorded text the analysed window begins.",
    )
    length = c2.number_input(
        "Tokens",
        1,
        most,
        step=1000,
        key=f"{prefix}.trace_len",
        help=f"Up to {most:,} tokens at a time on this server "
        "(max_tokens_per_analysis, max_trace_gb).",
    )
    stop = min(n, int(start) + int(length))
    try:
        limits.check_trace(
            stop - int(start), spec.units, spec.layers, n_signals, itemsize=whole.dtype.itemsize
        )
    except limits.LimitError as e:
        st.error(md(str(e)))
        return None
    window = cache.disk_window(whole, int(start), stop)
    return TextSource(
        SourceKind.DISK, window, cache.trace_key(window), (int(start), stop), whole=whole
    )


def _text_source(prefix: str, name: str, bundle: ModelBundle) -> TextSource | None:
    char = bundle.spec.level == "char"
    state.bind(
        {
            f"{prefix}.source": SourceKind.CORPUS.value,
            f"{prefix}.seed_text": "The ",
            f"{prefix}.length": 2000 if char else 600,
            f"{prefix}.temperature": 0.8,
            f"{prefix}.seed": 1,
            f"{prefix}.start": 0,
            f"{prefix}.slice_len": 20_000,
        }
    )
    source = (
        st.segmented_control(
            "Text",
            SOURCES,
            key=f"{prefix}.source",
            help="Record a slice of the model's own corpus (many feature instances), sample "
            "new text as Dahlberg did, or open a trace recorded with `python -m lib "
            "record` (say, on a GPU server).",
        )
        or SourceKind.CORPUS.value
    )
    if source == SourceKind.DISK.value:
        return _disk_source(prefix, name, bundle)
    if source == SourceKind.GENERATED.value:
        c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
        seed_text = c1.text_input(
            "Seed text",
            key=f"{prefix}.seed_text",
            max_chars=cache.SEED_CHARS,
            help="The model reads this first, then continues it.",
        )
        length = c2.slider(
            "Length (tokens)",
            50,
            5000,
            key=f"{prefix}.length",
            help="Longer texts hold more instances of the feature.",
        )
        temperature = c3.slider(
            "Temperature",
            0.1,
            2.0,
            step=0.05,
            key=f"{prefix}.temperature",
            help="Sampling temperature of the generated text.",
        )
        seed = c4.number_input(
            "Seed",
            0,
            2**31 - 1,
            key=f"{prefix}.seed",
            help="Random seed: run two seeds to test reliability.",
        )
        if not seed_text:
            st.warning("The seed text is empty: give the model something to start from.")
            return None
        generation = Generation(seed_text, int(length), float(temperature), int(seed))
        trace = cache.generated_trace(name, seed_text, length, temperature, None, seed)
        return TextSource(
            SourceKind.GENERATED, trace, cache.trace_key(trace), (0, len(trace)), generation
        )
    corpus, problem = cache.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(
            f"The model's corpus is not available here ({md(problem)}); use generated text instead."
        )
        return None
    c1, c2 = st.columns([3, 2])
    limit = 100_000 if char else 400_000  # about 100,000 tokens either way
    st.session_state[f"{prefix}.start"] = min(
        st.session_state[f"{prefix}.start"], max(len(corpus) - 1000, 0)
    )
    start = c1.slider(
        "Start (character)",
        0,
        max(len(corpus) - 1000, 0),
        key=f"{prefix}.start",
        help="Where in the model's corpus the slice begins.",
    )
    slice_len = c2.slider(
        "Length (characters)",
        1000,
        min(limit, len(corpus)),
        step=1000,
        key=f"{prefix}.slice_len",
        help="Up to about 100,000 tokens; longer is slower but surer.",
    )
    stop = min(start + slice_len, len(corpus))
    trace = cache.recorded_trace(name, corpus[start:stop])
    return TextSource(SourceKind.CORPUS, trace, cache.trace_key(trace), (start, stop))
