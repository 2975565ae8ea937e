"""Text and labelled data: corpora, tokenizers, classifier datasets, word embeddings.

Corpora (:mod:`~lib.data.corpora`), tokenizers and vocabularies (:mod:`~lib.data.tokenizer`),
labelled datasets for classifiers (:mod:`~lib.data.datasets`) and pre-trained word
embeddings (:mod:`~lib.data.embeddings`). The bottom layer: imports nothing else of ``lib``
(but :mod:`lib.limits`).
"""
