"""Seed 000's embedding map and nearest tokens on planted vectors."""

import numpy as np
import pytest

from lib.analysis.embedding_map import embedding_map, most_frequent, nearest_tokens

TOKENS = ["<unk>", " ", "the", "you", "I", "(", ")", '"', "cat", "rare1", "rare2"]
COUNTS = np.array([50, 100, 90, 80, 70, 60, 55, 52, 40, 1, 1])
WORDS, PUNCT = {"the", "you", "I", "cat", " "}, {"(", ")", '"'}


def planted(dim=8, seed=0):
    """Words near +5 e0, punctuation near -5 e0; "you" and "I" nearly the same vector."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.5, (len(TOKENS), dim))
    for i, t in enumerate(TOKENS):
        W[i, 0] += 5 if t in WORDS else -5 if t in PUNCT else 0
    W[TOKENS.index("I")] = W[TOKENS.index("you")] + 0.01
    return W


def test_pca_map_separates_planted_groups_and_ranks_by_count():
    df = embedding_map(planted(), TOKENS, COUNTS, n=8)
    assert df["token"].tolist() == [" ", "the", "you", "I", "(", ")", '"', "cat"]
    assert df["rank"].tolist() == list(range(1, 9)) and 0 not in df["id"].tolist()
    side = np.sign(df["x"].to_numpy())
    words = df["token"].isin(WORDS).to_numpy()
    assert len(set(side[words])) == 1 and len(set(side[~words])) == 1
    assert side[words][0] != side[~words][0]
    assert df.attrs["explained"][0] > 0.8
    you, i = (df.set_index("token").loc[t, ["x", "y"]].to_numpy() for t in ("you", "I"))
    assert np.linalg.norm(you - i) < 0.1


def test_exclude_nan_rows_and_offset():
    W = planted()
    W[TOKENS.index("the")] = np.nan  # no pre-trained vector
    df = embedding_map(W, TOKENS, COUNTS, n=4, exclude={" "})
    assert df["token"].tolist() == ["you", "I", "(", ")"]
    padded = np.vstack([np.zeros((1, W.shape[1])), W])
    shifted = embedding_map(padded, TOKENS, COUNTS, n=4, exclude={" "}, offset=1)
    np.testing.assert_allclose(shifted[["x", "y"]], df[["x", "y"]])


def test_tsne_and_umap_need_five_points():
    df = embedding_map(planted(), TOKENS, COUNTS, n=10, method="tsne", perplexity=3.0)
    assert len(df) == 10 and np.isfinite(df[["x", "y"]].to_numpy()).all()
    with pytest.raises(ValueError, match="at least 5 points"):
        embedding_map(planted(), TOKENS, COUNTS, n=3, method="umap")


def test_most_frequent_ties_by_id():
    assert most_frequent([9, 3, 5, 5, 1], n=3).tolist() == [2, 3, 1]


def test_nearest_tokens_by_cosine():
    table = nearest_tokens(planted(), TOKENS, "you", k=3)
    assert table["token"].iloc[0] == "I"
    assert table["cosine"].iloc[0] == pytest.approx(1, abs=1e-3)
    assert table["cosine"].iloc[1] < 0.99
    assert set(table["token"]) <= WORDS and "you" not in set(table["token"])
    W = planted()
    assert table["distance"].iloc[0] == pytest.approx(
        np.linalg.norm(W[TOKENS.index("I")] - W[TOKENS.index("you")])
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"weights": np.zeros((3, 2))}, "must have len\\(tokens\\) \\+ offset = 11 rows, got 3"),
        ({"weights": np.zeros(11)}, "must be 2-D"),
        ({"counts": np.ones(3)}, "`counts` must have shape \\(11,\\)"),
        ({"method": "mds"}, "`method` must be one of"),
        ({"n": 0}, "`n` must be an integer >= 1"),
        ({"weights": np.full((11, 2), np.nan)}, "Only 0 token"),
    ],
)
def test_bad_inputs_say_what_was_received(kwargs, message):
    args = {"weights": planted(), "tokens": TOKENS, "counts": COUNTS, **kwargs}
    with pytest.raises(ValueError, match=message):
        embedding_map(**args)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        nearest_tokens(planted(), TOKENS, "zebra")
