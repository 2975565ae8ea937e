"""The Neuron Atlas page's panels: the layer summary, the table of neurons, a neuron's card.

The atlas itself is :func:`lib.analysis.atlas.atlas`, cached in
:func:`dashboard.cache.neuron_atlas`; here it is only shown.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, export
from dashboard.fmt import md
from dashboard.panels.probe import probe_panel
from dashboard.tables import histogram_rows
from dashboard.widgets.highlight import highlighted_rows_html, scale_for
from dashboard.widgets.text_source import TextSource
from lib.analysis.atlas import Atlas
from lib.analysis.contexts import window
from lib.analysis.features import STRUCTURAL
from lib.model.bundle import ModelBundle
from lib.run.trace import SIGNAL_LABELS, SIGNAL_RANGES

#: the share of interpretable LSTM cells Karpathy, Johnson & Fei-Fei (2015) estimated
KARPATHY_SHARE = 0.05
TABLE_KEY = "event.atlas.table"  # a chart/table selection: not a setting (dashboard.state)


def summary(atlas: Atlas) -> None:
    """How many neurons have a clear role, against Karpathy et al.'s estimate, and which."""
    n = len(atlas.table)
    clear = int(atlas.table["role"].sum())
    memory = int(atlas.table["memory"].sum())
    dead = int(atlas.table["dead"].sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Neurons with a clear role",
        f"{clear} of {n}",
        help="A clear role: one feature of the text explains the neuron beyond the token it "
        "reads, with a large effect (AUROC at least 0.6 or at most 0.4, or a large "
        "correlation), an interval that excludes chance, and a circular-shift test it "
        "survives.",
    )
    c2.metric(
        "Roles that need memory",
        f"{memory} ({atlas.share_memory:.0%})",
        help="Inside a string, a comment or quotes, indentation, brackets, position in the "
        "line or sentence: what the network must remember, not only what it reads. "
        "Karpathy, Johnson & Fei-Fei (2015) estimated that about 5% of an LSTM's cells "
        "are interpretable in this way.",
    )
    c3.metric(
        "Driven by the current token",
        f"{atlas.share_token_driven:.0%}",
        help="No role, but the token being read explains at least half of the neuron's variance.",
    )
    c4.metric("Dead (constant)", f"{dead}", help="Neurons that barely move on this text.")
    top = atlas.top_features(5)
    if top:
        st.markdown(
            "Most common roles: "
            + ", ".join(f"**{md(name)}** ({md(count)})" for name, count in top)
        )
        kept = atlas.top_features(5, memory=True)
        if kept:
            st.markdown(
                "Roles that need memory: "
                + ", ".join(f"**{md(name)}** ({md(count)})" for name, count in kept)
            )
    else:
        st.info(
            "No neuron of this layer has a clear role for the features of the bank on this "
            "text. Try a longer text, another layer, or the cell state c."
        )
    if atlas.skipped:
        with st.expander(f"{len(atlas.skipped)} features of the bank could not be used"):
            st.markdown("\n".join(f"- **{md(k)}**: {md(v)}" for k, v in atlas.skipped.items()))


def neuron_table(atlas: Atlas, query: str) -> int | None:
    """The sortable table of neurons (filtered by ``query``); the neuron picked in it."""
    shown = atlas.search(query)
    cols = ["neuron", "label", "period", "spread"]
    cols += [c for c in atlas.table.columns if c.endswith(("_left", "_right"))]
    view = shown[cols].copy()
    view["period"] = view["period"].round(1)
    view["spread"] = view["spread"].round(3)
    event = export.table(
        view,
        hide_index=True,
        width="stretch",
        height=320,
        on_select="rerun",
        selection_mode="single-row",
        key=TABLE_KEY,
        column_config={
            "label": st.column_config.TextColumn("role", width="large"),
            "period": st.column_config.NumberColumn(
                "period", help="Its dominant period in tokens, where one stands out."
            ),
            "spread": st.column_config.NumberColumn(
                "spread", help="The range of its middle 90% of activations."
            ),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows and rows[0] < len(view):
        return int(view.iloc[rows[0]]["neuron"])
    return None


def contexts_html(source: TextSource, atlas: Atlas, neuron: int, steps: list[int]) -> str:
    """One highlighted line per context step: 30 tokens before it, 10 after, coloured by the
    neuron's activation on one scale for all lines."""
    trace = source.trace
    values = np.asarray(trace.signals[(atlas.layer, atlas.signal)][:, neuron], dtype=np.float64)
    scale = scale_for(SIGNAL_LABELS[atlas.signal], values, signal_range=SIGNAL_RANGES[atlas.signal])
    parts = []
    for i, step in enumerate(s for s in steps if s >= 0):
        start, stop = window(len(trace.tokens), step)
        parts.append(
            highlighted_rows_html(
                trace.tokens[start:stop],
                [(f"step {step:,}", values[start:stop])],
                scale,
                start=start,
                value_name=SIGNAL_LABELS[atlas.signal],
                colour_bar=i == 0,
            )
        )
    return "".join(parts)


def _jump(page: str, values: dict) -> None:
    for key, value in values.items():
        st.session_state[key] = value
    st.switch_page(page)


def neuron_card(name: str, bundle: ModelBundle, source: TextSource, atlas: Atlas, n: int) -> None:
    """Everything the atlas knows of neuron ``n``, and where to look further."""
    row = atlas.table.set_index("neuron").loc[n]
    st.subheader(f"Neuron {md(n)}: {md(row['label'])}")
    matches = atlas.matches[atlas.matches["neuron"] == n].drop(columns=["neuron"])
    st.caption(
        "Its best-matching features: effect (AUROC for a yes/no feature, 0.5 = no relation; "
        "correlation r for a numeric one) with a 95% block-bootstrap interval, the "
        "circular-shift p-value and the q-value over the layer."
    )
    export.table(
        matches.round({"effect": 3, "size": 3, "ci_low": 3, "ci_high": 3}),
        hide_index=True,
        width="stretch",
        column_config={
            "p": st.column_config.NumberColumn(format="%.2g"),
            "q": st.column_config.NumberColumn(format="%.2g"),
            "finding": st.column_config.CheckboxColumn(
                help="Large enough, interval excludes chance, survives the shift test."
            ),
        },
    )
    left, right = st.columns([3, 2])
    with left:
        if (atlas.contexts.top[n] < 0).any():
            st.caption("The text is short: fewer than 8 separate high points were found.")
        st.markdown("**Where it is highest** (max-activating contexts)")
        export.highlighted(
            f"Neuron {n}: top contexts",
            contexts_html(source, atlas, n, atlas.contexts.top[n].tolist()),
        )
        st.markdown("**Across its range** (a context at each quantile: 5%, 25%, 50%, 75%, 95%)")
        export.highlighted(
            f"Neuron {n}: contexts across its range",
            contexts_html(source, atlas, n, atlas.contexts.quantile[n].tolist()),
        )
    with right:
        values = source.trace.signals[(atlas.layer, atlas.signal)][:, n]
        export.chart(
            charts.activation_histogram(histogram_rows(values)),
            name=f"Neuron {n}: distribution of its activations",
            width="stretch",
        )
        period = row["period"]
        st.markdown(
            f"Dominant period: **{period:.1f} tokens** (Dahlberg's Fourier view)"
            if not math.isnan(period)
            else "No period stands out in its spectrum."
        )
        gates = sorted({c.rsplit("_", 1)[0] for c in atlas.table.columns if c.endswith("_left")})
        if gates:
            sat = pd.DataFrame(
                {
                    "gate": gates,
                    "below 0.1": [row[f"{g}_left"] for g in gates],
                    "above 0.9": [row[f"{g}_right"] for g in gates],
                }
            )
            st.markdown("Gate saturation (Karpathy et al. 2015): share of steps")
            export.table(sat.round(3), hide_index=True, width="stretch")
        _ablation(name, source, atlas, n, row)
    _links(source, atlas, n, row)
    if row["role"] and row["kind"] == "binary":
        with st.expander(f"Is “{md(row['feature'])}” in this one neuron, or spread over many?"):
            bank = cache.feature_bank_for(source.key, bundle.spec.level, list(source.trace.tokens))
            feature = next((f for f in bank.features if f.name == row["feature"]), None)
            if feature is not None:
                acts = source.trace.signals[(atlas.layer, atlas.signal)]
                probe_panel(f"atlas.probe.{atlas.layer}.{atlas.signal}", acts, feature)


def _ablation(name: str, source: TextSource, atlas: Atlas, n: int, row: pd.Series) -> None:
    """The cost of replacing the neuron by its mean, where its feature is (on request)."""
    if not row["role"] or row["kind"] != "binary" or atlas.signal not in ("h", "c"):
        return
    if not st.button(
        "Measure its ablation cost",
        key=f"btn.atlas.ablate.{n}",
        help="Replace this neuron by its mean activation (mean ablation) on the first 3,000 "
        "tokens and measure how much worse the model predicts the tokens of its feature.",
    ):
        return
    out = cache.atlas_ablation(
        name, source.key, atlas.layer, atlas.signal, n, row["feature"], source.trace
    )
    if out is None:
        st.warning("Its feature does not occur in the first 3,000 tokens.")
        return
    st.metric(
        f"Loss change on “{md(row['feature'])}”",
        f"{out['delta_loss_feature']:+.3f} nats",
        help=f"Over every token: {out['delta_loss']:+.4f} nats per token.",
    )


def _links(source: TextSource, atlas: Atlas, n: int, row: pd.Series) -> None:
    top = int(atlas.contexts.top[n][0])
    c1, c2, c3 = st.columns(3)
    if c1.button("Open in Generate & Highlight", key=f"btn.atlas.gen.{n}"):
        values = {
            "pick.layer": atlas.layer,
            "pick.signal": atlas.signal,
            "pick.neurons": str(n),
        }
        offset = source.corpus_offset(max(top - 30, 0))
        if offset is not None:
            values |= {"gen.source": "Corpus slice", "gen.start": offset}
        _jump("pages/generate.py", values)
    if c2.button(
        "Ablation", key=f"btn.atlas.abl.{n}", help="Switch it off with others on its feature."
    ):
        values: dict = {"abl.layer": atlas.layer, "abl.signal": atlas.signal, "abl.neuron": n}
        if row["feature"] in STRUCTURAL:
            values |= {"abl.fkind": "Structure", "abl.structural": row["feature"]}
        _jump("pages/ablation.py", values)
    if c3.button(
        "Pattern Search",
        key=f"btn.atlas.pat.{n}",
        help="Which neurons are on together with it around its highest context.",
    ):
        values = {
            "pat.layer": atlas.layer,
            "pat.signal": atlas.signal,
            "pat.span_start": max(top - 3, 0),
            "pat.span_len": 6,
        }
        _jump("pages/pattern_search.py", values | _same_text("pat", source))


def _same_text(prefix: str, source: TextSource) -> dict:
    """Widget values that make page ``prefix`` analyse the same corpus slice."""
    if source.corpus_offset(0) is None:
        return {}
    start, stop = source.span
    return {
        f"{prefix}.source": "Corpus slice",
        f"{prefix}.start": start,
        f"{prefix}.slice_len": stop - start,
    }
