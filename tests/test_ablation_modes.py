"""Ablation that a scientist accepts: mean and resample modes, zero on h vs c, the two
random controls read off as distributions, per-neuron costs, and the Ablation page and the
interventions panel that use them."""

import math

import numpy as np
import pandas as pd
import pytest

from lib.analysis.ablation import (
    ablation_sweep,
    control_summary,
    loss_change,
    neuron_costs,
    run_losses,
    unrelated_neurons,
)
from lib.analysis.features import Feature
from lib.analysis.ranking import rank_neurons
from lib.run.edits import RESAMPLE_BLOCK, Intervention, resample_steps
from lib.run.generate import generate
from lib.run.record import record
from lib.run.weights import numpy_weights
from tests.helpers import TEXT, app, random_bundle
from tests.test_interventions import reference


def softmax_losses(bundle, text, h_last):
    """-ln p(token t | < t) at t >= 1 from the last layer's h by the Keras output layer, in
    float64 (independent of lib's output path)."""
    W, b = (w.astype(np.float64) for w in bundle.model.get_layer("logits").get_weights())
    ids = bundle.vocab.encode(bundle.tokenizer.tokenize(text))
    z = h_last @ W + b
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(ids) - 1), ids[1:]]


# --- mean ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["h", "c"])
def test_mean_ablation_against_an_independent_numpy_lstm(signal):
    """Means read off a recording, applied inside the recurrence, equal the float64 Keras
    equations with the unit held at that mean; and the loss matches a float64 softmax."""
    bundle = random_bundle("lstm", 2, units=8, scale=0.6)
    plain = record(bundle, TEXT, streams=1)
    iv = Intervention.from_reference(0, [6, 2], "mean", plain, signal=signal)
    want_mean = plain.signals[(0, signal)][:, [2, 6]].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(iv.values, want_mean, rtol=1e-6)
    assert iv.neurons == (2, 6)
    edited = record(bundle, TEXT, interventions=[iv])
    want = reference(bundle, TEXT, [iv])
    for key, values in want.items():
        np.testing.assert_allclose(edited.signals[key], values, atol=1e-5, err_msg=str(key))
    held = edited.signals[(0, signal)][:, [2, 6]]
    assert (held == iv.values).all()  # the unit sits at its mean at every step
    loss = loss_change(bundle, TEXT, [iv])
    np.testing.assert_allclose(
        loss["position_loss_intervened"][1:],
        softmax_losses(bundle, TEXT, want[(1, "h")]),
        atol=1e-5,
    )
    assert abs(loss["delta_loss"]) > 1e-4  # the edit did something


def test_mean_of_h_is_the_recorded_mean_not_zero_on_a_planted_unit():
    """A unit planted to sit near +0.76 (bias of its candidate and gates pushed up): the
    mean ablation holds it there and costs nearly nothing, zeroing moves it far away."""
    bundle = random_bundle("lstm", 1, units=6, scale=0.3)
    layer = bundle.model.get_layer("recurrent_0")
    W, U, b = layer.get_weights()
    u = 6
    U[:, [3, u + 3, 2 * u + 3, 3 * u + 3]] = 0.0  # unit 3 does not listen to the past
    W[:, [3, u + 3, 2 * u + 3, 3 * u + 3]] = 0.0  # nor to the input
    b[[3, u + 3, 2 * u + 3, 3 * u + 3]] = 8.0  # i, f, g, o saturated at 1
    layer.set_weights([W, U, b])
    bundle.weights_changed()
    plain = record(bundle, TEXT, streams=1)
    h3 = plain.signals[(0, "h")][:, 3]
    assert np.ptp(h3[5:]) < 1e-3 and h3[-1] > 0.7  # planted: a constant unit after warm-up
    mean = neuron_costs(bundle, TEXT, [3], layer=0, mode="mean", reference=plain)
    zero = neuron_costs(bundle, TEXT, [3], layer=0, mode="zero")
    assert abs(mean["delta_loss"].iloc[0]) < 0.1 * abs(zero["delta_loss"].iloc[0])


# --- resample ------------------------------------------------------------------------------


def test_resample_steps_are_seeded_blockwise_and_in_range():
    a = resample_steps(5, 37, 0, 3 * RESAMPLE_BLOCK + 10)
    assert a.shape == (3 * RESAMPLE_BLOCK + 10,) and a.min() >= 0 and a.max() <= 36
    assert set(a.tolist()) == set(range(37))  # every step of a 37-step pool gets drawn
    assert (resample_steps(5, 37, 1000, 2100) == a[1000:2100]).all()  # s_t depends on t only
    assert (resample_steps(5, 37, 0, 3 * RESAMPLE_BLOCK + 10) == a).all()
    assert not (resample_steps(6, 37, 0, len(a)) == a).all()
    assert resample_steps(5, 37, 4, 4).shape == (0,)
    with pytest.raises(ValueError, match="at least 1 step"):
        resample_steps(0, 0, 0, 3)


@pytest.mark.parametrize("signal", ["h", "c"])
def test_resample_is_reproducible_and_draws_only_from_the_pool(signal):
    bundle = random_bundle("lstm", 2, units=8, scale=0.6)
    other = TEXT[:120]
    plain = record(bundle, other, streams=1)
    pool_steps = plain.signals[(1, signal)]
    ivs = {
        s: Intervention.from_reference(1, (1, 5), "resample", plain, signal=signal, seed=s)
        for s in (3, 4)
    }
    assert ivs[3].pool.shape == (len(other), 2)
    a = record(bundle, TEXT, interventions=[ivs[3]])
    b = record(bundle, TEXT, interventions=[ivs[3]])
    c = record(bundle, TEXT, interventions=[ivs[4]])
    assert np.array_equal(a.next_prob, b.next_prob, equal_nan=True)
    assert not np.allclose(a.next_prob[:-1], c.next_prob[:-1])
    got = a.signals[(1, signal)][:, [1, 5]]
    rows = {tuple(r) for r in pool_steps[:, [1, 5]].tolist()}
    # every step's pair of values is one row of the pool: drawn jointly, nothing invented
    assert all(tuple(r) in rows for r in got.tolist())
    steps = resample_steps(3, len(other), 0, len(TEXT))
    np.testing.assert_array_equal(got, pool_steps[steps][:, [1, 5]])
    if signal == "c":  # h follows the resampled c through the output gate
        o = a.signals[(1, "o")][:, [1, 5]]
        np.testing.assert_allclose(a.signals[(1, "h")][:, [1, 5]], o * np.tanh(got), atol=1e-6)
    assert len(set(got[:, 0].tolist())) > 10  # not one value held throughout


def test_resample_in_generate_is_reproducible_and_from_the_pool():
    bundle = random_bundle("gru", 1, units=8, scale=0.6)
    iv = Intervention(0, (2,), "resample", pool=[[-0.5], [0.25], [0.75]], seed=1)
    a = generate(bundle, "def f", 60, seed=7, interventions=[iv])
    b = generate(bundle, "def f", 60, seed=7, interventions=[iv])
    assert a.tokens == b.tokens
    assert set(a.signals[(0, "h")][:, 2].tolist()) <= {-0.5, 0.25, 0.75}


# --- zero on h and on c --------------------------------------------------------------------


@pytest.mark.parametrize("layer", [0, 1])
def test_zero_on_h_and_on_c_are_the_same_model(layer):
    """What the test shows: with the unit zeroed in h or in c, the losses, every h and every
    gate of every unit are bit-identical; the only difference is the recorded c of that
    unit (0 under "c", as computed under "h"), which feeds nothing but its own h."""
    bundle = random_bundle("lstm", 2, units=8, scale=0.6)
    on_h = record(bundle, TEXT, interventions=[Intervention(layer, (3, 6), "zero", signal="h")])
    on_c = record(bundle, TEXT, interventions=[Intervention(layer, (3, 6), "zero", signal="c")])
    assert np.array_equal(on_h.next_prob, on_c.next_prob, equal_nan=True)
    assert np.array_equal(on_h.topk_probs, on_c.topk_probs)
    for key, values in on_h.signals.items():
        if key == (layer, "c"):
            assert np.array_equal(
                values[:, [0, 1, 2, 4, 5, 7]], on_c.signals[key][:, [0, 1, 2, 4, 5, 7]]
            )
            assert (on_c.signals[key][:, [3, 6]] == 0).all()
            assert (np.abs(values[:, [3, 6]]) > 1e-3).mean() > 0.5  # c itself still runs
        else:
            assert np.array_equal(values, on_c.signals[key]), key
    ids = on_h.ids
    runs = [[Intervention(layer, (3, 6), "zero", signal=s)] for s in ("h", "c")]
    losses = run_losses(numpy_weights(bundle), ids, runs)  # side by side in one batch
    assert np.array_equal(losses[0], losses[1], equal_nan=True)
    costs = [
        neuron_costs(bundle, TEXT, [0, 3, 6], layer=layer, mode="zero", signal=s) for s in "hc"
    ]
    assert costs[0]["delta_loss"].tolist() == costs[1]["delta_loss"].tolist()


def test_mean_and_resample_on_c_differ_from_h():
    """Unlike zero, holding c at its mean still lets h = o tanh(c) follow the output gate."""
    bundle = random_bundle("lstm", 1, units=8, scale=0.6)
    plain = record(bundle, TEXT, streams=1)
    for mode in ("mean", "resample"):
        costs = [
            neuron_costs(bundle, TEXT, [1, 4], layer=0, mode=mode, signal=s, reference=plain)
            for s in "hc"
        ]
        assert np.abs(costs[0]["delta_loss"] - costs[1]["delta_loss"]).max() > 1e-4, mode


# --- the controls --------------------------------------------------------------------------

PLANTED = (3, 7, 11)


def planted_ranking(seed=0, n_steps=3000, units=16, planted=PLANTED):
    """A rank_neurons table of planted activations: units ``planted`` are 1.5 higher on the
    feature's steps (and noise), the others pure noise."""
    rng = np.random.default_rng(seed)
    mask = rng.random(n_steps) < 0.2
    acts = rng.normal(0, 1, (n_steps, units)).astype(np.float32)
    acts[:, list(planted)] += 1.5 * mask[:, None]
    return rank_neurons(acts, Feature("planted", mask), n_shifts=199), acts, mask


def test_unrelated_neurons_leave_out_planted_feature_neurons_and_pass_a_null_feature():
    table, acts, _ = planted_ranking()
    assert set(table["neuron"].head(3)) == set(PLANTED)
    unrelated = unrelated_neurons(table)
    assert not set(unrelated.tolist()) & set(PLANTED)
    assert len(unrelated) >= 11  # nearly every noise unit
    # a fake feature, unrelated to every unit: nothing comes out related
    fake = np.random.default_rng(9).random(len(acts)) < 0.2
    null = rank_neurons(acts, Feature("fake", fake), n_shifts=199)
    assert len(unrelated_neurons(null)) >= 15
    # thresholds: q alone, effect alone
    assert set(PLANTED) <= set(unrelated_neurons(table, q_min=0.0, max_effect=1.0).tolist())
    assert not set(unrelated_neurons(table, q_min=0.0).tolist()) & set(PLANTED)
    numeric = pd.DataFrame({"neuron": [0, 1], "q": [0.5, 0.5], "r": [0.05, -0.3]})
    assert unrelated_neurons(numeric).tolist() == [0]
    with pytest.raises(ValueError, match="rank_neurons or effect_table table"):
        unrelated_neurons(pd.DataFrame({"neuron": [0], "q": [0.5]}))


def test_the_unrelated_control_never_draws_a_planted_feature_neuron():
    table, _, _ = planted_ranking()
    unrelated = unrelated_neurons(table)
    bundle = random_bundle("lstm", 1, units=16, scale=0.5)
    ranked = table["neuron"].tolist()
    df = ablation_sweep(
        bundle,
        TEXT,
        ranked,
        layer=0,
        ks=(1, 2, 4),
        n_random=25,
        seed=2,
        control=("unrelated", "all"),
        unrelated=unrelated,
    )
    draws = df[df.kind == "random"]
    assert set(draws.control) == {"unrelated", "all"}
    assert (draws.groupby(["k", "control"]).size() == 25).all()
    for row in draws.itertuples():
        assert not set(row.neurons) & set(ranked[: row.k])  # never the top k
        if row.control == "unrelated":
            assert set(row.neurons) <= set(unrelated.tolist())
    # the old control does draw the other feature neurons: that is what went wrong
    other = draws[(draws.control == "all") & (draws.k == 1)]
    assert any(set(n) & set(PLANTED) for n in other.neurons)
    assert df.attrs["n_eligible"] == {"unrelated": len(unrelated), "all": 16}
    # the same sweep with a bool mask gives the same draws
    mask = np.zeros(16, dtype=bool)
    mask[unrelated] = True
    again = ablation_sweep(
        bundle,
        TEXT,
        ranked,
        layer=0,
        ks=(1, 2, 4),
        n_random=25,
        seed=2,
        control=("unrelated", "all"),
        unrelated=mask,
    )
    assert list(again.neurons) == list(df.neurons)


def test_a_control_with_too_few_eligible_units_makes_no_draws():
    bundle = random_bundle("rnn", 1, units=10)
    df = ablation_sweep(
        bundle,
        TEXT,
        list(range(10)),
        layer=0,
        ks=(1, 3, 4),
        n_random=4,
        control="unrelated",
        unrelated=[5, 6, 7],  # 3 units, none in the top 4: enough for k = 1 and 3, not 4
    )
    assert df.attrs["too_few"] == [{"control": "unrelated", "k": 4, "eligible": 3}]
    assert set(df[df.kind == "random"].k) == {1, 3}
    summary = control_summary(df, "delta_loss")
    row = summary[summary.k == 4].iloc[0]
    assert row.n_draws == 0 and math.isnan(row["median"]) and pd.isna(row["rank"])
    # k = 3 from 3 units: four draws of the one possible set, so no spread at all
    k3 = summary[summary.k == 3].iloc[0]
    assert k3.n_draws == 4 and k3.n_distinct == 1 and k3.p5 == k3.p95
    assert summary[summary.k == 1].iloc[0].n_distinct >= 2


def test_control_summary_against_hand_computed_numbers():
    draws_u = [0.1, 0.2, 0.3, 0.6, 0.5]
    draws_a = [0.5, 0.9]
    df = pd.DataFrame(
        {
            "k": [1] * 8 + [2],
            "kind": ["top"] + ["random"] * 7 + ["top"],
            "control": ["", *["unrelated"] * 5, *["all"] * 2, ""],
            "delta_loss_feature": [0.5, *draws_u, *draws_a, float("nan")],
        }
    )
    df.attrs["controls"] = ["unrelated", "all"]
    s = control_summary(df)
    assert list(s[["k", "control"]].itertuples(index=False, name=None)) == [
        (1, "unrelated"),
        (1, "all"),
        (2, "unrelated"),
        (2, "all"),
    ]
    u = s.iloc[0]
    # sorted 0.1 0.2 0.3 0.5 0.6: median 0.3; p5 at 0.2 of the first gap, p95 at 0.8 of the last
    assert (
        u.n_draws == 5 and u.n_distinct == 5 and u.top == 0.5 and u["median"] == pytest.approx(0.3)
    )
    assert u.p5 == pytest.approx(0.12) and u.p95 == pytest.approx(0.58)
    assert u.n_at_least == 2 and u.share_at_least == pytest.approx(0.4)
    assert u["rank"] == 2 and u.p_value == pytest.approx(3 / 6)
    a = s.iloc[1]  # a tie counts as "at least as much" but not as ranking above
    assert a.n_draws == 2 and a["median"] == pytest.approx(0.7)
    assert a.p5 == pytest.approx(0.52) and a.p95 == pytest.approx(0.88)
    assert a.n_at_least == 2 and a["rank"] == 2 and a.p_value == pytest.approx(1.0)
    assert (s.iloc[2:].n_draws == 0).all() and s.iloc[2:]["rank"].isna().all()
    with pytest.raises(ValueError, match="ablation_sweep table"):
        control_summary(df.drop(columns="control"))


def test_mean_sweep_top_k_equals_loss_change_and_defaults_to_the_text_itself():
    bundle = random_bundle("lstm", 2, units=12, scale=0.5)
    mask = np.array([t == " " for t in bundle.tokenizer.tokenize(TEXT)])
    ranked = [4, 9, 1, 7]
    df = ablation_sweep(
        bundle, TEXT, ranked, layer=1, ks=(1, 2), n_random=3, mode="mean", positions_mask=mask
    )
    plain = record(bundle, TEXT)
    top2 = df[(df.kind == "top") & (df.k == 2)].iloc[0]
    iv = Intervention.from_reference(1, top2.neurons, "mean", plain)
    check = loss_change(bundle, TEXT, [iv], positions_mask=mask)
    assert top2.delta_loss == pytest.approx(check["delta_loss"], abs=1e-5)
    assert top2.delta_loss_feature == pytest.approx(check["delta_loss_feature"], abs=1e-5)
    assert df.attrs["mode"] == "mean" and df.attrs["signal"] == "h"


# --- per-neuron costs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,signal", [("zero", "h"), ("mean", "h"), ("mean", "c"), ("resample", "h")]
)
def test_neuron_costs_equal_one_loss_change_per_neuron(mode, signal):
    bundle = random_bundle("lstm", 2, units=10, scale=0.6)
    mask = np.array([t in "()" for t in bundle.tokenizer.tokenize(TEXT)])
    ref = record(bundle, TEXT[:200])  # another text as the reference
    neurons = [7, 0, 3]
    costs = neuron_costs(
        bundle,
        TEXT,
        neurons,
        layer=1,
        signal=signal,
        mode=mode,
        reference=ref,
        positions_mask=mask,
        seed=5,
    )
    assert costs["neuron"].tolist() == neurons
    for row in costs.itertuples():
        if mode == "zero":
            iv = Intervention(1, (row.neuron,), "zero", signal=signal)
        else:
            iv = Intervention.from_reference(1, [row.neuron], mode, ref, signal=signal, seed=5)
        one = loss_change(bundle, TEXT, [iv], positions_mask=mask)
        assert row.delta_loss == pytest.approx(one["delta_loss"], abs=1e-5)
        assert row.delta_loss_feature == pytest.approx(one["delta_loss_feature"], abs=1e-5)
        assert row.loss == pytest.approx(one["loss_intervened"], abs=1e-5)
    assert costs.attrs["loss_base"] == pytest.approx(one["loss_base"], abs=1e-5)
    assert costs["delta_loss"].abs().max() > 1e-4


def test_neuron_costs_reference_arrays_and_without_a_mask():
    bundle = random_bundle("gru", 1, units=6, scale=0.6)
    ref = record(bundle, TEXT)
    h = ref.signals[(0, "h")]
    from_trace = neuron_costs(bundle, TEXT, [1, 2], layer=0, reference=ref)
    from_steps = neuron_costs(bundle, TEXT, [1, 2], layer=0, reference=h)
    from_means = neuron_costs(bundle, TEXT, [1, 2], layer=0, reference=h.mean(axis=0))
    np.testing.assert_allclose(from_trace.delta_loss, from_steps.delta_loss, atol=1e-9)
    np.testing.assert_allclose(from_trace.delta_loss, from_means.delta_loss, atol=1e-6)
    assert from_trace.delta_loss_feature.isna().all()
    assert neuron_costs(bundle, TEXT, [], layer=0).empty


# --- validation ----------------------------------------------------------------------------

BAD = [
    (lambda: Intervention(0, (1,), "mean"), "mode 'mean' needs `values=`"),
    (lambda: Intervention(0, (1,), "resample"), "mode 'resample' needs `pool=`"),
    (lambda: Intervention(0, (1,), "zero", values=[1.0]), "only for mode 'mean'"),
    (lambda: Intervention(0, (1,), "mean", pool=[[1.0]]), "needs `values=`"),
    (lambda: Intervention(0, (1, 2), "mean", values=[1.0]), "one finite number per neuron"),
    (lambda: Intervention(0, (1,), "mean", values=[np.nan]), "non-finite"),
    (lambda: Intervention(0, (1, 1), "mean", values=[1.0, 2.0]), "must be distinct"),
    (lambda: Intervention(0, (1,), "resample", pool=[1.0, 2.0]), r"\(P, n_neurons\)"),
    (lambda: Intervention(0, (1,), "resample", pool=np.zeros((0, 1))), "P >= 1"),
    (lambda: Intervention(0, (1,), "resample", pool=[[np.inf]]), "must be finite"),
    (lambda: Intervention(0, (1,), "resample", pool=[[1.0]], seed=-1), "`seed` must be >= 0"),
    (lambda: Intervention.from_reference(0, (1,), "zero", np.zeros((3, 4))), "'mean' or"),
    (lambda: Intervention.from_reference(0, (9,), "mean", np.zeros((3, 4))), "units 0 to 3"),
    (lambda: Intervention.from_reference(0, (1,), "resample", np.zeros(4)), "a Trace, a"),
]


@pytest.mark.parametrize("make,message", BAD)
def test_bad_reference_intervention(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_reference_interventions_sort_their_columns_and_compare_by_value():
    iv = Intervention(0, [5, 2], "resample", pool=[[1.0, 2.0], [3.0, 4.0]], seed=2)
    assert iv.neurons == (2, 5) and iv.pool.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert not iv.pool.flags.writeable
    same = Intervention(0, (2, 5), "resample", pool=[[2.0, 1.0], [4.0, 3.0]], seed=2)
    assert iv == same and hash(iv) == hash(same)
    assert iv != Intervention(0, (2, 5), "resample", pool=[[2.0, 1.0], [4.0, 3.5]], seed=2)
    assert iv != Intervention(0, (2, 5), "resample", pool=[[2.0, 1.0], [4.0, 3.0]], seed=3)
    assert Intervention(0, (1,), "mean", values=[0.5]) != Intervention(0, (1,), "clamp", 0.5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"control": "unrelated"}, "needs `unrelated=`"),
        ({"control": "random"}, "`control` must be one of"),
        ({"control": ("all", "all")}, "distinct"),
        ({"mode": "clamp"}, "`mode` must be one of"),
        ({"mode": "resample", "reference": np.zeros(8)}, "needs reference steps"),
        ({"mode": "mean", "reference": np.zeros((5, 3))}, "units = 8"),
        ({"control": "unrelated", "unrelated": [9]}, "indices of units 0 to 7"),
        ({"control": "unrelated", "unrelated": np.ones(3, bool)}, "one entry per unit"),
        ({"signal": "c"}, "only in LSTM"),
    ],
)
def test_bad_sweep_settings(kwargs, message):
    bundle = random_bundle("gru", 1, units=8)
    with pytest.raises(ValueError, match=message):
        ablation_sweep(bundle, TEXT, list(range(8)), layer=0, ks=(1,), n_random=2, **kwargs)


def test_bad_neuron_costs():
    bundle = random_bundle("rnn", 1, units=4)
    with pytest.raises(ValueError, match="units 0 to 3"):
        neuron_costs(bundle, TEXT, [4], layer=0)
    with pytest.raises(ValueError, match="twice"):
        neuron_costs(bundle, TEXT, [1, 1], layer=0)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        neuron_costs(bundle, TEXT, [1], layer=0, mode="scale")


# --- the Ablation page and the interventions panel -----------------------------------------


def _ablation_page(monkeypatch, **settings):
    from dashboard import cache

    calls = []
    real = cache.ablation_sweep

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "ablation_sweep", counted)
    at = app()
    for key, value in {"abl.chars": 1000, "abl.kmax": 2, "abl.n_random": 5, **settings}.items():
        at.session_state[key] = value
    at.switch_page("pages/ablation.py").run()
    assert not at.exception, at.exception
    return at, calls


@pytest.mark.slow
def test_ablation_page_runs_the_sweep_only_on_its_button(tiny_registry, monkeypatch):
    at, calls = _ablation_page(monkeypatch)
    assert calls == []  # nothing ran on arrival
    assert any("Press **Run the sweep**" in i.value for i in at.info)
    assert not [m for m in at.markdown if "draws from" in m.value]
    at.button(key="btn.abl.run").click().run()
    assert not at.exception, at.exception
    assert len(calls) == 1
    assert calls[0]["mode"] == "mean" and calls[0]["control"] == ("unrelated", "all")
    assert calls[0]["reference"] is not None
    text = "\n".join(m.value for m in at.markdown)
    assert "5 draws from unrelated neurons" in text and "5 draws from all other neurons" in text
    assert "median" in text and " of 6**" in text  # the top k's rank among 5 draws + itself
    # a rerun with the same settings shows the same result from the cache
    at.run()
    assert len(calls) == 1 and "median" in "\n".join(m.value for m in at.markdown)
    # the page's report lists its settings, not the request the button remembers (a cache
    # key naming the server's model folder)
    _, report, _ = at.session_state["_export.report"]
    assert "abl.mode" in report.settings and "abl.requested" not in report.settings
    assert str(tiny_registry) not in repr(report.settings)
    # other settings: the sweep waits for the button again
    at.selectbox(key="abl.mode").set_value("zero").run()
    assert len(calls) == 1 and any("Press **Run the sweep**" in i.value for i in at.info)
    assert any("zeroing c also zeroes h" in c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.key == "abl.edit_signal"]
    at.button(key="btn.abl.run").click().run()
    assert not at.exception, at.exception
    assert len(calls) == 2 and calls[1]["mode"] == "zero" and calls[1]["reference"] is None


@pytest.mark.slow
def test_ablation_page_resample_on_c_offers_the_signal(tiny_registry, monkeypatch):
    at, calls = _ablation_page(monkeypatch, **{"abl.mode": "resample"})
    assert calls == []
    assert at.selectbox(key="abl.edit_signal").options == ["h (hidden state)", "c (cell state)"]
    at.selectbox(key="abl.edit_signal").set_value("c").run()
    at.button(key="btn.abl.run").click().run()
    assert not at.exception, at.exception
    assert calls[0]["mode"] == "resample" and calls[0]["signal"] == "c"
    assert any("switched off in c" in c.value for c in at.caption)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mean", "resample"])
def test_intervention_panel_with_a_reference_mode(tiny_registry, mode):
    at = app()
    at.session_state["gen.iv_chars"] = 1000
    at.session_state["gen.iv_mode"] = mode
    at.text_input(key="pick.neurons").input("0-15").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="gen.iv_signal").options == ["h (hidden state)", "c (cell state)"]
    assert any(
        ("held at its mean" if mode == "mean" else "random step") in c.value for c in at.caption
    )
    codes = [c.value for c in at.code]
    assert len(codes) >= 2
    bpc = next(m for m in at.metric if m.label.startswith("bits per character (whole"))
    assert float(bpc.delta) != 0.0
    at.selectbox(key="gen.iv_mode").set_value("zero").run()
    assert not at.exception, at.exception
    assert not [s for s in at.selectbox if s.key == "gen.iv_signal"]
    assert any("zeroing c also zeroes h" in c.value for c in at.caption)


def test_unrelated_neurons_read_an_effect_table_too():
    table = pd.DataFrame(
        {"neuron": [0, 1, 2], "q": [0.5, 0.5, 0.001], "effect": [0.55, 0.9, 0.5], "R": 0.0}
    )
    assert unrelated_neurons(table).tolist() == [0]
    numeric = pd.DataFrame({"neuron": [0, 1], "q": [0.5, 0.5], "effect": [0.05, -0.3]})
    assert unrelated_neurons(numeric).tolist() == [0]
