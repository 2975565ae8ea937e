"""The routing guard: every page runs inside the router's st.navigation.

Streamlit still has its older multipage mode, chosen for a new session when a ``pages/``
folder exists (the design card fixes that folder); in that mode a deep link (or AppTest's
rerun) executes a page file alone, without the router's sidebar. The router marks its runs
with :func:`routing`; the first line of every page calls :func:`page_guard`. Each page's
url_path equals its file name, so a deep link resolves in either mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st


@contextmanager
def routing() -> Iterator[None]:
    """Mark a run of the router (streamlit_app.py) around ``nav.run()``."""
    st.session_state["router.active"] = True
    try:
        yield
    finally:
        st.session_state["router.active"] = False


def page_guard() -> None:
    """First line of every page: make sure the page runs inside the router.

    Streamlit still has its older multipage mode, chosen for a new session when a
    ``pages/`` folder exists; in that mode a deep link (or AppTest's rerun) executes the
    page file alone, without the router's sidebar. Turning the mode off and rerunning
    sends the run through the router's st.navigation instead.
    """
    if not st.session_state.get("router.active"):
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
