"""Widgets of the analysis pages: the text to analyse and the feature of interest."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders, state
from dashboard.fmt import md
from lib import limits
from lib.analysis import features as F
from lib.run.trace import Trace, TraceError

SOURCES = ["Corpus slice", "Generated", "Recorded on disk"]


def text_source(prefix: str, name: str, bundle) -> Trace | None:
    """Generated text, a slice of the model's corpus, or a window of a trace recorded on
    disk; None with a message. A caption says how many tokens the analyses use."""
    trace = _text_source(prefix, name, bundle)
    if trace is not None:
        st.caption(analysed_caption(trace))
    return trace


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


def _disk_source(prefix: str, name: str, bundle) -> Trace | None:
    """A window of a trace recorded with ``python -m lib record`` (file or folder)."""
    state.bind(
        {f"{prefix}.trace_path": "", f"{prefix}.trace_start": 0, f"{prefix}.trace_len": 20_000}
    )
    roots = " or ".join(f"`{r}`" for r in loaders.trace_roots())
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
        whole = loaders.disk_trace(path)
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
            f"Recorded through the version of {md(name)} saved {recorded_with}; the "
            f"model here was saved {bundle.meta.get('updated')}."
        )
    spec, n = bundle.spec, len(whole)
    n_signals = loaders.signals_per_layer(spec)
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
    return loaders.disk_window(whole, int(start), stop)


def _text_source(prefix: str, name: str, bundle) -> Trace | None:
    char = bundle.spec.level == "char"
    state.bind(
        {
            f"{prefix}.source": "Corpus slice",
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
            "new text as seed 000 did, or open a trace recorded with `python -m lib "
            "record` (say, on a GPU server).",
        )
        or "Corpus slice"
    )
    if source == "Recorded on disk":
        return _disk_source(prefix, name, bundle)
    if source == "Generated":
        c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
        seed_text = c1.text_input(
            "Seed text",
            key=f"{prefix}.seed_text",
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
        return loaders.generated_trace(name, seed_text, length, temperature, None, seed)
    corpus, problem = loaders.model_corpus_text(bundle.meta)
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
    return loaders.recorded_trace(name, corpus[start : start + slice_len])


@st.cache_data(max_entries=8, show_spinner="Tagging parts of speech…")
def pos_tags_cached(trace_key: str, _tokens: list[str], level: str, tagset: str) -> list[str]:
    return F.pos_tags(_tokens, level=level, tagset=tagset)


POS_CHOICES = {
    "universal": [
        "NOUN",
        "VERB",
        "ADJ",
        "ADV",
        "PRON",
        "DET",
        "ADP",
        "NUM",
        "CONJ",
        "PRT",
        ".",
        "X",
        F.SPACE_TAG,
    ],
    "penn": [
        "NN",
        "NNS",
        "NNP",
        "VB",
        "VBD",
        "VBG",
        "VBZ",
        "JJ",
        "RB",
        "PRP",
        "PRP$",
        "DT",
        "IN",
        "CC",
        "CD",
        "POS",
        F.SPACE_TAG,
    ],
}


def make_feature(spec: tuple, trace: Trace, level: str) -> F.Feature:
    """Build the feature ``spec`` = (kind, parameter, tagset) over a trace's tokens."""
    kind, param, tagset = spec
    tokens = trace.tokens
    if kind == "Preset":
        feature = F.Feature(param, F.regex_mask(tokens, F.REGEX_PRESETS[param]))
    elif kind == "Regex":
        feature = F.Feature(f"regex {param!r}", F.regex_mask(tokens, param))
    elif kind == "Part of speech":
        tags = pos_tags_cached(trace.meta.get("cache_key", ""), tokens, level, tagset)
        feature = F.Feature("POS " + "+".join(param), F.pos_mask(tags, set(param)))
    else:
        feature = F.structural_feature(tokens, param, level=level)
    if feature.kind == "binary":
        F.check_binary(feature.values, feature.name)
    return feature


def feature_editor(prefix: str, trace: Trace, level: str) -> tuple[F.Feature | None, tuple]:
    """Pick the feature of interest: (feature, spec); feature None (with a message) when it
    cannot be used. ``make_feature(spec, other_trace, level)`` rebuilds it on another text."""
    state.bind(
        {
            f"{prefix}.fkind": "Preset",
            f"{prefix}.preset": "space",
            f"{prefix}.regex": "[A-Z]",
            f"{prefix}.structural": "inside quotes",
            f"{prefix}.tagset": "universal",
        }
    )
    kind = (
        st.segmented_control(
            "Feature of interest",
            ["Preset", "Regex", "Part of speech", "Structure"],
            key=f"{prefix}.fkind",
            help="What the neurons should track: a token pattern, a word class, or where a token "
            "sits in the text.",
        )
        or "Preset"
    )
    tagset = "universal"
    if kind == "Preset":
        param = st.selectbox(
            "Preset",
            list(F.REGEX_PRESETS),
            key=f"{prefix}.preset",
            help="Common token patterns, matched against each token.",
        )
    elif kind == "Regex":
        param = st.text_input(
            "Regular expression",
            key=f"{prefix}.regex",
            help="Python regex matched against each whole token (re.fullmatch), as in seed 000.",
        )
    elif kind == "Part of speech":
        c1, c2 = st.columns([1, 3])
        tagset = c1.selectbox(
            "Tag set",
            list(POS_CHOICES),
            key=f"{prefix}.tagset",
            help="Universal (12 coarse tags) or Penn Treebank tags.",
        )
        st.session_state.setdefault(f"{prefix}.tags", ["NOUN"])
        valid = [t for t in st.session_state[f"{prefix}.tags"] if t in POS_CHOICES[tagset]]
        st.session_state[f"{prefix}.tags"] = valid or [POS_CHOICES[tagset][0]]
        param = tuple(
            c2.multiselect(
                "Tags",
                POS_CHOICES[tagset],
                key=f"{prefix}.tags",
                help="Tokens with any of these tags form the feature. At character level a "
                "character takes its word's tag.",
            )
        )
    else:
        param = st.selectbox(
            "Structure",
            list(F.STRUCTURAL),
            key=f"{prefix}.structural",
            help="Computed from the text itself. Numeric ones (depth, "
            "position) are ranked by correlation.",
        )
    spec = (kind, param, tagset)
    try:
        feature = make_feature(spec, trace, level)
    except F.FeatureError as e:
        st.warning(md(str(e)))
        return None, spec
    n = len(feature)
    if feature.kind == "binary":
        hits = int(feature.values.sum())
        st.caption(f"Feature **{md(feature.name)}**: {hits:,} of {n:,} tokens ({hits / n:.1%}).")
    else:
        st.caption(
            f"Numeric feature **{md(feature.name)}**: values {feature.values.min():g} "
            f"to {feature.values.max():g} over {n:,} tokens."
        )
    return feature, spec
