"""Time the Relevance and Fourier analyses on a layer the size issue 4 targets.

Relevance (normalized), AUROC, circular-shift p-values (the default min_shift, every null
shift) and the plain spectrum with its 0 < f <= 0.5 band peaks, the settings a page uses,
each the best of ``repeats`` runs, on 100,000 steps x 512 units (float32) and a binary
feature. Target: the four together under 5 s.

A second feature on the same trace (issue 19) reuses what does not depend on the feature:
each unit's ranks (:func:`lib.analysis.effects.rank_acts`, computed once per trace, as
``dashboard.cache.unit_ranks`` keeps them), the forward FFTs of the circular-shift test
(:func:`lib.analysis.significance.shift_spectra`, kept by ``dashboard.cache.unit_spectra``)
and the spectra (cached per trace, layer and signal). Its relevance + AUROC + p is timed
against the same four analyses from scratch, interleaved (A, B, A, B), target under
0.5 s; the Relevance page's :func:`lib.analysis.ranking.effect_ranking` of the second
feature likewise, with and without what is shared. The second feature is the step after
the first (``np.roll(mask, 1)``) unless one is given.

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

from benchmarks.common import Figure, best_of, load_average, print_figures
from lib.analysis.effects import RankedActs, rank_acts, ranked_auroc
from lib.analysis.features import Feature
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.ranking import effect_ranking
from lib.analysis.relevance import relevance
from lib.analysis.significance import (
    auroc,
    circular_shift_pvalues,
    point_biserial,
    shift_spectra,
)

TARGET_SECONDS = 5.0
#: a second feature on the same trace (issue 19)
SECOND_TARGET_SECONDS = 0.5
SECOND_GAP = (
    "With the ranks and spectra shared, what is left per feature is the circular-shift "
    "null: the inverse FFT of every unit over every step (the forward ones are kept per "
    "trace), on 2 cores shared with other processes."
)
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


def _fourier(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    freqs, amps = spectrum(acts)
    band_peaks(freqs, amps, f_min=freqs[1], f_max=0.5)
    return freqs, amps


def time_second_feature(
    acts: np.ndarray, mask: np.ndarray, second: np.ndarray, *, repeats: int = 3
) -> dict:
    """A second feature on the same trace: shared ranks and spectra vs from scratch.

    The first feature ranks the units once and computes the spectra (timed once, as
    ``first``); then the second feature's analyses with what it shares (``cached``, and
    its parts) and without (``uncached``) are timed interleaved, best of `repeats` each;
    likewise the Relevance page's effect ranking (best of 2).
    """
    first: dict[str, float] = {}
    first["rank_acts"], ranked = best_of(lambda: rank_acts(acts), 1)
    first["spectrum + band_peaks"], spectra = best_of(lambda: _fourier(acts), 1)
    first["shift_spectra"], shifts = best_of(lambda: shift_spectra(acts), 1)
    assert isinstance(ranked, RankedActs)

    parts = {
        "relevance": lambda: relevance(acts, second),
        "AUROC from the ranks": lambda: ranked_auroc(ranked, second),
        "circular_shift_pvalues (shared FFTs)": lambda: circular_shift_pvalues(
            acts, second, spectra=shifts
        ),
        "spectra (reused)": lambda: spectra,
    }

    def uncached() -> None:
        relevance(acts, second)
        auroc(acts, second)
        circular_shift_pvalues(acts, second)
        _fourier(acts)

    cached_parts = {name: float("inf") for name in parts}
    cached, scratch = float("inf"), float("inf")
    for _ in range(max(1, repeats)):  # interleaved: A, B, A, B
        total = 0.0
        for name, fn in parts.items():
            t = best_of(fn, 1)[0]
            cached_parts[name] = min(cached_parts[name], t)
            total += t
        cached = min(cached, total)
        scratch = min(scratch, best_of(uncached, 1)[0])

    feature = Feature("second", second)
    page_cached, page_scratch = float("inf"), float("inf")
    for _ in range(2):
        with_ranks = best_of(
            lambda: effect_ranking(acts, feature, ranked=ranked, spectra=shifts), 1
        )[0]
        page_cached = min(page_cached, with_ranks)
        page_scratch = min(page_scratch, best_of(lambda: effect_ranking(acts, feature), 1)[0])
    return {
        "first": first,
        "cached": cached,
        "cached_parts": cached_parts,
        "uncached": scratch,
        "effect_ranking_cached": page_cached,
        "effect_ranking_uncached": page_scratch,
        "load_average": load_average(),
    }


def second_figures(second: dict, shape: tuple, what: str) -> list[Figure]:
    parts = ", ".join(f"{name} {s:.2f} s" for name, s in second["cached_parts"].items())
    cached, scratch = second["cached"], second["uncached"]
    page_cached, page_scratch = second["effect_ranking_cached"], second["effect_ranking_uncached"]
    return [
        Figure(
            "Analyses",
            f"second feature on the same trace (relevance + AUROC + p + spectra), "
            f"{shape[0]:,} x {shape[1]}",
            cached,
            "s",
            SECOND_TARGET_SECONDS,
            higher_is_better=False,
            source="issue 19",
            gap=SECOND_GAP,
            note=f"{what}; ranks and spectra shared with the first feature; {parts}; "
            f"load {second['load_average']}",
            extra=f"from scratch {scratch:.2f} s, {scratch / cached:.1f}x",
        ),
        Figure(
            "Analyses",
            f"second feature, Relevance page's effect ranking (intervals, R_z), "
            f"{shape[0]:,} x {shape[1]}",
            page_cached,
            "s",
            source="issue 19",
            note=f"{what}; with the ranks shared with the first feature",
            extra=f"without {page_scratch:.2f} s, {page_scratch / page_cached:.1f}x",
        ),
    ]


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
    second: np.ndarray | None = None,
) -> tuple[list[Figure], dict]:
    if acts is None or mask is None:
        acts, mask = make_layer(100_000, 512)
        what = "AR(1) activations, ~10 % mask"
    seconds = time_analyses(acts, mask, repeats=repeats)
    second_mask = np.roll(mask, 1) if second is None else np.asarray(second, dtype=bool)
    later = time_second_feature(acts, mask, second_mask, repeats=max(3, repeats))
    details = {
        "acts": list(acts.shape),
        "mask_density": float(np.mean(mask)),
        "seconds": seconds,
        "data": what,
        "repeats": repeats,
    }
    details["point_biserial_seconds"] = best_of(lambda: point_biserial(acts, mask), repeats)[0]
    details["second_feature"] = later
    figs = figures(seconds, acts.shape, what) + second_figures(later, acts.shape, what)
    return figs, details


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
