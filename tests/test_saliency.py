"""Saliency (lib.analysis.saliency): gradient x input against finite differences of the
Keras model's own output, integrated gradients' completeness, a hand-computed linear
model, tokens that cannot matter, the limits; the pages' views through AppTest."""

from __future__ import annotations

import numpy as np
import pytest

from lib.analysis.saliency import MAX_STEPS, SaliencyError, saliency
from lib.limits import LimitError, Limits
from lib.model.spec import ID_OFFSET
from tests.helpers import DEMO, ROOT, app, random_bundle
from tests.test_classifier import random_classifier

#: distinct characters (each id once), so scaling one embedding row moves one position
UNIQUE = "abcdefghij"


def _model_output(bundle, model_ids, position, target):
    """The target's probability from the Keras model itself (no code of the module)."""
    out = np.asarray(bundle.model(model_ids[None], training=False), np.float64)[0]
    if bundle.spec.is_classifier:
        p1 = float(out[0])
        return p1 if target == 1 else 1.0 - p1
    z = out[position]
    p = np.exp(z - z.max())
    return float(p[target] / p.sum())


def _scaled_row_output(bundle, model_ids, row, factor, position, target):
    layer = bundle.model.get_layer("embedding")
    table = layer.get_weights()[0]
    changed = table.copy()
    changed[row] *= factor
    layer.set_weights([changed])
    try:
        return _model_output(bundle, model_ids, position, target)
    finally:
        layer.set_weights([table])


def _finite_difference_gxi(bundle, model_ids, position, target, h=1e-2):
    """x_t . grad_t F as the derivative of F(x with x_t scaled by s) at s = 1 (central)."""
    return np.array(
        [
            (
                _scaled_row_output(bundle, model_ids, r, 1 + h, position, target)
                - _scaled_row_output(bundle, model_ids, r, 1 - h, position, target)
            )
            / (2 * h)
            for r in model_ids
        ]
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradient_x_input_equals_finite_differences_on_a_language_model(cell):
    bundle = random_bundle(cell, units=10, embedding=6, scale=0.6, seed=3)
    tokens, ids = bundle.encode(UNIQUE)
    assert len(set(ids.tolist())) == len(ids) and 0 not in ids
    s = saliency(bundle, UNIQUE, method="gradient_x_input", position=7)
    fd = _finite_difference_gxi(bundle, ids[:8], 7, s.target)
    assert s.target == ids[8]  # the text's actual next token
    np.testing.assert_allclose(s.attributions[:8], fd, atol=2e-5 + 1e-3 * np.abs(fd).max())
    assert np.abs(fd).max() > 1e-3  # the check is not of zeros
    assert s.value == pytest.approx(_model_output(bundle, ids[:8], 7, s.target), abs=1e-6)


def test_gradient_x_input_equals_finite_differences_on_a_masked_classifier():
    bundle = random_classifier("gru", units=8, scale=0.7, seed=2)
    words = ["the", "quick", "brown", "fox", "jumps"]
    ids = bundle.vocab.encode(words)
    assert len(set(ids.tolist())) == len(ids)
    s = saliency(bundle, words, method="gradient_x_input", target=1)
    fd = _finite_difference_gxi(bundle, ids + ID_OFFSET, -1, 1)
    np.testing.assert_allclose(s.attributions, fd, atol=2e-5 + 1e-3 * np.abs(fd).max())
    assert s.target_label == "c1"


@pytest.mark.parametrize("rule", ["adaptive", "trapezoid", "gauss_legendre"])
def test_integrated_gradients_are_complete_and_start_from_the_zero_embedding(rule):
    bundle = random_bundle("lstm", units=10, embedding=6, scale=0.6, seed=3)
    tokens, ids = bundle.encode(UNIQUE)
    s = saliency(bundle, UNIQUE, rule=rule, steps=64)
    assert s.complete and s.rel_error < 0.01, s.completeness_text()
    # F(baseline) from the model itself with every embedding row set to zero
    layer = bundle.model.get_layer("embedding")
    table = layer.get_weights()[0]
    layer.set_weights([np.zeros_like(table)])
    try:
        zero = _model_output(bundle, ids, len(ids) - 1, s.target)
    finally:
        layer.set_weights([table])
    assert s.baseline_value == pytest.approx(zero, abs=1e-6)
    assert s.total == pytest.approx(s.delta, rel=0.01)


def test_default_target_at_the_last_position_is_the_top_prediction():
    bundle = random_bundle("lstm", units=10, embedding=6, scale=0.6, seed=3)
    _, ids = bundle.encode(UNIQUE)
    s = saliency(bundle, UNIQUE, method="gradient_x_input")
    out = np.asarray(bundle.model(ids[None]))[0, -1]
    assert s.position == len(ids) - 1 and s.target == int(np.argmax(out))
    named = saliency(bundle, UNIQUE, method="gradient_x_input", target="e")
    assert named.target_label == "e" and named.target == bundle.vocab.encode(["e"])[0]


def test_tokens_after_the_target_position_get_exactly_zero():
    bundle = random_bundle("gru", units=10, embedding=6, scale=0.6, seed=4)
    for method in ("integrated_gradients", "gradient_x_input"):
        s = saliency(bundle, UNIQUE, method=method, position=3, steps=16)
        assert np.all(s.attributions[4:] == 0.0)
        assert np.all(s.attributions[:4] != 0.0)
        assert len(s.attributions) == len(UNIQUE)


def test_a_window_attributes_only_the_tokens_before_the_output():
    bundle = random_bundle("lstm", units=10, embedding=6, scale=0.6, seed=5)
    tokens, ids = bundle.encode(UNIQUE)
    s = saliency(bundle, UNIQUE, position=7, window=3, steps=32)
    assert s.first == 5
    assert np.all(s.attributions[:5] == 0.0) and np.all(s.attributions[8:] == 0.0)
    assert np.all(s.attributions[5:8] != 0.0)
    assert s.complete, s.completeness_text()
    # the baseline zeroes only the window: F of the model with those rows set to zero
    layer = bundle.model.get_layer("embedding")
    table = layer.get_weights()[0]
    changed = table.copy()
    changed[ids[5:8]] = 0.0
    layer.set_weights([changed])
    try:
        assert s.baseline_value == pytest.approx(
            _model_output(bundle, ids[:8], 7, s.target), abs=1e-6
        )
    finally:
        layer.set_weights([table])


def test_gradient_x_input_on_a_linear_network_is_the_hand_computed_product():
    """ids -> Embedding (1-d: e = 1, 2, -1) -> linear SimpleRNN(1), h_t = 0.5 x_t +
    0.5 h_t-1 -> Dense logits with weight 2: logit_2 = 2 h_2, so token s contributes
    e_s * 0.5 * 0.5^(2-s) * 2 = 0.25, 1.0, -1.0 to it (and F(0) is the bias, 0.3)."""
    import keras

    from lib.data.tokenizer import Vocab
    from lib.model.bundle import ModelBundle
    from lib.model.spec import ModelSpec

    spec = ModelSpec(cell="rnn", level="char", units=1, embedding=1)
    vocab = Vocab(["<unk>", "a", "b", "c"], [0, 1, 1, 1])
    ids_in = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(4, 1, name="embedding")(ids_in)
    x = keras.layers.SimpleRNN(1, activation="linear", return_sequences=True, name="r")(x)
    out = keras.layers.Dense(4, name="logits")(x)
    model = keras.Model(ids_in, out)
    model.get_layer("embedding").set_weights([np.array([[0.0], [1.0], [2.0], [-1.0]])])
    model.get_layer("r").set_weights([np.array([[0.5]]), np.array([[0.5]]), np.zeros(1)])
    model.get_layer("logits").set_weights([np.full((1, 4), 2.0), np.full(4, 0.3)])
    bundle = ModelBundle(model=model, vocab=vocab, tokenizer=spec.tokenizer, spec=spec)
    expected = [0.25, 1.0, -1.0]
    for method in ("gradient_x_input", "integrated_gradients"):
        s = saliency(bundle, "abc", method=method, quantity="logit", target="c", steps=8)
        np.testing.assert_allclose(s.attributions, expected, atol=1e-6)
        assert s.value == pytest.approx(2 * 0.125 + 0.3, abs=1e-6)
        assert s.baseline_value == pytest.approx(0.3, abs=1e-6)
        assert s.abs_error < 1e-6


def test_a_request_over_the_token_limit_is_refused_before_any_work():
    bundle = random_bundle("lstm", units=8)
    with pytest.raises(LimitError, match="max_tokens_per_analysis"):
        saliency(bundle, UNIQUE, lim=Limits(max_tokens_per_analysis=5))
    with pytest.raises(SaliencyError, match="steps"):
        saliency(bundle, UNIQUE, steps=4)
    with pytest.raises(SaliencyError, match="steps"):
        saliency(bundle, UNIQUE, steps=MAX_STEPS + 1)
    with pytest.raises(SaliencyError, match="position"):
        saliency(bundle, UNIQUE, position=len(UNIQUE))
    with pytest.raises(SaliencyError, match="not a token"):
        saliency(bundle, UNIQUE, target="no such token")


@pytest.mark.slow
def test_integrated_gradients_are_complete_within_one_percent_on_the_demo_models():
    from lib.model import registry

    lm = registry.load(DEMO)
    s = saliency(lm, "def f(x):\n    return x + 1\n")
    assert s.complete and s.rel_error < 0.01, s.completeness_text()
    long = saliency(lm, (ROOT / "lib" / "analysis" / "saliency.py").read_text()[:400], window=30)
    assert long.first == 370 and long.complete, long.completeness_text()
    clf = registry.load("demo-polarity-lstm")
    for text in ("a moving and funny film , but too long", "dull , stupid and far too long"):
        c = saliency(clf, text)
        assert c.complete and c.rel_error < 0.01, c.completeness_text()
        tokens = clf.tokenizer.tokenize(text)
        ids = clf.vocab.encode(tokens) + ID_OFFSET
        assert c.value == pytest.approx(_model_output(clf, ids, -1, c.target), abs=1e-5)


# --- the pages ----------------------------------------------------------------------------


@pytest.mark.slow
def test_generate_page_colours_the_text_by_saliency(tiny_registry):
    at = app()
    at.segmented_control(key="gen.source").set_value("Paste text").run()
    text = "for <b>i</b> in x:\n    y"
    at.text_area(key="gen.pasted").set_value(text).run()
    at.segmented_control(key="gen.mode").set_value("Input saliency").run()
    assert not at.exception, at.exception
    shown = "".join(h.proto.body for h in at.main.get("html"))
    assert shown.count('class="tok') >= len(text) and 'class="tok mark"' in shown
    assert ">&lt;</span>" in shown and "<b>" not in shown  # the text is escaped
    captions = " ".join(c.value for c in at.main.caption)
    assert "attributions sum to" in captions and "from the baseline" in captions
    assert "Sundararajan, Taly & Yan 2017" in captions
    at.segmented_control(key="sal.method").set_value("gradient_x_input").run()
    assert not at.exception, at.exception
    assert "local slope" in " ".join(c.value for c in at.main.caption)


@pytest.mark.slow
def test_hidden_states_page_shows_a_sequences_saliency(registry):
    import shutil

    shutil.copytree(ROOT / "models" / "demo-polarity-lstm", registry / "demo-polarity-lstm")
    at = app()
    at.session_state["model"] = "demo-polarity-lstm"
    for key, value in {"hid.n": 10, "hid.method": "pca", "hid.seq": 2}.items():
        at.session_state[key] = value
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception, at.exception
    assert any(e.label == "Which input tokens did this depend on?" for e in at.expander)
    assert "attributions sum to" not in " ".join(c.value for c in at.caption)  # not asked yet
    at.toggle(key="hid.sal.on").set_value(True).run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "attributions sum to" in captions and "from the baseline" in captions
    shown = [h.proto.body for h in at.main.get("html")]
    assert any("attribution" in body and 'class="tok' in body for body in shown)
