"""Pattern search: planted repeats are found and ranked first; counts against brute force."""

import re

import numpy as np
import pytest

from lib.analysis.patterns import merge_near, pattern, search, text_spans

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


# --- merging near-duplicate matches -------------------------------------------------------


def _brute_force_merge(ranked, distance):
    kept = []
    for p in ranked:
        if all(abs(p - q) >= distance for q in kept):
            kept.append(p)
    return kept


def test_merge_near_hand_case():
    # 10 is best; 11, 9 and 12 are its shifted copies; 30 and 50 are far from it
    assert merge_near([10, 11, 30, 9, 12, 50], 3).tolist() == [10, 30, 50]
    assert merge_near([10, 11, 30, 9, 12, 50], 1).tolist() == [10, 11, 30, 9, 12, 50]
    assert merge_near([10, 11, 30, 9, 12, 50], 3, top=2).tolist() == [10, 30]
    assert merge_near([], 3).tolist() == []


@pytest.mark.parametrize("distance", [1, 2, 5, 16])
def test_merge_near_matches_brute_force(distance):
    rng = np.random.default_rng(distance)
    ranked = rng.permutation(200)
    kept = merge_near(ranked, distance)
    assert kept.tolist() == _brute_force_merge(ranked.tolist(), distance)
    gaps = np.abs(kept[:, None] - kept[None, :]) + np.eye(len(kept), dtype=int) * distance
    assert (gaps >= distance).all()  # no two kept positions closer than `distance`


def test_search_merge_leaves_no_overlapping_or_adjacent_matches():
    # a pattern on during a run [30, 44) and again at [100, 108): every shifted window
    # inside the run matches fully; merged, the run gives one match and the repeat another
    acts = np.zeros((150, 6))
    acts[30:44, [1, 2]] = 1.0
    acts[100:108, [1, 2]] = 1.0
    length = 8
    plain = search(acts, [1, 2], length, threshold=0.5, top=50)
    assert plain.head(8).score.tolist() == [2] * 8  # unmerged: 7 shifted copies of the run
    merged = search(acts, [1, 2], length, threshold=0.5, top=50, merge=True)
    full = merged[merged.score == 2]
    assert sorted(full.start.tolist()) == [30, 100]
    starts = np.sort(merged.start.to_numpy())
    assert (np.diff(starts) >= 2 * length).all()  # no overlap, no gap shorter than a span
    assert (np.diff(merged.score) <= 0).all()


def test_merge_near_bad_arguments():
    with pytest.raises(ValueError, match="`distance` must be an integer >= 1"):
        merge_near([1, 2], 0)
    with pytest.raises(ValueError, match="`ranked` must be 1-D"):
        merge_near([[1, 2]], 2)
    with pytest.raises(ValueError, match="positions >= 0"):
        merge_near([3, -1], 2)
    with pytest.raises(ValueError, match="`top`"):
        merge_near([3], 2, top=0)


# --- choosing the span by its text --------------------------------------------------------


def test_text_spans_character_and_word_tokens():
    chars = list('x = "ab" + "ab"')
    assert text_spans(chars, '"ab') == [(4, 6), (11, 13)]
    assert text_spans(chars, '"ab', limit=1) == [(4, 6)]
    words = ["The", " ", "cat", " ", "sat", "."]
    assert text_spans(words, "e ca") == [(0, 2)]  # partial tokens at both ends count
    assert text_spans(words, "sat.") == [(4, 5)]
    assert text_spans(words, "dog") == []
    assert text_spans(words, "") == []
    assert text_spans(words, "(") == []  # searched literally, not as a regex
    with pytest.raises(ValueError, match="`limit`"):
        text_spans(words, "a", limit=0)


def test_text_spans_agree_with_str_find():
    rng = np.random.default_rng(3)
    tokens = ["".join(rng.choice(list("ab "), size=rng.integers(1, 4))) for _ in range(300)]
    text = "".join(tokens)
    for a, b in text_spans(tokens, "ab a"):
        # the tokens a..b hold the occurrence, and no shorter run of tokens does
        segment = "".join(tokens[a : b + 1])
        assert "ab a" in segment
        assert "ab a" not in "".join(tokens[a + 1 : b + 1])
        assert "ab a" not in "".join(tokens[a:b])
    assert len(text_spans(tokens, "ab a")) == len(re.findall("ab a", text)) > 0
