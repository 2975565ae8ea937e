"""Long-form DataFrames that the charts and tables of the pages need (no Streamlit here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.fmt import display_token, short_label
from lib.analysis.fourier import band_peaks
from lib.run.trace import Trace


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


def most_frequent_tag(tokens: list[str], tags: list[str], types: list[str]) -> list[str]:
    """Each type's most frequent POS tag in the text (Ming et al. 2017's grammar colouring)."""
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


def overview_frames(trace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stacked bars, confusion matrix) frames: actual x predicted counts."""
    from lib.run.classify import confusion

    known = trace.labels >= 0
    m = confusion(trace.labels[known], trace.prediction[known], trace.n_classes)
    names = trace.classes
    rows = [
        {"actual": names[a], "predicted": names[p], "count": int(m[a, p])}
        for a in range(len(names))
        for p in range(len(names))
    ]
    df = pd.DataFrame(rows)
    return df[df["count"] > 0], df


def sequence_table(trace) -> pd.DataFrame:
    names = trace.classes
    return pd.DataFrame(
        {
            "id": np.arange(len(trace)),
            "class": [names[k] if k >= 0 else "?" for k in trace.labels],
            "prediction": [names[k] for k in trace.prediction],
            "correct": trace.correct,
            "confidence": trace.final_confidence,
            "length": trace.lengths,
            "text": [" ".join(t)[:80] for t in trace.tokens],
        }
    )


def points_frame(trace, Y: np.ndarray) -> pd.DataFrame:
    """Every projected state with its sequence, step, expected prediction and classes."""
    seq = np.repeat(np.arange(len(trace)), trace.lengths)
    step = np.arange(len(seq)) - trace.offsets[seq]
    names = trace.classes
    binary = trace.n_classes == 2
    return pd.DataFrame(
        {
            "x": Y[:, 0],
            "y": Y[:, 1],
            "seq": seq,
            "step": step,
            "ep": trace.ep[:, 1] if binary else trace.ep.max(axis=1),
            "expected prediction": [names[k] for k in trace.pred_class],
            "actual": [names[trace.labels[s]] if trace.labels[s] >= 0 else "?" for s in seq],
            "correct": np.where(trace.correct[seq], "correct", "wrong"),
        }
    )


def step_labels(words: list[str]) -> list[str]:
    return [f"{display_token(w)} ({t})" for t, w in enumerate(words)]


def cluster_words(words: pd.DataFrame, *, top: int = 5) -> dict[int, str]:
    """Each word cluster's ``top`` largest words (``word_cloud_data``'s table), joined."""
    ranked = words.sort_values(["word_cluster", "rank"])
    return {
        int(c): ", ".join(display_token(w) for w in group["word"].head(top))
        for c, group in ranked.groupby("word_cluster")
    }


def histogram_rows(values: np.ndarray, *, bins: int = 40) -> pd.DataFrame:
    """Share of ``values`` in each of ``bins`` equal bins: columns start, end, share."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins)
    share = counts / max(counts.sum(), 1)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "share": share})
