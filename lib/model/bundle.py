"""ModelBundle: a trained Keras model with its vocabulary, tokenizer, spec and metadata.

What :func:`lib.model.registry.load` returns and every recording and training function
takes. Values derived from the weights (the NumPy copy the recorder runs on,
:func:`lib.run.weights.numpy_weights`) are cached on the bundle through :meth:`derived`
and dropped by :meth:`weights_changed`, so this module needs nothing above the model layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lib.data.tokenizer import Tokenizer, Vocab
from lib.model.spec import ModelSpec

if TYPE_CHECKING:
    import keras

T = TypeVar("T")


@dataclass
class ModelBundle:
    """A trained model with everything needed to use it.

    Attributes
    ----------
    model : keras.Model
        Language model: maps token ids (batch, T) to next-token logits (batch, T, vocab).
        Classifier: maps ids shifted by one, 0 = padding (lib.model.spec.ID_OFFSET), to class
        probabilities (batch, 1 or n_classes); see lib.model.build.
    vocab : Vocab
    tokenizer : Tokenizer
    spec : ModelSpec
    meta : dict
        The contents of meta.json (metrics, history, corpus, ...).
    name : str
    fingerprint : str
        Hash of the model file; changes whenever the model is saved again.
    """

    model: keras.Model
    vocab: Vocab
    tokenizer: Tokenizer
    spec: ModelSpec
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    path: Path | None = None
    fingerprint: str = ""
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per version of the weights and kept under ``key``."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def weights_changed(self) -> None:
        """Forget every value derived from the weights; call after changing them."""
        self._derived.clear()

    def encode(self, text: str) -> tuple[list[str], np.ndarray]:
        """Tokenize ``text``; return the tokens and their int32 vocabulary ids."""
        tokens = self.tokenizer.tokenize(text)
        return tokens, self.vocab.encode(tokens)
