"""Recorder throughput (issue 9): lib.run.record.record against the seeds' way and a roofline.

For each of a 1-layer 512-unit and a 2-layer 256-unit LSTM and GRU (Keras initialisation,
embedding 64, a char vocabulary of Python's 100 printable characters), on the Python
standard library's source:

- ``record``: tokens/s of :func:`lib.run.record.record` (all signals of all layers, top-10
  next-token probabilities), best of ``repeats``;
- the seeds' way: the same weights in a stateful Keras model of batch 1, one
  ``model.predict`` call per token returning every layer's h and the logits (the seeds
  computed the gates by hand on top, which is not counted here); timed on 60 tokens per
  model after three warm-up calls and extrapolated (a call costs about the same each time);
- a roofline: the matrix products the recording cannot avoid, with the recorder's own
  batch of streams and number of steps (warm-up included), timed alone in the same run:
  per layer the recurrent (streams, units) x (units, gates*units) product at every step
  (with one BLAS thread or all, whichever is faster) plus the input projection as one
  (steps*streams, n_in) x (n_in, gates*units) product, and the output layer as one
  (T, units) x (units, vocab) product. Layer 0's input projection is a table lookup in the
  recorder, so counting it as a product makes the roofline slightly easier to reach.

Targets: >= 1,000x the seeds' way and >= 50 % of the roofline.

Issue 19 adds, measured side by side (record and Keras alternately, best of 2), on the
shipped trained demo-stdlib-char-lstm (whose long memories make the fast path rerun
segments: the rerun rate is the share of segment steps run again) and on the
Keras-initialised 1x512 LSTM and 2x256 GRU:

- Keras' own ``predict`` over 64 streams (consecutive segments side by side) returning
  every layer's h only: no gates, no cell state and no repair, so not exact;
- a one-thread roofline: the roofline above with one BLAS thread for every product.

Targets: trained demo >= 0.5 of the one-thread roofline and >= 1.5x Keras over 64
streams; initialised 1x512 LSTM and 2x256 GRU >= 0.7 of the one-thread roofline.

    .venv/bin/python benchmarks/record_benchmark.py [--tokens N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.common import Figure, Spent, best_of, print_figures

CONFIGS = (("lstm", 1, 512), ("lstm", 2, 256), ("gru", 1, 512), ("gru", 2, 256))
VOCAB = string.printable  # 100 characters
TARGET_SEEDS = 1000.0
TARGET_ROOFLINE = 0.5
TRAINED = "demo-stdlib-char-lstm"
SOURCE = "issue 9"
#: issue 19: trained demo >= 0.5 of a one-thread roofline and >= 1.5x Keras predict over 64
#: streams; Keras-initialised 1x512 LSTM and 2x256 GRU >= 0.7 of that roofline
TARGET_ROOFLINE_TRAINED = 0.5
TARGET_KERAS_64 = 1.5
TARGET_ROOFLINE_INIT = 0.7
VERSUS_CONFIGS = (("lstm", 1, 512), ("gru", 2, 256))


def gap_seeds(r: dict) -> str:
    seeds = r["seeds_way"]["tokens_per_s"]
    text = (
        f"A predict call took {1000 / seeds:.0f} ms here, so 1,000x needs "
        f"{1000 * seeds:,.0f} tokens/s and the recorder reached {r['tokens_per_s']:,.0f}; "
    )
    if r["roofline_tokens_per_s"] < 1000 * seeds:
        return text + (
            f"even the matrix products alone (the roofline, "
            f"{r['roofline_tokens_per_s']:,.0f} tokens/s) fall short of that."
        )
    return text + (
        f"its roofline would allow {r['roofline_tokens_per_s']:,.0f} tokens/s and "
        f"it reached {r['ratio_roofline']:.0%} of that (next row)."
    )


def gap_roofline(r: dict) -> str:
    text = f"{1 - r['ratio_roofline']:.0%} of the recording is spent outside the products"
    where = r.get("where")
    if not where:
        return text + "."
    in_loop = max(0.0, where["step_loop"] - where["products_alone"])
    outside = where["total"] - where["step_loop"]
    return (
        text + f". Of its {where['total']:.1f} s, the step loops took {where['step_loop']:.1f} s "
        f"(the products alone {where['products_alone']:.1f} s; {in_loop:.1f} s the fused gate "
        "pass, writing each step into its output (first touch of fresh memory included), "
        f"reruns of segments) and {outside:.1f} s outside them (segment "
        "checks and cell-state corrections, copying into the Trace, the input projection "
        "of layers above the first, output top-k)."
    )


def text_of(n_chars: int) -> str:
    from lib.data.corpora import builtin_corpus

    return builtin_corpus("python-stdlib").text[:n_chars]


def lm_bundle(cell: str, layers: int, units: int, *, embedding: int = 64):
    """A Keras-initialised char language model (seeded) over :data:`VOCAB`."""
    import keras

    from lib.data.tokenizer import Vocab
    from lib.model.build import build
    from lib.model.bundle import ModelBundle
    from lib.model.spec import ModelSpec
    from lib.run.weights import numpy_weights

    spec = ModelSpec(cell=cell, level="char", layers=layers, units=units, embedding=embedding)
    vocab = Vocab.build(list(VOCAB))
    keras.utils.set_random_seed(0)
    bundle = ModelBundle(
        model=build(spec, len(vocab)), vocab=vocab, tokenizer=spec.tokenizer, spec=spec
    )
    _ = numpy_weights(bundle)
    return bundle


def roofline(
    weights,
    stats: dict,
    n_tokens: int,
    *,
    repeats: int = 3,
    sample_steps: int = 500,
    threads: tuple[int | None, ...] = (1, None),
) -> dict:
    """Seconds of the unavoidable products at the recorder's shape (see the module doc).

    The recurrent products are timed on ``sample_steps`` steps (best of ``repeats``, with
    one BLAS thread and with all) and scaled to the recorder's number of steps.
    """
    streams = stats["streams"]
    n_steps = stats["warmup"] + -(-n_tokens // streams)
    rng = np.random.default_rng(0)
    sampled = min(n_steps, sample_steps)  # every step costs the same: time some, scale up
    out = {"steps": n_steps, "streams": streams, "recurrent": 0.0, "input": 0.0, "threads": []}
    for w in weights.layers:
        h = rng.standard_normal((streams, w.units), dtype=np.float32)
        z = np.empty((streams, w.recurrent.shape[1]), np.float32)

        def steps(h=h, z=z, w=w):
            for _ in range(sampled):
                np.matmul(h, w.recurrent, out=z)

        by_threads = {}
        for n in threads:
            with threadpool_limits(n, user_api="blas"):
                by_threads[n or "all"] = best_of(steps, repeats)[0] * n_steps / sampled
        best = min(by_threads, key=by_threads.get)
        out["recurrent"] += by_threads[best]
        out["threads"].append(best)
        # the input's width: the embedding for layer 0, the layer below's units otherwise
        x = rng.standard_normal((n_steps * streams, w.kernel.shape[0]), dtype=np.float32)
        out["input"] += best_of(lambda x=x, w=w: x @ w.kernel, repeats)[0]
    h_last = rng.standard_normal((n_tokens, weights.layers[-1].units), dtype=np.float32)
    out["output"] = best_of(lambda: h_last @ weights.dense_w, repeats)[0]
    out["seconds"] = out["recurrent"] + out["input"] + out["output"]
    return out


def step_model(bundle):
    """The seeds' way: the same weights in a stateful batch-1 model fed one token a call."""
    import keras
    from keras import layers

    spec = bundle.spec
    rnn = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[spec.cell]
    ids = keras.Input(batch_shape=(1, 1), dtype="int32")
    x = layers.Embedding(len(bundle.vocab), spec.embedding, name="embedding")(ids)
    outputs = []
    for k in range(spec.layers):
        x = rnn(spec.units, return_sequences=True, stateful=True, name=f"recurrent_{k}")(x)
        outputs.append(x)
    outputs.append(layers.Dense(len(bundle.vocab), name="logits")(x))
    model = keras.Model(ids, outputs)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(bundle.model.get_layer(layer.name).get_weights())
    return model


def seeds_way(bundle, ids: np.ndarray, n_tokens: int, *, warmup: int = 3) -> dict:
    """Tokens/s of one ``predict`` call per token, timed on ``n_tokens`` tokens."""
    model = step_model(bundle)
    for t in range(warmup):  # the first call builds the predict function
        model.predict(ids[t].reshape(1, 1), verbose=0)
    start = time.perf_counter()
    for t in range(warmup, warmup + n_tokens):
        model.predict(ids[t].reshape(1, 1), verbose=0)
    seconds = time.perf_counter() - start
    return {"tokens": n_tokens, "seconds": seconds, "tokens_per_s": n_tokens / seconds}


def measure(
    cell: str,
    layers: int,
    units: int,
    text: str,
    *,
    repeats: int = 2,
    seed_tokens: int = 200,
    exact_tokens: int = 0,
    keep_trace: bool = False,
) -> dict:
    """Every figure of one configuration (see the module docstring)."""
    from lib.run.record import forward, record
    from lib.run.weights import numpy_weights

    bundle = lm_bundle(cell, layers, units)
    ids = bundle.vocab.encode(list(text))
    T = len(ids)
    # The first recording of a shape in a process used to be ~2.4x slower than later ones
    # (issue 19: 22,140 against 53,300 tokens/s for this 1x512 LSTM in one run). Not only a
    # measurement artifact: its output (1.2 GB) was mapped page by page as first written,
    # 3-8 s a GB on this sandboxed VM, and freed memory goes back to the host within
    # seconds, so users paid it at every recording; lib.run.cells.prefaulted_empty now maps
    # it in one call (~1 s a GB). What was an artifact: loading the numba kernels (~0.5 s,
    # once per process; a server warms them at start) fell inside the first timing, as did
    # the trace's first allocation. Warm both up, then keep the fastest run, with one
    # Trace in memory at a time.
    record(bundle, text[:2000])
    seconds, trace, parts = timed_record(bundle, text)
    for _ in range(repeats - 1):
        del trace
        again, trace, again_parts = timed_record(bundle, text)
        if again < seconds:
            seconds, parts = again, again_parts
    stats = trace.meta["record"]
    roof = roofline(numpy_weights(bundle), stats, T)
    result = {
        "model": f"{cell.upper()} {layers}x{units}",
        "tokens": T,
        "record_seconds": seconds,
        "tokens_per_s": T / seconds,
        "record_stats": stats,
        "roofline": roof,
        "roofline_tokens_per_s": T / roof["seconds"],
        "roofline_recurrent_only_tokens_per_s": T / roof["recurrent"],
    }
    if parts:
        result["where"] = {
            "total": seconds,
            "step_loop": parts["run"],
            "products_alone": roof["recurrent"],
        }
    result["ratio_roofline"] = result["tokens_per_s"] / result["roofline_tokens_per_s"]
    result["ratio_roofline_recurrent_only"] = (
        result["tokens_per_s"] / result["roofline_recurrent_only_tokens_per_s"]
    )
    if exact_tokens:
        n = min(exact_tokens, T)
        dt, _ = best_of(lambda: forward(numpy_weights(bundle), ids[:n], streams=1), 1)
        fast = record(bundle, text[:n])
        exact = record(bundle, text[:n], streams=1)
        result["exact_path_tokens_per_s"] = n / dt
        result["max_abs_fast_minus_exact"] = float(
            max(np.abs(fast.signals[key] - exact.signals[key]).max() for key in exact.signals)
        )
    if keep_trace:
        result["trace"] = trace
    del trace
    seeds = seeds_way(bundle, ids, min(seed_tokens, T - 3))
    result["seeds_way"] = seeds
    result["ratio_seeds"] = result["tokens_per_s"] / seeds["tokens_per_s"]
    return result


def timed_record(bundle, text: str):
    """(seconds, Trace, seconds spent in the step loops) of one recording; the split is
    empty if lib.run.record no longer calls lib.run.cells.run."""
    import lib.run.record

    if not hasattr(lib.run.record, "run"):
        start = time.perf_counter()
        trace = lib.run.record.record(bundle, text)
        return time.perf_counter() - start, trace, {}
    with Spent((lib.run.record, "run")) as spent:
        start = time.perf_counter()
        trace = lib.run.record.record(bundle, text)
        seconds = time.perf_counter() - start
    return seconds, trace, spent.seconds


def keras_streams(bundle, ids: np.ndarray, streams: int = 64, repeats: int = 2) -> dict:
    """Tokens/s of Keras' own ``predict`` over ``streams`` consecutive segments side by side,
    returning every layer's h only (no gates, no cell state, no repair of the segment
    starts: not exact), after one call of the same shape that builds (traces) the predict
    function. (A first call on a shorter slice left the tracing for the full shape inside
    the timed call: 0.59-1.08 s against 0.50-0.68 s for calls after it, issue 19.)"""
    import keras

    model = bundle.model
    outputs = [model.get_layer(f"recurrent_{k}").output for k in range(bundle.spec.layers)]
    hs = keras.Model(model.input, outputs)
    seg = -(-len(ids) // streams)
    x = np.resize(np.asarray(ids, np.int32), streams * seg).reshape(streams, seg)
    hs.predict(x, batch_size=streams, verbose=0)
    seconds, _ = best_of(lambda: hs.predict(x, batch_size=streams, verbose=0), repeats)
    return {"streams": streams, "seconds": seconds, "tokens_per_s": len(ids) / seconds}


def one_thread_roofline(weights, stats: dict, n_tokens: int, repeats: int = 3) -> dict:
    """:func:`roofline` with one BLAS thread for every product (issue 19's roofline)."""
    with threadpool_limits(1, user_api="blas"):
        return roofline(weights, stats, n_tokens, repeats=repeats, threads=(1,))


def rerun_rate(stats: dict) -> float:
    """Steps run again / segment steps (0 on the exact path)."""
    return stats.get("rerun_steps", 0) / max(1, stats.get("segment_steps", 0))


def versus(bundle, text: str, *, repeats: int = 3, exact_tokens: int = 0) -> dict:
    """Issue 19's figures of one model: record against Keras predict over 64 streams (h only)
    and a one-thread roofline, measured side by side (record, Keras, record, Keras, ...);
    with ``exact_tokens``, the largest difference from the one-stream path."""
    from lib.run.record import record
    from lib.run.weights import numpy_weights

    ids = bundle.vocab.encode(list(text))
    T = len(ids)
    record(bundle, text[:2000])  # compiles the kernels (cached on disk after the first time)
    rec, keras_s, parts, trace, times = float("inf"), float("inf"), {}, None, []
    for _ in range(repeats):
        del trace
        seconds, trace, split = timed_record(bundle, text)
        times.append(seconds)
        if seconds < rec:
            rec, parts = seconds, split
        keras_s = min(keras_s, keras_streams(bundle, ids, repeats=1)["seconds"])
    stats = trace.meta["record"]
    del trace
    roof = one_thread_roofline(numpy_weights(bundle), stats, T)
    out = {
        "model": bundle.name or bundle.spec.describe(),
        "tokens": T,
        "tokens_per_s": T / rec,
        "record_stats": stats,
        "rerun_rate": rerun_rate(stats),
        "keras_64_tokens_per_s": T / keras_s,
        "roofline_1t_tokens_per_s": T / roof["seconds"],
        "roofline": roof,
        # the first mapped its outputs fresh; the others reused the memory the one before
        # freed (lib.run.buffers), as a server's next recording does
        "record_seconds": times,
        "load_average": list(os.getloadavg()),
    }
    out["ratio_keras_64"] = out["tokens_per_s"] / out["keras_64_tokens_per_s"]
    out["ratio_roofline_1t"] = out["tokens_per_s"] / out["roofline_1t_tokens_per_s"]
    if parts:
        out["where"] = {
            "total": rec,
            "step_loop": parts["run"],
            "products_alone": roof["recurrent"],
        }
    if exact_tokens:
        n = min(exact_tokens, len(text))
        start = time.perf_counter()
        exact = record(bundle, text[:n], streams=1)
        out["exact_path_tokens_per_s"] = n / (time.perf_counter() - start)
        fast = record(bundle, text[:n])
        out["max_abs_fast_minus_exact"] = float(
            max(np.abs(fast.signals[k] - exact.signals[k]).max() for k in exact.signals)
        )
    return out


def versus_figures(r: dict, *, trained: bool) -> list[Figure]:
    """The issue-19 figures of one :func:`versus` result."""
    roof_target = TARGET_ROOFLINE_TRAINED if trained else TARGET_ROOFLINE_INIT
    where = r.get("where")
    gap = (
        f"{1 - r['ratio_roofline_1t']:.0%} of the recording is outside the one-thread products"
        + (
            f": of {where['total']:.1f} s, the step loops {where['step_loop']:.1f} s (products "
            f"alone {where['products_alone']:.1f} s; the rest is the fused gate pass, fresh "
            f"output memory and reruns: {r['rerun_rate']:.1%} of the segment steps run "
            f"again) and {where['total'] - where['step_loop']:.1f} s outside them (segment "
            "checks and cell-state corrections, copies into the Trace, output top-k)."
            if where
            else "."
        )
    )
    keras_gap = gap
    if where:
        keras_s = r["tokens"] / r["keras_64_tokens_per_s"]
        keras_gap = (
            f"Keras runs the same recurrent products over 64 streams and returns h only; the "
            f"recording also writes the gates and the cell state (six signals) and repairs "
            f"the segment starts. 1.5x needs {keras_s / TARGET_KERAS_64:.2f} s; of its "
            f"{where['total']:.2f} s, the step loops took {where['step_loop']:.2f} s (the "
            f"one-thread products alone {where['products_alone']:.2f} s, two workers share "
            f"them; {r['rerun_rate']:.1%} of the segment steps ran again) and "
            f"{where['total'] - where['step_loop']:.2f} s went to segment checks, cell-state "
            "corrections and the next-token top-k."
        )
    stats = r["record_stats"]
    steps = stats.get("steps") or 1  # steps of every lib.run.cells.run call, reruns included
    note = (
        f"{r['tokens']:,} tokens, {stats['streams']} streams, recordings of "
        + ", ".join(f"{x:.2f}" for x in r.get("record_seconds", []))
        + " s (the first on fresh memory, lib.run.buffers), rerun rate "
        f"{r['rerun_rate']:.1%}, {min(1.0, stats.get('parallel_steps', 0) / max(1, steps)):.0%} "
        "of the steps run by more than one worker (lib.run.cells.run's CPU-share check); "
        f"load average {r['load_average'][0]:.1f}"
    )
    out = [
        Figure(
            "Recording",
            f"{r['model']}: record / one-thread matmul roofline",
            r["ratio_roofline_1t"],
            "x",
            roof_target,
            source="issue 19",
            gap=gap,
            extra=f"{r['tokens_per_s']:,.0f} vs {r['roofline_1t_tokens_per_s']:,.0f} tokens/s",
            note=note,
        )
    ]
    if trained:
        out.append(
            Figure(
                "Recording",
                f"{r['model']}: record (all signals) / Keras predict, 64 streams (h only)",
                r["ratio_keras_64"],
                "x",
                TARGET_KERAS_64,
                source="issue 19",
                gap=keras_gap,
                extra=f"{r['tokens_per_s']:,.0f} vs {r['keras_64_tokens_per_s']:,.0f} tokens/s",
                note=note,
            )
        )
    return out


def trained(text: str, *, exact_tokens: int = 20_000, name: str = TRAINED) -> dict:
    """The shipped trained LSTM, whose long memories make the fast path rerun segments."""
    from lib.model.registry import RegistryError, load

    try:
        bundle = load(name)
    except RegistryError as e:
        return {"skipped": str(e)}
    r = versus(bundle, text, exact_tokens=exact_tokens)
    r["model"] = f"{name} ({bundle.spec.describe()})"
    return r


def figures(results: list[dict]) -> list[Figure]:
    out = []
    for r in results:
        seeds = r["seeds_way"]
        out.append(
            Figure(
                "Recording",
                f"{r['model']}: record vs the seeds' way",
                r["ratio_seeds"],
                "x",
                TARGET_SEEDS,
                source=SOURCE,
                gap=gap_seeds(r),
                extra=f"{r['tokens_per_s']:,.0f} vs {seeds['tokens_per_s']:.1f} tokens/s",
                note=(
                    f"{r['tokens_per_s']:,.0f} vs {seeds['tokens_per_s']:.1f} tokens/s "
                    f"({1000 / seeds['tokens_per_s']:.0f} ms a predict call, "
                    f"{seeds['tokens']} tokens)"
                ),
            )
        )
        roof = r["roofline"]
        out.append(
            Figure(
                "Recording",
                f"{r['model']}: record / matmul roofline",
                r["ratio_roofline"],
                "x",
                TARGET_ROOFLINE,
                source=SOURCE,
                gap=gap_roofline(r),
                extra=f"{r['tokens_per_s']:,.0f} vs {r['roofline_tokens_per_s']:,.0f} tokens/s",
                note=(
                    f"{r['tokens_per_s']:,.0f} vs {r['roofline_tokens_per_s']:,.0f} tokens/s; "
                    f"{roof['streams']} streams x {roof['steps']} steps; recurrent products "
                    f"alone {r['ratio_roofline_recurrent_only']:.2f}"
                ),
            )
        )
    return out


def run(
    *,
    quick: bool = False,
    tokens: int | None = None,
    keep_trace: bool = True,
    exact_tokens: int = 0,
    with_trained: bool = True,
    log=print,
) -> tuple[list[Figure], dict]:
    """All configurations; details include the 1x512 LSTM's Trace when ``keep_trace``.

    ``exact_tokens`` > 0 also times the exact path on that many tokens and compares it
    with the fast path (tests/test_record.py checks the equality); ``with_trained`` adds
    the shipped trained LSTM. Issue 19's figures (:func:`versus`) cover the trained LSTM,
    the 1x512 LSTM and the 2x256 GRU.
    """
    tokens = tokens or (20_000 if quick else 100_000)
    text = text_of(tokens)
    results = []
    for cell, layers, units in CONFIGS:
        start = time.perf_counter()
        r = measure(
            cell,
            layers,
            units,
            text,
            repeats=1 if quick else 2,
            seed_tokens=30 if quick else 60,
            exact_tokens=exact_tokens,
            keep_trace=keep_trace and (cell, layers, units) == CONFIGS[0],
        )
        results.append(r)
        log(
            f"  {r['model']}: {r['tokens_per_s']:,.0f} tokens/s, {r['ratio_seeds']:,.0f}x seeds' "
            f"way, {r['ratio_roofline']:.2f} of roofline ({time.perf_counter() - start:.0f} s)"
        )
    details = {"text": f"{len(text):,} chars of the Python stdlib source", "models": results}
    figs = figures(results)
    details["versus"] = []
    for cell, layers, units in VERSUS_CONFIGS:
        r = versus(lm_bundle(cell, layers, units), text, repeats=1 if quick else 2)
        r["model"] = f"{cell.upper()} {layers}x{units}"
        details["versus"].append(r)
        figs += versus_figures(r, trained=False)
        log(f"  {r['model']}: {r['ratio_roofline_1t']:.2f} of the one-thread roofline")
    if with_trained:
        details["trained"] = trained(text, exact_tokens=exact_tokens)
        if "skipped" not in details["trained"]:
            figs += versus_figures(details["trained"], trained=True)
    return figs, details


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--exact-tokens", type=int, default=10_000)
    p.add_argument("--no-trained", action="store_true")
    args = p.parse_args()
    figs, details = run(
        quick=args.quick,
        tokens=args.tokens,
        keep_trace=False,
        exact_tokens=args.exact_tokens,
        with_trained=not args.no_trained,
    )
    for r in details["models"]:
        if "exact_path_tokens_per_s" in r:
            print(
                f"  {r['model']}: exact path {r['exact_path_tokens_per_s']:,.0f} tokens/s, "
                f"max |fast - exact| {r['max_abs_fast_minus_exact']:.1e}"
            )
    print_figures(figs)
    for r in [*details["versus"], details.get("trained") or {}]:
        if "record_stats" in r:
            print(f"  {r['model']}: rerun rate {r['rerun_rate']:.1%}, {r['record_stats']}")


if __name__ == "__main__":
    main()
