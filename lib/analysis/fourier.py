"""Seed 000's Fourier view: the amplitude spectrum of every unit's activation series."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

from lib.analysis._arrays import check_acts, column_sums, map_unit_blocks, n_threads, work_dtype

WINDOWS = (None, "hann")


def spectrum(
    acts: npt.ArrayLike,
    *,
    remove_mean: bool = False,
    window: str | None = None,
    thesis: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum of each unit's whole activation series.

    Parameters
    ----------
    acts : array-like of shape (n_steps, n_units)
        One row per token; the sampling rate is 1 sample per token, so frequencies are in
        cycles per token and the period of a frequency f is 1 / f tokens.
    remove_mean : bool, default False
        Subtract each unit's mean first, which zeroes the DC bin (seed 000 keeps it and
        excludes f = 0 from peak search through the band instead).
    window : {None, "hann"}, default None
        None: rectangular, as in seed 000. ``"hann"``: a periodic Hann window
        (``scipy.signal.get_window("hann", N, fftbins=True)``) against leakage from
        frequencies between bins.
    thesis : bool, default False
        Reproduce seed 000's code exactly, quirks included (see Notes). Takes neither
        `remove_mean` nor `window`.

    Returns
    -------
    freqs : ndarray of float64, shape (n_freqs,)
        ``rfftfreq(N)``: 0, 1/N, ..., up to 0.5 (included for even N); n_freqs = N // 2 + 1.
        With ``thesis=True``: ``arange(N // 2) / N`` (n_freqs = N // 2, 0.5 excluded).
    amps : ndarray of shape (n_freqs, n_units)
        Amplitudes |F|, in activation units; float32 for float32 (or float16) input. A sine
        of amplitude A on bin k gives A at f = k / N, and the DC bin holds the mean.
        (Returned as a transposed view of a (n_units, n_freqs) array;
        ``np.ascontiguousarray`` it if a row-major copy is needed.)

    Raises
    ------
    ValueError
        If `acts` is not 2-D, has fewer than 2 steps or holds NaN/inf, or an option is
        unknown or combined with ``thesis=True``.

    Notes
    -----
    Seed 000, section 1.6 (thesis eq. 2.33, fs = 1): F(k) = (1/N) sum_t a_t exp(-2 pi i k t / N).
    Here X = rfft(a) and amps = |X| / N, with bins 1 ... ceil(N/2) - 1 doubled to fold in the
    negative frequencies; DC and, for even N, the Nyquist bin N/2 are not doubled. With the
    Hann window w the scale is 1 / sum(w) instead of 1 / N (coherent gain), so a sine still
    reads its amplitude A on its bin; amps**2 then equals 2 x (DC, Nyquist: 1 x) the power
    of ``scipy.signal.periodogram(a, window="hann", scaling="spectrum")``.

    ``thesis=True`` is seed 000's code: A1 = |fft(a) / N|[: N // 2], A1[2:-2] *= 2,
    freqs = arange(N // 2) / N. Its quirks: bin 1 and the last two bins are not doubled, and
    the Nyquist bin is dropped (section 7 item 4). Use it only to reproduce the thesis's
    numbers.

    Examples
    --------
    A cosine of amplitude 1 with period 8 tokens, and a constant 0.5, over 64 tokens:

    >>> import numpy as np
    >>> t = np.arange(64)
    >>> acts = np.stack([np.cos(2 * np.pi * t / 8), np.full(64, 0.5)], axis=1)
    >>> freqs, amps = spectrum(acts)
    >>> freqs.shape, amps.shape
    ((33,), (33, 2))
    >>> float(freqs[amps[:, 0].argmax()])  # 1 / 8 cycles per token
    0.125
    >>> amps[[0, 8]].round(3)  # DC holds the mean; bin 8 (f = 8 / 64) the cosine
    array([[0. , 0.5],
           [1. , 0. ]])
    """
    acts = check_acts(acts, min_steps=2, keep_half=True)
    if window not in WINDOWS:
        raise ValueError(f"`window` must be one of {WINDOWS}, got {window!r}.")
    if thesis and (remove_mean or window is not None):
        raise ValueError(
            "thesis=True reproduces seed 000 exactly and takes neither remove_mean nor window, "
            f"got remove_mean={remove_mean!r}, window={window!r}."
        )
    sums = column_sums(acts)  # also the NaN / inf check
    n_steps, n_units = acts.shape
    dtype = work_dtype(acts.dtype)  # float16 is read in float32 blocks
    if window == "hann":
        from scipy.signal import get_window  # slow to import; only needed here

        taper = get_window("hann", n_steps, fftbins=True)
        scale = 1.0 / taper.sum()
        taper = taper.astype(dtype)
    else:
        taper, scale = None, 1.0 / n_steps

    if thesis:
        n_freqs = n_steps // 2
        freqs = np.arange(n_freqs) / n_steps
    else:
        n_freqs = n_steps // 2 + 1
        freqs = scipy.fft.rfftfreq(n_steps)
    if thesis:
        gain = np.full(n_freqs, scale, dtype=dtype)
        gain[2:-2] = 2 * scale  # seed 000's A1[2:-2] *= 2
    else:
        gain = np.full(n_freqs, 2 * scale, dtype=dtype)
        gain[0] = scale
        if n_steps % 2 == 0:
            gain[-1] = scale  # Nyquist

    fft_workers = 1 if n_threads(acts) > 1 else -1  # parallel over blocks, or inside FFTs
    out = np.empty((n_units, n_freqs), dtype=dtype)

    def block_spectrum(first: int, a: np.ndarray) -> None:
        if taper is not None:
            a = a * taper
        coefs = scipy.fft.rfft(a, axis=1, workers=fft_workers)[:, :n_freqs]
        np.multiply(np.abs(coefs), gain, out=out[first : first + a.shape[0]])

    means = sums / n_steps if remove_mean else None
    map_unit_blocks(block_spectrum, acts, subtract=means)
    return freqs, out.T


def band_peaks(
    freqs: npt.ArrayLike, amps: npt.ArrayLike, *, f_min: float, f_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Largest amplitude of every unit inside a frequency band, and where it is.

    Parameters
    ----------
    freqs : array-like of shape (n_freqs,)
    amps : array-like of shape (n_freqs, n_units)
        From :func:`spectrum`.
    f_min, f_max : float
        The band, both ends included: f_min <= f <= f_max. Pages exclude DC with
        ``f_min = freqs[1]`` (seed 000's bF in (0, 1/2]) or use seed 000's code defaults,
        0.4-0.5 at word level and 0.1-0.4 at character level.

    Returns
    -------
    peak_amp : ndarray of shape (n_units,)
    peak_freq : ndarray of float64, shape (n_units,)
        The frequency of the peak (the lowest one on ties); the period is 1 / peak_freq.

    Raises
    ------
    ValueError
        If the shapes disagree, f_min > f_max, or no frequency lies in the band.

    Notes
    -----
    Seed 000, section 1.7 (FFT mode): zero the amplitudes outside the band and take each
    neuron's maximum; its top neurons are the Fourier hypotheses.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    amps = np.asarray(amps)
    if freqs.ndim != 1 or amps.ndim != 2 or amps.shape[0] != freqs.shape[0]:
        raise ValueError(
            "`amps` must have shape (n_freqs, n_units) with n_freqs = len(freqs), got "
            f"freqs {freqs.shape} and amps {amps.shape}."
        )
    if freqs.size > 1 and not (np.diff(freqs) > 0).all():
        raise ValueError("`freqs` must increase, as spectrum() returns them.")
    if not f_min <= f_max:
        raise ValueError(f"The band needs f_min <= f_max, got f_min={f_min}, f_max={f_max}.")
    in_band = np.flatnonzero((freqs >= f_min) & (freqs <= f_max))
    if in_band.size == 0:
        step = freqs[1] - freqs[0] if freqs.size > 1 else float("nan")
        raise ValueError(
            f"No frequency lies in [{f_min}, {f_max}] (frequencies {freqs[:1].tolist()} to "
            f"{freqs[-1:].tolist()} in steps of {step:.4g}); widen the band."
        )
    band = amps[in_band[0] : in_band[-1] + 1]  # freqs are sorted, so the band is a slice
    where = band.argmax(axis=0)
    peak_amp = np.take_along_axis(band, where[None, :], axis=0)[0]
    return peak_amp, freqs[in_band[0] + where]
