"""Server start: the heavy imports warmed in a background thread, once per process.

A page's first run in a fresh server pays the imports of whatever it uses: TensorFlow and
Keras (loading a model), SciPy, scikit-learn, Altair, and on the Word Clusters page UMAP
(``import umap`` and the numba compilation of its first fit, over a minute on a busy
2-core machine). :func:`start` (one line in the router) starts a daemon thread, once per
process, that imports them while the user reads the first page. Each step waits until no
script runs, so the warm-up never competes with a page for the GIL, and never imports a
module while a page is importing others (two threads importing through circular imports
in opposite orders can each get a half-initialised module):

1. what nearly every page needs (Keras and TensorFlow, the cache, charts and panels);
   the first page has imported most of it by then;
2. what only some pages need (t-SNE, UMAP), and a tiny UMAP fit that compiles its numba
   code. With ``NUMBA_CACHE_DIR`` in the repository's ``data/`` folder (set in
   :mod:`lib`) and UMAP imported by :func:`import_umap`, that code is compiled only at
   the very first server start and loaded from disk after;
3. :func:`freeze_heap`, so Streamlit's full garbage collection after every run no longer
   walks everything imported.

:func:`start` also stops Streamlit from calling ``keras.backend.clear_session()`` after
every script run (:func:`keep_keras_session`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
import threading
import time

_LOCK = threading.Lock()
_UMAP_LOCK = threading.Lock()
#: held by the warm-up while it imports; every script run passes through it first, so a
#: page never imports while the warm-up does (TensorFlow imported from two threads at once
#: failed with "Registering two gradient with name 'ReduceDataset'")
_IMPORTING = threading.Lock()
_STARTED = False
#: set when the warm-up thread has finished (tests and benchmarks wait on it)
DONE = threading.Event()
_LOG = logging.getLogger(__name__)

#: the modules (almost) every page imports
FIRST = (
    "keras",  # and TensorFlow
    "dashboard.cache",
    "dashboard.charts",
    "dashboard.widgets.features",
    "dashboard.widgets.pickers",
    "dashboard.widgets.text_source",
    "dashboard.panels.tokens",
    "dashboard.panels.start",
    "lib.analysis.ranking",
    "lib.analysis.relevance",
    "lib.analysis.significance",
    "lib.analysis.feature_bank",
)
#: the modules of a few pages
LATER = (
    "dashboard.panels.atlas",
    "dashboard.panels.embeddings",
    "dashboard.panels.interventions",
    "dashboard.panels.experiments",
    "lib.analysis.atlas",
    "lib.analysis.coclustering",
    "lib.analysis.projection",
    "sklearn.manifold",
    "umap",
)


def _script_running() -> bool:
    """Whether a Streamlit script run is in progress in this process (its thread alive)."""
    return any(t.name == "ScriptRunner.scriptThread" for t in threading.enumerate())


def _when_idle(quiet: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until no script has run for ``quiet`` seconds (a page's first run may rerun at
    once), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    while time.monotonic() < deadline:
        if _script_running():
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= quiet:
            return
        time.sleep(0.1)


def _alone(step):
    """Run ``step`` (an import, the UMAP fit) while no script runs, holding
    :data:`_IMPORTING` so none starts meanwhile; wait as long as scripts keep running."""
    while True:
        _when_idle()
        with _IMPORTING:
            if not _script_running():  # checked under the lock: no run can start now
                return step()
        time.sleep(0.1)


def import_umap():
    """``import umap`` with numba's on-disk cache on for UMAP's own functions.

    pynndescent marks its functions ``cache=True``; UMAP does not, so each process would
    compile them again on its first fit (15-25 s here). While UMAP's modules are imported,
    ``numba.njit`` and ``numba.jit`` default to ``cache=True`` (a function numba cannot
    cache only gets a warning and is compiled as before).
    """
    with _UMAP_LOCK:  # the warm-up and a page may both ask; the patch is process-wide
        if "umap" in sys.modules:
            return sys.modules["umap"]
        return _import_umap_caching()


def _import_umap_caching():
    import numba

    originals = numba.njit, numba.jit

    def caching(decorator):
        def wrapped(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)

        return wrapped

    numba.njit, numba.jit = caching(numba.njit), caching(numba.jit)
    try:
        import umap
    finally:
        numba.njit, numba.jit = originals
    return umap


def compile_umap() -> None:
    """Run a tiny UMAP fit the way :func:`lib.analysis.projection.project` does, so numba
    compiles (or loads from its cache) the functions a real fit calls."""
    import numpy as np

    from lib.analysis.projection import project

    X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    project(X, method="umap", seed=0, n_epochs=5)


def warm() -> None:
    """The warm-up itself (:data:`FIRST`, :data:`LATER`, the recording kernels, a tiny UMAP
    fit, then :func:`freeze_heap`, each step while no script runs); never raises."""
    # (no warnings.catch_warnings here: it swaps the process-wide filters under the pages)
    try:
        for name in FIRST + LATER:
            if name == "umap":
                _alone(import_umap)
            else:
                _alone(lambda name=name: importlib.import_module(name))
        _alone(lambda: importlib.import_module("lib.run.record").warm_kernels())
        _alone(compile_umap)
        _alone(freeze_heap)
    except Exception:  # a warm-up must never break the server; the page will say what
        _LOG.debug("warm-up stopped", exc_info=True)
    finally:
        DONE.set()


def freeze_heap() -> None:
    """Collect, then move every object alive now to the garbage collector's permanent
    generation (:func:`gc.freeze`).

    Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``):
    with TensorFlow, Keras and the libraries loaded, that walks millions of objects, 0.7-1.6 s
    here, after each rerun. Frozen objects are not walked again (the collection then takes
    about a millisecond). What is frozen is what a server keeps anyway (modules, the
    models the first page loaded); objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()


def keep_keras_session() -> None:
    """Stop Streamlit's end-of-run ``keras.backend.clear_session()``.

    Streamlit calls it after every script run whenever Keras is imported
    (``script_runner._clean_problem_modules``): it resets Keras' layer-name counters,
    clears TensorFlow's kernel cache and runs a full ``gc.collect()``, 2-4 s with the
    demo models loaded. The app builds no models per rerun: models are loaded once and
    kept by ``st.cache_resource`` (bounded by its ``max_entries``), and Streamlit's own
    post-run ``gc.collect`` still frees what a run dropped, so memory stays bounded
    without it. Closing matplotlib figures, the other half of that clean-up, is kept.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "keeps_keras", False):
        return

    def clean_problem_modules() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            with contextlib.suppress(Exception):  # as Streamlit: never crash the app here
                plt.close("all")

    clean_problem_modules.keeps_keras = True  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = clean_problem_modules


def start() -> None:
    """Every run: wait for an import the warm-up is in the middle of.

    Once per process: keep the Keras session between runs and, in a server, start the
    warm-up thread (not under AppTest: tests and benchmarks call :func:`warm` themselves
    when they want it).
    """
    global _STARTED
    with _IMPORTING:  # a run waits for an import the warm-up is in the middle of
        pass
    with _LOCK:
        if _STARTED:
            return
        _STARTED = True
    keep_keras_session()
    from streamlit import runtime

    # AppTest makes a Runtime for each run too; only a server has one without it.
    # RNN_LENS_WARMUP=0 turns the thread off (to measure a server without it).
    server = runtime.exists() and "streamlit.testing.v1" not in sys.modules
    if server and os.environ.get("RNN_LENS_WARMUP", "1") != "0":
        threading.Thread(target=warm, name="rnn-lens-warmup", daemon=True).start()
