"""The Word Clusters page's embedding map (Dahlberg, fig. 5.3)."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, export, state
from dashboard.fmt import display_token, md
from dashboard.widgets.vectors import resolve_vectors_path
from lib.analysis.embedding_map import nearest_tokens
from lib.data.embeddings import VectorsError
from lib.model.bundle import ModelBundle
from lib.model.spec import ID_OFFSET

# --- the embedding map -------------------------------------------------------------------------


def embedding_map_view(name: str, bundle: ModelBundle) -> None:
    """Dahlberg's figure: the most frequent tokens' embedding vectors in 2-D, labelled."""
    state.bind(
        {
            "map.emb_n": 25,
            "map.emb_method": "pca",
            "map.emb_source": "learned",
            "map.emb_hide_space": False,
        }
    )
    meta = bundle.meta.get("pretrained") or {}
    c1, c2, c3, c4 = st.columns(4)
    n = c1.number_input(
        "Most frequent tokens",
        2,
        500,
        key="map.emb_n",
        help="Dahlberg mapped the 25 most frequent words.",
    )
    method = c2.selectbox(
        "Projection",
        ["pca", "tsne", "umap"],
        key="map.emb_method",
        format_func={"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}.get,
        help="PCA as Dahlberg; t-SNE and UMAP keep near neighbours near (at least 5 tokens).",
    )
    source = (
        c3.segmented_control(
            "Vectors",
            ["learned", "pre-trained"],
            key="map.emb_source",
            disabled=not meta,
            help="The model's embedding layer after training, or the "
            "pre-trained vectors it started from (models trained with a vectors file).",
        )
        or "learned"
    )
    hide = c4.toggle(
        "Leave out spaces and newlines",
        key="map.emb_hide_space",
        help="Whitespace tokens (word level, keep-space mode) are the most "
        "frequent; Dahlberg kept them.",
    )
    tokens = tuple(bundle.vocab.tokens)
    offset = ID_OFFSET if bundle.spec.task == "classifier" else 0
    try:
        if source == "pre-trained" and meta:
            # meta.json may come from an imported archive: only a file in the folders this
            # server reads vectors from is opened, never any path the file names
            path = resolve_vectors_path(str(meta.get("path", "")))
            weights = cache.pretrained_rows(
                str(path), (path.stat().st_size, path.stat().st_mtime_ns), tokens
            )
            offset = 0
        else:
            weights = bundle.model.get_layer("embedding").get_weights()[0]
        exclude = tuple(t for t in tokens if t.isspace()) if hide else ()
        df = cache.embedding_map_table(
            (cache.model_key(name), source),
            weights,
            tokens,
            tuple(int(c) for c in bundle.vocab.counts),
            int(n),
            method,
            offset,
            exclude,
        )
    except (OSError, VectorsError, ValueError) as e:
        st.warning(f"No map: {md(getattr(e, 'strerror', None) or str(e))}")  # no path
        return
    df["label"] = df["token"].map(display_token)
    export.chart(charts.embedding_map(df), name="Embedding map", width="stretch")
    explained = df.attrs.get("explained")
    st.caption(
        f"{len(df)} tokens, {weights.shape[1]}-dimensional vectors"
        + (
            f"; the two components explain {explained[0]:.0%} and {explained[1]:.0%} "
            "of their variance"
            if explained
            else ""
        )
        + "."
    )
    state.bind({"map.emb_token": df["token"].iloc[0]})
    if st.session_state["map.emb_token"] not in set(df["token"]):
        st.session_state["map.emb_token"] = df["token"].iloc[0]
    token = st.selectbox(
        "Nearest tokens to",
        df["token"].tolist(),
        key="map.emb_token",
        format_func=display_token,
        help="By cosine similarity of the vectors (Dahlberg, Eq. 2.13).",
    )
    rows = weights[offset:] if offset else weights
    near = nearest_tokens(rows, tokens, token, k=10)
    near["token"] = near["token"].map(display_token)
    export.table(
        near,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("cosine", "distance")
        },
    )
