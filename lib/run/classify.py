"""Record texts through a sequence classifier (seed 003) and the pure functions its views use.

:func:`record_sequences` runs N texts through a classifier built by
:func:`lib.model.build.build` and returns a :class:`ClassifierTrace`: per sequence its tokens,
the hidden state h_t of every recurrent layer at every real (unpadded) step, and the
*expected prediction* (EP) at every step, ``p_t = f(W h_t + b)`` with the trained output
layer's W, b and f = sigmoid (2 classes) or softmax (seed 003 §0). The EP at the last step
is the model's own prediction.

Shapes, in one place (N sequences, L_i real steps in sequence i, S = sum L_i steps in
all, K classes, U units):

- ``tokens``: N lists of L_i str.
- ``offsets``: int64 (N + 1,); the steps of sequence i are rows ``offsets[i]:offsets[i+1]``
  of every per-step array.
- ``states[layer]``: float32 (S, U), h_t of that recurrent layer (0 = first).
- ``ep``: float32 (S, K), EP per class. With 2 classes the columns are (1 - p, p) where p
  is the sigmoid unit, so binary and multi-class views read the same array.
- ``labels``: int64 (N,), the true class, -1 where unknown.

Masking: texts are padded at the end. A recurrent step only depends on earlier steps, so
padded steps after a text's end cannot change its real steps; they are computed in the
batch and dropped, which gives exactly what Keras' masking (``mask_zero``) computes, and
the final state is the state at the last real step. Sequences are run side by side as
the B streams of :func:`lib.run.cells.run` (sorted by length, so little padding is computed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.data.datasets import DatasetError, LabelledData, _label_indices, load_dataset
from lib.model.inputs import classifier_splits
from lib.model.spec import ID_OFFSET, PAD_ID, ModelSpec, TrainConfig
from lib.run.cells import run
from lib.run.weights import numpy_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle

STEP_BUDGET = 32_768
"""Sequences x padded steps run per batch (bounds memory: LSTM keeps 6 U floats a step)."""
THRESHOLD_TOL = 1e-9
"""Slack of the inclusive thresholds in :func:`threshold_events`."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return p


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * z) + 0.5


def class_probabilities(outputs: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities from the output layer's values.

    Parameters
    ----------
    outputs : ndarray of shape (n, 1) or (n,) for 2 classes (the sigmoid p), else (n, K)
    n_classes : int

    Returns
    -------
    probs : ndarray of shape (n, K)
        For 2 classes the columns (1 - p, p), so ``argmax`` gives class 0 for p <= 0.5
        (seed 003 §0) and ``max`` gives the confidence max(p, 1 - p).
    """
    out = np.asarray(outputs, dtype=np.float32)
    if n_classes == 2:
        p = out.reshape(len(out), -1)
        if p.shape[1] != 1:
            raise ValueError(f"a binary classifier has one output unit, got shape {out.shape}")
        return np.concatenate([1.0 - p, p], axis=1)
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ValueError(f"outputs must have shape (n, {n_classes}), got {out.shape}")
    return out


def cross_entropy(probs: np.ndarray, labels: np.ndarray, *, eps: float = 1e-7) -> float:
    """Mean -log p(true class), p clipped to [eps, 1] as Keras does; probs (n, K), labels (n,)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, eps, 1.0)).mean())


@dataclass
class ClassifierTrace:
    """N texts recorded through one classifier; shapes in the module docstring."""

    tokens: list[list[str]]
    ids: np.ndarray
    offsets: np.ndarray
    states: dict[int, np.ndarray]
    ep: np.ndarray
    labels: np.ndarray
    classes: list[str]
    model_name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        states = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.states.items())
        return (
            f"ClassifierTrace(model={self.model_name!r}, N={len(self)}, "
            f"steps={int(self.offsets[-1])}, classes={self.classes}, "
            f"states=[{states}], ep{tuple(self.ep.shape)})"
        )

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    @property
    def lengths(self) -> np.ndarray:
        """Real steps per sequence, shape (N,)."""
        return np.diff(self.offsets)

    @property
    def last_step(self) -> np.ndarray:
        """Row of each sequence's last step, shape (N,)."""
        return self.offsets[1:] - 1

    @property
    def pred_class(self) -> np.ndarray:
        """Predicted class at every step, argmax_k ep (binary: 1 iff p > 0.5), shape (S,)."""
        return self.ep.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """max_k ep at every step (binary: max(p, 1 - p)), shape (S,); seed 003 §0."""
        return self.ep.max(axis=1)

    @property
    def final_ep(self) -> np.ndarray:
        """The model's prediction for each sequence (EP at its last step), shape (N, K)."""
        return self.ep[self.last_step]

    @property
    def prediction(self) -> np.ndarray:
        """Predicted class of each sequence, shape (N,)."""
        return self.pred_class[self.last_step]

    @property
    def final_confidence(self) -> np.ndarray:
        """Confidence at each sequence's last step, shape (N,)."""
        return self.confidence[self.last_step]

    @property
    def correct(self) -> np.ndarray:
        """Prediction == label, shape (N,) bool (False where the label is unknown)."""
        return (self.prediction == self.labels) & (self.labels >= 0)

    def per_sequence(self, values: np.ndarray) -> list[np.ndarray]:
        """Split a per-step array (S, ...) into N arrays (L_i, ...) (views, no copy)."""
        return np.split(np.asarray(values), self.offsets[1:-1])

    def sequence_states(self, layer: int = -1) -> list[np.ndarray]:
        """H of `layer` (default: the last recorded) per sequence: N arrays (L_i, U)."""
        key = sorted(self.states)[layer] if layer < 0 else layer
        if key not in self.states:
            raise KeyError(f"layer {layer} was not recorded; recorded: {sorted(self.states)}")
        return self.per_sequence(self.states[key])

    def save(self, path: str | os.PathLike) -> None:
        """Write the trace to a compressed ``.npz`` file."""
        arrays: dict[str, Any] = {f"states__{k}": v for k, v in self.states.items()}
        np.savez_compressed(
            path,
            tokens=np.array(json.dumps(self.tokens)),
            ids=self.ids,
            offsets=self.offsets,
            ep=self.ep,
            labels=self.labels,
            classes=np.array(json.dumps(self.classes)),
            model_name=np.array(self.model_name),
            **arrays,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClassifierTrace:
        """Read a trace written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            states = {int(k.split("__")[1]): z[k] for k in z.files if k.startswith("states__")}
            return cls(
                tokens=json.loads(str(z["tokens"])),
                ids=z["ids"],
                offsets=z["offsets"],
                states=dict(sorted(states.items())),
                ep=z["ep"],
                labels=z["labels"],
                classes=json.loads(str(z["classes"])),
                model_name=str(z["model_name"]),
            )


def _classes_of(bundle: ModelBundle) -> list[str]:
    n_classes = bundle.spec.n_classes
    assert n_classes is not None  # a classifier's spec
    classes = bundle.meta.get("classes")
    if classes and len(classes) == n_classes:
        return list(classes)
    return [str(k) for k in range(n_classes)]


def _labels_or_unknown(
    labels: Sequence[int] | Sequence[str] | np.ndarray, classes: list[str]
) -> np.ndarray:
    """Class indices of ``labels``, int64 (N,); integer -1 stays -1 (unknown)."""
    arr = np.asarray(labels)
    if arr.ndim == 1 and arr.dtype.kind in "iu":
        y = arr.astype(np.int64)
        known = y != -1
        y[known] = _label_indices(y[known], classes)
        return y
    return _label_indices(labels, classes)


def _chunks(sorted_lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """[start, end) runs of length-sorted sequences with count x longest <= budget."""
    out, start, n = [], 0, len(sorted_lengths)
    while start < n:
        cost = np.arange(1, n - start + 1) * sorted_lengths[start:]  # non-decreasing
        end = start + max(1, int(np.searchsorted(cost, budget, side="right")))
        out.append((start, end))
        start = end
    return out


def record_sequences(
    bundle: ModelBundle,
    texts: Sequence[str] | Sequence[Sequence[str]],
    *,
    labels: Sequence[int] | Sequence[str] | np.ndarray | None = None,
    max_len: int | None = None,
    layers: Sequence[int] | None = None,
) -> ClassifierTrace:
    """Record the hidden states and expected predictions of every real step of every text.

    Parameters
    ----------
    bundle : ModelBundle
        A classifier (``bundle.spec.task == "classifier"``).
    texts : sequence of N str (tokenized by the bundle's tokenizer) or N token lists
    labels : sequence of N class indices or class names, optional
        True classes; unknown when omitted (``trace.labels`` is -1), and where an integer
        label is -1 (a user's unlabelled sentence).
    max_len : int, optional
        Tokens kept per text (the first ones); default the model's ``spec.max_len``.
    layers : sequence of int, optional
        Recurrent layers whose h is kept (default: all).

    Returns
    -------
    ClassifierTrace
        ``ep[t] = f(W h_t + b)`` from the last layer's h_t (seed 003 §0); its value at each
        sequence's last step equals the Keras model's output for that text.

    Raises
    ------
    ValueError
        If the model is not a classifier, a text has no tokens, or a label is unknown.
    """
    spec: ModelSpec = bundle.spec
    if spec.task != "classifier":
        raise ValueError(
            f"model {bundle.name!r} is a language model, not a classifier: "
            "record it with lib.run.record.record"
        )
    if max_len is None:
        assert spec.max_len is not None  # a valid classifier spec has one
        max_len = spec.max_len
    max_len = int(max_len)
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if layers is not None and any(not -spec.layers <= k < spec.layers for k in layers):
        raise ValueError(f"layers must be in [0, {spec.layers}), got {list(layers)}")
    keep = sorted(set(range(spec.layers) if layers is None else (k % spec.layers for k in layers)))
    tokens = [
        (bundle.tokenizer.tokenize(t) if isinstance(t, str) else list(t))[:max_len] for t in texts
    ]
    n = len(tokens)
    if n == 0:
        raise ValueError("no texts to record (got 0)")
    lengths = np.fromiter((len(t) for t in tokens), np.int64, count=n)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ValueError(
            f"{empty.size} text(s) have no tokens (indices "
            f"{empty[:10].tolist()}); drop them before recording"
        )
    classes = _classes_of(bundle)
    if labels is None:
        y = np.full(n, -1, np.int64)
    else:
        y = _labels_or_unknown(labels, classes)
        if len(y) != n:
            raise ValueError(f"got {n} texts but {len(y)} labels")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = bundle.vocab.encode(tok for t in tokens for tok in t)
    weights = numpy_weights(bundle)
    S = int(offsets[-1])
    states = {k: np.empty((S, weights.layers[k].units), np.float32) for k in keep}
    logits = np.empty((S, weights.dense_w.shape[1]), np.float32)
    order = np.argsort(lengths, kind="stable")
    for a, b in _chunks(lengths[order], STEP_BUDGET):
        seqs = order[a:b]
        T = int(lengths[seqs].max())
        real = np.arange(T)[None, :] < lengths[seqs][:, None]  # (B, T)
        dest = (offsets[seqs][:, None] + np.arange(T)[None, :])[real]
        x_ids = np.full((len(seqs), T), PAD_ID, np.int32)
        x_ids[real] = ids[dest] + ID_OFFSET
        xp = weights.table0[x_ids.T]  # (T, B, G*U), time-major
        for k, w in enumerate(weights.layers):
            H, _, _ = run(w, xp)  # (B, T, U); steps after a text's end are dropped below
            if k in states:
                states[k][dest] = H[real]
            if k + 1 < len(weights.layers):
                xp = weights.project(k + 1, H.transpose(1, 0, 2))
        logits[dest] = H[real] @ weights.dense_w + weights.dense_b
    if spec.n_classes == 2:
        ep = class_probabilities(_sigmoid(logits), 2)
    else:
        ep = _softmax(logits).astype(np.float32)
    return ClassifierTrace(
        tokens=tokens,
        ids=ids,
        offsets=offsets,
        states=states,
        ep=ep,
        labels=y,
        classes=classes,
        model_name=bundle.name,
        meta={"max_len": max_len},
    )


def held_out(bundle: ModelBundle, data: LabelledData | None = None) -> LabelledData:
    """Rebuild, from its meta.json, the test texts a classifier never saw in training.

    Parameters
    ----------
    bundle : ModelBundle
        A classifier trained by :func:`lib.train.fit.train_classifier`.
    data : LabelledData, optional
        The training dataset (needed for CSV uploads, which are not stored); default
        :func:`lib.data.datasets.load_dataset` of the model's dataset ref.

    Returns
    -------
    LabelledData
        The test split, in dataset order.

    Raises
    ------
    lib.data.datasets.DatasetError
        If the dataset cannot be rebuilt or differs from the one the model was trained on.
    """
    info = bundle.meta.get("dataset", {})
    split = bundle.meta.get("split", {})
    if not info or not split:
        raise DatasetError(f"model {bundle.name!r} has no dataset record in meta.json")
    if data is None:
        data = load_dataset(info["ref"])
    if data.sha1 != info.get("sha1"):
        raise DatasetError(
            f"the dataset {data.name!r} differs from the one model "
            f"{bundle.name!r} was trained on ({info.get('ref')}); its test "
            "split cannot be rebuilt"
        )
    config = TrainConfig(
        test_fraction=split["test_fraction"], val_fraction=split["val_fraction"], seed=split["seed"]
    )
    splits = classifier_splits(data, bundle.spec, config)
    return splits.data.subset(splits.test)


# --- pure functions for the views --------------------------------------------------------------


def jump_distances(states: Sequence[np.ndarray], *, normalize: bool = True) -> list[np.ndarray]:
    """Euclidean distance between consecutive hidden states of each sequence.

    Parameters
    ----------
    states : sequence of N arrays of shape (L_i, U)
        Hidden states in the original (unprojected) space, one array per sequence.
    normalize : bool, default True
        Divide every distance by the maximum over all sequences and steps (seed 003's
        code), so they lie in [0, 1]. If every distance is 0 they stay 0.

    Returns
    -------
    distances : list of N arrays of shape (L_i - 1,)
        ``d_t = ||h_{t+1} - h_t||_2`` for t = 0 .. L_i - 2.

    Notes
    -----
    Seed 003 §0 and §1.8. The normalisation depends on which sequences are passed: the
    same threshold selects different jumps in a different subset (§6).
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in states]
    if not arrays:
        return []
    bad = [i for i, a in enumerate(arrays) if a.ndim != 2 or len(a) == 0]
    if bad:
        raise ValueError(
            f"each state array must be 2-D (L_i >= 1, units); sequences {bad[:5]} "
            f"are not (shapes {[arrays[i].shape for i in bad[:5]]})"
        )
    widths = {a.shape[1] for a in arrays}
    if len(widths) != 1:
        raise ValueError(f"all sequences must have the same number of units, got {sorted(widths)}")
    lengths = np.array([len(a) for a in arrays])
    flat = np.concatenate(arrays, axis=0)
    d = np.linalg.norm(np.diff(flat, axis=0), axis=1)
    within = np.ones(len(d), dtype=bool)
    within[np.cumsum(lengths)[:-1] - 1] = False  # differences across a sequence boundary
    d = d[within]
    if normalize and d.size and d.max() > 0:
        d = d / d.max()
    return np.split(d, np.cumsum(lengths - 1)[:-1])


def threshold_events(
    distances: np.ndarray,
    ep: np.ndarray,
    *,
    dist_threshold: float = 0.40,
    ep_threshold: float = 0.30,
) -> dict[str, np.ndarray]:
    """Find the steps of a sequence where the hidden state jumps, the EP changes or the class flips.

    Parameters
    ----------
    distances : ndarray of shape (L - 1,)
        Normalised jump distances of the sequence (:func:`jump_distances`).
    ep : ndarray of shape (L,) or (L, K)
        Expected predictions: the sigmoid p of a binary model, or per-class values.
    dist_threshold : float, default 0.40
    ep_threshold : float, default 0.30

    Returns
    -------
    events : dict of name -> bool ndarray of shape (L,)
        For the word at step t ("after" = caused by reading it, "before" = at the step
        before the change, seed 003 §1.9):

        - ``jump_after``: d_{t-1} >= dist_threshold; ``jump_before``: d_t >= dist_threshold
        - ``ep_after`` / ``ep_before``: EP change from t-1 to t / from t to t+1 is
          >= ep_threshold; binary |Δp|, multi-class max_k |Δp_k|
        - ``class_after`` / ``class_before``: the predicted class differs between t-1 and t
          / between t and t+1 (binary: class 1 iff p > 0.5; else argmax).

    Notes
    -----
    Thresholds are inclusive, as in seed 003's code (slider defaults 40 and 30 of 100), up
    to :data:`THRESHOLD_TOL` so that a change of 0.7 - 0.2 reaches a threshold of 0.5 despite
    binary floating point.
    For (L, 2) input with columns (1 - p, p), max_k |Δp_k| = |Δp|, so both forms agree.
    """
    d = np.asarray(distances, dtype=np.float64)
    e = np.asarray(ep, dtype=np.float64)
    if e.ndim not in (1, 2) or len(e) == 0:
        raise ValueError(f"ep must have shape (L,) or (L, K) with L >= 1, got {e.shape}")
    L = len(e)
    if d.shape != (L - 1,):
        raise ValueError(
            f"distances must have shape (L - 1,) = ({L - 1},) for {L} steps, got {d.shape}"
        )
    if e.ndim == 1:
        change = np.abs(np.diff(e))
        cls = e > 0.5
    else:
        change = np.abs(np.diff(e, axis=0)).max(axis=1) if L > 1 else np.zeros(0)
        cls = e.argmax(axis=1)
    flips = cls[1:] != cls[:-1]
    out = {}
    for name, step_flags in (
        ("jump", d >= dist_threshold - THRESHOLD_TOL),
        ("ep", change >= ep_threshold - THRESHOLD_TOL),
        ("class", flips),
    ):
        after = np.zeros(L, dtype=bool)
        before = np.zeros(L, dtype=bool)
        after[1:] = step_flags
        before[:-1] = step_flags
        out[f"{name}_after"], out[f"{name}_before"] = after, before
    return out


def confusion(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix: rows = actual class, columns = predicted class (seed 003 §1.3).

    Parameters
    ----------
    true, pred : array-like of int, shape (n,)
        Class indices in [0, n_classes).
    n_classes : int

    Returns
    -------
    counts : ndarray of shape (n_classes, n_classes), int64
        ``counts[i, j]`` = number of items of class i predicted as j; the trace is the number
        correctly classified. Equals ``sklearn.metrics.confusion_matrix(true, pred,
        labels=range(n_classes))``.
    """
    t = np.asarray(true, dtype=np.int64)
    p = np.asarray(pred, dtype=np.int64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(
            f"true and pred must be 1-D of the same length, got shapes {t.shape} and {p.shape}"
        )
    for name, a in (("true", t), ("pred", p)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(
                f"{name} must hold class indices in [0, {n_classes}), got values "
                f"from {a.min()} to {a.max()}"
            )
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


__all__ = [
    "ClassifierTrace",
    "record_sequences",
    "held_out",
    "jump_distances",
    "threshold_events",
    "confusion",
    "class_probabilities",
    "cross_entropy",
]
