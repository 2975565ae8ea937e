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
from streamlit.errors import StreamlitAPIException

from dashboard import state
from dashboard.fmt import code, md


@contextmanager
def routing() -> Iterator[None]:
    """Mark a run of the router (streamlit_app.py) around ``nav.run()``.

    A widget that refuses a value a shared link gave (out of its bounds) does not end the
    page in an exception: that setting goes back to its default
    (:func:`dashboard.state.refused_linked_value`), the page runs again and says so.
    """
    refused = st.session_state.pop(_LINK_REFUSED, None)
    if refused:
        key, note = refused
        state.restore_default(key)
        st.warning(note, icon=":material/link_off:")
    st.session_state["router.active"] = True
    try:
        yield
    except StreamlitAPIException as e:
        key = state.refused_linked_value(e)
        if key is None:
            raise
        st.session_state[_LINK_REFUSED] = (
            key,
            f"The link's value for {code(key)} was outside what that setting takes "
            f"({md(str(e).splitlines()[0][:200])}); its default is used.",
        )
        st.rerun()
    finally:
        st.session_state["router.active"] = False


_LINK_REFUSED = "_routing.link_refused"


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
