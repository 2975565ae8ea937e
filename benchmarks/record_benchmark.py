"""Recorder throughput: a 1-layer 512-unit char LSTM with all gates, on this machine.

Prints tokens/s of lib.record (fast stream path and exact path), and the same figure for
a roofline: the same number of (streams, 512) x (512, 2048) float32 matmuls alone, timed in
the same run. Target (issue 2): >= 20,000 tokens/s for the fast path.

    make bench        or        .venv/bin/python benchmarks/record_benchmark.py [--tokens N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from lib.corpora import builtin_corpus  # noqa: E402
from lib.models import ModelSpec, build  # noqa: E402
from lib.record import forward, record  # noqa: E402
from lib.registry import ModelBundle  # noqa: E402
from lib.tokenizer import Vocab  # noqa: E402


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=100_000)
    p.add_argument("--exact-tokens", type=int, default=10_000)
    args = p.parse_args()

    text = builtin_corpus("python-stdlib").text[: args.tokens]
    spec = ModelSpec(cell="lstm", level="char", units=512, embedding=64)
    vocab = Vocab.build(list(text))
    bundle = ModelBundle(model=build(spec, len(vocab)), vocab=vocab, tokenizer=spec.tokenizer,
                         spec=spec)
    _ = bundle.numpy_weights
    ids = vocab.encode(list(text))
    T = len(ids)

    dt, trace = best_of(lambda: record(bundle, text))
    stats = trace.meta["record"]
    fast = T / dt

    # roofline: the recurrent matmuls of the same shape and count, nothing else
    w = bundle.numpy_weights.layers[0]
    n_steps = stats["warmup"] + -(-T // stats["streams"])
    h = np.random.default_rng(0).standard_normal((stats["streams"], 512)).astype(np.float32)
    out = np.empty((stats["streams"], 2048), np.float32)

    def matmuls():
        for _ in range(n_steps):
            np.matmul(h, w.recurrent, out=out)

    dt_mm, _ = best_of(matmuls)
    roof = T / dt_mm

    n_exact = min(args.exact_tokens, T)
    dt_exact, _ = best_of(lambda: forward(bundle.numpy_weights, ids[:n_exact], streams=1), 1)
    exact_fast = record(bundle, text[:n_exact])
    exact_ref = record(bundle, text[:n_exact], streams=1)
    err = max(np.abs(exact_fast.signals[k] - exact_ref.signals[k]).max()
              for k in exact_ref.signals)

    print(f"text: {T:,} chars of Python stdlib source; model: 1-layer LSTM, 512 units "
          f"(Keras initialisation), all 6 signals + top-10 next-token probabilities")
    print(f"streams {stats['streams']}, warm-up {stats['warmup']}, segments run again "
          f"{stats['rerun_segments']} in {stats['rerun_rounds']} rounds, one by one "
          f"{stats['sequential_segments']}")
    print(f"record (fast path):      {fast:12,.0f} tokens/s   ({dt:.2f} s)")
    print(f"matmul roofline:         {roof:12,.0f} tokens/s   ({dt_mm:.2f} s)")
    print(f"ratio to roofline:       {fast / roof:12.2f}")
    print(f"exact sequential path:   {n_exact / dt_exact:12,.0f} tokens/s   "
          f"(first {n_exact:,} tokens)")
    print(f"max |fast - exact| over all signals, first {n_exact:,} tokens: {err:.2e}")
    print(f"target >= 20,000 tokens/s: {'met' if fast >= 20_000 else 'NOT met'}")
    trained(text)


def trained(text: str, name: str = "demo-stdlib-char-lstm") -> None:
    """The same on a shipped trained model, whose long memories force segment reruns."""
    from lib.models import load
    from lib.registry import RegistryError

    try:
        bundle = load(name)
    except RegistryError as e:
        print(f"(trained model skipped: {e})")
        return
    ids = bundle.vocab.encode(list(text))
    dt, trace = best_of(lambda: record(bundle, text))
    dt_exact, _ = best_of(lambda: record(bundle, text, streams=1), 1)
    st = trace.meta["record"]
    print(f"\ntrained {name} ({bundle.spec.describe()}), same text, {len(ids):,} tokens:")
    print(f"record (fast path):      {len(ids) / dt:12,.0f} tokens/s   ({st['streams']} "
          f"streams, {st['rerun_segments']} segments run again in {st['rerun_rounds']} rounds, "
          f"{st['sequential_segments']} one by one)")
    print(f"exact sequential path:   {len(ids) / dt_exact:12,.0f} tokens/s")


if __name__ == "__main__":
    main()
