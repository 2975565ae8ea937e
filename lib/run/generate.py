"""Sample text from a language model, recording every signal on the way.

The seed text is read as one sequence from a zero state (lib.run.record's exact path); then
each step feeds the sampled token back. Sampling draws from softmax(logits / temperature)
restricted to the ``top_k`` most probable tokens, never ``<unk>``; temperature 0 takes the
most probable token. A fixed ``seed`` gives the same text every time.

``interventions`` (lib.run.edits) edit chosen neurons after every step, of the seed
text and of every sampled token alike, so the sample is what the edited model writes.

Given the server's limits (``lim``), :func:`generate` refuses before any step when the seed
tokens plus ``length`` would pass ``max_tokens_per_analysis`` or ``max_trace_gb``
(:func:`check_generation`); notebooks and the CLI pass none and are not bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from lib import limits
from lib.run.cells import WIDTH, split_signals, step
from lib.run.edits import Intervention, edit_step, layer_edits
from lib.run.record import forward, output_probs, require_language_model
from lib.run.trace import SIGNALS, SignalArray, Trace
from lib.run.weights import numpy_weights

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle
    from lib.model.spec import ModelSpec


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


def sample_next(
    logits: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    banned: int | None = 0,
) -> int:
    """Draw one token id from ``logits`` (shape (vocab,)); see the module docstring."""
    z = np.asarray(logits, dtype=np.float64).copy()
    if banned is not None and len(z) > 1:
        z[banned] = -np.inf
    if temperature <= 0:
        return int(np.argmax(z))
    if top_k is not None and 0 < top_k < len(z):
        cut = np.partition(z, -top_k)[-top_k]
        z[z < cut] = -np.inf
    p = _softmax(z / temperature)
    return int(rng.choice(len(p), p=p))


def generation_bytes(spec: ModelSpec, n_seed: int, length: int) -> int:
    """Memory of the Trace :func:`generate` returns: seed and sample, every signal, float32."""
    return limits.trace_bytes(n_seed + length, spec.units, spec.layers, len(SIGNALS[spec.cell]))


def check_generation(
    spec: ModelSpec, n_seed: int, length: int, lim: limits.Limits | None = None
) -> None:
    """Refuse generating ``length`` tokens after ``n_seed`` seed tokens over the limits.

    The Trace holds seed and sample (float32, every signal of every layer), so their sum is
    checked against ``max_tokens_per_analysis`` and ``max_trace_gb``
    (:func:`lib.limits.check_trace`).

    Raises
    ------
    lib.limits.LimitError
        Over either limit; the message gives the seed's tokens, the length and the limit.
    """
    try:
        limits.check_trace(n_seed + length, spec.units, spec.layers, len(SIGNALS[spec.cell]), lim)
    except limits.LimitError as e:
        raise limits.LimitError(
            f"The seed text ({n_seed:,} tokens) and the {length:,} tokens to generate "
            f"are too many for this server. {e}"
        ) from None


def generate(
    bundle: ModelBundle,
    seed_text: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    *,
    record_top_k: int = 10,
    interventions: Sequence[Intervention] = (),
    lim: limits.Limits | None = None,
) -> Trace:
    """Sample ``length`` tokens after ``seed_text``; return the Trace of both.

    Parameters
    ----------
    bundle : ModelBundle
    seed_text : str
        Must hold at least one token.
    length : int
        Number of tokens to sample (>= 0).
    temperature, top_k, seed : sampling settings (module docstring).
    record_top_k : int
        How many next-token candidates the Trace keeps per step.
    interventions : sequence of Intervention, default ()
        Edits applied after every step (module docstring); the signals recorded are the
        edited ones and ``trace.meta["generate"]["interventions"]`` lists them.
    lim : lib.limits.Limits, optional
        The server's limits: refuse before any step when seed and sample would pass them
        (:func:`check_generation`). None (notebooks, the CLI): no limit.

    Returns
    -------
    Trace
        ``n_seed`` is the number of seed tokens; signals cover seed and sample alike.

    Raises
    ------
    lib.limits.LimitError
        ``lim`` given and seed plus ``length`` over it.
    """
    require_language_model(bundle)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    tokens = bundle.tokenizer.tokenize(seed_text)
    if not tokens:
        raise ValueError("The seed text is empty: give at least one character or word.")
    if lim is not None:
        check_generation(bundle.spec, len(tokens), length, lim)
    weights = numpy_weights(bundle)
    rng = np.random.default_rng(seed)
    seed_ids = bundle.vocab.encode(tokens)
    interventions = tuple(interventions)
    edits = layer_edits(weights, [interventions], start=len(seed_ids))  # resample draws go on
    per_layer, h_last, _ = forward(weights, seed_ids, streams=1, interventions=interventions)
    n_layers = len(weights.layers)
    # the state after the seed, then one step at a time
    hs = [sig["h"][-1:].copy() for sig in per_layer]
    cs = [sig["c"][-1:].copy() if "c" in sig else None for sig in per_layer]
    steps: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(n_layers)]
    sampled: list[int] = list(seed_ids)
    logits = h_last[-1] @ weights.dense_w + weights.dense_b
    with threadpool_limits(1, user_api="blas"):  # see lib.run.cells.run
        for _ in range(length):
            nxt = sample_next(logits, rng, temperature=temperature, top_k=top_k)
            sampled.append(nxt)
            x = np.array([nxt])
            for k, w in enumerate(weights.layers):
                xp = weights.project(k, x)
                h_out = np.empty((1, w.units), np.float32)
                s_out = np.empty((1, WIDTH[w.cell] * w.units), np.float32)
                step(w, xp, hs[k], cs[k], h_out, s_out)
                if not edits[k].empty:
                    edit_step(w, edits[k], h_out, s_out)
                steps[k].append((h_out, s_out))
                hs[k] = h_out
                if cs[k] is not None:
                    cs[k] = s_out[:, 4 * w.units :]
                x = h_out
            logits = hs[-1][0] @ weights.dense_w + weights.dense_b
    meta: dict[str, Any] = {
        "seed_text": seed_text,
        "length": length,
        "temperature": temperature,
        "top_k": top_k,
        "seed": seed,
    }
    if interventions:
        meta["interventions"] = [asdict(iv) for iv in interventions]
    signals: dict[tuple[int, str], SignalArray] = {}
    for k, w in enumerate(weights.layers):
        if steps[k]:
            new_h = np.concatenate([s[0] for s in steps[k]])
            new_s = np.concatenate([s[1] for s in steps[k]])
            new = split_signals(w.cell, w.units, new_h, new_s)
        else:
            new = {}
        for name, v in per_layer[k].items():
            full = np.concatenate([v, new[name]]) if name in new else v
            signals[(k, name)] = np.ascontiguousarray(full, dtype=np.float32)
    ids = np.asarray(sampled, dtype=np.int32)
    h_top = np.asarray(signals[(n_layers - 1, "h")])
    topk_ids, topk_probs, next_prob = output_probs(weights, h_top, ids, top_k=record_top_k)
    return Trace(
        tokens=tokens + bundle.vocab.decode(ids[len(tokens) :]),
        ids=ids,
        signals=signals,
        topk_ids=topk_ids,
        topk_probs=topk_probs,
        next_prob=next_prob,
        model_name=bundle.name,
        n_seed=len(tokens),
        meta={"generate": meta},
    )
