"""Saliency: which input tokens an output depended on, by gradients on the input embeddings.

For a model output F (below) and the input embeddings x (T, E) of a text, each token t gets
one number, the sum over its E embedding components of their attributions:

- **gradient x input** (Simonyan, Vedaldi & Zisserman 2014 for the gradient; Shrikumar,
  Greenside, Shcherbina & Kundaje 2016 for multiplying it by the input):
  ``a_t = sum_e x_te * dF/dx_te (x)``.
- **integrated gradients** (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep
  Networks"): ``a_t = sum_e (x_te - x'_te) * integral_0^1 dF/dx_te (x' + s (x - x')) ds``
  from a baseline x' (default all zeros: "no input"). IG is *complete*:
  ``sum_t a_t = F(x) - F(x')``, up to the error of the quadrature of the integral, which
  :class:`Saliency` reports (absolute and relative).

The quadrature (``rule``): the points s of one round are run through the network in one
batched call (chunks of :data:`STEP_BUDGET` rows x tokens). ``"trapezoid"``: ``steps``
equal intervals. ``"gauss_legendre"``: ``steps`` Gauss-Legendre nodes (best for a smooth
path). ``"adaptive"`` (default): the trapezoid rule on ``steps`` intervals, then, while the
completeness error is over ``tolerance`` (1 % of |F(x) - F(x')|), the intervals that
make up 90 % of the error are halved, up to ``max_steps`` intervals (at most
:data:`MAX_STEPS` = 512). Each interval [s0, s1] has its own completeness error
``F(s1) - F(s0) - (s1 - s0) (F'(s0) + F'(s1)) / 2`` (F' the path derivative
``sum_te (x - x')_te dF/dx_te``), and these add up to the total's error, so the points go
where the path is rough: a recurrent network's output along the path from zero can jump
sharply where a gate saturates, which equal steps miss (on the demo character LSTM 512
equal steps could stay 4 % off where 150 to 500 adaptive ones were within 1 %).

Long texts (``window``): from the all-zero input, a trained LSTM runs on nothing for the
whole text, a regime it never saw, where its gradients can grow exponentially with the
distance (on the demo character LSTM, 1e11 at 400 characters from zero), so no quadrature
can follow the path and completeness fails. ``window=W`` attributes only the W tokens up to
the output and keeps the earlier ones at their real embeddings, which keeps the path
inside the network's usual states.

The output F (``quantity``):

- a language model: the **probability** (default), log-probability or logit of ``target``
  (a token, default the text's actual next token, or the model's top prediction at the
  text's last position) at output ``position`` (default the last). The probability is the
  default because it is what the app shows and its changes are bounded (0 to 1), so the
  completeness check reads in plain units; its log is available for multiplicative effects.
  Tokens after ``position`` cannot change it (the network reads left to right): they get
  exactly 0 and are not run.
- a classifier: the probability (log-probability, logit) of class ``target`` (default the
  predicted class) after the whole text. Binary classifiers have one sigmoid unit z:
  P(class 1) = sigmoid(z), P(class 0) = 1 - sigmoid(z), logits z and -z.

Computed with ``tf.GradientTape`` on the Keras model's own layers: the layers after the
embedding applied to an embedding tensor that is fed in (the padding mask of a
``mask_zero`` embedding is computed from the ids and passed on to every layer that takes
one), the last Dense layer split into its affine part and its activation. The sub-network
is checked against the whole model's output on the text before anything is attributed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lib import limits as limits_mod
from lib.model.spec import ID_OFFSET

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle

Method = Literal["integrated_gradients", "gradient_x_input"]
Quantity = Literal["probability", "log_probability", "logit"]
Rule = Literal["adaptive", "trapezoid", "gauss_legendre"]

METHODS: tuple[Method, ...] = ("integrated_gradients", "gradient_x_input")
QUANTITIES: tuple[Quantity, ...] = ("probability", "log_probability", "logit")
RULES: tuple[Rule, ...] = ("adaptive", "trapezoid", "gauss_legendre")
MIN_STEPS = 8
MAX_STEPS = 512
"""Bounds of the integration steps of integrated gradients."""
TOLERANCE = 0.01
"""Completeness target of integrated gradients: relative error 1 %."""
ATOL = 1e-6
"""Absolute completeness error always accepted (an output that barely changed)."""
STEP_BUDGET = 32_768
"""Batch rows x tokens run through the network per call (bounds the tape's memory)."""
CHECK_TOL = 1e-4
"""Largest |sub-network - model| output difference accepted before attributing."""


class SaliencyError(ValueError):
    """A saliency request that cannot be computed (the message says why)."""


@dataclass(frozen=True)
class Saliency:
    """Per-token attributions of one output of one text.

    Attributes
    ----------
    tokens : list of str, length T
    ids : ndarray (T,)
        Vocabulary ids of the tokens.
    attributions : ndarray (T,) float64
        Sum over the embedding components of each token's attribution.
    method, quantity, rule : str
    target : int
        Token id (language model) or class index (classifier).
    target_label : str
        The target token or class name.
    position : int
        The output position (language model: predicts token ``position + 1``;
        classifier: the last token).
    first : int
        The first token attributed (``window``); tokens before it and after
        ``position`` kept their real embeddings and get exactly 0.
    value, baseline_value : float
        F(x) and F(baseline).
    steps : int
        Intervals (trapezoid, adaptive) or nodes (Gauss-Legendre) integrated gradients
        used; 1 for gradient x input.
    tolerance : float
    """

    tokens: list[str]
    ids: np.ndarray
    attributions: np.ndarray
    method: str
    quantity: str
    target: int
    target_label: str
    position: int
    first: int
    value: float
    baseline_value: float
    steps: int
    rule: str
    tolerance: float = TOLERANCE

    @property
    def total(self) -> float:
        """Sum of the attributions."""
        return float(np.sum(self.attributions))

    @property
    def delta(self) -> float:
        """F(x) - F(baseline): what integrated gradients' attributions must sum to."""
        return self.value - self.baseline_value

    @property
    def abs_error(self) -> float:
        """|sum of attributions - (F(x) - F(baseline))|."""
        return abs(self.total - self.delta)

    @property
    def rel_error(self) -> float:
        """``abs_error / |F(x) - F(baseline)|`` (inf when the output did not change)."""
        return self.abs_error / abs(self.delta) if self.delta else float("inf")

    @property
    def complete(self) -> bool:
        """Whether completeness holds within ``tolerance`` (or :data:`ATOL` absolute)."""
        return self.abs_error <= max(self.tolerance * abs(self.delta), ATOL)

    def completeness_text(self) -> str:
        """One sentence of numbers: the sum, the output's change and how far apart.

        Examples
        --------
        ``"attributions sum to 0.412; the output changed by 0.415 from the baseline
        (0.7% off)"``
        """
        off = f"{self.rel_error:.1%} off" if np.isfinite(self.rel_error) else "no change"
        return (
            f"attributions sum to {self.total:.4g}; the output changed by "
            f"{self.delta:.4g} from the baseline ({off})"
        )


def _rule_points(rule: Rule, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points s in [0, 1] and weights of a quadrature of a function over [0, 1].

    Gauss-Legendre: ``steps`` nodes of numpy.polynomial.legendre.leggauss mapped from
    [-1, 1] (exact for polynomials of degree < 2 steps). Trapezoid: ``steps`` intervals,
    ``steps + 1`` points, weights 1/steps (half at both ends).
    """
    if rule == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    s = np.linspace(0.0, 1.0, steps + 1)
    w = np.full(steps + 1, 1.0 / steps)
    w[[0, -1]] /= 2.0
    return s, w


def _takes(layer: Any, arg: str) -> bool:
    try:
        return arg in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class _Network:
    """The model cut at its embedding: ids -> (x, mask), and x -> pre-activation z."""

    embedding: Any
    body: list[Any]
    head: Any
    activation: str
    _compiled: Any = field(default=None, repr=False)

    def embed(self, ids: np.ndarray) -> tuple[Any, Any]:
        x = self.embedding(ids)
        mask = self.embedding.compute_mask(ids) if self.embedding.mask_zero else None
        return x, mask

    def compiled_logits(self, x: Any, mask: Any) -> np.ndarray:
        """:meth:`logits` run as one TensorFlow graph (Keras' eager RNN loop is slow)."""
        import tensorflow as tf

        if self._compiled is None:
            self._compiled = tf.function(self.logits, reduce_retracing=True)
        return np.asarray(self._compiled(tf.convert_to_tensor(x, tf.float32), mask), np.float64)

    def logits(self, x: Any, mask: Any) -> Any:
        """Return the head's pre-activation z for embeddings x: (B, T, V) or (B, K)."""
        import tensorflow as tf

        for layer in self.body:
            kwargs: dict[str, Any] = {}
            if _takes(layer, "training"):
                kwargs["training"] = False
            if mask is not None and _takes(layer, "mask"):
                kwargs["mask"] = mask
            y = layer(x, **kwargs)
            mask = layer.compute_mask(x, mask) if mask is not None else None
            x = y
        kernel, bias = self.head.kernel, self.head.bias
        z = tf.tensordot(x, tf.convert_to_tensor(kernel), axes=1)
        return z + bias if bias is not None else z


def _network(bundle: ModelBundle) -> _Network:
    import keras

    model = bundle.model
    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if not layers or not isinstance(layers[0], keras.layers.Embedding):
        first = type(layers[0]).__name__ if layers else "nothing"
        raise SaliencyError(
            f"saliency needs a model whose first layer is an Embedding; this one starts "
            f"with {first}"
        )
    head = layers[-1]
    if not isinstance(head, keras.layers.Dense):
        raise SaliencyError(
            f"saliency needs a model whose last layer is a Dense layer; this one ends "
            f"with {type(head).__name__} ({head.name})"
        )
    activation = getattr(head.activation, "__name__", "linear")
    if activation not in ("linear", "sigmoid", "softmax"):
        raise SaliencyError(
            f"the output layer {head.name!r} has activation {activation!r}; saliency "
            "supports linear (logits), sigmoid and softmax"
        )
    for prev, layer in zip(layers, layers[1:], strict=False):
        read = layer.input  # a list when the layer also reads a mask: (x, mask)
        if (read[0] if isinstance(read, list | tuple) else read) is not prev.output:
            raise SaliencyError(
                f"saliency needs a model that is a chain of layers; {layer.name!r} does "
                f"not read the output of {prev.name!r}"
            )
    return _Network(layers[0], layers[1:-1], head, activation)


def _quantity(z: Any, activation: str, lm: bool, quantity: Quantity, target: int) -> Any:
    """F per batch row from the pre-activation z: (B, V) (the chosen position) or (B, K)."""
    import tensorflow as tf

    if activation == "sigmoid":  # one unit: class 1 has logit z, class 0 has -z
        zc = z[:, 0] if target == 1 else -z[:, 0]
        if quantity == "logit":
            return zc
        return tf.math.log_sigmoid(zc) if quantity == "log_probability" else tf.sigmoid(zc)
    if quantity == "logit":
        return z[:, target]
    if lm or activation == "softmax":
        logp = tf.nn.log_softmax(z, axis=-1)[:, target]
        return logp if quantity == "log_probability" else tf.exp(logp)
    raise SaliencyError("a classifier with a linear output layer has no probabilities")


def _gradient_fn(
    net: _Network, lm: bool, quantity: Quantity, target: int, position: int
) -> Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray]]:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def run(x: Any, mask: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = net.logits(x, mask)
            if lm:
                z = z[:, position]
            f = _quantity(z, net.activation, lm, quantity, target)
            # rows are independent: the gradient of their sum is each row's own gradient
            total = tf.reduce_sum(f)
        return f, tape.gradient(total, x)

    def call(x: np.ndarray, mask: Any) -> tuple[np.ndarray, np.ndarray]:
        xt = tf.convert_to_tensor(x, tf.float32)
        m = None if mask is None else tf.repeat(mask, x.shape[0], axis=0)
        f, g = run(xt, m)
        return np.asarray(f, np.float64), np.asarray(g, np.float64)

    return call


def _batched(
    grad: Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray]],
    points: np.ndarray,
    mask: Any,
    direction: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return F (B,) and each token's ``sum_e direction_te dF/dx_te`` (B, T).

    For every row of ``points`` (B, T, E), run in chunks of STEP_BUDGET rows x T.
    """
    rows = max(1, STEP_BUDGET // points.shape[1])
    fs, ps = [], []
    for a in range(0, len(points), rows):
        f, g = grad(points[a : a + rows], mask)
        fs.append(f)
        ps.append((g * direction[None]).sum(axis=2))
    return np.concatenate(fs), np.concatenate(ps)


def _inputs(
    bundle: ModelBundle, text_or_ids: str | Sequence[str] | np.ndarray
) -> tuple[list[str], np.ndarray]:
    if isinstance(text_or_ids, str):
        return bundle.encode(text_or_ids)
    if isinstance(text_or_ids, np.ndarray) and np.issubdtype(text_or_ids.dtype, np.integer):
        ids = np.asarray(text_or_ids, np.int32).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(bundle.vocab)):
            raise SaliencyError(f"ids must be vocabulary ids 0 to {len(bundle.vocab) - 1}")
        return bundle.vocab.decode(ids), ids
    tokens = [str(t) for t in text_or_ids]
    return tokens, bundle.vocab.encode(tokens)


def _classes(bundle: ModelBundle) -> list[str]:
    n = int(bundle.spec.n_classes or 2)
    names = bundle.meta.get("classes") if isinstance(bundle.meta, dict) else None
    if isinstance(names, list) and len(names) == n:
        return [str(c) for c in names]
    return [str(k) for k in range(n)]


def _target_index(target: int | str | None, labels: Sequence[str], what: str) -> int | None:
    if target is None:
        return None
    if isinstance(target, str):
        if target in labels:
            return list(labels).index(target)
        raise SaliencyError(f"{target!r} is not a {what} of this model")
    k = int(target)
    if not 0 <= k < len(labels):
        raise SaliencyError(f"{what} index must be 0 to {len(labels) - 1}, got {k}")
    return k


def saliency(
    bundle: ModelBundle,
    text_or_ids: str | Sequence[str] | np.ndarray,
    *,
    target: int | str | None = None,
    position: int | None = None,
    method: Method = "integrated_gradients",
    quantity: Quantity = "probability",
    steps: int = 64,
    baseline: Literal["zeros"] | np.ndarray = "zeros",
    rule: Rule = "adaptive",
    max_steps: int = MAX_STEPS,
    tolerance: float = TOLERANCE,
    window: int | None = None,
    lim: limits_mod.Limits | None = None,
) -> Saliency:
    """Attribute one output of ``bundle`` on a text to its input tokens (module docstring).

    Parameters
    ----------
    bundle : ModelBundle
        A language model or a classifier.
    text_or_ids : str, list of tokens, or int ndarray of vocabulary ids
        A classifier keeps the first ``spec.max_len`` tokens.
    target : int or str, optional
        Language model: the token (str) or token id whose probability is explained;
        default the text's next token after ``position``, or the model's most probable
        token at the last position. Classifier: the class (name or index); default the
        predicted class.
    position : int, optional
        Language model: the output position (0 to T-1; negative counts from the end);
        default the last. Not for classifiers.
    method : "integrated_gradients" or "gradient_x_input"
    quantity : "probability", "log_probability" or "logit"
    steps : int
        Intervals (trapezoid, adaptive: the first round) or nodes (Gauss-Legendre) of
        integrated gradients, :data:`MIN_STEPS` to ``max_steps``.
    baseline : "zeros" or ndarray (T, E)
        The input embeddings integrated gradients start from.
    rule : "adaptive", "trapezoid" or "gauss_legendre"
        The quadrature (module docstring).
    max_steps : int
        Most intervals the adaptive rule may reach (at most :data:`MAX_STEPS`).
    tolerance : float
        Relative completeness error the adaptive rule stops at (:data:`ATOL` absolute
        always suffices).
    window : int, optional
        Attribute only the last ``window`` tokens up to ``position``; earlier ones keep
        their real embeddings along the path (their baseline is the input itself), so the
        attributions add up to F(x) - F(x with only the window zeroed). Default: all.
    lim : lib.limits.Limits, optional
        The server's limits (default: read afresh).

    Returns
    -------
    Saliency

    Raises
    ------
    lib.limits.LimitError
        Over ``max_tokens_per_analysis`` tokens, before any work.
    SaliencyError
        An unknown target, a bad position or setting, or a model that is not an
        Embedding -> ... -> Dense chain.
    """
    if method not in METHODS:
        raise SaliencyError(f"method must be one of {METHODS}, got {method!r}")
    if quantity not in QUANTITIES:
        raise SaliencyError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    if rule not in RULES:
        raise SaliencyError(f"rule must be one of {RULES}, got {rule!r}")
    if window is not None and int(window) < 1:
        raise SaliencyError(f"window must be at least 1 token, got {window}")
    if not MIN_STEPS <= int(steps) <= int(max_steps) <= MAX_STEPS:
        raise SaliencyError(
            f"steps and max_steps must satisfy {MIN_STEPS} <= steps <= max_steps <= "
            f"{MAX_STEPS}, got steps={steps}, max_steps={max_steps}"
        )
    lim = lim or limits_mod.limits()
    if isinstance(text_or_ids, str) and len(text_or_ids) > lim.max_corpus_chars:
        raise limits_mod.LimitError(
            f"The text is {len(text_or_ids):,} characters, over this server's limit of "
            f"{lim.max_corpus_chars:,} (max_corpus_chars)."
        )
    spec = bundle.spec
    lm = not spec.is_classifier
    tokens, ids = _inputs(bundle, text_or_ids)
    if not lm and spec.max_len:
        tokens, ids = tokens[: spec.max_len], ids[: spec.max_len]
    n = len(ids)
    if n > lim.max_tokens_per_analysis:
        raise limits_mod.LimitError(
            f"The number of tokens to attribute is {n:,}, over this server's limit of "
            f"{lim.max_tokens_per_analysis:,} (max_tokens_per_analysis; an operator can "
            "raise it in rnn_lens.toml)."
        )
    if n == 0:
        raise SaliencyError("the text has no tokens")
    if lm:
        if position is None:
            position = n - 1
        if not -n <= int(position) < n:
            raise SaliencyError(f"position must be 0 to {n - 1}, got {position}")
        position = int(position) % n
    elif position is not None and int(position) % n != n - 1:
        raise SaliencyError("a classifier has one output, after the last token: no position")
    else:
        position = n - 1
    used = position + 1  # later tokens cannot change the output
    net = bundle.derived("saliency_network", lambda: _network(bundle))
    model_ids = (ids[:used] + (0 if lm else ID_OFFSET)).astype(np.int32)[None, :]
    x_t, mask = net.embed(model_ids)
    x = np.asarray(x_t, np.float64)[0]  # (used, E)
    z = net.compiled_logits(x_t, mask)
    z = z[0, position] if lm else z[0]
    _check_against_model(bundle, model_ids, z, net.activation, lm, position)
    labels: Sequence[str] = (
        bundle.vocab.decode(range(len(bundle.vocab))) if lm else _classes(bundle)
    )
    k = _target_index(target, labels, "token" if lm else "class")
    if k is None:
        if lm and position + 1 < n:
            k = int(ids[position + 1])
        elif net.activation == "sigmoid":
            k = int(z[0] > 0)
        else:
            k = int(np.argmax(z))
    if isinstance(baseline, str):
        if baseline != "zeros":
            raise SaliencyError(f'baseline must be "zeros" or an array, got {baseline!r}')
        base = np.zeros_like(x)
    else:
        base = np.asarray(baseline, np.float64)
        if base.ndim != 2 or base.shape[1] != x.shape[1] or base.shape[0] < used:
            raise SaliencyError(f"baseline must have shape ({n}, {x.shape[1]}), got {base.shape}")
        base = base[:used].copy()
    first = 0 if window is None else max(0, used - int(window))
    base[:first] = x[:first]  # outside the window: the baseline is the input itself
    grad = _gradient_fn(net, lm, quantity, k, position)
    attr, value, base_value, used_steps = _attribute(
        grad, x, base, mask, method, int(steps), rule, int(max_steps), tolerance
    )
    out = np.zeros(n, np.float64)
    out[first:used] = attr[first:]  # exactly 0 outside the window and after the position
    return Saliency(
        tokens=list(tokens),
        ids=np.asarray(ids),
        attributions=out,
        method=method,
        quantity=quantity,
        target=k,
        target_label=str(labels[k]),
        position=position,
        first=first,
        value=value,
        baseline_value=base_value,
        steps=used_steps,
        rule=rule if method == "integrated_gradients" else "",
        tolerance=tolerance,
    )


def _attribute(
    grad: Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    base: np.ndarray,
    mask: Any,
    method: Method,
    steps: int,
    rule: Rule,
    max_steps: int,
    tolerance: float,
) -> tuple[np.ndarray, float, float, int]:
    """(attributions (T,), F(x), F(baseline), points used); see :func:`saliency`."""
    if method == "gradient_x_input":
        f, p = _batched(grad, np.stack([x, base]), mask, x)
        return p[0], float(f[0]), float(f[1]), 1
    diff = x - base

    def at(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _batched(grad, base[None] + s[:, None, None] * diff[None], mask, diff)

    if rule == "gauss_legendre":
        s, w = _rule_points(rule, steps)
        f, p = at(np.concatenate([[1.0, 0.0], s]))
        return w @ p[2:], float(f[0]), float(f[1]), steps
    s = np.linspace(0.0, 1.0, steps + 1)
    f, p = at(s)
    while rule == "adaptive":
        d = p.sum(axis=1)  # dF/ds along the path
        # each interval's own completeness error: F(b) - F(a) - trapezoid of dF/ds
        err = np.diff(f) - np.diff(s) * (d[:-1] + d[1:]) / 2.0
        target = max(tolerance * abs(f[-1] - f[0]), ATOL)
        room = max_steps + 1 - len(s)
        if abs(err.sum()) <= target or room <= 0:
            break
        # bisect the worst intervals: those that make up most of the error, within budget
        order = np.argsort(-np.abs(err))
        share = np.cumsum(np.abs(err[order])) / max(np.abs(err).sum(), 1e-300)
        k = min(int(np.searchsorted(share, 0.9)) + 1, room)
        pick = np.sort(order[:k])
        mid = (s[pick] + s[pick + 1]) / 2.0
        fm, pm = at(mid)
        where = np.searchsorted(s, mid)
        s, f, p = np.insert(s, where, mid), np.insert(f, where, fm), np.insert(p, where, pm, 0)
    h = np.diff(s)
    w = np.zeros(len(s))
    w[:-1] += h / 2.0
    w[1:] += h / 2.0
    return w @ p, float(f[-1]), float(f[0]), len(s) - 1


def _check_against_model(
    bundle: ModelBundle,
    model_ids: np.ndarray,
    z: np.ndarray,
    activation: str,
    lm: bool,
    position: int,
) -> None:
    """Refuse a model whose sub-network, run on the text, is not the model's own output."""
    out = np.asarray(bundle.model.predict_on_batch(model_ids), np.float64)
    mine = z
    if activation == "sigmoid":
        mine = 1.0 / (1.0 + np.exp(-z))
    elif activation == "softmax":
        mine = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    theirs = out[0, position] if lm else out[0]
    gap = float(np.max(np.abs(mine - theirs)))
    if not gap <= CHECK_TOL * max(1.0, float(np.max(np.abs(theirs)))):
        raise SaliencyError(
            f"the layers after the embedding, run on their own, differ from the model's "
            f"output by {gap:.3g}; saliency supports Embedding -> recurrent layers -> Dense "
            "chains"
        )
