"""What a page needs: one line saying so, and the shipped model that fits, one click away.

Imports only Streamlit, :mod:`dashboard.fmt` and the registry, so :mod:`dashboard.cache`
(``current_bundle``) can use it without a cycle.
"""

from __future__ import annotations

import streamlit as st

from dashboard.fmt import md
from lib.model.registry import list_models


def _switch(model: str) -> None:
    """Button callback: runs before the rerun, so it may set the sidebar picker's key."""
    st.session_state["model"] = model
    st.query_params["model"] = model


def offer_model(reason: str, model: str, *, key: str) -> bool:
    """Say what the page needs and offer ``model`` with one click.

    Shows ``reason`` in an info box and, when ``model`` is in the registry and is not
    already the sidebar's model, a button "Open with <model>" that makes it the sidebar's
    model (session state and the ``?model=`` URL parameter) and reruns the page.

    Parameters
    ----------
    reason : str
        One plain line: what the page needs and why the current model does not fit.
        Markdown; escape user text in it with :func:`dashboard.fmt.md`.
    model : str
        Name of the shipped model to offer, e.g. ``"demo-polarity-lstm"``.
    key : str
        Widget key of the button, namespaced by page (``"hid.offer"``).

    Returns
    -------
    bool
        True when the button was shown (the model exists and is not the current one).
    """
    if not key or "." not in key:
        raise ValueError(f'offer_model needs a key namespaced by page ("page.name"), got {key!r}')
    st.info(reason)
    if model == st.session_state.get("model"):
        return False
    if model not in {m["name"] for m in list_models()}:
        st.caption(
            f"{md(model)} is not installed here: run `make demo-models` to build the shipped "
            "models."
        )
        return False
    st.button(
        f"Open with {md(model)}",
        key=key,
        type="primary",
        on_click=_switch,
        args=(model,),
        help=f"Switch the sidebar's model to {md(model)} and show this page with it.",
    )
    return True
