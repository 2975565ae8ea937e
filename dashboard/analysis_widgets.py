"""Widgets of the analysis pages: the text to analyse and the feature of interest."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders, state
from dashboard.fmt import md
from lib.analysis import features as F
from lib.trace import Trace


def text_source(prefix: str, name: str, bundle) -> Trace | None:
    """Generated text or a slice of the model's corpus, recorded; None with a message."""
    char = bundle.spec.level == "char"
    state.bind({
        f"{prefix}.source": "Corpus slice", f"{prefix}.seed_text": "The ",
        f"{prefix}.length": 2000 if char else 600, f"{prefix}.temperature": 0.8,
        f"{prefix}.seed": 1, f"{prefix}.start": 0, f"{prefix}.slice_len": 20_000,
    })
    source = st.segmented_control(
        "Text", ["Corpus slice", "Generated"], key=f"{prefix}.source",
        help="Record a slice of the model's own corpus (many feature instances), or "
             "sample new text as seed 000 did.",
    ) or "Corpus slice"
    if source == "Generated":
        c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
        seed_text = c1.text_input("Seed text", key=f"{prefix}.seed_text",
                                  help="The model reads this first, then continues it.")
        length = c2.slider("Length (tokens)", 50, 5000, key=f"{prefix}.length",
                           help="Longer texts hold more instances of the feature.")
        temperature = c3.slider("Temperature", 0.1, 2.0, step=0.05,
                                key=f"{prefix}.temperature",
                                help="Sampling temperature of the generated text.")
        seed = c4.number_input("Seed", 0, 2**31 - 1, key=f"{prefix}.seed",
                               help="Random seed: run two seeds to test reliability.")
        if not seed_text:
            st.warning("The seed text is empty: give the model something to start from.")
            return None
        return loaders.generated_trace(name, seed_text, length, temperature, None, seed)
    corpus, problem = loaders.model_corpus_text(bundle.meta)
    if corpus is None:
        st.warning(f"The model's corpus is not available here ({problem}); use generated "
                   "text instead.")
        return None
    c1, c2 = st.columns([3, 2])
    limit = 100_000 if char else 400_000  # about 100,000 tokens either way
    st.session_state[f"{prefix}.start"] = min(st.session_state[f"{prefix}.start"],
                                              max(len(corpus) - 1000, 0))
    start = c1.slider("Start (character)", 0, max(len(corpus) - 1000, 0), key=f"{prefix}.start",
                      help="Where in the model's corpus the slice begins.")
    slice_len = c2.slider("Length (characters)", 1000, min(limit, len(corpus)), step=1000,
                          key=f"{prefix}.slice_len",
                          help="Up to about 100,000 tokens; longer is slower but surer.")
    return loaders.recorded_trace(name, corpus[start: start + slice_len])


@st.cache_data(max_entries=8, show_spinner="Tagging parts of speech…")
def pos_tags_cached(trace_key: str, _tokens: list[str], level: str, tagset: str) -> list[str]:
    return F.pos_tags(_tokens, level=level, tagset=tagset)


POS_CHOICES = {
    "universal": ["NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".",
                  "X", F.SPACE_TAG],
    "penn": ["NN", "NNS", "NNP", "VB", "VBD", "VBG", "VBZ", "JJ", "RB", "PRP", "PRP$", "DT",
             "IN", "CC", "CD", "POS", F.SPACE_TAG],
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
    state.bind({f"{prefix}.fkind": "Preset", f"{prefix}.preset": "space",
                f"{prefix}.regex": "[A-Z]", f"{prefix}.structural": "inside quotes",
                f"{prefix}.tagset": "universal"})
    kind = st.segmented_control(
        "Feature of interest", ["Preset", "Regex", "Part of speech", "Structure"],
        key=f"{prefix}.fkind",
        help="What the neurons should track: a token pattern, a word class, or where a token "
             "sits in the text.",
    ) or "Preset"
    tagset = "universal"
    if kind == "Preset":
        param = st.selectbox("Preset", list(F.REGEX_PRESETS), key=f"{prefix}.preset",
                             help="Common token patterns, matched against each token.")
    elif kind == "Regex":
        param = st.text_input("Regular expression", key=f"{prefix}.regex",
                              help="Python regex matched against each whole token "
                                   "(re.fullmatch), as in seed 000.")
    elif kind == "Part of speech":
        c1, c2 = st.columns([1, 3])
        tagset = c1.selectbox("Tag set", list(POS_CHOICES), key=f"{prefix}.tagset",
                              help="Universal (12 coarse tags) or Penn Treebank tags.")
        st.session_state.setdefault(f"{prefix}.tags", ["NOUN"])
        valid = [t for t in st.session_state[f"{prefix}.tags"] if t in POS_CHOICES[tagset]]
        st.session_state[f"{prefix}.tags"] = valid or [POS_CHOICES[tagset][0]]
        param = tuple(c2.multiselect(
            "Tags", POS_CHOICES[tagset], key=f"{prefix}.tags",
            help="Tokens with any of these tags form the feature. At character level a "
                 "character takes its word's tag."))
    else:
        param = st.selectbox("Structure", list(F.STRUCTURAL), key=f"{prefix}.structural",
                             help="Computed from the text itself. Numeric ones (depth, "
                                  "position) are ranked by correlation.")
    spec = (kind, param, tagset)
    try:
        feature = make_feature(spec, trace, level)
    except F.FeatureError as e:
        st.warning(str(e))
        return None, spec
    n = len(feature)
    if feature.kind == "binary":
        hits = int(feature.values.sum())
        st.caption(f"Feature **{md(feature.name)}**: {hits:,} of {n:,} tokens "
                   f"({hits / n:.1%}).")
    else:
        st.caption(f"Numeric feature **{md(feature.name)}**: values {feature.values.min():g} "
                   f"to {feature.values.max():g} over {n:,} tokens.")
    return feature, spec
