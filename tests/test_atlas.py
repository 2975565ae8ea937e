"""The Neuron Atlas (lib.analysis.atlas) on planted units over real Python source.

Planted units follow one feature of the bank each; the rest are autocorrelated noise (as
trained units are) and must come out "no clear role" (>= 95% of them); a constant unit is
"dead". The labels come from the same code the page uses.
"""

import numpy as np
import pytest

from lib.analysis.atlas import DEAD, NO_ROLE, atlas
from lib.analysis.feature_bank import feature_bank
from lib.data.corpora import builtin_corpus
from lib.run.trace import Trace
from tests.helpers import ar1

N_NOISE = 60


@pytest.fixture(scope="module")
def planted():
    tokens = _tokens()
    bank = {f.name: f for f in feature_bank(tokens, level="char", kind="code").features}
    rng = np.random.default_rng(0)
    T = len(tokens)
    noise = ar1(rng, T, 4 + N_NOISE, phi=0.9, sd=0.3)
    acts = noise.copy()
    acts[:, 0] += 1.5 * bank["inside string literal"].values
    acts[:, 1] -= 1.5 * bank["inside comment"].values
    depth = bank["bracket depth in code"].values.astype(np.float64)
    acts[:, 2] = 0.2 * noise[:, 2] + depth / max(depth.max(), 1)
    acts[:, 3] = 0.25
    ids = np.unique(np.array(tokens), return_inverse=True)[1]
    return atlas(_trace(tokens, acts, ids), 0, level="char", kind="code", n_boot=100)


def test_planted_units_get_their_feature(planted):
    table = planted.table.set_index("neuron")
    assert table.loc[0, "role"] and table.loc[0, "feature"] == "inside string literal"
    assert table.loc[0, "label"].startswith("inside string literal (higher there): AUROC 0.")
    assert table.loc[1, "role"] and table.loc[1, "feature"] == "inside comment"
    assert table.loc[2, "role"] and table.loc[2, "feature"] == "bracket depth in code"
    low, high = table.loc[0, "ci_low"], table.loc[0, "ci_high"]
    assert 0.5 < low <= table.loc[0, "effect"] <= high
    assert table.loc[1, "effect"] < 0.5  # lower inside comments: AUROC below chance


def test_noise_units_have_no_clear_role(planted):
    noise = planted.table[planted.table["neuron"] >= 4]
    assert (noise["label"] == NO_ROLE).mean() >= 0.95


def test_a_constant_unit_is_dead_and_never_a_role(planted):
    row = planted.table.set_index("neuron").loc[3]
    assert row["label"] == DEAD and not row["role"]


def test_share_search_and_contexts(planted):
    assert planted.share_clear == pytest.approx(planted.table["role"].mean())
    assert dict(planted.top_features(5))["inside string literal"] >= 1
    assert 0 in planted.search("string literal")["neuron"].tolist()
    assert len(planted.search("")) == len(planted.table)
    top = planted.contexts.top[0]
    table = planted.table
    assert (top >= 0).all() and len(table) == 4 + N_NOISE
    # the string unit's max-activating contexts sit inside strings
    bank = feature_bank(_tokens(), level="char", kind="code").features
    strings = next(f for f in bank if f.name == "inside string literal")
    assert strings.values[top].all()


def test_a_unit_that_only_follows_its_input_token_is_labelled_so():
    tokens = _tokens()
    rng = np.random.default_rng(1)
    T = len(tokens)
    ids = np.unique(np.array(tokens), return_inverse=True)[1]
    by_type = rng.normal(size=ids.max() + 1)
    acts = ar1(rng, T, 20, phi=0.9, sd=0.3)
    acts[:, 0] = by_type[ids] + 0.05 * acts[:, 0]  # the character read, nothing more
    trace = _trace(tokens, acts, ids)
    row = atlas(trace, 0, level="char", kind="code", n_boot=50).table.set_index("neuron").loc[0]
    assert not row["role"] and row["token_r2"] > 0.9
    assert row["label"].startswith("driven by the current token")


def _tokens():
    return list(builtin_corpus("python-stdlib").text[2_000_000:2_030_000])


def _trace(tokens, acts, ids):
    T = len(tokens)
    return Trace(
        tokens=tokens,
        ids=np.asarray(ids),
        signals={(0, "h"): acts.astype(np.float32)},
        topk_ids=np.zeros((T, 1), np.int32),
        topk_probs=np.ones((T, 1), np.float32),
        next_prob=np.ones(T, np.float32),
    )


def test_a_period_is_reported_only_for_a_narrow_line_in_the_spectrum():
    from lib.analysis.atlas import _periods

    rng = np.random.default_rng(0)
    T = 20_000
    acts = np.cumsum(rng.normal(size=(T, 6)), axis=0) * 0.05 + rng.normal(size=(T, 6))
    acts[:, 0] += 2 * np.sin(2 * np.pi * np.arange(T) / 4)
    acts[:, 1] += np.sin(2 * np.pi * np.arange(T) / 17)
    periods = _periods(acts.astype(np.float32))
    assert periods[0] == pytest.approx(4.0, rel=0.01)
    assert periods[1] == pytest.approx(17.0, rel=0.01)
    assert np.isnan(periods[2:]).all()  # drift and noise: no period
