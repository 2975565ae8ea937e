"""Word embeddings in the dashboard: the Train form's pre-trained vectors picker and the
Word Clusters page's embedding map (seed 000, fig. 5.3)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, loaders, state
from dashboard.fmt import display_token, md
from lib import limits
from lib.analysis.embedding_map import embedding_map, nearest_tokens
from lib.data.embeddings import VectorsError, embedding_matrix, read_vectors, sniff, wanted_words
from lib.model.registry import models_root
from lib.model.spec import ID_OFFSET

ROOT = Path(__file__).resolve().parent.parent
#: a vectors file this big is read for a coverage preview only when asked
AUTO_PREVIEW_BYTES = 50 * 2**20


# --- where vectors may come from ---------------------------------------------------------------


def vector_dirs() -> list[Path]:
    """Folders a "path on the server" may name: uploads (``<registry>/.vectors``),
    ``data/vectors`` of the repository, and those in ``$RNN_LENS_VECTOR_DIRS``
    (``os.pathsep``-separated). On a shared server a user must not make the app read any
    file it can reach (an error message quotes the start of a bad line)."""
    extra = [Path(p) for p in os.environ.get("RNN_LENS_VECTOR_DIRS", "").split(os.pathsep) if p]
    return [models_root() / ".vectors", ROOT / "data" / "vectors", *extra]


def resolve_vectors_path(text: str) -> Path:
    """The file ``text`` names, if it lies inside one of :func:`vector_dirs` (a bare file
    name is looked up in each); VectorsError otherwise."""
    text = text.strip()
    dirs = [d.resolve() for d in vector_dirs()]
    candidates = [Path(text)] if os.path.isabs(text) else [d / text for d in dirs]
    for candidate in candidates:
        path = candidate.resolve()
        if path.is_file() and any(path.is_relative_to(d) for d in dirs):
            return path
    raise VectorsError(
        f"No vectors file {text!r} in the folders this server reads vectors "
        f"from: {', '.join(str(d) for d in dirs)}. Put the file there (an "
        "operator can add folders with RNN_LENS_VECTOR_DIRS) or upload it."
    )


def store_upload(data: bytes, filename: str) -> Path:
    """Keep an uploaded vectors file as ``<registry>/.vectors/<sha1>-<name>`` (once)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-80:] or "vectors.txt"
    folder = models_root() / ".vectors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(data).hexdigest()[:12]}-{safe}"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


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


def pretrained_picker(
    prefix: str,
    *,
    level: str,
    embedding: int,
    corpus=None,
    spec=None,
    config_key: tuple = (1, None, None),
) -> tuple[str | None, bool]:
    """Pre-trained word vectors for the Train form: none, an upload or a server path.

    Returns (path or None, freeze). Shows the file's format and dimension, a clear error
    for a malformed or misplaced file, and the vocabulary's coverage when ``corpus`` and
    ``spec`` are given.
    """
    state.bind(
        {f"{prefix}.vec_source": "None", f"{prefix}.vec_path": "", f"{prefix}.vec_freeze": False}
    )
    if level != "word":
        st.caption("Pre-trained word vectors: for word-level models.")
        return None, False
    source = (
        st.segmented_control(
            "Pre-trained word vectors",
            ["None", "Upload", "Path on the server"],
            key=f"{prefix}.vec_source",
            help="Start the embedding from GloVe or word2vec vectors (text format), as seed 000 "
            "started from GloVe 840B.300d.",
        )
        or "None"
    )
    if source == "None":
        return None, False
    try:
        if source == "Upload":
            up = st.file_uploader(
                "Vectors file (GloVe or word2vec text, .txt/.vec/.gz)",
                type=["txt", "vec", "gz"],
                key=f"upload.{prefix}.vectors",
                help="One 'word v1 v2 ...' line per word; word2vec text adds a 'count dim' header.",
            )
            if up is None:
                return None, False
            limits.check_upload(up.size)
            path = store_upload(up.getvalue(), up.name)
        else:
            text = st.text_input(
                "File name or path",
                key=f"{prefix}.vec_path",
                placeholder="glove.6B.50d.txt",
                help="A file in: " + ", ".join(str(d) for d in vector_dirs()),
            )
            if not text.strip():
                return None, False
            path = resolve_vectors_path(text)
        info = sniff(path)
    except (VectorsError, limits.LimitError) as e:
        st.error(md(str(e)))
        return None, False
    freeze = st.checkbox(
        "Freeze the vectors",
        key=f"{prefix}.vec_freeze",
        help="Keep them fixed while training; unticked, they are fine-tuned "
        "(seed 000's Keras embedding stayed trainable).",
    )
    note = f"{md(path.name)}: {info.format} format, {info.dim} dimensions."
    if info.dim != embedding:
        st.warning(f"{note} The embedding size is {embedding}: set it to {info.dim}.")
    else:
        st.caption(note)
    if corpus is not None and spec is not None:
        size = path.stat().st_size
        if size <= AUTO_PREVIEW_BYTES or st.button(
            "Check the vocabulary's coverage",
            key=f"btn.{prefix}.coverage",
            help=f"Reads the whole file ({size / 2**20:,.0f} MB): may take a minute.",
        ):
            try:
                cov = coverage_preview(
                    str(path),
                    (size, path.stat().st_mtime_ns),
                    hashlib.sha1(corpus.text.encode()).hexdigest(),
                    spec.to_dict(),
                    config_key,
                    corpus,
                )
            except (VectorsError, ValueError) as e:
                st.error(md(str(e)))
                return None, False
            st.caption(
                f"Coverage: {md(cov['describe'])}."
                + (
                    " Without a vector (most frequent first): "
                    + ", ".join(md(display_token(t)) for t in cov["missing"][:12])
                    if cov["missing"]
                    else ""
                )
                + "".join(f" Note: {md(n)}." for n in cov["notes"])
            )
    return str(path), bool(freeze)


# --- the embedding map -------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner="Reading the pre-trained vectors…")
def _pretrained_rows(path: str, stamp: tuple, tokens: tuple[str, ...]) -> np.ndarray:
    """The vocabulary's rows of a vectors file, NaN where a word has none."""
    vectors = read_vectors(path, keep=wanted_words(tokens[1:]))
    base = np.full((len(tokens), vectors.dim), np.nan)
    matrix, _ = embedding_matrix(vectors, list(tokens), base=base)
    return matrix


@st.cache_data(max_entries=16, show_spinner="Projecting the embedding…")
def _map(
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


def embedding_map_view(name: str, bundle) -> None:
    """Seed 000's figure: the most frequent tokens' embedding vectors in 2-D, labelled."""
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
        help="Seed 000 mapped its 25 most frequent words.",
    )
    method = c2.selectbox(
        "Projection",
        ["pca", "tsne", "umap"],
        key="map.emb_method",
        format_func={"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}.get,
        help="PCA as seed 000; t-SNE and UMAP keep near neighbours near (at least 5 tokens).",
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
        "frequent; seed 000 kept them.",
    )
    tokens = tuple(bundle.vocab.tokens)
    offset = ID_OFFSET if bundle.spec.task == "classifier" else 0
    try:
        if source == "pre-trained" and meta:
            path = Path(meta["path"])
            weights = _pretrained_rows(
                str(path), (path.stat().st_size, path.stat().st_mtime_ns), tokens
            )
            offset = 0
        else:
            weights = bundle.model.get_layer("embedding").get_weights()[0]
        exclude = tuple(t for t in tokens if t.isspace()) if hide else ()
        df = _map(
            (loaders.model_key(name), source),
            weights,
            tokens,
            tuple(int(c) for c in bundle.vocab.counts),
            int(n),
            method,
            offset,
            exclude,
        )
    except (OSError, VectorsError, ValueError) as e:
        st.warning(f"No map: {md(str(e))}")
        return
    df["label"] = df["token"].map(display_token)
    st.altair_chart(charts.embedding_map(df), width="stretch")
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
        help="By cosine similarity of the vectors (seed 000, Eq. 2.13).",
    )
    rows = weights[offset:] if offset else weights
    near = nearest_tokens(rows, tokens, token, k=10)
    near["token"] = near["token"].map(display_token)
    st.dataframe(
        near,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("cosine", "distance")
        },
    )
