"""A model's weights as NumPy arrays, laid out for the recorder's batched steps.

:func:`numpy_weights` is what recording, generation and the ablation sweep run on; it is
extracted once per bundle (cached on it, see :meth:`lib.model.bundle.ModelBundle.derived`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.run.buffers import prefaulted_empty
from lib.run.cells import CellWeights, cell_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle
    from lib.model.spec import Cell, ModelSpec


@dataclass
class StackWeights:
    """A language model's weights as NumPy arrays.

    ``table0`` has shape (vocab, G*units): the first layer's input projection of every
    token id (embedding @ kernel + bias), so layer 0's input is a lookup.
    """

    cell: Cell
    layers: list[CellWeights]
    table0: np.ndarray
    dense_w: np.ndarray
    dense_b: np.ndarray

    def project(self, layer: int, x: np.ndarray) -> np.ndarray:
        """Input projection of ``layer`` for ids (layer 0) or previous-layer h (others)."""
        if layer == 0:
            return self.table0[x]
        w = self.layers[layer]
        # one 2-D product (NumPy runs (T, B, d) @ (d, n) as T small products), into memory
        # already mapped (a recording's layer above the first: 300 MB), the bias in place
        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]), dtype=np.float32)
        out = prefaulted_empty((len(flat), w.kernel.shape[1]))
        np.matmul(flat, w.kernel, out=out)
        out += w.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])


class Lookup:
    """Input projections ``table[ids]`` gathered one step at a time.

    Layer 0's table holds every token id's projection; a layer above holds the projection
    of each row of the layer below's h, and ``ids`` index those rows (a segment's warm-up
    reads the rows of the segment before it).

    Behaves like the (T, B, G*units) array for the indexing ``run`` and the segment checks
    use, without materialising it (for 100,000 tokens of a 512-unit LSTM that array is
    0.8 GB, and filling it cost as much as a third of the recording).
    """

    def __init__(self, table: np.ndarray, ids: np.ndarray):
        self.table, self.ids = table, ids
        self.shape: tuple[int, ...] = (*ids.shape, table.shape[1])

    def __getitem__(self, index: Any) -> np.ndarray | Lookup:
        sub = self.ids[index]
        return self.table[sub] if np.ndim(sub) <= 1 else Lookup(self.table, sub)


def stack_weights(model: Any, spec: ModelSpec) -> StackWeights:
    """Extract NumPy weights from a model built by :func:`lib.model.build.build`.

    For a classifier ``table0`` is indexed by the model's input ids (vocabulary id + 1,
    row 0 = padding) and ``dense_w``/``dense_b`` are the output layer's (before its sigmoid
    or softmax).
    """
    emb = np.asarray(model.get_layer("embedding").get_weights()[0], np.float32)
    layers = [cell_weights(model.get_layer(f"recurrent_{k}")) for k in range(spec.layers)]
    table0 = emb @ layers[0].kernel + layers[0].bias
    head = "output" if spec.is_classifier else "logits"
    dense_w, dense_b = (np.asarray(a, np.float32) for a in model.get_layer(head).get_weights())
    return StackWeights(spec.cell, layers, table0, dense_w, dense_b)


def numpy_weights(bundle: ModelBundle) -> StackWeights:
    """Return ``stack_weights`` of ``bundle``'s model, extracted once per version of its weights."""
    return bundle.derived("stack_weights", lambda: stack_weights(bundle.model, bundle.spec))
