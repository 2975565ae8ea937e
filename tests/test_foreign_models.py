"""Importing a user's own Keras model (lib.model.foreign, registry.import_keras).

Every model here is built with plain Keras (never with lib.model.build), saved as a user
would save it, and imported with its vocabulary in one of the forms people have. After an
import the project's recorder is compared, independently of the import's own check, with
Keras' output of the ORIGINAL model on a text; every refusal names the layer or option
and leaves the registry as it was.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers

from lib.limits import LimitError
from lib.model import registry as reg
from lib.model.foreign import TOLERANCE, ForeignModelError
from lib.run.classify import record_sequences
from lib.run.record import record

CHARS = list("abcdefgh ,.\n")
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away"]
SENTENCES = ["the cat sat on the mat", "a dog ran far away", "the dog sat", "a cat ran away"]


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "models"
    path.mkdir()
    return path


def _seed(n: int = 0) -> None:
    keras.utils.set_random_seed(n)


def _save(model, tmp_path, name: str) -> bytes:
    path = tmp_path / name
    model.save(path)
    return path.read_bytes()


def _import(data, filename, name, root, vocab=None, vocab_name="vocab.json", **kw):
    return reg.import_keras(
        data,
        filename,
        name,
        record=record,
        record_sequences=record_sequences,
        vocab=vocab,
        vocab_name=vocab_name,
        root=root,
        **kw,
    )


def _scramble(model, scale: float = 0.6) -> None:
    """Random weights of a visible size (untrained ones are near zero and easy to match)."""
    rng = np.random.default_rng(1)
    model.set_weights(
        [rng.normal(0, scale, w.shape).astype("float32") for w in model.get_weights()]
    )


def _outputs(model, ids) -> list[np.ndarray]:
    """Keras' own output of every layer of ``model`` (batch of one) on ``ids``."""
    x, out = ids, []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        x = layer(x, training=False)
        out.append(np.asarray(x, np.float64)[0])
    return out


def _contents(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*"))


# --- imports that work ----------------------------------------------------------------------


def test_a_char_lstm_language_model_with_a_character_list(tmp_path, root):
    _seed()
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(CHARS), 6),
            layers.LSTM(8, return_sequences=True, recurrent_dropout=0.2),
            layers.Dropout(0.3),
            layers.LSTM(8, return_sequences=True),
            layers.Dense(len(CHARS), activation="softmax"),
        ]
    )
    _scramble(model)
    data = _save(model, tmp_path, "chars.keras")
    bundle, check = _import(data, "chars.keras", "my-chars", root, json.dumps(CHARS).encode())
    assert bundle.spec.to_dict() | {} == bundle.spec.to_dict()
    assert (bundle.spec.cell, bundle.spec.layers, bundle.spec.units) == ("lstm", 2, 8)
    assert (bundle.spec.level, bundle.spec.task, bundle.spec.embedding) == ("char", "lm", 6)
    # the character list has no OOV id: <unk> is a new id 0, every char keeps its row
    assert bundle.vocab.tokens == ["<unk>", *CHARS]
    meta = json.loads((root / "my-chars" / "meta.json").read_text())
    assert meta["imported"]["from"] == "chars.keras"
    assert meta["imported"]["max_abs_delta_h"] == check["max_abs_delta_h"] <= TOLERANCE
    assert check["max_abs_delta_output"] <= TOLERANCE
    # independent check: a text recorded by the project vs the original model on its ids
    text = "a cab, fed a bad egg.\nhead"
    trace = record(bundle, text, streams=1)
    ids = np.array([[CHARS.index(c) for c in text]])
    outs = _outputs(model, ids)
    h, p = outs[-2], outs[-1]
    assert np.abs(np.asarray(trace.signals[(1, "h")]) - h).max() < 1e-5
    assert np.abs(np.asarray(trace.signals[(0, "c")]) - 0).max() > 0.05  # not a dead model
    top = np.asarray(trace.topk_ids)  # project ids = character ids + 1
    np.testing.assert_allclose(
        np.asarray(trace.topk_probs), np.take_along_axis(p, top - 1, axis=1), atol=1e-5
    )


@pytest.mark.parametrize("lower", [True, False])
def test_a_char_language_model_with_a_char_level_keras_tokenizer(tmp_path, root, lower):
    """Tokenizer(char_level=True, lower=True) lowers the text with str.lower before it looks
    characters up (non-ASCII letters too); lower=False looks them up as they are."""
    _seed(5)
    chars = [*CHARS, "é", "A"]  # "A" only reachable without lowering
    n = len(chars) + 2  # 0 padding, 1 the OOV token
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(n, 6),
            layers.GRU(8, return_sequences=True),
            layers.Dense(n, activation="softmax"),
        ]
    )
    _scramble(model)
    data = _save(model, tmp_path, "ctok.keras")
    vocab = _tokenizer_json(chars, char_level=True, lower=lower)
    name = f"my-ctok-{lower}"
    bundle, check = _import(data, "ctok.keras", name, root, vocab, "tok.json")
    assert check["max_abs_delta_output"] <= TOLERANCE
    text = "A Cab, fÉd"
    seen = text.lower() if lower else text  # what Keras' Tokenizer looks up
    index = {c: i + 2 for i, c in enumerate(chars)}
    ids = np.array([[index.get(c, 1) for c in seen]])
    # the Tokenizer's id of each project id (its padding and OOV ids are <pad> and <unk>)
    specials = {"<pad>": 0, "<unk>": 1}
    keras_id = np.array([specials[t] if t in specials else index[t] for t in bundle.vocab.tokens])
    trace = record(bundle, text, streams=1)
    assert "".join(trace.tokens) == seen
    p = _outputs(model, ids)[-1]
    top = keras_id[np.asarray(trace.topk_ids)]
    np.testing.assert_allclose(
        np.asarray(trace.topk_probs), np.take_along_axis(p, top, axis=1), atol=1e-5
    )
    again = reg.load(name, root=root)  # the lowering is kept in vocab.json
    assert again.tokenizer.standardize == ("str_lower" if lower else None)


def test_a_word_lstm_language_model_with_a_json_word_index_as_h5(tmp_path, root):
    _seed(1)
    index = {w: i + 1 for i, w in enumerate(WORDS)}  # Keras Tokenizer style: 0 is padding
    n = len(index) + 1
    ids_in = keras.Input((None,), dtype="int32")
    x = layers.Embedding(n, 5)(ids_in)
    x = layers.LSTM(7, return_sequences=True, use_bias=False)(x)
    out = layers.Dense(n)(x)  # logits
    model = keras.Model(ids_in, out)
    _scramble(model)
    data = _save(model, tmp_path, "words.h5")
    bundle, check = _import(data, "words.h5", "my-words", root, json.dumps(index).encode())
    assert (bundle.spec.level, bundle.spec.tokenizer_mode) == ("word", "words")
    assert bundle.vocab.tokens[:2] == ["<unk>", "<pad>"] and bundle.vocab.tokens[2:] == WORDS
    assert check["max_abs_delta_h"] <= TOLERANCE
    text = "the cat ran far away on the mat"
    trace = record(bundle, text, streams=1)
    user_ids = np.array([[index[w] for w in text.split()]])
    h, logits = _outputs(model, user_ids)[-2:]
    assert np.abs(np.asarray(trace.signals[(0, "h")]) - h).max() < 1e-5
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    # project id of a user id u >= 1 is u + 1 (<unk> new at 0, <pad> = user 0 at 1)
    top = np.asarray(trace.topk_ids)
    user_top = np.where(top == 1, 0, top - 1)
    np.testing.assert_allclose(
        np.asarray(trace.topk_probs), np.take_along_axis(p, user_top, axis=1), atol=1e-5
    )


def _text_vectorizer():
    tv = layers.TextVectorization(max_tokens=30, output_sequence_length=12)
    tv.adapt(SENTENCES)
    return tv


def test_a_gru_classifier_holding_a_text_vectorization_layer(tmp_path, root):
    _seed(2)
    tv = _text_vectorizer()
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6, mask_zero=True)(tv(text_in))
    x = layers.GRU(9, return_sequences=True)(x)
    x = layers.GRU(9)(x)
    out = layers.Dense(2, activation="softmax")(x)  # becomes one sigmoid unit
    model = keras.Model(text_in, out)
    _scramble(model)
    data = _save(model, tmp_path, "tv.keras")
    bundle, check = _import(data, "tv.keras", "my-tv", root, classes=["neg", "pos"])
    assert bundle.spec.task == "classifier" and bundle.spec.n_classes == 2
    assert bundle.spec.max_len == 12 and bundle.meta["classes"] == ["neg", "pos"]
    # TextVectorization: 0 padding, 1 [UNK] -> <unk>; ids are the same as the model's
    assert bundle.vocab.tokens == ["<unk>", *tv.get_vocabulary()[2:]]
    assert check["max_abs_delta_output"] <= TOLERANCE
    texts = ["the cat sat on the mat", "a dog ran", "the zebra ran far"]  # zebra: OOV
    trace = record_sequences(bundle, texts)
    want = np.asarray(model(np.array([[t] for t in texts])))  # strings through its own layer
    ends = trace.offsets[1:] - 1
    np.testing.assert_allclose(trace.ep[ends], want, atol=1e-5)
    assert np.abs(want[:, 1] - 0.5).max() > 0.01  # the test can tell classes apart


@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower"])
def test_a_standardizing_text_vectorization_is_reproduced_on_raw_text(tmp_path, root, standardize):
    """Issue 20: "The" finds "the" as in Keras: the TextVectorization's standardize (Keras'
    default, or "lower") is kept in the imported tokenizer and in vocab.json."""
    _seed(5)
    tv = layers.TextVectorization(max_tokens=30, output_sequence_length=12, standardize=standardize)
    tv.adapt(SENTENCES)
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6, mask_zero=True)(tv(text_in))
    model = keras.Model(text_in, layers.Dense(1, activation="sigmoid")(layers.GRU(7)(x)))
    _scramble(model)
    data = _save(model, tmp_path, "std.keras")
    bundle, _ = _import(data, "std.keras", "my-std", root)
    assert bundle.tokenizer.standardize == standardize
    saved = json.loads((root / "my-std" / "vocab.json").read_text())
    assert saved["tokenizer"]["standardize"] == standardize
    assert "RNN Lens does the same" in " ".join(bundle.meta["imported"]["notes"])
    assert bundle.tokenizer.mode == "whitespace"  # Keras' split, "cat's" one word
    texts = ["The CAT sat on the MAT", "A Dog ran far away", "the Zebra ran"]
    texts = [*texts, "The cat's mat, away!", "Dog. Ran. Far!"]
    tokens = [bundle.tokenizer.tokenize(t) for t in texts]
    assert tokens[0] == ["the", "cat", "sat", "on", "the", "mat"]
    assert bundle.vocab.encode(tokens[0]).min() > 0  # every word found, none <unk>
    trace = record_sequences(bundle, texts)
    want = np.asarray(model(np.array([[t] for t in texts])))  # raw strings through Keras
    np.testing.assert_allclose(trace.ep[trace.offsets[1:] - 1, 1], want[:, 0], atol=1e-5)
    assert np.ptp(want[:, 0]) > 0.01  # the texts are told apart
    # a user's unlabelled sentence is label -1; any other index is refused
    assert record_sequences(bundle, texts[:2], labels=np.array([1, -1])).labels.tolist() == [1, -1]
    with pytest.raises(ValueError, match=r"label indices must be in \[0, 2\), got \[-2\]"):
        record_sequences(bundle, texts[:2], labels=np.array([-2, -1]))


def test_a_text_vectorization_without_standardize_looks_words_up_as_they_are(tmp_path, root):
    _seed(6)
    tv = layers.TextVectorization(max_tokens=30, output_sequence_length=12, standardize=None)
    tv.adapt(SENTENCES)
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6)(tv(text_in))
    model = keras.Model(text_in, layers.Dense(1, activation="sigmoid")(layers.GRU(7)(x)))
    bundle, _ = _import(_save(model, tmp_path, "raw.keras"), "raw.keras", "my-raw", root)
    assert bundle.tokenizer.standardize is None
    assert (
        "standardize" not in json.loads((root / "my-raw" / "vocab.json").read_text())["tokenizer"]
    )
    assert bundle.vocab.encode(bundle.tokenizer.tokenize("The cat")).tolist()[0] == 0  # <unk>


def test_a_classifier_with_a_text_vectorization_vocabulary_file(tmp_path, root):
    _seed(3)
    vocabulary = _text_vectorizer().get_vocabulary()[2:]
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(vocabulary) + 2, 4),
            layers.SimpleRNN(6),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    _scramble(model)
    data = _save(model, tmp_path, "file.keras")
    vocab = "\n".join(vocabulary).encode() + b"\n"
    bundle, check = _import(data, "file.keras", "my-file", root, vocab, "vocab.txt")
    assert bundle.spec.cell == "rnn" and bundle.vocab.tokens[1:] == vocabulary
    text = "the dog sat on a mat"
    trace = record_sequences(bundle, [text])
    user = np.array([[vocabulary.index(w) + 2 for w in text.split()]])
    np.testing.assert_allclose(trace.ep[-1, 1], np.asarray(model(user))[0, 0], atol=1e-5)
    h = _outputs(model, user)[1]
    np.testing.assert_allclose(trace.states[0][-1], h, atol=1e-5)


def _tokenizer_json(words, oov="<OOV>", num_words=None, char_level=False, lower=True) -> bytes:
    """What keras.preprocessing.text.Tokenizer(oov_token=oov).to_json() writes."""
    index = {oov: 1, **{w: i + 2 for i, w in enumerate(words)}}
    config = {
        "num_words": num_words,
        "filters": '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n',
        "lower": lower,
        "split": " ",
        "char_level": char_level,
        "oov_token": oov,
        "document_count": 4,
        "word_counts": json.dumps({w: 3 for w in words}),
        "word_docs": json.dumps({w: 2 for w in words}),
        "index_docs": json.dumps({str(i): 2 for i in index.values()}),
        "index_word": json.dumps({str(i): w for w, i in index.items()}),
        "word_index": json.dumps(index),
    }
    return json.dumps({"class_name": "Tokenizer", "config": config}).encode()


def test_a_classifier_with_a_keras_tokenizer_json(tmp_path, root):
    _seed(4)
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            layers.Embedding(len(WORDS) + 2, 4, mask_zero=True),
            layers.LSTM(5),
            layers.Dense(3, activation="softmax"),
        ]
    )
    _scramble(model)
    data = _save(model, tmp_path, "tok.keras")
    bundle, _ = _import(data, "tok.keras", "my-tok", root, _tokenizer_json(WORDS), "tok.json")
    assert bundle.spec.n_classes == 3 and bundle.spec.max_len == 20
    assert bundle.vocab.tokens == ["<unk>", *WORDS]  # the OOV token is <unk>
    assert int(bundle.vocab.counts[1]) == 3  # word_counts are kept
    text = "the zebra sat far away"  # zebra is OOV, id 1 as the Tokenizer gives it
    trace = record_sequences(bundle, [text])
    user = np.array([[WORDS.index(w) + 2 if w in WORDS else 1 for w in text.split()]])
    np.testing.assert_allclose(trace.ep[-1], np.asarray(model(user))[0], atol=1e-5)
    # the Tokenizer's defaults: lowered, its filters are separators ("far-away" two words,
    # "zebra's" one), split at single spaces
    assert bundle.tokenizer.mode == "keras-tokenizer"
    raw = "The ZEBRA's  Sat,\tfar-away!"
    assert bundle.tokenizer.tokenize(raw) == ["the", "zebra's", "sat", "far", "away"]
    same = record_sequences(bundle, [raw, "the zebra sat far away"])
    np.testing.assert_allclose(same.ep[same.offsets[1] - 1], trace.ep[-1], atol=1e-6)
    assert "RNN Lens does the same" in " ".join(bundle.meta["imported"]["notes"])
    # a Tokenizer that did not lower: looked up as they are, and the import says so
    other, _ = _import(
        data, "tok.keras", "my-tok-2", root, _tokenizer_json(WORDS, lower=False), "tok.json"
    )
    assert other.tokenizer.mode == "words" and other.tokenizer.tokenize("The cat") == ["The", "cat"]
    assert "differ from its defaults" in " ".join(other.meta["imported"]["notes"])


def test_the_cli_imports_a_keras_model(tmp_path, root, monkeypatch, capsys):
    from lib.__main__ import main

    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(CHARS), 3),
            layers.GRU(4, return_sequences=True),
            layers.Dense(len(CHARS)),
        ]
    )
    (tmp_path / "chars.json").write_text(json.dumps(CHARS))
    model.save(tmp_path / "cli.keras")
    main(["import-keras", str(tmp_path / "cli.keras"), "--vocab", str(tmp_path / "chars.json")])
    assert "imported cli: char GRU 1x4" in capsys.readouterr().out
    assert reg.load("cli", root=root).meta["imported"]["from"] == "cli.keras"
    with pytest.raises(SystemExit, match="already"):
        main(["import-keras", str(tmp_path / "cli.keras"), "--vocab", str(tmp_path / "chars.json")])


# --- refusals: named, and the registry unchanged ------------------------------------------------


def _lm(rnn, vocab_size=len(CHARS), head=None, first=None):
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            first or layers.Embedding(vocab_size, 4),
            rnn,
            head or layers.Dense(vocab_size),
        ]
    )


REFUSED = [
    (
        lambda: _lm(layers.Bidirectional(layers.LSTM(4, return_sequences=True), name="bi")),
        "layer 'bi' is bidirectional, which rnn lens cannot record",
    ),
    (
        lambda: _lm(layers.GRU(4, return_sequences=True, reset_after=False, name="old_gru")),
        "layer 'old_gru' (gru) has reset_after=false",
    ),
    (
        lambda: _lm(layers.LSTM(4, return_sequences=True, go_backwards=True, name="back")),
        "layer 'back' (lstm) has go_backwards=true",
    ),
    (
        lambda: _lm(layers.LSTM(4, return_sequences=True, activation="relu", name="relu")),
        "layer 'relu' (lstm) has activation='relu'",
    ),
    (
        lambda: _lm(
            layers.LSTM(4, return_sequences=True),
            first=layers.Embedding(len(CHARS), 4, mask_zero=True, name="masked"),
        ),
        "embedding 'masked' has mask_zero=true in a language model",
    ),
    (
        lambda: _lm(layers.LSTM(4, return_sequences=True), vocab_size=len(CHARS) + 3),
        f"has {len(CHARS)} ids but the model's embedding has input_dim {len(CHARS) + 3} rows",
    ),
    (
        lambda: keras.Sequential(
            [
                keras.Input(batch_shape=(1, None), dtype="int32"),
                layers.Embedding(len(CHARS), 4),
                layers.LSTM(4, return_sequences=True, stateful=True, name="kept"),
                layers.Dense(len(CHARS)),
            ]
        ),
        "layer 'kept' (lstm) has stateful=true",
    ),
    (
        lambda: _lm(layers.Conv1D(4, 3, padding="same", name="conv")),
        "layer 'conv' is a conv1d, which rnn lens cannot map",
    ),
]


@pytest.mark.parametrize("make, message", REFUSED)
def test_an_unsupported_model_is_refused_by_name(tmp_path, root, make, message):
    data = _save(make(), tmp_path, "bad.keras")
    before = _contents(root)
    with pytest.raises(ForeignModelError) as err:
        _import(data, "bad.keras", "bad", root, json.dumps(CHARS).encode())
    assert message in str(err.value).lower()
    assert _contents(root) == before and not (root / "bad").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"print('hello')\n", "bad.keras is not a keras model"),
        (b"", "bad.keras is empty"),
    ],
)
def test_a_file_that_is_not_a_keras_model_is_refused(root, data, message):
    before = _contents(root)
    with pytest.raises(ForeignModelError, match="(?i)" + message):
        _import(data, "bad.keras", "bad", root, json.dumps(CHARS).encode())
    assert _contents(root) == before


def test_a_zip_without_an_architecture_is_refused(tmp_path, root):
    import zipfile

    with zipfile.ZipFile(tmp_path / "x.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(ForeignModelError, match="not a Keras model \\(no config.json\\)"):
        _import((tmp_path / "x.zip").read_bytes(), "x.keras", "bad", root, b"[]")
    assert _contents(root) == []


@pytest.mark.parametrize(
    "vocab, message",
    [
        (json.dumps({"class_name": "Tokenizer", "config": {"words": []}}), "not of the form"),
        (json.dumps({"class_name": "TextVectorization", "config": {}}), "not of the form"),
        (json.dumps({"the": "one"}), "none of the supported forms"),
        (json.dumps(["a", "b", "a"]), "holds 'a' twice"),
        ("{not json", "not valid json"),
    ],
)
def test_a_vocabulary_of_the_wrong_form_is_refused(tmp_path, root, vocab, message):
    data = _save(_lm(layers.LSTM(4, return_sequences=True)), tmp_path, "ok.keras")
    with pytest.raises(ForeignModelError) as err:
        _import(data, "ok.keras", "bad", root, vocab.encode(), "tok.json")
    assert message in str(err.value).lower()
    assert _contents(root) == []


def test_a_model_over_max_units_is_refused_before_it_is_loaded(tmp_path, root, monkeypatch):
    data = _save(_lm(layers.LSTM(12, return_sequences=True)), tmp_path, "wide.keras")
    monkeypatch.setenv("RNN_LENS_MAX_UNITS", "8")
    with pytest.raises(LimitError, match="units is 12, over this server's limit of 8"):
        _import(data, "wide.keras", "wide", root, json.dumps(CHARS).encode())
    assert _contents(root) == []


def test_a_taken_name_is_refused_and_the_model_kept(tmp_path, root):
    data = _save(_lm(layers.SimpleRNN(3, return_sequences=True)), tmp_path, "m.keras")
    _import(data, "m.keras", "taken", root, json.dumps(CHARS).encode())
    before = (root / "taken" / "meta.json").read_text()
    with pytest.raises(reg.RegistryError, match="already"):
        _import(data, "m.keras", "taken", root, json.dumps(CHARS).encode())
    assert (root / "taken" / "meta.json").read_text() == before


def test_a_recorder_that_disagrees_is_refused(tmp_path, root):
    """The check can fail: a recorder off by 1e-3 is refused and nothing is written."""
    data = _save(_lm(layers.LSTM(4, return_sequences=True)), tmp_path, "m.keras")

    def off(bundle, tokens, **kw):
        trace = record(bundle, tokens, **kw)
        trace.signals[(0, "h")] = np.asarray(trace.signals[(0, "h")]) + 1e-3
        return trace

    with pytest.raises(ForeignModelError, match="does not reproduce the model"):
        reg.import_keras(
            data,
            "m.keras",
            "off",
            record=off,
            record_sequences=record_sequences,
            vocab=json.dumps(CHARS).encode(),
            root=root,
        )
    assert _contents(root) == []


# --- the sidebar --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_sidebar_imports_a_keras_model_into_the_picker(tmp_path, tiny_registry):
    from tests.helpers import app

    index = {w: i + 1 for i, w in enumerate(WORDS)}
    model = _lm(layers.LSTM(6, return_sequences=True), vocab_size=len(index) + 1)
    data = _save(model, tmp_path, "mine.keras")
    at = app()
    at.sidebar.text_input(key="import.keras.name").input("my-keras").run()
    at.file_uploader(key="upload.keras").set_value(("mine.keras", data, "application/zip")).run()
    vocab = json.dumps(index).encode()
    at.file_uploader(key="upload.keras.vocab").set_value(("index.json", vocab, "application/json"))
    at.run()
    at.button(key="btn.import.keras").click().run()
    assert not at.exception, at.exception
    shown = [s.value for s in at.success]
    assert any("Imported my" in s and "recorder matches Keras" in s for s in shown), (
        shown,
        [e.value for e in at.error],
    )
    assert at.sidebar.selectbox(key="model").value == "my-keras"
    assert "my-keras" in at.sidebar.selectbox(key="model").options
    assert not at.sidebar.error


@pytest.mark.slow
def test_the_sidebar_names_an_imported_classifiers_classes(tmp_path, tiny_registry):
    """The class names typed beside the upload reach meta.json; a count that does not match
    the model's outputs is refused, naming both counts, and nothing is written."""
    from lib.model import registry as reg
    from tests.helpers import app

    tv = _text_vectorizer()
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6, mask_zero=True)(tv(text_in))
    data = _save(keras.Model(text_in, layers.Dense(1, activation="sigmoid")(layers.GRU(5)(x))),
                 tmp_path, "clf.keras")  # fmt: skip
    at = app()
    at.file_uploader(key="upload.keras").set_value(("clf.keras", data, "application/zip")).run()
    at.sidebar.text_input(key="import.keras.classes").input("neg, pos, other").run()
    before = _contents(tiny_registry)
    at.button(key="btn.import.keras").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert errors and "3 class names given for a classifier of 2 classes" in errors[0], errors
    assert _contents(tiny_registry) == before
    at.sidebar.text_input(key="import.keras.classes").input(" neg ,pos,").run()
    at.button(key="btn.import.keras").click().run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]
    assert reg.read_meta("clf", root=tiny_registry)["classes"] == ["neg", "pos"]


@pytest.mark.slow
def test_the_sidebar_shows_a_refusal_as_a_message(tmp_path, tiny_registry):
    from tests.helpers import app

    data = _save(_lm(layers.LSTM(4, return_sequences=True, stateful=False)), tmp_path, "m.keras")
    before = _contents(tiny_registry)
    at = app()
    at.file_uploader(key="upload.keras").set_value(("m.keras", data, "application/zip")).run()
    at.button(key="btn.import.keras").click().run()  # no vocabulary
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert errors and errors[0].startswith("Not imported") and "vocabulary" in errors[0]
    assert _contents(tiny_registry) == before


# --- every page on an imported model ------------------------------------------------------

PAGES = (
    "start", "generate", "atlas", "relevance", "fourier", "distributions", "word_clusters",
    "hidden_states", "memory_chips", "pattern_search", "ablation", "compare", "train",
)  # fmt: skip


@pytest.mark.slow
def test_every_page_opens_on_an_imported_plain_keras_language_model(tmp_path, monkeypatch):
    """Issue 20: an imported model (no training corpus, no checkpoints, a vocabulary of
    its own) gets every page: its analyses, or a message saying what it needs."""
    from tests.helpers import app

    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    _seed(3)
    chars = sorted(set("def f(x):\n    return x + 1  # the 'end' of it.\n"))
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(chars), 6),
            layers.LSTM(12, return_sequences=True),
            layers.Dense(len(chars), activation="softmax"),
        ]
    )
    _scramble(model)
    data = _save(model, tmp_path, "mine.keras")
    _import(data, "mine.keras", "mine", root, json.dumps(chars).encode())
    at = app()
    at.session_state["model"] = "mine"
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.session_state["model"] == "mine", page


def _imported_gru_classifier(tmp_path, monkeypatch):
    """Import a plain-Keras GRU classifier over a TextVectorization as "mine-cls" (classes
    neg, pos) into a fresh registry the app reads; return the Keras model."""
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    _seed(4)
    tv = _text_vectorizer()
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6, mask_zero=True)(tv(text_in))
    model = keras.Model(text_in, layers.Dense(2, activation="softmax")(layers.GRU(9)(x)))
    _scramble(model)
    _import(
        _save(model, tmp_path, "tv.keras"), "tv.keras", "mine-cls", root, classes=["neg", "pos"]
    )
    return model


@pytest.mark.slow
def test_every_page_opens_on_an_imported_plain_keras_classifier(tmp_path, monkeypatch):
    """A classifier without its dataset: Hidden States says what it needs, the language
    model pages offer what they need, nothing raises."""
    from tests.helpers import app

    _imported_gru_classifier(tmp_path, monkeypatch)
    at = app()
    at.session_state["model"] = "mine-cls"
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
    # Hidden States asks for sentences and records nothing before the button
    at.switch_page("pages/hidden_states.py").run()
    assert any("Record these sentences" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


@pytest.mark.slow
def test_hidden_states_records_the_users_sentences_on_an_imported_classifier(tmp_path, monkeypatch):
    """Issue 20: an imported classifier has no dataset; the user's labelled (and
    unlabelled) sentences get the overview, the table, the projection and a trajectory,
    and a bad label is refused naming it and its line."""
    from tests.helpers import app

    model = _imported_gru_classifier(tmp_path, monkeypatch)
    at = app()
    at.session_state["model"] = "mine-cls"
    at.session_state["hid.method"] = "pca"
    at.switch_page("pages/hidden_states.py").run()
    at.text_area(key="hid.own.text").input("pos\tThe cat sat\nposs\ta dog").run()
    at.button(key="btn.hid.own").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("line 2" in e.value and "poss" in e.value for e in at.error), at.error
    assert not at.dataframe  # nothing recorded from a refused box
    lines = "pos\tThe cat sat on the mat!\nneg,A dog ran far away\n1,the cat ran\nThe dog sat"
    at.text_area(key="hid.own.text").input(lines).run()
    at.button(key="btn.hid.own").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sequences loaded"] == "4"
    assert metrics["Correctly classified"].endswith(" of 3")  # the 4th has no label
    table = at.dataframe[0].value
    assert table["class"].tolist() == ["pos", "neg", "pos", "?"]
    # standardized as the model's TextVectorization does: "The" is "the", "!" is gone
    assert table["text"][0] == "the cat sat on the mat"
    want = np.asarray(
        model(np.array([[t.split("\t")[-1].split(",")[-1]] for t in lines.split("\n")]))
    )
    assert table["prediction"].tolist() == [["neg", "pos"][k] for k in want.argmax(1)]
    assert any("have no label" in c.value for c in at.caption)
    # the page's report holds the typed sentences as a setting, not the recorded result
    _, report, _ = at.session_state["_export.report"]
    assert report.settings["hid.own.text"] == lines
    assert "hid.own.sentences" not in report.settings
    at.session_state["hid.seq"] = 0
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Sequence 0:") for s in at.subheader)
    # colouring by the actual class needs labels: with none, the page says so
    at.text_area(key="hid.own.text").input("the cat sat\na dog ran").run()
    at.button(key="btn.hid.own").click().run()
    at.selectbox(key="hid.colour").set_value("actual").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("colouring by actual is unavailable" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric}["Correctly classified"] == "— (no labels)"
