"""What a model is: its spec, its Keras graph, its inputs, the bundle and the registry.

Its spec (:mod:`~lib.model.spec`, a leaf), the Keras graph built from it
(:mod:`~lib.model.build`), how data becomes its inputs (:mod:`~lib.model.inputs`), the
:class:`~lib.model.bundle.ModelBundle` and the registry on disk (:mod:`~lib.model.registry`).
Imports only :mod:`lib.data`.
"""
