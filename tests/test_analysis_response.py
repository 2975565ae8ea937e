"""Tests for lib.analysis.response: seed 004's expected response and per-unit samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.analysis.response import (
    expected_response,
    expected_response_from_trace,
    unit_responses,
)
from lib.run.trace import Trace

# A hand case: 6 steps, 2 units. Updates (h_-1 = 0):
#   t  token  h          Δh
#   0  the    ( 1,  0)   ( 1,  0)
#   1  cat    ( 3,  1)   ( 2,  1)
#   2  the    ( 2,  2)   (-1,  1)
#   3  dog    ( 5,  0)   ( 3, -2)
#   4  the    ( 5,  4)   ( 0,  4)
#   5  cat    ( 1,  4)   (-4,  0)
TOKENS = ["the", "cat", "the", "dog", "the", "cat"]
ACTS = np.array([[1, 0], [3, 1], [2, 2], [5, 0], [5, 4], [1, 4]], dtype=np.float32)
MEANS = {"the": [0.0, 5 / 3], "cat": [-1.0, 0.5], "dog": [3.0, -2.0]}


def naive_response(acts: np.ndarray, tokens, resets=()) -> pd.DataFrame:
    """Δh by np.diff from a zero state, grouped by token with pandas (reference)."""
    acts = acts.astype(np.float64)
    delta = np.diff(acts, axis=0, prepend=np.zeros((1, acts.shape[1])))
    delta[list(resets)] = acts[list(resets)]
    return pd.DataFrame(delta).groupby(np.asarray(tokens)).mean()


def test_hand_case_includes_the_first_step_from_zero() -> None:
    types, counts, S = expected_response(ACTS, TOKENS)
    assert types == ["the", "cat", "dog"]  # by count, ties by first occurrence
    assert counts.tolist() == [3, 2, 1]
    assert S.dtype == np.float64
    np.testing.assert_allclose(S, [MEANS[t] for t in types], atol=1e-12)


def test_top_n_min_count_and_exclude() -> None:
    types, counts, S = expected_response(ACTS, TOKENS, min_count=2)
    assert types == ["the", "cat"]
    np.testing.assert_allclose(S, [MEANS["the"], MEANS["cat"]], atol=1e-12)
    types, _, S = expected_response(ACTS, TOKENS, top_n=1)
    assert types == ["the"]
    types, counts, S = expected_response(ACTS, TOKENS, exclude={"the", "absent"})
    assert types == ["cat", "dog"]
    assert counts.tolist() == [2, 1]
    np.testing.assert_allclose(S, [MEANS["cat"], MEANS["dog"]], atol=1e-12)
    assert expected_response(ACTS, TOKENS, top_n=None).types == ["the", "cat", "dog"]


def test_equal_counts_keep_first_occurrence_order() -> None:
    acts = np.arange(8.0).reshape(4, 2)
    assert expected_response(acts, ["b", "a", "a", "b"]).types == ["b", "a"]
    assert expected_response(acts, ["c", "a", "b", "d"], top_n=2).types == ["c", "a"]


def test_resets_start_again_from_zero() -> None:
    # a reset at step 2: Δh_2 = h_2 = (2, 2) instead of (-1, 1)
    _, _, S = expected_response(ACTS, TOKENS, resets=[2])
    np.testing.assert_allclose(S[0], [(1 + 2 + 0) / 3, (0 + 2 + 4) / 3], atol=1e-12)


def test_matches_naive_over_many_blocks_and_integer_tokens() -> None:
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((5000, 7)).astype(np.float32)  # several 1,024-row blocks
    tokens = rng.integers(0, 40, 5000)  # vocabulary ids work as types
    resets = [0, 1023, 1024, 2500]
    types, counts, S = expected_response(acts, tokens, top_n=None, resets=resets)
    ref = naive_response(acts, tokens, resets)
    np.testing.assert_allclose(S, ref.loc[types].to_numpy(), atol=1e-5)
    assert counts.tolist() == [int((tokens == t).sum()) for t in types]


def test_small_updates_of_a_large_cell_state_survive() -> None:
    # an LSTM counter: c ~ 3000 with updates of ~1e-3 (float32 ulp at 3000 is 2.4e-4)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 5, 20_000)
    tokens[0] = 1  # the first update is the whole state: keep it out of type 0
    step = np.where(tokens == 0, 1e-3, -2.5e-4)
    c = (3000 + np.cumsum(step)).astype(np.float32)[:, None]
    types, _, S = expected_response(c, tokens)
    ref = naive_response(c, tokens).loc[types].to_numpy()
    np.testing.assert_allclose(S, ref, rtol=1e-6, atol=1e-7)
    assert abs(S[types.index(0), 0] - 1e-3) < 1e-4  # only float32 storage error remains


def test_unit_responses_are_the_samples_behind_the_means() -> None:
    samples = unit_responses(ACTS, TOKENS, 1, ["the", "dog", "zebra"])
    assert list(samples) == ["the", "dog", "zebra"]
    np.testing.assert_array_equal(samples["the"], [0.0, 1.0, 4.0])  # in text order
    np.testing.assert_array_equal(samples["dog"], [-2.0])
    assert samples["zebra"].size == 0
    assert unit_responses(ACTS, TOKENS, 1, ["the"], resets=[2])["the"].tolist() == [0, 2, 4]

    rng = np.random.default_rng(2)
    acts = rng.standard_normal((3000, 4))
    tokens = [str(t) for t in rng.integers(0, 30, 3000)]
    types, _, S = expected_response(acts, tokens)
    samples = unit_responses(acts, tokens, 3, types)
    np.testing.assert_allclose([samples[t].mean() for t in types], S[:, 3], atol=1e-12)


def make_trace(signals: dict) -> Trace:
    n = len(TOKENS)
    return Trace(
        tokens=TOKENS,
        ids=np.arange(n, dtype=np.int32),
        signals=signals,
        topk_ids=np.zeros((n, 1), dtype=np.int32),
        topk_probs=np.zeros((n, 1), dtype=np.float32),
        next_prob=np.zeros(n, dtype=np.float32),
    )


def test_from_trace_defaults_to_the_last_layer_and_the_cell_state() -> None:
    zeros = np.zeros_like(ACTS)
    lstm = make_trace({(0, "h"): zeros, (0, "c"): zeros, (1, "h"): zeros, (1, "c"): ACTS})
    types, _, S = expected_response_from_trace(lstm)
    np.testing.assert_allclose(S, [MEANS[t] for t in types], atol=1e-12)
    assert not expected_response_from_trace(lstm, layer=0).S.any()
    assert not expected_response_from_trace(lstm, signal="h").S.any()
    assert expected_response_from_trace(lstm, top_n=1).types == ["the"]

    gru = make_trace({(0, "h"): zeros, (1, "h"): ACTS, (1, "z"): zeros})
    np.testing.assert_allclose(expected_response_from_trace(gru).S[0], MEANS["the"])
    with pytest.raises(KeyError, match=r"no signal 'c' at layer 1.*\['h', 'z'\]"):
        expected_response_from_trace(gru, signal="c")
    with pytest.raises(KeyError, match="layers \\[0, 1\\]"):
        expected_response_from_trace(gru, layer=2)


@pytest.mark.parametrize(
    ("acts", "tokens", "kwargs", "match"),
    [
        (np.zeros(6), TOKENS, {}, r"2-D \(n_steps, n_units\), got shape \(6,\)"),
        (np.zeros((6, 0)), TOKENS, {}, "no unit"),
        (np.array([["a"]] * 6), TOKENS, {}, "must hold numbers"),
        (ACTS, TOKENS[:5], {}, r"shape \(6,\) to match `acts`, got \(5,\)"),
        (ACTS, "thecat", {}, "single str"),
        (ACTS, TOKENS, {"top_n": 0}, "top_n.*>= 1 or None, got 0"),
        (ACTS, TOKENS, {"top_n": 2.5}, "top_n.*got 2.5"),
        (ACTS, TOKENS, {"min_count": 0}, "min_count.*>= 1, got 0"),
        (ACTS, TOKENS, {"min_count": 4}, "No token type is left: 3 type.*0 seen at least"),
        (ACTS, TOKENS, {"exclude": TOKENS}, "No token type is left.*3 of them excluded"),
        (ACTS, TOKENS, {"resets": [6]}, r"resets.*\[0, 6\), got values from 6 to 6"),
        (ACTS, TOKENS, {"resets": [0.5]}, "resets.*step indices, got float64"),
        (np.where(np.arange(12).reshape(6, 2) == 3, np.nan, 1.0), TOKENS, {}, r"NaN.*\[1\]"),
    ],
)
def test_expected_response_errors(acts, tokens, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        expected_response(acts, tokens, **kwargs)


@pytest.mark.parametrize(
    ("unit", "match"),
    [(2, r"\[0, 2\), got 2"), (-1, "got -1"), (0.5, "got 0.5")],
)
def test_unit_responses_errors(unit, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        unit_responses(ACTS, TOKENS, unit, ["the"])
