"""Tests for lib.analysis.distributions: histograms, KL ranking, dead neurons, percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from lib.analysis.distributions import (
    MAX_BINS,
    clip_range,
    dead_neurons,
    histograms,
    kl_from_acts,
    kl_scores,
    mean_abs_activation,
    mean_abs_per_unit,
    outside_share,
    reference_distribution,
    token_percentiles,
)

# --- histograms -----------------------------------------------------------------------------


def test_histogram_known_counts_and_dropped_values() -> None:
    acts = np.array([[0.05], [0.15], [0.16], [0.35], [0.4], [-0.2], [0.9]])
    edges, P = histograms(acts, bin_width=0.1, value_range=(0.0, 0.4))
    np.testing.assert_allclose(edges, [0.0, 0.1, 0.2, 0.3, 0.4])
    # -0.2 and 0.9 are dropped; 0.4 is the closed right edge of the last bin
    np.testing.assert_allclose(P[0], np.array([1, 2, 0, 2]) / 5)
    np.testing.assert_allclose(outside_share(acts, (0.0, 0.4)), [2 / 7])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histograms_match_numpy_even_on_bin_edges(dtype) -> None:
    rng = np.random.default_rng(0)
    acts = np.tanh(rng.standard_normal((3000, 9))).astype(dtype)
    edges = np.round(-1 + 0.01 * np.arange(201), 12)
    acts[:201, 0] = edges  # every edge, as the dtype rounds it
    acts[:201, 1] = -edges
    out_edges, P = histograms(acts, bin_width=0.01, value_range=(-1, 1))
    np.testing.assert_array_equal(out_edges, edges)
    for u in range(acts.shape[1]):
        counts, _ = np.histogram(acts[:, u], bins=out_edges)
        np.testing.assert_array_equal(np.round(P[u] * counts.sum()), counts)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_default_range_is_the_data_rounded_out_to_bins() -> None:
    acts = np.array([[-0.234, 0.0], [0.5, 0.111]])
    edges, P = histograms(acts, bin_width=0.1)
    assert edges[0] == pytest.approx(-0.3) and edges[-1] == pytest.approx(0.5)
    assert P.shape == (2, 8)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_range_not_a_whole_number_of_bins_is_widened() -> None:
    acts = np.array([[0.0], [0.249]])
    edges, P = histograms(acts, bin_width=0.1, value_range=(0.0, 0.25))
    np.testing.assert_allclose(edges, [0.0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(P[0], [0.5, 0.0, 0.5])


def test_unit_with_nothing_in_range_gets_zeros_and_is_left_out_of_the_reference() -> None:
    acts = np.array([[0.1, 5.0], [0.2, 6.0], [0.3, 7.0]])
    _, P = histograms(acts, bin_width=0.1, value_range=(0.0, 1.0))
    assert P[1].sum() == 0 and P[0].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(reference_distribution(P), P[0])
    kl = kl_scores(P)
    assert kl["sum"][0] == 0.0 and np.isnan(kl["sum"][1])


# --- clip range -----------------------------------------------------------------------------


def test_clip_range_is_the_percentile_of_abs_values_rounded_out() -> None:
    acts = np.arange(-50, 50, dtype=np.float64).reshape(20, 5) / 10  # |a| in [0, 5]
    k = np.percentile(np.abs(acts), 99.0)
    assert clip_range(acts) == pytest.approx((-k, k))
    lo, hi = clip_range(acts, percentile=90, bin_width=0.25)
    k90 = np.percentile(np.abs(acts), 90)
    assert hi == -lo and hi >= k90 and hi - k90 < 0.25 and (hi / 0.25) == round(hi / 0.25)
    assert clip_range(acts, percentile=100) == (-5.0, 5.0)


def test_clip_range_of_zeros_needs_a_bin_width() -> None:
    zeros = np.zeros((10, 3))
    assert clip_range(zeros, bin_width=0.01) == (-0.01, 0.01)
    with pytest.raises(ValueError, match="layer of zeros"):
        clip_range(zeros)


# --- KL -------------------------------------------------------------------------------------


def _smoothed(p, eps):
    p = np.asarray(p, dtype=float) + eps
    return p / p.sum()


@pytest.mark.parametrize("eps", [1e-10, 1e-6, 0.01])
def test_kl_both_directions_match_scipy_entropy(eps) -> None:
    P = np.array([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 1.0]])
    Q = np.array([0.25, 0.25, 0.25, 0.25])
    kl = kl_scores(P, Q, epsilon=eps)
    for u in range(3):
        p, q = _smoothed(P[u], eps), _smoothed(Q, eps)
        assert kl["forward"][u] == pytest.approx(scipy.stats.entropy(p, q, base=2))
        assert kl["reverse"][u] == pytest.approx(scipy.stats.entropy(q, p, base=2))
    np.testing.assert_allclose(kl["sum"], kl["forward"] + kl["reverse"])
    # a point mass against the uniform: log2(4) = 2 bits forward (seed 001's sign corrected)
    assert kl_scores(P, Q, epsilon=0)["forward"][2] == pytest.approx(2.0)


def test_kl_of_a_distribution_with_itself_is_zero_and_kl_is_asymmetric() -> None:
    p = np.array([0.7, 0.2, 0.1])
    q = np.array([0.1, 0.3, 0.6])
    same = kl_scores(p[None, :], p)
    assert same["forward"][0] == 0.0 and same["reverse"][0] == 0.0
    kl = kl_scores(p[None, :], q)
    assert kl["forward"][0] > 0 and kl["reverse"][0] > 0
    assert kl["forward"][0] != pytest.approx(kl["reverse"][0])


def test_smoothing_keeps_kl_finite_where_bins_are_empty() -> None:
    P = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    Q = reference_distribution(P)
    np.testing.assert_allclose(Q, [0.5, 0.0, 0.5])
    kl = kl_scores(P, Q)
    for key in ("forward", "reverse", "sum"):
        assert np.isfinite(kl[key]).all() and (kl[key] > 0).all()
    assert np.isinf(kl_scores(P, Q, epsilon=0)["reverse"]).all()


def test_kl_ranks_the_planted_unusual_unit_first() -> None:
    rng = np.random.default_rng(1)
    acts = np.tanh(rng.laplace(0, 0.2, (5000, 20)))
    acts[:, 7] = np.where(rng.random(5000) < 0.5, -0.95, np.abs(acts[:, 7]))  # half-Laplace
    kl = kl_from_acts(acts, bin_width=0.01, value_range=(-1, 1))
    for key in ("forward", "reverse", "sum"):
        assert int(np.argmax(kl[key])) == 7
    _, P = histograms(acts, bin_width=0.01, value_range=(-1, 1))
    np.testing.assert_allclose(kl["sum"], kl_scores(P)["sum"])


# --- dead neurons and mean |a| --------------------------------------------------------------


def test_dead_neuron_rule_is_strictly_more_than_the_share() -> None:
    acts = np.full((100, 4), 0.5)
    acts[:90, 0] = 0.0  # exactly 90 % near zero: not dead
    acts[:91, 1] = 0.0  # 91 %: dead
    acts[:91, 2] = np.tile([0.01, -0.01], 46)[:91]  # on the closed interval's ends: dead
    acts[:91, 3] = 0.0101  # just outside: not dead
    assert dead_neurons(acts).tolist() == [False, True, True, False]
    assert dead_neurons(acts.astype(np.float32)).tolist() == [False, True, True, False]
    assert dead_neurons(acts, share=0.89).tolist() == [True, True, True, False]


def test_mean_abs_activation() -> None:
    acts = np.array([[1.0, -2.0], [-3.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(mean_abs_per_unit(acts), [2.0, 1.0])
    assert mean_abs_activation(acts) == pytest.approx(1.5)


# --- token percentiles ----------------------------------------------------------------------


def test_token_percentiles_match_numpy_and_keep_the_frequent_groups() -> None:
    rng = np.random.default_rng(2)
    groups = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 30 + ["d"] * 4)
    values = rng.standard_normal(groups.size)
    values[3] = np.nan  # left out
    table = token_percentiles(values, list(groups), top=2)
    assert list(table.columns) == ["group", "count", "p9", "p25", "p50", "p75", "p91", "mean"]
    assert table["group"].tolist() == ["a", "b"]  # "b" and "c" tie on 30: by name
    assert table["count"].tolist() == [49, 30]
    a = values[:50][~np.isnan(values[:50])]
    expected = np.percentile(a, [9, 25, 50, 75, 91])
    row = table.loc[0, ["p9", "p25", "p50", "p75", "p91"]].to_numpy(dtype=float)
    np.testing.assert_allclose(row, expected)
    assert table.iloc[0]["mean"] == pytest.approx(a.mean())
    everything = token_percentiles(values, groups, top=None, min_count=1)
    assert everything["group"].tolist() == ["a", "b", "c", "d"]


def test_token_percentiles_empty_and_custom_percentiles() -> None:
    table = token_percentiles([1.0, 2.0], ["x", "y"], min_count=5)
    assert table.empty and "p50" in table.columns
    table = token_percentiles(np.arange(10.0), ["x"] * 10, percentiles=(2.5, 50))
    assert list(table.columns) == ["group", "count", "p2.5", "p50", "mean"]
    assert table.loc[0, "p50"] == pytest.approx(4.5)
    assert isinstance(table, pd.DataFrame)


# --- errors ---------------------------------------------------------------------------------

ACTS = np.zeros((10, 3))
BAD = np.array([[0.0, np.nan]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: histograms(np.zeros(5)), "must be 2-D"),
        (lambda: histograms(np.zeros((0, 3))), "at least 1 steps"),
        (lambda: histograms(BAD), "NaN or inf"),
        (lambda: histograms(ACTS, bin_width=0), "`bin_width` must be a positive number"),
        (lambda: histograms(ACTS, value_range=(1, 0)), "lo < hi"),
        (lambda: histograms(ACTS, value_range=(0, "x")), "pair"),
        (lambda: histograms(ACTS, bin_width=1e-4, value_range=(-1, 1)), f"than {MAX_BINS}"),
        (lambda: clip_range(ACTS, percentile=0), r"in \(0, 100\], got 0"),
        (lambda: reference_distribution(np.zeros((2, 3))), "Every row"),
        (lambda: reference_distribution(np.zeros(3)), "must be 2-D"),
        (lambda: kl_scores(np.ones((2, 3)), np.ones(4)), "one value per bin"),
        (lambda: kl_scores(-np.ones((2, 3))), "non-negative"),
        (lambda: kl_scores(np.ones((2, 3)), epsilon=-1), "`epsilon` must be a number >= 0"),
        (lambda: kl_scores(np.ones((2, 2)), np.zeros(2)), "`Q` sums to 0"),
        (lambda: dead_neurons(ACTS, share=1.5), r"`share` must be a number in \[0, 1\]"),
        (lambda: dead_neurons(ACTS, threshold=-0.1), "`threshold`"),
        (lambda: mean_abs_activation(BAD), "NaN or inf"),
        (lambda: token_percentiles(np.ones(3), ["a", "b"]), "one entry per value"),
        (lambda: token_percentiles(np.ones((3, 2)), ["a"] * 3), "1-D numbers"),
        (lambda: token_percentiles(np.ones(3), ["a"] * 3, percentiles=(101,)), r"\[0, 100\]"),
        (lambda: token_percentiles(np.ones(3), ["a"] * 3, min_count=0), "`min_count`"),
        (lambda: token_percentiles(np.ones(3), ["a"] * 3, top=0), "`top`"),
    ],
)
def test_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()
