"""A "press to run" gate: a button in front of a slow computation that remembers what it
was pressed for, so the result stays on screen across reruns until a setting changes."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal

import streamlit as st

#: the session-state keys gates remember their requests under: not settings of a page
#: (they hold cache keys, paths of the server included), so a page's report leaves them out
REQUEST_KEYS: set[str] = set()


def run_gate(
    label: str,
    request: Hashable,
    *,
    key: str,
    remember: str,
    help: str,
    type: Literal["primary", "secondary", "tertiary"] = "secondary",
) -> bool:
    """Draws the button ``label``; True when it was pressed for this very ``request``.

    A press stores ``request`` (every setting the computation reads) under the
    session-state key ``remember``; later runs with the same request pass the gate without
    a press, and a changed setting closes it again until the next press.

    Parameters
    ----------
    label : str
        The button's text, e.g. ``"Run the sweep"``.
    request : hashable
        What the computation depends on: a tuple of the model, text and settings.
    key : str
        The button's widget key, namespaced by page with a ``btn.`` prefix
        (``"btn.abl.run"``; :func:`dashboard.state.keep_alive` never writes those).
    remember : str
        Session-state key holding the request of the last press (``"abl.requested"``).
    help : str
        The button's tooltip (Markdown: escape user text with :func:`dashboard.fmt.md`).
    type : {"primary", "secondary", "tertiary"}, default "secondary"
        The button's look.

    Returns
    -------
    bool
        True when the last press was for ``request``: run the computation and show it.
        False while it is closed: the caller says what a press would do (its own
        ``st.info``, where the test of escaped text can see it).
    """
    if not key.startswith("btn."):
        raise ValueError(f'run_gate needs a button key starting with "btn.", got {key!r}')
    REQUEST_KEYS.add(remember)
    if st.button(label, key=key, type=type, help=help):
        st.session_state[remember] = request
    return bool(st.session_state.get(remember) == request)
