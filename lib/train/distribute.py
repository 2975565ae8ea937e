"""tf.distribute for training past one device: the strategy the CLI trains with.

``python -m lib train --strategy auto`` (the default) picks, in this order:

- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` when ``$TF_CONFIG`` is set.
  Every machine runs the same command with its own ``TF_CONFIG`` (``cluster`` plus its
  ``task``); the variables are mirrored on all of them and every batch is split across the
  workers. Only the chief (task ``chief``, else ``worker`` 0) writes to the registry; the
  other workers save into a temporary folder that is thrown away.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every GPU when there is more than
  one, else over the logical CPU devices (more than one only when the CPU was split, as
  ``--cpu-devices N`` does to try this on a laptop).
- ``none``: Keras' default, one device.

:func:`in_strategy_scope` is how ``lib.train.fit.train`` and ``train_classifier`` take a
``strategy=``: the whole call runs inside ``strategy.scope()``, so the model is built,
compiled (or, to resume, loaded) under the strategy and ``model.fit`` splits every batch
across the replicas. ``batch_size`` stays the global batch: with 2 replicas and 64, each
replica computes 32 windows per step.

TensorFlow is imported only inside the functions that need it, and must not have set up
its devices before :func:`split_cpu` runs.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def strategy_kind(requested: str, *, tf_config: str | None, n_devices: int) -> str:
    """Resolve the strategy ``requested``: ``"none"``, ``"mirrored"`` or ``"multiworker"``.

    Parameters
    ----------
    requested : {"auto", "none", "mirrored", "multiworker"}
    tf_config : str or None
        The value of ``$TF_CONFIG`` (None or empty when unset).
    n_devices : int
        GPUs present, or logical CPU devices when there is no GPU.

    Raises
    ------
    ValueError
        An unknown strategy, or ``"multiworker"`` without ``TF_CONFIG``.
    """
    if requested not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {requested!r}")
    if requested == "multiworker" and not tf_config:
        raise ValueError(
            "strategy 'multiworker' needs TF_CONFIG (a JSON cluster and task) "
            "in the environment of every worker; it is not set"
        )
    if requested == "auto":
        if tf_config:
            return "multiworker"
        return "mirrored" if n_devices > 1 else "none"
    return requested


def split_cpu(n: int) -> None:
    """Split the CPU into ``n`` logical devices (before TensorFlow sets up its devices).

    Lets MirroredStrategy run on a machine without GPUs, to try or test the distributed
    path; it makes nothing faster. Raises RuntimeError once TensorFlow has initialised
    its devices (say, after a model was built in this process).
    """
    import tensorflow as tf

    if n < 1:
        raise ValueError(f"the number of CPU devices must be >= 1, got {n}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    )


def _devices() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def make_strategy(requested: str = "auto") -> tf.distribute.Strategy | None:
    """Make the ``tf.distribute`` strategy for ``requested`` (see the module docstring), or None.

    Returns
    -------
    tf.distribute.Strategy or None
        None for ``"none"`` (and for ``"auto"`` on one device).
    """
    tf_config = os.environ.get("TF_CONFIG")
    if requested == "multiworker" or (requested == "auto" and tf_config):
        kind = strategy_kind(requested, tf_config=tf_config, n_devices=1)
    else:
        devices = _devices() if requested in ("auto", "mirrored") else []
        kind = strategy_kind(requested, tf_config=tf_config, n_devices=len(devices))
    if kind == "none":
        return None
    import tensorflow as tf

    if kind == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy(devices=devices)


def is_chief(tf_config: str | None = None) -> bool:
    """Tell whether this process writes results.

    True without ``TF_CONFIG``, or when its task is the chief (``chief``, else ``worker`` 0
    of a cluster without a chief).
    """
    tf_config = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    if not tf_config:
        return True
    try:
        config = json.loads(tf_config)
        task = config.get("task", {})
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            f"TF_CONFIG must be JSON with a 'task' of type and index, got {tf_config[:80]!r}"
        ) from None
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def _short(device: str) -> str:
    """``/job:localhost/replica:0/task:0/device:GPU:1`` -> ``GPU:1``."""
    return device.rsplit("device:", 1)[-1]


def describe(strategy: tf.distribute.Strategy | None) -> str:
    """Describe ``strategy`` in one line for logs: its class, replicas and devices.

    Names the GPUs TensorFlow found, so a GPU server whose CUDA build is missing (or
    whose driver is not seen) says "no GPU found" before training starts on the CPU.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    found = f"{len(gpus)} GPU(s) found" if gpus else "no GPU found"
    if strategy is None:
        where = _short(tf.config.list_logical_devices("GPU" if gpus else "CPU")[0].name)
        return f"no tf.distribute strategy: one device, {where} ({found})"
    devices = ", ".join(_short(d) for d in strategy.extended.worker_devices)
    return (
        f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s) "
        f"on {devices} ({found})"
    )


P = ParamSpec("P")
R = TypeVar("R")


def in_strategy_scope(train_fn: Callable[P, R]) -> Callable[..., R]:
    """Give ``train_fn`` a keyword ``strategy=None``.

    When set, the call runs inside ``strategy.scope()`` (the model must be built there to
    be trained by it).
    """

    @functools.wraps(train_fn)
    def wrapper(*args: Any, strategy: tf.distribute.Strategy | None = None, **kwargs: Any) -> R:
        if strategy is None:
            return train_fn(*args, **kwargs)
        with strategy.scope():
            return train_fn(*args, **kwargs)

    sig = inspect.signature(train_fn)
    extra = inspect.Parameter("strategy", inspect.Parameter.KEYWORD_ONLY, default=None)
    # typeshed's functools._Wrapped lacks the attribute inspect.signature reads
    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*sig.parameters.values(), extra]
    )
    return wrapper
