"""Text and labelled data: corpora, tokenizers and vocabularies, classifier datasets, pre-trained
word embeddings. The bottom layer: imports nothing else of ``lib`` (but :mod:`lib.limits`).
"""
