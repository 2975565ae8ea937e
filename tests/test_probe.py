"""The sparse linear probe: planted features in one unit, spread over five, and fake ones."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from lib.analysis import probe as PR
from lib.analysis.probe import block_split, probe_steps, sparse_probe
from lib.run.trace import ConcatRows
from tests.helpers import ar1

T, UNITS = 12_000, 40


def _layer(seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    """AR(1) noise units (phi 0.8) and a feature that comes in runs, like a real one."""
    rng = np.random.default_rng(seed)
    acts = ar1(rng, T, UNITS, phi=0.8, sd=0.6)
    starts = rng.random(T) < 0.05
    mask = np.convolve(starts, np.ones(6), mode="same") > 0  # runs of ~6 steps, ~25 %
    return rng, acts, mask


# --- the split and the subsample ----------------------------------------------------------


def test_block_split_by_hand_and_no_step_on_both_sides() -> None:
    train, test = block_split(20, 0.3)
    assert test.tolist() == [2, 3, 10, 11, 16, 17]  # blocks 1, 5 and 8 of 10
    assert train.tolist() == sorted(set(range(20)) - set(test.tolist()))
    for n, fraction in [(1000, 0.3), (1003, 0.25), (57, 0.5), (10, 0.05), (999, 0.99)]:
        train, test = block_split(n, fraction)
        assert np.intersect1d(train, test).size == 0  # no step on both sides
        assert np.union1d(train, test).tolist() == list(range(n))  # every step, once
        # held out: whole blocks (every step of a held block, none of the others), as many
        # as the fraction asks for, at least one and never all
        block_of = np.arange(n) * 10 // n
        held = np.unique(block_of[test])
        assert np.array_equal(np.flatnonzero(np.isin(block_of, held)), test)
        assert len(held) == min(max(round(fraction * 10), 1), 9)
    train, test = block_split(1000, 0.3)
    assert len(test) == 300


@pytest.mark.parametrize(
    ("args", "message"),
    [((20, 0.0), r"in \(0, 1\)"), ((20, 1.0), r"in \(0, 1\)"), ((5, 0.3), "at least n_blocks")],
)
def test_block_split_refuses_bad_settings(args, message) -> None:
    with pytest.raises(ValueError, match=message):
        block_split(*args)


def test_probe_steps_subsample_in_text_order() -> None:
    assert probe_steps(50, max_steps=100).tolist() == list(range(50))
    steps = probe_steps(100_000, max_steps=2000, seed=3)
    assert len(steps) == 2000 == len(np.unique(steps))
    assert (np.diff(steps) > 0).all() and steps[0] >= 0 and steps[-1] < 100_000
    assert np.array_equal(steps, probe_steps(100_000, max_steps=2000, seed=3))
    assert not np.array_equal(steps, probe_steps(100_000, max_steps=2000, seed=4))
    # uniform over the text, not bunched: every tenth of the text gets about a tenth
    counts = np.bincount(steps * 10 // 100_000, minlength=10)
    assert counts.min() > 150


# --- pieces against independent computations ---------------------------------------------


def test_min_c_equals_sklearn_for_balanced_classes_and_bounds_the_path() -> None:
    from sklearn.svm import l1_min_c

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = np.arange(400) % 2 == 0  # exactly balanced: every class weight is 1
    X[:, 3] += y
    assert PR._min_c(X, y) == pytest.approx(l1_min_c(X, y, loss="log"), rel=1e-12)
    # imbalanced: below C_min no unit is chosen, just above it one is
    y = rng.random(3000) < 0.2
    acts = rng.normal(size=(3000, 6))
    acts[:, 4] += 1.5 * y
    train, _ = block_split(3000, 0.3)
    Xs = acts[train]
    c0 = PR._min_c((Xs - Xs.mean(0)) / Xs.std(0), y[train])
    result = sparse_probe(acts, y, Cs=[0.98 * c0, 1.02 * c0])
    assert result.path["n_neurons"].tolist() == [0, 1]
    assert result.path["neurons"].iloc[1] == [4]


def test_single_unit_thresholds_equal_brute_force() -> None:
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(2)
    A = np.round(rng.normal(size=(150, 5)), 1)  # ties on purpose
    y = rng.random(150) < 0.3
    A[:, 1] = np.round(A[:, 1] - 0.8 * y, 1)  # low on the feature: direction -1
    A[:, 4] = 0.0  # a constant unit: no cut, 0.5
    acc, thr, direction = PR._thresholds(A, y)
    for j in range(5):
        best = 0.5
        for t in np.unique(A[:, j]):
            for d in (1, -1):
                best = max(best, balanced_accuracy_score(y, d * (A[:, j] - t) > 0))
        assert acc[j] == pytest.approx(best, abs=1e-12)
        # the threshold and direction found reproduce that accuracy
        assert balanced_accuracy_score(y, direction[j] * (A[:, j] - thr[j]) > 0) == (
            pytest.approx(acc[j], abs=1e-12)
        )
    assert direction[1] == -1 and acc[4] == 0.5


# --- planted features --------------------------------------------------------------------


def test_a_feature_in_one_unit_is_found_by_one_unit() -> None:
    rng, acts, mask = _layer(0)
    acts[:, 7] += 3.0 * mask  # d' = 3 (the noise has sd 1): a clear signal
    result = sparse_probe(acts, mask)
    best = result.best_single.iloc[0]
    assert int(best["neuron"]) == 7
    one = result.path[result.path["n_neurons"] == 1]
    assert len(one) and all(n == [7] for n in one["neurons"])
    # one unit in the probe does as well as that unit alone, and more units add nothing
    assert abs(one["accuracy"].max() - best["accuracy"]) < 0.03
    assert result.path["accuracy"].max() - best["accuracy"] < 0.03
    assert best["accuracy"] > 0.85
    assert result.n_train + result.n_test == T and result.n_test == int(0.3 * T)


def test_a_feature_spread_over_five_units_needs_about_five() -> None:
    rng, acts, mask = _layer(1)
    planted = [3, 11, 19, 27, 35]
    acts[:, planted] += 0.55 * mask[:, None]
    result = sparse_probe(acts, mask)
    path, best = result.path, result.best_single.iloc[0]
    top = path["accuracy"].max()
    assert int(best["neuron"]) in planted
    assert top > best["accuracy"] + 0.08  # together they beat any one of them
    # the fewest units that come within 0.02 of the best are about five: the planted ones
    near = path[path["accuracy"] >= top - 0.02].sort_values("n_neurons").iloc[0]
    assert 4 <= near["n_neurons"] <= 8
    assert len(set(near["neurons"]) & set(planted)) >= 4
    # with one or two units the probe is clearly short of its best
    few = path[(path["n_neurons"] >= 1) & (path["n_neurons"] <= 2)]
    assert len(few) and (few["accuracy"] < top - 0.03).all()


def test_a_fake_feature_scores_chance() -> None:
    rng, acts, _ = _layer(2)
    fake = rng.random(T) < 0.3  # unrelated to every unit
    result = sparse_probe(acts, fake)
    assert result.path["accuracy"].between(0.45, 0.55).all(), result.path
    assert result.best_single["accuracy"].between(0.45, 0.55).all()
    # the real-looking feature of the same layer is no better: nothing was planted
    _, _, mask = _layer(2)
    assert sparse_probe(acts, mask).path["accuracy"].between(0.44, 0.56).all()


def test_block_split_does_not_leak_where_a_random_split_would() -> None:
    """A feature that is slow drift (long runs) in a slowly drifting unit with no link to
    it: contiguous blocks score chance, a random split of steps would not."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(5)
    acts = ar1(rng, T, 4, phi=0.999, sd=0.1)  # near random walks
    mask = np.repeat(rng.random(T // 400) < 0.5, 400)  # runs of 400 steps, independent
    result = sparse_probe(acts, mask)
    assert result.path["accuracy"].between(0.3, 0.7).all()
    # a random split of steps: every held-out step has near-copies in training, so even a
    # nearest-neighbour reading "predicts" the unrelated feature
    random_test = rng.random(T) < 0.3
    knn = KNeighborsClassifier(1).fit(acts[~random_test], mask[~random_test])
    assert balanced_accuracy_score(mask[random_test], knn.predict(acts[random_test])) > 0.9
    # the same reader across contiguous blocks is back at chance
    train, test = block_split(T, 0.3)
    knn = KNeighborsClassifier(1).fit(acts[train], mask[train])
    assert 0.3 < balanced_accuracy_score(mask[test], knn.predict(acts[test])) < 0.7


def test_the_path_stops_once_it_keeps_max_neurons() -> None:
    rng, acts, _ = _layer(6)
    fake = rng.random(T) < 0.3
    full = sparse_probe(acts, fake, max_neurons=None)
    assert len(full.path) == len(PR.PATH_FACTORS)
    short = sparse_probe(acts, fake, max_neurons=3)
    n = short.path["n_neurons"].tolist()
    assert n[-1] >= 3 and all(k < 3 for k in n[:-1])
    assert short.path.equals(full.path.iloc[: len(n)])  # the same fits, cut short


def test_storage_kinds_give_the_same_probe(tmp_path) -> None:
    rng, acts, mask = _layer(3)
    acts[:, 2] += 1.0 * mask
    acts = acts.astype(np.float32)
    Cs = [0.01, 0.1]
    want = sparse_probe(acts, mask, Cs=Cs, max_steps=5000)
    np.save(tmp_path / "a.npy", acts)
    for arr in (np.load(tmp_path / "a.npy", mmap_mode="r"), ConcatRows([acts[:5000], acts[5000:]])):
        got = sparse_probe(arr, mask, Cs=Cs, max_steps=5000)
        assert got.path.equals(want.path) and got.best_single.equals(want.best_single)
    assert want.n_train + want.n_test == 5000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("absent_from_test", "held-out part"),
        ("nan", "NaN or inf"),
        ("short_mask", "mask"),
        ("bad_c", "positive finite"),
        ("one_d", "2-D"),
    ],
)
def test_bad_input_says_the_rule(change, message) -> None:
    rng, acts, mask = _layer(4)
    kwargs = {}
    if change == "absent_from_test":
        mask = np.zeros(T, dtype=bool)
        mask[:900] = True  # only in the first block, which is for training
    elif change == "nan":
        acts[5, 3] = np.nan
    elif change == "short_mask":
        mask = mask[:-1]
    elif change == "bad_c":
        kwargs = {"Cs": [1.0, -1.0]}
    elif change == "one_d":
        acts = acts[:, 0]
    with pytest.raises(ValueError, match=message):
        sparse_probe(acts, mask, **kwargs)


def test_docstring_examples() -> None:
    result = doctest.testmod(PR, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
