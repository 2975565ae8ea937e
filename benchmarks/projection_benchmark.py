"""Time the Word Clusters map and the Distributions page on layers the size the issue targets.

Projection: 5,000 token states of 512 dimensions (float32). With the shipped
``demo-stdlib-char-lstm`` model they are real: 5,000 characters of the Python stdlib corpus
recorded through it, its hidden and cell state side by side (256 + 256 units); without it
(or with ``--synthetic``), 20 Gaussian blobs in a random 20-D subspace of R^512 plus noise.
Each method (PCA, t-SNE, UMAP, with :func:`lib.analysis.projection.project`'s defaults) runs
in a fresh Python process, so the first call is cold (imports, and UMAP's numba compilation)
and the second warm; clustering (ward and single on the 2-D map, ward on the states) follows.
Target: a projection under 30 s cold.

Distributions: 100,000 x 512 float32 activations (tanh of AR(1) noise), best of 3 for
histograms, the KL scores, dead neurons, the clip range and mean |activation|.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/projection_benchmark.py [--synthetic]
[--quality]``. ``--quality`` also runs t-SNE with 1,000 iterations and UMAP with 500 epochs
and compares their maps with the defaults' (trustworthiness, clusters' adjusted Rand index).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGET_SECONDS = 30.0
MODEL = "demo-stdlib-char-lstm"


def synthetic_states(n: int, dims: int = 512, *, seed: int = 0) -> np.ndarray:
    """20 Gaussian blobs in a random 20-D subspace of R^dims, plus isotropic noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (20, 20))
    basis = np.linalg.qr(rng.normal(size=(dims, 20)))[0].T
    labels = rng.integers(0, 20, n)
    X = (centres[labels] + rng.normal(0.0, 1.0, (n, 20))) @ basis
    return (X + rng.normal(0.0, 0.3, (n, dims))).astype(np.float32)


def recorded_states(n: int) -> tuple[np.ndarray, str] | None:
    """``h`` and ``c`` of the stdlib char LSTM on its corpus, (n, 512), or None."""
    from lib.corpora import builtin_corpus
    from lib.record import record
    from lib.registry import RegistryError, load

    try:
        bundle = load(MODEL)
    except RegistryError as e:
        print(f"({MODEL} not usable, synthetic states instead: {e})")
        return None
    text = builtin_corpus("python-stdlib").text[: n + 1000][-n:]  # skip the file header
    trace = record(bundle, text)
    states = [trace.signals[(0, name)] for name in ("h", "c")]
    X = np.concatenate(states, axis=1)[:n]
    label = f"{MODEL}: h and c of layer 0 on {n:,} chars of the stdlib corpus"
    return np.ascontiguousarray(X, dtype=np.float32), label


def child(method: str, path: str, options: str) -> None:
    """Run in a fresh process: time the import, the first (cold) and second (warm) call."""
    start = time.perf_counter()
    from lib.analysis.projection import project

    X = np.load(path)
    kwargs = json.loads(options)
    imports = 0.0
    if method == "umap":  # what `import umap` costs (it loads tensorflow when installed)
        t = time.perf_counter()
        import umap  # noqa: F401

        imports = time.perf_counter() - t
    t = time.perf_counter()
    Y = project(X, method=method, **kwargs)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    Y2 = project(X, method=method, **kwargs)
    warm = time.perf_counter() - t
    np.save(path + f".{method}.npy", Y)
    result = {
        "import": imports,
        "cold": cold,
        "warm": warm,
        "process": time.perf_counter() - start,
        "same": bool(np.array_equal(Y, Y2)),
    }
    print(json.dumps(result))


def run_child(method: str, path: str, options: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", method, path, json.dumps(options or {})]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def verdict(seconds: float) -> str:
    return "under" if seconds < TARGET_SECONDS else "OVER"


def time_it(fn, repeats: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def projection_section(X: np.ndarray, label: str, quality: bool) -> None:
    from lib.analysis.projection import cluster, default_tsne_iterations

    print(f"\nProjection of {X.shape[0]:,} x {X.shape[1]} float32 states ({label})")
    print(f"  target: under {TARGET_SECONDS:.0f} s cold; each method in a fresh process")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npy")
        np.save(path, X)
        maps = {}
        for method in ("pca", "tsne", "umap"):
            r = run_child(method, path)
            maps[method] = np.load(path + f".{method}.npy")
            extra = (
                f", import umap {r['import']:.1f} s (tensorflow)"
                if method == "umap"
                else f", {default_tsne_iterations(X.shape[0])} iterations"
                if method == "tsne"
                else ""
            )
            print(
                f"  {method:<5} cold {r['cold']:6.1f} s ({verdict(r['cold'])})  "
                f"warm {r['warm']:6.1f} s  whole process {r['process']:6.1f} s{extra}; "
                f"same map twice: {r['same']}"
            )
        if quality:
            quality_section(X, maps, path)

    Y = maps["tsne"]
    for name, data, linkage in (
        ("ward on the 2-D t-SNE map", Y, "ward"),
        ("single on the 2-D t-SNE map", Y, "single"),
        ("ward on the 512-D states", X, "ward"),
    ):
        seconds, labels = time_it(lambda d=data, k=linkage: cluster(d, n_clusters=20, linkage=k))
        sizes = np.bincount(labels)
        print(f"  cluster {name:<28} {seconds:6.2f} s  (sizes {sizes[:5].tolist()}... {sizes[-1]})")


def quality_section(X: np.ndarray, maps: dict, path: str) -> None:
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    from lib.analysis.projection import cluster

    Z = PCA(50, random_state=0).fit_transform(X)
    long_path = path[: -len(".npy")] + "_long.npy"  # its own file: keep the default maps
    np.save(long_path, X)
    for method, options in (("tsne", {"max_iter": 1000}), ("umap", {"n_epochs": 500})):
        r = run_child(method, long_path, options)
        Y_long = np.load(long_path + f".{method}.npy")
        Y = maps[method]
        ari = adjusted_rand_score(cluster(Y, n_clusters=20), cluster(Y_long, n_clusters=20))
        print(
            f"  quality {method}: trustworthiness(10) default "
            f"{trustworthiness(Z, Y, n_neighbors=10):.3f}, with {options} "
            f"{trustworthiness(Z, Y_long, n_neighbors=10):.3f} (that run: {r['warm']:.1f} s "
            f"warm); ARI between their 20 ward clusters {ari:.2f}"
        )


def distributions_section(n_steps: int, n_units: int) -> None:
    import scipy.signal

    from lib.analysis import distributions as D

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((n_steps, n_units), dtype=np.float32)
    acts = np.tanh(scipy.signal.lfilter([1.0], [1.0, -0.9], noise, axis=0)).astype(np.float32)
    cell = (acts * 3.0).astype(np.float32)
    print(f"\nDistributions of {n_steps:,} x {n_units} float32 activations, best of 3")
    total = 0.0
    edges_P = {}

    def hist_h():
        edges_P["h"] = D.histograms(acts, bin_width=0.01, value_range=(-1, 1))

    cases = [
        ("histograms h, (-1, 1), 200 bins", hist_h),
        ("kl_scores (512 x 200)", lambda: D.kl_scores(edges_P["h"][1])),
        ("dead_neurons", lambda: D.dead_neurons(acts)),
        ("mean_abs_per_unit", lambda: D.mean_abs_per_unit(acts)),
    ]
    for name, fn in cases:
        seconds, _ = time_it(fn, 3)
        total += seconds
        print(f"  {name:<40} {seconds:6.2f} s")
    print(f"  {'total (histograms + KL + dead + mean)':<40} {total:6.2f} s")
    seconds, value_range = time_it(lambda: D.clip_range(cell, bin_width=0.01), 3)
    print(f"  {'clip_range c (99th percentile of |c|)':<40} {seconds:6.2f} s  -> {value_range}")
    seconds, _ = time_it(lambda: D.histograms(cell, value_range=value_range), 3)
    print(f"  {'histograms c over that range':<40} {seconds:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5_000)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--synthetic", action="store_true", help="blobs, not recorded states")
    parser.add_argument("--quality", action="store_true", help="compare with longer runs")
    parser.add_argument("--skip-projection", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(other processes on busy CPUs slow these figures)"
    )
    if not args.skip_projection:
        found = None if args.synthetic else recorded_states(args.points)
        if found is None:
            X, label = synthetic_states(args.points), "synthetic: 20 blobs in 20-D, plus noise"
        else:
            X, label = found
        projection_section(X, label, args.quality)
    distributions_section(args.steps, args.units)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
