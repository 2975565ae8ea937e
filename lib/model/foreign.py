"""Read a user's own Keras recurrent model (``.keras`` or ``.h5``) and its vocabulary.

What can be imported: ids -> ``Embedding`` -> 1 to 3 ``SimpleRNN``, ``LSTM`` or ``GRU``
layers (one cell type, every layer but the last returning sequences; ``Dropout`` and
``SpatialDropout1D`` between are identities at inference) -> ``Dense``:

- a language model: the last recurrent layer returns sequences and the ``Dense`` (or
  ``TimeDistributed(Dense)``) has one unit per embedding row, linear or softmax;
- a classifier: the last recurrent layer returns its last step only, and the ``Dense``
  has 1 unit (sigmoid, or linear logits) or K = 2 to 100 units (softmax, or logits). A
  2-unit softmax becomes the project's one sigmoid unit exactly: softmax(a, b)[1] =
  sigmoid(b - a).

A ``TextVectorization`` layer in front (``output_mode="int"``, whitespace or character
split) is split off: its vocabulary becomes the project's, the rest of the model reads ids.
Its ``standardize`` ("lower_and_strip_punctuation", Keras' default, "lower" or
"strip_punctuation") is kept in the imported model's tokenizer
(:attr:`lib.data.tokenizer.Tokenizer.standardize`), so "The" finds "the" as in Keras; a
custom standardization is noted and not applied.

Everything else is refused before any weight is loaded, naming the layer and the option:
``Bidirectional``, ``go_backwards``, ``stateful``, ``return_state``, an ``activation``
other than tanh or a ``recurrent_activation`` other than sigmoid (the equations of
:mod:`lib.run.cells`), GRU ``reset_after=False``, ``mask_zero`` in a language model (masked
steps keep their state, which the recorder does not model), nested models, branches and
any other layer. Options that do not change the equations at inference are fine:
``dropout``, ``recurrent_dropout``, ``unit_forget_bias``, initializers, regularizers,
constraints, ``implementation``, ``unroll``; ``use_bias=False`` becomes a zero bias.

The vocabulary (:func:`read_vocabulary`) maps the user's ids exactly: ids are the
embedding's rows as the user's model sees them (TextVectorization and Keras' Tokenizer
keep id 0 for padding and 1 for out-of-vocabulary). The project's :class:`Vocab` has
``<unk>`` at id 0 and a classifier reads vocabulary id + 1 with 0 = padding
(:data:`~lib.model.spec.ID_OFFSET`), so the embedding rows (and a language model's output
columns) are permuted to the project's order; where the user's vocabulary has no
out-of-vocabulary id, ``<unk>`` gets a new zero embedding row (and, in a language model,
an output column of zero weights and bias :data:`UNK_LOGIT`, so the other tokens'
probabilities are unchanged in float32).

The weights are copied into the project's own model (:func:`lib.model.build.build`), then
:func:`check_recorder` runs the project's recorder (passed in: ``lib.run`` is a layer above
this one) on a sample of the vocabulary's ids and compares its last-layer h and outputs
with Keras' own output of the user's original layers; over :data:`TOLERANCE` it refuses.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from lib.data.tokenizer import (
    KERAS_TOKENIZER_FILTERS,
    TEXT_VECTORIZATION_STANDARDIZE,
    Tokenizer,
    Vocab,
)
from lib.limits import check_archive, check_model, limits
from lib.model import archive
from lib.model.bundle import ModelBundle
from lib.model.errors import RegistryError
from lib.model.spec import MAX_CLASSES, ModelSpec

TOLERANCE = 1e-4
"""Largest max |delta| between the recorder and Keras' own output an import accepts."""
UNK_LOGIT = -100.0
"""Bias of a language model's added ``<unk>`` output column (its weights are zero)."""
OOV_NAMES = ("[UNK]", "<unk>", "<UNK>", "<OOV>", "<oov>", "[OOV]")
"""Tokens read as the out-of-vocabulary id in a token list or word index."""
MAX_VOCAB_FILE = archive.MAX_VOCAB_BYTES
"""Bytes of a vocabulary file (64 MB)."""
MAX_CONFIG = 16 * 2**20
"""Bytes of the model's architecture (config.json, or the .h5 file's model_config)."""

_RNN = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
_IDENTITY = {"Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout"}
_HDF5 = b"\x89HDF\r\n\x1a\n"
_SUPPORTED = (
    "Embedding -> 1 to 3 SimpleRNN/LSTM/GRU layers -> Dense (a language model, or a "
    "classifier on the last step)"
)


class ForeignModelError(RegistryError):
    """A user's model or vocabulary that cannot be imported; the message says why."""


# --- the architecture, read before anything is loaded ------------------------------------


@dataclass
class Plan:
    """What the architecture of a user's model maps to (read from its config alone)."""

    cell: str
    embedding: dict[str, Any]
    recurrent: list[dict[str, Any]]
    dense: dict[str, Any]
    activation: str
    task: str
    vectorizer: dict[str, Any] | None = None
    seq_len: int | None = None
    chain: list[str] = field(default_factory=list)  # layer names in order, Input excluded


def _cfg(layer: dict) -> dict:
    config = layer.get("config")
    return config if isinstance(config, dict) else {}


def _name(layer: dict) -> str:
    return str(layer.get("name") or _cfg(layer).get("name") or "?")


def _refuse(message: str) -> NoReturn:
    raise ForeignModelError(message)


def read_config(data: bytes, filename: str) -> tuple[dict, str]:
    """Return the model's architecture (its config JSON) and format (``"keras"`` or ``"h5"``).

    Bounded: the file by ``max_archive_mb``, a ``.keras`` zip's members by
    ``max_unpacked_mb`` (and their compression ratio, :func:`lib.model.archive.check_members`),
    the config by :data:`MAX_CONFIG`. Nothing is deserialised here.
    """
    if not data:
        _refuse(f"{filename} is empty; upload a Keras model (.keras or .h5).")
    check_archive(len(data))
    lim = limits()
    try:
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                infos = z.infolist()
                archive.check_members(infos, filename, lim.max_unpacked_bytes)
                names = {i.filename: i for i in infos}
                if "config.json" not in names:
                    _refuse(f"{filename} is a zip file but not a Keras model (no config.json).")
                if names["config.json"].file_size > MAX_CONFIG:
                    _refuse(f"The architecture in {filename} is over {archive.mb(MAX_CONFIG)}.")
                config = json.loads(z.read("config.json").decode("utf-8"))
            return config, "keras"
        if data[:8] == _HDF5:
            import h5py  # type: ignore[import-untyped]

            with h5py.File(io.BytesIO(data), "r") as f:
                raw = f.attrs.get("model_config")
                if raw is None:
                    _refuse(
                        f"{filename} is an HDF5 file without a model architecture (weights "
                        "only?); save the whole model with model.save()."
                    )
                if isinstance(raw, bytes):
                    raw = raw.decode("utf-8")
                if len(raw) > MAX_CONFIG:
                    _refuse(f"The architecture in {filename} is over {archive.mb(MAX_CONFIG)}.")
                return json.loads(raw), "h5"
    except ForeignModelError:
        raise
    except archive.ArchiveError as e:
        raise ForeignModelError(f"{filename} is refused: {e}") from None
    except (*archive.READ_ERRORS, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ForeignModelError(
            f"{filename} is damaged or not a Keras model ({archive.describe(e)})."
        ) from None
    _refuse(
        f"{filename} is not a Keras model: neither a .keras file (a zip archive) nor an "
        ".h5 file (HDF5). Save it with model.save('model.keras')."
    )


def _layers_in_order(config: dict) -> list[dict]:
    """Return the layers of a Sequential or linear Functional model, in order."""
    kind = config.get("class_name")
    inner = _cfg(config)
    layers = inner.get("layers")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(layers, list):
        _refuse(
            f"The file holds a {kind!s:.60} and not a Sequential or Functional Keras model; "
            f"RNN Lens imports {_SUPPORTED}."
        )
    if not all(isinstance(layer, dict) for layer in layers):
        _refuse("The model's architecture is malformed (a layer is not an object).")
    if kind == "Sequential":
        return layers
    for key in ("input_layers", "output_layers"):
        ends = inner.get(key)
        if isinstance(ends, list) and ends and isinstance(ends[0], list) and len(ends) > 1:
            _refuse(f"The model has {len(ends)} {key.split('_')[0]}s; RNN Lens takes one.")
    previous = None
    chain = []
    for layer in layers:
        if layer.get("class_name") == "NotEqual":
            continue  # the mask of id 0 that Embedding(mask_zero=True) passes to its readers
        chain.append(layer)
        parents = _parents(layer)
        if previous is None:
            if parents:
                _refuse(f"Layer {_name(layer)!r} comes first but reads other layers.")
        elif parents != [previous]:
            _refuse(
                f"Layer {_name(layer)!r} reads {parents or 'nothing'} instead of the layer "
                f"before it ({previous!r}): RNN Lens imports a chain of layers, without "
                "branches or skip connections."
            )
        previous = _name(layer)
    return chain


def _parents(layer: dict) -> list[str]:
    """Names of the layers one Functional layer reads (Keras 3 and Keras 2 configs)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            history = _cfg(node).get("keras_history") if "class_name" in node else None
            if isinstance(history, list) and history:
                found.append(str(history[0]))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                found.append(node[0])  # Keras 2: [name, node index, tensor index, kwargs]
                return
            for value in node:
                walk(value)

    nodes = layer.get("inbound_nodes") or []
    if isinstance(nodes, list) and len(nodes) > 1:
        _refuse(f"Layer {_name(layer)!r} is used {len(nodes)} times; RNN Lens imports a chain.")
    for node in nodes if isinstance(nodes, list) else []:
        walk(node.get("args", []) if isinstance(node, dict) else node)  # not kwargs' mask
    return found


def plan(config: dict) -> Plan:
    """Map a model's architecture to what RNN Lens can record, or refuse by layer and option.

    Raises
    ------
    ForeignModelError
        A layer or an option RNN Lens cannot record; the message names both and says what
        is supported.
    LimitError
        More units or layers than the server's limits.
    """
    layers = _layers_in_order(config)
    seq_len = None
    body = []
    for layer in layers:
        kind = str(layer.get("class_name"))
        if kind == "InputLayer":
            shape = _cfg(layer).get("batch_shape") or _cfg(layer).get("batch_input_shape")
            if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int):
                seq_len = shape[1]
            continue
        body.append(layer)
    vectorizer = None
    if body and body[0].get("class_name") == "TextVectorization":
        vectorizer = _check_vectorizer(body.pop(0))
        length = _cfg(vectorizer).get("output_sequence_length")
        seq_len = length if isinstance(length, int) and length > 0 else None
    if not body or body[0].get("class_name") != "Embedding":
        first = _name(body[0]) if body else "none"
        _refuse(
            f"The model must start with an Embedding layer (after its Input or a "
            f"TextVectorization); its first layer is {first!r}. RNN Lens imports {_SUPPORTED}."
        )
    embedding = body.pop(0)
    recurrent: list[dict] = []
    rest: list[dict] = []
    for layer in body:
        kind = str(layer.get("class_name"))
        if kind in _IDENTITY:
            continue
        if kind in _RNN and not rest:
            recurrent.append(layer)
            continue
        rest.append(layer)
    for layer in rest:
        _check_kind(layer)
    if not recurrent:
        _refuse(f"The model has no SimpleRNN, LSTM or GRU layer; RNN Lens imports {_SUPPORTED}.")
    kinds = {str(layer["class_name"]) for layer in recurrent}
    if len(kinds) > 1:
        _refuse(
            f"The model mixes {' and '.join(sorted(kinds))} layers; RNN Lens records one cell "
            "type per model."
        )
    check_model(max(int(_cfg(r).get("units", 0)) for r in recurrent), len(recurrent))
    if len(recurrent) > 3:
        _refuse(f"The model has {len(recurrent)} recurrent layers; RNN Lens records 1 to 3.")
    for k, layer in enumerate(recurrent):
        _check_recurrent(layer, last=k == len(recurrent) - 1)
    task = "lm" if _cfg(recurrent[-1]).get("return_sequences") else "classifier"
    dense, activation = _check_head(rest, task)
    _check_embedding(embedding, task)
    return Plan(
        cell=_RNN[str(recurrent[0]["class_name"])],
        embedding=embedding,
        recurrent=recurrent,
        dense=dense,
        activation=activation,
        task=task,
        vectorizer=vectorizer,
        seq_len=seq_len,
        chain=[_name(layer) for layer in layers if layer.get("class_name") != "InputLayer"],
    )


def _check_kind(layer: dict) -> None:
    kind, name = str(layer.get("class_name")), _name(layer)
    if kind == "Bidirectional":
        _refuse(
            f"Layer {name!r} is Bidirectional, which RNN Lens cannot record: its recorder "
            "runs one direction, left to right."
        )
    if kind in ("Sequential", "Functional", "Model"):
        _refuse(f"Layer {name!r} is a nested model ({kind}); RNN Lens imports one flat chain.")
    if kind in ("Lambda",):
        _refuse(f"Layer {name!r} is a Lambda layer (Python code), which is never loaded.")
    if kind in _RNN:
        _refuse(
            f"Layer {name!r} ({kind}) comes after the output layers; the recurrent layers "
            "must be consecutive."
        )
    if kind not in ("Dense", "TimeDistributed", "Activation", "Softmax"):
        _refuse(
            f"Layer {name!r} is a {kind:.60}, which RNN Lens cannot map; it imports {_SUPPORTED}."
        )


def _check_vectorizer(layer: dict) -> dict:
    c, name = _cfg(layer), _name(layer)
    if c.get("output_mode", "int") != "int":
        _refuse(
            f"TextVectorization {name!r} has output_mode={c.get('output_mode')!r}; RNN Lens "
            "needs token ids (output_mode='int')."
        )
    if c.get("ngrams") not in (None, 1):
        _refuse(f"TextVectorization {name!r} makes ngrams={c.get('ngrams')!r}; refused.")
    if c.get("split") not in ("whitespace", "character"):
        _refuse(
            f"TextVectorization {name!r} splits with {c.get('split')!r}; RNN Lens maps "
            "split='whitespace' (words) and split='character'."
        )
    return layer


def _check_embedding(layer: dict, task: str) -> None:
    c, name = _cfg(layer), _name(layer)
    for key in ("input_dim", "output_dim"):
        if not isinstance(c.get(key), int) or c[key] < 1:
            _refuse(f"Embedding {name!r} has no valid {key} ({c.get(key)!r}).")
    if c.get("mask_zero") and task == "lm":
        _refuse(
            f"Embedding {name!r} has mask_zero=True in a language model: masked steps keep "
            "their state, which RNN Lens's recorder does not model. Save it with "
            "mask_zero=False (the weights are the same) to import it."
        )


def _check_recurrent(layer: dict, *, last: bool) -> None:
    c, kind, name = _cfg(layer), str(layer["class_name"]), _name(layer)
    bad = {
        "go_backwards": "runs backwards",
        "stateful": "is stateful (RNN Lens starts every text from the zero state; save it "
        "with stateful=False, the weights are the same)",
        "return_state": "returns its state as a second output",
        "time_major": "is time-major",
    }
    for option, why in bad.items():
        if c.get(option):
            _refuse(
                f"Layer {name!r} ({kind}) has {option}=True: it {why}; RNN Lens cannot record it."
            )
    if c.get("activation", "tanh") != "tanh":
        _refuse(
            f"Layer {name!r} ({kind}) has activation={c.get('activation')!r}; RNN Lens's "
            "recorder computes tanh (Keras' default)."
        )
    if kind != "SimpleRNN" and c.get("recurrent_activation", "sigmoid") != "sigmoid":
        _refuse(
            f"Layer {name!r} ({kind}) has recurrent_activation="
            f"{c.get('recurrent_activation')!r}; RNN Lens's recorder computes sigmoid gates "
            "(Keras' default)."
        )
    if kind == "GRU" and c.get("reset_after", True) is False:
        _refuse(
            f"Layer {name!r} (GRU) has reset_after=False, whose equations RNN Lens's recorder "
            "does not compute; it records reset_after=True (Keras' default)."
        )
    if not last and not c.get("return_sequences"):
        _refuse(
            f"Layer {name!r} ({kind}) returns only its last step but another recurrent layer "
            "follows; every recurrent layer but the last must have return_sequences=True."
        )


def _check_head(rest: list[dict], task: str) -> tuple[dict, str]:
    """Return the output Dense and the activation of the model's output."""
    if not rest:
        _refuse(f"The model ends without a Dense layer; RNN Lens imports {_SUPPORTED}.")
    dense = rest[0]
    if dense.get("class_name") == "TimeDistributed":
        inner = _cfg(dense).get("layer")
        if not (isinstance(inner, dict) and inner.get("class_name") == "Dense"):
            _refuse(f"Layer {_name(dense)!r} is a TimeDistributed of something other than Dense.")
        dense = {**inner, "name": _name(dense), "wrapped": True}
    if dense.get("class_name") != "Dense":
        _refuse(f"Layer {_name(dense)!r} must be the output Dense layer.")
    activation = str(_cfg(dense).get("activation", "linear"))
    for extra in rest[1:]:
        kind = extra.get("class_name")
        if activation != "linear":
            _refuse(f"Layer {_name(extra)!r} follows the output Dense; RNN Lens maps none there.")
        if kind == "Softmax":
            activation = "softmax"
        elif kind == "Activation":
            activation = str(_cfg(extra).get("activation"))
        else:
            _refuse(f"Layer {_name(extra)!r} ({kind}) follows the output Dense; refused.")
    units = _cfg(dense).get("units")
    name = _name(dense)
    if task == "lm":
        if activation not in ("linear", "softmax"):
            _refuse(
                f"The output {name!r} of a language model has activation {activation!r}; "
                "RNN Lens maps logits (linear) or softmax."
            )
    else:
        ok = ("sigmoid", "linear") if units == 1 else ("softmax", "linear")
        if not isinstance(units, int) or units < 1 or activation not in ok:
            _refuse(
                f"The classifier's output {name!r} has {units} unit(s) with activation "
                f"{activation!r}; RNN Lens maps 1 sigmoid unit (2 classes) or 2 to "
                f"{MAX_CLASSES} softmax units (or their logits)."
            )
        if units > MAX_CLASSES:
            _refuse(f"The classifier has {units} classes, over the {MAX_CLASSES} RNN Lens maps.")
    return dense, activation


# --- vocabularies ------------------------------------------------------------------------


@dataclass
class UserVocab:
    """A vocabulary as the user's model sees it: id -> token, and its special ids."""

    tokens: dict[int, str]
    size: int
    form: str
    pad: int | None = None
    oov: int | None = None
    counts: dict[int, int] = field(default_factory=dict)
    char_level: bool | None = None
    mode: str | None = None  # how the user's text was split into these tokens, when known
    standardize: str | None = None  # what the user's text went through before the split
    note: str | None = None  # what the import could not reproduce of it


def _word_index(index: Any, form: str, *, oov_token: Any = None) -> UserVocab:
    if not isinstance(index, dict) or not index:
        _refuse(f"The {form} must map words to ids; got {type(index).__name__}.")
    tokens: dict[int, str] = {}
    for word, i in index.items():
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            _refuse(f"The {form} maps {str(word)[:40]!r} to {str(i)[:40]!r}, not an id (int >= 0).")
        if i in tokens:
            _refuse(f"The {form} gives id {i} to both {tokens[i][:40]!r} and {str(word)[:40]!r}.")
        tokens[i] = str(word)
    oov = next((i for i, t in tokens.items() if t == oov_token or t in OOV_NAMES), None)
    pad = 0 if 0 not in tokens else None
    return UserVocab(tokens, max(tokens) + 1, form, pad=pad, oov=oov)


def _token_list(items: Sequence[Any], form: str) -> UserVocab:
    if not all(isinstance(t, str) for t in items):
        _refuse(f"The {form} must hold strings only.")
    tokens = dict(enumerate(items))
    if len(set(items)) != len(items):
        dup = next(t for t in items if items.count(t) > 1)
        _refuse(f"The {form} holds {dup[:40]!r} twice.")
    pad = 0 if items and items[0] == "" else None
    if "" in items[1:]:
        _refuse(f"The {form} holds an empty token at id {items.index('', 1)}.")
    oov = next((i for i, t in tokens.items() if t in OOV_NAMES), None)
    return UserVocab(tokens, len(items), form, pad=pad, oov=oov)


def _tokenizer_json(d: dict) -> UserVocab:
    form = "Keras Tokenizer JSON"
    c = d.get("config")
    if d.get("class_name") != "Tokenizer" or not isinstance(c, dict) or "word_index" not in c:
        _refuse(
            "The tokenizer file is not of the form Keras' Tokenizer.to_json() writes: "
            '{"class_name": "Tokenizer", "config": {"word_index": ...}}; found keys '
            f"{sorted(map(str, d))[:8]}."
        )
    index = c["word_index"]
    try:
        if isinstance(index, str):
            index = json.loads(index)
    except (json.JSONDecodeError, RecursionError):
        _refuse("The tokenizer file's word_index is not valid JSON.")
    v = _word_index(index, f"{form}'s word_index", oov_token=c.get("oov_token"))
    v.pad = 0  # Keras' Tokenizer never gives id 0 to a word
    num_words = c.get("num_words")
    if isinstance(num_words, int) and not isinstance(num_words, bool) and num_words > 0:
        v.tokens = {i: t for i, t in v.tokens.items() if i < num_words}
        v.size = num_words
    counts = c.get("word_counts")
    try:
        counts = json.loads(counts) if isinstance(counts, str) else counts
    except (json.JSONDecodeError, RecursionError):
        counts = None
    if isinstance(counts, dict):
        by_word = {t: i for i, t in v.tokens.items()}
        v.counts = {
            by_word[w]: int(n) for w, n in counts.items() if w in by_word and isinstance(n, int)
        }
    v.char_level = bool(c.get("char_level")) if "char_level" in c else None
    defaults = (
        c.get("lower", True) is True
        and c.get("filters", KERAS_TOKENIZER_FILTERS) == KERAS_TOKENIZER_FILTERS
        and c.get("split", " ") == " "
    )
    if not v.char_level and defaults:
        v.mode = "keras-tokenizer"
    elif not v.char_level:
        v.note = (
            "the Keras Tokenizer's lower/filters/split differ from its defaults, which RNN "
            "Lens reproduces; words are looked up as they are in the text."
        )
    elif c.get("lower", True):  # Tokenizer.texts_to_sequences: text.lower(), no filters
        v.standardize = "str_lower"
    return v


def read_vocabulary(data: bytes, filename: str) -> UserVocab:
    """Read a vocabulary file in one of the forms people have.

    - a JSON list of tokens, id = position (a character list, or a TextVectorization
      layer's ``get_vocabulary()``; ``""`` first is padding, ``"[UNK]"`` the OOV id);
    - a JSON word index ``{"word": id}`` (id 0 unused = padding; ``"[UNK]"``, ``"<OOV>"``,
      ... = the OOV id);
    - a Keras Tokenizer's ``to_json()`` (``num_words``, ``oov_token`` and ``char_level``
      honoured; id 0 is padding);
    - a text file, one token per line, read as TextVectorization reads a vocabulary file:
      id 0 is padding and id 1 ``[UNK]`` unless the file starts with them.

    Raises
    ------
    ForeignModelError
        Over :data:`MAX_VOCAB_FILE`, not UTF-8, or JSON of none of these forms.
    """
    if len(data) > MAX_VOCAB_FILE:
        _refuse(
            f"The vocabulary file {filename} is {archive.mb(len(data))}, over the "
            f"{archive.mb(MAX_VOCAB_FILE)} a vocabulary may take."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _refuse(f"The vocabulary file {filename} is not UTF-8 text.")
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped[:1] in ("[", "{"):
        try:
            parsed = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            _refuse(f"The vocabulary file {filename} is not valid JSON ({str(e)[:80]}).")
        if isinstance(parsed, list):
            return _token_list(parsed, "token list")
        if isinstance(parsed, dict):
            if "class_name" in parsed or "config" in parsed:
                return _tokenizer_json(parsed)
            if all(isinstance(i, int) and not isinstance(i, bool) for i in parsed.values()):
                return _word_index(parsed, "word index")
        _refuse(
            f"The vocabulary file {filename} is JSON of none of the supported forms: a list "
            'of tokens, a word index {"word": id}, or a Keras Tokenizer\'s to_json().'
        )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines[:2] == ["", "[UNK]"]:
        pass
    elif lines[:1] == ["[UNK]"]:
        lines = ["", *lines]
    else:
        lines = ["", "[UNK]", *lines]
    return _token_list(lines, "vocabulary file (one token per line)")


def vectorizer_vocabulary(layer: Any) -> UserVocab:
    """Return the vocabulary of a TextVectorization layer (its ``get_vocabulary()``)."""
    items = [str(t) for t in layer.get_vocabulary()]
    v = _token_list(items, f"vocabulary of TextVectorization {layer.name!r}")
    v.form = "TextVectorization layer"
    v.char_level = layer.get_config().get("split") == "character"
    return v


# --- the mapping -------------------------------------------------------------------------


@dataclass
class Mapping:
    """The project's vocabulary and, per row of its embedding, the user's row (None: new)."""

    vocab: Vocab
    tokenizer: Tokenizer
    rows: list[int | None]  # the project model's embedding rows
    columns: list[int | None]  # a language model's output columns (vocab order)


def _placeholder(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"<{name}>"
    return name


def map_vocabulary(user: UserVocab, task: str, input_dim: int) -> Mapping:
    """Map the user's ids to the project's :class:`Vocab` and embedding rows.

    Raises
    ------
    ForeignModelError
        The vocabulary's size is not the embedding's ``input_dim`` (both numbers said).
    """
    if user.size != input_dim:
        _refuse(
            f"The vocabulary ({user.form}) has {user.size:,} ids but the model's Embedding has "
            f"input_dim {input_dim:,} rows; they must be the same vocabulary."
        )
    special = {user.pad, user.oov}
    words = {i: t for i, t in user.tokens.items() if i not in special}
    taken = set(words.values())
    order: list[tuple[str, int | None]] = [(Vocab.UNK, user.oov)]
    for i in range(user.size):
        if i == user.oov:
            continue
        if i == user.pad and task == "classifier":
            continue  # the project's row 0
        if i in words:
            token = words[i]
        elif i == user.pad:
            token = _placeholder("<pad>", taken)
        else:
            token = _placeholder(f"<unused-{i}>", taken)
        taken.add(token)
        order.append((token, i))
    if Vocab.UNK in words.values():  # a word literally "<unk>" that is not the OOV id
        _refuse(f"The vocabulary holds {Vocab.UNK!r} as an ordinary token; refused.")
    tokens = [t for t, _ in order]
    counts = [int(user.counts.get(i, 0)) if i is not None else 0 for _, i in order]
    real = list(words.values())
    char = user.char_level if user.char_level is not None else all(len(t) == 1 for t in real)
    keep = char or any(t.isspace() for t in real)
    tokenizer = Tokenizer("char" if char else "word", "keep-space" if keep else "words")
    sources = [i for _, i in order]
    rows = [user.pad, *sources] if task == "classifier" else sources
    return Mapping(Vocab(tokens, counts), tokenizer, rows, sources)


# --- loading, copying, checking ----------------------------------------------------------


@dataclass
class Imported:
    """A user's model mapped to the project's: the bundle to save, and what to check it by."""

    bundle: ModelBundle
    original: list[Any]  # the user's layers after the TextVectorization, in order
    mapping: Mapping
    plan: Plan
    samples: list[list[str]]  # token sequences of the check
    notes: list[str]


def _load(data: bytes, fmt: str) -> Any:
    import keras

    with tempfile.TemporaryDirectory(prefix="rnn-lens-import-") as tmp:
        path = Path(tmp) / f"model.{fmt}"
        path.write_bytes(data)
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # Keras raises many types for foreign or corrupt files
            message = str(e).replace(str(path), "the file").replace(tmp, "")
            raise ForeignModelError(
                f"Keras could not load the model in safe mode ({type(e).__name__}: "
                f"{message.splitlines()[0][:200] if message else ''})."
            ) from None


def _params(p: Plan) -> int:
    e = _cfg(p.embedding)
    n = int(e["input_dim"]) * int(e["output_dim"])
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[p.cell]
    n_in = int(e["output_dim"])
    for r in p.recurrent:
        u = int(_cfg(r).get("units", 0))
        n += gates * u * (n_in + u + 2)
        n_in = u
    return n + n_in * int(_cfg(p.dense).get("units", 0) or 0)


def read_keras(
    data: bytes,
    filename: str,
    *,
    vocab: bytes | None = None,
    vocab_name: str = "vocabulary",
    classes: Sequence[str] | None = None,
    max_len: int | None = None,
    sample_tokens: int = 48,
    seed: int = 0,
) -> Imported:
    """Read a user's Keras model and vocabulary and map them to a project model (not saved).

    Parameters
    ----------
    data, filename : the model file's bytes and name (.keras or .h5)
    vocab, vocab_name : the vocabulary file's bytes and name (:func:`read_vocabulary`);
        optional when the model holds a TextVectorization layer
    classes : a classifier's class names (default "0", "1", ...)
    max_len : a classifier's tokens per text (default: the model's input length, else 200)
    sample_tokens, seed : length and seed of the sample :func:`check_recorder` runs

    Raises
    ------
    ForeignModelError, LimitError
        What cannot be imported, before anything is written (module docstring).
    """
    from lib.model.build import build

    config, fmt = read_config(data, filename)
    p = plan(config)
    need = 4 * _params(p)
    if need > limits().max_unpacked_bytes:
        _refuse(
            f"The model declares {need // 4:,} weights ({archive.mb(need)}), over this "
            f"server's limit of {limits().max_unpacked_mb:,} MB (max_unpacked_mb)."
        )
    model = _load(data, fmt)
    by_name = {layer.name: layer for layer in model.layers}
    missing = [n for n in p.chain if n not in by_name]
    if missing:
        _refuse(f"The loaded model has no layer {missing[0]!r} its architecture names.")
    notes: list[str] = []
    standardize: Any = None
    if p.vectorizer is not None:
        user = vectorizer_vocabulary(by_name[_name(p.vectorizer)])
        if vocab is not None:
            notes.append(f"{vocab_name} ignored: the model's TextVectorization has its own.")
        std = _cfg(p.vectorizer).get("standardize")
        if std in TEXT_VECTORIZATION_STANDARDIZE:
            standardize = std
            notes.append(
                f"the TextVectorization standardizes with {std!r}; RNN Lens does the same "
                "before it looks words up."
            )
        elif std:
            notes.append(
                f"the TextVectorization standardizes with {str(std)[:60]!r}, which RNN Lens "
                "cannot reproduce; it looks words up as they are in the text (unknown ones "
                "read as <unk>)."
            )
        chain = p.chain[1:]
    elif vocab is None:
        _refuse(
            "The model has no TextVectorization layer, so it needs its vocabulary: a "
            "character list, a JSON word index, a Keras Tokenizer JSON or a vocabulary file."
        )
    else:
        user = read_vocabulary(vocab, vocab_name)
        chain = p.chain
    emb_cfg = _cfg(p.embedding)
    m = map_vocabulary(user, p.task, int(emb_cfg["input_dim"]))
    if standardize is not None:  # kept in vocab.json with the tokenizer
        m.tokenizer = replace(m.tokenizer, standardize=standardize)
    if p.vectorizer is not None and m.tokenizer.level == "word":  # split as Keras does
        m.tokenizer = replace(m.tokenizer, mode="whitespace")
    if user.standardize is not None and standardize is None:
        m.tokenizer = replace(m.tokenizer, standardize=user.standardize)  # type: ignore[arg-type]
        notes.append("the Keras Tokenizer lowers every character; RNN Lens does the same.")
    if user.mode == "keras-tokenizer" and m.tokenizer.level == "word":
        m.tokenizer = replace(m.tokenizer, mode="keras-tokenizer")
        notes.append("the Keras Tokenizer lowers and strips its filters; RNN Lens does the same.")
    if user.note:
        notes.append(user.note)
    dense_units = int(_cfg(p.dense)["units"])
    if p.task == "lm" and dense_units != user.size:
        _refuse(
            f"The language model's output {_name(p.dense)!r} has {dense_units:,} units but "
            f"its vocabulary has {user.size:,} ids; a language model predicts its vocabulary."
        )
    n_classes = None
    if p.task == "classifier":
        n_classes = 2 if dense_units <= 2 else dense_units
        if classes is not None and len(classes) != n_classes:
            _refuse(f"{len(classes)} class names given for a classifier of {n_classes} classes.")
        if max_len is None:
            max_len = p.seq_len or 200
    units = int(_cfg(p.recurrent[0]).get("units", 0))
    if any(int(_cfg(r).get("units", 0)) != units for r in p.recurrent):
        _refuse(
            "The recurrent layers have different widths "
            f"({[_cfg(r).get('units') for r in p.recurrent]}); RNN Lens records layers of "
            "one width."
        )
    seq_len = p.seq_len if p.task == "lm" and p.seq_len and 2 <= p.seq_len <= 2000 else 100
    try:
        spec = ModelSpec(
            cell=p.cell,  # type: ignore[arg-type]
            level=m.tokenizer.level,
            tokenizer_mode=m.tokenizer.mode,
            layers=len(p.recurrent),
            units=units,
            embedding=int(emb_cfg["output_dim"]),
            seq_len=seq_len,
            task=p.task,  # type: ignore[arg-type]
            n_classes=n_classes,
            max_len=int(max_len) if max_len is not None else None,
        ).validate()
    except ValueError as e:
        raise ForeignModelError(f"The model maps to no valid RNN Lens model: {e}") from None
    ours = build(spec, len(m.vocab))
    _copy_weights(ours, by_name, p, m, spec)
    meta = {
        "description": f"Imported from {filename} ({user.form}).",
        "vocab_size": len(m.vocab),
        "params": int(ours.count_params()),
        "epochs_done": 0,
        "imported": {
            "from": filename,
            "format": fmt,
            "vocabulary": user.form,
            "layers": [n for n in chain],
            "notes": notes,
        },
    }
    if p.task == "classifier":
        meta["classes"] = list(classes) if classes else [str(k) for k in range(n_classes or 2)]
    bundle = ModelBundle(model=ours, vocab=m.vocab, tokenizer=m.tokenizer, spec=spec, meta=meta)
    original = [by_name[n] for n in chain]
    samples = _samples(m, p.task, min(sample_tokens, spec.max_len or sample_tokens), seed)
    return Imported(bundle, original, m, p, samples, notes)


def _take(a: np.ndarray, index: list[int | None], axis: int, fill: float = 0.0) -> np.ndarray:
    shape = list(a.shape)
    shape[axis] = len(index)
    out = np.full(shape, fill, dtype=np.float32)
    for j, i in enumerate(index):
        if i is not None:
            np.moveaxis(out, axis, 0)[j] = np.moveaxis(a, axis, 0)[i]
    return out


def _copy_weights(ours: Any, by_name: dict, p: Plan, m: Mapping, spec: ModelSpec) -> None:
    emb = np.asarray(by_name[_name(p.embedding)].get_weights()[0], np.float32)
    ours.get_layer("embedding").set_weights([_take(emb, m.rows, 0)])
    for k, layer in enumerate(p.recurrent):
        theirs = [np.asarray(w, np.float32) for w in by_name[_name(layer)].get_weights()]
        target = ours.get_layer(f"recurrent_{k}")
        shapes = [w.shape for w in target.get_weights()]
        if len(theirs) == 2:  # use_bias=False: a zero bias
            theirs.append(np.zeros(shapes[2], np.float32))
        if [w.shape for w in theirs] != shapes:
            _refuse(
                f"Layer {_name(layer)!r} holds weights of shapes {[w.shape for w in theirs]}, "
                f"not the {shapes} of its equations."
            )
        target.set_weights(theirs)
    dense = by_name[_name(p.dense)]
    theirs = [np.asarray(w, np.float32) for w in dense.get_weights()]
    kernel = theirs[0]
    bias = theirs[1] if len(theirs) > 1 else np.zeros(kernel.shape[1], np.float32)
    if spec.is_classifier:
        if kernel.shape[1] == 2:  # softmax(a, b)[1] = sigmoid(b - a)
            kernel = kernel[:, 1:] - kernel[:, :1]
            bias = bias[1:] - bias[:1]
        ours.get_layer("output").set_weights([kernel, bias])
    else:
        w = _take(kernel, m.columns, 1)
        b = _take(bias, m.columns, 0, fill=UNK_LOGIT)
        ours.get_layer("logits").set_weights([w, b])


def _samples(m: Mapping, task: str, n: int, seed: int) -> list[list[str]]:
    """Token sequences over every vocabulary entry the user's model has a row for."""
    rng = np.random.default_rng(seed)
    usable = [j for j, src in enumerate(m.columns) if src is not None]
    tokens = m.vocab.tokens
    if task == "lm":
        return [[tokens[j] for j in rng.choice(usable, size=n)] for _ in range(2)]
    return [[tokens[j] for j in rng.choice(usable, size=size)] for size in (1, min(7, n), n)]


def keras_reference(imported: Imported, sample: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Keras' own output of the user's ORIGINAL layers on one token sequence.

    Returns the last recurrent layer's output (T, units) for a language model, (units,)
    for a classifier, and the model's output mapped to the project's: a language model's
    probabilities (T, len(vocab)) in the project's vocabulary order (0 where the user's
    model has no column), a classifier's class probabilities (n_outputs,).
    """
    m, p = imported.mapping, imported.plan
    index = {t: j for j, t in enumerate(m.vocab.tokens)}
    ids = np.array([[m.columns[index[t]] for t in sample]], dtype="int32")
    x: Any = ids
    last = _name(p.recurrent[-1])
    h = None
    for layer in imported.original:
        x = layer(x, training=False)
        if layer.name == last:
            h = np.asarray(x, np.float64)[0]
    out = np.asarray(x, np.float64)[0]
    if p.activation == "linear":
        out = _softmax(out) if p.task == "lm" or out.shape[-1] > 1 else _sigmoid(out)
    if p.task == "lm":
        out = _take(out, m.columns, out.ndim - 1).astype(np.float64)
    elif out.shape[-1] == 2:
        out = out[1:]
    assert h is not None
    return h, out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


Record = Callable[..., Any]


def check_recorder(
    imported: Imported, record: Record, record_sequences: Record
) -> dict[str, float]:
    """Run the project's recorder on the sample and compare it with Keras' own output.

    ``record`` is :func:`lib.run.record.record` and ``record_sequences``
    :func:`lib.run.classify.record_sequences` (passed in: ``lib.run`` is a layer above
    this one). Compared: the last recurrent layer's h at every step (language model) or
    the last step (classifier), and the outputs: a language model's top-10 next-token
    probabilities, a classifier's class probabilities.

    Returns
    -------
    dict
        ``max_abs_delta_h``, ``max_abs_delta_output`` and ``sample_tokens``; also written
        into ``imported.bundle.meta["imported"]``.

    Raises
    ------
    ForeignModelError
        A max |delta| over :data:`TOLERANCE`.
    """
    b = imported.bundle
    last = b.spec.layers - 1
    dh, dout = 0.0, 0.0
    if b.spec.is_classifier:
        trace = record_sequences(b, imported.samples)
        ends = np.asarray(trace.offsets[1:]) - 1
        states = np.asarray(trace.states[last], np.float64)
        ep = np.asarray(trace.ep, np.float64)
        for k, sample in enumerate(imported.samples):
            h, out = keras_reference(imported, sample)
            dh = max(dh, float(np.abs(states[ends[k]] - h).max()))
            ours = ep[ends[k]].reshape(-1)
            if b.spec.n_classes == 2 and ours.size == 2:
                ours = ours[1:]
            dout = max(dout, float(np.abs(ours - out.reshape(-1)).max()))
    else:
        for sample in imported.samples:
            trace = record(b, sample, streams=1)
            h, out = keras_reference(imported, sample)
            ours_h = np.asarray(trace.signals[(last, "h")], np.float64)
            dh = max(dh, float(np.abs(ours_h - h).max()))
            top_ids = np.asarray(trace.topk_ids)
            top_p = np.asarray(trace.topk_probs, np.float64)
            theirs = np.take_along_axis(out, top_ids, axis=1)
            dout = max(dout, float(np.abs(top_p - theirs).max()))
    result = {
        "max_abs_delta_h": dh,
        "max_abs_delta_output": dout,
        "sample_tokens": int(sum(len(s) for s in imported.samples)),
    }
    if not (dh <= TOLERANCE and dout <= TOLERANCE):
        _refuse(
            f"RNN Lens's recorder does not reproduce the model: on a sample of "
            f"{result['sample_tokens']} tokens its hidden state differs from Keras' by up to "
            f"{dh:.2e} and its output by up to {dout:.2e} (at most {TOLERANCE:g} is "
            "accepted). The model uses something the import did not recognise."
        )
    b.meta["imported"].update(result)
    return result
