"""The recorder against Keras' own outputs and an independent NumPy step-by-step reference."""

import time

import keras
import numpy as np
import pytest

from lib.run.record import record
from tests.helpers import TEXT, random_bundle


def assert_same_top_k(got, want, atol=1e-6):
    """The next-token top-k of two recordings agree but for near-ties.

    Two paths differ in float32 round-off, so tokens whose probabilities are within it
    may rank either way (seen: 2.78885e-4 against 2.78886e-4 at rank 10 of one token in
    30,000), and the k-th may swap with the k+1-th, which the trace does not hold; where
    the ids differ, the probabilities at those ranks must still agree within ``atol``.
    """
    differ = got.topk_ids[:-1] != want.topk_ids[:-1]
    assert differ.mean() < 1e-4, f"{differ.sum()} of {differ.size} top-k ids differ"
    np.testing.assert_allclose(
        got.topk_probs[:-1][differ], want.topk_probs[:-1][differ], atol=atol, rtol=0
    )


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_signals(bundle) -> dict:
    """Step-by-step float64 forward pass written from the Keras equations, gate order as
    Keras stores it (LSTM: i, f, c, o; GRU: z, r, h with reset_after), biases included."""
    model, spec = bundle.model, bundle.spec
    ids = bundle.vocab.encode(bundle.tokenizer.tokenize(TEXT))
    x_seq = model.get_layer("embedding").get_weights()[0][ids].astype(np.float64)
    out = {}
    for k in range(spec.layers):
        W, U, b = (w.astype(np.float64) for w in model.get_layer(f"recurrent_{k}").get_weights())
        n = U.shape[0]
        h = np.zeros(n)
        c = np.zeros(n)
        rows = []
        for x in x_seq:
            if spec.cell == "rnn":
                a = x @ W + h @ U + b
                h = np.tanh(a)
                rows.append({"h": h, "a": a})
            elif spec.cell == "lstm":
                z = x @ W + h @ U + b
                i, f = sigmoid(z[:n]), sigmoid(z[n : 2 * n])
                g, o = np.tanh(z[2 * n : 3 * n]), sigmoid(z[3 * n :])
                c = f * c + i * g
                h = o * np.tanh(c)
                rows.append({"h": h, "c": c, "i": i, "f": f, "g": g, "o": o})
            else:
                xz = x @ W + b[0]
                hz = h @ U + b[1]
                z = sigmoid(xz[:n] + hz[:n])
                r = sigmoid(xz[n : 2 * n] + hz[n : 2 * n])
                nn = np.tanh(xz[2 * n :] + r * hz[2 * n :])
                h = z * h + (1 - z) * nn
                rows.append({"h": h, "z": z, "r": r, "n": nn})
        for name in rows[0]:
            out[(k, name)] = np.array([r[name] for r in rows])
        x_seq = out[(k, "h")]
    return out


CASES = [(cell, layers) for cell in ("rnn", "lstm", "gru") for layers in (1, 2)]


@pytest.mark.parametrize("cell,layers", CASES)
@pytest.mark.parametrize("streams", [1, 7])
def test_every_signal_matches_reference(cell, layers, streams):
    bundle = random_bundle(cell, layers)
    trace = record(bundle, TEXT, streams=streams, warmup=16)
    ref = reference_signals(bundle)
    assert set(trace.signals) == set(ref)
    for key, want in ref.items():
        got = trace.signals[key]
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=str(key))


@pytest.mark.parametrize("cell,layers", CASES)
def test_h_matches_keras_return_sequences(cell, layers):
    bundle = random_bundle(cell, layers, seed=3)
    model = bundle.model
    ids = bundle.vocab.encode(bundle.tokenizer.tokenize(TEXT))
    outputs = [model.get_layer(f"recurrent_{k}").output for k in range(layers)]
    keras_out = keras.Model(model.input, [*outputs, model.output]).predict(ids[None], verbose=0)
    trace = record(bundle, TEXT)
    for k in range(layers):
        np.testing.assert_allclose(trace.signals[(k, "h")], keras_out[k][0], atol=1e-4)
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(keras_out[-1][0]))
    np.testing.assert_allclose(
        trace.next_prob[:-1], probs[np.arange(len(ids) - 1), ids[1:]], atol=1e-5
    )
    np.testing.assert_allclose(trace.topk_probs[:, 0], probs.max(axis=1), atol=1e-5)
    assert (trace.topk_probs[:, :-1] >= trace.topk_probs[:, 1:]).all()
    assert np.isnan(trace.expectancy[0]) and np.isnan(trace.next_prob[-1])
    np.testing.assert_array_equal(trace.expectancy[1:], trace.next_prob[:-1])


def test_long_memory_is_repaired_not_approximated():
    """A forget gate near 1 keeps c far longer than the warm-up: segments must be re-run."""
    bundle = random_bundle("lstm", 1, units=8, scale=0.1)
    layer = bundle.model.get_layer("recurrent_0")
    W, U, b = layer.get_weights()
    b[8:16] = 8.0  # forget gate bias: f ~ 0.9997
    layer.set_weights([W, U, b])
    fast = record(bundle, TEXT, streams=8, warmup=4)
    exact = record(bundle, TEXT, streams=1)
    assert fast.meta["record"]["rerun_segments"] > 0
    for key in exact.signals:
        np.testing.assert_allclose(fast.signals[key], exact.signals[key], atol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_streams_without_warmup_start_from_zero_and_are_repaired(cell):
    """warmup=0 on the fast path: every segment runs from the zero state, then is made exact
    (this crashed before: the run returned no warm-up state to compare against)."""
    bundle = random_bundle(cell, 2)
    fast = record(bundle, TEXT, streams=4, warmup=0)
    exact = record(bundle, TEXT, streams=1)
    assert fast.meta["record"]["streams"] == 4
    for key in exact.signals:
        np.testing.assert_allclose(fast.signals[key], exact.signals[key], atol=1e-4)


def test_trace_save_load_roundtrip(tmp_path):
    bundle = random_bundle("gru", 2)
    trace = record(bundle, TEXT)
    trace.save(tmp_path / "t.npz")
    back = type(trace).load(tmp_path / "t.npz")
    assert back.tokens == trace.tokens
    for key in trace.signals:
        np.testing.assert_array_equal(back.signals[key], trace.signals[key])
    np.testing.assert_array_equal(back.topk_ids, trace.topk_ids)
    n = len(trace.tokens)
    signals = ", ".join(f"{k}.{name}({n}, 12)" for k in (0, 1) for name in ("h", "z", "r", "n"))
    assert repr(back) == f"Trace(model='test-gru', T={n}, n_seed=0, k=10, signals=[{signals}])"


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match="empty"):
        record(random_bundle(), "")


def test_fused_tanh_is_float32_accurate():
    from lib.run.kernels import tanh_array

    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    err = np.abs(tanh_array(x).astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 3e-7


def test_trained_long_memory_reruns_stop_where_they_meet_the_first_run():
    """The shipped trained LSTM keeps "inside a string" and counters far past the warm-up:
    segments are rerun, each only until it meets its warm-started run, then repaired by the
    cell-state correction; the result equals the one-stream path."""
    from lib.data.corpora import builtin_corpus
    from lib.model.registry import RegistryError, load

    try:
        bundle = load("demo-stdlib-char-lstm")
    except RegistryError as e:
        pytest.skip(str(e))
    text = builtin_corpus("python-stdlib").text[:6000]
    assert text.count('"') + text.count("'") > 20  # strings to remember
    fast = record(bundle, text, streams=12, warmup=16)
    exact = record(bundle, text, streams=1)
    stats = fast.meta["record"]
    assert stats["rerun_segments"] > 0 and stats["sequential_segments"] == 0
    # reruns stopped early: fewer steps rerun than whole segments
    assert 0 < stats["rerun_steps"] < stats["rerun_segments"] * stats["segment_steps"] / 12
    assert np.abs(exact.signals[(0, "c")]).max() > 10  # long-lived counters were corrected
    for key in exact.signals:
        np.testing.assert_allclose(fast.signals[key], exact.signals[key], atol=1e-4, rtol=1e-5)
    assert_same_top_k(fast, exact)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_and_run_give_identical_bits(cell):
    """generate and interventions advance one step at a time (cells.step); recording runs
    whole texts (cells.run): both use the same fused kernel."""
    from lib.run.cells import WIDTH, run, step
    from lib.run.weights import numpy_weights

    weights = numpy_weights(random_bundle(cell, 1))
    w = weights.layers[0]
    ids = np.arange(20) % len(weights.table0)
    xp = weights.table0[ids][:, None]
    H, S, _ = run(w, xp)
    h = np.zeros((1, w.units), np.float32)
    c = None
    for t in range(len(ids)):
        h_out = np.empty_like(h)
        s_out = np.empty((1, WIDTH[cell] * w.units), np.float32)
        step(w, xp[t], h, c, h_out, s_out)
        np.testing.assert_array_equal(h_out[0], H[0, t])
        np.testing.assert_array_equal(s_out[0], S[:, 0, t].reshape(-1))
        h, c = h_out, s_out[:, 4 * w.units :] if cell == "lstm" else None


def _fake_shares(monkeypatch, share_of):
    """``advance(start, stop, n)`` that records the steps per n and returns
    ``share_of(n, start)`` as its workers' smallest CPU share."""
    import lib.run.cells as cells

    monkeypatch.setattr(cells, "LAST_VERDICT", {"workers": 1})  # left as it was
    covered = {1: 0, 2: 0}

    def advance(start, stop, n):
        covered[n] += stop - start
        return share_of(n, start)

    return cells, advance, covered


def test_two_workers_run_every_step_while_each_has_a_cpu(monkeypatch):
    cells, advance, covered = _fake_shares(monkeypatch, lambda n, t: 0.97)
    assert cells.advance_while_cpus_are_free(advance, 5000, 2) == 5000 == covered[2]
    assert covered[1] == 0 and cells.LAST_VERDICT["workers"] == 2


def test_workers_waiting_for_cpus_fall_back_to_one_and_retry_ever_more_rarely(monkeypatch):
    """Shares 0.97 while idle, then other processes take the CPUs from step 1500 on."""
    cells, advance, covered = _fake_shares(monkeypatch, lambda n, t: 0.97 if t < 1500 else 0.55)
    n_parallel = cells.advance_while_cpus_are_free(advance, 20_000, 2)
    assert covered[1] + covered[2] == 20_000 and n_parallel == covered[2]
    first = -(-1500 // cells.SHARE_BLOCK) * cells.SHARE_BLOCK  # the first busy block
    # a second busy block confirms it; then one block with two workers per backoff of
    # 256, 1024, 4096, 4096, ... steps
    retries = covered[2] - first - 2 * cells.SHARE_BLOCK
    assert 0 <= retries <= 6 * cells.SHARE_BLOCK
    assert cells.LAST_VERDICT["workers"] == 1


def test_one_short_block_of_two_workers_is_not_taken_for_a_busy_machine(monkeypatch):
    """Idle, but one block's share dips (the first, when the worker thread wakes up)."""
    cells, advance, covered = _fake_shares(monkeypatch, lambda n, t: 0.2 if t == 0 else 0.99)
    assert cells.advance_while_cpus_are_free(advance, 3000, 2) == 3000 == covered[2]


def test_workers_return_when_the_cpus_are_free_again(monkeypatch):
    """Busy between steps 500 and 2000: one worker there, two again after it."""
    cells, advance, covered = _fake_shares(
        monkeypatch, lambda n, t: 0.5 if 500 <= t < 2000 else 0.99
    )
    cells.advance_while_cpus_are_free(advance, 12_000, 2)
    assert covered[2] > 12_000 - 2000 - cells.BACKOFF_MAX
    assert 1500 - cells.SHARE_BLOCK <= covered[1] <= 1500 + cells.BACKOFF_MAX
    assert cells.LAST_VERDICT["workers"] == 2


def test_cpu_share_is_the_time_a_thread_ran_over_the_time_that_passed(monkeypatch):
    from types import SimpleNamespace

    import lib.run.cells as cells

    monkeypatch.setattr(
        cells, "time", SimpleNamespace(perf_counter=lambda: 12.0, thread_time=lambda: 5.5)
    )
    assert cells.cpu_share(10.0, 4.5) == pytest.approx(0.5)
    assert cells.cpu_share(12.0, 4.5) == 1.0  # no time passed
    monkeypatch.undo()
    start = (time.perf_counter(), time.thread_time())
    while time.thread_time() < start[1] + 0.02:  # busy: ran all of it unless preempted
        pass
    assert 0 < cells.cpu_share(*start) <= 1.05
    start = (time.perf_counter(), time.thread_time())
    time.sleep(0.05)  # asleep: ran almost none of it, however loaded the machine
    assert cells.cpu_share(*start) < 0.3


def test_auto_workers_need_cpus_streams_and_work(monkeypatch):
    import lib.run.cells as cells

    monkeypatch.setattr(cells, "usable_cpus", lambda: 2)
    big = cells.WORKERS_MIN_WORK
    assert cells.auto_workers(64, big) == 2
    assert cells.auto_workers(64, big - 1) == 1  # a small product: threads cost more
    assert cells.auto_workers(cells.WORKER_MIN_STREAMS, big) == 1  # too few streams
    monkeypatch.setattr(cells, "usable_cpus", lambda: 1)  # e.g. taskset -c 0
    assert cells.auto_workers(64, big) == 1


def test_run_falls_back_to_one_worker_when_its_workers_wait_for_cpus(monkeypatch):
    """Through run(): two CPUs, a big enough product, but a clock on which every thread
    runs for a third of the time that passes: all but a few blocks with one worker."""
    from types import SimpleNamespace

    import lib.run.cells as cells
    from lib.run.weights import numpy_weights

    real = time.perf_counter
    monkeypatch.setattr(
        cells, "time", SimpleNamespace(perf_counter=real, thread_time=lambda: real() / 3)
    )
    monkeypatch.setattr(cells, "usable_cpus", lambda: 2)
    monkeypatch.setattr(cells, "WORKERS_MIN_WORK", 0)
    monkeypatch.setattr(cells, "LAST_VERDICT", {"workers": 2})
    w = numpy_weights(random_bundle("lstm", 1)).layers[0]
    xp = np.random.default_rng(0).standard_normal((1500, 16, 4 * w.units)).astype(np.float32)
    before = dict(cells.STEPS)
    H, S, _ = cells.run(w, xp)
    assert cells.STEPS["all"] - before["all"] == 1500
    # two blocks, a retry after 256 steps, and the last 28 steps after 1024 more
    assert 0 < cells.STEPS["parallel"] - before["parallel"] <= 4 * cells.SHARE_BLOCK
    assert cells.LAST_VERDICT["workers"] == 1
    H1, S1, _ = cells.run(w, xp, workers=1)
    np.testing.assert_allclose(H, H1, atol=1e-6)
    np.testing.assert_allclose(S, S1, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_two_workers_agree_with_one(cell):
    """Workers split the streams; each stream's outputs agree with one worker's within
    float32 round-off (OpenBLAS rounds a row differently with the rows around it)."""
    from lib.run.cells import run
    from lib.run.weights import numpy_weights

    w = numpy_weights(random_bundle(cell, 1)).layers[0]
    rng = np.random.default_rng(1)
    xp = rng.standard_normal((50, 13, w.recurrent.shape[1])).astype(np.float32)
    reset = rng.integers(0, 10, 13)
    init = rng.standard_normal((13, 2 * w.units if cell == "lstm" else w.units))
    init = init.astype(np.float32)
    one = run(w, xp, reset_until=reset, keep_from=5, init=init, workers=1)
    two = run(w, xp, reset_until=reset, keep_from=5, init=init, workers=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_two_workers_record_the_trained_lstm_as_one(monkeypatch):
    """The shipped trained LSTM over 64 streams, reruns and all: forcing two workers gives
    the trace one worker gives, and both the one-stream path's, within the tolerance of
    the fast path's other tests."""
    import lib.run.cells as cells
    from lib.data.corpora import builtin_corpus
    from lib.model.registry import RegistryError, load

    try:
        bundle = load("demo-stdlib-char-lstm")
    except RegistryError as e:
        pytest.skip(str(e))
    text = builtin_corpus("python-stdlib").text[:30_000]
    traces = {}
    exact = record(bundle, text, streams=1)
    for n in (1, 2):
        monkeypatch.setattr(cells, "FORCE_WORKERS", n)
        before = cells.STEPS["parallel"]
        traces[n] = record(bundle, text, streams=64, warmup=32)
        assert (cells.STEPS["parallel"] > before) == (n == 2)
    one, two = traces[1], traces[2]
    assert one.meta["record"]["rerun_segments"] > 0 and two.meta["record"]["rerun_segments"] > 0
    assert one.meta["record"]["sequential_segments"] == 0
    assert two.meta["record"]["sequential_segments"] == 0
    for key in one.signals:
        for got in (two, exact):
            np.testing.assert_allclose(
                got.signals[key], one.signals[key], atol=1e-4, rtol=1e-5, err_msg=str(key)
            )
    np.testing.assert_allclose(two.topk_probs, one.topk_probs, atol=1e-5)
    assert_same_top_k(two, exact)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_top_k_rows_match_a_stable_sort_of_the_probabilities(k):
    """Planted ties: of equal probabilities the lower id comes first, as a stable sort
    of -p gives; k = V sorts the whole row."""
    from lib.run.kernels import top_k_rows

    rng = np.random.default_rng(5)
    e = rng.integers(1, 6, (50, 7)).astype(np.float32)  # many ties
    e[0] = 2.0  # all equal
    total = e.sum(axis=1)
    p = e / total[:, None]
    following = rng.integers(-1, 7, 50)
    ids = np.empty((50, k), np.int32)
    probs = np.empty((50, k), np.float32)
    nxt = np.full(50, np.nan, np.float32)
    top_k_rows(e, total, following, ids, probs, nxt)
    want = np.argsort(-p, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_array_equal(probs, np.take_along_axis(p, want, axis=1))
    has = following >= 0
    np.testing.assert_array_equal(nxt[has], p[has, following[has]])
    assert np.isnan(nxt[~has]).all()
    assert list(ids[0]) == list(range(k))


def test_lstm_correct_carries_the_cell_state_error_through_the_forget_gates():
    """Against c + delta * cumprod(f) in float64: counters (f near 1, |c| in the hundreds,
    tanh saturated) take the correction for the whole segment; units that forget take it
    until it is below tol / 100, and then leave the loop."""
    from lib.run.kernels import lstm_correct

    rng = np.random.default_rng(3)
    L, u, tol = 400, 8, np.float32(1e-5)
    f = np.empty((L, u), np.float32)
    f[:, :2] = 0.9995  # counters
    f[:, 2:] = rng.uniform(0.3, 0.7, (L, u - 2))
    o = rng.uniform(0.2, 1.0, (L, u)).astype(np.float32)
    c = rng.uniform(-1, 1, (L, u)).astype(np.float32)
    c[:, :2] = np.cumsum(np.ones((L, 2)), axis=0) * [[3.0, -2.0]] + [[40.0, -40.0]]
    h = (o * np.tanh(c)).astype(np.float32)
    delta = np.array([0.4, -0.3] + [3e-6] * (u - 2), np.float32)
    want_c = c + delta * np.cumprod(f.astype(np.float64), axis=0)
    args = (h.copy(), f, o, c.copy(), delta, tol)
    assert lstm_correct(*args, False) <= tol  # the check writes nothing
    np.testing.assert_array_equal(args[0], h)
    np.testing.assert_array_equal(args[3], c)
    assert lstm_correct(*args, True) <= tol
    got_h, got_c = args[0], args[3]
    np.testing.assert_allclose(got_c[:, :2], want_c[:, :2], rtol=2e-7)  # carried throughout
    assert np.abs(got_c[-1, :2] - c[-1, :2]).min() > 0.1  # (still a real correction)
    assert np.abs(got_c[:, 2:] - want_c[:, 2:]).max() <= tol / 100 + 1e-7  # within tol / 100
    np.testing.assert_allclose(got_h, o * np.tanh(want_c), atol=tol)
    # where the correction moves h by more than tol, the check says so
    bad = delta.copy()
    bad[4] = 0.1
    assert lstm_correct(h.copy(), f, o, c.copy(), bad, tol, False) > tol


def test_prefaulted_arrays_are_ordinary_writable_arrays():
    from lib.run.buffers import PREFAULT_MIN_BYTES, prefaulted_empty

    big = prefaulted_empty((3, PREFAULT_MIN_BYTES // 4 // 3 + 1))
    small = prefaulted_empty((4, 5))
    for a in (big, small):
        assert a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
        a[...] = 2.5
        assert float(a.sum()) == 2.5 * a.size
    assert small.shape == (4, 5) and big.shape[0] == 3


def test_a_freed_output_array_is_recycled_for_the_next_of_about_its_size(monkeypatch):
    import gc
    from types import SimpleNamespace

    import lib.run.buffers as buffers

    monkeypatch.setenv("RNN_LENS_RECYCLED_MEMORY_MB", "64")
    # a pool of this test's own: arrays freed meanwhile by earlier tests go to theirs
    monkeypatch.setattr(buffers, "KEPT", buffers._Kept())
    size = buffers.PREFAULT_MIN_BYTES // 2  # floats: twice the smallest mapped array

    def address(a):
        return a.__array_interface__["data"][0]

    a = buffers.prefaulted_empty((size,))
    view = a.reshape(4, -1)[1:]  # a Trace keeps views: the mapping stays theirs
    first, served = address(a), buffers.KEPT.served
    del a
    gc.collect()
    assert buffers.KEPT.kept_bytes() == 0
    del view
    gc.collect()
    assert buffers.KEPT.kept_bytes() == 4 * size
    b = buffers.prefaulted_empty((2, size // 2 - 1000))  # a little smaller: served from it
    assert address(b) == first and buffers.KEPT.served == served + 1
    assert buffers.KEPT.kept_bytes() == 0
    b[...] = 1.0  # writable, and every element is the caller's to write
    assert float(b.sum()) == b.size
    del b
    gc.collect()
    c = buffers.prefaulted_empty((size // 2,))  # under 1 / MAX_SLACK of it: a fresh one
    assert buffers.KEPT.served == served + 1 and buffers.KEPT.kept_bytes() == 4 * size
    del c
    later = time.monotonic() + buffers.KEEP_SECONDS + 1
    monkeypatch.setattr(buffers, "time", SimpleNamespace(monotonic=lambda: later))
    buffers.KEPT.expire()  # kept KEEP_SECONDS at most
    assert buffers.KEPT.kept_bytes() == 0


def test_kept_memory_is_handed_back_when_each_mapping_is_due(monkeypatch):
    """The timer drops what was freed KEEP_SECONDS ago and wakes again when the oldest
    mapping left is due (a fake clock and a fake timer)."""
    from types import SimpleNamespace

    import lib.run.buffers as buffers

    now = {"t": 1000.0}
    waits = []

    class FakeTimer:
        def __init__(self, wait, fn):
            waits.append(wait)

        def start(self):
            pass

    monkeypatch.setattr(buffers, "time", SimpleNamespace(monotonic=lambda: now["t"]))
    monkeypatch.setattr(buffers.threading, "Timer", FakeTimer)
    kept = buffers._Kept()
    kept.budget = 2**30
    for age in (150.0, 100.0, 30.0):  # freed that many seconds ago, oldest first
        kept.items.append((1, object(), now["t"] - age))
    kept.on_timer()
    assert [now["t"] - when for _, _, when in kept.items] == [100.0, 30.0]
    assert waits == [buffers.KEEP_SECONDS - 100.0]


def test_recycling_keeps_no_more_than_its_budget(monkeypatch):
    import gc

    import lib.run.buffers as buffers

    monkeypatch.setattr(buffers, "KEPT", buffers._Kept())  # this test's own pool
    size = buffers.PREFAULT_MIN_BYTES // 4
    monkeypatch.setenv("RNN_LENS_RECYCLED_MEMORY_MB", "0")  # hand memory back at once
    buffers.prefaulted_empty((size,))  # read the budget, then freed at once
    gc.collect()
    assert buffers.KEPT.kept_bytes() == 0
    monkeypatch.setenv("RNN_LENS_RECYCLED_MEMORY_MB", str(buffers.PREFAULT_MIN_BYTES * 2 // 2**20))
    arrays = [buffers.prefaulted_empty((size,)) for _ in range(3)]
    del arrays
    gc.collect()
    assert buffers.KEPT.kept_bytes() == 2 * buffers.PREFAULT_MIN_BYTES  # the oldest went
    buffers.KEPT.clear()


def test_warm_kernels_leaves_recording_unchanged():
    from lib.run.record import warm_kernels

    bundle = random_bundle("lstm", 2)
    before = record(bundle, TEXT, streams=3, warmup=8)
    assert warm_kernels() >= 0.0
    after = record(bundle, TEXT, streams=3, warmup=8)
    for key in before.signals:
        np.testing.assert_array_equal(before.signals[key], after.signals[key])


def test_a_writer_adopts_only_whole_contiguous_arrays_of_its_dtype(tmp_path):
    from lib.run.trace import TraceWriter

    whole = np.arange(12, dtype=np.float32).reshape(4, 3)
    w = TraceWriter(4, {(0, "h"): 3, (0, "c"): 3}, top_k=1)
    assert w.adopt(0, "h", whole) and w.signals[(0, "h")] is whole  # no copy
    assert not w.adopt(0, "c", np.asfortranarray(whole))
    assert not w.adopt(0, "c", whole.astype(np.float64))
    assert not w.adopt(0, "c", whole[:3])
    assert not TraceWriter(4, {(0, "h"): 3}, top_k=1, dtype="float16").adopt(0, "h", whole)
    assert not TraceWriter(4, {(0, "h"): 3}, top_k=1, folder=tmp_path).adopt(0, "h", whole)
    # a recording's signals come out whole and C-contiguous (adoptable by a writer)
    bundle = random_bundle("lstm", 1)
    trace = record(bundle, TEXT, streams=3, warmup=8)
    assert all(v.flags.c_contiguous for v in trace.signals.values())
