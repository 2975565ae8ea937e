"""Pattern search: planted repeats are found and ranked first; counts against brute force."""

import numpy as np
import pytest

from lib.analysis.patterns import pattern, search

PATTERN = [2, 5, 7]


def planted(seed=0):
    """Background below 0.5 with sporadic single-step spikes; the pattern's neurons are on
    during [20, 27] and again during [70, 77]; a decoy at [40, 47] has two of them on plus
    two other neurons."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(-0.4, 0.4, size=(120, 12))
    spikes = rng.random(acts.shape) < 0.05
    acts[spikes] = 0.9
    for start in (20, 70):
        acts[start - 1, PATTERN] = 0.0  # off just before
        acts[start : start + 8, PATTERN] = 0.9
        acts[start : start + 8, [0, 1, 3, 4, 6, 8, 9, 10, 11]] = 0.1
    acts[40:48, [2, 5, 0, 11]] = 0.8
    return acts


def test_pattern_finds_the_neurons_of_a_span():
    acts = planted()
    assert pattern(acts, 20, 27, threshold=0.5).tolist() == PATTERN


def test_pattern_requires_off_just_before_start():
    acts = planted()
    acts[19, 5] = 0.7  # unit 5 was already on: not part of the pattern
    assert pattern(acts, 20, 27, threshold=0.5).tolist() == [2, 7]
    acts = np.zeros((5, 3))
    acts[:3, 1] = 1.0
    assert pattern(acts, 0, 2, threshold=0.5).tolist() == [1]  # nothing before step 0


def test_search_ranks_the_planted_repeat_first():
    acts = planted()
    found = search(acts, PATTERN, 8, threshold=0.5, exclude=(20, 27))
    assert list(found.columns) == ["start", "end", "n_pattern_on", "n_other_on", "score"]
    best = found.iloc[0]
    assert (best.start, best.end, best.n_pattern_on, best.n_other_on, best.score) == (
        70,
        77,
        3,
        0,
        3,
    )
    assert not ((found.start <= 27) & (found.end >= 20)).any()  # no overlap with the selection
    assert (np.diff(found.score) <= 0).all()
    # without `exclude` the selection itself ties with its repeat and comes first (earlier)
    assert search(acts, PATTERN, 8, threshold=0.5).start.tolist()[:2] == [20, 70]


def test_search_orders():
    acts = np.zeros((30, 6))
    acts[5:8, [0, 1, 2, 3, 4]] = 1.0  # 3 pattern units + 2 others: score 1
    acts[15:18, [0, 1]] = 1.0  # 2 pattern units, no other: score 2
    by_score = search(acts, [0, 1, 2], 3, threshold=0.5, top=2)
    assert by_score.start.tolist() == [15, 5] and by_score.score.tolist() == [2, 1]
    lexicographic = search(acts, [0, 1, 2], 3, threshold=0.5, top=2, order="lexicographic")
    assert lexicographic.start.tolist() == [5, 15]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 7])
def test_search_counts_match_brute_force(length):
    rng = np.random.default_rng(length)
    acts = rng.random((60, 9))
    neurons = [1, 4, 6]
    found = search(acts, neurons, length, threshold=0.3, top=1000)
    assert len(found) == 60 - length + 1
    for row in found.itertuples():
        window = acts[row.start : row.start + length] >= 0.3
        all_on = window.all(axis=0)
        assert row.end == row.start + length - 1
        assert row.n_pattern_on == all_on[neurons].sum()
        assert row.n_other_on == all_on.sum() - all_on[neurons].sum()
        assert row.score == row.n_pattern_on - row.n_other_on
    keys = list(zip(-found.score, found.start, strict=True))
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda a: pattern(a, 5, 3, threshold=0.5), "start <= end"),
        (lambda a: pattern(a, 0, 120, threshold=0.5), "end < n_steps"),
        (lambda a: pattern(a[0], 0, 1, threshold=0.5), "must be 2-D"),
        (lambda a: search(a, [12], 3, threshold=0.5), "units 0 to 11"),
        (lambda a: search(a, [1], 0, threshold=0.5), "`length`"),
        (lambda a: search(a, [1], 121, threshold=0.5), "`length`"),
        (lambda a: search(a, [1], 3, threshold=0.5, top=0), "`top`"),
        (lambda a: search(a, [1], 3, threshold=0.5, order="best"), "`order`"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(planted())
