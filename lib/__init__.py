"""RNN Lens without Streamlit: train small recurrent models and look inside them.

Layers, each importing only those before it: :mod:`lib.data` (corpora, tokenizers,
datasets, embeddings) <- :mod:`lib.model` (spec, Keras graph, bundle, registry) <-
:mod:`lib.run` (NumPy cells, recording, generation, traces) <- :mod:`lib.analysis` and
:mod:`lib.train`; :mod:`lib.limits` is a leaf any layer may use, and ``python -m lib`` the
command line.
"""
