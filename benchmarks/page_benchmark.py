"""Page latency (issue 9): each page's script in Streamlit's AppTest, cold and warm.

AppTest runs the router (``streamlit_app.py``: sidebar, then the page) as a server would,
on the shipped registry ``models/`` and its default model. The clock wraps the script's
execution only (Streamlit's ``exec_func_with_error_handling``): that is what a user waits
for before the page is drawn. For every page, both Streamlit caches are cleared and a new
session opens the page directly:

- cold: its first run (models loaded, traces recorded, analyses computed);
- warm: the best of the next ``warm_runs`` runs, nothing changed (every cache hit).

Target: warm under 0.5 s. A throwaway first run pays the process's imports (Streamlit,
TensorFlow, lib), so no page is charged with them. For a page over the target, one more
warm run is profiled and its time split by where it went (Altair chart building,
Streamlit's element marshalling, the page's own code, ...), which is the gap sentence.
After every run Streamlit also calls ``keras.backend.clear_session()`` (it does so whenever
Keras is imported), whose full ``gc.collect()`` over TensorFlow's objects is not part of
the script time; the run time with it is in the notes.

    .venv/bin/python benchmarks/page_benchmark.py [--pages relevance fourier] [--warm-runs N]
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
TARGET_WARM = 0.5
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

        from tests.test_pages import _RoutedPagesManager  # the server's routing in AppTest

        self._pages_manager = app_test.PagesManager
        app_test.PagesManager = _RoutedPagesManager
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
                source="issue 9",
                gap=gap_sentence(r),
                note=note,
                extra=f"cold {r['cold']:.1f} s",
                detail={"cold_seconds": r["cold"]},
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
        imports = time.perf_counter() - start
        warnings = Warnings()
        for page in chosen:
            warnings.attach()
            warnings.messages.clear()
            results[page] = r = time_page(clock, page, warm_runs=warm_runs)
            r["streamlit_warnings"] = sorted(set(warnings.messages))
            log(
                f"  {page:<26} cold {r['cold']:6.2f} s   warm {r['warm']:5.2f} s"
                + ("   EXCEPTION" if r["exception"] else "")
            )
    details = {
        "first_run_with_imports": imports,
        "registry": "models/",
        "pages": results,
        "warm_runs": warm_runs,
    }
    return figures(results), details


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", nargs="*", help="page names (file stems); default: all")
    p.add_argument("--warm-runs", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    figs, _ = run(quick=args.quick, only=args.pages, warm_runs=args.warm_runs)
    print_figures(figs)


if __name__ == "__main__":
    main()
