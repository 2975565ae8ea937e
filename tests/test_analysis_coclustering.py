"""Tests for lib.analysis.coclustering: seed 004's co-clusters, edges, chips, clouds, detail."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import SpectralCoclustering
from sklearn.datasets import make_biclusters
from sklearn.metrics import adjusted_rand_score, consensus_score

from lib.analysis.coclustering import (
    cluster_edges,
    cocluster,
    memory_chips,
    nonnegative_weights,
    unit_detail,
    word_cloud_data,
)


def planted(unit_sizes=(12, 30, 20), word_sizes=(15, 10, 25), *, strength=1.0, noise=0.1, seed=0):
    """Signed S with word block k responding `strength` on unit block k, shuffled.

    Returns S and the true word and unit labels (block numbers in the order given).
    """
    rng = np.random.default_rng(seed)
    words = np.repeat(np.arange(len(word_sizes)), word_sizes)
    units = np.repeat(np.arange(len(unit_sizes)), unit_sizes)
    S = strength * (words[:, None] == units[None, :]) + noise * rng.standard_normal(
        (words.size, units.size)
    )
    row_order, col_order = rng.permutation(words.size), rng.permutation(units.size)
    return S[np.ix_(row_order, col_order)], words[row_order], units[col_order]


def as_biclusters(row_labels, col_labels, k):
    return (
        np.vstack([row_labels == c for c in range(k)]),
        np.vstack([col_labels == c for c in range(k)]),
    )


# --- co-clustering --------------------------------------------------------------------------


def test_recovers_sklearn_planted_biclusters() -> None:
    data, rows, cols = make_biclusters(
        shape=(300, 200), n_clusters=5, noise=5, shuffle=True, random_state=0
    )
    row_labels, col_labels = cocluster(data, n_clusters=5)
    assert consensus_score(as_biclusters(row_labels, col_labels, 5), (rows, cols)) == 1.0


@pytest.mark.parametrize("sign", ["raw-shift", "abs", "positive"])
def test_recovers_planted_positive_blocks(sign: str) -> None:
    S, words, units = planted()
    row_labels, col_labels = cocluster(S, n_clusters=3, sign=sign)
    assert adjusted_rand_score(words, row_labels) == 1.0
    assert adjusted_rand_score(units, col_labels) == 1.0


@pytest.mark.parametrize("sign", ["abs", "negative"])
def test_recovers_planted_negative_blocks(sign: str) -> None:
    S, words, units = planted(strength=-1.0)
    row_labels, col_labels = cocluster(S, n_clusters=3, sign=sign)
    assert adjusted_rand_score(words, row_labels) == 1.0
    assert adjusted_rand_score(units, col_labels) == 1.0


def test_relabelled_by_decreasing_units_with_pairs_kept() -> None:
    # blocks 0, 1, 2 have 12, 30, 20 units: they become co-clusters 2, 0, 1
    S, words, units = planted()
    row_labels, col_labels = cocluster(S, n_clusters=3)
    assert np.bincount(col_labels).tolist() == [30, 20, 12]
    expected = np.array([2, 0, 1])
    np.testing.assert_array_equal(col_labels, expected[units])
    np.testing.assert_array_equal(row_labels, expected[words])  # word block k stays with k


@pytest.mark.parametrize("k", [2, 3, 6])
def test_log2_vectors_and_raw_shift_are_sklearns_spectral_coclustering(k: int) -> None:
    # sklearn shifts signed weights by -min(S) itself: the same as sign="raw-shift"
    S, _, _ = planted((30, 25, 20, 15, 10, 5), (20, 10, 20, 10, 20, 10), noise=0.6, seed=3)
    ours = cocluster(S, n_clusters=k, sign="raw-shift", n_vectors="log2", seed=5)
    model = SpectralCoclustering(n_clusters=k, random_state=5).fit(S)
    assert adjusted_rand_score(model.row_labels_, ours.row_labels) == 1.0
    assert adjusted_rand_score(model.column_labels_, ours.col_labels) == 1.0


def test_k_minus_1_vectors_recover_blocks_that_log2_merges() -> None:
    sizes = (16, 20, 24, 28, 32, 36, 40, 44, 48, 52)
    S, words, units = planted(sizes, sizes[::-1], noise=0.3, seed=6)
    rows, cols = cocluster(S, n_clusters=10, sign="abs")
    assert adjusted_rand_score(words, rows) == 1.0
    assert adjusted_rand_score(units, cols) == 1.0
    rows, cols = cocluster(S, n_clusters=10, sign="abs", n_vectors="log2")
    assert adjusted_rand_score(units, cols) < 0.9  # 0.83 at this seed


def test_same_seed_same_labels() -> None:
    S, _, _ = planted(noise=0.8, seed=4)
    a, b = cocluster(S, n_clusters=3, seed=7), cocluster(S, n_clusters=3, seed=7)
    np.testing.assert_array_equal(a.row_labels, b.row_labels)
    np.testing.assert_array_equal(a.col_labels, b.col_labels)


def test_sign_modes_on_a_hand_case() -> None:
    S = np.array([[-1.0, 2.0], [3.0, -4.0]])
    expected = {
        "raw-shift": [[3, 6], [7, 0]],
        "abs": [[1, 2], [3, 4]],
        "positive": [[0, 2], [3, 0]],
        "negative": [[1, 0], [0, 4]],
    }
    for sign, weights in expected.items():
        np.testing.assert_array_equal(nonnegative_weights(S, sign=sign), weights)
    # raw-shift always shifts, also when every response is positive
    np.testing.assert_array_equal(nonnegative_weights([[2.0, 5.0]]), [[0, 3]])


def test_all_zero_rows_and_columns_join_no_cocluster() -> None:
    S, words, units = planted()
    S = np.abs(S)
    S[4] = -np.abs(S[4])  # a word that lowers every unit
    S[:, 7] = -1.0  # a unit that every word lowers
    row_labels, col_labels = cocluster(S, n_clusters=3, sign="positive")
    assert row_labels[4] == -1 and col_labels[7] == -1
    assert (np.delete(row_labels, 4) >= 0).all() and (np.delete(col_labels, 7) >= 0).all()
    assert adjusted_rand_score(np.delete(words, 4), np.delete(row_labels, 4)) == 1.0
    assert adjusted_rand_score(np.delete(units, 7), np.delete(col_labels, 7)) == 1.0
    # with |S| both have weight again
    row_labels, col_labels = cocluster(S, n_clusters=3, sign="abs")
    assert row_labels[4] >= 0 and col_labels[7] >= 0


# --- edges ----------------------------------------------------------------------------------


def block_matrix() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2 word clusters x 2 unit clusters with block means 1.0, -0.5 / 0.2, 0.1, plus a
    word and a unit in no cluster (their values must not count)."""
    row_labels = np.array([0, 0, 1, 1, 1, -1])
    col_labels = np.array([1, 0, 0, -1, 1])
    means = {(0, 0): 1.0, (0, 1): -0.5, (1, 0): 0.2, (1, 1): 0.1}
    S = np.full((6, 5), 99.0)
    for (i, j), mean in means.items():
        block = np.ix_(row_labels == i, col_labels == j)
        shape = S[block].shape
        S[block] = mean + np.linspace(-0.05, 0.05, shape[0] * shape[1]).reshape(shape)
    return S, row_labels, col_labels


def test_edges_are_block_means_filtered_at_20_percent() -> None:
    S, row_labels, col_labels = block_matrix()
    edges = cluster_edges(S, row_labels, col_labels)
    assert list(edges.columns) == [
        "word_cluster",
        "unit_cluster",
        "weight",
        "strength",
        "sign",
        "n_words",
        "n_units",
    ]
    assert edges[["word_cluster", "unit_cluster"]].to_numpy().tolist() == [[0, 0], [0, 1], [1, 0]]
    np.testing.assert_allclose(edges["weight"], [1.0, -0.5, 0.2], atol=1e-12)
    np.testing.assert_allclose(edges["strength"], [1.0, 0.5, 0.2], atol=1e-12)
    assert edges["sign"].tolist() == ["positive", "negative", "positive"]
    assert edges["n_words"].tolist() == [2, 2, 3]
    assert edges["n_units"].tolist() == [2, 2, 2]
    assert len(cluster_edges(S, row_labels, col_labels, min_strength=0.0)) == 4
    assert len(cluster_edges(S, row_labels, col_labels, min_strength=0.21)) == 2
    assert len(cluster_edges(S, row_labels, col_labels, min_strength=1.0)) == 1


def test_edges_of_a_zero_matrix_and_of_no_cluster() -> None:
    edges = cluster_edges(np.zeros((3, 2)), [0, 1, 1], [1, 0], min_strength=0.0)
    assert edges["strength"].tolist() == [0.0] * 4 and set(edges["sign"]) == {"zero"}
    assert cluster_edges(np.ones((2, 2)), [-1, -1], [-1, -1]).empty


# --- memory chips ---------------------------------------------------------------------------


def test_memory_chip_grid_positions() -> None:
    col_labels = np.array([1, 0, 0, 1, 0, 0, 0, -1, 0, 0])
    S = np.arange(20.0).reshape(2, 10) - 5
    chips = memory_chips(S, col_labels, 0)
    # chip 0: units 1 2 4 5 6 8 9 in a 3 x 3 grid; chip 1: units 0 3 side by side; -1 last
    assert chips["unit"].tolist() == [1, 2, 4, 5, 6, 8, 9, 0, 3, 7]
    assert chips["cluster"].tolist() == [0] * 7 + [1, 1, -1]
    assert chips["row"].tolist() == [0, 0, 0, 1, 1, 1, 2, 0, 0, 0]
    assert chips["col"].tolist() == [0, 1, 2, 0, 1, 2, 0, 0, 1, 0]
    assert chips["chip_rows"].tolist() == [3] * 7 + [1, 1, 1]
    assert chips["chip_cols"].tolist() == [3] * 7 + [2, 2, 1]
    np.testing.assert_array_equal(chips["response"], S[0, chips["unit"]])
    assert memory_chips(S, col_labels)["response"].isna().all()

    height = memory_chips(S, col_labels, 1, layout="equal-height")  # 3 rows (sqrt 7 -> 3)
    assert height.groupby("cluster")["chip_rows"].first().to_dict() == {-1: 3, 0: 3, 1: 3}
    assert height.groupby("cluster")["chip_cols"].first().to_dict() == {-1: 1, 0: 3, 1: 1}
    width = memory_chips(S, col_labels, 1, layout="equal-width", cells=2)
    assert width.groupby("cluster")["chip_cols"].first().to_dict() == {-1: 2, 0: 2, 1: 2}
    assert width.groupby("cluster")["chip_rows"].first().to_dict() == {-1: 1, 0: 4, 1: 1}
    assert width["row"].tolist()[:7] == [0, 0, 1, 1, 2, 2, 3]


# --- word clouds ----------------------------------------------------------------------------


def test_word_cloud_sizes_by_salience_over_the_paired_units() -> None:
    # word cluster 0 = rows 0-2 paired with units 0-1; cluster 1 = rows 3-4 with unit 2
    S = np.array(
        [
            [0.9, 0.7, 5.0],  # salience 0.8 (unit 2 is not paired: ignored)
            [-0.6, -0.6, 5.0],  # salience 0.6, response -0.6
            [0.1, 0.3, 5.0],  # salience 0.2
            [9.0, 9.0, 0.5],
            [9.0, 9.0, -0.5],  # same salience as row 3, more frequent
        ]
    )
    types = ["a", "b", "c", "d", "e"]
    counts = np.array([10, 20, 30, 1, 2])
    row_labels, col_labels = [0, 0, 0, 1, 1], [0, 0, 1]
    clouds = word_cloud_data(S, types, counts, row_labels, col_labels)
    assert clouds["word"].tolist() == ["a", "b", "c", "e", "d"]
    assert clouds["rank"].tolist() == [0, 1, 2, 0, 1]
    np.testing.assert_allclose(clouds["salience"], [0.8, 0.6, 0.2, 0.5, 0.5])
    np.testing.assert_allclose(clouds["response"], [0.8, -0.6, 0.2, -0.5, 0.5])
    np.testing.assert_allclose(clouds["size"], [17, 9 + 8 * 4 / 6, 9, 17, 17])
    assert clouds["count"].tolist() == [10, 20, 30, 2, 1]

    by_response = word_cloud_data(S, types, counts, row_labels, col_labels, size_by="response")
    assert by_response["word"].tolist()[:3] == ["a", "c", "b"]  # negative words smallest
    top = word_cloud_data(S, types, counts, row_labels, col_labels, top_per_cluster=1)
    assert top["word"].tolist() == ["a", "e"]
    central = word_cloud_data(
        S, types, counts, [-1, 0, 0, 0, 0], col_labels, size_by="centrality"
    )  # centroid of rows 1-4; "a" is in no cluster
    d = np.linalg.norm(S[1:] - S[1:].mean(axis=0), axis=1)
    np.testing.assert_allclose(central["distance"], np.sort(d))
    assert central["size"].iloc[0] == 17 and central["size"].iloc[-1] == 9


def test_word_cloud_of_a_cluster_without_units_uses_every_unit() -> None:
    S = np.array([[1.0, -3.0], [2.0, 2.0]])
    clouds = word_cloud_data(S, ["x", "y"], [1, 1], [1, 1], [0, 0])
    np.testing.assert_allclose(clouds["salience"], [2.0, 2.0])
    assert clouds["word"].tolist() == ["x", "y"]  # equal: order of the rows


# --- unit detail ----------------------------------------------------------------------------


def test_unit_detail_orders() -> None:
    S = np.array([[0.1], [-0.9], [0.5], [-0.2], [0.9], [0.0]])
    types = ["a", "b", "c", "d", "e", "f"]
    detail = unit_detail(S, types, 0, top_m=3, counts=[6, 5, 4, 3, 2, 1])
    assert detail["word"].tolist() == ["b", "e", "c"]  # |-0.9| ties 0.9: earlier row first
    assert detail["response"].tolist() == [-0.9, 0.9, 0.5]
    assert detail["magnitude"].tolist() == [0.9, 0.9, 0.5]
    assert detail["sign"].tolist() == ["negative", "positive", "positive"]
    assert detail["count"].tolist() == [5, 2, 4]
    extremes = unit_detail(S, types, 0, top_m=4, by="extremes")
    assert extremes["word"].tolist() == ["e", "c", "d", "b"]
    assert unit_detail(S, types, 0, top_m=3, by="extremes")["word"].tolist() == ["e", "c", "b"]
    assert len(unit_detail(S, types, 0, top_m=50)) == 6
    assert unit_detail(S, types, 0, top_m=50)["sign"].iloc[-1] == "zero"


# --- errors ---------------------------------------------------------------------------------

S4 = np.arange(12.0).reshape(4, 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cocluster(np.zeros(4)), r"2-D \(n_types, n_units\), got shape \(4,\)"),
        (lambda: cocluster(np.zeros((0, 3))), "at least one type and one unit"),
        (lambda: cocluster([["a"]]), "must hold numbers"),
        (lambda: cocluster([[np.nan, 1.0]]), "1 NaN or inf"),
        (lambda: cocluster(S4, sign="raw"), r"`sign` must be one of \['raw-shift'"),
        (lambda: cocluster(S4, n_clusters=1), "n_clusters.*>= 2, got 1"),
        (lambda: cocluster(S4, n_clusters=2.5), "n_clusters.*got 2.5"),
        (lambda: cocluster(S4, n_clusters=2, n_init=0), "n_init.*got 0"),
        (lambda: cocluster(S4, n_clusters=2, n_vectors="all"), "n_vectors.*got 'all'"),
        (lambda: cocluster(S4, n_clusters=2, n_vectors=0), "n_vectors.*got 0"),
        (lambda: cocluster(S4, n_clusters=2, n_vectors=3), "3 singular.*at least 4 types"),
        (lambda: cocluster(S4, n_clusters=4), "at least 4 types and 4 units.*got 4 of 4 types"),
        (
            lambda: cocluster(-np.abs(S4) - 1, n_clusters=2, sign="positive"),
            "sign='positive', got 0 of 4 types and 0 of 3 units",
        ),
        (lambda: cluster_edges(S4, [0, 1], [0, 1, 0]), r"row_labels.*\(4,\).*got \(2,\)"),
        (lambda: cluster_edges(S4, [0, 1, 0, 1], [0, 1]), r"col_labels.*\(3,\).*per column"),
        (lambda: cluster_edges(S4, [0.5] * 4, [0, 1, 0]), "row_labels.*integers"),
        (lambda: cluster_edges(S4, [0, -2, 0, 1], [0, 1, 0]), "-1.*or >= 0, got -2"),
        (lambda: cluster_edges(S4, [0] * 4, [0] * 3, min_strength=1.5), r"\[0, 1\], got 1.5"),
        (lambda: memory_chips(S4, [0] * 3, 4), r"word_index.*\[0, 4\), got 4"),
        (lambda: memory_chips(S4, [0] * 3, layout="grid"), "layout.*got 'grid'"),
        (lambda: memory_chips(S4, [0] * 3, cells=0), "cells.*got 0"),
        (lambda: word_cloud_data(S4, ["a"] * 3, [1] * 4, [0] * 4, [0] * 3), r"`types`.*\(4\)"),
        (lambda: word_cloud_data(S4, ["a"] * 4, [1] * 3, [0] * 4, [0] * 3), "counts.*got"),
        (
            lambda: word_cloud_data(S4, ["a"] * 4, [1] * 4, [0] * 4, [0] * 3, size_by="d"),
            "size_by",
        ),
        (
            lambda: word_cloud_data(S4, ["a"] * 4, [1] * 4, [0] * 4, [0] * 3, top_per_cluster=0),
            "top_per_cluster.*got 0",
        ),
        (
            lambda: word_cloud_data(S4, ["a"] * 4, [1] * 4, [0] * 4, [0] * 3, font_range=(9, 5)),
            r"font_range.*got \(9, 5\)",
        ),
        (lambda: unit_detail(S4, ["a"] * 4, 3), r"unit.*\[0, 3\), got 3"),
        (lambda: unit_detail(S4, ["a"] * 4, 0, top_m=0), "top_m.*got 0"),
        (lambda: unit_detail(S4, ["a"] * 4, 0, by="signed"), "by.*'abs', 'extremes'"),
        (lambda: unit_detail(S4, ["a"] * 4, 0, counts=[1]), r"counts.*\(4,\), got \(1,\)"),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
