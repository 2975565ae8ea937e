"""Reusable widgets: pickers (:mod:`~dashboard.widgets.pickers`), the text an analysis looks
at (:mod:`~dashboard.widgets.text_source`), the feature editor
(:mod:`~dashboard.widgets.features`), pre-trained vectors (:mod:`~dashboard.widgets.vectors`)
and highlighted text (:mod:`~dashboard.widgets.highlight`).

Widgets read and write session state and call :mod:`dashboard.cache`; they never build
charts themselves.
"""
