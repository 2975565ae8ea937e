"""Larger pieces of a page, each a function that draws a whole panel: training jobs
(:mod:`~dashboard.panels.jobs`), experiments (:mod:`~dashboard.panels.experiments`),
interventions (:mod:`~dashboard.panels.interventions`), the embedding map
(:mod:`~dashboard.panels.embeddings`), hidden-state paths
(:mod:`~dashboard.panels.hidden_states`), sentence glyphs (:mod:`~dashboard.panels.glyphs`),
highlighted tokens (:mod:`~dashboard.panels.tokens`), and the views of the Ablation, Train,
Neuron Relevance, Distributions and Word Clusters pages (:mod:`~dashboard.panels.ablation`,
:mod:`~dashboard.panels.train`, :mod:`~dashboard.panels.relevance`,
:mod:`~dashboard.panels.distributions`, :mod:`~dashboard.panels.word_clusters`).

Panels sit on widgets, the cache, tables and charts; pages sit on panels.
"""
