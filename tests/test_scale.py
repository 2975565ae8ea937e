"""Long traces and wide models: float16 and memory-mapped Traces, analyses that read them in
blocks, the server limits that refuse a recording up front, a Keras-initialised 1024 x 3
LSTM, the 5 M-character corpus, and what the analysis pages say about the tokens used."""

import re
import tracemalloc

import numpy as np
import pytest

from lib import limits
from lib.analysis import distributions as D
from lib.analysis.fourier import spectrum
from lib.analysis.relevance import relevance
from lib.analysis.response import expected_response
from lib.analysis.significance import auroc, circular_shift_pvalues, correlation
from lib.data.corpora import SHUFFLED_CHARS, builtin_corpus, load_corpus
from lib.data.tokenizer import Vocab
from lib.limits import LimitError, Limits
from lib.model.build import build
from lib.model.bundle import ModelBundle
from lib.model.spec import ModelSpec
from lib.run.record import auto_chunk_tokens, record
from lib.run.trace import Trace, open_trace
from lib.run.weights import numpy_weights
from tests.helpers import DEMO, TEXT, app, random_bundle


def planted_acts(n_steps=6000, n_units=24, seed=0):
    """Smooth random walks, a few units answering a planted feature, one slow sine."""
    rng = np.random.default_rng(seed)
    mask = rng.random(n_steps) < 0.2
    acts = np.tanh(np.cumsum(rng.normal(0, 0.05, (n_steps, n_units)), axis=0))
    acts[:, :3] += 0.5 * mask[:, None]
    acts[:, 3] = np.sin(2 * np.pi * 0.1 * np.arange(n_steps))
    return acts.astype(np.float32), mask


def as_float16_memmap(acts, path):
    np.save(path, acts.astype(np.float16))
    return np.load(path, mmap_mode="r")


# --- float16 and folder traces -------------------------------------------------------------


def test_float16_and_folder_traces_round_trip(tmp_path):
    bundle = random_bundle(cell="lstm", layers=2, units=12)
    full = record(bundle, TEXT)
    half = record(bundle, TEXT, dtype="float16")
    folder = record(bundle, TEXT, dtype="float16", out_dir=tmp_path / "t")
    assert (full.dtype, half.dtype, folder.dtype) == (np.float32, np.float16, np.float16)
    assert (full.storage, half.storage, folder.storage) == ("memory", "memory", "memory-mapped")
    assert isinstance(folder.signals[(1, "c")], np.memmap)
    reopened = open_trace(tmp_path / "t")
    for key, v in full.signals.items():
        assert half.signals[key].dtype == np.float16
        np.testing.assert_array_equal(half.signals[key], folder.signals[key])
        np.testing.assert_array_equal(reopened.signals[key], half.signals[key])
        # float16 keeps 11 significant bits: relative error <= 2**-11
        np.testing.assert_allclose(half.signals[key], v, rtol=2**-11, atol=1e-7)
    assert reopened.tokens == full.tokens and reopened.model_name == full.model_name
    np.testing.assert_array_equal(reopened.ids, full.ids)
    np.testing.assert_array_equal(reopened.topk_ids, full.topk_ids)
    np.testing.assert_array_equal(reopened.next_prob, full.next_prob)
    assert reopened.meta["record"]["dtype"] == "float16"
    # any Trace saves as a folder and as .npz, float16 kept
    again = half.save_folder(tmp_path / "copy")
    half.save(tmp_path / "half.npz")
    for other in (again, open_trace(tmp_path / "half.npz")):
        np.testing.assert_array_equal(other.signals[(0, "h")], half.signals[(0, "h")])
        assert other.dtype == np.float16


def test_a_chunked_recording_equals_one_pass():
    bundle = random_bundle(cell="gru", layers=2, units=10)
    text = (TEXT * 8)[:5000]
    exact = record(bundle, text, streams=1)
    chunked = record(bundle, text, chunk_tokens=700, streams=2, warmup=64)
    assert chunked.meta["record"]["chunks"] == 8
    for key, v in exact.signals.items():
        np.testing.assert_allclose(chunked.signals[key], v, atol=2e-5)
    np.testing.assert_allclose(chunked.next_prob, exact.next_prob, atol=1e-6, equal_nan=True)
    assert np.isnan(chunked.next_prob).sum() == 1  # only after the last token


def test_window_reads_a_slice_as_plain_arrays(tmp_path):
    trace = record(random_bundle(), TEXT, dtype="float16", out_dir=tmp_path / "t")
    window = trace.window(10, 60)
    assert len(window) == 50 and window.storage == "memory"
    assert window.meta["window"] == {"start": 10, "stop": 60, "of": len(trace)}
    np.testing.assert_array_equal(window.signals[(0, "c")], trace.signals[(0, "c")][10:60])
    assert window.tokens == trace.tokens[10:60]
    with pytest.raises(ValueError, match=r"0 <= start < stop <= 684 .*start=5, stop=5"):
        trace.window(5, 5)


# --- analyses of float16 and memory-mapped activations ---------------------------------------


def test_analyses_of_float16_memmaps_equal_float32(tmp_path):
    acts, mask = planted_acts()
    half = as_float16_memmap(acts, tmp_path / "acts.npy")
    exact = half.astype(np.float32)  # the same values: only the arithmetic may differ

    def close(a, b, tol=1e-5):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)

    close(relevance(half, mask), relevance(exact, mask))
    freqs, amps = spectrum(half, window="hann")
    assert amps.dtype == np.float32
    close(amps, spectrum(exact, window="hann")[1])
    assert freqs[np.argmax(amps[1:, 3]) + 1] == pytest.approx(0.1, abs=1e-3)
    close(auroc(half, mask), auroc(exact, mask))
    close(correlation(half, mask), correlation(exact, mask))
    p16 = circular_shift_pvalues(half, mask, n_shifts=300)
    np.testing.assert_array_equal(p16[:3], circular_shift_pvalues(exact, mask, n_shifts=300)[:3])
    close(
        D.kl_from_acts(half, value_range=(-2, 2))["sum"],
        D.kl_from_acts(exact, value_range=(-2, 2))["sum"],
    )
    close(D.mean_abs_per_unit(half), D.mean_abs_per_unit(exact))
    np.testing.assert_array_equal(D.dead_neurons(half), D.dead_neurons(exact))
    tokens = np.where(mask, "x", "y")
    close(expected_response(half, tokens).S, expected_response(exact, tokens).S)
    # and against the float32 activations before rounding, within float16's resolution
    np.testing.assert_allclose(relevance(half, mask), relevance(acts, mask), atol=2e-3)
    assert set(np.argsort(-relevance(half, mask))[:3]) == {0, 1, 2}


@pytest.mark.slow
@pytest.mark.parametrize(
    "analysis",
    [
        lambda a, m: relevance(a, m),
        lambda a, m: correlation(a, m),
        lambda a, m: D.kl_from_acts(a, value_range=(-2, 2)),
        lambda a, m: D.mean_abs_per_unit(a),
        lambda a, m: expected_response(a, m.astype(int)),
    ],
    ids=["relevance", "correlation", "kl", "mean_abs", "expected_response"],
)
def test_analyses_read_float16_memmaps_in_blocks(tmp_path, analysis):
    acts, mask = planted_acts(n_steps=200_000, n_units=64)
    half = as_float16_memmap(acts, tmp_path / "acts.npy")
    float32_bytes = acts.nbytes  # 51 MB: what a whole upcast copy would take
    del acts
    tracemalloc.start()
    try:
        analysis(half, mask)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * float32_bytes, f"peak {peak / 1e6:.1f} MB"


# --- server limits ----------------------------------------------------------------------------


def test_check_trace_refuses_with_the_sizes_and_trace_dtype_falls_back_to_float16():
    lim = Limits(max_tokens_per_analysis=200_000, max_trace_gb=6.0)
    # 1-layer 512-unit LSTM, 100,000 tokens: 1.2 GB as float32
    assert limits.trace_dtype(100_000, 512, 1, 6, lim) == ("float32", "")
    # 3 x 1024 LSTM: 73.8 kB a token as float32; 60,000 tokens = 4.4 GB fits
    assert limits.trace_dtype(60_000, 1024, 3, 6, lim)[0] == "float32"
    dtype, why = limits.trace_dtype(100_000, 1024, 3, 6, lim)
    assert dtype == "float16" and "as float32 the 100,000 tokens would need 7.4 GB" in why
    with pytest.raises(
        LimitError,
        match=r"needs 14\.8 GB as float32 and 7\.4 GB as float16, "
        r"over this server's limit of 6 GB \(max_trace_gb\); "
        r"record at most 162,337 tokens",
    ):
        limits.trace_dtype(200_000, 1024, 3, 6, lim)
    with pytest.raises(LimitError, match=r"needs 7\.4 GB \(as float16\), over"):
        limits.check_trace(200_000, 1024, 3, 6, lim, itemsize=2)
    with pytest.raises(LimitError, match=r"tokens to record is 300,000.*limit of 200,000"):
        limits.trace_dtype(300_000, 8, 1, 2, lim)
    assert limits.max_tokens(1024, 3, 6, lim) == 6_000_000_000 // limits.trace_bytes(
        1, 1024, 3, 6, itemsize=2
    )
    assert limits.max_tokens(8, 1, 2, lim) == 200_000


@pytest.mark.slow
def test_keras_initialised_1024x3_lstm_records_a_chunk_at_a_time(tmp_path):
    spec = ModelSpec(cell="lstm", level="char", layers=3, units=1024, embedding=16, seq_len=20)
    vocab = Vocab.build(spec.tokenizer.tokenize(TEXT))
    bundle = ModelBundle(
        model=build(spec, len(vocab)), vocab=vocab, tokenizer=spec.tokenizer, spec=spec, name="wide"
    )
    weights = numpy_weights(bundle)  # extracted before measuring: the weights are 130 MB
    assert 4096 <= auto_chunk_tokens(weights) < 60_000  # ~2 GB of temporaries a chunk
    text = (TEXT * 7)[:2000]
    float32_bytes = limits.trace_bytes(2000, 1024, 3, 6)  # 147 MB
    tracemalloc.start()
    try:
        trace = record(bundle, text, dtype="float16", out_dir=tmp_path / "wide", chunk_tokens=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert trace.meta["record"]["chunks"] == 4
    assert len(trace.signals) == 18 and trace.signals[(2, "c")].shape == (2000, 1024)
    assert np.isfinite(np.asarray(trace.signals[(2, "h")], np.float32)).all()
    # a chunk's float32 temporaries are in memory, never the whole trace
    assert peak < 0.5 * float32_bytes, f"peak {peak / 1e6:.0f} MB of {float32_bytes / 1e6:.0f}"
    # the app's limits: this model may record 162,337 tokens as float16, not 200,000
    with pytest.raises(
        LimitError,
        match=r"3 x 1024 units with 6 signals needs 14\.8 GB as "
        r"float32 and 7\.4 GB as float16",
    ):
        limits.trace_dtype(200_000, 1024, 3, 6, Limits())
    scores = relevance(trace.signals[(2, "h")], np.arange(2000) % 7 == 0)
    assert scores.shape == (1024,) and np.isfinite(scores).all()


# --- the 5 M-character corpus -------------------------------------------------------------


def test_the_5m_stdlib_corpus_is_exact_shuffled_and_reloadable():
    corpus = builtin_corpus("python-stdlib-5m")
    assert len(corpus.text) == SHUFFLED_CHARS == 5_000_000
    assert corpus.ref == "builtin:python-stdlib-5m"
    small = load_corpus("builtin:python-stdlib-5m@100000")
    assert small.text == corpus.text[:100_000]
    assert not corpus.text.startswith(builtin_corpus("python-stdlib").text[:2000])
    limits.check_corpus(len(corpus.text), Limits())


# --- the app says how many tokens it analysed, and refuses up front ------------------------


def _fourier(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = app()
    at.session_state["fft.slice_len"] = 4000
    at.switch_page("pages/fourier.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_analysis_pages_say_how_many_tokens_and_in_what_precision(registry, monkeypatch):
    at = _fourier(monkeypatch)
    assert any(c.value == "Analysed 4,000 tokens (float32)." for c in at.caption)


@pytest.mark.slow
def test_float16_when_float32_would_exceed_the_limit(registry, monkeypatch):
    # demo model: 1 x 256 LSTM, 6 signals: 4,000 tokens = 25 MB as float32, 12.7 MB float16
    at = _fourier(monkeypatch, RNN_LENS_MAX_TRACE_GB="0.02")
    caption = next(c.value for c in at.caption if c.value.startswith("Analysed"))
    assert caption == (
        "Analysed 4,000 tokens (float16; stored as float16: as float32 the "
        "4,000 tokens would need 0.025 GB, over this server's 0.02 GB "
        "(max_trace_gb))."
    )
    assert at.dataframe  # the analysis ran


@pytest.mark.slow
def test_a_recording_over_the_limit_is_refused_before_it_starts(registry, monkeypatch):
    at = _fourier(monkeypatch, RNN_LENS_MAX_TRACE_GB="0.001")
    # messages are Markdown-escaped (they may quote user text): compare what is shown
    shown = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
    assert any(
        "over this server's limit of 0.001 GB (max_trace_gb); record at most 315 tokens" in s
        for s in shown
    ), shown
    assert not at.dataframe


def test_trace_type_is_unchanged_for_callers():
    trace = record(random_bundle(), "abc")
    assert isinstance(trace, Trace) and trace.signals[(0, "h")].flags.c_contiguous


def test_cached_recordings_stay_under_twice_the_trace_limit(registry, monkeypatch):
    from dashboard import cache

    # demo model (1 x 256 LSTM): 2,000 tokens are 12.5 MB as float32; the cache may hold 40 MB
    monkeypatch.setenv("RNN_LENS_MAX_TRACE_GB", "0.02")
    monkeypatch.setattr(cache, "_HELD", {})
    cache._recorded.clear()
    held = []
    for k in range(4):
        trace = cache.recorded_trace(DEMO, (TEXT * 4)[k : k + 2000])
        assert trace.dtype == np.float32 and len(trace) == 2000
        held.append(len(cache._HELD))
    assert held == [1, 2, 3, 1]
