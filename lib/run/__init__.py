"""Running a model: its NumPy cells, recording and generating texts, and the Trace.

The NumPy cells (:mod:`~lib.run.cells`), weights laid out for them
(:mod:`~lib.run.weights`), edits inside the recurrence (:mod:`~lib.run.edits`), recording a
text (:mod:`~lib.run.record`), generating one (:mod:`~lib.run.generate`), recording
classifier sequences (:mod:`~lib.run.classify`), and the :class:`~lib.run.trace.Trace` they
produce. Imports :mod:`lib.data` and :mod:`lib.model`.
"""
