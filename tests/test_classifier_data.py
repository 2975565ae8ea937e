"""Labelled datasets: CSV uploads, stratified splits, NLTK corpora, the Keras datasets offline."""

import functools
import re
import time

import numpy as np
import pytest

from lib.data import datasets
from lib.data.datasets import (
    BROWN_DEFAULT_CATEGORIES,
    BROWN_MIN_WORDS,
    DatasetError,
    LabelledData,
    from_csv_bytes,
    keras_dataset,
    load_dataset,
    nltk_dataset,
    split,
    split_indices,
    subsample,
)

cached_nltk = functools.cache(nltk_dataset)

# --- CSV ----------------------------------------------------------------------------------------


def test_csv_good_file_with_auto_columns_and_dropped_rows():
    data = from_csv_bytes(
        "\ufeffid,Review,Sentiment\n"
        '1,"great film, really",pos\n'
        "2,awful,neg\n"
        "3,,pos\n"  # no text: dropped
        "4,meh,\n"  # no label: dropped
        '5,"two\nlines",pos\n'  # quoted newline kept
        "\n".encode(),
        name="reviews.csv",
    )
    assert data.texts == ["great film, really", "awful", "two\nlines"]
    assert data.classes == ["neg", "pos"] and data.labels.tolist() == [1, 0, 1]
    assert data.info == {"dropped_rows": 2, "text_column": "Review", "label_column": "Sentiment"}
    assert data.ref == "csv:reviews.csv" and data.source == "csv"
    with pytest.raises(DatasetError, match="'reviews.csv' is not stored; upload it again"):
        load_dataset(data.ref)


def test_csv_named_columns_semicolons_and_numeric_classes():
    raw = b"a;b;c\nx y;10;q\nz;2;q\nw;10;r\n"
    data = from_csv_bytes(raw, text_column="a", label_column="b")
    assert data.classes == ["2", "10"] and data.labels.tolist() == [1, 0, 1]


BAD_CSV = [
    (b"text,label\n" + b"x,a\n" * 600, {"max_bytes": 1000}, "over the 0.000954 MB cap"),
    (b"text,label\nok,\x00a\n", {}, "looks binary.*NUL bytes"),
    (b"text,label\ncaf\xe9,a\n", {}, r"not valid UTF-8 \(bad byte at offset 14\)"),
    (b"", {}, "is empty"),
    (b"content,kind\nhello,a\n", {}, r"no label column found.*columns are 'content', 'kind'"),
    (b"words,label\nhello,a\n", {}, r"no text column found.*columns are 'words', 'label'"),
    (
        b"text,label\nhello,a\n",
        {"text_column": "body"},
        r"no text column 'body'; the columns are 'text', 'label'",
    ),
    (b"text,label\nhello,a\n", {"label_column": "text"}, "must differ"),
    (
        b"text,label\n,a\nb,\n",
        {},
        r"no row with both a 'text' text and a 'label' label "
        r"\(2 data rows",
    ),
    (b"text,label\n", {}, "no row with both"),
    (b"text,label\nhi,a\nyo,a\n", {}, "every row of 'label' has the label 'a'"),
    (
        b"text,label\n" + b"".join(b"t,%d\n" % k for k in range(150)),
        {},
        "'label' has 150 different values",
    ),
]


@pytest.mark.parametrize("raw,kwargs,match", BAD_CSV)
def test_csv_bad_inputs(raw, kwargs, match):
    with pytest.raises(DatasetError, match=match):
        from_csv_bytes(raw, name="bad.csv", **kwargs)


# --- LabelledData and splits --------------------------------------------------------------------


def test_labelled_data_labels_by_name_or_index():
    by_name = LabelledData("d", ["a", "b", "c"], ["pos", "neg", "pos"], ["neg", "pos"])
    by_index = LabelledData("d", ["a", "b", "c"], [1, 0, 1], ["neg", "pos"])
    assert by_name.labels.tolist() == by_index.labels.tolist() == [1, 0, 1]
    assert by_name.sha1 == by_index.sha1 and by_name.label_names == ["pos", "neg", "pos"]
    assert by_name.class_counts.tolist() == [1, 2]


@pytest.mark.parametrize(
    "args,match",
    [
        ((["a"], ["x"], ["neg", "pos"]), r"labels \['x'\] are not among the classes"),
        ((["a"], [2], ["neg", "pos"]), r"label indices must be in \[0, 2\), got \[2\]"),
        ((["a", "b"], [0], ["neg", "pos"]), "got 2 texts but 1 labels"),
        ((["a"], [0], ["only"]), "at least 2 classes"),
        ((["a"], [0], ["x", "x"]), "must be unique"),
    ],
)
def test_labelled_data_errors(args, match):
    with pytest.raises(DatasetError, match=match):
        LabelledData("d", *args)


def test_stratified_split_is_deterministic_and_keeps_proportions():
    labels = np.repeat([0, 1, 2], [500, 300, 11])
    rng = np.random.default_rng(1)
    labels = labels[rng.permutation(len(labels))]
    train, test = split_indices(labels, test_fraction=0.2, seed=0)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    assert np.bincount(labels[test]).tolist() == [100, 60, 2]
    assert np.all(np.diff(test) > 0)  # dataset order
    again = split_indices(labels, test_fraction=0.2, seed=0)
    assert np.array_equal(again[1], test)
    other = split_indices(labels, test_fraction=0.2, seed=1)
    assert not np.array_equal(other[1], test)
    # tiny classes: one item stays in train, two items give one each side
    tr, te = split_indices(np.array([0, 0, 0, 0, 1, 2, 2]), test_fraction=0.1)
    assert sorted(np.array([0, 0, 0, 0, 1, 2, 2])[te].tolist()) == [0, 2]


def test_split_of_labelled_data():
    data = LabelledData("d", [f"t{i}" for i in range(50)], [i % 2 for i in range(50)], ["a", "b"])
    train, test = split(data, test_fraction=0.2, seed=3)
    assert len(test) == 10 and test.class_counts.tolist() == [5, 5]
    assert set(train.texts).isdisjoint(test.texts) and len(train) + len(test) == 50
    rare = LabelledData("d", ["a", "b", "c"], [0, 0, 1], ["x", "y"])
    with pytest.raises(DatasetError, match=r"at least 2 texts.*'y' \(1\)"):
        split(rare)
    with pytest.raises(DatasetError, match=r"test_fraction must be in \(0, 1\), got 1.5"):
        split(data, test_fraction=1.5)


def test_subsample_is_stratified_and_rebuildable(monkeypatch):
    data = LabelledData(
        "d",
        [f"t{i}" for i in range(100)],
        [int(i < 20) for i in range(100)],
        ["a", "b"],
        "nltk",
        "nltk:sentence_polarity",
    )
    small = subsample(data, 10)
    assert len(small) == 10 and small.class_counts.tolist() == [8, 2]
    assert small.ref == "nltk:sentence_polarity?limit=10&seed=0"
    monkeypatch.setattr(datasets, "nltk_dataset", lambda name, **kw: data)
    assert load_dataset(small.ref).texts == small.texts


# --- NLTK (the shared data of these offline machines) -------------------------------------------


def test_sentence_polarity():
    data = cached_nltk("sentence_polarity", download=False)
    assert data.classes == ["neg", "pos"] and data.class_counts.tolist() == [5331, 5331]
    assert data.texts[5331].startswith("the rock is destined")  # the first "pos" one
    assert data.ref == "nltk:sentence_polarity" and load_dataset(data.ref).sha1 == data.sha1


def test_movie_reviews():
    data = cached_nltk("movie_reviews", download=False)
    assert data.class_counts.tolist() == [1000, 1000] and "\n" not in data.texts[0]
    assert np.mean([len(t.split()) for t in data.texts]) > 500


def test_brown_paragraphs_by_genre():
    data = cached_nltk("brown", download=False)
    assert data.classes == list(BROWN_DEFAULT_CATEGORIES) and data.ref == "nltk:brown"
    assert data.texts[0].startswith("The Fulton County Grand Jury said Friday")
    assert '" no evidence "' in data.texts[0] and "``" not in data.texts[0]
    assert min(len(t.split()) for t in data.texts) >= BROWN_MIN_WORDS
    assert all(c > 300 for c in data.class_counts)
    two = nltk_dataset("brown", categories=["romance", "news"], download=False)
    assert two.ref == "nltk:brown@romance,news" and two.classes == ["romance", "news"]
    assert load_dataset(two.ref).sha1 == two.sha1


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("reuters", {}, r"must be one of \['sentence_polarity', 'movie_reviews', 'brown'\]"),
        ("brown", {"categories": ["news", "poetry"]}, r"unknown Brown categories \['poetry'\]"),
        ("brown", {"categories": ["news"]}, "at least 2 different"),
        ("movie_reviews", {"categories": ["pos"]}, "categories apply to brown only"),
    ],
)
def test_nltk_dataset_errors(name, kwargs, match):
    with pytest.raises(DatasetError, match=match):
        nltk_dataset(name, download=False, **kwargs)


class MissingCorpus:
    """Stands in for an NLTK corpus whose data is not installed."""

    def __getattr__(self, attr):
        def missing(*args, **kwargs):
            raise LookupError("Resource sentence_polarity not found.")

        return missing


@pytest.mark.parametrize(
    "download,match",
    [
        (
            False,
            r"'sentence_polarity' is not installed; run `python -m nltk\.downloader "
            r"sentence_polarity` on a machine with network, or set NLTK_DATA",
        ),
        (True, r"'sentence_polarity' is not installed and could not be downloaded \(offline\)"),
    ],
)
def test_missing_nltk_data_names_the_fix(monkeypatch, download, match):
    import nltk

    def offline(name, **kwargs):
        raise ValueError("offline")

    monkeypatch.setattr(nltk.corpus, "sentence_polarity", MissingCorpus())
    monkeypatch.setattr(nltk, "download", offline)
    with pytest.raises(DatasetError, match=match):
        nltk_dataset("sentence_polarity", download=download)


# --- Keras datasets (offline) -------------------------------------------------------------------


@pytest.fixture
def empty_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(
        datasets,
        "_keras_files",
        lambda name: [tmp_path / f"{name}.npz", tmp_path / f"{name}_wi.json"],
    )


@pytest.fixture
def full_keras_cache(tmp_path, monkeypatch):
    files = [tmp_path / "x.npz", tmp_path / "x_word_index.json"]
    for f in files:
        f.write_bytes(b"")
    monkeypatch.setattr(datasets, "_keras_files", lambda name: files)


@pytest.mark.usefixtures("empty_keras_cache")
def test_keras_download_failure_is_a_quick_clear_error(monkeypatch):
    import keras

    def offline(**kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/imdb.npz: None -- "
            "[Errno -2] Name or service not known"
        )

    monkeypatch.setattr(datasets, "_keras_reachable", lambda timeout=5.0: None)
    monkeypatch.setattr(keras.datasets.imdb, "load_data", offline)
    t0 = time.perf_counter()
    with pytest.raises(
        DatasetError,
        match=r"'imdb' could not be loaded \(URL fetch failure.*"
        r"keras\.datasets\.imdb\.load_data\(\).*copy imdb\.npz",
    ):
        load_dataset("keras:imdb")
    assert time.perf_counter() - t0 < 5


@pytest.mark.usefixtures("empty_keras_cache")
def test_unreachable_keras_server_fails_before_downloading(monkeypatch):
    def must_not_run(name):
        raise AssertionError("the loader should not be called")

    monkeypatch.setattr(datasets, "_keras_reachable", lambda timeout=5.0: "timed out")
    monkeypatch.setattr(datasets, "_keras_load", must_not_run)
    with pytest.raises(
        DatasetError,
        match=r"'reuters' is not cached and its server cannot be "
        r"reached \(timed out\); run .*reuters",
    ):
        keras_dataset("reuters")


WORD_INDEX = {"the": 1, "film": 2, "br": 3, "good": 4, "bad": 5}


@pytest.mark.usefixtures("full_keras_cache")
def test_keras_sequences_are_decoded_to_words(monkeypatch):
    """Keras ids: 0 pad, 1 start, 2 oov, word of rank r is r + 3 (seed 003 §2.1)."""
    x_train = [[1, 4, 5, 6, 7], [1, 4, 8, 2]]  # the film br good / the bad <oov>
    x_test = [[1, 7, 5]]
    monkeypatch.setattr(
        datasets,
        "_keras_load",
        lambda name: (((x_train, np.array([1, 0])), (x_test, np.array([1]))), WORD_INDEX),
    )
    data = keras_dataset("imdb")
    assert data.texts == ["the film good", "the bad", "good film"]  # br dropped
    assert data.classes == ["neg", "pos"] and data.labels.tolist() == [1, 0, 1]


@pytest.mark.usefixtures("full_keras_cache")
def test_reuters_keeps_the_top_topics_in_ascending_frequency(monkeypatch):
    y_train = np.array([3] * 5 + [4] * 4 + [1] * 3 + [19] * 2 + [16] * 2 + [0])
    x = [[1, 4]] * len(y_train)
    monkeypatch.setattr(
        datasets,
        "_keras_load",
        lambda name: (((x, y_train), ([[1, 5], [1, 6]], np.array([0, 3]))), WORD_INDEX),
    )
    data = keras_dataset("reuters", top_classes=3)
    assert data.classes == ["grain", "acq", "earn"]  # Keras topics 1, 4, 3
    assert data.class_counts.tolist() == [3, 4, 6] and data.ref == "keras:reuters@3"


@pytest.mark.parametrize(
    "ref,match",
    [
        ("hf:imdb", "must start with nltk:, keras: or csv:"),
        ("keras:mnist", "Keras dataset must be one of"),
        ("keras:reuters@five", "needs an integer K"),
        ("nltk:sentence_polarity?limit=x", r"\?limit=N&seed=S"),
    ],
)
def test_bad_refs(ref, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset(ref)


# --- a user's own sentences for a trained classifier (Hidden States) ----------------------------

CLASSES = ["neg", "pos"]


def test_pasted_lines_take_tab_comma_index_and_unlabelled_sentences():
    got = datasets.parse_labelled_lines(
        "pos\tsuch a warm film\n neg , a dull, tired plot\n\n1,ok then\n"
        "Well, fine\n\tHowever, it ends\njust words\n",
        CLASSES,
    )
    assert got.texts == [
        "such a warm film",
        "a dull, tired plot",  # only the first comma ends the label
        "ok then",
        "Well, fine",  # "Well" is no class: the whole line is the sentence
        "However, it ends",  # an empty label before a tab: no label
        "just words",
    ]
    assert got.labels.tolist() == [1, 0, 1, -1, -1, -1]
    assert got.lines == [1, 2, 4, 5, 6, 7] and got.n_labelled == 3
    assert got.source == "pasted"


def test_pasted_lines_without_any_label_are_all_unlabelled():
    got = datasets.parse_labelled_lines("Well, fine.\nnothing to say", CLASSES)
    assert got.labels.tolist() == [-1, -1] and got.n_labelled == 0


def test_the_content_hash_changes_with_a_label_and_a_text():
    a = datasets.parse_labelled_lines("pos\tgood", CLASSES)
    assert a.sha1 == datasets.parse_labelled_lines("pos,good", CLASSES).sha1
    assert a.sha1 != datasets.parse_labelled_lines("neg\tgood", CLASSES).sha1
    assert a.sha1 != datasets.parse_labelled_lines("pos\tgood!", CLASSES).sha1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "pos\tgood\nposs\tbad",
            "line 2: 'poss' is not a class of the model; labels are its "
            "class names ('neg', 'pos') or indices 0 to 1",
        ),
        ("2\tthird class", "line 1: '2' is not a class"),
        ("pos,good\nposs,bad", "line 2: 'poss' is not a class"),  # a mistyped label
        ("poss,bad", "for a sentence without a label, put a tab in front of it"),
        ("5, 4, 3, go", "line 1: '5' is not a class"),  # an index out of range
        ("pos\t   ", "line 1 has a label but no sentence"),
        ("\n  \n", "has no sentence"),
        ("a\n" * 2001, "2,001 sentences; at most 2,000"),
        ("9" * 5000 + "\tsix thousand digits", "line 1: '9999999999"),  # no int() of it
    ],
)
def test_pasted_lines_refused_with_the_label_and_line(text, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        datasets.parse_labelled_lines(text, CLASSES)


def test_pasted_lines_are_bounded_by_the_character_limit():
    with pytest.raises(DatasetError, match=r"has 12 characters; at most 10 .*max_corpus_chars"):
        datasets.parse_labelled_lines("pos\tabcdefgh", CLASSES, max_chars=10)


def test_sentences_from_a_csv_with_and_without_a_label_column():
    got = datasets.sentences_from_csv(
        b"Review;Sentiment\nsuch a warm film;pos\na dull plot;0\nno label;\n;neg\n",
        CLASSES,
        name="mine.csv",
    )
    assert got.texts == ["such a warm film", "a dull plot", "no label"]
    assert got.labels.tolist() == [1, 0, -1] and got.lines == [1, 2, 3]
    assert got.source == "csv:mine.csv"
    bare = datasets.sentences_from_csv(b"text\nfirst one\nsecond one\n", CLASSES)
    assert bare.texts == ["first one", "second one"] and bare.labels.tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("data", "kw", "message"),
    [
        (b"text,label\ngood,pos\nbad,nope\n", {}, "'up.csv' row 2: 'nope' is not a class"),
        (b"words,label\ngood,pos\n", {}, "no text column found"),
        (b"text,label\ngood,pos\n", {"label_column": "y"}, "there is no label column 'y'"),
        (b"text,label\n,pos\n", {}, "has no sentence"),
        (b"text\n" + b"x" * 100, {"max_bytes": 50}, "over the 4.77e-05 MB cap"),
    ],
)
def test_sentences_from_a_csv_refused(data, kw, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        datasets.sentences_from_csv(data, CLASSES, name="up.csv", **kw)


def test_a_label_is_a_class_name_before_an_index():
    assert datasets.class_index("1", ["1", "0"]) == 0  # the name "1" is class 0
    assert datasets.class_index(" pos ", CLASSES) == 1
    assert datasets.class_index("١", CLASSES) is None  # a non-ASCII digit is no index
    assert datasets.class_index("-1", CLASSES) is None
