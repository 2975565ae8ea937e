"""Run the benchmark suite (issue 9): write benchmarks/results.json and BENCHMARKS.md.

Sections, in this order (all by default, or only those named by flags):

- ``--record``: recorder tokens/s against the seeds' way and a matmul roofline
  (record_benchmark.py), on four model shapes;
- ``--analyses``: relevance with circular-shift p-values, spectra, KL, expected response on
  the 100,000-token Trace the recording section made of the 512-unit LSTM (recorded here
  if that section did not run), and co-clustering (analysis_benchmark.py,
  projection_benchmark.py, coclustering_benchmark.py);
- ``--projection``: t-SNE and UMAP of 5,000 recorded states and UMAP (the pages' default)
  of 10,000, each cold in a fresh process (projection_benchmark.py; PCA, and t-SNE of
  10,000, with ``--all-projections``);
- ``--training``: the app's training loop against a bare model.fit (training_benchmark.py);
- ``--pages``: every page's script in AppTest, cold and warm (page_benchmark.py);
- ``--atlas``: the Neuron Atlas of a trained 256-unit layer over 100,000 held-out tokens,
  cold, and its page warm (atlas_benchmark.py).

Ratios are taken side by side in one run. Sections not run keep their previous figures
in the report, each with the date and load average of its own run. ``--quick`` is a smoke
run on small sizes; its figures are not comparable with the targets and it writes to
``benchmarks/results/`` instead (ignored by git).

    make bench        or        .venv/bin/python benchmarks/run.py [--quick] [--pages ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))

from benchmarks.common import (  # noqa: E402
    Figure,
    fmt,
    load_average,
    machine,
    target_text,
    touch_memory,
)

SECTIONS = ("record", "analyses", "projection", "training", "pages", "atlas")
TITLES = {
    "record": "Recording",
    "analyses": "Analyses",
    "projection": "Projection",
    "training": "Training",
    "pages": "Page latency",
    "atlas": "Neuron Atlas",
}
RESULTS = ROOT / "benchmarks" / "results.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
QUICK_DIR = ROOT / "benchmarks" / "results"
#: fresh memory written once before the figures (benchmarks.common.touch_memory): more than
#: the largest section holds at once (the recording section: ~2.7 GB)
TOUCH_GB = 6.0


def log(message: str) -> None:
    print(message, flush=True)


def run_record(state: dict, quick: bool) -> tuple[list[Figure], dict]:
    from benchmarks import record_benchmark

    figs, details = record_benchmark.run(quick=quick, log=log)
    state["trace"] = details["models"][0].pop("trace", None)
    return figs, details


def trace_for_analyses(state: dict, quick: bool):
    """The 512-unit LSTM's Trace from the recording section, else a new recording."""
    if state.get("trace") is not None:
        return state.pop("trace")
    from benchmarks import record_benchmark
    from lib.run.record import record

    bundle = record_benchmark.lm_bundle("lstm", 1, 512)
    return record(bundle, record_benchmark.text_of(20_000 if quick else 100_000))


def run_analyses(state: dict, quick: bool) -> tuple[list[Figure], dict]:
    from benchmarks import analysis_benchmark, coclustering_benchmark, projection_benchmark
    from lib.analysis.features import regex_mask

    trace = trace_for_analyses(state, quick)
    h, c, tokens = trace.signals[(0, "h")], trace.signals[(0, "c")], trace.tokens
    del trace
    what = f"Trace of a 512-unit LSTM (Keras initialisation), {len(tokens):,} chars"
    repeats = 1 if quick else 2
    mask = regex_mask(tokens, " ")
    figs, rel = analysis_benchmark.run(
        h, mask, what=f"h of a {what}; feature: space", repeats=repeats
    )
    seconds = projection_benchmark.time_distributions(h, c, repeats=repeats)
    figs += projection_benchmark.distributions_figures(seconds, h.shape, f"h of a {what}")
    co_figs, co = coclustering_benchmark.run(c, tokens, what=f"c of a {what}", repeats=repeats)
    figs += co_figs
    return figs, {"relevance_fourier": rel, "distributions": seconds, **co}


def run_projection(state: dict, quick: bool, all_methods: bool) -> tuple[list[Figure], dict]:
    from benchmarks import projection_benchmark

    # PCA takes under 2 s at either size: only with --all-projections, like t-SNE at 10,000
    plan = {
        5_000: ("pca", "tsne", "umap") if all_methods else ("tsne", "umap"),
        10_000: ("pca", "tsne", "umap") if all_methods else ("umap",),
    }
    if quick:
        plan = {2_000: ("pca", "umap")}
    figs, details = [], {}
    for n, methods in plan.items():
        X, label = projection_benchmark.states_for(n)
        times = projection_benchmark.time_projection(X, methods)
        for method, r in times.items():
            log(f"  {n:,} states, {method}: cold {r['cold']:.1f} s, warm {r['warm']:.1f} s")
        figs += projection_benchmark.projection_figures(times, X, label)
        details[str(n)] = {"states": label, "shape": list(X.shape), "methods": times}
    return figs, details


def run_training(state: dict, quick: bool) -> tuple[list[Figure], dict]:
    from benchmarks import training_benchmark

    return training_benchmark.run(quick=quick, log=log)


def run_atlas(state: dict, quick: bool) -> tuple[list[Figure], dict]:
    from benchmarks import atlas_benchmark

    return atlas_benchmark.run(quick=quick, log=log)


def run_pages(state: dict, quick: bool, only: list[str] | None) -> tuple[list[Figure], dict]:
    from benchmarks import page_benchmark

    return page_benchmark.run(quick=quick, only=only or None, log=log)


# --- the report --------------------------------------------------------------------------


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _touch_text(touch: dict | None) -> str:
    if not touch:
        return ""
    return (
        f" Before the figures, {touch['gb']:g} GB of fresh memory were written twice "
        f"({touch['first_seconds']:.1f} s, then {touch['again_seconds']:.1f} s): on a "
        "freshly booted VM the host backs each page of RAM on its first use, which "
        "costs ~2.5 s/GB here and would otherwise land on whichever figure first "
        "needs the memory (the recording of a 100,000-token Trace writes 1.3 GB)."
    )


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`, issue 9): figures measured side by side "
        "in one run on this machine, each against its target. Do not edit by hand; the raw "
        "figures are in `benchmarks/results.json`.",
        "",
        f"Machine: {m['cpus']} CPUs ({m.get('processor', '')}), {m.get('memory_gb', '?')} GB, "
        f"Python {m['python']}, NumPy {m['numpy']}{_blas_text(m)}. "
        f"Run of {m['date']}: load average "
        f"{' / '.join(str(x) for x in m['load_average'])} (1 / 5 / 15 min) at the start, "
        f"{report.get('load_average_end', ['?'])[0]} at the end; "
        f"{report['seconds'] / 60:.1f} min in all. Other processes shared the CPUs, so "
        "absolute times vary from run to run; ratios were measured side by side."
        + _touch_text(m.get("memory_touch")),
        "",
        "| Figure | Measured | Target | Met | Where the gap comes from |",
        "| --- | --- | --- | --- | --- |",
    ]
    notes = []
    for name in SECTIONS:
        section = report["sections"].get(name)
        if not section:
            continue
        stamp = ""
        if section.get("date") != m["date"]:
            stamp = f" (measured {section['date']}, load {section['load_average'][0]})"
        if section.get("error"):
            lines.append(
                f"| **{TITLES[name]}**{stamp} | failed | | | "
                f"{_cell(section['error'].splitlines()[-1])} |"
            )
            continue
        lines.append(f"| **{TITLES[name]}**{stamp} | | | | |")
        for f in section["figures"]:
            measured = fmt(f["value"], f["unit"]) + (f" ({f['extra']})" if f["extra"] else "")
            fig = Figure(
                **{
                    k: f[k]
                    for k in ("section", "name", "value", "unit", "target", "higher_is_better")
                }
            )
            met = {True: "met", False: "**not met**", None: "—"}[f["met"]]
            source = f" ({f['source']})" if f["target"] is not None and f["source"] else ""
            lines.append(
                f"| {_cell(f['name'])} | {measured} | {target_text(fig)}{source} | "
                f"{met} | {_cell(f.get('gap', ''))} |"
            )
            if f["note"]:
                notes.append(f"- {TITLES[name]}, {f['name']}: {f['note']}.")
    lines += ["", "## What was measured", ""] + notes
    lines += [
        "",
        "Targets: issue 9 (recording, training, page latency), issue 4 (relevance and spectra "
        "under 5 s), issue 5 (KL and expected response have none; co-clustering under 2 s; "
        "a 5,000-state projection under 30 s cold), issue 6 (10,000 states under 30 s cold).",
        "",
    ]
    return "\n".join(lines)


def _blas_text(m: dict) -> str:
    """ ", OpenBLAS 0.3.31 with its SkylakeX kernels (its own choice)" from the machine info."""
    pools = m.get("blas") or []
    if not pools:
        return ""
    pool = pools[0]
    forced = {k: v for k, v in (m.get("blas_environment") or {}).items() if v}
    how = (
        "forced by " + ", ".join(f"{k}={v}" for k, v in forced.items())
        if forced
        else "its own choice"
    )
    name = f"{pool.get('internal_api')} {pool.get('version')}"
    return f", {name} with its {pool.get('architecture')} kernels ({how})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    for name in SECTIONS:
        parser.add_argument(f"--{name}", action="store_true", help=f"run the {name} section")
    parser.add_argument(
        "--page", nargs="*", metavar="NAME", help="with --pages: only these pages (file stems)"
    )
    parser.add_argument(
        "--all-projections", action="store_true", help="also PCA, and t-SNE of 10,000 states (slow)"
    )
    args = parser.parse_args()
    chosen = [name for name in SECTIONS if getattr(args, name)] or list(SECTIONS)
    out_json = QUICK_DIR / "results.json" if args.quick else RESULTS
    out_md = QUICK_DIR / "BENCHMARKS.md" if args.quick else MARKDOWN

    start = time.perf_counter()
    report = {"machine": machine(), "quick": args.quick, "sections": {}}
    if out_json.exists():
        try:
            previous = json.loads(out_json.read_text())
            report["sections"] = previous.get("sections", {})
        except (OSError, ValueError):
            pass
    log(f"{report['machine']['cpus']} CPUs, load average {report['machine']['load_average']}")
    report["machine"]["memory_touch"] = touch_memory(TOUCH_GB)
    log(f"memory: {report['machine']['memory_touch']}")
    state: dict = {}
    runners = {
        "record": lambda: run_record(state, args.quick),
        "analyses": lambda: run_analyses(state, args.quick),
        "projection": lambda: run_projection(state, args.quick, args.all_projections),
        "training": lambda: run_training(state, args.quick),
        "pages": lambda: run_pages(state, args.quick, args.page),
        "atlas": lambda: run_atlas(state, args.quick),
    }
    failed = []
    for name in chosen:
        t0 = time.perf_counter()
        log(f"\n{TITLES[name]}")
        entry = {"date": report["machine"]["date"], "load_average": load_average()}
        try:
            figs, details = runners[name]()
            entry.update(figures=[f.to_dict() for f in figs], details=details)
        except Exception:  # a failed section is reported, the others still run
            entry["error"] = traceback.format_exc()
            failed.append(name)
            log(entry["error"])
        entry["seconds"] = time.perf_counter() - t0
        report["sections"][name] = entry
        log(f"  ({entry['seconds']:.0f} s)")
    state.clear()
    report["seconds"] = time.perf_counter() - start
    report["load_average_end"] = load_average()
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    out_md.write_text(markdown(report))
    log(
        f"\n{report['seconds'] / 60:.1f} min; wrote {out_json.relative_to(ROOT)} and "
        f"{out_md.relative_to(ROOT)}"
    )
    print(out_md.read_text())
    if failed:
        sys.exit(f"sections that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
