"""Tests for lib.analysis.effects: effect sizes with block-bootstrap intervals, R_z, the table."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score

from lib.analysis import effects as E
from lib.analysis import significance as S
from lib.analysis.effects import (
    MIN_AUROC_EFFECT,
    MIN_CORRELATION,
    auroc_interval,
    block_length,
    correlation_interval,
    effect_table,
    rank_acts,
    ranked_auroc,
    relevance_z,
)
from lib.analysis.features import Feature, FeatureError
from lib.analysis.relevance import relevance
from lib.analysis.significance import benjamini_hochberg, circular_shift_pvalues
from tests.helpers import SPIKE_UNIT, ar1, planted_layer


def _block_mask(rng: np.random.Generator, n_steps: int, run: int = 10, share: float = 0.3):
    """A feature that comes in runs of `run` steps (like words or quotes), about `share` on."""
    return np.repeat(rng.random(n_steps // run + 1) < share, run)[:n_steps]


def _exact_interval(stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


# --- ranks and effects ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_rank_acts_gives_scipy_mid_ranks_and_flags_constant_units(dtype) -> None:
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((300, 6))
    acts[:, 1] = np.round(acts[:, 1])  # many ties
    acts[:, 2] = 0.0  # dead
    acts[:, 3] = 1.0  # saturated
    acts[:, 4] = np.where(rng.random(300) < 0.5, -0.0, 0.0)  # -0.0 and 0.0 are equal
    acts[:5, 4] = 1e-3  # ... and a few steps move: not constant
    acts = acts.astype(dtype)
    ranked = rank_acts(acts)
    np.testing.assert_array_equal(ranked.ranks, scipy.stats.rankdata(acts, axis=0))
    assert ranked.ranks.dtype == np.float32 and ranked.ranks.shape == (300, 6)
    assert ranked.constant.tolist() == [False, False, True, True, False, False]
    assert (ranked.n_steps, ranked.n_units) == (300, 6)


def test_ranked_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    acts = np.round(rng.standard_normal((400, 5)) * 2) / 2  # heavy ties
    for mask in (rng.random(400) < 0.2, rng.random(400) < 0.8):  # either group the smaller
        expected = [roc_auc_score(mask, acts[:, j]) for j in range(5)]
        np.testing.assert_allclose(ranked_auroc(rank_acts(acts), mask), expected, atol=1e-12)


def test_effects_match_sklearn_and_scipy_in_the_table() -> None:
    rng = np.random.default_rng(2)
    acts = ar1(rng, 1500, 8, phi=0.7, sd=1.0).astype(np.float32)
    mask = _block_mask(rng, 1500)
    acts[:, 3] += 0.8 * mask
    table = effect_table(acts, mask, ci_units=0).sort_values("neuron")
    auc = [roc_auc_score(mask, acts[:, j]) for j in range(8)]
    np.testing.assert_allclose(table["effect"], auc, atol=1e-12)
    np.testing.assert_allclose(table["size"], 2 * np.abs(np.array(auc) - 0.5), atol=1e-12)
    y = np.cumsum(rng.standard_normal(1500))
    numeric = effect_table(acts, y, ci_units=0).sort_values("neuron")
    r = [scipy.stats.pearsonr(acts[:, j], y).statistic for j in range(8)]
    np.testing.assert_allclose(numeric["effect"], r, atol=1e-6)
    assert "R" not in numeric.columns and "R_z" not in numeric.columns


def test_p_q_and_R_are_the_existing_methods() -> None:
    tokens, mask, acts = planted_layer(n_steps=1500, n_units=48)
    table = effect_table(acts, Feature("space", mask), ci_units=3).sort_values("neuron")
    p = circular_shift_pvalues(acts, mask)
    floor = 1 / (1 + 1500 - 2 * 15 + 1)
    beyond = p == floor  # the planted unit: its normal tail goes below the floor
    assert beyond.sum() == 1 and table["p"][beyond].item() < 1e-10
    np.testing.assert_allclose(table["p"][~beyond], p[~beyond])
    np.testing.assert_allclose(table["q"], benjamini_hochberg(table["p"]))
    np.testing.assert_allclose(table["R"], relevance(acts, mask), rtol=1e-5, atol=1e-6)


# --- the block bootstrap ----------------------------------------------------------------------


def test_block_length() -> None:
    assert block_length(100_000) == 64  # n^(1/3) = 46.4 < the floor of 64 tokens
    assert block_length(10**6) == 100
    assert block_length(8_000_000) == 200
    assert block_length(200) == 25  # at least 8 blocks
    assert block_length(3) == 1
    with pytest.raises(ValueError, match="integer >= 1, got 0"):
        block_length(0)


def test_resamples_join_whole_blocks_of_about_the_text_length() -> None:
    counts, sub = E._coverage(1000, 64, 50, np.random.default_rng(0))
    sizes = np.bincount(sub)
    assert sizes.tolist() == [32] * 31 + [8]  # sub-blocks of 64 / 2 steps
    # 16 blocks of 2 sub-blocks: 1,024 steps, less 24 each time the short one is drawn
    np.testing.assert_array_equal(counts @ sizes, 16 * 64 - 24 * counts[:, -1])
    # every sub-block is equally likely: mean count 1 (50 x 32 draws)
    assert abs(counts.mean() - 1.0) < 0.1


def _weights(n_steps: int, n_boot: int, seed: int) -> np.ndarray:
    """Per-step weights of each resample: the same draws as the interval functions."""
    block = block_length(n_steps)
    counts, sub = E._coverage(n_steps, block, n_boot, np.random.default_rng(seed))
    return counts[:, sub]


def test_auroc_interval_matches_an_exact_bootstrap_on_the_same_resamples() -> None:
    rng = np.random.default_rng(3)
    n_steps = 1200
    mask = _block_mask(rng, n_steps)
    acts = ar1(rng, n_steps, 4, phi=0.6, sd=1.0)
    acts[:, 0] += 1.5 * mask  # strong
    acts[:, 1] += 0.4 * mask  # weak
    acts[:, 3] = np.round(acts[:, 3])  # ties, within and across bins
    weights = _weights(n_steps, 100, 7)
    exact = np.array(
        [[roc_auc_score(mask, acts[:, j], sample_weight=w) for j in range(4)] for w in weights]
    )
    # every resample's binned AUROC against sklearn's on the same resample
    counts, sub = E._coverage(n_steps, block_length(n_steps), 100, np.random.default_rng(7))
    binned = E._auroc_resamples(rank_acts(acts).ranks, mask, counts, sub)
    assert np.abs(binned - exact).max() < 0.002
    # and the intervals: the same draws give the exact percentile interval
    low, high = auroc_interval(acts, mask, n_boot=100, seed=7)
    for j in range(4):
        np.testing.assert_allclose([low[j], high[j]], _exact_interval(exact[:, j]), atol=0.002)
    assert low[0] > 0.7 and high[0] - low[0] < 0.15


def test_correlation_interval_matches_an_exact_bootstrap_on_the_same_resamples() -> None:
    rng = np.random.default_rng(4)
    n_steps = 900
    y = ar1(rng, n_steps, 1, phi=0.9, sd=1.0)[:, 0]
    acts = ar1(rng, n_steps, 3, phi=0.5, sd=1.0) + np.outer(y, [0.5, 0.0, -0.2]) + 10.0
    low, high = correlation_interval(acts, y, n_boot=80, seed=3)
    weights = _weights(n_steps, 80, 3)
    for j in range(3):
        covs = [np.cov(acts[:, j], y, fweights=w.astype(int)) for w in weights]
        lo, hi = _exact_interval(np.array([c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]) for c in covs]))
        np.testing.assert_allclose([low[j], high[j]], [lo, hi], atol=1e-9)


def test_intervals_only_for_the_units_asked_for() -> None:
    rng = np.random.default_rng(5)
    acts = rng.standard_normal((600, 5))
    mask = _block_mask(rng, 600)
    low, high = auroc_interval(acts, mask, units=[3, 1])
    assert np.isfinite(low[[1, 3]]).all() and np.isnan(low[[0, 2, 4]]).all()
    assert (low[[1, 3]] < high[[1, 3]]).all()
    # the same draws whether a unit is asked for alone or with others, ranks given or not
    alone = auroc_interval(acts, mask, units=3, ranked=rank_acts(acts))
    np.testing.assert_allclose([alone[0][3], alone[1][3]], [low[3], high[3]])
    low, high = correlation_interval(acts, mask, units=[])
    assert np.isnan(low).all() and np.isnan(high).all()


def test_units_in_chunks_give_the_same_intervals(monkeypatch) -> None:
    rng = np.random.default_rng(17)
    acts = ar1(rng, 2000, 7, phi=0.5, sd=1.0)
    mask = _block_mask(rng, 2000)
    whole = auroc_interval(acts, mask, seed=2)
    y = np.cumsum(rng.standard_normal(2000))
    whole_r = correlation_interval(acts, y, seed=2)
    monkeypatch.setattr(E, "HIST_BYTES", 1)  # one unit per chunk
    np.testing.assert_array_equal(auroc_interval(acts, mask, seed=2), whole)
    np.testing.assert_allclose(correlation_interval(acts, y, seed=2), whole_r, rtol=1e-12)


def test_intervals_cover_the_true_effect_at_about_the_nominal_rate() -> None:
    # AR(1) units (phi 0.8, marginal sd sigma) plus delta on a run-structured feature: the
    # population AUROC is Phi(delta / (sigma sqrt 2)); numeric: x = beta y + noise with
    # y an AR(1) (phi 0.95), so r = beta sd_y / sqrt(beta^2 sd_y^2 + sigma^2)
    n_steps, n_units, phi = 4000, 200, 0.8
    sigma = 1 / np.sqrt(1 - phi**2)
    sd_y = 1 / np.sqrt(1 - 0.95**2)
    delta = np.linspace(0.0, 1.5, n_units) * sigma
    beta = np.linspace(0.0, 1.0, n_units) * sigma / sd_y
    true_auc = scipy.stats.norm.cdf(delta / (sigma * np.sqrt(2)))
    true_r = beta * sd_y / np.sqrt(beta**2 * sd_y**2 + sigma**2)
    auc_hits, r_hits = [], []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        mask = _block_mask(rng, n_steps)
        acts = ar1(rng, n_steps, n_units, phi=phi, sd=1.0) + np.outer(mask, delta)
        low, high = auroc_interval(acts, mask, seed=seed)
        auc_hits.append((low <= true_auc) & (true_auc <= high))
        y = ar1(rng, n_steps, 1, phi=0.95, sd=1.0)[:, 0]
        x = np.outer(y, beta) + ar1(rng, n_steps, n_units, phi=phi, sd=1.0)
        low, high = correlation_interval(x, y, seed=seed)
        r_hits.append((low <= true_r) & (true_r <= high))
    # 800 intervals each at 95 %: block-bootstrap percentile intervals run a little short
    assert 0.89 <= np.mean(auc_hits) <= 0.985, np.mean(auc_hits)
    assert 0.89 <= np.mean(r_hits) <= 0.985, np.mean(r_hits)


def test_a_narrower_confidence_gives_a_narrower_interval() -> None:
    rng = np.random.default_rng(6)
    acts = rng.standard_normal((800, 3))
    mask = _block_mask(rng, 800)
    wide = auroc_interval(acts, mask, confidence=0.95)
    narrow = auroc_interval(acts, mask, confidence=0.5)
    assert (narrow[0] > wide[0]).all() and (narrow[1] < wide[1]).all()


# --- R_z --------------------------------------------------------------------------------------


def test_relevance_z_against_relevance_of_rolled_masks() -> None:
    rng = np.random.default_rng(7)
    n_steps = 503  # prime: the FFTs are padded and wrapped back
    acts = ar1(rng, n_steps, 4, phi=0.5, sd=1.0)
    mask = _block_mask(rng, n_steps, run=3)
    acts[:, 0] += mask
    shifts = E._null_shifts(n_steps, 30, 4)
    assert shifts.size == 30 and shifts.min() >= 5 and shifts.max() <= n_steps - 5
    scores = np.stack([relevance(acts, np.roll(mask, s), normalize=False) for s in shifts], 1)
    observed = relevance(acts, mask, normalize=False)
    expected = (observed - scores.mean(axis=1)) / scores.std(axis=1, ddof=1)
    np.testing.assert_allclose(relevance_z(acts, mask, n_shifts=30, seed=4), expected, rtol=1e-9)


def test_a_rough_unrelated_neuron_has_a_high_R_but_no_R_z_and_no_finding() -> None:
    rng = np.random.default_rng(8)
    n_steps = 3000
    mask = _block_mask(rng, n_steps, run=4, share=0.25)
    acts = ar1(rng, n_steps, 20, phi=0.9, sd=0.2)  # smooth units
    rough, real = 5, 12
    acts[:, rough] = 1.5 * rng.standard_normal(n_steps)  # high-frequency noise
    acts[:, real] += 0.5 * mask
    table = effect_table(acts.astype(np.float32), mask, ci_units=5).set_index("neuron")
    assert table["R"].idxmax() == rough and table.loc[rough, "R"] == 1.0
    assert abs(table.loc[rough, "R_z"]) < 3 and not table.loc[rough, "finding"]
    assert table.loc[real, "R_z"] > 10 and table.loc[real, "finding"]
    assert table["R_z"].idxmax() == real


# --- the table --------------------------------------------------------------------------------


def test_a_fake_feature_finds_nothing_while_the_planted_unit_is_found() -> None:
    tokens, mask, acts = planted_layer(n_steps=4000, n_units=64)
    rng = np.random.default_rng(9)
    fake = _block_mask(rng, 4000, run=8, share=0.15)  # a random block mask, unrelated
    table = effect_table(acts, fake, ci_units=None)
    assert table["finding"].mean() <= 0.05 and np.isfinite(table["ci_low"]).all()
    real = effect_table(acts, Feature("space", mask))
    assert real.loc[0, "neuron"] == SPIKE_UNIT and real.loc[0, "finding"]
    assert real.loc[0, "direction"] == "higher on the feature" and real.loc[0, "effect"] > 0.9
    assert real["finding"].sum() == 1
    # the found unit's interval lies above chance; the AR(1) neighbours' contain it
    assert real.loc[0, "ci_low"] > 0.5 + MIN_AUROC_EFFECT


def test_columns_order_and_interval_choice() -> None:
    rng = np.random.default_rng(10)
    n_steps = 2000
    mask = _block_mask(rng, n_steps)
    acts = rng.standard_normal((n_steps, 12))
    acts[:, 2] += 1.0 * mask  # higher on the feature
    acts[:, 7] -= 0.6 * mask  # lower on it
    acts[:, 9] += 0.05 * mask  # tiny: below the minimum whatever its p
    table = effect_table(acts, mask, ci_units=3, seed=1)
    assert list(table.columns) == [
        "neuron", "effect", "size", "direction", "ci_low", "ci_high", "p", "q",
        "constant", "finding", "R", "R_z",
    ]  # fmt: skip
    assert table["neuron"].tolist()[:2] == [2, 7] and table["finding"].tolist()[:3] == [
        True,
        True,
        False,
    ]
    assert table.loc[1, "direction"] == "lower on the feature" and table.loc[1, "effect"] < 0.4
    # ci_units=3: the three largest sizes have an interval, the rest none
    has_ci = np.isfinite(table["ci_low"])
    assert has_ci.sum() == 3 and has_ci[:3].all()
    assert (table["ci_low"][has_ci] <= table["effect"][has_ci]).all()
    assert (table["effect"][has_ci] <= table["ci_high"][has_ci]).all()
    # findings first, then size descending
    assert (np.diff(table["size"][~table["finding"]]) <= 0).all()
    picked = effect_table(acts, mask, ci_units=[9, 0])
    assert sorted(picked.loc[np.isfinite(picked["ci_low"]), "neuron"]) == [0, 9]
    none = effect_table(acts, mask, ci_units=0)
    assert np.isnan(none["ci_low"]).all() and none["finding"].sum() == 2


def test_minimum_effect_sizes() -> None:
    assert MIN_AUROC_EFFECT == 0.1
    # the same concordance bar: 1/2 + arcsin(r) / pi - 1/2 = 0.1 at r = MIN_CORRELATION
    assert np.arcsin(MIN_CORRELATION) / np.pi == pytest.approx(MIN_AUROC_EFFECT)
    # a significant effect below the minimum is not a finding: 20,000 steps make a
    # small shift highly significant
    rng = np.random.default_rng(11)
    mask = _block_mask(rng, 20_000)
    acts = rng.standard_normal((20_000, 2)).astype(np.float32)
    acts[:, 0] += 0.2 * mask  # AUROC ~ 0.556
    row = effect_table(acts, mask, ci_units=0).set_index("neuron").loc[0]
    assert row["q"] < 0.01 and row["ci_low"] != row["ci_low"]  # NaN: no interval asked
    assert 0.5 < row["effect"] < 0.5 + MIN_AUROC_EFFECT and not row["finding"]


def test_numeric_feature_directions_and_findings() -> None:
    rng = np.random.default_rng(12)
    n_steps = 3000
    depth = np.cumsum(rng.choice([-1, 0, 1], size=n_steps))  # a slowly wandering feature
    acts = ar1(rng, n_steps, 10, phi=0.5, sd=1.0)
    acts[:, 4] += 0.3 * (depth - depth.mean())
    acts[:, 6] -= 0.3 * (depth - depth.mean())
    table = effect_table(acts, Feature("depth", depth, kind="numeric"), ci_units=4)
    assert set(table["neuron"][:2]) == {4, 6} and table["finding"][:2].all()
    assert table["finding"].sum() == 2
    direction = table.set_index("neuron")["direction"]
    assert direction[4] == "rises with it" and direction[6] == "falls with it"


def test_constant_and_dead_units_are_flagged_and_ranked_last() -> None:
    rng = np.random.default_rng(13)
    n_steps = 1000
    mask = _block_mask(rng, n_steps)
    acts = rng.standard_normal((n_steps, 6)).astype(np.float32)
    acts[:, 1] = 0.0  # dead
    acts[:, 4] = 1.0  # saturated
    for feature in (mask, np.cumsum(rng.standard_normal(n_steps))):
        table = effect_table(acts, feature, ci_units=None)
        assert table["neuron"].tolist()[-2:] == [1, 4]
        last = table.tail(2)
        assert last["constant"].all() and not last["finding"].any()
        assert (last["size"] == 0).all() and (last["direction"] == "constant").all()
        assert (last["p"] == 1).all()
        assert not table["constant"][:4].any()
    assert (table.tail(2)["effect"] == 0).all()
    binary = effect_table(acts, mask).set_index("neuron")
    assert binary.loc[1, "effect"] == 0.5 and binary.loc[1, "R_z"] == 0 == binary.loc[1, "R"]


def test_a_table_without_relevance_has_the_same_other_columns() -> None:
    tokens, mask, acts = planted_layer(n_steps=1200, n_units=48)
    full = effect_table(acts, mask, ci_units=4)
    lean = effect_table(acts, mask, ci_units=4, with_relevance=False)
    assert "R" not in lean.columns and "R_z" not in lean.columns
    assert lean.equals(full.drop(columns=["R", "R_z"]))
    numeric = np.arange(1200.0)
    assert effect_table(acts, numeric, with_relevance=False).equals(effect_table(acts, numeric))


def test_ranks_given_or_not_give_the_same_table() -> None:
    tokens, mask, acts = planted_layer(n_steps=1200, n_units=48)
    ranked = rank_acts(acts)
    a = effect_table(acts, mask, ranked=ranked, ci_units=4)
    b = effect_table(acts, mask, ci_units=4)
    assert a.equals(b)


def _planted_with_ties(n_steps: int = 1500, n_units: int = 48):
    """A planted layer whose units are rounded to 0.25 (many ties), two binary features."""
    tokens, mask, acts = planted_layer(n_steps=n_steps, n_units=n_units)
    acts = (np.round(acts * 4) / 4).astype(np.float32)
    acts[:, 5] = 0.0  # dead
    other = _block_mask(np.random.default_rng(3), n_steps, run=7, share=0.6)
    return tokens, acts, mask, other


def test_auroc_from_shared_ranks_equals_the_sorting_auroc_and_sklearn_with_ties() -> None:
    from lib.analysis.significance import auroc

    _, acts, mask, other = _planted_with_ties()
    ranked = rank_acts(acts)
    for m in (mask, other):  # ~15 % and ~60 % of the steps: both sums of ranks
        from_ranks = ranked_auroc(ranked, m)
        np.testing.assert_array_equal(from_ranks, auroc(acts, m))  # exactly
        expected = [roc_auc_score(m, acts[:, j]) for j in range(48)]  # dead unit 5: 0.5
        np.testing.assert_allclose(from_ranks, expected, atol=1e-12)


def test_rank_neurons_with_shared_ranks_equals_the_uncached_table() -> None:
    from lib.analysis.ranking import effect_ranking, rank_neurons

    _, acts, mask, other = _planted_with_ties()
    ranked = rank_acts(acts)
    for m in (mask, other):
        feature = Feature("f", m)
        pd.testing.assert_frame_equal(
            rank_neurons(acts, feature, ranked=ranked),
            rank_neurons(acts, feature),
            check_exact=True,
        )
        pd.testing.assert_frame_equal(
            effect_ranking(acts, feature, ranked=ranked, n_boot=50),
            effect_ranking(acts, feature, n_boot=50),
            check_exact=True,
        )
    with pytest.raises(ValueError, match="rank_acts"):
        rank_neurons(acts, Feature("f", mask), ranked=rank_acts(acts[:, :3]))


def _counting_rank_acts(monkeypatch) -> list:
    calls: list = []

    def counted(acts):
        calls.append(np.shape(acts))
        return rank_acts(acts)

    monkeypatch.setattr(E, "rank_acts", counted)  # dashboard.cache and auroc_interval's
    return calls


def test_a_second_feature_on_the_same_trace_reuses_the_ranks(monkeypatch) -> None:
    from dashboard import cache
    from lib.analysis.ranking import effect_ranking, rank_neurons

    _, acts, mask, other = _planted_with_ties()
    features = [Feature("space", mask), Feature("runs", other)]
    expected_neurons = [rank_neurons(acts, f) for f in features]
    expected_effects = [effect_ranking(acts, f) for f in features]
    for fn in (cache._unit_ranks, cache._unit_spectra, cache.neuron_table):
        fn.clear()
    cache.effect_ranking_table.clear()
    calls = _counting_rank_acts(monkeypatch)
    transforms: list = []
    real_spectra = S.shift_spectra
    monkeypatch.setattr(S, "shift_spectra", lambda a: transforms.append(a.shape) or real_spectra(a))
    for f, neurons, effects in zip(features, expected_neurons, expected_effects, strict=True):
        digest = cache.feature_digest(f)
        got = cache.neuron_table("trace-a", 0, "h", digest, acts, f)
        pd.testing.assert_frame_equal(got, neurons, check_exact=True)
        got = cache.effect_ranking_table("trace-a", 0, "h", digest, acts, f)
        pd.testing.assert_frame_equal(got, effects, check_exact=True)
    assert calls == [acts.shape]  # ranked once for both features and both tables
    assert transforms == [acts.shape]  # and the shift test's forward FFTs taken once
    cache.neuron_table("trace-a", 0, "c", cache.feature_digest(features[0]), acts, features[0])
    assert len(calls) == 2  # another signal: its own ranks
    numeric = Feature("ramp", np.arange(acts.shape[0], dtype=float), kind="numeric")
    cache.neuron_table("trace-a", 1, "h", cache.feature_digest(numeric), acts, numeric)
    assert len(calls) == 2  # Pearson r needs no ranks
    assert len(transforms) == 3  # but its p-values share the FFTs of their own layer


def test_shift_spectra_give_the_same_pvalues_and_cross_covariances_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for n_steps, dtype in ((1000, np.float32), (997, np.float64), (1302, np.float16)):
        acts = rng.standard_normal((n_steps, 70)).astype(dtype)  # two unit blocks
        acts[:, 5] = 2.0  # a constant unit
        mask = rng.random(n_steps) < 0.2
        spectra = S.shift_spectra(acts)
        for feature in (mask, rng.standard_normal(n_steps)):
            keep = np.array([0, 3, n_steps // 2])
            fresh = S.circular_shift_test(acts, feature, keep=keep, tail=True)
            again = S.circular_shift_test(acts, feature, keep=keep, tail=True, spectra=spectra)
            assert np.array_equal(fresh[0], again[0]) and np.array_equal(fresh[1], again[1])
    with pytest.raises(ValueError, match="taken of 1302 steps x 70 units"):
        S.circular_shift_test(acts[:-1], mask[:-1], spectra=spectra)


def test_the_atlas_ranks_each_layer_once(monkeypatch) -> None:
    from lib.analysis import atlas as A
    from lib.analysis.feature_bank import feature_bank
    from lib.run.trace import Trace

    tokens, acts, _, _ = _planted_with_ties(n_steps=3000)
    T = len(tokens)
    trace = Trace(
        tokens=tokens,
        ids=np.unique(np.array(tokens), return_inverse=True)[1],
        signals={(0, "h"): acts},
        topk_ids=np.zeros((T, 1), np.int32),
        topk_probs=np.ones((T, 1), np.float32),
        next_prob=np.ones(T, np.float32),
    )
    bank = feature_bank(tokens, level="char", kind="prose")
    assert sum(f.kind == "binary" for f in bank.features) >= 2
    with monkeypatch.context() as m:  # as before: intervals sort their units again, R kept
        m.setattr(A, "auroc_interval", lambda *a, ranked=None, **k: auroc_interval(*a, **k))
        m.setattr(A, "effect_table", lambda *a, with_relevance=True, **k: effect_table(*a, **k))
        expected = A.atlas(trace, 0, level="char", bank=bank, n_boot=50).table
    calls = _counting_rank_acts(monkeypatch)
    monkeypatch.setattr(A, "rank_acts", E.rank_acts)
    got = A.atlas(trace, 0, level="char", bank=bank, n_boot=50).table
    assert calls == [acts.shape]  # once for every feature, the intervals included
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


@pytest.mark.parametrize(
    ("feature", "match"),
    [
        (np.zeros(500, bool), "matches none of the 500"),
        (np.ones(500, bool), "matches every token"),
        (np.ones(500), "constant"),
        (np.zeros(400, bool), r"shape \(500,\)"),
    ],
)
def test_bad_features_get_a_message(feature, match: str) -> None:
    acts = np.random.default_rng(14).standard_normal((500, 3))
    with pytest.raises(FeatureError, match=match):
        effect_table(acts, feature)


def test_a_text_too_short_for_the_shift_test_gets_a_message() -> None:
    rng = np.random.default_rng(15)
    acts = rng.standard_normal((60, 3))
    with pytest.raises(FeatureError, match="60 tokens: too short.*at least 10[0-9]"):
        effect_table(acts, rng.random(60) < 0.5)
    # a stricter alpha needs a longer text
    acts = rng.standard_normal((300, 3))
    with pytest.raises(FeatureError, match=r"p < 0.001 \(it needs at least 10[0-9][0-9]\)"):
        effect_table(acts, rng.random(300) < 0.5, alpha=0.001)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda a, m: effect_table(a, m, alpha=0), ValueError, "alpha.*got 0"),
        (lambda a, m: effect_table(a, m, ci_units=-1), ValueError, "ci_units.*got -1"),
        (lambda a, m: effect_table(a, m, ranked=rank_acts(a[:, :2])), ValueError, "rank_acts"),
        (lambda a, m: effect_table(a[:, 0], m), ValueError, "must be 2-D"),
        (lambda a, m: auroc_interval(a, m, n_boot=5), ValueError, "n_boot.*>= 10, got 5"),
        (lambda a, m: auroc_interval(a, m, block=200), ValueError, "block.*100.*got 200"),
        (lambda a, m: auroc_interval(a, m, confidence=1.0), ValueError, "confidence"),
        (lambda a, m: auroc_interval(a, m, units=[3]), ValueError, r"\[0, 3\), got \[3\]"),
        (lambda a, m: correlation_interval(a, np.ones(200)), FeatureError, "constant"),
        (lambda a, m: relevance_z(a, m, n_shifts=1), ValueError, "n_shifts.*>= 2"),
        (lambda a, m: relevance_z(a, ~m | m), FeatureError, "matches every token"),
    ],
)
def test_argument_errors(call, error, match: str) -> None:
    rng = np.random.default_rng(16)
    acts = rng.standard_normal((200, 3))
    with pytest.raises(error, match=match):
        call(acts, rng.random(200) < 0.3)


def test_examples() -> None:
    result = doctest.testmod(E, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
