"""Fourier: which neurons fire periodically, and with what period?"""

import altair as alt
import numpy as np
import streamlit as st

from dashboard import cache, charts, export, routing, state
from dashboard.cache import feature_digest, neuron_table, spectra
from dashboard.fmt import md
from dashboard.panels.tokens import neuron_rows_html
from dashboard.tables import peaks_table, spectrum_df, windows_to_neurons
from dashboard.widgets.features import feature_editor
from dashboard.widgets.pickers import NeuronChoice, layer_signal_picker, register_top_neurons
from dashboard.widgets.text_source import text_source
from lib.analysis.relevance import auto_detect_windows
from lib.analysis.significance import rank_agreement

routing.page_guard()
st.title("Fourier")
with st.expander("What am I looking at?"):
    st.markdown("""
Each neuron's activation over the whole text is a signal with one sample per token. Its
**amplitude spectrum** (single-sided, scaled by 1/N, as Dahlberg) shows how strongly it
oscillates at each frequency: 0.5 cycles per token is a period of 2 tokens (word level:
word, space, word, space…), 0.2 a period of 5. The zero frequency is the neuron's mean,
which is why the search band starts above it.

**The heat map** is Dahlberg's heat surface seen from above: neurons down, frequency across,
brightness = amplitude (binned so the browser stays quick; the band's peaks use every bin).
**Auto-detect** picks the neurons with the highest in-band peak and shows each with ±2
neighbours. At character level periodicity mostly reflects word and line lengths.""")

name, bundle = cache.current_bundle()
export.report("Fourier", "fft", name, bundle.meta)
source = text_source("fft", name, bundle)
if source is None:
    st.stop()
trace = source.trace
layer, signal = layer_signal_picker("fft", bundle.spec)
state.bind(
    {
        "fft.remove_mean": True,
        "fft.hann": False,
        "fft.band": (0.02, 0.5),
        "fft.n_h": 3,
        "fftrel.k": 5,
    }
)
c1, c2, c3 = st.columns([1, 1, 2])
remove_mean = c1.toggle(
    "Remove the mean",
    key="fft.remove_mean",
    help="Subtract each neuron's mean first, so the zero frequency does not outshine the "
    "rest (Dahlberg 2020 kept it; on here by default).",
)
hann = c2.toggle(
    "Hann window",
    key="fft.hann",
    help="Taper the ends to reduce leakage between frequencies (Dahlberg used none).",
)
lo, hi = c3.slider(
    "Band [f_min, f_max]",
    0.0,
    0.5,
    step=0.005,
    key="fft.band",
    help="Frequencies searched for peaks; starting above 0 skips the mean.",
)
if hi <= lo:
    st.warning("The band is empty: make f_max larger than f_min.")
    st.stop()

acts = trace.signals[(layer, signal)]
key = source.key
freqs, amps = spectra(key, layer, signal, remove_mean, "hann" if hann else None, acts)
peaks = peaks_table(freqs, amps, (lo, hi))
n_h = st.slider(
    "Neurons to propose",
    1,
    10,
    key="fft.n_h",
    help="How many neurons with the strongest peak in the band to show below.",
)
top = peaks["neuron"].head(n_h).tolist()
register_top_neurons(name, layer, signal, f"spectral peak in {lo:.2f}-{hi:.2f}", top)

left, right = st.columns([3, 2])
# the heat map shows the band only, on a log colour scale: the zero frequency (the mean)
# and the 1/f rise just above it would otherwise take the whole colour range
in_band = (freqs >= lo) & (freqs <= hi)
heat = spectrum_df(freqs[in_band], amps[in_band])
heat["amplitude"] = np.maximum(heat["amplitude"], 1e-6)
export.chart(
    where=left,
    chart=charts.spectrum_heatmap(heat).encode(
        color=alt.Color(
            "amplitude:Q",
            scale=alt.Scale(scheme="inferno", type="log"),
            title="amplitude (log)",
        )
    ),
    name="Spectra of every neuron in the band",
    width="stretch",
)
left.caption(
    f"Frequencies {lo:.2f}–{hi:.2f} only (the search band), colour on a log scale so the "
    "band's structure shows; the spectra below include every frequency."
)
export.table(
    where=right,
    data=peaks.head(20),
    hide_index=True,
    height=330,
    column_config={
        "peak": st.column_config.NumberColumn(format="%.4f"),
        "frequency": st.column_config.NumberColumn(format="%.4f"),
        "period (tokens)": st.column_config.NumberColumn(format="%.2f"),
    },
)
state.publish(["fft.layer", "fft.signal", "fft.band", "fft.n_h", "fft.remove_mean", "fft.source"])
best = peaks.iloc[0]
st.markdown(
    f"Strongest in-band peak: neuron **{int(best['neuron'])}** at frequency "
    f"**{best['frequency']:.4f}**, a period of **{best['period (tokens)']:.2f}** tokens."
)

state.bind({"fft.lines": top[:3]})
st.session_state["fft.lines"] = [
    n for n in st.session_state["fft.lines"] if n < amps.shape[1]
] or top[:3]
lines = st.multiselect(
    "Spectra of",
    list(range(amps.shape[1])),
    key="fft.lines",
    help="Neurons whose whole spectrum to draw.",
)
if lines:
    export.chart(
        charts.spectrum_lines(spectrum_df(freqs, amps, neurons=lines), band=(lo, hi)),
        name="Whole spectra of the chosen neurons",
        width="stretch",
    )

st.subheader("Detected neurons in the text")
state.bind({"fft.more": False})
more = st.toggle(
    "Show more",
    key="fft.more",
    help="Also show the ±2 neighbours of each detected neuron, over a longer stretch of text.",
)
if more:
    windows = auto_detect_windows(
        peaks.set_index("neuron").sort_index()["peak"].to_numpy(), n_h, half_width=2
    )
    shown, stop = windows_to_neurons(windows), 800
    st.caption(
        "Windows of ±2 neighbours around each detected neuron: "
        + "; ".join(f"{md(w[0])}–{md(w[-1])}" for w in windows)
    )
else:
    shown, stop = top, 300
    st.caption(
        f"The {len(top)} detected neurons over the first {stop:,} tokens; "
        "switch on **Show more** for their neighbours and more text."
    )
export.highlighted(
    "Periodic neurons on the text",
    neuron_rows_html(
        trace,
        NeuronChoice(layer, signal, shown),
        output_aligned=False,
        show_whitespace=True,
        stop=stop,
    ),
)

with st.expander("Agreement with the Relevance page for a feature"):
    feature, _ = feature_editor("fftrel", trace, bundle.spec.level)
    if feature is not None and feature.kind == "binary":
        table = neuron_table(key, layer, signal, feature_digest(feature), acts, feature)
        k = st.slider("k", 1, 20, key="fftrel.k", help="Size of the two top-k sets.")
        agree = rank_agreement(
            table.sort_values("neuron")["R"].to_numpy(),
            peaks.sort_values("neuron")["peak"].to_numpy(),
            k=k,
        )
        st.write(
            f"Top-{md(k)} by relevance R: {md(table['neuron'].head(k).tolist())}; by in-band "
            f"peak: {md(peaks['neuron'].head(k).tolist())}; in both: "
            f"**{md(agree['shared'] or 'none')}** "
            f"({agree['overlap']:.0%} overlap, Dahlberg's convergent validity)."
        )
