"""Headline findings of the shipped models: the best neuron for a few features, from the atlas.

The start page shows, for each of a few features (string literals in code, quotes in prose,
position in line, bracket depth...), the neuron the Neuron Atlas (:mod:`lib.analysis.atlas`)
gives that role with the largest effect, where in the text it is highest, and how sure we
are. They are computed by :func:`findings_for` with the atlas's own code on the same text
the atlas page opens on (the first :data:`TEXT_CHARS` characters of the model's corpus), and
kept as ``findings.json`` in the model's folder (:func:`write_findings`), so the page shows
them at once; nothing is written by hand.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lib.analysis.atlas import Atlas, atlas
from lib.analysis.contexts import window

if TYPE_CHECKING:
    from lib.model.bundle import ModelBundle

#: characters of the model's corpus the findings are measured on (the atlas page's default)
TEXT_CHARS = 20_000
FILE = "findings.json"
#: the features asked for, by kind of text, in the order shown
WANTED = {
    "code": (
        "inside string literal",
        "inside comment",
        "position in line",
        "bracket depth in code",
        "indentation depth",
    ),
    "prose": ("inside quotes", "position in sentence", "position in word", "capitalised word"),
}
MAX_BYTES = 64_000  # a findings.json larger than this is not read


def best_neurons(found: Atlas, features: tuple[str, ...]) -> list[dict[str, Any]]:
    """For each feature, the neuron with the largest effect among those it is a finding of.

    Parameters
    ----------
    found : Atlas
    features : tuple of str
        Feature names of the bank; those no neuron has as a finding are left out.

    Returns
    -------
    list of dict
        ``feature``, ``neuron``, ``kind``, ``effect``, ``ci_low``, ``ci_high``, ``q``,
        ``direction`` and ``step`` (its highest step in the text), in ``features`` order.
    """
    out = []
    m = found.matches
    for name in features:
        rows = m[(m["feature"] == name) & m["finding"]]
        if rows.empty:
            continue
        row = rows.sort_values("size", ascending=False, kind="stable").iloc[0]
        n = int(row["neuron"])
        high = row["kind"] == "numeric" or row["effect"] > 0.5
        steps = found.contexts.top[n] if high else found.contexts.quantile[n][:1]
        out.append(
            {
                "feature": name,
                "neuron": n,
                "kind": str(row["kind"]),
                "effect": float(row["effect"]),
                "ci_low": float(row["ci_low"]),
                "ci_high": float(row["ci_high"]),
                "q": float(row["q"]),
                "direction": str(row["direction"]),
                "step": int(steps[0]),
            }
        )
    return out


def findings_for(bundle: ModelBundle, text: str) -> dict[str, Any]:
    """Compute the headline findings of ``bundle`` on ``text`` (its corpus's start).

    Returns a JSON-able dict: ``model``, ``fingerprint`` (of the model file they were
    computed on), ``chars``, ``layer``, ``signal`` (c for an LSTM, else h), ``kind`` and
    ``findings`` (:func:`best_neurons`, each with ``start``/``stop``: the characters of its
    context in ``text``).
    """
    from lib.run.record import record

    trace = record(bundle, text)
    layer = bundle.spec.layers - 1
    signal = "c" if bundle.spec.cell == "lstm" else "h"
    found = atlas(trace, layer, signal=signal, level=bundle.spec.level)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in trace.tokens])])
    out = []
    for f in best_neurons(found, WANTED.get(found.kind, ())):
        start, stop = window(len(trace.tokens), f["step"])
        out.append({**f, "start": int(offsets[start]), "stop": int(offsets[stop])})
    return {
        "model": bundle.name,
        "fingerprint": bundle.fingerprint,
        "chars": len(text),
        "layer": layer,
        "signal": signal,
        "kind": found.kind,
        "share_clear": found.share_clear,
        "share_memory": found.share_memory,
        "findings": out,
    }


def write_findings(folder: str | os.PathLike, findings: dict[str, Any]) -> Path:
    """Write ``findings.json`` into a model's folder atomically (a temporary file renamed)."""
    path = Path(folder) / FILE
    tmp = path.with_name(f".{FILE}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(findings, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_findings(folder: str | os.PathLike) -> dict[str, Any] | None:
    """Read the findings kept in a model's folder; None when missing or not valid.

    Too large, not JSON, or wrong types: the start page then leaves the model out; a
    finding with a field of the wrong type is dropped.
    """
    path = Path(folder) / FILE
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        return None
    keys = {"feature": str, "neuron": int, "kind": str, "effect": float, "start": int, "stop": int}
    good = []
    for f in data["findings"][:20]:
        if (
            isinstance(f, dict)
            and all(isinstance(f.get(k), t) for k, t in keys.items())
            and all(isinstance(f.get(k), float) for k in ("ci_low", "ci_high", "q"))
            and 0 <= f["start"] < f["stop"]
            and f["stop"] - f["start"] < 1000
        ):
            good.append(f)
    if not all(isinstance(data.get(k), int) for k in ("layer", "chars")):
        return None
    if data.get("signal") not in ("h", "c") or not isinstance(data.get("model"), str):
        return None
    return {**data, "findings": good}


def sentence(f: dict[str, Any]) -> str:
    """One plain sentence of what the neuron does and how sure we are."""
    if f["kind"] == "binary":
        share = f["effect"] if f["effect"] >= 0.5 else 1 - f["effect"]
        way = "higher" if f["effect"] >= 0.5 else "lower"
        return (
            f"Neuron {f['neuron']} is {way} {_at(f['feature'])}: take a token there and one "
            f"elsewhere, and {share:.0%} of the time it is {way} on the first (AUROC "
            f"{f['effect']:.2f}, 95% interval {f['ci_low']:.2f} to {f['ci_high']:.2f}); "
            f"{_sure(f['q'])}"
        )
    way = "rises" if f["effect"] > 0 else "falls"
    return (
        f"Neuron {f['neuron']} {way} with the {f['feature']} (correlation r = "
        f"{f['effect']:.2f}, 95% interval {f['ci_low']:.2f} to {f['ci_high']:.2f}); "
        f"{_sure(f['q'])}"
    )


def _at(feature: str) -> str:
    return feature if feature.startswith("inside") else f"on a {feature}"


def _sure(q: float) -> str:
    if not math.isfinite(q):
        return "not tested."
    bound = "0.001" if q < 0.001 else f"{q:.3f}"
    return (
        f"sliding the feature along the text does as well less than once in a thousand "
        f"tries, after correcting for every neuron of the layer (q < {bound})."
        if q < 0.001
        else f"the circular-shift test gives q = {bound} over the layer."
    )
