"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015): shares, planted gates, recorded layers."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from lib.analysis import saturation as S
from lib.analysis.saturation import gate_saturation, layer_saturation
from lib.run.trace import ConcatRows
from tests.helpers import TEXT, random_bundle


def test_shares_by_hand() -> None:
    # unit 0: 0.05 and 0.02 are below 0.1 (2 of 5); 0.95 above 0.9 (1 of 5)
    # unit 1: exactly 0.1 and 0.9 count as neither (strict inequalities)
    g = np.array(
        [[0.05, 0.1], [0.02, 0.9], [0.5, 0.1], [0.95, 0.9], [0.3, 0.5]],
        dtype=np.float32,
    )
    out = gate_saturation(g)
    assert list(out.columns) == ["unit", "left", "right"]
    assert out["unit"].tolist() == [0, 1]
    np.testing.assert_allclose(out["left"], [2 / 5, 0.0])
    np.testing.assert_allclose(out["right"], [1 / 5, 0.0])
    # other thresholds: everything <= 0.5 is "left" at low=0.51, 0.9 is "right" at high=0.8
    out = gate_saturation(g, low=0.51, high=0.8)
    np.testing.assert_allclose(out["left"], [4 / 5, 3 / 5])
    np.testing.assert_allclose(out["right"], [1 / 5, 2 / 5])


def test_planted_gates_land_where_they_should() -> None:
    rng = np.random.default_rng(0)
    T = 5000
    g = np.column_stack(
        [
            rng.uniform(0.92, 1.0, T),  # always open: right-saturated every step
            rng.uniform(0.0, 0.08, T),  # always shut
            rng.uniform(0.2, 0.8, T),  # the soft middle
            np.where(np.arange(T) % 4 == 0, 0.99, 0.01),  # open one step in four
        ]
    )
    out = gate_saturation(g).set_index("unit")
    assert out.loc[0, "right"] == 1.0 and out.loc[0, "left"] == 0.0
    assert out.loc[1, "left"] == 1.0 and out.loc[1, "right"] == 0.0
    assert out.loc[2, "left"] == 0.0 and out.loc[2, "right"] == 0.0
    assert out.loc[3, "right"] == 0.25 and out.loc[3, "left"] == 0.75


def test_matches_numpy_for_every_storage(monkeypatch, tmp_path) -> None:
    """Blocks of rows, float16, memory-mapped and shard arrays: the same shares as a plain
    numpy mean of the comparisons."""
    rng = np.random.default_rng(1)
    g = rng.beta(0.3, 0.3, size=(1003, 7)).astype(np.float16)
    exact = g.astype(np.float64)  # compare the stored values, not 0.1 rounded to float16
    want_left = (exact < 0.1).mean(axis=0)
    want_right = (exact > 0.9).mean(axis=0)
    monkeypatch.setattr(S, "_ROW_BLOCK", 100)  # 11 blocks, the last one short
    np.save(tmp_path / "g.npy", g)
    mapped = np.load(tmp_path / "g.npy", mmap_mode="r")
    shards = ConcatRows([g[:400], g[400:]])
    for arr in (g, g.astype(np.float64), mapped, shards):
        out = gate_saturation(arr)
        np.testing.assert_allclose(out["left"], want_left)
        np.testing.assert_allclose(out["right"], want_right)


@pytest.mark.parametrize(
    ("gate", "kwargs", "message"),
    [
        (np.full((4, 2), 0.5), {"low": 0.9, "high": 0.1}, "low < high"),
        (np.full((4, 2), 0.5), {"low": -0.1}, "0 <= low"),
        (np.full((4, 2), 0.5), {"high": "x"}, "must be numbers"),
        (np.linspace(-1, 1, 8).reshape(4, 2), {}, "not h, c or a candidate"),
        (np.array([[0.5, np.nan]]), {}, "NaN"),
        (np.full(4, 0.5), {}, "2-D"),
        (np.zeros((0, 3)), {}, "at least one step"),
        (np.array([["a", "b"]]), {}, "numbers"),
    ],
)
def test_bad_input_says_the_rule(gate, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        gate_saturation(gate, **kwargs)


def _plant_bias(bundle, gate_slot: int, value: float) -> None:
    """Set one gate's bias of layer 0 to `value` (Keras order LSTM i f c o, GRU z r h)."""
    layer = bundle.model.get_layer("recurrent_0")
    weights = layer.get_weights()
    u = bundle.spec.units
    weights[2][..., gate_slot * u : (gate_slot + 1) * u] = value
    layer.set_weights(weights)
    bundle.weights_changed()


@pytest.mark.parametrize(("cell", "gates"), [("lstm", ["i", "f", "o"]), ("gru", ["z", "r"])])
def test_layer_saturation_of_recorded_layers(cell, gates) -> None:
    from lib.run.record import record

    bundle = random_bundle(cell, layers=2, units=12)
    trace = record(bundle, TEXT)
    for layer in (0, 1):
        out = layer_saturation(trace, layer)
        assert list(out.columns) == ["gate", "unit", "left", "right"]
        assert out["gate"].drop_duplicates().tolist() == gates
        assert len(out) == len(gates) * 12
        for gate in gates:
            want = gate_saturation(trace.signals[(layer, gate)])
            got = out[out["gate"] == gate].reset_index(drop=True)
            pd.testing.assert_frame_equal(got[["unit", "left", "right"]], want)


@pytest.mark.parametrize(("cell", "gate", "slot"), [("lstm", "f", 1), ("gru", "z", 0)])
def test_a_planted_open_memory_gate_is_right_saturated(cell, gate, slot) -> None:
    """A forget (LSTM) or update (GRU) bias of +12 holds the gate open at every step."""
    from lib.run.record import record

    bundle = random_bundle(cell, units=12)
    before = layer_saturation(record(bundle, TEXT), 0)
    _plant_bias(bundle, slot, 12.0)
    after = layer_saturation(record(bundle, TEXT), 0)
    opened = after[after["gate"] == gate]
    assert (opened["right"] == 1.0).all() and (opened["left"] == 0.0).all()
    assert (before[before["gate"] == gate]["right"] < 0.5).all()  # it was not so before


def test_vanilla_rnn_has_no_gate_and_missing_layer_is_refused() -> None:
    from lib.run.record import record

    trace = record(random_bundle("rnn", units=8), TEXT)
    out = layer_saturation(trace, 0)
    assert out.empty and list(out.columns) == ["gate", "unit", "left", "right"]
    with pytest.raises(ValueError, match=r"no layer 3; its layers are \[0\]"):
        layer_saturation(trace, 3)


def test_docstring_examples() -> None:
    result = doctest.testmod(S, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
