"""Interventions: against an independent step-by-step reference, in record and generate,
and the loss measurements built on them."""

import math

import numpy as np
import pytest

from lib.analysis.ablation import ablation_sweep, loss_change, run_losses
from lib.run.edits import Intervention
from lib.run.generate import generate
from lib.run.record import record
from lib.run.weights import numpy_weights
from tests.helpers import TEXT, random_bundle

OTHER_TEXT = "import os\nprint(os.getcwd())  # where are we?\n" * 4
CELLS = ("rnn", "lstm", "gru")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def drawn_step(seed, size, t):
    """The reference step a resample intervention reads at step t, from the rule in
    lib.run.edits.resample_steps' docstring (block t // 1024 has its own generator)."""
    block, i = divmod(t, 1024)
    return np.random.default_rng([seed, block]).integers(0, size, 1024)[i]


def edit(x, interventions, layer, signal, t):
    """x <- 0, value, value * x, the mean or a pooled value on the neurons of the matching
    interventions, in order (step t)."""
    x = x.copy()
    for iv in interventions:
        if iv.layer == layer and iv.signal == signal:
            n = list(iv.neurons)
            if iv.mode == "mean":
                x[n] = iv.values
            elif iv.mode == "resample":
                x[n] = iv.pool[drawn_step(iv.seed, len(iv.pool), t)]
            else:
                x[n] = {"zero": 0.0, "clamp": iv.value, "scale": iv.value * x[n]}[iv.mode]
    return x


def reference(bundle, text, interventions):
    """Float64 forward pass from the Keras equations (Keras' gate order), with the edits of
    lib.run.edits' docstring applied after every step; h of every layer, (T, units)."""
    model, spec = bundle.model, bundle.spec
    ids = bundle.vocab.encode(bundle.tokenizer.tokenize(text))
    x_seq = model.get_layer("embedding").get_weights()[0][ids].astype(np.float64)
    out = {}
    for k in range(spec.layers):
        W, U, b = (w.astype(np.float64) for w in model.get_layer(f"recurrent_{k}").get_weights())
        n = U.shape[0]
        h, c = np.zeros(n), np.zeros(n)
        hs, cs = [], []
        for t, x in enumerate(x_seq):
            if spec.cell == "rnn":
                h = np.tanh(x @ W + h @ U + b)
            elif spec.cell == "lstm":
                z = x @ W + h @ U + b
                i, f = sigmoid(z[:n]), sigmoid(z[n : 2 * n])
                g, o = np.tanh(z[2 * n : 3 * n]), sigmoid(z[3 * n :])
                c = edit(f * c + i * g, interventions, k, "c", t)
                h = o * np.tanh(c)
            else:
                xz, hz = x @ W + b[0], h @ U + b[1]
                z = sigmoid(xz[:n] + hz[:n])
                r = sigmoid(xz[n : 2 * n] + hz[n : 2 * n])
                cand = np.tanh(xz[2 * n :] + r * hz[2 * n :])
                h = z * h + (1 - z) * cand
            h = edit(h, interventions, k, "h", t)
            hs.append(h)
            cs.append(c)
        out[(k, "h")] = np.array(hs)
        if spec.cell == "lstm":
            out[(k, "c")] = np.array(cs)
        x_seq = out[(k, "h")]
    return out


def mean_of(layer, neurons, values, signal="h"):
    return Intervention(layer, neurons, "mean", signal=signal, values=values)


def resample_of(layer, neurons, n_steps, seed, signal="h"):
    """A pool of planted values: unit i of step s holds (-1)^i (s + 1) / n_steps."""
    signs = (-1.0) ** np.arange(len(neurons))
    pool = (np.arange(1, n_steps + 1)[:, None] / n_steps) * signs
    return Intervention(layer, neurons, "resample", signal=signal, pool=pool, seed=seed)


REFERENCE_CASES = [
    # (cell, layers, units, interventions)
    *[(cell, 1, 1, [mean_of(0, (0,), [0.6])]) for cell in CELLS],
    *[(cell, 2, 6, [mean_of(layer, (4, 1), [0.3, -0.5])]) for cell in CELLS for layer in (0, 1)],
    *[(cell, 2, 6, [resample_of(layer, (2, 5), 7, 3)]) for cell in CELLS for layer in (0, 1)],
    ("lstm", 1, 1, [mean_of(0, (0,), [1.7], signal="c")]),
    ("lstm", 2, 6, [mean_of(1, (0, 3), [0.8, -1.2], signal="c")]),
    ("lstm", 2, 6, [resample_of(0, (1, 4), 5, 9, signal="c")]),
    (
        "lstm",
        2,
        6,
        [
            resample_of(0, (3,), 4, 1, signal="c"),
            Intervention(0, (3,), "scale", 0.5, signal="c"),
            mean_of(1, (2,), [0.9]),
            Intervention(1, (2, 4), "scale", -2.0),
        ],
    ),
    *[(cell, 1, 1, [Intervention(0, (0,), "clamp", 0.7)]) for cell in CELLS],
    *[(cell, 1, 1, [Intervention(0, (0,), "scale", -0.8)]) for cell in CELLS],
    ("lstm", 1, 1, [Intervention(0, (0,), "clamp", 2.0, signal="c")]),
    ("lstm", 1, 1, [Intervention(0, (0,), "scale", 0.5, signal="c")]),
    *[
        (cell, 2, 6, [Intervention(layer, (1, 4), "scale", -0.8)])
        for cell in CELLS
        for layer in (0, 1)
    ],
    *[
        (
            cell,
            2,
            6,
            [Intervention(layer, (0, 2, 5), "zero"), Intervention(layer, (2, 3), "clamp", -0.4)],
        )
        for cell in CELLS
        for layer in (0, 1)
    ],
    (
        "lstm",
        2,
        6,
        [
            Intervention(0, (1,), "zero", signal="c"),
            Intervention(1, (2, 3), "clamp", 1.5, signal="c"),
            Intervention(1, (3,), "scale", 0.5),
        ],
    ),
]


@pytest.mark.parametrize("cell,layers,units,interventions", REFERENCE_CASES)
def test_record_matches_step_by_step_reference(cell, layers, units, interventions):
    bundle = random_bundle(cell, layers, units=units, scale=0.5)
    trace = record(bundle, TEXT, interventions=interventions)
    want = reference(bundle, TEXT, interventions)
    for key, values in want.items():
        np.testing.assert_allclose(
            trace.signals[key], values, rtol=1e-5, atol=1e-5, err_msg=str(key)
        )
    unedited = reference(bundle, TEXT, [])
    assert any(not np.allclose(want[key], unedited[key], atol=1e-3) for key in want)


def test_clamped_one_unit_rnn_by_hand():
    """h is the clamp value at every step, so a_t = x_t W + value U + b after step 0."""
    bundle = random_bundle("rnn", units=1)
    trace = record(bundle, TEXT, interventions=[Intervention(0, (0,), "clamp", 0.3)])
    W, U, b = bundle.model.get_layer("recurrent_0").get_weights()
    x = bundle.model.get_layer("embedding").get_weights()[0][trace.ids] @ W
    np.testing.assert_array_equal(trace.signals[(0, "h")], np.float32(0.3))
    a = trace.signals[(0, "a")][:, 0]
    np.testing.assert_allclose(a[0], x[0, 0] + b[0], atol=1e-6)
    np.testing.assert_allclose(a[1:], x[1:, 0] + 0.3 * U[0, 0] + b[0], atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_zeroing_the_last_layer_makes_the_output_independent_of_the_input(cell, layers):
    bundle = random_bundle(cell, layers)
    signals = ["h", "c"] if cell == "lstm" else ["h"]
    for signal in signals:
        zero_all = [Intervention(layers - 1, tuple(range(12)), "zero", signal=signal)]
        a = record(bundle, TEXT, interventions=zero_all)
        b = record(bundle, OTHER_TEXT, interventions=zero_all)
        assert (a.topk_probs == a.topk_probs[0]).all() and (b.topk_probs == a.topk_probs[0]).all()
        assert (a.topk_ids == a.topk_ids[0]).all() and (b.topk_ids == a.topk_ids[0]).all()
        assert not (record(bundle, TEXT).topk_probs == a.topk_probs[0]).all()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_zeroing_no_neuron_changes_nothing(cell, layers):
    bundle = random_bundle(cell, layers)
    plain = record(bundle, TEXT, streams=1)
    for layer in range(layers):
        edited = record(bundle, TEXT, interventions=[Intervention(layer, (), "zero")])
        assert edited.signals.keys() == plain.signals.keys()
        for key, values in plain.signals.items():
            assert np.array_equal(edited.signals[key], values), key
        assert np.array_equal(edited.next_prob, plain.next_prob, equal_nan=True)
        assert np.array_equal(edited.topk_probs, plain.topk_probs)
    assert "interventions" not in record(bundle, TEXT, interventions=()).meta["record"]


def test_interventions_force_the_exact_path_and_show_the_edited_values():
    bundle = random_bundle("lstm", 2)
    ivs = [Intervention(0, (2,), "zero", signal="c"), Intervention(1, (5, 7), "clamp", 0.25)]
    fast = record(bundle, TEXT, streams=7, warmup=16, interventions=ivs)
    exact = record(bundle, TEXT, streams=1, interventions=ivs)
    assert fast.meta["record"]["streams"] == 1
    assert fast.meta["record"]["interventions"][1] == {
        "layer": 1,
        "neurons": (5, 7),
        "mode": "clamp",
        "value": 0.25,
        "signal": "h",
        "values": None,
        "pool": None,
        "seed": 0,
    }
    for key, values in exact.signals.items():
        assert np.array_equal(fast.signals[key], values), key
    assert (fast.signals[(0, "c")][:, 2] == 0).all() and (fast.signals[(0, "h")][:, 2] == 0).all()
    assert (fast.signals[(1, "h")][:, [5, 7]] == np.float32(0.25)).all()


@pytest.mark.parametrize("cell", CELLS)
def test_generate_with_an_intervention_is_reproducible_and_matches_record(cell):
    bundle = random_bundle(cell, layers=2, scale=0.6)
    strong = [Intervention(1, tuple(range(12)), "clamp", 0.9)]
    a = generate(bundle, "def f", 40, seed=7, interventions=strong)
    b = generate(bundle, "def f", 40, seed=7, interventions=strong)
    plain = generate(bundle, "def f", 40, seed=7)
    assert a.tokens == b.tokens and a.tokens != plain.tokens
    assert a.meta["generate"]["interventions"][0]["mode"] == "clamp"
    assert "interventions" not in plain.meta["generate"]
    again = record(bundle, a.tokens, interventions=strong)
    for key, values in again.signals.items():
        np.testing.assert_allclose(a.signals[key], values, atol=1e-5, err_msg=str(key))
    np.testing.assert_allclose(a.next_prob, again.next_prob, atol=1e-6)


def test_loss_change_alignment_and_units():
    bundle = random_bundle("gru", 2)
    ivs = [Intervention(0, (1, 3), "scale", -0.5)]
    tokens = bundle.tokenizer.tokenize(TEXT)
    mask = np.zeros(len(tokens), dtype=bool)
    mask[[0, 10, 11]] = True  # position 0 has no loss: it is left out
    result = loss_change(bundle, TEXT, ivs, positions_mask=mask)
    base = record(bundle, TEXT, streams=1)
    edited = record(bundle, TEXT, streams=1, interventions=ivs)
    want_base = -np.log(base.next_prob[[9, 10]].astype(float))
    assert result["n_feature"] == 2 and result["n_scored"] == len(tokens) - 1
    assert result["loss_feature_base"] == pytest.approx(want_base.mean())
    want = -np.log(edited.next_prob[:-1].astype(float)).mean()
    assert result["loss_intervened"] == pytest.approx(want)
    assert result["delta_loss"] == pytest.approx(want - result["loss_base"])
    assert result["metric"] == "bits per character"
    assert result["metric_base"] == pytest.approx(result["loss_base"] / math.log(2))
    per = result["position_loss_base"]
    assert per.shape == (len(tokens),) and np.isnan(per[0])
    np.testing.assert_allclose(per[1:], -np.log(base.expectancy[1:].astype(float)))
    np.testing.assert_allclose(
        result["position_delta"][1:], result["position_loss_intervened"][1:] - per[1:]
    )
    assert math.isnan(loss_change(bundle, TEXT, ivs)["delta_loss_feature"])


def test_loss_change_word_level_perplexity_and_no_op():
    bundle = random_bundle("lstm", level="word")
    result = loss_change(bundle, TEXT, [Intervention(0, (), "zero")])
    assert result["metric"] == "perplexity" and result["level"] == "word"
    assert result["metric_base"] == pytest.approx(math.exp(result["loss_base"]))
    assert result["delta_loss"] == 0.0 and result["delta_metric"] == 0.0


def test_run_losses_agree_with_record():
    bundle = random_bundle("lstm", 2)
    runs = [[], [Intervention(1, (0, 4), "zero")], [Intervention(0, (3,), "clamp", 1.0, "c")]]
    ids = bundle.vocab.encode(bundle.tokenizer.tokenize(TEXT))
    losses = run_losses(numpy_weights(bundle), ids, runs)
    for run, loss in zip(runs, losses, strict=True):
        trace = record(bundle, TEXT, streams=1, interventions=run)
        np.testing.assert_allclose(loss[1:], -np.log(trace.next_prob[:-1].astype(float)), atol=1e-5)
        assert np.isnan(loss[0])


def test_ablation_sweep_random_control_is_seeded():
    bundle = random_bundle("lstm", 2, units=16)
    ranked = [5, 2, 9, 0, 13, 7]
    kwargs = {"layer": 1, "ks": (1, 2, 4), "n_random": 5}
    mask = np.array([tok == " " for tok in bundle.tokenizer.tokenize(TEXT)])
    a = ablation_sweep(bundle, TEXT, ranked, seed=3, positions_mask=mask, **kwargs)
    b = ablation_sweep(bundle, TEXT, ranked, seed=3, positions_mask=mask, **kwargs)
    c = ablation_sweep(bundle, TEXT, ranked, seed=4, positions_mask=mask, **kwargs)
    assert list(a.columns[:4]) == ["k", "kind", "draw", "control"]
    assert set(a.control) == {"", "all"} and (a.control[a.kind == "top"] == "").all()
    assert {"delta_loss", "delta_loss_feature"} <= set(a.columns)
    assert len(a) == 3 * 6 and (a.groupby("k").size() == 6).all()
    assert a.equals(b)
    random_a, random_c = a[a.kind == "random"], c[c.kind == "random"]
    assert list(random_a.neurons) != list(random_c.neurons)
    assert a[a.kind == "top"].equals(c[c.kind == "top"])
    for row in a.itertuples():
        assert len(row.neurons) == row.k
        top = set(ranked[: row.k])
        assert set(row.neurons) == top if row.kind == "top" else not set(row.neurons) & top
    top4 = a[(a.kind == "top") & (a.k == 4)].iloc[0]
    check = loss_change(bundle, TEXT, [Intervention(1, top4.neurons, "zero")], positions_mask=mask)
    assert top4.delta_loss == pytest.approx(check["delta_loss"], abs=1e-5)
    assert top4.delta_loss_feature == pytest.approx(check["delta_loss_feature"], abs=1e-5)
    assert a.attrs["loss_base"] == pytest.approx(check["loss_base"], abs=1e-5)


BAD_INTERVENTIONS = [
    (lambda: Intervention(0, (1,), "double"), "`mode` must be one of"),
    (lambda: Intervention(0, (1,), "zero", signal="z"), "`signal` must be one of"),
    (lambda: Intervention(0, (-1,), "zero"), "must be >= 0"),
    (lambda: Intervention(0, (1.5,), "zero"), "sequence of integers"),
    (lambda: Intervention(0, (1,), "clamp", float("nan")), "finite"),
]


@pytest.mark.parametrize("make,message", BAD_INTERVENTIONS)
def test_bad_intervention(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "cell,iv,message",
    [
        ("lstm", Intervention(1, (0,), "zero"), "has 1 layer"),
        ("lstm", Intervention(0, (12,), "zero"), "which has 12 units"),
        ("gru", Intervention(0, (0,), "zero", signal="c"), "only in LSTM"),
    ],
)
def test_intervention_that_does_not_fit_the_model(cell, iv, message):
    bundle = random_bundle(cell)
    with pytest.raises(ValueError, match=message):
        record(bundle, TEXT, interventions=[iv])
    with pytest.raises(ValueError, match=message):
        generate(bundle, "ab", 3, interventions=[iv])


def test_neurons_are_normalized():
    iv = Intervention(np.int64(1), [3, 1, 3], "scale", 2)
    assert iv.layer == 1 and iv.neurons == (1, 3) and iv.value == 2.0
    assert iv == Intervention(1, (1, 3), "scale", 2.0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"ks": (4,)}, "k = 4 needs 8 units"),
        ({"ks": (3,), "layer": 0}, "1 to len"),
        ({"layer": 2}, "`layer` must be"),
    ],
)
def test_bad_sweep(kwargs, message):
    bundle = random_bundle("rnn", 2, units=7)
    args = {"layer": 1, "ks": (1,), "n_random": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        ablation_sweep(bundle, TEXT, [0, 1] if kwargs.get("layer") == 0 else list(range(7)), **args)
