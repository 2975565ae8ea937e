"""Time the Relevance and Fourier analyses on a layer the size issue 4 targets.

Relevance (normalized), AUROC, circular-shift p-values (the default min_shift, every null
shift) and the plain spectrum with its 0 < f <= 0.5 band peaks, the settings a page uses,
each the best of ``repeats`` runs, on 100,000 steps x 512 units (float32) and a binary
feature. Target: the four together under 5 s.

The activations are those of a recorded Trace when the runner (``benchmarks/run.py``)
passes one: ``h`` of a 512-unit LSTM over 100,000 characters, with "space" as the feature.
Alone, this script uses AR(1) activations (phi from 0.5 to 0.99 across units) and a mask
of ~10 % density.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/analysis_benchmark.py [--steps N] [--units N]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.signal

from benchmarks.common import Figure, best_of, print_figures
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.relevance import relevance
from lib.analysis.significance import auroc, circular_shift_pvalues, point_biserial

TARGET_SECONDS = 5.0
GAP = (
    "The circular-shift null computes every shift of the mask against every unit by FFT, "
    "the largest part of the total, and shares the 2 cores with other processes."
)


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


def time_analyses(acts: np.ndarray, mask: np.ndarray, *, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each analysis the Relevance and Fourier pages run."""

    def fourier() -> None:
        freqs, amps = spectrum(acts)
        band_peaks(freqs, amps, f_min=freqs[1], f_max=0.5)

    cases = {
        "relevance": lambda: relevance(acts, mask),
        "auroc": lambda: auroc(acts, mask),
        "circular_shift_pvalues": lambda: circular_shift_pvalues(acts, mask),
        "spectrum + band_peaks": fourier,
    }
    return {name: best_of(fn, repeats)[0] for name, fn in cases.items()}


def figures(seconds: dict[str, float], shape: tuple, what: str) -> list[Figure]:
    parts = ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items())
    return [
        Figure(
            "Analyses",
            f"relevance + AUROC + circular-shift p + spectra, {shape[0]:,} x {shape[1]}",
            sum(seconds.values()),
            "s",
            TARGET_SECONDS,
            higher_is_better=False,
            source="issue 4",
            gap=GAP,
            note=f"{what}; {parts}",
        )
    ]


def run(
    acts: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    *,
    what: str = "",
    repeats: int = 3,
) -> tuple[list[Figure], dict]:
    if acts is None:
        acts, mask = make_layer(100_000, 512)
        what = "AR(1) activations, ~10 % mask"
    seconds = time_analyses(acts, mask, repeats=repeats)
    details = {
        "acts": list(acts.shape),
        "mask_density": float(np.mean(mask)),
        "seconds": seconds,
        "data": what,
        "repeats": repeats,
    }
    details["point_biserial_seconds"] = best_of(lambda: point_biserial(acts, mask), repeats)[0]
    return figures(seconds, acts.shape, what), details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    acts, mask = make_layer(args.steps, args.units)
    figs, details = run(acts, mask, what="AR(1) activations, ~10 % mask", repeats=args.repeats)
    print_figures(figs)
    print(f"  {details}")


if __name__ == "__main__":
    main()
