"""Compare: two models (or two layers of one model) side by side on the same text."""

import pandas as pd
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import (
    coclusters,
    feature_digest,
    layer_distributions,
    neuron_table,
    response_matrix,
)
from dashboard.fmt import md
from dashboard.panels.experiments import group_picker
from dashboard.sidebar import headline
from dashboard.widgets.features import make_feature
from lib.analysis.distributions import mean_abs_activation
from lib.analysis.features import REGEX_PRESETS, STRUCTURAL, FeatureError
from lib.analysis.ranking import minimum_size
from lib.model.registry import list_models

routing.page_guard()
st.title("Compare")
export.report("Compare", "cmp.")
with st.expander("What am I looking at?"):
    st.markdown("""
Two models — or two layers of one model — read **the same text** and are scored against **the
same feature**: their metrics, the neurons that track the feature (Dahlberg's relevance) and
how far the two top-k lists share neurons, how many neurons are dead or unusual (KL, Ryšánek
2023), their mean |activation|, how their units cluster by the tokens they respond to (RNNVis
memory chips, Ming et al. 2017), and a sample from each with the same random seed. Models of
different sizes have different neuron numbers: compare the counts and scores, not the ids.

**No neuron-by-neuron overlap is shown.** Neuron 17 of one model and neuron 17 of another
(or of another layer) are unrelated units: training numbers them arbitrarily, so a "top-k
overlap" between them is chance. What two models can be compared by is shown instead: how
the scores of all their neurons are spread, and how well each one's best neuron tracks the
feature (its effect size).""")

models = [m for m in list_models() if m["spec"]["task"] == "lm"]
names = [m["name"] for m in models]
if not names:
    st.info("No language model to compare yet.")
    st.stop()
first = st.session_state.get("model") if st.session_state.get("model") in names else names[0]
state.bind(
    {
        "cmp.a": first,
        "cmp.b": names[1] if len(names) > 1 else first,
        "cmp.la": 0,
        "cmp.lb": 0,
        "cmp.signal": "h",
        "cmp.feature": "space",
        "cmp.k": 10,
        "cmp.chars": 8000,
        "cmp.seed": 1,
    }
)
members = group_picker(
    "cmp.group",
    names,
    help="Choose A and B among a sweep's models "
    "(Train page, Experiments tab); picking a group sets its first and last.",
)
if st.session_state.get("cmp.group_applied") != st.session_state.get("cmp.group"):
    st.session_state["cmp.group_applied"] = st.session_state.get("cmp.group")
    if members:
        st.session_state["cmp.a"], st.session_state["cmp.b"] = members[0], members[-1]
options = members or names
for key in ("cmp.a", "cmp.b"):
    if st.session_state[key] not in options:
        st.session_state[key] = options[0]
c1, c2 = st.columns(2)
a = c1.selectbox("Model A", options, key="cmp.a", help="The first model.")
b = c2.selectbox("Model B", options, key="cmp.b", help="The second (the same for two layers).")
ba, bb = cache.bundle(a), cache.bundle(b)
export.model_card(a, ba.meta)
export.model_card(b, bb.meta)
if ba.spec.level != bb.spec.level:
    st.warning(
        "The two models read text at different levels (characters vs words): the "
        "text is the same but token counts differ."
    )
la = c1.number_input("Layer of A", 0, ba.spec.layers - 1, key="cmp.la", help="Layer to read.")
lb = c2.number_input("Layer of B", 0, bb.spec.layers - 1, key="cmp.lb", help="Layer to read.")
d1, d2, d3, d4 = st.columns(4)
signal = d1.selectbox(
    "Signal",
    ["h", "c"] if "lstm" == ba.spec.cell == bb.spec.cell else ["h"],
    key="cmp.signal",
    help="Both models' hidden state (or LSTM cell state).",
)
feature_name = d2.selectbox(
    "Feature",
    list(REGEX_PRESETS) + list(STRUCTURAL),
    key="cmp.feature",
    help="The feature both are scored against.",
)
k = d3.slider("Top k", 1, 30, key="cmp.k", help="How many top neurons to compare.")
chars = d4.slider(
    "Text length (characters)",
    1000,
    50_000,
    step=1000,
    key="cmp.chars",
    help="The first characters of model A's corpus.",
)

corpus, problem = cache.model_corpus_text(ba.meta)
if corpus is None:
    st.warning(f"Model A's corpus is not available here: {md(problem)}")
    st.stop()
text = corpus[:chars]
spec = (
    ("Preset", feature_name, "universal")
    if feature_name in REGEX_PRESETS
    else ("Structure", feature_name, "universal")
)
rows, tops, spreads, bests = [], [], [], []
for label, name, bundle, layer in (("A", a, ba, int(la)), ("B", b, bb, int(lb))):
    trace = cache.recorded_trace(name, text)
    key = cache.trace_key(trace)
    acts = trace.signals[(layer, signal)]
    try:
        feature = make_feature(spec, trace, bundle.spec.level)
    except FeatureError as e:
        st.warning(f"Model {md(label)}: {md(str(e))}")
        st.stop()
    table = neuron_table(key, layer, signal, feature_digest(feature), acts, feature)
    score = "R" if feature.kind == "binary" else "|r|"
    dist = layer_distributions(key, layer, signal, 0.01, 1e-10, 0.01, 0.9, 99.0, acts)
    resp = response_matrix(key, layer, signal, 300, acts, trace.tokens)
    clusters = coclusters(key, layer, signal, 300, min(8, len(resp.types)), "abs", resp.S)
    chip_sizes = pd.Series(clusters.col_labels).value_counts().sort_index().tolist()
    tops.append(table)
    size = table["AUROC"].sub(0.5).abs() if score == "R" else table["|r|"]
    spreads.append(pd.DataFrame({"model": f"{label}: {name} L{layer}", "score": size}))
    best = table.loc[size.idxmax()]
    scale = 2.0 if score == "R" else 1.0  # minimum_size is on the 0..1 scale, 2|AUROC - 0.5|
    clear = int(((scale * size >= minimum_size(feature.kind)) & (table["q"] < 0.01)).sum())
    bests.append(
        {
            "": f"{label}: {name} L{layer}",
            "best neuron": str(int(best["neuron"])),
            "effect size": (
                f"AUROC {best['AUROC']:.3f}" if score == "R" else f"r {best['r']:+.3f}"
            ),
            "q (circular-shift test)": f"{best['q']:.3g}",
            "neurons with a clear effect": f"{clear} of {len(table)}",
        }
    )
    rows.append(
        {
            "": f"{label}: {name} L{layer}",
            "model": bundle.spec.describe(),
            "metric": headline(bundle.meta),
            "tokens": f"{len(trace):,}",
            f"top-{k} by {score}": ", ".join(map(str, table["neuron"].head(k))),
            "best separation": (
                f"|r| {table['|r|'].max():.3f}"
                if score == "|r|"
                else f"AUROC {table['AUROC'].sub(0.5).abs().max() + 0.5:.3f}"
            ),
            "neurons with a clear effect": f"{clear} of {len(table)}",
            "dead": str(int(dist["table"]["dead"].sum())),
            "max KL (bits)": f"{dist['table']['kl_sum'].max():.3f}",
            "mean |activation|": f"{mean_abs_activation(acts):.3f}",
            "memory chips (units each)": ", ".join(map(str, chip_sizes)),
        }
    )
# all text: one column per model, so Arrow sees one type per column
export.table(pd.DataFrame(rows).set_index("").T, width="stretch")
if (a, int(la)) == (b, int(lb)):
    st.caption("A and B are the same layer of the same model.")
else:
    st.caption(
        "No neuron-by-neuron overlap: neuron numbers of two models, or of two layers, name "
        "unrelated units, so sharing a number means nothing. Compared below instead: the "
        "spread of every neuron's score, and each side's best neuron."
    )
st.subheader("What is comparable: scores and best neurons")
size_title = (
    "how far each neuron separates the feature, |AUROC − 0.5|"
    if "AUROC" in tops[0].columns
    else "how strongly each neuron follows the feature, |r|"
)
export.chart(
    charts.score_distributions(pd.concat(spreads, ignore_index=True), title=size_title),
    name="Scores of every neuron, both models",
    width="stretch",
)
export.table(pd.DataFrame(bests).set_index("").T, width="stretch")

st.subheader("Samples from the same seed")
seed = st.number_input("Random seed", 0, 2**31 - 1, key="cmp.seed", help="Same seed for both.")
s1, s2 = st.columns(2)
for col, name, bundle in ((s1, a, ba), (s2, b, bb)):
    trace = cache.generated_trace(
        name, text[:40], 300 if bundle.spec.level == "char" else 80, 0.8, None, int(seed)
    )
    col.markdown(f"**{md(name)}**")
    col.code(
        bundle.tokenizer.detokenize(trace.tokens[trace.n_seed :]) or " ",
        language=None,
        wrap_lines=True,
    )
state.publish(["cmp.a", "cmp.b", "cmp.la", "cmp.lb", "cmp.feature", "cmp.k"])
