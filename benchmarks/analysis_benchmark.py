"""Time the per-layer analyses on a layer the size the issue targets.

Random AR(1) activations of 100,000 steps x 512 units (float32) and a feature mask of ~10 %
density; each analysis is run with the settings a page uses (relevance normalized, AUROC,
circular-shift p-values with the default min_shift and all null shifts, the plain spectrum
plus its 0 < f <= 0.5 band peak). Prints the best of 3 runs of each, the total, and whether
the total meets the 5 s target.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/analysis_benchmark.py [--steps N] [--units N]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.signal

from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.relevance import relevance
from lib.analysis.significance import auroc, circular_shift_pvalues, point_biserial

TARGET_SECONDS = 5.0


def make_layer(n_steps: int, n_units: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) activations (phi from 0.5 to 0.99 across units) and a ~10 % feature mask."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_steps, n_units), dtype=np.float32)
    phi = np.linspace(0.5, 0.99, n_units)
    acts = np.empty_like(noise)
    for j in range(n_units):  # building the data, not timed
        acts[:, j] = scipy.signal.lfilter([1.0], [1.0, -phi[j]], noise[:, j])
    mask = rng.random(n_steps) < 0.1
    return acts, mask


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    acts, mask = make_layer(args.steps, args.units)

    def fourier() -> None:
        freqs, amps = spectrum(acts)
        band_peaks(freqs, amps, f_min=freqs[1], f_max=0.5)

    cases = {
        "relevance": lambda: relevance(acts, mask),
        "auroc": lambda: auroc(acts, mask),
        "circular_shift_pvalues": lambda: circular_shift_pvalues(acts, mask),
        "spectrum + band_peaks": fourier,
    }
    print(
        f"acts {acts.shape} {acts.dtype}, mask density {mask.mean():.3f}, "
        f"best of {args.repeats}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (busy CPUs slow these figures)"
    )
    total = 0.0
    for name, fn in cases.items():
        seconds = best_of(fn, args.repeats)
        total += seconds
        print(f"  {name:<24} {seconds:6.3f} s")
    verdict = "under" if total < TARGET_SECONDS else "OVER"
    print(f"  {'total':<24} {total:6.3f} s  ({verdict} the {TARGET_SECONDS:.0f} s target)")
    extra = best_of(lambda: point_biserial(acts, mask), args.repeats)
    print(f"  {'point_biserial':<24} {extra:6.3f} s  (ranking table; not in the target)")


if __name__ == "__main__":
    main()
