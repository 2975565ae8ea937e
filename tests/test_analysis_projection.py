"""Tests for lib.analysis.projection: sampling, 2-D maps, clusters and runs of the text."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lib.analysis.projection import (
    adjacent_share,
    cluster,
    cluster_table,
    default_tsne_iterations,
    project,
    relabel_by_size,
    runs_of_consecutive,
    stratified_sample,
)


def blobs(sizes=(40, 30, 20, 10), *, dims=2, spread=0.3, seed=0):
    """Well-separated Gaussian blobs of the given sizes; returns (points, true labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (len(sizes), dims))
    centres *= 20 / np.linalg.norm(centres, axis=1, keepdims=True)
    centres *= np.arange(1, len(sizes) + 1)[:, None]  # distinct radii: no two centres meet
    labels = np.repeat(np.arange(len(sizes)), sizes)
    points = centres[labels] + rng.normal(0, spread, (labels.size, dims))
    order = rng.permutation(labels.size)
    return points[order], labels[order]


# --- sampling -------------------------------------------------------------------------------


def test_stratified_sample_allocates_by_square_root_of_counts() -> None:
    tokens = ["a"] * 900 + ["b"] * 100 + ["c"] * 25  # sqrt: 30, 10, 5
    positions = stratified_sample(tokens, 90, seed=3)
    assert Counter(tokens[p] for p in positions) == {"a": 60, "b": 20, "c": 10}
    assert np.all(np.diff(positions) > 0)  # sorted and distinct


def test_stratified_sample_passes_the_excess_of_rare_types_on() -> None:
    tokens = ["a"] * 400 + ["b"] * 100 + ["c", "d"]  # sqrt: 20, 10, 1, 1
    counts = Counter(tokens[p] for p in stratified_sample(tokens, 100))
    assert sum(counts.values()) == 100
    assert counts["c"] == 1 and counts["d"] == 1  # all of them
    assert counts["a"] == 65 and counts["b"] == 33  # 98 in the ratio 2:1, rounded
    assert counts["a"] / 100 < 400 / 502  # the frequent type is sampled below its share


def test_stratified_sample_cap_bounds_every_type() -> None:
    tokens = ["the"] * 500 + [f"w{i}" for i in range(30)] * 3
    positions = stratified_sample(tokens, 200, per_type_cap=10)
    counts = Counter(tokens[p] for p in positions)
    assert max(counts.values()) == 10 and counts["the"] == 10
    assert len(positions) == 10 + 30 * 3  # the cap leaves fewer than n


def test_stratified_sample_is_deterministic_and_keeps_everything_when_n_is_large() -> None:
    rng = np.random.default_rng(0)
    tokens = [str(t) for t in rng.zipf(1.5, 3000) % 200]
    first = stratified_sample(tokens, 500, seed=7)
    assert len(first) == 500
    np.testing.assert_array_equal(first, stratified_sample(tokens, 500, seed=7))
    assert not np.array_equal(first, stratified_sample(tokens, 500, seed=8))
    np.testing.assert_array_equal(stratified_sample(tokens, 5000), np.arange(3000))


# --- projection -----------------------------------------------------------------------------


def test_pca_projection_shape_and_determinism() -> None:
    X, _ = blobs(dims=30)
    Y = project(X, method="pca")
    assert Y.shape == (100, 2) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y, project(X, method="pca"))
    assert project(X, method="pca", n_components=3).shape == (100, 3)


def test_tsne_projection_is_deterministic_and_keeps_blobs_apart() -> None:
    X, truth = blobs(dims=80, spread=1.0)
    calls = []
    options = {"method": "tsne", "pca_dims": 10, "max_iter": 300}
    Y = project(X, **options, progress=lambda f, m: calls.append((f, m)))
    assert Y.shape == (100, 2)
    np.testing.assert_array_equal(Y, project(X, **options))
    assert adjusted_rand_score(truth, cluster(Y, n_clusters=4)) == 1.0
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert "PCA from 80 to 10" in calls[0][1]


def test_tsne_clips_the_perplexity_for_few_points_and_says_so() -> None:
    X, _ = blobs(sizes=(5, 5), dims=3)
    messages = []
    Y = project(X, method="tsne", perplexity=30, progress=lambda f, m: messages.append(m))
    assert Y.shape == (10, 2) and np.isfinite(Y).all()
    assert any("perplexity 30 clipped to 3" in m for m in messages)


def test_default_tsne_iterations_follow_the_budget() -> None:
    assert default_tsne_iterations(500) == 1000
    assert default_tsne_iterations(5000) == 350
    assert default_tsne_iterations(100_000) == 350
    assert 350 < default_tsne_iterations(3000) < 1000


@pytest.mark.slow
def test_umap_projection_on_a_tiny_input() -> None:
    # the first UMAP call in a process compiles numba code: one small case only
    X, truth = blobs(sizes=(30, 30), dims=20, spread=0.5)
    Y = project(X, method="umap", n_neighbors=10)
    assert Y.shape == (60, 2) and np.isfinite(Y).all()
    np.testing.assert_array_equal(Y, project(X, method="umap", n_neighbors=10))
    assert adjusted_rand_score(truth, cluster(Y, n_clusters=2)) == 1.0


# --- clustering -----------------------------------------------------------------------------


@pytest.mark.parametrize("linkage", ["ward", "single", "average", "complete"])
def test_cluster_recovers_planted_blobs_numbered_by_size(linkage) -> None:
    Y, truth = blobs()
    labels = cluster(Y, n_clusters=4, linkage=linkage)
    assert adjusted_rand_score(truth, labels) == 1.0
    # blob 0 has 40 points, blob 3 has 10: cluster 0 is the largest
    np.testing.assert_array_equal(labels, truth)
    assert np.bincount(labels).tolist() == [40, 30, 20, 10]


def test_cluster_with_a_distance_threshold_and_the_default_count() -> None:
    Y, truth = blobs()
    labels = cluster(Y, distance_threshold=5.0, linkage="single")
    np.testing.assert_array_equal(labels, truth)
    assert cluster(Y).max() == 19  # 20 clusters by default
    assert cluster(Y[:7]).max() == 6  # at most one per point


def test_relabel_by_size_breaks_ties_by_first_member() -> None:
    assert relabel_by_size([5, 5, 2, 2, 2, 7]).tolist() == [1, 1, 0, 0, 0, 2]
    assert relabel_by_size([3, 3, 1, 1, 9]).tolist() == [0, 0, 1, 1, 2]
    assert relabel_by_size([-1, 4, 4, -1, 2]).tolist() == [-1, 0, 0, -1, 1]


def test_cluster_table_on_a_hand_case() -> None:
    labels = [1, 0, 0, 0, 1, 1]
    tokens = ["x", "the", "a", "the", " ", "\n"]
    table = cluster_table(labels, tokens, top=8)
    assert table.columns.tolist() == ["cluster", "size", "share", "distinct", "top_tokens"]
    assert table["cluster"].tolist() == [0, 1]
    assert table["size"].tolist() == [3, 3] and table["distinct"].tolist() == [2, 3]
    assert table["share"].tolist() == [0.5, 0.5]
    assert table.loc[0, "top_tokens"] == "the ×2, a ×1"
    assert table.loc[1, "top_tokens"] == "'\\n' ×1, ' ' ×1, x ×1"  # ties by token
    short = cluster_table(labels, tokens, top=1, format_token=str.upper)
    assert short["top_tokens"].tolist() == ["THE ×2", "\n ×1"]


# --- runs of consecutive tokens -------------------------------------------------------------


def test_runs_of_consecutive_on_a_hand_case() -> None:
    positions = [10, 0, 1, 2, 5, 6]
    labels = [0, 0, 0, 0, 1, 1]
    table = runs_of_consecutive(positions, labels)
    assert table["size"].tolist() == [4, 2]
    assert table["adjacent"].tolist() == [3, 2]
    assert table["adjacent_share"].tolist() == [0.75, 1.0]
    assert table["runs"].tolist() == [2, 1] and table["longest_run"].tolist() == [3, 2]
    # hypergeometric chance: cluster 0 (4 of 6 points) has neighbours 1, 2, 1, 0 sampled
    np.testing.assert_allclose(table["chance_share"], [(0.6 + 0.9 + 0.6 + 0) / 4, 0.2])
    assert table.attrs["adjacent_share"] == pytest.approx(5 / 6)
    assert adjacent_share(positions, labels) == pytest.approx(5 / 6)


def test_chance_share_matches_shuffled_labels() -> None:
    # dense positions: every point but the two ends has both neighbours sampled, so the
    # chance level given each point's neighbours is (almost) that of a full shuffle
    rng = np.random.default_rng(4)
    positions = np.arange(60)
    labels = rng.integers(0, 3, 60)
    expected = runs_of_consecutive(positions, labels)["chance_share"].to_numpy()
    shuffled = np.mean(
        [
            runs_of_consecutive(positions, rng.permutation(labels))["adjacent_share"]
            for _ in range(1500)
        ],
        axis=0,
    )
    np.testing.assert_allclose(shuffled, expected, atol=0.02)


# --- errors ---------------------------------------------------------------------------------

POINTS = np.random.default_rng(0).normal(size=(20, 4))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stratified_sample(["a"], 0), "`n` must be an integer >= 1, got 0"),
        (lambda: stratified_sample(["a"], 5, per_type_cap=0), "`per_type_cap`"),
        (lambda: stratified_sample([], 5), "empty"),
        (lambda: project(np.zeros(5)), "2-D numeric"),
        (lambda: project(np.array([[0.0, np.inf], [1.0, 2.0]])), "NaN or inf"),
        (lambda: project(POINTS, method="mds"), "`method` must be one of"),
        (lambda: project(POINTS, n_components=0), "`n_components`"),
        (lambda: project(POINTS, n_components=5), r"min\(n_points, n_dims\) = 4"),
        (lambda: project(POINTS, method="tsne", pca_dims=1), "`pca_dims`"),
        (lambda: project(POINTS[:4], method="tsne"), "at least 5 points, got 4"),
        (lambda: project(POINTS, method="tsne", perplexity=-1), "`perplexity`"),
        (lambda: project(POINTS, method="tsne", max_iter=100), "`max_iter` .* got 100"),
        (lambda: project(POINTS, method="umap", n_neighbors=1), "`n_neighbors`"),
        (lambda: project(POINTS, method="umap", n_epochs=0), "`n_epochs`"),
        (lambda: cluster(POINTS, n_clusters=3, distance_threshold=1.0), "not both"),
        (lambda: cluster(POINTS, n_clusters=21), r"\[1, 20\] .* got 21"),
        (lambda: cluster(POINTS, distance_threshold=-1.0), "`distance_threshold`"),
        (lambda: cluster(POINTS, linkage="centroid"), "`linkage` must be one of"),
        (lambda: cluster(POINTS[:1]), "at least 2 points"),
        (lambda: relabel_by_size([0.5, 1.0]), "1-D integers"),
        (lambda: cluster_table([0, 1], ["a"]), "one token per label"),
        (lambda: cluster_table([0], ["a"], top=0), "`top`"),
        (lambda: runs_of_consecutive([1, 1], [0, 0]), "distinct"),
        (lambda: runs_of_consecutive([1, 2, 3], [0, 0]), "same shape"),
        (lambda: adjacent_share([1.5], [0]), "`positions` must be 1-D integers"),
    ],
)
def test_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_pca_map_places_new_points_like_the_fitted_ones():
    from lib.analysis.projection import pca_map

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 6)) * np.array([5, 3, 1, 0.1, 0.1, 0.1])
    a, b = pca_map(ref, ref[:7])
    np.testing.assert_allclose(b, a[:7])
    assert a.shape == (200, 2) and a[:, 0].var() > a[:, 1].var()
    with pytest.raises(ValueError, match="same number of columns"):
        pca_map(ref, ref[:, :3])
