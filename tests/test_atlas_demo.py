"""The atlas on the trained demo-stdlib-char-lstm and held-out stdlib source (issue 16).

A string-literal neuron the atlas lists must matter where strings end: replacing it by its
mean (mean ablation) must cost more at closing quotes than the 95th percentile of single
neurons the ranking finds unrelated to string literals.
"""

import numpy as np
import pytest

from lib.analysis.ablation import neuron_costs, unrelated_neurons
from lib.analysis.atlas import atlas
from lib.analysis.effects import effect_table
from lib.analysis.feature_bank import feature_bank
from lib.data.corpora import builtin_corpus
from lib.model.registry import load
from lib.run.record import record

pytestmark = pytest.mark.slow
HELD_OUT = 1_500_000  # the demo model trained on the corpus's first 1.5 M characters
ABLATION_TOKENS = 15_000


@pytest.fixture(scope="module")
def stdlib():
    bundle = load("demo-stdlib-char-lstm")
    trace = record(bundle, builtin_corpus("python-stdlib").text[HELD_OUT : HELD_OUT + 100_000])
    return bundle, trace


@pytest.mark.parametrize("signal", ["h", "c"])
def test_a_listed_string_neuron_costs_more_at_closing_quotes_than_unrelated_ones(stdlib, signal):
    bundle, trace = stdlib
    found = atlas(trace, 0, signal=signal, level="char")
    listed = found.search("string literal")
    listed = listed[listed["role"]]["neuron"].tolist()
    assert listed, "the atlas lists no string-literal neuron"
    strings = next(
        f
        for f in feature_bank(trace.tokens, level="char").features
        if f.name == "inside string literal"
    )
    unrelated = unrelated_neurons(effect_table(trace.signals[(0, signal)], strings, ci_units=0))
    assert len(unrelated) >= 20
    inside = np.asarray(strings.values[:ABLATION_TOKENS], dtype=bool)
    closing = inside & ~np.r_[inside[1:], False]  # the last character of a literal: its quote
    assert closing.sum() >= 30
    costs = neuron_costs(
        bundle,
        list(trace.tokens[:ABLATION_TOKENS]),
        sorted(set(listed) | set(unrelated.tolist())),
        layer=0,
        signal=signal,
        mode="mean",
        reference=trace,
        positions_mask=closing,
    ).set_index("neuron")["delta_loss_feature"]
    control = np.percentile(costs.loc[unrelated], 95)
    best = max(listed, key=lambda n: costs.loc[n])
    assert costs.loc[best] > control, (best, costs.loc[best], control)
