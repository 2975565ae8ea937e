"""The schema of a model's ``meta.json``: what every listing of the registry may trust.

Every page reads meta.json through the registry's listing, so one malformed file must not
crash or stall a page for every user of a shared server. :func:`meta_problem` checks a
parsed meta.json against the fields RNN Lens writes (:data:`FIELDS`, with their types) and
against generic bounds (nesting depth, string length, container size); unknown fields are
kept when they fit those bounds. The file's size is bounded before it is parsed
(``max_meta_kb`` of :mod:`lib.limits`, checked by :func:`lib.model.registry.read_meta`).
"""

from __future__ import annotations

from typing import Any

#: nesting of dicts and lists, beyond which a meta.json is refused (RNN Lens writes 3)
MAX_DEPTH = 8
#: characters of one string value (a sample of generated text is ~200)
MAX_STRING = 20_000
#: items of one list or dict (history has one entry per epoch)
MAX_ITEMS = 20_000

_INT, _STR, _BOOL, _DICT, _LIST = "int", "str", "bool", "object", "list"
_NUM = "number"

#: top-level field -> its type; nested dicts -> their own fields' types
FIELDS: dict[str, Any] = {
    "name": _STR,
    "spec": _DICT,
    "demo": _BOOL,
    "demo_rank": _INT,
    "description": _STR,
    "epochs_done": _INT,
    "epochs_trained": _INT,
    "best_epoch": _INT,
    "history": _LIST,
    "metrics": _DICT,
    "params": _INT,
    "sample": _STR,
    "train_config": _DICT,
    "train_tokens": _INT,
    "val_tokens": _INT,
    "vocab_size": _INT,
    "updated": _STR,
    "corpus": {"name": _STR, "ref": _STR, "sha1": _STR, "source": _STR, "chars": _INT},
    "dataset": {"name": _STR, "ref": _STR, "sha1": _STR, "source": _STR},
    "classes": _LIST,
    "split": _DICT,
    "group": {"name": _STR, "setting": _STR, "index": _INT},
    "experiment": {"name": _STR, "trial": _INT},
    "pretrained": _DICT,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _NUM
    if isinstance(value, str):
        return _STR
    if isinstance(value, dict):
        return _DICT
    if isinstance(value, list):
        return _LIST
    return "null" if value is None else type(value).__name__


def _bounds(value: Any, where: str, depth: int = 0) -> str | None:
    """Depth, string length and container size of ``value``, iteratively bounded."""
    stack = [(value, where, depth)]
    while stack:
        item, at, level = stack.pop()
        if level > MAX_DEPTH:
            return f"{at} is nested over {MAX_DEPTH} levels deep"
        if isinstance(item, str) and len(item) > MAX_STRING:
            return f"{at} is a text of {len(item):,} characters, over {MAX_STRING:,}"
        if isinstance(item, dict | list) and len(item) > MAX_ITEMS:
            return f"{at} holds {len(item):,} items, over {MAX_ITEMS:,}"
        if isinstance(item, dict):
            stack += [(v, f"{at}.{k}", level + 1) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(v, f"{at}[{i}]", level + 1) for i, v in enumerate(item)]
    return None


def _type_problem(value: Any, want: Any, at: str) -> str | None:
    if isinstance(want, dict):
        if not isinstance(value, dict):
            return f"{at} must be an object, got {_kind(value)}"
        for key, sub in want.items():
            if key in value:
                problem = _type_problem(value[key], sub, f"{at}.{key}")
                if problem:
                    return problem
        return None
    got = _kind(value)
    if got != want:
        return f"{at} must be {'an' if want[0] in 'aeiou' else 'a'} {want}, got {got}"
    return None


def meta_problem(meta: Any) -> str | None:
    """Why a parsed meta.json cannot be trusted, or None.

    Parameters
    ----------
    meta : object
        What ``json.loads`` returned for the file.

    Returns
    -------
    str or None
        The first problem found, naming the field, the type or size received and the
        bound: e.g. ``"metrics must be an object, got list"``.

    Examples
    --------
    >>> meta_problem({"name": "m", "spec": {}, "metrics": {"val_bpc": 1.8}}) is None
    True
    >>> meta_problem({"name": "m", "spec": {}, "metrics": [1]})
    'metrics must be an object, got list'
    >>> meta_problem({"name": "m", "spec": {}, "corpus": {"name": 3}})
    'corpus.name must be a str, got int'
    """
    if not isinstance(meta, dict):
        return f"meta.json must hold an object, got {_kind(meta)}"
    if "spec" not in meta:
        return "meta.json has no model spec"
    if not all(isinstance(k, str) for k in meta):
        return "meta.json has a key that is not a string"
    problem = _bounds(meta, "meta.json", 0)
    if problem:
        return problem
    for key, want in FIELDS.items():
        if key in meta:
            problem = _type_problem(meta[key], want, key)
            if problem:
                return problem
    for key, value in meta.get("metrics", {}).items():
        if not (value is None or _kind(value) in (_INT, _NUM)):
            return f"metrics.{key} must be a number, got {_kind(value)}"
    for i, entry in enumerate(meta.get("history", [])):
        if not isinstance(entry, dict):
            return f"history[{i}] must be an object, got {_kind(entry)}"
        for key, value in entry.items():
            if not (value is None or _kind(value) in (_INT, _NUM)):
                return f"history[{i}].{key} must be a number, got {_kind(value)}"
    if not all(isinstance(c, str) for c in meta.get("classes", [])):
        return "classes must be a list of names (str)"
    return None
