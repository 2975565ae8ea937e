"""Tests for lib.analysis.significance: AUROC, correlations, circular shifts, BH, agreement."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from sklearn.metrics import roc_auc_score

from lib.analysis.features import FeatureError
from lib.analysis.relevance import relevance
from lib.analysis.significance import (
    auroc,
    benjamini_hochberg,
    circular_shift_pvalues,
    circular_shift_test,
    correlation,
    default_min_shift,
    point_biserial,
    rank_agreement,
)
from tests.helpers import SPIKE_UNIT, planted_layer

# --- AUROC ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auroc_matches_sklearn_with_ties(dtype) -> None:
    rng = np.random.default_rng(3)
    acts = rng.integers(-3, 4, size=(400, 70)).astype(dtype) * 0.5  # many ties
    acts[:, 0] = rng.standard_normal(400)  # no ties
    acts[:, 1] = -0.0  # -0.0 and 0.0 are equal
    acts[:5, 1] = 0.0
    acts[:, 2] = 1.0  # constant
    mask = rng.random(400) < 0.3
    expected = [roc_auc_score(mask, acts[:, n]) for n in range(70)]
    np.testing.assert_allclose(auroc(acts, mask), expected, atol=1e-12)


def test_auroc_extremes() -> None:
    mask = np.array([False, True, False, True, False])
    acts = np.stack([mask * 1.0, -(mask * 1.0), np.zeros(5)], axis=1)
    assert auroc(acts, mask).tolist() == [1.0, 0.0, 0.5]


def test_c_and_f_ordered_arrays_agree() -> None:
    rng = np.random.default_rng(4)
    acts = rng.standard_normal((300, 130)).astype(np.float32)
    mask = rng.random(300) < 0.2
    fortran = np.asfortranarray(acts)
    np.testing.assert_array_equal(auroc(acts, mask), auroc(fortran, mask))
    np.testing.assert_array_equal(
        circular_shift_pvalues(acts, mask), circular_shift_pvalues(fortran, mask)
    )


# --- correlations ---------------------------------------------------------------------------


def test_correlation_matches_pearsonr_and_constant_units_give_zero() -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal(5000)
    acts = rng.standard_normal((5000, 6)) + np.outer(values, np.linspace(-1, 1, 6))
    acts[:, 2] += 1000.0  # a large offset must not cost precision
    acts = acts.astype(np.float32)
    acts[:, 5] = 0.7  # constant
    r = correlation(acts, values)
    expected = [scipy.stats.pearsonr(acts[:, n].astype(np.float64), values)[0] for n in range(5)]
    np.testing.assert_allclose(r[:5], expected, atol=2e-6)
    assert r[5] == 0.0


def test_point_biserial_is_pearson_with_the_mask() -> None:
    _, mask, acts = planted_layer()
    acts = acts[:, SPIKE_UNIT - 4 : SPIKE_UNIT + 4]
    r = point_biserial(acts, mask)
    expected = [scipy.stats.pearsonr(acts[:, n], mask.astype(float))[0] for n in range(8)]
    np.testing.assert_allclose(r, expected, atol=1e-6)


# --- circular shifts ------------------------------------------------------------------------


def slow_blocks(rng: np.random.Generator, n_steps: int, mean_len: int = 100) -> np.ndarray:
    """A slow random on/off pattern: blocks of geometric length (mean `mean_len`)."""
    out = np.zeros(n_steps, dtype=bool)
    t, state = 0, bool(rng.random() < 0.5)
    while t < n_steps:
        length = int(rng.geometric(1 / mean_len))
        out[t : t + length] = state
        state = not state
        t += length
    return out


def naive_shuffle_pvalue(rng, a: np.ndarray, feature: np.ndarray, n: int = 999) -> float:
    """The p-value a plain permutation test of |r| gives (what circular shifts replace)."""
    observed = abs(np.corrcoef(a, feature)[0, 1])
    perms = rng.permuted(np.tile(feature.astype(float), (n, 1)), axis=1)
    perms -= perms.mean(axis=1, keepdims=True)
    centred = a - a.mean()
    r = np.abs(perms @ centred) / np.sqrt((perms**2).sum(axis=1) * (centred @ centred))
    return (1 + np.count_nonzero(r >= observed)) / (1 + n)


def test_planted_spiking_unit_is_the_most_significant() -> None:
    _, mask, acts = planted_layer()
    n_steps = acts.shape[0]
    p = circular_shift_pvalues(acts, mask)
    n_null = n_steps - 2 * default_min_shift(n_steps) + 1
    assert p[SPIKE_UNIT] == pytest.approx(1 / (1 + n_null))  # beaten by no shift
    assert int(np.argmin(p)) == SPIKE_UNIT
    assert np.count_nonzero(benjamini_hochberg(p) < 0.05) == 1
    auc = auroc(acts, mask)
    assert int(np.argmax(auc)) == SPIKE_UNIT and auc[SPIKE_UNIT] > 0.95
    assert int(np.argmax(np.abs(point_biserial(acts, mask)))) == SPIKE_UNIT


def test_autocorrelated_unrelated_unit_is_not_significant_though_a_shuffle_says_so() -> None:
    n_steps = 2000
    rng = np.random.default_rng(0)
    feature = slow_blocks(rng, n_steps)
    unit = scipy.signal.lfilter([1.0], [1.0, -0.99], rng.standard_normal(n_steps))
    assert abs(correlation(unit[:, None], feature)[0]) > 0.1  # a chance correlation ...
    assert naive_shuffle_pvalue(rng, unit, feature) < 0.01  # ... a shuffle calls real
    assert circular_shift_pvalues(unit[:, None], feature)[0] > 0.05  # ... shifts do not


def test_circular_shift_pvalues_are_calibrated_for_autocorrelated_nulls() -> None:
    naive_hits = shift_hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        feature = slow_blocks(rng, 2000)
        unit = scipy.signal.lfilter([1.0], [1.0, -0.99], rng.standard_normal(2000))
        naive_hits += naive_shuffle_pvalue(rng, unit, feature, n=199) < 0.05
        shift_hits += circular_shift_pvalues(unit[:, None], feature)[0] < 0.05
    assert naive_hits >= 12  # a shuffle finds most unrelated slow units "significant"
    assert shift_hits <= 3  # circular shifts: about the nominal 1 in 20


def test_circular_shift_counts_exact_repeats_of_a_periodic_feature() -> None:
    t = np.arange(200)
    feature = t % 10 == 0
    acts = np.stack([feature * 1.0, np.zeros(200)], axis=1).astype(np.float32)
    p = circular_shift_pvalues(acts, feature, min_shift=2)
    # null shifts 2..198 (197 of them); the feature repeats at 10, 20, ..., 190 (19 shifts)
    assert p[0] == pytest.approx((1 + 19) / (1 + 197))
    assert p[1] == 1.0  # constant unit


def test_circular_shift_accepts_numeric_features_and_subsamples_shifts() -> None:
    rng = np.random.default_rng(6)
    values = rng.standard_normal(1000).cumsum()
    acts = np.stack([values + rng.standard_normal(1000), rng.standard_normal(1000)], axis=1)
    p = circular_shift_pvalues(acts, values, n_shifts=99)
    assert p[0] == pytest.approx(1 / 100)  # the best possible with 99 null shifts
    assert 0 < p[1] <= 1
    full = circular_shift_pvalues(acts, values)
    assert full[0] == pytest.approx(1 / (1 + 1000 - 2 * 10 + 1))


def test_circular_shift_float32_and_float64_agree() -> None:
    _, mask, acts = planted_layer()
    acts = acts[:, SPIKE_UNIT - 8 : SPIKE_UNIT + 8]
    np.testing.assert_allclose(
        circular_shift_pvalues(acts, mask),
        circular_shift_pvalues(acts.astype(np.float64), mask),
        atol=2e-3,  # a shift or two may swap sides of |r_observed| by float round-off
    )


@pytest.mark.parametrize("n_steps", [300, 307])  # 307 is prime: padded FFTs, wrapped back
def test_circular_shift_test_against_rolled_features(n_steps: int) -> None:
    rng = np.random.default_rng(9)
    acts = rng.standard_normal((n_steps, 3)) + 5.0
    acts[:, 0] += 0.3 * np.roll(np.arange(n_steps) % 7 == 0, 2)  # something to find
    feature = np.arange(n_steps) % 7 == 0
    keep = np.array([0, 1, 17, 150, n_steps - 1])
    p, cross = circular_shift_test(acts, feature, keep=keep)
    np.testing.assert_array_equal(p, circular_shift_pvalues(acts, feature))
    f = feature - feature.mean()
    centred = acts - acts.mean(axis=0)
    every = np.array([[centred[:, j] @ np.roll(f, s) for s in range(n_steps)] for j in range(3)])
    np.testing.assert_allclose(cross, every[:, keep], atol=1e-9)
    lo = default_min_shift(n_steps)
    null = np.abs(every[:, lo : n_steps - lo + 1])
    count = (null >= np.abs(every[:, :1]) - 1e-5 * np.linalg.norm(centred, axis=0)[:, None]
             * np.linalg.norm(f)).sum(axis=1)  # fmt: skip
    np.testing.assert_allclose(p, (1 + count) / (1 + null.shape[1]))
    assert circular_shift_test(acts, feature)[1].shape == (3, 0)


def test_tail_pvalues_go_below_the_floor_only_beyond_every_shift() -> None:
    _, mask, acts = planted_layer()
    n_steps = acts.shape[0]
    count_p = circular_shift_pvalues(acts, mask)
    p, _ = circular_shift_test(acts, mask, tail=True)
    floor = 1 / (1 + n_steps - 2 * default_min_shift(n_steps) + 1)
    beyond = count_p == floor
    assert beyond.tolist() == [u == SPIKE_UNIT for u in range(64)]
    np.testing.assert_array_equal(p[~beyond], count_p[~beyond])
    # the normal tail of the unit's own null, written out with rolled masks
    a = acts[:, SPIKE_UNIT].astype(np.float64)
    a, f = a - a.mean(), mask - mask.mean()
    shifts = range(default_min_shift(n_steps), n_steps - default_min_shift(n_steps) + 1)
    null = np.array([a @ np.roll(f, s) for s in shifts])
    z = abs(a @ f) / np.sqrt(np.mean(null**2))
    assert p[SPIKE_UNIT] == pytest.approx(2 * scipy.stats.norm.sf(z), rel=1e-3)
    assert p[SPIKE_UNIT] < 1e-12
    # a unit that is the feature: the tail underflows, the p-value stays above 0
    exact = circular_shift_test(np.column_stack([mask, acts[:, 0]]), mask, tail=True)[0]
    assert 0 < exact[0] < 1e-300


def test_tail_lets_a_lone_neuron_of_a_wide_layer_pass_bh_on_a_short_text() -> None:
    # 256 units, 4,000 steps: the count p-value's floor 1/3921 times 256 is q = 0.065
    rng = np.random.default_rng(10)
    mask = rng.random(4000) < 0.15
    acts = scipy.signal.lfilter([1.0], [1.0, -0.8], rng.standard_normal((4000, 256)), axis=0)
    acts[:, 99] += 2.0 * mask
    count_q = benjamini_hochberg(circular_shift_pvalues(acts, mask))
    tail_q = benjamini_hochberg(circular_shift_test(acts, mask, tail=True)[0])
    assert count_q.min() > 0.05
    assert np.flatnonzero(tail_q < 0.01).tolist() == [99]


# --- Benjamini-Hochberg ---------------------------------------------------------------------


def reference_bh(p: list[float]) -> list[float]:
    """Step-up BH written out as loops: q_i = min over j with p_j >= p_i of m p_j / rank_j."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    rank = {i: r + 1 for r, i in enumerate(order)}
    return [
        min(1.0, min(m * p[j] / rank[j] for j in range(m) if rank[j] >= rank[i])) for i in range(m)
    ]


def test_benjamini_hochberg_hand_case() -> None:
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4p/rank = 0.04, 0.06, 0.0533, 0.2 -> running min from the top
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])


def test_benjamini_hochberg_matches_reference_loop() -> None:
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.random(60) ** 3, [0.5, 0.5, 1.0, 0.0]])  # ties and ends
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, reference_bh(p.tolist()))
    assert (q >= p).all() and (q <= 1).all()
    order = np.argsort(p)
    assert (np.diff(q[order]) >= 0).all()  # monotone in p


def test_benjamini_hochberg_keeps_shape() -> None:
    assert benjamini_hochberg(np.full((2, 3), 0.5)).shape == (2, 3)
    assert benjamini_hochberg([]).shape == (0,)


# --- agreement ------------------------------------------------------------------------------


def test_rank_agreement() -> None:
    a = np.array([0.1, 0.9, 0.3, 0.8, 0.2])
    same = rank_agreement(a, 2 * a, k=2)
    assert same == {"k": 2, "overlap": 1.0, "shared": [1, 3], "spearman": pytest.approx(1.0)}
    reverse = rank_agreement(a, -a, k=2)
    assert reverse["overlap"] == 0.0 and reverse["spearman"] == pytest.approx(-1.0)
    assert np.isnan(rank_agreement(a, np.ones(5), k=1)["spearman"])


def test_relevance_and_auroc_agree_on_the_planted_layer() -> None:
    _, mask, acts = planted_layer()
    agreement = rank_agreement(relevance(acts, mask), np.abs(auroc(acts, mask) - 0.5), k=1)
    assert agreement["shared"] == [SPIKE_UNIT]


# --- errors ---------------------------------------------------------------------------------

ACTS = np.random.default_rng(8).standard_normal((50, 3))
MASK = np.arange(50) % 5 == 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: auroc(ACTS[:, 0], MASK), ValueError, "must be 2-D"),
        (lambda: auroc(ACTS, MASK[:10]), FeatureError, r"shape \(50,\).*got \(10,\)"),
        (lambda: auroc(ACTS, np.zeros(50, bool)), FeatureError, "matches none of the 50"),
        (lambda: point_biserial(ACTS, np.ones(50, bool)), FeatureError, "matches every token"),
        (lambda: correlation(ACTS, np.ones(50)), FeatureError, "constant"),
        (lambda: correlation(ACTS, np.full(50, np.nan)), FeatureError, "NaN or inf"),
        (lambda: correlation(ACTS, np.array(["a"] * 50)), FeatureError, "boolean or numeric"),
        (lambda: circular_shift_pvalues(ACTS, MASK, min_shift=0), ValueError, "min_shift.*>= 1"),
        (lambda: circular_shift_pvalues(ACTS, MASK, min_shift=26), ValueError, "no null shift"),
        (lambda: circular_shift_pvalues(ACTS, MASK, n_shifts=0), ValueError, "n_shifts"),
        (lambda: circular_shift_pvalues(ACTS[:2], MASK[:2]), ValueError, "at least 3 steps"),
        (lambda: circular_shift_test(ACTS, MASK, keep=[50]), ValueError, "< n_steps = 50"),
        (lambda: circular_shift_test(ACTS, MASK, keep=[-1]), ValueError, "integer shifts >= 0"),
        (lambda: circular_shift_test(ACTS, MASK, keep=[0.5]), ValueError, "integer shifts"),
        (lambda: benjamini_hochberg([0.1, 1.5]), ValueError, r"\[0, 1\], got \[1.5\]"),
        (lambda: benjamini_hochberg([np.nan]), ValueError, r"\[0, 1\]"),
        (lambda: rank_agreement([1, 2], [1, 2, 3], k=1), ValueError, "equal shape"),
        (lambda: rank_agreement([1, 2], [1, 2], k=3), ValueError, r"k.*\[1, 2\], got 3"),
        (lambda: rank_agreement([1, np.nan], [1, 2], k=1), ValueError, "NaN"),
    ],
)
def test_significance_errors(call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
