"""What word clusters follow: AMI with tokens and POS tags, and the untrained twin."""

from __future__ import annotations

import doctest
import math
import random

import numpy as np
import pytest

from lib.analysis import cluster_agreement as CA
from lib.analysis.cluster_agreement import cluster_agreement, untrained_twin
from tests.helpers import TEXT, random_bundle


def _ami(u, v) -> float:
    """Adjusted mutual information written out (Vinh, Epps & Bailey 2010, arithmetic
    mean), with the expected MI summed over the hypergeometric distribution of every cell."""
    from scipy.special import gammaln

    _, u = np.unique(u, return_inverse=True)
    _, v = np.unique(v, return_inverse=True)
    N = len(u)
    table = np.zeros((u.max() + 1, v.max() + 1))
    np.add.at(table, (u, v), 1)
    a, b = table.sum(1), table.sum(0)
    nz = table > 0
    mi = float((table[nz] / N * np.log(N * table[nz] / np.outer(a, b)[nz])).sum())
    h_u = -float((a / N * np.log(a / N)).sum())
    h_v = -float((b / N * np.log(b / N)).sum())
    emi = 0.0
    for ai in a:
        for bj in b:
            for n in range(int(max(1, ai + bj - N)), int(min(ai, bj)) + 1):
                log_p = (
                    gammaln(ai + 1)
                    + gammaln(bj + 1)
                    + gammaln(N - ai + 1)
                    + gammaln(N - bj + 1)
                    - gammaln(N + 1)
                    - gammaln(n + 1)
                    - gammaln(ai - n + 1)
                    - gammaln(bj - n + 1)
                    - gammaln(N - ai - bj + n + 1)
                )
                emi += n / N * math.log(N * n / (ai * bj)) * math.exp(log_p)
    return (mi - emi) / ((h_u + h_v) / 2 - emi)


def test_ami_by_hand_against_sklearn_and_a_written_out_formula() -> None:
    from sklearn.metrics import adjusted_mutual_info_score

    labels = [0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 2, 1]
    tokens = list("aabbbcacabcc")
    tags = ["N", "N", "V", "V", "V", "N", "N", "V", "N", "V", "N", "V"]
    out = cluster_agreement(labels, tokens, tags)
    assert out["ami_token"] == pytest.approx(_ami(labels, tokens), abs=1e-10)
    assert out["ami_pos"] == pytest.approx(_ami(labels, tags), abs=1e-10)
    assert out["ami_token"] == pytest.approx(adjusted_mutual_info_score(tokens, labels))
    assert (out["n_points"], out["n_clusters"], out["n_tokens"], out["n_tags"]) == (12, 3, 3, 2)


def test_clusters_that_are_the_tokens_score_one_and_unrelated_ones_zero() -> None:
    rng = np.random.default_rng(0)
    tokens = rng.choice(list("abcdefghij"), size=3000).tolist()
    tags = ["V" if t in "aeiou" else "C" for t in tokens]
    same = np.unique(tokens, return_inverse=True)[1]
    out = cluster_agreement(same, tokens, tags)
    assert out["ami_token"] == pytest.approx(1.0)
    # clusters finer than the tags: they explain the tags, but only part of them
    assert 0.2 < out["ami_pos"] < 1.0
    assert cluster_agreement(np.unique(tags, return_inverse=True)[1], tokens, tags)[
        "ami_pos"
    ] == pytest.approx(1.0)
    noise = rng.integers(0, 10, size=3000)  # fake clusters, unrelated to the text
    out = cluster_agreement(noise, tokens, tags)
    assert abs(out["ami_token"]) < 0.01 and abs(out["ami_pos"]) < 0.01


def test_without_tags_and_bad_input() -> None:
    out = cluster_agreement([0, 1, 0, 1], list("abab"))
    assert out["ami_token"] == pytest.approx(1.0) and math.isnan(out["ami_pos"])
    assert out["n_tags"] == 0
    with pytest.raises(ValueError, match=r"one entry per label \(4\), got 3"):
        cluster_agreement([0, 1, 0, 1], list("aba"))
    with pytest.raises(ValueError, match=r"`tags` must have one entry per label"):
        cluster_agreement([0, 1, 0, 1], list("abab"), ["N"])
    with pytest.raises(ValueError, match="1-D integers"):
        cluster_agreement([0.5, 1.5], list("ab"))
    with pytest.raises(ValueError, match="at least 2 points"):
        cluster_agreement([0], list("a"))


def test_untrained_twin_is_seeded_shaped_alike_and_leaves_random_alone() -> None:
    trained = random_bundle("lstm", units=12)
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    one, again, other = (
        untrained_twin(trained, 0),
        untrained_twin(trained, 0),
        untrained_twin(trained, 1),
    )
    assert random.random() == expected_next  # Python's random state was restored
    w1, w2, w3 = (b.model.get_weights() for b in (one, again, other))
    wt = trained.model.get_weights()
    assert [w.shape for w in w1] == [w.shape for w in wt]
    assert all(np.array_equal(x, y) for x, y in zip(w1, w2, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(w1, w3, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(w1[:3], wt[:3], strict=True))
    # Keras' own LSTM initialisation: forget-gate bias 1, the other biases 0
    bias = one.model.get_layer("recurrent_0").get_weights()[2]
    assert np.array_equal(bias, np.repeat([0.0, 1.0, 0.0, 0.0], 12))
    assert one.spec == trained.spec and one.vocab is trained.vocab
    assert one.meta["untrained"] == {"of": trained.name, "seed": 0}
    with pytest.raises(ValueError, match="integer"):
        untrained_twin(trained, 0.5)  # type: ignore[arg-type]


def test_an_untrained_network_already_follows_the_token() -> None:
    """The reason for the baseline: the states of a network nobody trained, clustered, still
    group occurrences of one character (far above shuffled clusters)."""
    from lib.analysis.projection import cluster
    from lib.run.record import record

    twin = untrained_twin(random_bundle("lstm", units=16), seed=0)
    trace = record(twin, TEXT)
    labels = cluster(trace.signals[(0, "h")], n_clusters=12)
    ami = cluster_agreement(labels, trace.tokens)["ami_token"]
    shuffled = cluster_agreement(np.random.default_rng(0).permutation(labels), trace.tokens)
    assert ami > 0.3 and abs(shuffled["ami_token"]) < 0.05


def test_docstring_examples() -> None:
    result = doctest.testmod(CA, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
