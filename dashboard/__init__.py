"""Streamlit glue for RNN Lens: cached loaders, session state, widgets, jobs, charts."""
