"""Pre-trained word vectors: reading both text formats, coverage, malformed files, and a
word-level model starting from them, frozen or fine-tuned."""

import gzip
import json

import numpy as np
import pytest

from lib.data.corpora import corpus_from_text
from lib.data.embeddings import (
    VectorsError,
    check_pretrained,
    embedding_matrix,
    read_vectors,
    sniff,
)
from lib.model.registry import checkpoints, load
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import train
from tests.helpers import TEXT

GLOVE = "the 0.1 0.2 0.3 0.4\nquick 1 2 3 4\nfox -1 -2 -3 -4.5e-1\nDog 9 9 9 9\nzebra 5 5 5 5\n"
WORD2VEC = "5 4\n" + GLOVE


def write(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("text,fmt", [(GLOVE, "glove"), (WORD2VEC, "word2vec")])
def test_both_formats_read_the_same_vectors(tmp_path, text, fmt):
    v = read_vectors(write(tmp_path, text))
    assert v.format == fmt and v.dim == 4 and v.words == ["the", "quick", "fox", "Dog", "zebra"]
    np.testing.assert_allclose(v.matrix[2], [-1, -2, -3, -0.45])
    assert v.matrix.dtype == np.float32 and v.notes == []
    assert sniff(tmp_path / "vectors.txt").dim == 4


def test_gzip_and_keep_and_glove_840b_words_with_spaces(tmp_path):
    text = GLOVE + ". . . 1 1 1 1\n"  # GloVe 840B has such multi-word entries
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    v = read_vectors(path, keep={"fox", "the", "absent"})
    assert v.words == ["the", "fox"] and v.n_entries == 6 and v.skipped == 1
    assert "holds a space" in v.notes[0]


def test_word2vec_header_count_mismatch_is_a_note(tmp_path):
    v = read_vectors(write(tmp_path, "7 4\n" + GLOVE))
    assert "announces 7" in v.notes[0] and len(v) == 5


def test_coverage_exact_lowercase_and_token_share():
    v = read_vectors_from(GLOVE)
    tokens = ["<unk>", "the", "The", "dog", "cat", "zebra"]
    counts = np.array([3, 10, 5, 4, 1, 0])
    base = np.full((6, 4), 7.0)
    matrix, cov = embedding_matrix(v, tokens, counts, base=base)
    assert (cov.n_vocab, cov.n_exact, cov.n_lower, cov.n_covered) == (5, 2, 1, 3)
    assert cov.fraction == pytest.approx(0.6)
    assert cov.token_share == pytest.approx((10 + 5 + 0) / 20)
    assert cov.missing == ("dog", "cat")  # "Dog" is not lower-case: no match; by count
    np.testing.assert_allclose(matrix[2], matrix[1])  # "The" took "the"
    np.testing.assert_allclose(matrix[[0, 3, 4]], 7.0)  # <unk> and uncovered rows kept
    shifted, _ = embedding_matrix(v, tokens, counts, base=np.zeros((7, 4)), offset=1)
    np.testing.assert_allclose(shifted[2], v.matrix[0])
    assert "3 of 5 vocabulary words" in cov.describe()


def read_vectors_from(text):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return read_vectors(write(Path(d), text))


@pytest.mark.parametrize(
    "content,message",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("the 0.1 0.2 0.3 0.4\nquick 1 2 3\n", "line 2: 3 values, expected 4"),
        ("the 0.1 0.2 0.3 0.4\nquick 1 2 3 4 5\n", "line 2: 5 values, expected 4"),
        ("2 4\nthe 0.1 0.2 0.3\n", "line 2: 3 values, expected 4 (the dimension of the header)"),
        ("the 0.1 0.2 0.3 0.4\nquick 1 two 3 4\n", "line 2: value 2 is 'two', not a finite"),
        ("the 0.1 0.2 nan 0.4\n", "value 3 is 'nan'"),
        ("the\n", "line 1 holds no vector"),
        ("2 4\n", "holds no vectors"),
        (b"2 4\nthe \x80\x3f\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\n", "looks binary"),
        (b"\x00\x01\x02binary", "looks binary"),
        (b"PK\x03\x04zipped", "zip archive"),
    ],
)
def test_malformed_files_say_what_and_where(tmp_path, content, message):
    with pytest.raises(VectorsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_vectors(write(tmp_path, content))


def test_missing_file_and_wrong_level_or_dimension(tmp_path):
    with pytest.raises(VectorsError, match="no vectors file"):
        sniff(tmp_path / "nope.txt")
    path = write(tmp_path, GLOVE)
    with pytest.raises(VectorsError, match="need a word-level model, got level 'char'"):
        check_pretrained(path, level="char", embedding=4)
    with pytest.raises(
        VectorsError,
        match="have 4 dimensions but the embedding size is 8: set the embedding size to 4",
    ):
        check_pretrained(path, level="word", embedding=8)


WORD_SPEC = ModelSpec(cell="gru", level="word", units=8, embedding=4, seq_len=10)
CORPUS = corpus_from_text(TEXT * 4, name="tiny")


def embedding_weights(name, root, epoch):
    path = dict(checkpoints(name, root=root))[epoch]
    with np.load(path) as z:
        return z["arr_0"]  # the embedding is the model's first weight


@pytest.mark.slow
@pytest.mark.parametrize("freeze", [True, False])
def test_word_model_starts_from_vectors_frozen_or_fine_tuned(tmp_path, freeze):
    path = write(tmp_path, GLOVE)
    config = TrainConfig(
        epochs=2,
        batch_size=8,
        learning_rate=3e-2,
        embedding_file=str(path),
        freeze_embedding=freeze,
    )
    bundle = train(WORD_SPEC, CORPUS, name="w", config=config, root=tmp_path / "models")
    vocab = bundle.vocab
    meta = json.loads((tmp_path / "models" / "w" / "meta.json").read_text())
    cov = meta["pretrained"]["coverage"]
    assert meta["pretrained"]["frozen"] is freeze and meta["pretrained"]["dim"] == 4
    assert cov["n_covered"] == 4 and cov["n_lower"] == 1  # the, quick, fox; The -> the
    first, second = (embedding_weights("w", tmp_path / "models", e) for e in (1, 2))
    quick = vocab.encode(["quick"])[0]
    if freeze:
        np.testing.assert_array_equal(first, second)
        np.testing.assert_allclose(second[quick], [1, 2, 3, 4])
        assert not load("w", root=tmp_path / "models").model.get_layer("embedding").trainable
    else:
        assert np.abs(second - first).max() > 1e-4
        assert np.abs(second[quick] - [1, 2, 3, 4]).max() > 1e-4


def test_bad_vectors_are_refused_before_training(tmp_path):
    path = write(tmp_path, GLOVE)
    config = TrainConfig(epochs=1, embedding_file=str(path))
    with pytest.raises(ValueError, match="embedding size is 6"):
        train(
            ModelSpec(level="word", embedding=6, units=8, seq_len=10),
            CORPUS,
            name="w",
            config=config,
            root=tmp_path / "models",
        )
    with pytest.raises(ValueError, match="freezing the embedding needs pre-trained vectors"):
        TrainConfig(freeze_embedding=True).validate()
    assert not (tmp_path / "models" / "w").exists()
