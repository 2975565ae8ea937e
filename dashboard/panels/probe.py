"""The sparse linear probe panel: is a feature carried by one neuron or spread out?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, export
from dashboard.fmt import md
from lib.analysis.features import Feature
from lib.analysis.probe import MAX_STEPS

EXPLAIN = (
    "A logistic regression with an L1 penalty reads the feature from all neurons at once; "
    "as the penalty weakens, neurons enter one by one. If one neuron already scores about "
    "as well as many, the feature lives in that neuron (like the sentiment neuron of "
    "Radford, Jozefowicz & Sutskever 2017); if the curve keeps climbing above the red "
    "line, the feature is spread over several. Scores are balanced accuracy (0.5 = "
    "guessing) on stretches of the text the probe was not fitted on."
)
#: a probe within this of its best held-out accuracy counts as having reached it
NEAR_BEST = 0.01


def probe_panel(key: str, acts: np.ndarray, feature: Feature) -> None:
    """The probe of ``feature`` from the units ``acts`` (T, units), behind a button.

    ``key`` namespaces the panel's widgets and state (e.g. ``"atlas.probe"``). The fit is
    cached (:func:`dashboard.cache.probe_result`): once asked for, the same layer and
    feature show again at once; another layer or feature waits for the button again.
    """
    st.caption(EXPLAIN)
    if feature.kind != "binary":
        st.info("The probe needs a yes/no feature (a regex, a POS tag, inside quotes …).")
        return
    mask = np.asarray(feature.values, dtype=bool)
    digest = cache.probe_digest(acts, mask, MAX_STEPS, 0)
    asked_key = f"{key}.asked"
    if st.button(
        "Run the probe",
        key=f"btn.{key}.run",
        help="Fit the L1 probe at up to 20 penalty strengths (5 to 15 seconds).",
    ):
        st.session_state[asked_key] = digest
    if st.session_state.get(asked_key) != digest:
        n = min(acts.shape[0], MAX_STEPS)
        st.caption(
            f"Fits on {n:,} steps of {acts.shape[1]} neurons (a longer text is sampled), "
            "holding out 30 % of the text in contiguous blocks."
        )
        return
    try:
        result = cache.probe_result(digest, 0.3, MAX_STEPS, 0, acts, mask)
    except ValueError as e:
        st.warning(md(str(e)))
        return
    path, single = result.path, result.best_single
    best = single.iloc[0]
    top = float(path["accuracy"].max())
    reached = path[path["accuracy"] >= top - NEAR_BEST]
    needed = reached.sort_values(["n_neurons", "C"]).iloc[0]
    shown = path.assign(neurons=[", ".join(map(str, n[:12])) for n in path["neurons"]])
    export.chart(
        charts.probe_path(
            shown, best_single=float(best["accuracy"]), best_neuron=int(best["neuron"])
        ),
        width="stretch",
    )
    st.markdown(
        md(
            f"The probe comes within {NEAR_BEST} of its best held-out accuracy "
            f"({top:.2f}) with {int(needed['n_neurons'])} neuron(s); neuron "
            f"{int(best['neuron'])} alone gets {float(best['accuracy']):.2f}."
        )
    )
    st.caption(
        f"{result.n_train:,} training and {result.n_test:,} held-out steps. The best single "
        "neuron is chosen by its accuracy on the training part."
    )
    with st.expander("Details: every penalty strength, the best single neurons"):
        export.table(
            shown,
            hide_index=True,
            column_config={
                "C": st.column_config.NumberColumn(format="%.3g"),
                "accuracy": st.column_config.NumberColumn(format="%.3f"),
            },
        )
        export.table(
            pd.DataFrame(single),
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="%.3f")
                for c in ("accuracy", "train_accuracy", "threshold")
            },
        )
