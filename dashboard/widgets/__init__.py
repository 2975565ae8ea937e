"""Reusable widgets: pickers (:mod:`~dashboard.widgets.pickers`), the text an analysis looks
at (:mod:`~dashboard.widgets.text_source`), the feature editor
(:mod:`~dashboard.widgets.features`), pre-trained vectors (:mod:`~dashboard.widgets.vectors`),
highlighted text (:mod:`~dashboard.widgets.highlight`) and the press-to-run gate
(:mod:`~dashboard.widgets.gates`).

Widgets read and write session state and call :mod:`dashboard.cache`; they never build
charts themselves.
"""
