"""Session state that survives page changes, and settings mirrored in the URL.

Widgets keep their values in ``st.session_state`` under namespaced keys ("gen.length").
Streamlit drops a widget's state when its page is not shown; ``keep_alive`` (called by
the router on every run) re-assigns those keys so they persist; buttons, file uploaders
and chart selections cannot be assigned, so their keys start with "btn.", "upload." or
"event." instead.
``bind`` initialises settings from the query string once and ``publish`` writes them
back, so a shared link opens the same model, page and settings.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import streamlit as st

PERSISTENT_PREFIXES = (
    "gen.",
    "train.",
    "pick.",
    "rel.",
    "fft.",
    "fftrel.",
    "chips.",
    "dist.",
    "map.",
    "hid.",
    "hidlm.",
    "cmp.",
    "abl.",
    "pat.",
    "atlas.",
)
_DEFAULTS: dict[str, Any] = {}


OWNER_COOKIE = "rnn_lens_owner"
_TOKEN = re.compile(r"[0-9a-f]{12}")
_LOOPBACK = re.compile(r"(127\.|::1$|::ffff:127\.|localhost$)")


class Owner(str):
    """A browser's owner id (its cookie token) that also knows the client's address.

    It is the plain token wherever a str is used (job records, comparisons); dashboard.jobs
    reads ``address`` to cap jobs per session by address as well as by cookie, since a
    cleared cookie gives a new token.
    """

    address: str

    def __new__(cls, token: str, address: str = "") -> Owner:
        owner = super().__new__(cls, token)
        owner.address = address
        return owner

    def __reduce__(self):
        return (Owner, (str(self), self.address))


def client_address() -> str:
    """The client's network address; "" when unknown (AppTest) or loopback."""
    try:
        address = st.context.ip_address
    except Exception:  # no request behind this run
        return ""
    if not isinstance(address, str) or _LOOPBACK.match(address):
        return ""  # this machine, or a reverse proxy on it: not one client's address
    return address


def session_id() -> Owner:
    """A random id for this browser (owner of its training jobs), with its address.

    Kept in a cookie, so a page reload or a second tab still owns the jobs it started,
    while a copied link (settings travel in the URL) never carries it. The cookie is set
    by the first page that asks (an invisible script element). The cookie alone is not
    trusted for the job limit: ``Owner.address`` carries the client's address too.
    """
    if "session_id" not in st.session_state:
        token = st.context.cookies.get(OWNER_COOKIE, "")
        if not (isinstance(token, str) and _TOKEN.fullmatch(token)):
            token = uuid.uuid4().hex[:12]
            st.html(
                f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; "
                f"max-age=31536000; SameSite=Strict';</script>",
                unsafe_allow_javascript=True,
            )
        st.session_state["session_id"] = token
    return Owner(str(st.session_state["session_id"]), client_address())


def keep_alive() -> None:
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PERSISTENT_PREFIXES):
            st.session_state[key] = st.session_state[key]


#: where Streamlit's own code lives (its widget functions' frames name the widget's key)
_STREAMLIT = os.path.dirname(st.__file__) + os.sep
#: session-state key of the settings this session took from its link (the query string)
LINKED = "_state.linked"
#: longest number a link may give (a widget's bounds are checked when it is drawn)
_MAX_NUMBER_CHARS = 24


def _number(raw: str, kind: type) -> Any:
    """``kind(raw)`` for a link's number: short, and finite (ValueError otherwise)."""
    if len(raw) > _MAX_NUMBER_CHARS:
        raise ValueError(f"{len(raw)} characters")
    value = kind(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int | float):
        return _number(raw, type(default))
    if isinstance(default, list):
        return [_number(x, int) for x in raw.split(",", 1000) if x.strip()]
    if isinstance(default, tuple):
        return tuple(_number(x, type(d)) if isinstance(d, int | float) else type(d)(x)
                     for d, x in zip(default, raw.split(","), strict=True))  # fmt: skip
    return raw


def refused_linked_value(error: BaseException) -> str | None:
    """Return the key of the setting a link gave that a widget refused, else None.

    A shared link may carry any value, and a widget raises when its value is outside its
    bounds (``number_input``, ``slider``: StreamlitValueAboveMaxError, ...). The widget's
    ``key`` is read from the frames of ``error``'s traceback that run Streamlit's widget
    code; a key the link set (and no longer counts as set by it) is returned, for
    :func:`restore_default` at the start of the next run (a widget's state cannot be
    assigned in the run that drew it).
    """
    linked = st.session_state.get(LINKED)
    if not isinstance(linked, set) or not linked:
        return None
    tb: TracebackType | None = error.__traceback__
    found = None
    while tb is not None:
        frame = tb.tb_frame
        key = frame.f_locals.get("key")
        in_streamlit = frame.f_code.co_filename.startswith(_STREAMLIT)
        if in_streamlit and isinstance(key, str) and key in linked:
            found = key
        tb = tb.tb_next
    if found is None or found not in _DEFAULTS:
        return None
    linked.discard(found)
    return found


def restore_default(key: str) -> None:
    """Set ``key`` back to the default :func:`bind` gave it (before its widget is drawn)."""
    if key in _DEFAULTS:
        st.session_state[key] = _DEFAULTS[key]


def bind(defaults: dict[str, Any], *, valid: Callable[[str, Any], bool] | None = None) -> None:
    """Set each key's value once: from the query string if it parses, else the default."""
    _DEFAULTS.update(defaults)
    for key, default in defaults.items():
        if key in st.session_state:
            continue
        value = default
        raw = st.query_params.get(key)
        if raw is not None:
            try:
                parsed = _parse(raw, default)
                if valid is None or valid(key, parsed):
                    value = parsed
                    st.session_state.setdefault(LINKED, set()).add(key)
            except ValueError:
                pass
        st.session_state[key] = value


def publish(keys: list[str]) -> None:
    """Mirror settings that differ from their defaults into the URL."""
    for key in keys:
        value = st.session_state.get(key)
        if value is None or value == _DEFAULTS.get(key, None if value else ""):
            if key in st.query_params:
                del st.query_params[key]
            continue
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        if st.query_params.get(key) != text:
            st.query_params[key] = text
