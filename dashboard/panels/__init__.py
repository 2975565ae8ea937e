"""Larger pieces of a page, each a function that draws a whole panel: training jobs
(:mod:`~dashboard.panels.jobs`), experiments (:mod:`~dashboard.panels.experiments`),
interventions (:mod:`~dashboard.panels.interventions`), the embedding map
(:mod:`~dashboard.panels.embeddings`), hidden-state paths
(:mod:`~dashboard.panels.hidden_states`), sentence glyphs (:mod:`~dashboard.panels.glyphs`)
and highlighted tokens (:mod:`~dashboard.panels.tokens`).

Panels sit on widgets, the cache, tables and charts; pages sit on panels.
"""
