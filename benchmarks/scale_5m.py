"""Scale benchmark (issue 9): a 5,000,000-character corpus trains, records and analyses
within the machine's memory.

Phases, each in its own process so each peak RSS (``resource.getrusage``) is its own:

1. ``corpus``: build ``builtin:python-stdlib-5m`` (the standard library's files in a seeded
   random order, cut at exactly 5 M characters; lib.data.corpora).
2. ``train``: the app's training code (lib.train.fit.train) on all of it, one epoch, into a
   temporary registry.
3. ``record``: every token through the trained model into a float16 trace folder
   (lib.run.record.record with ``out_dir``, written chunk by chunk; lib.run.trace).
4. ``analyse``: the folder opened memory-mapped and analysed over all tokens: seed 000's
   relevance of every unit of ``h`` for the feature "inside a string" and the amplitude
   spectra of ``h`` (lib.analysis, reading float16 in blocks).

    .venv/bin/python benchmarks/scale_5m.py [--chars 5000000] [--units 128] [--keep DIR]

Writes ``benchmarks/results/scale_5m.json`` and prints a table. Takes about 8 minutes on
2 cores; ``--chars 200000`` is a smoke run.

Measured 2026-11-22 on the 2-core, 24 GB machine (load average 4-6 from other work),
1 x 128 LSTM, peak RSS of each phase's process (memory-mapped pages read count too):

    phase    seconds  peak RSS  what
    corpus       3.0   0.25 GB  5,000,000 characters
    train      175     1.16 GB  1 epoch, 176 steps of 256 x 100 tokens (26,700 tokens/s);
                                val 2.91 bits/char, unigram baseline 4.64
    record     272     4.77 GB  5,000,000 tokens, every signal, float16 folder: 8.1 GB on
                                disk (float32 in memory would be 15.4 GB); 11 chunks,
                                19,900 tokens/s, 656 of 704 segments run again after warm-up
    analyse     37     3.71 GB  relevance of 128 units over all tokens 5.6 s (1.39 GB),
                                spectra (2,500,001 x 128) 28.9 s
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "scale_5m.json"


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def phase_corpus(args) -> dict:
    from lib.data.corpora import load_corpus

    t0 = time.perf_counter()
    corpus = load_corpus(f"builtin:python-stdlib-5m@{args.chars}")
    return {"chars": len(corpus.text), "seconds": time.perf_counter() - t0}


def phase_train(args) -> dict:
    from lib.data.corpora import load_corpus
    from lib.model.spec import ModelSpec, TrainConfig
    from lib.train.fit import train

    corpus = load_corpus(f"builtin:python-stdlib-5m@{args.chars}")
    spec = ModelSpec(
        cell="lstm", level="char", layers=1, units=args.units, embedding=32, seq_len=100
    )
    config = TrainConfig(epochs=1, batch_size=args.batch_size, learning_rate=4e-3)
    steps = []

    def progress(event):
        if event["kind"] == "batch":
            steps.append(event["step"])

    t0 = time.perf_counter()
    bundle = train(
        spec,
        corpus,
        name="scale-5m",
        config=config,
        progress=progress,
        root=args.registry,
        overwrite=True,
    )
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "steps": max(steps),
        "batch_size": args.batch_size,
        "train_tokens": bundle.meta["train_tokens"],
        "tokens_per_s": bundle.meta["train_tokens"] / seconds,
        "val_bpc": bundle.meta["metrics"]["val_bpc"],
        "baseline_bpc": bundle.meta["metrics"]["baseline_bpc"],
        "model": f"1 x {args.units} LSTM, char level",
    }


def phase_record(args) -> dict:
    from lib.data.corpora import load_corpus
    from lib.model.registry import load
    from lib.run.record import record

    corpus = load_corpus(f"builtin:python-stdlib-5m@{args.chars}")
    bundle = load("scale-5m", root=args.registry)
    t0 = time.perf_counter()
    trace = record(bundle, corpus.text, dtype="float16", out_dir=args.trace_dir)
    seconds = time.perf_counter() - t0
    on_disk = sum(f.stat().st_size for f in Path(args.trace_dir).iterdir())
    return {
        "seconds": seconds,
        "tokens": len(trace),
        "tokens_per_s": len(trace) / seconds,
        "trace_gb_on_disk": on_disk / 1e9,
        "chunks": trace.meta["record"]["chunks"],
        "rerun_segments": trace.meta["record"]["rerun_segments"],
        "float32_in_memory_gb": len(trace) * args.units * 6 * 4 / 1e9,
    }


def phase_analyse(args) -> dict:
    import numpy as np

    from lib.analysis.features import structural_feature
    from lib.analysis.fourier import spectrum
    from lib.analysis.relevance import relevance
    from lib.run.trace import open_trace

    trace = open_trace(args.trace_dir)
    h = trace.signals[(0, "h")]
    t0 = time.perf_counter()
    mask = structural_feature(trace.tokens, "inside quotes", level="char").values
    feature_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = relevance(h, mask)
    relevance_s = time.perf_counter() - t0
    rss_relevance = peak_rss_gb()
    t0 = time.perf_counter()
    freqs, amps = spectrum(h, remove_mean=True)
    spectrum_s = time.perf_counter() - t0
    return {
        "tokens": len(trace),
        "dtype": str(h.dtype),
        "storage": trace.storage,
        "feature_seconds": feature_s,
        "feature_share": float(mask.mean()),
        "relevance_seconds": relevance_s,
        "relevance_peak_rss_gb": rss_relevance,
        "top_units": np.argsort(-scores)[:5].tolist(),
        "spectrum_seconds": spectrum_s,
        "spectrum_shape": list(amps.shape),
    }


PHASES = {
    "corpus": phase_corpus,
    "train": phase_train,
    "record": phase_record,
    "analyse": phase_analyse,
}


def run_phase(name: str, args) -> dict:
    """Run one phase in a fresh process; its result with the process's peak RSS."""
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--chars",
        str(args.chars),
        "--units",
        str(args.units),
        "--batch-size",
        str(args.batch_size),
        "--registry",
        args.registry,
        "--trace-dir",
        args.trace_dir,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"phase {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - t0
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=5_000_000)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--keep", help="keep the trace folder here (else a temporary folder)")
    p.add_argument("--phase", choices=list(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--registry", help=argparse.SUPPRESS)
    p.add_argument("--trace-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:  # inside one phase's process
        result = PHASES[args.phase](args)
        result["peak_rss_gb"] = peak_rss_gb()
        print(json.dumps(result))
        return
    work = Path(tempfile.mkdtemp(prefix="rnn-lens-scale-"))
    args.registry = str(work / "models")
    args.trace_dir = args.keep or str(work / "trace")
    report = {
        "chars": args.chars,
        "units": args.units,
        "load_average": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "phases": {},
    }
    try:
        for name in PHASES:
            print(f"{name} ...", file=sys.stderr, flush=True)
            report["phases"][name] = run_phase(name, args)
            print(f"  {json.dumps(report['phases'][name])}", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["load_average_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))
    print(f"\n{'phase':8s} {'seconds':>9s} {'peak RSS GB':>12s}")
    for name, r in report["phases"].items():
        print(f"{name:8s} {r['wall_seconds']:9.1f} {r['peak_rss_gb']:12.2f}")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
