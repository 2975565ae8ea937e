"""Pages do no heavy work before the user asks (issue 19): light pages import no UMAP or
t-SNE, the Ablation page's training evolution waits for its button, Streamlit's
end-of-run ``keras.backend.clear_session()`` is off, and UMAP's numba code is cached."""

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from tests.helpers import ROOT, TINY, app

STDLIB = "demo-stdlib-char-lstm"

_PROBE = """
import json, sys
from streamlit.testing.v1 import app_test
from streamlit.testing.v1 import AppTest
from tests.conftest import _routed_pages_manager

app_test.PagesManager = _routed_pages_manager()
at = AppTest.from_file({app!r}, default_timeout=300)
at.switch_page({page!r})
at.run()
print("PROBE " + json.dumps({{
    "exception": [str(e.value) for e in at.exception],
    "modules": [m for m in ("umap", "sklearn.manifold", "pynndescent") if m in sys.modules],
}}))
"""


def _modules_after(page: str, registry) -> dict:
    """Run ``page`` in AppTest in a fresh Python; the heavy modules it imported."""
    code = _PROBE.format(app=str(ROOT / "streamlit_app.py"), page=page)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNN_LENS_MODELS": str(registry)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, out.stderr[-2000:]
    return json.loads(line[6:])


@pytest.mark.parametrize("page", ["pages/start.py", "pages/train.py", "pages/generate.py"])
def test_light_pages_import_neither_umap_nor_tsne(tiny_registry, page):
    found = _modules_after(page, tiny_registry)
    assert found["exception"] == []
    assert found["modules"] == [], f"{page} imported {found['modules']}"


def test_no_clear_session_after_a_run_and_no_warmup_thread_under_apptest(
    tiny_registry, monkeypatch
):
    import keras

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(a))
    at = app()
    at.run()
    at.run()
    assert calls == []  # Streamlit would call it after every run (dashboard.warmup)
    assert not any(t.name == "rnn-lens-warmup" for t in threading.enumerate())


def test_keep_keras_session_still_closes_matplotlib_figures(monkeypatch):
    import types

    from streamlit.runtime.scriptrunner import script_runner

    from dashboard import warmup

    warmup.keep_keras_session()
    warmup.keep_keras_session()  # idempotent
    closed = []
    fake = types.SimpleNamespace(close=closed.append)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", fake)
    script_runner._clean_problem_modules()
    assert closed == ["all"]
    assert script_runner._clean_problem_modules.keeps_keras


@pytest.mark.slow
def test_ablation_training_evolution_waits_for_its_button(tiny_registry, monkeypatch):
    import lib.analysis.evolution as evolution_module

    shutil.copytree(ROOT / "models" / STDLIB, tiny_registry / STDLIB)
    real, calls = evolution_module.evolution, []

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(evolution_module, "evolution", counted)
    at = app()
    at.session_state["model"] = STDLIB
    for key, value in {"abl.chars": 1000, "abl.kmax": 2, "abl.n_random": 5}.items():
        at.session_state[key] = value
    at.switch_page("pages/ablation.py").run()
    assert not at.exception, at.exception
    at.run()
    assert calls == []  # neither on arrival nor on a rerun
    assert any("Press **Trace the training evolution**" in i.value for i in at.info)
    at.button(key="btn.abl.evolution").click().run()
    assert not at.exception, at.exception
    assert len(calls) == 1
    assert any("is the best from epoch" in m.value for m in at.markdown)
    at.run()
    assert len(calls) == 1  # cached


def test_start_page_records_only_the_first_models_until_asked(tiny_registry, monkeypatch):
    """Findings of further models are loaded and recorded only after the button."""
    from dashboard.panels import start

    cards = []
    monkeypatch.setattr(start, "finding_card", lambda data, f, key: cards.append(data["model"]))
    data = {"layer": 0, "signal": "h", "chars": 100}
    found = [
        {**data, "model": m, "findings": [{"feature": f"f{i}"} for i in range(4)]}
        for m in (TINY, "b", "c")
    ]
    monkeypatch.setattr(start, "shipped_findings", lambda: found)
    at = app(page=None)
    assert len(cards) == 6  # 3 of each of the first two models
    cards.clear()
    at.button(key="btn.start.more").click().run()
    assert not at.exception, at.exception
    assert len(cards) == 6 + 2 + 4  # the first six again, then the other six


@pytest.mark.slow
def test_umap_functions_are_cached_on_disk(tmp_path):
    """Through dashboard.warmup.import_umap, UMAP's own numba functions have a disk cache
    (in NUMBA_CACHE_DIR, which lib sets to the repository's data/ folder by default)."""
    code = (
        "import os\n"
        "import numba.core.caching as C\n"
        "from dashboard.warmup import import_umap\n"
        "import_umap()\n"
        "import umap.layouts as L\n"
        "print('PROBE', os.environ['NUMBA_CACHE_DIR'], isinstance(L.clip._cache, C.NullCache))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line, out.stderr[-2000:]
    assert line.split()[1:] == [str(tmp_path), "False"]


def test_lib_sets_a_numba_cache_dir_in_the_repository():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", "import os, lib; print(os.environ['NUMBA_CACHE_DIR'])"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == str(ROOT / "data" / "numba")


def test_freeze_heap_leaves_later_objects_collectable():
    code = (
        "import gc\n"
        "from dashboard.warmup import freeze_heap\n"
        "freeze_heap()\n"
        "frozen = gc.get_freeze_count()\n"
        "a = []; a.append(a); del a\n"  # a cycle made after the freeze
        "print('PROBE', frozen > 0, gc.collect() >= 1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "PROBE True True" in out.stdout, out.stderr[-2000:]


def test_a_run_waits_for_an_import_the_warm_up_is_in_and_the_warm_up_for_a_run(monkeypatch):
    """Never two threads importing at once (TensorFlow from two threads fails)."""
    from dashboard import warmup

    monkeypatch.setattr(warmup, "_STARTED", True)  # no warm-up thread, no patching here
    inside, release, ran = threading.Event(), threading.Event(), threading.Event()

    def importing():
        with warmup._IMPORTING:
            inside.set()
            release.wait(60)

    holder = threading.Thread(target=importing)
    holder.start()
    assert inside.wait(60)
    run = threading.Thread(target=lambda: (warmup.start(), ran.set()))
    run.start()
    assert not ran.wait(0.5)  # the run waits while the warm-up imports
    release.set()
    assert ran.wait(60)
    holder.join()
    run.join()

    # and the warm-up waits while a script runs (Streamlit's thread name)
    stop_script, steps = threading.Event(), []
    script = threading.Thread(target=lambda: stop_script.wait(60), name="ScriptRunner.scriptThread")
    script.start()
    monkeypatch.setattr(warmup, "_when_idle", lambda: None)  # only _alone's own check left
    step = threading.Thread(target=lambda: warmup._alone(lambda: steps.append(1)))
    step.start()
    step.join(0.5)
    assert steps == []
    stop_script.set()
    script.join()
    step.join(60)
    assert steps == [1]


def test_the_warm_up_loads_the_recording_kernels_before_umap(monkeypatch):
    """A server pays numba's kernel load (~0.5 s) at start, not at the first recording."""
    from dashboard import warmup
    from lib.run import record

    done: list[str] = []
    monkeypatch.setattr(warmup, "FIRST", [])
    monkeypatch.setattr(warmup, "LATER", [])
    monkeypatch.setattr(warmup, "_when_idle", lambda: None)
    monkeypatch.setattr(record, "warm_kernels", lambda: done.append("kernels"))
    monkeypatch.setattr(warmup, "compile_umap", lambda: done.append("umap"))
    monkeypatch.setattr(warmup, "freeze_heap", lambda: done.append("freeze"))
    warmup.warm()
    assert done == ["kernels", "umap", "freeze"]
