"""The sparse linear probe: held-out accuracy as units enter, against the best single unit.

One chart per function: a long-form DataFrame in, an Altair chart out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd


def probe_path(path: pd.DataFrame, *, best_single: float, best_neuron: int) -> alt.LayerChart:
    """Held-out balanced accuracy against the number of units the L1 probe uses.

    ``path``: columns ``n_neurons``, ``accuracy``, ``C`` and ``neurons`` (text). A dashed
    rule marks ``best_single``, the held-out accuracy of unit ``best_neuron`` alone, and
    a grey rule chance (0.5).
    """
    low = min(0.45, float(path["accuracy"].min()) - 0.02, best_single - 0.02)
    y = alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1.0]), title="held-out balanced accuracy")
    line = (
        alt.Chart(path)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("n_neurons:Q", scale=alt.Scale(type="symlog"), title="units in the probe"),
            y=y,
            tooltip=[
                "n_neurons:Q",
                alt.Tooltip("accuracy:Q", format=".3f"),
                alt.Tooltip("C:Q", format=".3g"),
                alt.Tooltip("neurons:N", title="units (largest weight first)"),
            ],
        )
    )
    rules = pd.DataFrame(
        {
            "accuracy": [best_single, 0.5],
            "what": [f"best single unit ({best_neuron})", "chance"],
        }
    )
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeDash=[5, 4])
        .encode(
            y=y,
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=list(rules["what"]), range=["#d62728", "#999999"]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["what:N", alt.Tooltip("accuracy:Q", format=".3f")],
        )
    )
    return (line + rule).properties(height=260)
