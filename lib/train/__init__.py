"""Making models: training loops, searches and sweeps, tf.distribute, the demo models.

The training loops (:mod:`~lib.train.fit`), searches and sweeps
(:mod:`~lib.train.experiments`), tf.distribute helpers (:mod:`~lib.train.distribute`) and
the shipped demo models (:mod:`~lib.train.demo`).

A layer above :mod:`lib.run`, not inside :mod:`lib.model`: each epoch's sample text is
generated with :func:`lib.run.generate.generate` and a classifier's test split is scored
with :mod:`lib.run.classify`, so training needs the run layer. Imports data, model and run;
nothing else imports it but the CLI and the dashboard.
"""
