"""Seed 004's sentence-glyph measures (lib.analysis.glyphs): Eqs. 6-7 by hand and by loop."""

import math

import numpy as np
import pytest

from lib.analysis import glyphs as glyphs_module
from lib.analysis.coclustering import Coclusters
from lib.analysis.glyphs import (
    KEEP_GATES,
    cluster_membership,
    glyph_scale,
    glyph_table,
    glyphs_from_trace,
    sentence_glyphs,
)
from lib.run.trace import Trace

# 3 tokens, 4 units; cluster 0 = units {0, 2}, cluster 1 = units {1, 3}
H = np.array(
    [
        [0.5, -0.2, 0.3, 0.4],
        [0.2, -0.4, -0.1, 0.6],
        [-0.3, 0.0, -0.5, 0.8],
    ]
)
LABELS = np.array([0, 1, 0, 1])
NAN = np.nan


def test_hand_case_aggregate_and_updates() -> None:
    g = sentence_glyphs(H, LABELS, tokens=["a", "b", "c"])
    assert g.clusters.tolist() == [0, 1] and g.sizes.tolist() == [2, 2]
    # cluster 0 holds (0.5, 0.3), (0.2, -0.1), (-0.3, -0.5); cluster 1 (-0.2, 0.4),
    # (-0.4, 0.6), (0.0, 0.8): alpha_+ sums the positive values, alpha_- the negative ones
    np.testing.assert_allclose(g.positive, [[0.8, 0.4], [0.2, 0.6], [0.0, 0.8]])
    np.testing.assert_allclose(g.negative, [[0.0, -0.2], [-0.1, -0.4], [-0.8, 0.0]])
    # step 0 starts from h^(0) = 0, so its update is its aggregate
    np.testing.assert_allclose(g.delta_positive, [[0.8, 0.4], [-0.6, 0.2], [-0.2, 0.2]])
    np.testing.assert_allclose(g.delta_negative, [[0.0, -0.2], [-0.1, -0.2], [-0.7, 0.4]])
    np.testing.assert_allclose(g.previous_positive, [[0, 0], [0.8, 0.4], [0.2, 0.6]], atol=1e-15)


def test_hand_case_preserved_and_fraction() -> None:
    g = sentence_glyphs(H, LABELS)
    # beta: min(|before|, |now|) for units keeping their sign, 0 for the others
    # step 1: cluster 0: 0.5 -> 0.2 keeps 0.2, 0.3 -> -0.1 flips: 0.2
    #         cluster 1: -0.2 -> -0.4 keeps 0.2, 0.4 -> 0.6 keeps 0.4: 0.6
    # step 2: cluster 0: 0.2 -> -0.3 flips, -0.1 -> -0.5 keeps 0.1: 0.1
    #         cluster 1: -0.4 -> 0.0 keeps nothing (ratio 0), 0.6 -> 0.8 keeps 0.6: 0.6
    np.testing.assert_allclose(g.preserved, [[0, 0], [0.2, 0.6], [0.1, 0.6]])
    # previous totals sum |h^(t-1)|: 0 and 0; 0.8 and 0.6; 0.3 and 1.0
    np.testing.assert_allclose(g.denominator_values, [[0, 0], [0.8, 0.6], [0.3, 1.0]])
    np.testing.assert_allclose(g.fraction, [[NAN, NAN], [0.25, 1.0], [1 / 3, 0.6]])
    # the paper's denominator alpha_+ - alpha_-: 0.8, 0.6; 0.3, 1.0; 0.8, 0.8
    paper = sentence_glyphs(H, LABELS, denominator="current")
    np.testing.assert_allclose(paper.fraction, [[0, 0], [2 / 3, 0.6], [0.125, 0.75]])


def test_hand_case_gate_form_and_its_clamp() -> None:
    half = sentence_glyphs(H, LABELS, keep=np.full(H.shape, 0.5))
    np.testing.assert_allclose(half.preserved, [[0, 0], [0.4, 0.3], [0.15, 0.5]])
    np.testing.assert_allclose(half.fraction, [[NAN, NAN], [0.5, 0.5], [0.5, 0.5]])
    assert half.preserved_by == "gate"
    # keep everything: beta = previous total 0.8 > current total 0.3 at step 1, cluster 0
    full = sentence_glyphs(H, LABELS, keep=np.ones(H.shape), denominator="current")
    assert full.fraction[1, 0] == 1.0


def test_hand_case_scale_and_table() -> None:
    g = sentence_glyphs(H, LABELS, tokens=["a", "b", "c"])
    # largest of alpha_+, previous alpha_+, |alpha_-|, |previous alpha_-| is 0.8; / 2 units
    assert glyph_scale(g) == 0.4
    table = glyph_table(g, cluster_words={1: "x y"})
    assert len(table) == 6 and table["token"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert table["words"].tolist() == ["", "x y"] * 3
    row = table.iloc[5]  # step 2, cluster 1
    assert (row["cluster"], row["slot"], row["size"]) == (1, 1, 2)
    assert row["positive"] == pytest.approx(0.4) and row["previous_negative"] == pytest.approx(-0.2)
    assert row["sensitivity"] == pytest.approx(abs(0.2 + 0.4) / 2)
    assert row["fraction"] == pytest.approx(0.6)


def loop_glyphs(h, labels, initial, keep=None):
    """Eqs. 6-7 literally, one step, cluster and unit at a time (the ratio form of beta)."""
    clusters = sorted(set(labels.tolist()), key=lambda c: (c < 0, c))
    T = h.shape[0]
    out = {
        name: np.zeros((T, len(clusters)))
        for name in ("pos", "neg", "dpos", "dneg", "beta", "frac")
    }
    for t in range(T):
        before = initial if t == 0 else h[t - 1]
        for i, c in enumerate(clusters):
            units = [j for j in range(h.shape[1]) if labels[j] == c]
            pos = sum(h[t, j] for j in units if h[t, j] > 0)
            neg = sum(h[t, j] for j in units if h[t, j] < 0)
            pos_before = sum(before[j] for j in units if before[j] > 0)
            neg_before = sum(before[j] for j in units if before[j] < 0)
            beta = 0.0
            for j in units:
                if keep is not None:
                    beta += abs(before[j]) * keep[t, j]
                elif before[j] != 0:
                    beta += abs(before[j]) * min(1.0, max(0.0, h[t, j] / before[j]))
            total_before = sum(abs(before[j]) for j in units)
            frac = min(1.0, max(0.0, beta / total_before)) if total_before > 0 else np.nan
            for name, v in zip(
                out, (pos, neg, pos - pos_before, neg - neg_before, beta, frac), strict=True
            ):
                out[name][t, i] = v
    return clusters, out


@pytest.mark.parametrize(("gated", "block"), [(False, 4096), (True, 4096), (False, 5)])
def test_matches_a_loop_on_random_data(gated: bool, block: int, monkeypatch) -> None:
    monkeypatch.setattr(glyphs_module, "_ROW_BLOCK", block)  # 5: steps in 3 blocks
    rng = np.random.default_rng(4)
    h = rng.normal(0, 0.5, (12, 23))
    h[3, :5] = 0.0  # exact zeros: no sign, nothing kept, zero denominators at step 4
    labels = rng.integers(-1, 5, 23)
    labels[labels == 2] = 3  # an empty cluster number is skipped
    initial = rng.normal(0, 0.5, 23)
    keep = rng.uniform(0, 1, h.shape) if gated else None
    g = sentence_glyphs(h.astype(np.float32), labels, initial=initial, keep=keep)
    clusters, ref = loop_glyphs(h.astype(np.float32).astype(float), labels, initial, keep)
    assert g.clusters.tolist() == clusters and clusters[-1] == -1 and 2 not in clusters
    for got, name in (
        (g.positive, "pos"),
        (g.negative, "neg"),
        (g.delta_positive, "dpos"),
        (g.delta_negative, "dneg"),
        (g.preserved, "beta"),
        (g.fraction, "frac"),
    ):
        np.testing.assert_allclose(got, ref[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_first_step_starts_from_zero_or_from_initial() -> None:
    g = sentence_glyphs(H, LABELS)
    assert np.isnan(g.fraction[0]).all() and (g.preserved[0] == 0).all()
    np.testing.assert_allclose(g.delta_positive[0], g.positive[0])
    cut = sentence_glyphs(H[1:], LABELS, initial=H[0])  # a sentence cut out of a text
    for name in ("positive", "delta_positive", "delta_negative", "preserved", "fraction"):
        np.testing.assert_allclose(getattr(cut, name), getattr(g, name)[1:], err_msg=name)


def test_zero_denominators_and_zero_states() -> None:
    h = np.array([[0.0, 0.5], [0.0, 0.4], [0.3, 0.0]])
    g = sentence_glyphs(h, [0, 1])
    # cluster 0 is 0 before steps 1 and 2: nothing to preserve, fraction NaN
    assert np.isnan(g.fraction[:, 0]).all() and (g.preserved[:, 0] == 0).all()
    np.testing.assert_allclose(g.fraction[1:, 1], [0.8, 0.0])
    zero = sentence_glyphs(np.zeros((4, 3)), [0, 0, 1])
    assert np.isnan(zero.fraction).all() and glyph_scale(zero) == 1.0


def test_scale_is_shared_and_rounded_up() -> None:
    one = sentence_glyphs([[0.734]], [0])
    two = sentence_glyphs([[-2.01], [0.1]], [0])  # the decrease back to 0.1 reaches -2.01
    assert glyph_scale(one) == 0.74
    assert glyph_scale(two) == 2.1 and glyph_scale(one, two) == 2.1
    assert glyph_scale(sentence_glyphs([[0.0032]], [0])) == 0.0032


def test_accepts_coclusters_and_orders_clusters_like_the_chips() -> None:
    labels = Coclusters(np.zeros(3, dtype=np.int64), np.array([2, -1, 0, 2]))
    clusters, membership = cluster_membership(labels)
    assert clusters.tolist() == [0, 2, -1]
    assert membership.tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]
    g = sentence_glyphs(np.ones((2, 4)), labels)
    assert g.sizes.tolist() == [1, 2, 1] and "clusters=[0, 2, -1]" in repr(g)


def lstm_trace(layers=2, T=5, units=4, seed=0) -> Trace:
    rng = np.random.default_rng(seed)
    signals = {
        (layer, name): rng.uniform(-1, 1, (T, units)).astype(np.float32)
        for layer in range(layers)
        for name in ("h", "c", "i", "f", "g", "o")
    }
    return Trace(
        tokens=list("abcde")[:T],
        ids=np.arange(T),
        signals=signals,
        topk_ids=np.zeros((T, 1), int),
        topk_probs=np.zeros((T, 1)),
        next_prob=np.zeros(T),
    )


def test_from_trace_defaults_to_last_layer_cell_state_and_gate() -> None:
    trace = lstm_trace()
    labels = [0, 1, 0, 1]
    g = glyphs_from_trace(trace, labels)
    last_c = sentence_glyphs(trace.signals[(1, "c")], labels)
    np.testing.assert_allclose(g.positive, last_c.positive)
    assert g.tokens == list("abcde")
    gate = glyphs_from_trace(trace, labels, layer=0, preserved="gate")
    ref = sentence_glyphs(trace.signals[(0, "c")], labels, keep=trace.signals[(0, "f")])
    np.testing.assert_allclose(gate.preserved, ref.preserved)
    with pytest.raises(ValueError, match="needs a state with a keep gate.*got 'h' of a LSTM"):
        glyphs_from_trace(trace, labels, signal="h", preserved="gate")
    with pytest.raises(ValueError, match="no signal 'z' in layer 1"):
        glyphs_from_trace(trace, labels, signal="z")


@pytest.mark.parametrize(
    ("cell", "state", "gate", "written"),
    [("lstm", "c", "f", ("i", "g")), ("gru", "h", "z", ("n",))],
)
def test_keep_gates_are_the_recorded_cells_keep_gates(cell, state, gate, written) -> None:
    """The recorder's LSTM keeps f * c^(t-1), its (Keras) GRU z * h^(t-1)."""
    from lib.run.record import record
    from tests.helpers import TEXT, random_bundle

    assert KEEP_GATES[(cell, state)] == gate
    trace = record(random_bundle(cell), TEXT[:60], streams=1)
    s, keep = (trace.signals[(0, name)].astype(float) for name in (state, gate))
    parts = [trace.signals[(0, name)].astype(float) for name in written]
    new = parts[0] * parts[1] if cell == "lstm" else (1 - keep) * parts[0]
    np.testing.assert_allclose(s[1:], keep[1:] * s[:-1] + new[1:], atol=1e-5)
    g = glyphs_from_trace(trace, np.arange(12) % 3, preserved="gate")
    assert g.preserved_by == "gate" and (g.fraction[1:] <= 1).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"states": np.ones(4)}, r"2-D \(n_steps, n_units\), got shape \(4,\)"),
        ({"states": np.ones((0, 4))}, r"at least one step and one unit, got shape \(0, 4\)"),
        ({"states": np.full((2, 4), np.nan)}, "holds 8 NaN or inf"),
        ({"col_labels": [0, 1, 0]}, r"shape \(4,\), one cluster label per unit.*got shape \(3,\)"),
        ({"col_labels": [0.0, 1.0, 0.0, 1.0]}, "must hold integers, got dtype float64"),
        ({"col_labels": [0, -2, 0, 1]}, "-1 \\(no cluster\\) or >= 0, got -2"),
        ({"tokens": ["a", "b"]}, r"one entry per step of `states` \(3\), got 2"),
        ({"tokens": "abc"}, "got a single str"),
        ({"keep": np.ones((3, 3))}, r"`keep` must have shape \(3, 4\).*got shape \(3, 3\)"),
        ({"initial": np.ones(3)}, r"`initial` must have shape \(4,\).*got shape \(3,\)"),
        ({"denominator": "paper"}, r"one of \['previous', 'current'\], got 'paper'"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    args = {"states": H, "col_labels": LABELS, **kwargs}
    with pytest.raises(ValueError, match=match):
        sentence_glyphs(args.pop("states"), args.pop("col_labels"), **args)


def test_errors_of_the_scale_and_trace_options() -> None:
    with pytest.raises(ValueError, match="at least one SentenceGlyphs"):
        glyph_scale()
    with pytest.raises(ValueError, match=r"one of \['clip', 'gate'\], got 'ratio'"):
        glyphs_from_trace(lstm_trace(), [0, 0, 1, 1], preserved="ratio")
    assert math.isclose(glyph_scale(sentence_glyphs(H, LABELS)), 0.4)
