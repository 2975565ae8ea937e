"""Max-activating and quantile-sampled contexts (lib.analysis.contexts) on planted data."""

import numpy as np
import pytest

from lib.analysis.contexts import neuron_contexts, window


def test_top_contexts_are_the_largest_steps_kept_apart():
    acts = np.zeros((200, 2), np.float32)
    acts[[20, 21, 22, 100, 150], 0] = [5.0, 4.9, 4.8, 3.0, 2.0]  # a run at 20-22
    c = neuron_contexts(acts, k=3, min_gap=10)
    assert c.top[0].tolist() == [20, 100, 150]  # 21 and 22 are inside the run at 20


def test_every_unit_at_once_matches_a_per_unit_sort():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(500, 7)).astype(np.float32)
    c = neuron_contexts(acts, k=4, min_gap=1)
    for u in range(7):
        assert c.top[u].tolist() == np.argsort(-acts[:, u], kind="stable")[:4].tolist()


def test_quantile_contexts_sit_at_the_units_quantiles():
    acts = np.arange(101, dtype=np.float32)[:, None] * np.array([1.0, -1.0], np.float32)
    c = neuron_contexts(acts, quantiles=(0.0, 0.5, 1.0))
    assert c.quantile[0].tolist() == [0, 50, 100]
    assert c.quantile[1].tolist() == [100, 50, 0]


def test_short_text_leaves_empty_slots():
    acts = np.arange(12, dtype=np.float32)[:, None]
    c = neuron_contexts(acts, k=5, min_gap=5)
    assert c.top[0].tolist() == [11, 6, 1, -1, -1]


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"min_gap": 0}, {"quantiles": (1.5,)}])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        neuron_contexts(np.zeros((10, 2)), **kwargs)


def test_window_stays_inside_the_text():
    assert window(100, 5) == (0, 16)
    assert window(100, 95) == (65, 100)
