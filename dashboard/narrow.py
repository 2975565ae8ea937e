"""Narrow windows: fold the sidebar away when the window is too narrow to spare it.

Streamlit's ``initial_sidebar_state="auto"`` folds the sidebar only at 768 px and below
(its ``md`` breakpoint), so at 800 px the 300 px sidebar leaves the page 450 px. The router
calls :func:`collapse_sidebar_when_narrow` once per run; it adds a script (no visible
element) that folds the sidebar once per browser tab when the window is at most
``max_width`` pixels wide. The user can open it again with its arrow, and it stays open.
"""

from __future__ import annotations

import streamlit as st

#: a window at most this wide starts with the sidebar folded away
NARROW_PX = 1024

_SCRIPT = """<script>
(() => {
  const flag = "rnnlens.sidebar.folded";
  if (window.innerWidth > %(max_width)d || sessionStorage.getItem(flag)) return;
  // wait until Streamlit has laid the sidebar out open, then fold it as a click would
  // (Streamlit keeps that choice itself); give up after 10 s
  const fold = (tries) => {
    const side = document.querySelector("[data-testid=stSidebar]");
    const button = document.querySelector("[data-testid=stSidebarCollapseButton] button");
    if (side && button && side.getAttribute("data-collapsed") === "false") {
      sessionStorage.setItem(flag, "1");
      button.click();
    } else if (tries > 0) {
      setTimeout(() => fold(tries - 1), 100);
    }
  };
  setTimeout(() => fold(100), 200);
})();
</script>"""


def collapse_sidebar_when_narrow(max_width: int = NARROW_PX) -> None:
    """Fold the sidebar away once per browser tab when the window is at most ``max_width``
    pixels wide (Streamlit's own "auto" folds it only at 768 px and below).

    Parameters
    ----------
    max_width : int
        Widest window, in CSS pixels, that starts with the sidebar folded; 320 to 4096.
    """
    if not 320 <= max_width <= 4096:
        raise ValueError(f"max_width is a window width from 320 to 4096 px, got {max_width}")
    st.sidebar.html(_SCRIPT % {"max_width": max_width}, unsafe_allow_javascript=True)
