"""Cached analyses of a Trace and the long-form tables their charts need."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.fmt import display_token
from lib.analysis.features import Feature
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.ranking import rank_neurons
from lib.trace import Trace


def feature_digest(feature: Feature) -> str:
    return hashlib.sha1(np.ascontiguousarray(feature.values).tobytes()).hexdigest()[:16]


@st.cache_data(max_entries=32, show_spinner="Ranking every neuron (relevance, AUROC, "
               "circular-shift p-values)…")
def neuron_table(trace_key: str, layer: int, signal: str, digest: str, _acts: np.ndarray,
                 _feature: Feature) -> pd.DataFrame:
    return rank_neurons(_acts, _feature)


@st.cache_data(max_entries=16, show_spinner="Computing every neuron's spectrum…")
def spectra(trace_key: str, layer: int, signal: str, remove_mean: bool, window: str | None,
            _acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return spectrum(_acts, remove_mean=remove_mean, window=window)


def peaks_table(freqs: np.ndarray, amps: np.ndarray, band: tuple[float, float]) -> pd.DataFrame:
    """Every neuron's in-band peak, strongest first, with its period in tokens."""
    peak, at = band_peaks(freqs, amps, f_min=band[0], f_max=band[1])
    with np.errstate(divide="ignore"):
        period = np.where(at > 0, 1.0 / at, np.inf)
    table = pd.DataFrame({"neuron": np.arange(amps.shape[1]), "peak": peak, "frequency": at,
                          "period (tokens)": period})
    return table.sort_values("peak", ascending=False, kind="stable").reset_index(drop=True)


def feature_steps_df(trace: Trace, acts: np.ndarray, mask: np.ndarray, neurons: list[int],
                     *, max_steps: int = 300) -> pd.DataFrame:
    """Long form of acts[feature steps, neurons] (the first ``max_steps`` feature steps)."""
    steps = np.flatnonzero(mask)[:max_steps]
    rows = []
    for n in neurons:
        for j, t in enumerate(steps):
            rows.append((f"{n}", j, int(t), display_token(trace.tokens[t]), float(acts[t, n])))
    return pd.DataFrame(rows, columns=["neuron", "step", "position", "token", "value"])


def overview_df(acts: np.ndarray, *, n_bins: int = 120) -> pd.DataFrame:
    """Mean activation of every neuron in ``n_bins`` equal slices of the text."""
    T, n_units = acts.shape
    edges = np.linspace(0, T, min(n_bins, T) + 1).astype(int)
    means = np.add.reduceat(acts, edges[:-1], axis=0) / np.diff(edges)[:, None]
    starts = np.repeat(edges[:-1], n_units)
    return pd.DataFrame({"neuron": np.tile(np.arange(n_units), len(edges) - 1),
                         "bin_start": starts, "value": means.ravel()})


def spectrum_df(freqs: np.ndarray, amps: np.ndarray, *, n_bins: int = 80,
                neurons: list[int] | None = None) -> pd.DataFrame:
    """Max amplitude per frequency bin for every neuron (or the full spectra of a few)."""
    if neurons is not None:
        return pd.DataFrame({
            "neuron": np.repeat([str(n) for n in neurons], len(freqs)),
            "freq": np.tile(freqs, len(neurons)),
            "amplitude": amps[:, neurons].T.ravel(),
        })
    edges = np.linspace(0, len(freqs), min(n_bins, len(freqs)) + 1).astype(int)
    peak = np.maximum.reduceat(amps, edges[:-1], axis=0)
    n_units = amps.shape[1]
    return pd.DataFrame({"neuron": np.tile(np.arange(n_units), len(edges) - 1),
                         "freq": np.repeat(freqs[edges[:-1]].round(4), n_units),
                         "amplitude": peak.ravel()})


def windows_to_neurons(windows: list[list[int]]) -> list[int]:
    """Neurons of the auto-detected windows, each once, in window order."""
    seen: list[int] = []
    for w in windows:
        seen.extend(n for n in w if n not in seen)
    return seen


@st.cache_data(max_entries=16, show_spinner="Computing each token type's expected response…")
def response_matrix(trace_key: str, layer: int, signal: str, top_n: int, _acts: np.ndarray,
                    _tokens: list[str]):
    from lib.analysis.response import expected_response

    return expected_response(_acts, _tokens, top_n=top_n)


@st.cache_data(max_entries=16, show_spinner="Co-clustering token types and units…")
def coclusters(trace_key: str, layer: int, signal: str, top_n: int, k: int, sign: str,
               _S: np.ndarray):
    from lib.analysis.coclustering import cocluster

    return cocluster(_S, n_clusters=k, sign=sign)


def most_frequent_tag(tokens: list[str], tags: list[str], types: list[str]) -> list[str]:
    """Each type's most frequent POS tag in the text (seed 004's grammar colouring)."""
    df = pd.DataFrame({"token": tokens, "tag": tags})
    top = df.groupby("token")["tag"].agg(lambda s: s.value_counts().index[0])
    return [top.get(t, "X") for t in types]


def pack_clouds(words: pd.DataFrame, *, per_row: int = 5) -> pd.DataFrame:
    """Slots for word clouds: each cluster's words, largest first, ``per_row`` to a line."""
    words = words.sort_values(["word_cluster", "size"], ascending=[True, False]).copy()
    rank = words.groupby("word_cluster").cumcount()
    words["x"] = (rank % per_row) * 1.2
    words["y"] = rank // per_row
    words["cluster"] = words["word_cluster"].astype(str)
    words["word"] = words["word"].map(display_token)
    return words


def percentile_rows(samples: dict[str, np.ndarray], *, min_count: int = 1) -> pd.DataFrame:
    """Box-plot rows (9/25/50/75/91 percentiles, mean, count) of each group's samples."""
    rows = []
    for name, v in samples.items():
        if len(v) >= min_count:
            p = np.percentile(v, [9, 25, 50, 75, 91])
            rows.append({"token": display_token(name), "count": len(v), "p9": p[0], "p25": p[1],
                         "p50": p[2], "p75": p[3], "p91": p[4], "mean": float(np.mean(v))})
    return pd.DataFrame(rows)
