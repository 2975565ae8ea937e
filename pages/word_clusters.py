"""Word Clusters: token states of a layer mapped to 2-D and clustered (Ryšánek 2023)."""

import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import pos_tags_cached, token_map
from dashboard.fmt import md
from dashboard.panels.embeddings import embedding_map_view
from dashboard.panels.word_clusters import agreement_view, cluster_table
from dashboard.widgets.features import make_feature
from dashboard.widgets.pickers import layer_signal_picker
from dashboard.widgets.text_source import text_source
from lib.analysis.features import STRUCTURAL, FeatureError

routing.page_guard()
st.title("Word Clusters")
with st.expander("What am I looking at?"):
    st.markdown("""
Every point is **one occurrence of a token** in the text, placed by the state of the chosen
layer right after the model read it (hundreds of numbers, projected to 2-D: PCA keeps the
largest directions, t-SNE and UMAP keep near neighbours near). Occurrences are sampled so
frequent tokens do not swamp the map. **Clusters** come from agglomerative clustering (as in
Ryšánek 2023, on the 2-D points by default) and are numbered by size, 0 the largest. Hover a point
for its token in context. Ryšánek (2023) found that hidden-state clusters group tokens of one kind
(pronouns, forms of *be*) while cell-state clusters are runs of consecutive tokens: the
positions view shows which you have.

The **embedding map** (Dahlberg, fig. 5.3) shows the model's token vectors themselves — its
embedding layer, learned or pre-trained — for the most frequent tokens: tokens the model
treats alike sit together (Dahlberg found "you" next to "I", punctuation apart from words).""")

name, bundle = cache.current_bundle()
export.report("Word Clusters", "map.", name, bundle.meta)
state.bind({"map.view": "Token states"})
view = (
    st.segmented_control(
        "View",
        ["Token states", "Embedding map"],
        key="map.view",
        help="States after each token in a text, or the token vectors of the embedding layer.",
    )
    or "Token states"
)
if view == "Embedding map":
    embedding_map_view(name, bundle)
    st.stop()
source = text_source("map", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("map", bundle.spec)
state.bind(
    {
        "map.n": 5000,
        "map.method": "pca",
        "map.perplexity": 30.0,
        "map.neighbors": 15,
        "map.k": 20,
        "map.linkage": "ward",
        "map.on": "2-D points",
        "map.colour": "cluster",
        "map.min_size": 1,
        "map.hide": "",
        "map.highlight": "",
    }
)
c1, c2, c3, c4 = st.columns(4)
n = c1.number_input(
    "Token occurrences",
    200,
    20_000,
    step=500,
    key="map.n",
    help="How many points (sampled across token types).",
)
method = c2.selectbox(
    "Projection",
    ["pca", "tsne", "umap"],
    key="map.method",
    format_func={"umap": "UMAP (slow)", "tsne": "t-SNE (slow)", "pca": "PCA (instant)"}.get,
    help="PCA is instant; t-SNE and UMAP keep neighbours together but take about half a "
    "minute for 5,000 points (UMAP over a minute the first time, while it compiles).",
)
if method != "pca":
    c2.caption("t-SNE/UMAP: expect 30 s or more; the result is cached.")
if method == "tsne":
    param = c3.slider(
        "Perplexity",
        5.0,
        100.0,
        step=5.0,
        key="map.perplexity",
        help="t-SNE's effective number of neighbours.",
    )
elif method == "umap":
    param = c3.slider(
        "Neighbours",
        5,
        100,
        key="map.neighbors",
        help="UMAP's neighbourhood size: larger keeps more global structure.",
    )
else:
    param = None
k = c4.slider("Clusters", 2, 60, key="map.k", help="Number of agglomerative clusters.")
c1, c2, c3 = st.columns(3)
linkage = c1.selectbox(
    "Linkage",
    ["ward", "single", "average"],
    key="map.linkage",
    help="Ryšánek (2023) used single and ward.",
)
on = (
    c2.segmented_control(
        "Cluster",
        ["2-D points", "original states"],
        key="map.on",
        help="Ryšánek (2023) clustered the 2-D points; the original states are truer to the model.",
    )
    or "2-D points"
)

acts = trace.signals[(layer, signal)]
key = source.key
df = token_map(key, layer, signal, int(n), method, param, k, linkage, on, acts, trace.tokens)

colour = c3.selectbox(
    "Colour by",
    ["cluster", "token", "part of speech", "feature"],
    key="map.colour",
    help="What the point colour shows.",
)
if colour == "part of speech":
    try:
        tags = pos_tags_cached(key, trace.tokens, bundle.spec.level, "universal")
        df["part of speech"] = [tags[p] for p in df["position"]]
    except FeatureError as e:
        st.warning(md(str(e)))
        colour = "cluster"
elif colour == "feature":
    structural = st.selectbox(
        "Feature", STRUCTURAL, key="map.feature", help="A feature of the text, e.g. inside quotes."
    )
    values = make_feature(("Structure", structural, "universal"), trace, bundle.spec.level).values
    df["feature"] = [str(values[p]) for p in df["position"]]

f1, f2, f3 = st.columns(3)
min_size = f1.number_input(
    "Hide clusters smaller than", 1, 1000, key="map.min_size", help="Filter out small clusters."
)
hide = f2.text_input(
    "Hide tokens",
    key="map.hide",
    help="Comma-separated, e.g. the, a, ␣ (␣ is a space, ↵ a newline).",
)
highlight = f3.text_input(
    "Highlight every", key="map.highlight", help="A token to show in red everywhere on the map."
)
sizes = df["cluster"].value_counts()
shown = df[df["cluster"].map(sizes) >= min_size]
hidden = {h.strip() for h in hide.split(",") if h.strip()}
shown = shown[~shown["token"].isin(hidden)]
export.chart(
    charts.token_map(
        shown.assign(cluster=shown["cluster"].astype(str)),
        colour=colour,
        highlight=highlight or None,
    ),
    name="Token states in 2-D",
    width="stretch",
)
st.caption(f"{len(shown):,} of {len(df):,} points shown.")

st.subheader("Clusters")
tab1, tab2 = st.tabs(
    ["Most frequent tokens", "Positions in the text"], key="map.tab", on_change="rerun"
)  # keyed: the open tab survives other widgets' reruns
table = cluster_table(shown)
export.table(where=tab1, data=table, hide_index=True)
export.chart(
    where=tab2,
    chart=charts.cluster_positions(shown.assign(cluster=shown["cluster"].astype(str))),
    name="Where each cluster sits in the text",
    width="stretch",
)
tab2.caption(
    f"Share of points next to a point of the same cluster (position ± 1): "
    f"{df.attrs.get('adjacent', float('nan')):.0%}. Ryšánek (2023) found cell-state clusters "
    "to be runs of consecutive tokens."
)

unit_word = "character" if bundle.spec.level == "char" else "word"
settings = (key, layer, signal, int(n), method, param, k, linkage, on)
agreement_view(name, df, trace, settings, unit_word=unit_word)
state.publish(["map.layer", "map.signal", "map.method", "map.k", "map.n"])
