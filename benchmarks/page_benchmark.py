"""Page latency (issues 9, 19): each page's script in Streamlit's AppTest, warm server first
visit, warm rerun, and (``--fresh``) as the first page of a new process.

AppTest runs the router (``streamlit_app.py``: sidebar, then the page) as a server would,
on the shipped registry ``models/`` and its default model. The clock wraps the script's
execution only (Streamlit's ``exec_func_with_error_handling``): that is what a user waits
for before the page is drawn. A throwaway first run and the server's warm-up
(:func:`dashboard.warmup.warm`: the heavy imports, UMAP compiled) make the process a warm
server, so no page is charged with imports. For every page, both Streamlit caches are
cleared and a new session lands on the start page, as a user does, then opens the page:

- first visit: the page's first run (its traces recorded, analyses computed; the demo
  models are loaded by the start page). Target < 3 s (issue 19). For the start page itself,
  its first run on empty caches;
- warm: the best of the next ``warm_runs`` runs, nothing changed (every cache hit).
  Target < 0.3 s (issue 19).

For a page over a target, one more warm run is profiled and its time split by where it
went (Altair chart building, Streamlit's element marshalling, the page's own code, ...),
which is the gap sentence. The whole run time (with Streamlit's end-of-run clean-up, which
no longer calls ``keras.backend.clear_session()``: dashboard.warmup) is in the notes.

``--fresh`` opens every page as the first page of a new Python process (imports, model
load, recording: a fresh server's first page, less the server's own start). Target < 10 s.

    .venv/bin/python benchmarks/page_benchmark.py [--pages relevance fourier] [--warm-runs N]
    .venv/bin/python benchmarks/page_benchmark.py --fresh [--pages start]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import logging
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))

from benchmarks.common import Figure, print_figures  # noqa: E402

APP = str(ROOT / "streamlit_app.py")
TARGET_WARM = 0.3
TARGET_FIRST_VISIT = 3.0
TARGET_FRESH = 10.0
START = "pages/start.py"
#: what AppTest itself makes Streamlit say (no server, no script context), not the page
IGNORED_WARNINGS = ("No runtime found", "missing ScriptRunContext")

#: where a profiled run's own time goes, by the top-level package of each function
AREAS = {
    "altair": "building Altair charts",
    "jsonschema": "building Altair charts",
    "referencing": "building Altair charts",
    "narwhals": "building Altair charts",
    "streamlit": "Streamlit's element marshalling",
    "google": "Streamlit's element marshalling",
    "pandas": "pandas and Arrow tables",
    "pyarrow": "pandas and Arrow tables",
    "numpy": "the page's own computations",
    "scipy": "the page's own computations",
    "sklearn": "the page's own computations",
    "lib": "the page's own computations",
    "dashboard": "the page's own computations",
    "pages": "the page's own computations",
    "keras": "Keras and TensorFlow",
    "tensorflow": "Keras and TensorFlow",
}


def pages() -> list[str]:
    return sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))


class Clock:
    """Times (and optionally profiles) every script run AppTest makes, in its own thread."""

    def __init__(self):
        from streamlit.runtime.scriptrunner import script_runner

        self.module = script_runner
        self.original = script_runner.exec_func_with_error_handling
        self.last = 0.0
        self.profile: cProfile.Profile | None = None

        def timed(*args, **kwargs):
            start = time.perf_counter()
            if self.profile is not None:
                self.profile.enable()
            try:
                return self.original(*args, **kwargs)
            finally:
                if self.profile is not None:
                    self.profile.disable()
                self.last = time.perf_counter() - start

        self.timed = timed

    def __enter__(self):
        from streamlit.testing.v1 import app_test

        from tests.conftest import _routed_pages_manager  # the server's routing in AppTest

        self._pages_manager = app_test.PagesManager
        app_test.PagesManager = _routed_pages_manager()
        self.module.exec_func_with_error_handling = self.timed
        return self

    def __exit__(self, *exc):
        from streamlit.testing.v1 import app_test

        app_test.PagesManager = self._pages_manager
        self.module.exec_func_with_error_handling = self.original

    def run(self, at) -> tuple[float, float]:
        """Run once; (script seconds, whole run seconds including Streamlit's cleanup)."""
        start = time.perf_counter()
        at.run()
        return self.last, time.perf_counter() - start


def _area(filename: str) -> str | None:
    """The AREAS entry of a function's file; None for the standard library and builtins."""
    if "site-packages/" in filename:
        top = filename.split("site-packages/")[1].split("/")[0]
    elif filename.startswith(str(ROOT)):
        top = filename[len(str(ROOT)) + 1 :].split("/")[0]
    else:
        return None
    return AREAS.get(top, "other libraries")


def where_it_went(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """Own time of the profiled run by area (see AREAS), largest first.

    Time spent in the standard library (json, copy, re, ...) is charged to the callers
    that asked for it, in proportion to the time each call edge took.
    """
    stats = pstats.Stats(profile).stats
    shares: dict = {}

    def share(func, depth: int = 0) -> dict[str, float]:
        if func in shares:
            return shares[func]
        area = _area(func[0])
        if area is not None:
            return {area: 1.0}
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(edge[3] for edge in callers.values())
        if depth > 40 or total <= 0:
            return {"the Python runtime": 1.0}
        shares[func] = {}  # breaks cycles
        out: collections.Counter = collections.Counter()
        for caller, edge in callers.items():
            for name, part in share(caller, depth + 1).items():
                out[name] += part * edge[3] / total
        shares[func] = dict(out)
        return shares[func]

    areas: collections.Counter = collections.Counter()
    for func, (_, _, own, _, _) in stats.items():
        for name, part in share(func).items():
            areas[name] += own * part
    return areas.most_common()


def slowest_own_call(profile: cProfile.Profile) -> tuple[str, float] | None:
    """The project function (lib/ or dashboard/) that took longest, inclusive, descending
    into its callees while one of them took at least 90 % as long (the real culprit)."""
    stats = pstats.Stats(profile).stats

    def ours(func) -> bool:
        rel = func[0][len(str(ROOT)) + 1 :] if func[0].startswith(str(ROOT)) else ""
        return rel.startswith(("lib/", "dashboard/"))

    mine = {f: v[3] for f, v in stats.items() if ours(f)}
    if not mine:
        return None
    func = max(mine, key=mine.get)
    for _ in range(20):
        callees = [g for g in mine if func in stats[g][4] and g != func]
        deeper = max(callees, key=mine.get, default=None)
        if deeper is None or mine[deeper] < 0.9 * mine[func]:
            break
        func = deeper
    return f"{func[0][len(str(ROOT)) + 1 :]} {func[2]}", mine[func]


class Warnings(logging.Filter):
    """Keeps (out of the output) what Streamlit logs at WARNING or with a traceback
    (it logs failed Arrow conversions of a page's tables at INFO, traceback included)."""

    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or record.exc_info:
            message = record.getMessage()
            if not any(ignored in message for ignored in IGNORED_WARNINGS):
                self.messages.append(message[:200])
            return False
        return True

    def attach(self) -> None:
        import streamlit.dataframe_util  # noqa: F401  (its logger exists from here on)
        from streamlit import logger

        for log in list(getattr(logger, "_loggers", {}).values()):
            if self not in log.filters:
                log.addFilter(self)


def time_page(clock: Clock, page: str, *, warm_runs: int = 3) -> dict:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=600)
    if page != START:
        clock.run(at)  # the user lands on the start page (it loads the demo models)
    at.switch_page(page)
    cold, cold_run = clock.run(at)
    result = {
        "cold": cold,
        "cold_run": cold_run,
        "exception": [str(e.value)[:300] for e in at.exception],
    }
    warm = [clock.run(at) for _ in range(max(1, warm_runs))]
    result["warm"] = min(s for s, _ in warm)
    result["warm_run"] = min(r for _, r in warm)
    result["warm_all"] = [s for s, _ in warm]
    if result["warm"] >= TARGET_WARM:
        clock.profile = cProfile.Profile()
        try:
            result["profiled"], _ = clock.run(at)
            result["areas"] = where_it_went(clock.profile)
            result["slowest_own_call"] = slowest_own_call(clock.profile)
        finally:
            clock.profile = None
    return result


def gap_sentence(r: dict) -> str:
    if r.get("exception"):
        return f"The page raised: {r['exception'][0]}"
    areas = r.get("areas") or []
    total = sum(s for _, s in areas) or 1.0
    parts = [f"{s / total:.0%} {name}" for name, s in areas[:3] if s / total >= 0.1]
    text = (
        "In a profiled warm run the time went to " + ", ".join(parts) + "."
        if parts
        else "No single part of the run dominates."
    )
    slowest = r.get("slowest_own_call")
    if slowest and slowest[1] >= 0.2 * r["profiled"]:
        text += (
            f" The largest of its own calls, made again on every rerun: {slowest[0]} "
            f"({slowest[1]:.2f} s)."
        )
    return text


def _first_visit_gap(page: str) -> str:
    return (
        f"The first visit of {Path(page).stem} records its text and computes its analyses "
        "(cached after); profile it with cProfile around AppTest to see which."
    )


def figures(results: dict[str, dict]) -> list[Figure]:
    figs = []
    for page, r in results.items():
        note = (
            "warm runs "
            + ", ".join(f"{s:.2f}" for s in r["warm_all"])
            + f" s; with Streamlit's end-of-run cleanup {r['warm_run']:.2f} s warm, "
            f"{r['cold_run']:.1f} s cold"
        )
        if r["exception"]:
            note += f"; EXCEPTION: {r['exception'][0]}"
        for message in r.get("streamlit_warnings", []):
            note += f"; Streamlit logged: {message}"
        figs.append(
            Figure(
                "Pages",
                f"{Path(page).stem}: warm run",
                r["warm"],
                "s",
                TARGET_WARM,
                higher_is_better=False,
                source="issue 19",
                gap=gap_sentence(r),
                note=note,
                extra=f"first visit {r['cold']:.1f} s",
                detail={"cold_seconds": r["cold"]},
            )
        )
        figs.append(
            Figure(
                "Pages",
                f"{Path(page).stem}: first visit in a warm server",
                r["cold"],
                "s",
                TARGET_FIRST_VISIT,
                higher_is_better=False,
                source="issue 19",
                gap="" if r["cold"] < TARGET_FIRST_VISIT else _first_visit_gap(page),
                note="caches emptied, the start page opened first (demo models loaded)",
            )
        )
    return figs


def run(
    *, quick: bool = False, only: list[str] | None = None, warm_runs: int | None = None, log=print
) -> tuple[list[Figure], dict]:
    os.environ["RNN_LENS_MODELS"] = str(ROOT / "models")
    chosen = [p for p in pages() if not only or Path(p).stem in only]
    warm_runs = warm_runs or (1 if quick else 2)
    results = {}
    with Clock() as clock:
        from streamlit.testing.v1 import AppTest

        start = time.perf_counter()
        clock.run(AppTest.from_file(APP, default_timeout=600))  # imports: no page's cost
        try:
            from dashboard import warmup
        except ImportError:  # a checkout from before issue 19, measured side by side
            pass
        else:
            warmup.warm()  # what a server's warm-up thread does after its start
        imports = time.perf_counter() - start
        warnings = Warnings()
        for page in chosen:
            warnings.attach()
            warnings.messages.clear()
            results[page] = r = time_page(clock, page, warm_runs=warm_runs)
            r["streamlit_warnings"] = sorted(set(warnings.messages))
            log(
                f"  {page:<26} first visit {r['cold']:6.2f} s (run {r['cold_run']:5.2f})   "
                f"warm {r['warm']:5.2f} s (run {r['warm_run']:5.2f})"
                + ("   EXCEPTION" if r["exception"] else "")
            )
    figs = figures(results)
    fresh_results = {} if quick else fresh(only, log=log)
    for page, r in fresh_results.items():
        figs.append(
            Figure(
                "Pages",
                f"{Path(page).stem}: first page of a fresh process",
                r["wall"],
                "s",
                TARGET_FRESH,
                higher_is_better=False,
                source="issue 19",
                gap=""
                if r["wall"] < TARGET_FRESH
                else "Python, Streamlit, TensorFlow and the page's modules are imported, "
                "the models loaded and the text recorded before the page is drawn.",
                note=f"script {r.get('script', float('nan')):.1f} s; heavy modules "
                f"imported: {', '.join(r['modules']) or 'none'}"
                + (f"; EXCEPTION: {r['exception'][0]}" if r["exception"] else ""),
            )
        )
    details = {
        "fresh": fresh_results,
        "first_run_with_imports": imports,
        "registry": "models/",
        "pages": results,
        "warm_runs": warm_runs,
    }
    return figs, details


#: modules a page should import only when it uses them (checked in every fresh process)
HEAVY_MODULES = ("umap", "sklearn.manifold", "numba", "pynndescent", "tensorflow", "keras")


def _fresh_child(page: str) -> None:
    """In a new process: the router on ``page`` in AppTest, once; prints a JSON line."""
    import json

    with Clock() as clock:
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(APP, default_timeout=600)
        at.switch_page(page)
        script, whole = clock.run(at)
    print(
        "FRESH "
        + json.dumps(
            {
                "script": script,
                "run": whole,
                "exception": [str(e.value)[:300] for e in at.exception],
                "modules": [m for m in HEAVY_MODULES if m in sys.modules],
            }
        )
    )


def fresh(only: list[str] | None = None, *, log=print) -> dict[str, dict]:
    """Every page as the first page of a new process: wall time from starting Python to the
    end of the page's first run (imports, model load, recording: a fresh server's first
    page, less the server's own start), and which heavy modules it imported."""
    import json
    import subprocess

    env = {**os.environ, "RNN_LENS_MODELS": str(ROOT / "models"), "PYTHONPATH": str(ROOT)}
    out = {}
    for page in [p for p in pages() if not only or Path(p).stem in only]:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--fresh-child", page],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - start
        line = next((x for x in proc.stdout.splitlines() if x.startswith("FRESH ")), None)
        r = json.loads(line[6:]) if line else {"exception": [proc.stderr[-300:]], "modules": []}
        r["wall"] = wall
        out[page] = r
        log(
            f"  {page:<26} fresh {wall:6.2f} s (script {r.get('script', float('nan')):5.2f} s)"
            f"  heavy: {','.join(r['modules']) or '-'}" + ("  EXCEPTION" if r["exception"] else "")
        )
    return out


def server_first_page(*, timeout: float = 600.0) -> dict:
    """A real fresh server: ``streamlit run`` on a free port, then Debian's chromium
    (Playwright, launched first so it is not counted) opens the start page. Seconds from
    starting the server until /_stcore/health answers, and until the start page's first
    finding card (its "Open its card in the Neuron Atlas" button) is drawn."""
    import socket
    import subprocess
    import tempfile
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RNN_LENS_MODELS": str(ROOT / "models"), "PYTHONPATH": str(ROOT)}
    url = f"http://127.0.0.1:{port}"
    out: dict = {"load_average_before": os.getloadavg()}
    with sync_playwright() as p, tempfile.TemporaryFile("w+") as log:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]
            + ["--server.headless", "true", "--server.port", str(port)]
            + ["--server.address", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while time.perf_counter() - start < timeout:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.1)
            out["health"] = time.perf_counter() - start
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.set_default_timeout(timeout * 1000)
            page.goto(url)
            page.get_by_text("Open its card in the Neuron Atlas").first.wait_for()
            out["start_page"] = time.perf_counter() - start
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            browser.close()
    out["load_average_after"] = os.getloadavg()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", nargs="*", help="page names (file stems); default: all")
    p.add_argument("--warm-runs", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--fresh", action="store_true", help="each page first in a new process")
    p.add_argument("--fresh-child", help=argparse.SUPPRESS)
    p.add_argument("--server", action="store_true", help="a real fresh server's first page")
    args = p.parse_args()
    if args.fresh_child:
        _fresh_child(args.fresh_child)
        return
    if args.server:
        r = server_first_page()
        print(
            f"fresh server: health {r['health']:.1f} s, start page drawn {r['start_page']:.1f} s"
            f" (target < {TARGET_FRESH:g} s); load {r['load_average_before']}"
        )
        return
    if args.fresh:
        print(f"load average {os.getloadavg()}")
        fresh(args.pages)
        print(f"load average {os.getloadavg()}")
        return
    figs, _ = run(quick=args.quick, only=args.pages, warm_runs=args.warm_runs)
    print_figures(figs)


if __name__ == "__main__":
    main()
