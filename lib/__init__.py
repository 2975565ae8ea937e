"""RNN Lens without Streamlit: train small recurrent models and look inside them.

Layers, each importing only those before it: :mod:`lib.data` (corpora, tokenizers,
datasets, embeddings) <- :mod:`lib.model` (spec, Keras graph, bundle, registry) <-
:mod:`lib.run` (NumPy cells, recording, generation, traces) <- :mod:`lib.analysis` and
:mod:`lib.train`; :mod:`lib.limits` is a leaf any layer may use, and ``python -m lib`` the
command line.
"""

import os
from pathlib import Path

# UMAP and pynndescent compile their numba functions on first use (a minute on a busy
# machine); those marked cache=True are kept on disk, by default next to the installed
# package, which may be read-only. Here every process of the project (server, notebooks,
# the CLI) shares one cache in the repository's data/ folder (ignored by git), so only the
# very first use pays. Set before anything imports numba, which reads it once at import.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / "data" / "numba")
)
