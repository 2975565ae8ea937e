"""Start here: real findings of the shipped models, one click from the view that shows them."""

import streamlit as st

from dashboard import export, routing
from dashboard.panels import start

routing.page_guard()
st.title("RNN Lens")
# the report's model cards are the models whose findings are shown (added by each card)
export.report("Start here", "start.")
st.markdown(
    "Small recurrent networks trained on text keep track of things: whether they are inside "
    "a string or a quotation, how deep in brackets, how far along the line. Below are "
    "neurons of the shipped models that do this, found by the app's own methods (the Neuron "
    "Atlas): each with what it does, how sure we are, and the text coloured by it "
    "(red: high, blue: low). Click one to see the evidence."
)
found = start.shipped_findings()
if not found:
    st.info(
        "No model here has findings yet: run `python -m lib findings`, or open the Neuron "
        "Atlas page on a model."
    )
    st.stop()
shown = 0
for data in found[:2]:
    for i, f in enumerate(data["findings"][:3]):
        with st.container(border=True):
            start.finding_card(data, f, key=f"{data['model']}.{i}")
        shown += 1
rest = [(data, f) for data in found[:2] for f in data["findings"][3:]]
rest += [(data, f) for data in found[2:] for f in data["findings"]]
# each further model is loaded and its text recorded: only when asked (an expander would
# run its cards on arrival)
if rest and not st.session_state.get("start.more"):
    st.button(
        f"Show {len(rest)} more findings, other features and models",
        key="btn.start.more",
        on_click=st.session_state.__setitem__,
        args=("start.more", True),
    )
elif rest:
    st.subheader(f"{len(rest)} more findings, other features and models")
    for data, f in rest:
        with st.container(border=True):
            start.finding_card(data, f, key=f"{data['model']}.{f['feature']}")
st.caption(
    "A finding: the neuron's effect (AUROC: how often it is higher on a feature token than "
    "on another; 0.5 means no relation) has a 95% interval that excludes chance and survives "
    "a circular-shift test, measured on what the token being read does not explain. Computed "
    "by `python -m lib findings` with the Neuron Atlas's code."
)
