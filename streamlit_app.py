"""RNN Lens: router only — page config, navigation, shared sidebar.

Each url_path equals its file's name, so a deep link also resolves in Streamlit's older
pages/-folder mode (see dashboard.routing).
"""

from pathlib import Path

import streamlit as st

from dashboard import narrow, routing, sidebar, state, warmup

st.set_page_config(
    page_title="RNN Lens",
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),  # served locally
    layout="wide",
)
warmup.start()  # heavy imports in the background (once per process), Keras session kept
narrow.collapse_sidebar_when_narrow()
state.keep_alive()
with routing.routing():
    nav = st.navigation(
        [
            st.Page(
                "pages/start.py",
                title="Start here",
                icon=":material/home:",
                url_path="start",
                default=True,
            ),
            st.Page(
                "pages/generate.py",
                title="Generate & Highlight",
                icon=":material/edit_note:",
                url_path="generate",
            ),
            st.Page(
                "pages/train.py", title="Train", icon=":material/model_training:", url_path="train"
            ),
            st.Page(
                "pages/atlas.py",
                title="Neuron Atlas",
                icon=":material/menu_book:",
                url_path="atlas",
            ),
            st.Page(
                "pages/relevance.py",
                title="Neuron Relevance",
                icon=":material/target:",
                url_path="relevance",
            ),
            st.Page(
                "pages/fourier.py",
                title="Fourier",
                icon=":material/graphic_eq:",
                url_path="fourier",
            ),
            st.Page(
                "pages/distributions.py",
                title="Distributions",
                icon=":material/bar_chart:",
                url_path="distributions",
            ),
            st.Page(
                "pages/word_clusters.py",
                title="Word Clusters",
                icon=":material/scatter_plot:",
                url_path="word_clusters",
            ),
            st.Page(
                "pages/hidden_states.py",
                title="Hidden States",
                icon=":material/timeline:",
                url_path="hidden_states",
            ),
            st.Page(
                "pages/memory_chips.py",
                title="Memory Chips",
                icon=":material/memory:",
                url_path="memory_chips",
            ),
            st.Page(
                "pages/pattern_search.py",
                title="Pattern Search",
                icon=":material/search:",
                url_path="pattern_search",
            ),
            st.Page(
                "pages/ablation.py", title="Ablation", icon=":material/block:", url_path="ablation"
            ),
            st.Page(
                "pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"
            ),
        ]
    )
    sidebar.model_files(sidebar.model_picker())
    nav.run()
