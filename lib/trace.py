"""The Trace: the record of one text passing through one model.

Every analysis page reads a Trace. Shapes, in one place:

- ``tokens``: list of T str, the text in reading order.
- ``ids``: int32 array of shape (T,), the vocabulary ids of ``tokens``.
- ``signals[(layer, name)]``: float32 array of shape (T, units). Row t is the state
  after reading token t; layer 0 is the first recurrent layer. Names: ``h`` for every
  cell; LSTM adds ``c``, ``i``, ``f``, ``g`` (candidate), ``o``; GRU adds ``z``, ``r``,
  ``n`` (candidate); vanilla RNN adds ``a`` (pre-activation).
- ``topk_ids`` / ``topk_probs``: arrays of shape (T, k), the k most probable next tokens
  after reading token t, most probable first.
- ``expectancy``: float32 array of shape (T,); entry t is the probability the model gave
  to token t before reading it (seed 001's expectancy). Entry 0 is NaN: nothing came
  before the first token.
- ``next_prob``: float32 array of shape (T,); entry t is the probability given after
  token t to token t+1 (the last entry is NaN).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

SIGNALS = {
    "rnn": ("h", "a"),
    "lstm": ("h", "c", "i", "f", "g", "o"),
    "gru": ("h", "z", "r", "n"),
}

SIGNAL_LABELS = {
    "h": "hidden state h",
    "c": "cell state c",
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "z": "update gate z",
    "r": "reset gate r",
    "n": "candidate n",
    "a": "pre-activation a",
}

#: value range of each signal, None where unbounded
SIGNAL_RANGES = {
    "h": (-1.0, 1.0),
    "g": (-1.0, 1.0),
    "n": (-1.0, 1.0),
    "i": (0.0, 1.0),
    "f": (0.0, 1.0),
    "o": (0.0, 1.0),
    "z": (0.0, 1.0),
    "r": (0.0, 1.0),
    "c": None,
    "a": None,
}


@dataclass
class Trace:
    """Record of one text passing through one model (see the module docstring)."""

    tokens: list[str]
    ids: np.ndarray
    signals: dict[tuple[int, str], np.ndarray]
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    next_prob: np.ndarray
    model_name: str = ""
    n_seed: int = 0  # number of leading tokens that were given, not generated
    meta: dict = field(default_factory=dict)

    @property
    def expectancy(self) -> np.ndarray:
        """Probability given to token t before reading it, shape (T,); NaN at t = 0."""
        out = np.full(len(self.ids), np.nan, dtype=np.float32)
        out[1:] = self.next_prob[:-1]
        return out

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _ in self.signals})

    def signal_names(self, layer: int = 0) -> list[str]:
        return [name for (lay, name) in self.signals if lay == layer]

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        sig = ", ".join(f"{k[0]}.{k[1]}{tuple(v.shape)}" for k, v in self.signals.items())
        return (
            f"Trace(model={self.model_name!r}, T={len(self.ids)}, n_seed={self.n_seed}, "
            f"k={self.topk_ids.shape[1] if self.topk_ids.ndim == 2 else 0}, signals=[{sig}])"
        )

    def save(self, path) -> None:
        """Write the trace to a compressed ``.npz`` file."""
        arrays = {f"signal__{lay}__{name}": v for (lay, name), v in self.signals.items()}
        np.savez_compressed(
            path,
            tokens=np.array(json.dumps(self.tokens)),
            ids=self.ids,
            topk_ids=self.topk_ids,
            topk_probs=self.topk_probs,
            next_prob=self.next_prob,
            model_name=np.array(self.model_name),
            n_seed=np.array(self.n_seed),
            **arrays,
        )

    @classmethod
    def load(cls, path) -> Trace:
        with np.load(path, allow_pickle=False) as z:
            signals = {}
            for key in z.files:
                if key.startswith("signal__"):
                    _, lay, name = key.split("__")
                    signals[(int(lay), name)] = z[key]
            return cls(
                tokens=json.loads(str(z["tokens"])),
                ids=z["ids"],
                signals=signals,
                topk_ids=z["topk_ids"],
                topk_probs=z["topk_probs"],
                next_prob=z["next_prob"],
                model_name=str(z["model_name"]),
                n_seed=int(z["n_seed"]),
            )
