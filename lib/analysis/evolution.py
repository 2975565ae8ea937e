"""How a neuron's role for a feature develops over training, from the per-epoch checkpoints.

For every checkpoint (lib.model.registry.checkpoints) the text is recorded with the weights of
that epoch and the neuron is scored as the analysis pages score it: seed 000's relevance R
(lib.analysis.relevance) and its amplitude spectrum's peak in a band (lib.analysis.fourier).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.analysis.features import as_mask, check_binary
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.relevance import relevance
from lib.model.registry import RegistryError, checkpoints, load_checkpoint
from lib.run.record import record, require_language_model

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle

COLUMNS = [
    "epoch",
    "relevance",
    "relevance_normalized",
    "rank",
    "peak_amp",
    "peak_freq",
    "best_neuron",
    "best_relevance",
]


def evolution(
    bundle: ModelBundle,
    text: str | list[str],
    *,
    layer: int,
    signal: str,
    neuron: int,
    feature_mask: npt.ArrayLike,
    band: tuple[float, float] = (0.02, 0.5),
) -> pd.DataFrame:
    """Score a neuron at every checkpoint epoch: its relevance and spectrum, and the best neuron.

    Parameters
    ----------
    bundle : ModelBundle
        A saved language model with per-epoch checkpoints.
    text : str or list of str
        Recorded at every epoch (``lib.run.record.record``, default path).
    layer : int
    signal : str
        E.g. "h" or "c" (``Trace.signals`` names).
    neuron : int
        The unit followed through training.
    feature_mask : array-like of bool, shape (T,)
        The binary feature over the text's T tokens; must match some but not all.
    band : (f_min, f_max), default (0.02, 0.5)
        Frequency band in cycles per token, both ends included.

    Returns
    -------
    df : DataFrame
        Sorted by epoch, columns: ``epoch``; ``relevance``, the neuron's R without
        normalization (comparable across epochs); ``relevance_normalized``, R divided by
        the layer's largest R (seed 000's auto-detect scale, 1 for the best neuron);
        ``rank`` (1 = best; ties share the better rank); ``peak_amp`` and ``peak_freq``,
        the neuron's largest amplitude in the band and its frequency (period 1 /
        peak_freq tokens); ``best_neuron`` (largest R, lowest index on ties) and
        ``best_relevance`` (its R, not normalized).

    Raises
    ------
    ValueError
        If the model has no checkpoints, or layer, signal, neuron or mask do not fit.
    """
    require_language_model(bundle)
    root = bundle.path.parent if bundle.path is not None else None
    try:
        epochs = [epoch for epoch, _ in checkpoints(bundle.name, root=root)]
    except RegistryError as err:
        raise ValueError(f"Model {bundle.name!r} has no checkpoints to follow: {err}") from None
    if not epochs:
        raise ValueError(
            f"Model {bundle.name!r} has no per-epoch checkpoints (checkpoints/epoch-*.npz)."
        )
    f_min, f_max = band
    rows = []
    mask = None
    for epoch in epochs:
        trace = record(load_checkpoint(bundle, epoch), text)
        if (layer, signal) not in trace.signals:
            raise ValueError(
                f"The model has no signal {signal!r} in layer {layer}; it has "
                f"{sorted(trace.signals)}."
            )
        acts = trace.signals[(layer, signal)]
        if not 0 <= neuron < acts.shape[1]:
            raise ValueError(
                f"`neuron` must be 0 to {acts.shape[1] - 1} (layer {layer}), got {neuron}."
            )
        if mask is None:
            mask = check_binary(
                as_mask(feature_mask, acts.shape[0], name="feature_mask"), "feature_mask"
            )
        scores = relevance(acts, mask, normalize=False)
        top = scores.max()
        freqs, amps = spectrum(acts[:, [neuron]])
        peak_amp, peak_freq = band_peaks(freqs, amps, f_min=f_min, f_max=f_max)
        rows.append(
            {
                "epoch": epoch,
                "relevance": float(scores[neuron]),
                "relevance_normalized": float(scores[neuron] / top) if top > 0 else 0.0,
                "rank": int(np.count_nonzero(scores > scores[neuron])) + 1,
                "peak_amp": float(peak_amp[0]),
                "peak_freq": float(peak_freq[0]),
                "best_neuron": int(np.argmax(scores)),
                "best_relevance": float(top),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def first_epoch_of_best(df: pd.DataFrame, *, stable: bool = False) -> int:
    """Return the epoch at which the final epoch's best neuron first becomes the best.

    Parameters
    ----------
    df : DataFrame
        From :func:`evolution` (columns ``epoch`` and ``best_neuron``).
    stable : bool, default False
        False: the first epoch at which it is the best at all. True: the first epoch from
        which it stays the best up to the last epoch (later if it lost the lead in between).

    Returns
    -------
    epoch : int
    """
    if df.empty:
        raise ValueError("`df` has no rows (no epochs).")
    df = df.sort_values("epoch")
    is_final = (df["best_neuron"] == df["best_neuron"].iloc[-1]).to_numpy()
    epochs = df["epoch"].to_numpy()
    if not stable:
        return int(epochs[np.argmax(is_final)])
    lost = np.flatnonzero(~is_final)
    return int(epochs[lost[-1] + 1]) if lost.size else int(epochs[0])


__all__ = ["evolution", "first_epoch_of_best"]
