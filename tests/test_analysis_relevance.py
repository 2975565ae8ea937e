"""Tests for lib.analysis.relevance (Dahlberg's relevance, auto-detected windows) and the rankings
of lib.analysis.ranking that the Neuron Relevance page shows."""

from __future__ import annotations

import numpy as np
import pytest

from lib.analysis.features import FeatureError
from lib.analysis.relevance import HALF_WIDTH, auto_detect_windows, relevance
from tests.helpers import PERIOD_UNIT, SPIKE_UNIT, planted_layer


def test_relevance_hand_computed() -> None:
    # T = 5, feature at t = 0, 2, 4 (both edges, to exercise the reflect padding)
    acts = np.array(
        [
            [0.0, 3.0],
            [2.0, 1.0],
            [0.0, 2.0],
            [0.0, 2.0],
            [1.0, 0.0],
        ]
    )
    mask = np.array([True, False, True, False, True])
    # unit 0, a = 0 2 0 0 1, padded a_-1 := a_1 = 2 and a_5 := a_3 = 0:
    #   delta = |(0 + 0 + 1)/3 - (2 + 0)/2| = 2/3
    #   |2 a_t - a_t-1 - a_t+1| at t = 0, 2, 4: |0 - 2 - 2| = 4, |0 - 2 - 0| = 2, |2 - 0 - 0| = 2
    #   R_0 = 2/3 + (4 + 2 + 2)/3 = 10/3
    # unit 1, a = 3 1 2 2 0, padded a_-1 := 1 and a_5 := 2:
    #   delta = |(3 + 2 + 0)/3 - (1 + 2)/2| = 1/6
    #   spikes: |6 - 1 - 1| = 4, |4 - 1 - 2| = 1, |0 - 2 - 2| = 4
    #   R_1 = 1/6 + 9/3 = 19/6
    raw = relevance(acts, mask, normalize=False)
    np.testing.assert_allclose(raw, [10 / 3, 19 / 6])
    np.testing.assert_allclose(relevance(acts, mask), [1.0, 0.95])
    # float32 input gives the same numbers
    np.testing.assert_allclose(relevance(acts.astype(np.float32), mask), [1.0, 0.95], rtol=1e-6)


def test_relevance_reflects_without_repeating_the_edge() -> None:
    # a spike at t = 0: reflect padding (a_-1 := a_1) sees |2*5 - 0 - 0| = 10; repeating the
    # edge (a_-1 := a_0) would see only 5
    acts = np.array([[5.0], [0.0], [0.0], [0.0]])
    mask = np.array([True, False, False, False])
    assert relevance(acts, mask, normalize=False)[0] == pytest.approx(5.0 + 10.0)


def test_constant_activations_give_zeros() -> None:
    acts = np.ones((10, 3))
    mask = np.arange(10) % 3 == 0
    assert relevance(acts, mask).tolist() == [0.0, 0.0, 0.0]


def test_planted_spiking_unit_ranks_first() -> None:
    _, mask, acts = planted_layer()
    scores = relevance(acts, mask)
    assert scores.shape == (64,)
    assert int(np.argmax(scores)) == SPIKE_UNIT
    assert scores[SPIKE_UNIT] == 1.0
    runner_up = np.sort(scores)[-2]
    assert runner_up < 0.6  # clearly separated
    windows = auto_detect_windows(scores, 2, half_width=HALF_WIDTH["relevance"])
    assert windows[0] == [SPIKE_UNIT - 1, SPIKE_UNIT, SPIKE_UNIT + 1]


def test_auto_detect_windows_order_and_clipping() -> None:
    scores = np.array([0.9, 0.1, 0.2, 1.0, 0.3, 0.95])
    assert auto_detect_windows(scores, 3, half_width=1) == [[2, 3, 4], [4, 5], [0, 1]]
    assert auto_detect_windows(scores, 1, half_width=2) == [[1, 2, 3, 4, 5]]
    assert auto_detect_windows(scores, 1, half_width=0) == [[3]]
    # more hypotheses than units: one window per unit; NaN ranks last; ties: lower unit first
    assert auto_detect_windows([np.nan, 1.0, 1.0], 5, half_width=0) == [[1], [2], [0]]


@pytest.mark.parametrize(
    ("acts", "mask", "error", "match"),
    [
        (np.zeros(5), [True] * 5, ValueError, r"2-D \(n_steps, n_units\), got shape \(5,\)"),
        (np.zeros((2, 3)), [True, False], ValueError, "at least 3 steps.*got 2"),
        (np.zeros((5, 0)), [True] * 5, ValueError, "no unit"),
        (np.zeros((5, 2)), [True, False], FeatureError, r"shape \(5,\).*got \(2,\)"),
        (np.zeros((5, 2)), [False] * 5, FeatureError, "matches none of the 5 tokens"),
        (np.zeros((5, 2)), [True] * 5, FeatureError, "matches every token"),
        (np.full((5, 2), np.nan), [True] + [False] * 4, ValueError, "NaN or inf in 2 unit"),
        (np.array([["a"] * 2] * 5), [True] + [False] * 4, ValueError, "must hold numbers"),
    ],
)
def test_relevance_errors(acts, mask, error, match: str) -> None:
    with pytest.raises(error, match=match):
        relevance(acts, np.asarray(mask))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([], 1), "1-D.*non-empty"),
        (([[1.0]], 1), "1-D"),
        (([1.0, 2.0], 0), "n_hypotheses.*>= 1, got 0"),
        (([1.0, 2.0], 1.5), "n_hypotheses.*got 1.5"),
    ],
)
def test_auto_detect_errors(args, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        auto_detect_windows(*args, half_width=1)


def test_auto_detect_rejects_negative_half_width() -> None:
    with pytest.raises(ValueError, match="half_width.*got -1"):
        auto_detect_windows([1.0, 2.0], 1, half_width=-1)


# --- rankings (lib.analysis.ranking) ----------------------------------------------------------


def _ranking_layer():
    from lib.analysis.features import Feature

    tokens, mask, acts = planted_layer(n_steps=3000, n_units=64)
    rng = np.random.default_rng(1)
    acts[:, 5] = 1.5 * rng.standard_normal(3000)  # rough: top R, no link to the feature
    acts[:, 9] = 0.0  # dead
    return Feature("space", mask), acts


def test_rank_neurons_keeps_its_columns_and_its_order_by_R() -> None:
    from lib.analysis.features import Feature
    from lib.analysis.ranking import rank_neurons

    feature, acts = _ranking_layer()
    table = rank_neurons(acts, feature)
    assert list(table.columns) == [
        "neuron", "R", "AUROC", "r", "p", "q", "mean_inside", "mean_outside",
    ]  # fmt: skip
    assert (table["R"].diff().dropna() <= 0).all() and table["R"].iloc[0] == 1.0
    numeric = rank_neurons(acts, Feature("depth", np.arange(3000) % 40, kind="numeric"))
    assert list(numeric.columns) == ["neuron", "r", "|r|", "p", "q"]


def test_effect_ranking_orders_by_effect_or_R_and_gives_both_tops_an_interval() -> None:
    from lib.analysis.ranking import effect_ranking, order_by, ranking_agreement, reliability

    feature, acts = _ranking_layer()
    table = effect_ranking(acts, feature, n_ci=3)
    assert table.loc[0, "neuron"] == SPIKE_UNIT and table.loc[0, "finding"]
    assert table["neuron"].iloc[-1] == 9 and table["constant"].iloc[-1]
    by_r = order_by(table, "R")
    assert by_r["neuron"].tolist()[:3] == [SPIKE_UNIT, 5, PERIOD_UNIT]  # rough units next
    assert abs(by_r.loc[1, "R_z"]) < 3 and not by_r.loc[1:2, "finding"].any()
    assert by_r["neuron"].iloc[-1] == 9
    # the 3 largest effects and the 3 largest R have intervals: at most 6 neurons
    with_ci = set(table.loc[np.isfinite(table["ci_low"]), "neuron"])
    assert set(table["neuron"][:3]) | set(by_r["neuron"][:3]) == with_ci
    mask = feature.values
    inside = table.set_index("neuron")["mean_inside"]
    np.testing.assert_allclose(inside.sort_index(), acts[mask].astype(float).mean(axis=0))
    # ranking_agreement reads the effect column; reliability compares the chosen column
    agree = ranking_agreement(table, k=3)
    assert SPIKE_UNIT in agree["shared"]
    same = reliability(table, table.sample(frac=1.0, random_state=0), k=5, column="size")
    assert same["overlap"] == 1.0 and same["spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one of"):
        order_by(table, "AUROC")


def test_effect_headline_says_effect_interval_direction_and_test() -> None:
    import pandas as pd

    from lib.analysis.ranking import effect_headline, effect_ranking

    feature, acts = _ranking_layer()
    table = effect_ranking(acts, feature)
    row = table.iloc[0]
    text = effect_headline(table, "binary")
    assert text == (
        f"Neuron {SPIKE_UNIT}: AUROC {row['effect']:.2f} [{row['ci_low']:.2f}, "
        f"{row['ci_high']:.2f}], higher on the feature; survives the circular-shift test "
        "(q < 0.001)."
    )
    base = {"neuron": 3, "effect": 0.55, "size": 0.1, "direction": "higher on the feature"}
    base |= {"ci_low": 0.52, "ci_high": 0.58, "q": 0.002, "constant": False, "finding": False}
    small = effect_headline(pd.DataFrame([base]), "binary")
    assert "survives" in small and "below the minimum (AUROC between 0.4 and 0.6" in small
    weak = base | {"effect": -0.35, "size": 0.35, "direction": "falls with it", "q": 0.2}
    weak |= {"ci_low": np.nan, "ci_high": np.nan}
    text = effect_headline(pd.DataFrame([weak]), "numeric")
    assert text == (
        "Neuron 3: r -0.35, falls with it; does not survive the circular-shift test (q = 0.200)."
    )
    dead = effect_headline(pd.DataFrame([base | {"constant": True}]), "binary")
    assert dead.startswith("Every neuron of this layer is constant")
