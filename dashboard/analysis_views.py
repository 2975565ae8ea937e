"""Cached analyses of a Trace and the long-form tables their charts need."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.fmt import display_token, short_label
from dashboard.loaders import recorded_trace
from lib.analysis.features import Feature
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.ranking import rank_neurons
from lib.run.trace import SIGNAL_RANGES, Trace


def feature_digest(feature: Feature) -> str:
    return hashlib.sha1(np.ascontiguousarray(feature.values).tobytes()).hexdigest()[:16]


@st.cache_data(
    max_entries=32, show_spinner="Ranking every neuron (relevance, AUROC, circular-shift p-values)…"
)
def neuron_table(
    trace_key: str, layer: int, signal: str, digest: str, _acts: np.ndarray, _feature: Feature
) -> pd.DataFrame:
    return rank_neurons(_acts, _feature)


@st.cache_data(max_entries=16, show_spinner="Computing every neuron's spectrum…")
def spectra(
    trace_key: str,
    layer: int,
    signal: str,
    remove_mean: bool,
    window: str | None,
    _acts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    return spectrum(_acts, remove_mean=remove_mean, window=window)


def peaks_table(freqs: np.ndarray, amps: np.ndarray, band: tuple[float, float]) -> pd.DataFrame:
    """Every neuron's in-band peak, strongest first, with its period in tokens."""
    peak, at = band_peaks(freqs, amps, f_min=band[0], f_max=band[1])
    with np.errstate(divide="ignore"):
        period = np.where(at > 0, 1.0 / at, np.inf)
    table = pd.DataFrame(
        {
            "neuron": np.arange(amps.shape[1]),
            "peak": peak,
            "frequency": at,
            "period (tokens)": period,
        }
    )
    return table.sort_values("peak", ascending=False, kind="stable").reset_index(drop=True)


def feature_steps_df(
    trace: Trace, acts: np.ndarray, mask: np.ndarray, neurons: list[int], *, max_steps: int = 300
) -> pd.DataFrame:
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
    return pd.DataFrame(
        {
            "neuron": np.tile(np.arange(n_units), len(edges) - 1),
            "bin_start": starts,
            "value": means.ravel(),
        }
    )


def spectrum_df(
    freqs: np.ndarray, amps: np.ndarray, *, n_bins: int = 80, neurons: list[int] | None = None
) -> pd.DataFrame:
    """Max amplitude per frequency bin for every neuron (or the full spectra of a few)."""
    if neurons is not None:
        return pd.DataFrame(
            {
                "neuron": np.repeat([str(n) for n in neurons], len(freqs)),
                "freq": np.tile(freqs, len(neurons)),
                "amplitude": amps[:, neurons].T.ravel(),
            }
        )
    edges = np.linspace(0, len(freqs), min(n_bins, len(freqs)) + 1).astype(int)
    peak = np.maximum.reduceat(amps, edges[:-1], axis=0)
    n_units = amps.shape[1]
    return pd.DataFrame(
        {
            "neuron": np.tile(np.arange(n_units), len(edges) - 1),
            "freq": np.repeat(freqs[edges[:-1]].round(4), n_units),
            "amplitude": peak.ravel(),
        }
    )


def windows_to_neurons(windows: list[list[int]]) -> list[int]:
    """Neurons of the auto-detected windows, each once, in window order."""
    seen: list[int] = []
    for w in windows:
        seen.extend(n for n in w if n not in seen)
    return seen


@st.cache_data(max_entries=16, show_spinner="Computing each token type's expected response…")
def response_matrix(
    trace_key: str, layer: int, signal: str, top_n: int, _acts: np.ndarray, _tokens: list[str]
):
    from lib.analysis.response import expected_response

    return expected_response(_acts, _tokens, top_n=top_n)


@st.cache_data(max_entries=16, show_spinner="Co-clustering token types and units…")
def coclusters(
    trace_key: str, layer: int, signal: str, top_n: int, k: int, sign: str, _S: np.ndarray
):
    from lib.analysis.coclustering import cocluster

    return cocluster(_S, n_clusters=k, sign=sign)


def most_frequent_tag(tokens: list[str], tags: list[str], types: list[str]) -> list[str]:
    """Each type's most frequent POS tag in the text (seed 004's grammar colouring)."""
    df = pd.DataFrame({"token": tokens, "tag": tags})
    top = df.groupby("token")["tag"].agg(lambda s: s.value_counts().index[0])
    return [top.get(t, "X") for t in types]


def pack_clouds(words: pd.DataFrame, *, per_row: int = 5, label_chars: int = 11) -> pd.DataFrame:
    """Slots for word clouds: each cluster's words, largest first, ``per_row`` to a line.

    ``label`` is the word cut to ``label_chars`` (with "…") so it stays inside its slot;
    ``word`` keeps it whole for the tooltip.
    """
    words = words.sort_values(["word_cluster", "size"], ascending=[True, False]).copy()
    rank = words.groupby("word_cluster").cumcount()
    words["x"] = (rank % per_row) * 1.2
    words["y"] = rank // per_row
    words["cluster"] = words["word_cluster"].astype(str)
    words["label"] = words["word"].map(lambda w: short_label(w, label_chars))
    words["word"] = words["word"].map(display_token)
    return words


def percentile_rows(samples: dict[str, np.ndarray], *, min_count: int = 1) -> pd.DataFrame:
    """Box-plot rows (9/25/50/75/91 percentiles, mean, count) of each group's samples."""
    rows = []
    for name, v in samples.items():
        if len(v) >= min_count:
            p = np.percentile(v, [9, 25, 50, 75, 91])
            rows.append(
                {
                    "token": display_token(name),
                    "count": len(v),
                    "p9": p[0],
                    "p25": p[1],
                    "p50": p[2],
                    "p75": p[3],
                    "p91": p[4],
                    "mean": float(np.mean(v)),
                }
            )
    return pd.DataFrame(rows)


@st.cache_data(max_entries=16, show_spinner="Histograms and KL divergences of every neuron…")
def layer_distributions(
    trace_key: str,
    layer: int,
    signal: str,
    bin_width: float,
    eps: float,
    dead_threshold: float,
    dead_share: float,
    percentile: float,
    _acts: np.ndarray,
) -> dict:
    """Histograms, the layer reference, KL in both directions and the dead-neuron flags."""
    from lib.analysis import distributions as D

    value_range = SIGNAL_RANGES[signal] or D.clip_range(
        _acts, percentile=percentile, bin_width=bin_width
    )
    edges, P = D.histograms(_acts, bin_width=bin_width, value_range=value_range)
    Q = D.reference_distribution(P)
    kl = D.kl_scores(P, Q, epsilon=eps)
    table = pd.DataFrame(
        {
            "neuron": np.arange(P.shape[0]),
            "kl_forward": kl["forward"],
            "kl_reverse": kl["reverse"],
            "kl_sum": kl["sum"],
            "dead": D.dead_neurons(_acts, threshold=dead_threshold, share=dead_share),
            "mean_abs": np.abs(_acts).mean(axis=0),
        }
    )
    return {"edges": edges, "P": P, "Q": Q, "table": table, "range": value_range}


@st.cache_data(max_entries=8, show_spinner="Recording the text through each model…")
def model_summaries(
    names: tuple[str, ...], text: str, dead_threshold: float, dead_share: float
) -> pd.DataFrame:
    """Mean |h| and dead-neuron count of layer 0 of each model on the same text."""
    from lib.analysis.distributions import dead_neurons

    rows = []
    for name in names:
        h = recorded_trace(name, text).signals[(0, "h")]
        rows.append(
            {
                "model": name,
                "mean_abs": float(np.abs(h).mean()),
                "dead": int(dead_neurons(h, threshold=dead_threshold, share=dead_share).sum()),
            }
        )
    return pd.DataFrame(rows)


_MAPS: OrderedDict = OrderedDict()
_MAPS_LOCK = threading.Lock()


def _remembered(key):
    with _MAPS_LOCK:
        if key in _MAPS:
            _MAPS.move_to_end(key)
            return _MAPS[key]
    return None


def _remember(key, value) -> None:
    with _MAPS_LOCK:
        _MAPS[key] = value
        while len(_MAPS) > 12:
            _MAPS.popitem(last=False)


def projection(key: tuple, X: np.ndarray, method: str, param) -> np.ndarray:
    """2-D projection of the rows of X with a progress bar, remembered for 12 calls.

    Cached by hand (shared by all sessions) rather than with st.cache_data so the progress
    bar shows on a miss and nothing is replayed on a hit.
    """
    from lib.analysis.projection import project

    key = ("projection", *key, method, param)
    found = _remembered(key)
    if found is not None:
        return found
    bar = st.progress(0.0, text=f"Projecting {len(X):,} states with {method}…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    options = (
        {"perplexity": param}
        if method == "tsne"
        else ({"n_neighbors": int(param)} if method == "umap" else {})
    )
    Y = project(X, method=method, seed=0, progress=progress, **options)
    bar.empty()
    _remember(key, Y)
    return Y


def token_map(
    trace_key: str,
    layer: int,
    signal: str,
    n: int,
    method: str,
    param,
    k: int,
    linkage: str,
    on: str,
    acts: np.ndarray,
    tokens: list[str],
) -> pd.DataFrame:
    """Sampled token occurrences projected to 2-D and clustered (numbered by size)."""
    from lib.analysis import projection as P

    key = ("map", trace_key, layer, signal, n, method, param, k, linkage, on)
    found = _remembered(key)
    if found is not None:
        return found.copy()
    positions = P.stratified_sample(tokens, n, seed=0)
    Y = projection((trace_key, layer, signal, n), acts[positions], method, param)
    with st.spinner("Clustering…"):
        X = Y if on == "2-D points" else acts[positions]
        labels = P.cluster(X, n_clusters=min(k, len(positions) - 1), linkage=linkage)
    context = [
        "".join(tokens[max(0, p - 20) : p]) + "[" + tokens[p] + "]" + "".join(tokens[p + 1 : p + 8])
        for p in positions
    ]
    df = pd.DataFrame(
        {
            "x": Y[:, 0],
            "y": Y[:, 1],
            "position": positions,
            "token": [display_token(tokens[p]) for p in positions],
            "context": context,
            "cluster": labels,
        }
    )
    df.attrs["adjacent"] = P.adjacent_share(positions, labels)
    _remember(key, df)
    return df.copy()
