"""Generated text is held to the same limits as recorded text (issue 18, class 8).

A seed plus the tokens to generate must fit ``max_tokens_per_analysis`` and
``max_trace_gb`` before a step runs, and generated traces are counted with the recordings
in the memory the dashboard's trace caches hold.
"""

import re

import pytest

from lib import limits
from lib.limits import LimitError, Limits
from lib.run import generate as G
from lib.run.trace import SIGNALS
from tests.helpers import TEXT, TINY, app, random_bundle


def _no_work(*args, **kwargs):
    raise AssertionError("the expensive work started before the refusal")


# --- lib.run.generate ------------------------------------------------------------------------


def test_a_seed_over_the_token_limit_is_refused_before_any_step(monkeypatch):
    bundle = random_bundle()
    monkeypatch.setattr(G, "numpy_weights", _no_work)
    with pytest.raises(
        LimitError,
        match=r"seed text \(60 tokens\) and the 10 tokens.*is 70, over this server's limit "
        r"of 50 \(max_tokens_per_analysis",
    ):
        G.generate(bundle, "a" * 60, 10, lim=Limits(max_tokens_per_analysis=50))


def test_seed_plus_length_over_the_token_limit_is_refused(monkeypatch):
    bundle = random_bundle()
    monkeypatch.setattr(G, "numpy_weights", _no_work)
    with pytest.raises(LimitError, match=r"\(40 tokens\) and the 11 tokens.*limit of 50"):
        G.generate(bundle, "a" * 40, 11, lim=Limits(max_tokens_per_analysis=50))


def test_a_generation_over_the_memory_limit_is_refused(monkeypatch):
    bundle = random_bundle(units=12)  # 1 x 12 LSTM, 6 signals: 384 bytes a token
    monkeypatch.setattr(G, "numpy_weights", _no_work)
    lim = Limits(max_trace_gb=1e-6)  # 1,000 bytes: two tokens fit, not four
    with pytest.raises(LimitError, match=r"over this server's limit of 1e-06 GB \(max_trace_gb\)"):
        G.generate(bundle, "ab", 2, lim=lim)


def test_within_the_limits_generation_runs_and_without_them_it_is_unbounded():
    bundle = random_bundle()
    lim = Limits(max_tokens_per_analysis=50)
    assert len(G.generate(bundle, "a" * 40, 10, lim=lim, seed=0)) == 50
    assert len(G.generate(bundle, "a" * 60, 10, seed=0)) == 70  # a notebook: no limit


def test_generation_bytes_is_the_trace_the_limits_check():
    spec = random_bundle(cell="gru", layers=2).spec
    assert G.generation_bytes(spec, 7, 3) == limits.trace_bytes(
        10, spec.units, 2, len(SIGNALS["gru"])
    )


# --- dashboard.cache -------------------------------------------------------------------------


@pytest.fixture
def counted(tiny_registry, monkeypatch):
    """dashboard.cache with empty trace caches, counting every generate and record call."""
    from dashboard import cache

    monkeypatch.setattr(cache, "_HELD", {})
    cache._generated.clear()
    cache._recorded.clear()
    calls = {"generate": 0, "record": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(cache, "generate", counting("generate", cache.generate))
    monkeypatch.setattr(cache, "record", counting("record", cache.record))
    yield cache, calls
    cache._generated.clear()
    cache._recorded.clear()


def test_the_cache_refuses_a_seed_over_the_limit_before_generating(counted, monkeypatch):
    cache, calls = counted
    monkeypatch.setenv("RNN_LENS_MAX_TOKENS_PER_ANALYSIS", "5000")
    with pytest.raises(LimitError, match=r"\(6,000 tokens\).*limit of 5,000 \(max_tokens_per"):
        cache.generated_trace(TINY, "a" * 6000, 10, 1.0, None, 1)
    assert calls["generate"] == 0 and cache._HELD == {}


def test_the_cache_refuses_a_seed_longer_than_the_corpus_limit_before_tokenizing(
    counted, monkeypatch
):
    cache, calls = counted
    monkeypatch.setenv("RNN_LENS_MAX_CORPUS_CHARS", "100")
    monkeypatch.setattr(cache, "_token_count", _no_work)
    with pytest.raises(LimitError, match=r"seed text is 101 characters.*\(max_corpus_chars\)"):
        cache.generated_trace(TINY, "a" * 101, 10, 1.0, None, 1)
    assert calls["generate"] == 0


def test_generated_traces_are_counted_in_the_held_memory(counted):
    cache, calls = counted
    trace = cache.generated_trace(TINY, "The ", 30, 1.0, None, 1)
    spec = cache.bundle(TINY).spec
    assert len(trace) == 34
    want = limits.trace_bytes(34, spec.units, spec.layers, len(SIGNALS[spec.cell]))
    assert list(cache._HELD.values()) == [want]
    assert next(iter(cache._HELD)).startswith("gen:")
    again = cache.generated_trace(TINY, "The ", 30, 1.0, None, 1)
    assert again is trace and calls["generate"] == 1 and len(cache._HELD) == 1


def test_one_accounting_a_generation_over_the_bound_empties_both_caches(counted, monkeypatch):
    cache, calls = counted
    # TINY (1 x 16 LSTM, 6 signals) takes 480 bytes a token: 1,000 tokens are 0.48 MB, and
    # the caches may hold twice 0.0005 GB = 1 MB together
    monkeypatch.setenv("RNN_LENS_MAX_TRACE_GB", "0.0005")
    text = (TEXT * 20)[:1000]
    cache.generated_trace(TINY, "The ", 996, 1.0, None, 1)
    cache.recorded_trace(TINY, text)
    assert len(cache._HELD) == 2  # 0.96 MB
    cache.generated_trace(TINY, "The ", 996, 1.0, None, 2)  # 1.44 MB: empties both first
    assert len(cache._HELD) == 1 and next(iter(cache._HELD)).endswith(":1.0:None:2")
    assert calls == {"generate": 2, "record": 1}
    cache.recorded_trace(TINY, text)
    cache.generated_trace(TINY, "The ", 996, 1.0, None, 1)
    assert calls == {"generate": 3, "record": 2}  # both were dropped, so both ran again
    assert sum(cache._HELD.values()) <= 2 * 0.0005 * 1e9


# --- the Generate page -----------------------------------------------------------------------


@pytest.mark.slow
def test_the_generate_page_shows_the_refusal_without_a_traceback(tiny_registry, monkeypatch):
    # the case: a 6,000-token seed on a server allowing 5,000 tokens
    monkeypatch.setenv("RNN_LENS_MAX_TOKENS_PER_ANALYSIS", "5000")
    at = app()  # the default seed "The " and 400 tokens fit
    assert not at.error
    coloured = len(at.html)  # the generated text, coloured, among the page's HTML
    at.text_input(key="gen.seed_text").set_value("a" * 6000).run()
    assert not at.exception, at.exception
    shown = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
    assert any(
        "The seed text (6,000 tokens) and the 400 tokens to generate" in s
        and "over this server's limit of 5,000 (max_tokens_per_analysis" in s
        for s in shown
    ), shown
    assert len(at.html) == coloured - 1  # nothing was generated or coloured


def test_classifier_traces_are_counted_in_the_held_memory(registry, monkeypatch):
    import shutil

    from dashboard import cache
    from tests.helpers import ROOT

    shutil.copytree(ROOT / "models" / "demo-polarity-lstm", registry / "demo-polarity-lstm")
    monkeypatch.setattr(cache, "_HELD", {})
    cache._classifier_trace.clear()
    trace = cache.classifier_trace("demo-polarity-lstm", 20)
    assert trace is not None
    spec = cache.bundle("demo-polarity-lstm").spec
    ((entry, held),) = cache._HELD.items()
    assert entry.startswith("cls:") and entry.endswith(":20")
    assert held == limits.trace_bytes(int(trace.offsets[-1]), spec.units, spec.layers, 1)
