"""Tests for lib.analysis.fourier: amplitude spectra (seed 000's DFT view) and band peaks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.relevance import HALF_WIDTH, auto_detect_windows
from tests.helpers import PERIOD_UNIT, planted_layer


def direct_amplitudes(x: np.ndarray) -> np.ndarray:
    """Single-sided amplitudes from the DFT sum itself: |sum_t x_t e^(-2 pi i k t / N)| / N."""
    n = x.shape[0]
    t = np.arange(n)
    out = []
    for k in range(n // 2 + 1):
        amp = abs(np.sum(x * np.exp(-2j * np.pi * k * t / n))) / n
        nyquist = n % 2 == 0 and k == n // 2
        out.append(amp if k == 0 or nyquist else 2 * amp)
    return np.array(out)


@pytest.mark.parametrize("n", [64, 63])
def test_sine_on_a_bin_reads_its_amplitude_and_dc_the_mean(n: int) -> None:
    t = np.arange(n)
    k, amplitude, offset = 5, 1.7, 0.4
    x = offset + amplitude * np.sin(2 * np.pi * k * t / n + 0.3)
    freqs, amps = spectrum(x[:, None])
    assert freqs.shape == (n // 2 + 1,) and amps.shape == (n // 2 + 1, 1)
    assert freqs[k] == pytest.approx(k / n)
    assert amps[k, 0] == pytest.approx(amplitude)
    assert amps[0, 0] == pytest.approx(offset)
    others = np.delete(amps[:, 0], [0, k])
    assert others.max() < 1e-12


@pytest.mark.parametrize("n", [16, 17, 40])
def test_matches_the_direct_dft_sum(n: int) -> None:
    x = np.random.default_rng(n).standard_normal((n, 3))
    freqs, amps = spectrum(x)
    np.testing.assert_allclose(freqs, np.arange(n // 2 + 1) / n)
    for unit in range(3):
        np.testing.assert_allclose(amps[:, unit], direct_amplitudes(x[:, unit]), atol=1e-12)


def test_nyquist_bin_is_not_doubled() -> None:
    x = 0.8 * (-1.0) ** np.arange(32)  # period 2, f = 0.5
    freqs, amps = spectrum(x[:, None])
    assert freqs[-1] == 0.5
    assert amps[-1, 0] == pytest.approx(0.8)


@pytest.mark.parametrize("window", [None, "hann"])
@pytest.mark.parametrize("n", [50, 51])
def test_squared_amplitudes_are_the_one_sided_periodogram(window, n: int) -> None:
    # periodogram(scaling="spectrum") is a one-sided power spectrum: |X|^2 / S^2, doubled
    # except at DC (and Nyquist); our amplitude is 2|X| / S, so amps^2 = 2 P there, P at DC
    x = np.random.default_rng(1).standard_normal((n, 4))
    _, amps = spectrum(x, window=window)
    _, power = scipy.signal.periodogram(
        x,
        window="boxcar" if window is None else window,
        scaling="spectrum",
        detrend=False,
        axis=0,
    )
    edge = [0, -1] if n % 2 == 0 else [0]
    inner = np.ones(amps.shape[0], bool)
    inner[edge] = False
    np.testing.assert_allclose(amps[inner] ** 2, 2 * power[inner], rtol=1e-10)
    np.testing.assert_allclose(amps[edge] ** 2, power[edge], rtol=1e-10)


def test_hann_window_keeps_a_bin_centred_sine_amplitude() -> None:
    t = np.arange(256)
    x = 2.5 * np.cos(2 * np.pi * 40 * t / 256)
    _, amps = spectrum(x[:, None], window="hann")
    assert amps[40, 0] == pytest.approx(2.5)
    assert amps[39, 0] == pytest.approx(1.25)  # Hann's main lobe: half on each neighbour


def test_remove_mean_zeroes_dc() -> None:
    x = 3.0 + np.random.default_rng(2).standard_normal((100, 2))
    _, amps = spectrum(x, remove_mean=True)
    assert np.abs(amps[0]).max() < 1e-12
    np.testing.assert_allclose(amps[1:], spectrum(x)[1][1:])


@pytest.mark.parametrize("n", [222, 7, 4])
def test_thesis_mode_reproduces_seed_000_code(n: int) -> None:
    x = np.random.default_rng(n).standard_normal((n, 3))
    freqs, amps = spectrum(x, thesis=True)
    for unit in range(3):
        # seed 000 (section 1.6 [code]), line by line
        a_1 = np.abs(np.fft.fft(x[:, unit]) / n)[: int(n / 2)]
        a_1[2:-2] *= 2
        np.testing.assert_allclose(amps[:, unit], a_1, atol=1e-12)
    np.testing.assert_allclose(freqs, np.arange(0, np.floor(n / 2)) / n)


def test_float32_stays_float32() -> None:
    x = np.random.default_rng(3).standard_normal((1000, 70)).astype(np.float32)
    freqs, amps = spectrum(x)
    assert amps.dtype == np.float32 and freqs.dtype == np.float64
    np.testing.assert_allclose(amps, spectrum(x.astype(np.float64))[1], atol=1e-5)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_memory_layout_does_not_change_the_spectrum(layout: str) -> None:
    x = np.random.default_rng(4).standard_normal((300, 140)).astype(np.float32)
    y = {"C": x, "F": np.asfortranarray(x), "strided": x[:, ::2]}[layout]
    reference = np.ascontiguousarray(y)
    for kwargs in ({}, {"remove_mean": True, "window": "hann"}):
        np.testing.assert_array_equal(spectrum(y, **kwargs)[1], spectrum(reference, **kwargs)[1])


def test_planted_period_4_unit_peaks_at_a_quarter() -> None:
    _, _, acts = planted_layer()
    freqs, amps = spectrum(acts)
    peak_amp, peak_freq = band_peaks(freqs, amps, f_min=freqs[1], f_max=0.5)  # DC excluded
    assert int(np.argmax(peak_amp)) == PERIOD_UNIT
    assert peak_freq[PERIOD_UNIT] == 0.25
    assert 1 / peak_freq[PERIOD_UNIT] == 4  # period in tokens
    assert peak_amp[PERIOD_UNIT] == pytest.approx(1.0, abs=0.1)
    windows = auto_detect_windows(peak_amp, 1, half_width=HALF_WIDTH["fourier"])
    assert windows == [list(range(PERIOD_UNIT - 2, PERIOD_UNIT + 3))]


def test_band_peaks_bounds_are_inclusive() -> None:
    freqs = np.array([0.0, 0.1, 0.2, 0.3])
    amps = np.array([[9.0, 9.0], [1.0, 5.0], [3.0, 2.0], [2.0, 2.0]])
    peak_amp, peak_freq = band_peaks(freqs, amps, f_min=0.1, f_max=0.2)
    assert peak_amp.tolist() == [3.0, 5.0] and peak_freq.tolist() == [0.2, 0.1]
    peak_amp, peak_freq = band_peaks(freqs, amps, f_min=0.3, f_max=0.3)
    assert peak_amp.tolist() == [2.0, 2.0] and peak_freq.tolist() == [0.3, 0.3]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: spectrum(np.zeros(8)), "must be 2-D"),
        (lambda: spectrum(np.zeros((1, 2))), "at least 2 steps"),
        (lambda: spectrum(np.zeros((8, 2)), window="hamming"), "window.*got 'hamming'"),
        (lambda: spectrum(np.zeros((8, 2)), thesis=True, window="hann"), "thesis=True"),
        (lambda: spectrum(np.zeros((8, 2)), thesis=True, remove_mean=True), "thesis=True"),
        (lambda: spectrum(np.full((8, 2), np.inf)), "NaN or inf"),
        (lambda: band_peaks(np.zeros(3), np.zeros((4, 2)), f_min=0, f_max=1), "n_freqs"),
        (lambda: band_peaks([0, 0.1], np.zeros((2, 1)), f_min=0.2, f_max=0.1), "f_min <= f_max"),
        (
            lambda: band_peaks([0, 0.25, 0.5], np.zeros((3, 1)), f_min=0.3, f_max=0.4),
            r"No frequency lies in \[0.3, 0.4\].*widen the band",
        ),
        (lambda: band_peaks([0.5, 0.0], np.zeros((2, 1)), f_min=0, f_max=1), "must increase"),
    ],
)
def test_fourier_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
