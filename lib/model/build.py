"""Keras models from a :class:`~lib.model.spec.ModelSpec`, and how they are compiled.

``build(spec, vocab_size)`` makes, for ``spec.task == "lm"``, ids -> Embedding -> 1..3
recurrent layers (SimpleRNN, LSTM or GRU, all returning sequences, dropout between) ->
Dense logits.

For ``spec.task == "classifier"`` (Garcia, Munz & Weiskopf 2021) it makes ids ->
Embedding(mask_zero) -> 1..3 recurrent layers (the last returns only its final state) ->
Dense(1, sigmoid) for 2 classes or Dense(K, softmax) for K > 2. The embedding has
``len(vocab) + 1`` rows (:data:`~lib.model.spec.ID_OFFSET`).

Classifier accuracy is the real one: the share of texts whose predicted class is the true
class (``BinaryAccuracy`` on the single sigmoid unit, ``SparseCategoricalAccuracy`` on K
softmax units), never Keras' element-wise binary accuracy on one-hot targets that inflated
the Reuters figure of Garcia et al.'s code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.model.spec import ID_OFFSET, ModelSpec, TrainConfig

if TYPE_CHECKING:
    import keras


def build(spec: ModelSpec, vocab_size: int) -> keras.Model:
    """Build the Keras model of `spec`.

    Language model: ids (batch, T) to next-token logits (batch, T, vocab_size).
    Classifier: ids (batch, T), vocabulary id + 1 with 0 = padding, to class probabilities
    (batch, 1) (sigmoid, 2 classes) or (batch, n_classes) (softmax); see the module
    docstring. Layer names: ``embedding``, ``recurrent_<k>``, ``dropout_<k>``, and
    ``logits`` (language model) or ``output`` (classifier).
    """
    import keras
    from keras import layers

    spec.validate()
    if spec.is_classifier:
        return _build_classifier(spec, vocab_size)
    rnn = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[spec.cell]
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = layers.Embedding(vocab_size, spec.embedding, name="embedding")(ids)
    for k in range(spec.layers):
        if spec.dropout:
            x = layers.Dropout(spec.dropout, name=f"dropout_{k}")(x)
        x = rnn(spec.units, return_sequences=True, name=f"recurrent_{k}")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"dropout_{spec.layers}")(x)
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=f"{spec.cell}_{spec.level}_lm")


def _build_classifier(spec: ModelSpec, vocab_size: int) -> keras.Model:
    import keras
    from keras import layers

    rnn = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[spec.cell]
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = layers.Embedding(vocab_size + ID_OFFSET, spec.embedding, mask_zero=True, name="embedding")(
        ids
    )
    for k in range(spec.layers):
        if spec.dropout:
            x = layers.Dropout(spec.dropout, name=f"dropout_{k}")(x)
        last = k == spec.layers - 1
        x = rnn(spec.units, return_sequences=not last, name=f"recurrent_{k}")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"dropout_{spec.layers}")(x)
    activation = "sigmoid" if spec.n_outputs == 1 else "softmax"
    out = layers.Dense(spec.n_outputs, activation=activation, name="output")(x)
    return keras.Model(ids, out, name=f"{spec.cell}_{spec.level}_classifier")


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    import keras

    opt_cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
    return opt_cls[config.optimizer](learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """Compile a language model: cross-entropy on its logits, token accuracy."""
    import keras

    model.compile(
        optimizer=_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def accuracy_metric(n_classes: int) -> keras.metrics.Metric:
    """Return the real classification accuracy metric of a classifier built by :func:`build`.

    ``BinaryAccuracy`` (threshold 0.5, so p <= 0.5 is class 0 as in seed 003's code) on the
    single sigmoid unit for 2 classes; ``SparseCategoricalAccuracy`` (argmax) on integer
    labels for more. Both are logged as ``accuracy`` / ``val_accuracy``.
    """
    import keras

    if n_classes == 2:
        return keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.5)
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def compile_classifier(model: keras.Model, config: TrainConfig, n_classes: int) -> None:
    """Compile a classifier: binary or sparse categorical cross-entropy, real accuracy.

    Binary cross-entropy on the sigmoid unit for 2 classes, sparse categorical
    cross-entropy on the softmax for more; the metric is :func:`accuracy_metric`.
    """
    import keras

    loss = (
        keras.losses.BinaryCrossentropy()
        if n_classes == 2
        else keras.losses.SparseCategoricalCrossentropy()
    )
    model.compile(optimizer=_optimizer(config), loss=loss, metrics=[accuracy_metric(n_classes)])
