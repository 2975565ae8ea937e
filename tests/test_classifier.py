"""Sequence classifiers (seed 003): build, record vs Keras, masking, view functions, training."""

import json
import threading

import keras
import numpy as np
import pytest

from lib.data.datasets import DatasetError, LabelledData
from lib.data.tokenizer import Vocab
from lib.model import registry
from lib.model.build import accuracy_metric, build, compile_classifier
from lib.model.bundle import ModelBundle
from lib.model.inputs import classifier_ids
from lib.model.registry import load, save
from lib.model.spec import ID_OFFSET, PAD_ID, ModelSpec, TrainConfig
from lib.run.classify import (
    class_probabilities,
    confusion,
    held_out,
    jump_distances,
    record_sequences,
    threshold_events,
)
from lib.run.record import record
from lib.train.fit import train_classifier
from tests.helpers import randomize_weights

TEXTS = [
    "the cat sat on the mat",
    "a dog",
    "the quick brown fox jumps over the lazy dog again and again and again",
    "x",
    "one more text , with punctuation !",
]


def random_classifier(
    cell="lstm", layers=1, n_classes=2, units=12, scale=0.5, seed=0, max_len=20
) -> ModelBundle:
    """A word-level classifier with random weights, its vocabulary built from TEXTS."""
    spec = ModelSpec(
        task="classifier",
        cell=cell,
        level="word",
        tokenizer_mode="words",
        layers=layers,
        units=units,
        embedding=6,
        n_classes=n_classes,
        max_len=max_len,
    )
    vocab = Vocab.build(w for t in TEXTS for w in spec.tokenizer.tokenize(t))
    model = randomize_weights(build(spec, len(vocab)), scale=scale, seed=seed)
    classes = [f"c{k}" for k in range(n_classes)]
    return ModelBundle(
        model=model,
        vocab=vocab,
        tokenizer=spec.tokenizer,
        spec=spec,
        meta={"classes": classes},
        name=f"clf-{cell}",
    )


def keras_inputs(bundle, texts, width):
    tokens = [bundle.tokenizer.tokenize(t) for t in texts]
    return classifier_ids(bundle.vocab, tokens, width)[0]


# --- build and record ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes,units,activation", [(2, 1, "sigmoid"), (5, 5, "softmax")])
def test_build_classifier_head_and_padding_row(n_classes, units, activation):
    bundle = random_classifier(n_classes=n_classes)
    out = bundle.model.get_layer("output")
    assert out.units == units and out.activation.__name__ == activation
    emb = bundle.model.get_layer("embedding")
    assert emb.mask_zero and emb.input_dim == len(bundle.vocab) + ID_OFFSET
    assert bundle.model.predict(np.zeros((3, 7), "int32"), verbose=0).shape == (3, units)


def test_classifier_ids_shift_truncate_and_pad_at_the_end():
    vocab = Vocab(["<unk>", "a", "b"], [0, 2, 1])
    ids, lengths = classifier_ids(vocab, [["a", "zzz", "b"], ["b"], ["a"] * 9], 4)
    np.testing.assert_array_equal(lengths, [3, 1, 4])
    np.testing.assert_array_equal(ids, [[2, 1, 3, PAD_ID], [3, 0, 0, 0], [2, 2, 2, 2]])


CASES = [(cell, layers) for cell in ("rnn", "lstm", "gru") for layers in (1, 2)]


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("cell,layers", CASES)
def test_last_expected_prediction_is_the_keras_output(cell, layers, n_classes):
    bundle = random_classifier(cell, layers, n_classes, seed=layers)
    trace = record_sequences(bundle, TEXTS)
    keras_out = bundle.model.predict(keras_inputs(bundle, TEXTS, 20), verbose=0)
    want = np.concatenate([1 - keras_out, keras_out], axis=1) if n_classes == 2 else keras_out
    np.testing.assert_allclose(trace.final_ep, want, atol=1e-5)
    np.testing.assert_allclose(trace.ep.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(trace.prediction, want.argmax(axis=1))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_states_match_keras_at_real_steps(cell):
    """Layer 0 of a 2-layer model returns sequences in Keras: compare it step by step, and
    the expected prediction at every step with the Keras output for the text cut there."""
    bundle = random_classifier(cell, 2, seed=5)
    model = bundle.model
    sub = keras.Model(model.input, model.get_layer("recurrent_0").output)
    trace = record_sequences(bundle, TEXTS)
    x = keras_inputs(bundle, TEXTS, 20)
    h0 = sub.predict(x, verbose=0)
    for i, states in enumerate(trace.sequence_states(0)):
        np.testing.assert_allclose(states, h0[i, : len(states)], atol=1e-5)
    long_text = TEXTS[2]
    steps = record_sequences(bundle, [long_text]).ep[:, 1]
    tokens = bundle.tokenizer.tokenize(long_text)
    prefixes = [tokens[: t + 1] for t in range(len(tokens))]
    cut = model.predict(classifier_ids(bundle.vocab, prefixes, 20)[0], verbose=0)[:, 0]
    np.testing.assert_allclose(steps, cut, atol=1e-5)


def test_appending_padding_changes_nothing():
    bundle = random_classifier("lstm", 2)
    x = keras_inputs(bundle, TEXTS, 20)
    padded = np.concatenate([x, np.zeros((len(x), 30), "int32")], axis=1)
    np.testing.assert_allclose(
        bundle.model.predict(padded, verbose=0), bundle.model.predict(x, verbose=0), atol=1e-6
    )
    # recorded alone (no padding) or beside a long text (padded in the batch): the same up to
    # float32 rounding (BLAS sums in a different order for another batch shape); a padding
    # leak would move states by 1e-2 or more
    alone = record_sequences(bundle, ["a dog"])
    batched = record_sequences(bundle, ["a dog", TEXTS[2]])
    assert alone.tokens == [["a", "dog"]] and batched.lengths.tolist() == [2, 14]
    for k in (0, 1):
        np.testing.assert_allclose(
            batched.sequence_states(k)[0], alone.states[k], rtol=0, atol=1e-6
        )
    np.testing.assert_allclose(batched.per_sequence(batched.ep)[0], alone.ep, rtol=0, atol=1e-6)
    # padded steps never appear: one row per real token
    trace = record_sequences(bundle, TEXTS)
    n_tokens = [len(bundle.tokenizer.tokenize(t)) for t in TEXTS]
    assert trace.lengths.tolist() == n_tokens
    assert all(len(s) == n for s, n in zip(trace.sequence_states(), n_tokens, strict=True))
    assert len(trace.ep) == len(trace.ids) == sum(n_tokens) == trace.offsets[-1]


def test_max_len_keeps_the_first_tokens():
    bundle = random_classifier("gru", max_len=3)
    trace = record_sequences(bundle, [TEXTS[2]], labels=["c1"])
    assert trace.tokens == [["the", "quick", "brown"]]
    assert trace.labels.tolist() == [1] and trace.correct.dtype == bool
    longer = record_sequences(bundle, [TEXTS[2]], max_len=5)
    np.testing.assert_allclose(longer.ep[:3], trace.ep, rtol=0, atol=1e-6)


def test_trace_views_and_save_roundtrip(tmp_path):
    bundle = random_classifier("lstm", 2, n_classes=3)
    trace = record_sequences(bundle, TEXTS, labels=[0, 1, 2, 0, 1], layers=[-1])
    assert list(trace.states) == [1]
    assert trace.confidence.shape == trace.pred_class.shape == (trace.offsets[-1],)
    np.testing.assert_array_equal(trace.confidence, trace.ep.max(axis=1))
    np.testing.assert_array_equal(trace.correct, trace.prediction == trace.labels)
    trace.save(tmp_path / "t.npz")
    back = type(trace).load(tmp_path / "t.npz")
    assert back.tokens == trace.tokens and back.classes == ["c0", "c1", "c2"]
    np.testing.assert_array_equal(back.states[1], trace.states[1])
    np.testing.assert_array_equal(back.ep, trace.ep)
    assert "N=5" in repr(back) and "ep(" in repr(back)


@pytest.mark.parametrize(
    "texts,kwargs,match",
    [
        (["a dog", "", "   "], {}, r"2 text\(s\) have no tokens \(indices \[1, 2\]\)"),
        ([], {}, "no texts"),
        (["a dog"], {"labels": ["nope"]}, r"labels \['nope'\] are not among the classes"),
        (["a dog"], {"layers": [2]}, r"layers must be in \[0, 1\)"),
        (["a dog"], {"max_len": 0}, "max_len must be >= 1"),
    ],
)
def test_record_sequences_errors(texts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        record_sequences(random_classifier(), texts, **kwargs)


def test_language_model_and_classifier_recorders_refuse_each_other():
    from tests.helpers import random_bundle

    with pytest.raises(ValueError, match="is a sequence classifier"):
        record(random_classifier(), "a dog")
    with pytest.raises(ValueError, match="is a language model, not a classifier"):
        record_sequences(random_bundle(), ["a dog"])


# --- pure functions -----------------------------------------------------------------------------


def test_jump_distances_hand_case():
    states = [
        np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]]),  # steps 5, 0
        np.array([[0.0, 0.0], [0.0, 10.0]]),  # step 10 (the global max)
        np.array([[7.0, 7.0]]),
    ]  # one state: no step
    got = jump_distances(states)
    assert [g.tolist() for g in got] == [[0.5, 0.0], [1.0], []]  # boundaries not counted
    raw = jump_distances(states, normalize=False)
    assert [g.tolist() for g in raw] == [[5.0, 0.0], [10.0], []]
    assert [g.tolist() for g in jump_distances([np.ones((3, 2))])] == [[0.0, 0.0]]
    assert jump_distances([]) == []


@pytest.mark.parametrize(
    "states,match",
    [
        ([np.zeros((0, 2))], "must be 2-D"),
        ([np.zeros(3)], "must be 2-D"),
        ([np.zeros((2, 2)), np.zeros((2, 3))], "same number of units"),
    ],
)
def test_jump_distances_errors(states, match):
    with pytest.raises(ValueError, match=match):
        jump_distances(states)


def test_threshold_events_binary_hand_case():
    p = np.array([0.10, 0.20, 0.70, 0.75, 0.30])  # Δp: .1 .5 .05 .45; class 0 0 1 1 0
    d = np.array([0.10, 0.50, 0.40, 0.39])  # 0.40 reaches the threshold
    ev = threshold_events(d, p)
    assert ev["jump_after"].tolist() == [False, False, True, True, False]
    assert ev["jump_before"].tolist() == [False, True, True, False, False]
    assert ev["ep_after"].tolist() == [False, False, True, False, True]
    assert ev["ep_before"].tolist() == [False, True, False, True, False]
    assert ev["class_after"].tolist() == [False, False, True, False, True]
    assert ev["class_before"].tolist() == [False, True, False, True, False]
    two_columns = threshold_events(d, np.column_stack([1 - p, p]))
    for key, flags in ev.items():
        np.testing.assert_array_equal(two_columns[key], flags, err_msg=key)
    tight = threshold_events(d, p, dist_threshold=0.5, ep_threshold=0.5)
    assert tight["jump_after"].sum() == 1 and tight["ep_after"].sum() == 1


def test_threshold_events_multiclass_uses_max_class_change():
    ep = np.array(
        [
            [0.4, 0.3, 0.3],
            [0.3, 0.3, 0.4],  # max |Δ| = 0.1, class 0 -> 2
            [0.1, 0.1, 0.8],
        ]
    )  # max |Δ| = 0.4
    ev = threshold_events(np.zeros(2), ep)
    assert ev["ep_after"].tolist() == [False, False, True]
    assert ev["class_after"].tolist() == [False, True, False]
    assert not ev["jump_after"].any()
    one = threshold_events(np.zeros(0), np.array([0.9]))
    assert all(v.tolist() == [False] for v in one.values())


def test_threshold_events_errors():
    with pytest.raises(ValueError, match=r"shape \(L - 1,\) = \(2,\) for 3 steps, got \(3,\)"):
        threshold_events(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="ep must have shape"):
        threshold_events(np.zeros(0), np.zeros((0, 2)))


def test_confusion_hand_case_and_sklearn():
    from sklearn.metrics import confusion_matrix

    true = [0, 0, 1, 2, 2, 2]
    pred = [0, 1, 1, 2, 0, 2]
    want = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    np.testing.assert_array_equal(confusion(true, pred, 3), want)
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    np.testing.assert_array_equal(confusion(t, p, 5), confusion_matrix(t, p, labels=range(5)))
    assert confusion([], [], 2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match=r"pred must hold class indices in \[0, 3\)"):
        confusion([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match="same length"):
        confusion([0, 1], [0], 3)


def test_class_probabilities():
    np.testing.assert_allclose(
        class_probabilities(np.array([[0.2], [0.5]]), 2), [[0.8, 0.2], [0.5, 0.5]]
    )
    assert class_probabilities(np.array([[0.5]]), 2).argmax() == 0  # p <= 0.5 is class 0
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        class_probabilities(np.zeros((2, 4)), 3)


def test_real_accuracy_is_not_inflated_by_one_hot_targets():
    """Seed 003's Reuters model scored Keras' element-wise binary accuracy on one-hot
    targets: 5 outputs all near 0 are 80 % "accurate" although no text is right."""
    labels = np.array([0, 1, 2, 3, 4, 4])
    probs = np.full((6, 5), 0.05, "float32")
    probs[np.arange(6), [1, 2, 3, 4, 0, 4]] = 0.2  # argmax right for the last text only
    one_hot = np.eye(5, dtype="float32")[labels]
    element_wise = keras.metrics.BinaryAccuracy()
    element_wise.update_state(one_hot, probs)
    assert float(element_wise.result()) == pytest.approx(0.8)  # every output < 0.5: all "0"
    real = accuracy_metric(5)
    real.update_state(labels, probs)
    assert float(real.result()) == pytest.approx(1 / 6)
    binary = accuracy_metric(2)
    binary.update_state(np.array([[0.0], [1.0], [1.0]]), np.array([[0.5], [0.51], [0.2]]))
    assert float(binary.result()) == pytest.approx(2 / 3)


def test_compiled_classifier_reports_the_real_accuracy():
    bundle = random_classifier(n_classes=4, seed=1)
    compile_classifier(bundle.model, TrainConfig(), 4)
    x = keras_inputs(bundle, TEXTS, 20)
    labels = np.array([0, 1, 2, 3, 0])
    got = bundle.model.evaluate(x, labels, verbose=0, return_dict=True)
    pred = bundle.model.predict(x, verbose=0).argmax(axis=1)
    assert got["accuracy"] == pytest.approx(np.mean(pred == labels))


# --- training -----------------------------------------------------------------------------------


def planted(n_classes=2, n=240, seed=0) -> LabelledData:
    """Texts whose class is planted as a cue word among random filler words."""
    rng = np.random.default_rng(seed)
    filler = [f"w{k}" for k in range(20)]
    labels = rng.integers(0, n_classes, n)
    texts = []
    for y in labels:
        words = list(rng.choice(filler, rng.integers(3, 9)))
        words.insert(int(rng.integers(0, len(words))), f"cue{y}")
        texts.append(" ".join(words))
    classes = [f"class{k}" for k in range(n_classes)]
    return LabelledData("planted", texts, labels, classes, "memory", "memory:planted")


def tiny_spec(n_classes=2, **kw):
    return ModelSpec(
        task="classifier",
        cell="gru",
        level="word",
        tokenizer_mode="words",
        units=8,
        embedding=8,
        n_classes=n_classes,
        max_len=10,
        **kw,
    )


ONE_EPOCH = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_epoch_lowers_loss_and_saves_metrics(tmp_path, n_classes):
    data = planted(n_classes)
    events = []
    bundle = train_classifier(
        tiny_spec(n_classes),
        data,
        name="tiny",
        config=ONE_EPOCH,
        root=tmp_path,
        progress=events.append,
    )
    first_batch = next(e for e in events if e["kind"] == "batch")
    epoch = next(e for e in events if e["kind"] == "epoch")
    assert epoch["logs"]["loss"] < first_batch["loss"]
    meta = json.loads((tmp_path / "tiny" / "meta.json").read_text())
    m = meta["metrics"]
    assert set(m) == {"val_loss", "val_accuracy", "test_loss", "test_accuracy", "baseline_accuracy"}
    assert all(0 <= m[k] <= 1 for k in ("val_accuracy", "test_accuracy", "baseline_accuracy"))
    assert meta["classes"] == data.classes and meta["dataset"]["sha1"] == data.sha1
    counts = meta["class_counts"]
    assert [sum(c) for c in zip(*counts.values(), strict=True)] == data.class_counts.tolist()
    s = meta["split"]
    assert s["n_train"] + s["n_val"] + s["n_test"] == len(data) and s["n_test"] == 48
    test = np.array(counts["test"])
    assert m["baseline_accuracy"] == pytest.approx(test[np.argmax(counts["train"])] / test.sum())
    assert meta["spec"]["n_classes"] == n_classes and meta["epochs_done"] == 1
    assert (tmp_path / "tiny" / "checkpoints" / "epoch-001.weights.npz").is_file()
    # the saved model loads, records, and its test accuracy is what the trace says
    back = load("tiny", root=tmp_path)
    test_data = held_out(back, data)
    assert len(test_data) == s["n_test"]
    trace = record_sequences(back, test_data.texts, labels=test_data.labels)
    assert trace.correct.mean() == pytest.approx(m["test_accuracy"])
    assert bundle.name == "tiny"


@pytest.mark.slow
def test_spec_n_classes_defaults_to_the_dataset(tmp_path):
    spec = ModelSpec(
        task="classifier",
        cell="rnn",
        level="word",
        tokenizer_mode="words",
        units=4,
        embedding=4,
        max_len=6,
    )
    bundle = train_classifier(spec, planted(3), name="auto", config=ONE_EPOCH, root=tmp_path)
    assert bundle.spec.n_classes == 3 and bundle.model.output_shape == (None, 3)


@pytest.mark.slow
def test_learns_a_planted_cue(tmp_path):
    bundle = train_classifier(
        tiny_spec(),
        planted(n=400),
        name="cue",
        root=tmp_path,
        config=TrainConfig(epochs=6, batch_size=16, learning_rate=2e-2),
    )
    assert bundle.meta["metrics"]["test_accuracy"] > 0.9


@pytest.mark.slow
def test_stop_keeps_last_epoch_and_resume_continues(tmp_path):
    data = planted()
    stop = threading.Event()

    def hook(event):
        if event["kind"] == "epoch":
            stop.set()

    train_classifier(
        tiny_spec(),
        data,
        name="r",
        config=TrainConfig(epochs=3, batch_size=16),
        root=tmp_path,
        progress=hook,
        stop=stop,
    )
    assert load("r", root=tmp_path).meta["epochs_done"] == 1
    bundle = train_classifier(
        tiny_spec(),
        data,
        name="r",
        config=TrainConfig(epochs=2, batch_size=16),
        root=tmp_path,
        resume=True,
    )
    assert [h["epoch"] for h in bundle.meta["history"]] == [1, 2]
    assert len(registry.checkpoints("r", root=tmp_path)) == 2
    with pytest.raises(ValueError, match="another dataset"):
        train_classifier(
            tiny_spec(),
            planted(seed=1),
            name="r",
            config=TrainConfig(epochs=3),
            root=tmp_path,
            resume=True,
        )


@pytest.mark.parametrize(
    "spec,data,match",
    [
        (tiny_spec(3), planted(2), r"n_classes=3 but the dataset 'planted' has 2 classes"),
        (ModelSpec(task="classifier", n_classes=2, max_len=0), planted(2), "max_len"),
        (ModelSpec(task="classifier", n_classes=2), planted(2), "max_len"),
        (ModelSpec(), planted(2), "task='classifier'"),
        (tiny_spec(), LabelledData("none", [], [], ["a", "b"]), "has no texts"),
        (
            tiny_spec(),
            LabelledData("rare", ["a b", "c d", "e f", "g"], [0, 0, 0, 1], ["a", "b"]),
            r"at least 3 texts.*'b' \(1\)",
        ),
        (
            tiny_spec(),
            LabelledData("blank", [" ", "\t\n"] * 3, [0, 1] * 3, ["a", "b"]),
            "empty after word-level tokenization",
        ),
    ],
)
def test_bad_settings_are_refused_before_work(tmp_path, spec, data, match):
    with pytest.raises(ValueError, match=match):
        train_classifier(spec, data, name="bad", config=ONE_EPOCH, root=tmp_path)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_existing_name_refused(tmp_path):
    train_classifier(tiny_spec(), planted(), name="dup", config=ONE_EPOCH, root=tmp_path)
    with pytest.raises(ValueError, match="exists already"):
        train_classifier(tiny_spec(), planted(), name="dup", config=ONE_EPOCH, root=tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"task": "classifier", "n_classes": 1, "max_len": 5}, "n_classes 2 to 100, got 1"),
        ({"task": "classifier", "max_len": 5}, "n_classes 2 to 100, got None"),
        ({"task": "classifier", "n_classes": 2, "max_len": 2001}, "max_len"),
        ({"n_classes": 2}, "n_classes is for classifiers"),
        ({"max_len": 40}, "max_len is for classifiers"),
        ({"task": "tagger"}, "task must be one of"),
    ],
)
def test_bad_classifier_spec(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelSpec(**kwargs).validate()


def test_registry_roundtrip_and_output_check(tmp_path):
    bundle = random_classifier("gru", 2, n_classes=3)
    save(bundle, "c", root=tmp_path)
    back = load("c", root=tmp_path)
    assert back.spec == bundle.spec and back.spec.describe().endswith("(3 classes, max 20 tokens)")
    np.testing.assert_allclose(
        record_sequences(back, TEXTS).ep, record_sequences(bundle, TEXTS).ep, atol=1e-6
    )
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    meta["spec"]["n_classes"] = 4
    (tmp_path / "c" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(registry.RegistryError, match="has 3 outputs but its spec has 4 classes"):
        load("c", root=tmp_path)


@pytest.mark.slow
def test_held_out_refuses_other_data(tmp_path):
    train_classifier(tiny_spec(), planted(), name="h", config=ONE_EPOCH, root=tmp_path)
    with pytest.raises(DatasetError, match="differs from the one model 'h' was trained on"):
        held_out(load("h", root=tmp_path), planted(seed=3))


# --- demo and command line ----------------------------------------------------------------------


def test_demo_classifier_is_skipped_when_its_corpus_is_missing(monkeypatch):
    from lib.train import demo

    def missing(ref):
        raise DatasetError("NLTK corpus 'sentence_polarity' is not installed; run ...")

    trained, notices = [], []
    monkeypatch.setattr(demo, "load_dataset", missing)
    monkeypatch.setattr(demo, "train", lambda spec, corpus, name, **kw: trained.append(name))
    monkeypatch.setattr(demo, "builtin_corpus", lambda key, max_chars=None: None)
    monkeypatch.setattr(demo.shutil, "rmtree", lambda *a, **kw: None)
    demo.train_demo_models(["demo-polarity-lstm", "demo-ref-char-rnn"], notice=notices.append)
    assert trained == ["demo-ref-char-rnn"]
    assert notices == [
        "skipping demo model demo-polarity-lstm: NLTK corpus "
        "'sentence_polarity' is not installed; run ..."
    ]


def test_demo_classifier_definition():
    from lib.train.demo import DEMOS

    demo = next(d for d in DEMOS if d.name == "demo-polarity-lstm")
    assert demo.spec.validate().is_classifier and demo.dataset == "nltk:sentence_polarity"
    assert 64 <= demo.spec.units <= 128 and demo.spec.max_len == 40


def test_command_line_trains_a_classifier_from_csv(tmp_path, monkeypatch, capsys):
    from lib.__main__ import main

    data = planted(3, n=120)
    rows = "".join(f"{t},{c}\n" for t, c in zip(data.texts, data.label_names, strict=True))
    (tmp_path / "d.csv").write_text("text,label\n" + rows)
    monkeypatch.setenv("RNN_LENS_MODELS", str(tmp_path / "models"))
    main(
        [
            "train",
            "--task",
            "classifier",
            "--csv",
            str(tmp_path / "d.csv"),
            "--name",
            "cli",
            "--level",
            "word",
            "--mode",
            "words",
            "--cell",
            "gru",
            "--units",
            "4",
            "--embedding",
            "4",
            "--max-len",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "16",
        ]
    )
    assert '"test_accuracy"' in capsys.readouterr().out
    back = load("cli", root=tmp_path / "models")
    assert back.spec.n_classes == 3 and back.meta["classes"] == ["class0", "class1", "class2"]
    assert back.meta["dataset"]["ref"] == "csv:d.csv"
    with pytest.raises(SystemExit, match="needs --dataset"):
        main(["train", "--task", "classifier", "--name", "x"])
