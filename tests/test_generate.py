"""Generation: reproducible, consistent with the recorder, sampling rules."""

import numpy as np
import pytest

from lib.run.generate import generate, sample_next
from lib.run.record import record
from tests.helpers import random_bundle


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_same_seed_same_text_and_signals_match_recorder(cell):
    bundle = random_bundle(cell, layers=2)
    a = generate(bundle, "def f", 40, temperature=1.0, seed=7)
    b = generate(bundle, "def f", 40, temperature=1.0, seed=7)
    assert a.tokens == b.tokens and a.n_seed == 5 and len(a) == 45
    c = generate(bundle, "def f", 40, temperature=1.0, seed=8)
    assert c.tokens != a.tokens
    again = record(bundle, a.tokens, streams=1)
    for key, values in again.signals.items():
        np.testing.assert_allclose(a.signals[key], values, atol=1e-5)
    np.testing.assert_allclose(a.next_prob, again.next_prob, atol=1e-6)


def test_temperature_zero_is_greedy_and_never_unk():
    bundle = random_bundle("lstm")
    trace = generate(bundle, "The", 30, temperature=0)
    for t in range(trace.n_seed - 1, len(trace) - 1):
        top = [i for i in trace.topk_ids[t] if i != 0][0]
        assert trace.ids[t + 1] == top
    assert 0 not in trace.ids[trace.n_seed :]


def test_sample_next_respects_top_k_and_ban():
    rng = np.random.default_rng(0)
    logits = np.array([10.0, 1.0, 2.0, 3.0, 0.0])
    draws = {sample_next(logits, rng, temperature=5.0, top_k=2) for _ in range(200)}
    assert draws == {2, 3}  # id 0 is <unk>: banned even though it is the most probable


def test_bad_arguments():
    bundle = random_bundle()
    with pytest.raises(ValueError, match="seed text is empty"):
        generate(bundle, "", 10)
    with pytest.raises(ValueError, match="length"):
        generate(bundle, "a", -1)
    assert len(generate(bundle, "ab", 0)) == 2
