"""The Train form's picker of pre-trained word vectors (GloVe, word2vec text files).

Vectors come from an upload (kept in ``<registry>/.vectors``) or from a file in one of the
folders this server reads vectors from (:func:`vector_dirs`); nothing else on the server
can be named. Coverage of the vocabulary is previewed before training.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import streamlit as st

from dashboard import cache, state
from dashboard.fmt import display_token, md
from lib import limits
from lib.data.embeddings import VectorsError, path_problem, shown_name, sniff
from lib.model.registry import models_root

ROOT = Path(__file__).resolve().parents[2]


#: a vectors file this big is read for a coverage preview only when asked
AUTO_PREVIEW_BYTES = 50 * 2**20


def vector_dirs() -> list[Path]:
    """Folders a "path on the server" may name: uploads (``<registry>/.vectors``),
    ``data/vectors`` of the repository, and those in ``$RNN_LENS_VECTOR_DIRS``
    (``os.pathsep``-separated). On a shared server a user must not make the app read any
    file it can reach (an error message quotes the start of a bad line)."""
    extra = [Path(p) for p in os.environ.get("RNN_LENS_VECTOR_DIRS", "").split(os.pathsep) if p]
    return [models_root() / ".vectors", ROOT / "data" / "vectors", *extra]


def folder_label(folder: Path) -> str:
    """A vector folder as a message may name it, never its absolute path: "uploads",
    a path relative to the repository ("data/vectors"), or an operator's folder's name."""
    if folder == models_root() / ".vectors":
        return "uploads"
    for form in (folder.absolute(), folder.resolve()):
        if form.is_relative_to(ROOT):
            return form.relative_to(ROOT).as_posix()
    return f"{folder.name} (RNN_LENS_VECTOR_DIRS)"


def folders_text() -> str:
    """The folders vectors are read from, for messages and help: "uploads, data/vectors"."""
    return ", ".join(folder_label(d) for d in vector_dirs())


def resolve_vectors_path(text: str) -> Path:
    """The file ``text`` names, if it lies inside one of :func:`vector_dirs` (a bare file
    name is looked up in each); VectorsError otherwise, naming no server path."""
    text = text.strip()
    problem = path_problem(text)
    if problem:
        raise VectorsError(f"The vectors file name {shown_name(text)} cannot be used: {problem}.")
    dirs = [d.resolve() for d in vector_dirs()]
    candidates = [Path(text)] if os.path.isabs(text) else [d / text for d in dirs]
    for candidate in candidates:
        try:
            path = candidate.resolve()
            found = path.is_file() and any(path.is_relative_to(d) for d in dirs)
        except (OSError, ValueError, RuntimeError):  # a loop of links, a name too long
            continue
        if found:
            return path
    raise VectorsError(
        f"No vectors file {shown_name(text)} in the folders this server reads vectors "
        f"from ({folders_text()}). Put the file there (an operator can add folders with "
        "RNN_LENS_VECTOR_DIRS) or upload it."
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
            help="Start the embedding from GloVe or word2vec vectors (text format), as Dahlberg "
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
                help="A file in the server's vectors folders: " + folders_text(),
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
        "(Dahlberg's Keras embedding stayed trainable).",
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
                cov = cache.coverage_preview(
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
