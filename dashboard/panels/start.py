"""The start page's findings: the best neuron for a few features of each shipped model.

The findings come from ``findings.json`` in each model's folder, computed by
``python -m lib findings`` with the Neuron Atlas's own code (:mod:`lib.analysis.findings`);
the highlighted text is recorded here, on the same corpus text the atlas page opens on, so
the values shown are the neuron's own.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import cache, export
from dashboard.fmt import md
from dashboard.widgets.highlight import highlighted_rows_html, scale_for
from lib.analysis.findings import TEXT_CHARS, read_findings, sentence
from lib.model import registry
from lib.run.trace import SIGNAL_LABELS, SIGNAL_RANGES

#: the findings shown first: code, then prose (others follow in an expander)
FIRST = ("demo-stdlib-char-lstm", "demo-ref-char-lstm")


def shipped_findings() -> list[dict]:
    """The findings of every model in the registry that has them, FIRST ones first."""
    found = []
    for meta in registry.list_models():
        data = read_findings(registry.model_dir(meta["name"]))
        if data and data["findings"] and data["model"] == meta["name"]:
            found.append(data)
    return sorted(
        found,
        key=lambda d: (
            d["model"] not in FIRST,
            FIRST.index(d["model"]) if d["model"] in FIRST else 0,
            d["model"],
        ),
    )


def _token_span(tokens: list[str], start: int, stop: int) -> tuple[int, int]:
    """Tokens covering characters ``[start, stop)`` of the text they spell."""
    ends = np.cumsum([len(t) for t in tokens])
    first = int(np.searchsorted(ends, start, side="right"))
    last = int(np.searchsorted(ends, stop, side="left")) + 1
    return first, min(last, len(tokens))


def finding_card(data: dict, f: dict, key: str) -> None:
    """One finding: what the neuron does, how sure we are, the text highlighted, two links."""
    name, layer, signal = data["model"], data["layer"], data["signal"]
    st.markdown(
        f"**{md(f['feature'].capitalize())}** · {md(name)}, neuron {md(f['neuron'])} "
        f"({SIGNAL_LABELS[signal]}, layer {md(layer)})"
    )
    said = sentence(f)
    st.write(said)
    try:
        found = cache.bundle(name)
    except registry.RegistryError as e:
        st.warning(md(str(e)))
        return
    export.model_card(name, found.meta)
    corpus, problem = cache.model_corpus_text(found.meta)
    if corpus is None:
        st.caption(f"The model's corpus is not available here ({md(problem)}).")
        return
    trace = cache.recorded_trace(name, corpus[:TEXT_CHARS])
    a, b = _token_span(trace.tokens, f["start"], f["stop"])
    values = np.asarray(trace.signals[(layer, signal)][:, f["neuron"]], dtype=np.float64)
    scale = scale_for(SIGNAL_LABELS[signal], values, signal_range=SIGNAL_RANGES[signal])
    export.highlighted(
        f"{f['feature'].capitalize()}: {name}, neuron {f['neuron']}",
        highlighted_rows_html(
            trace.tokens[a:b],
            [(f"neuron {f['neuron']}", values[a:b])],
            scale,
            start=a,
            value_name=SIGNAL_LABELS[signal],
        ),
        note=f"{said} Shown: {SIGNAL_LABELS[signal]}, layer {layer}, of {name}.",
    )
    c1, c2 = st.columns(2)
    atlas_values = {
        "model": name,
        "atlas.source": "Corpus slice",
        "atlas.start": 0,
        "atlas.slice_len": TEXT_CHARS,
        "atlas.layer": layer,
        "atlas.signal": signal,
        "atlas.neuron": f["neuron"],
    }
    if c1.button(
        "Open its card in the Neuron Atlas",
        key=f"btn.start.atlas.{key}",
        help="Every neuron of this layer with its role, and this one's evidence.",
        on_click=_set,
        args=(atlas_values,),
    ):
        cache.mark_atlas_built(cache.trace_key(trace), layer, signal)
        st.switch_page("pages/atlas.py")
    generate_values = {
        "model": name,
        "pick.layer": layer,
        "pick.signal": signal,
        "pick.neurons": str(f["neuron"]),
        "gen.source": "Corpus slice",
        "gen.start": max(f["start"] - 20, 0),
    }
    if c2.button(
        "See it in Generate & Highlight",
        key=f"btn.start.gen.{key}",
        help="This neuron over the model's corpus at this place.",
        on_click=_set,
        args=(generate_values,),
    ):
        st.switch_page("pages/generate.py")


def _set(values: dict) -> None:
    """Button callback: set the next page's settings before any widget is drawn."""
    for key, value in values.items():
        st.session_state[key] = value
    st.query_params["model"] = values["model"]
