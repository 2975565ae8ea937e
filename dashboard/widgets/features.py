"""The feature-of-interest editor: a preset or regex, part-of-speech tags, or text structure."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, state
from dashboard.fmt import md
from lib.analysis import features as F
from lib.limits import limits
from lib.run.trace import Trace

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
        tags = cache.pos_tags_cached(cache.trace_key(trace), tokens, level, tagset)
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
            max_chars=limits().max_regex_chars,
            help="Python regex matched against each whole token (re.fullmatch), as in Dahlberg.",
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
