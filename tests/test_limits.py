"""Server limits: read from one file or the environment, and refused before work starts."""

import pytest

from dashboard import jobs
from lib import limits
from lib.data.corpora import corpus_from_text
from lib.limits import LimitError, Limits, load_limits
from lib.model.spec import ModelSpec, TrainConfig


def test_defaults_fit_this_machine_and_the_shipped_file_matches_them():
    assert load_limits(path="/nonexistent.toml", env={}) == Limits()
    assert load_limits(path=limits.ROOT / "rnn_lens.toml", env={}) == Limits()


def test_file_then_environment(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text("[limits]\nmax_units = 256\nmax_trace_gb = 1.5\n")
    got = load_limits(path=path, env={"RNN_LENS_MAX_UNITS": "64"})
    assert (got.max_units, got.max_trace_gb, got.max_layers) == (64, 1.5, 3)


@pytest.mark.parametrize(
    ("text", "env", "match"),
    [
        ("[limits]\nmax_unit = 3\n", {}, r"unknown limits \['max_unit'\]"),
        ("[limits\n", {}, "not valid TOML"),
        ("[limits]\nmax_units = 0\n", {}, "max_units must be positive, got 0"),
        ("", {"RNN_LENS_MAX_CONCURRENT_JOBS": "two"}, "must be a number, got 'two'"),
    ],
)
def test_bad_limit_settings_are_named(tmp_path, text, env, match):
    path = tmp_path / "lab.toml"
    path.write_text(text)
    with pytest.raises(LimitError, match=match):
        load_limits(path=path, env=env)


def test_checks_refuse_with_the_limit_and_the_value():
    lim = Limits(
        max_units=128,
        max_tokens_per_analysis=1000,
        max_trace_gb=0.001,
        max_concurrent_jobs=2,
        max_jobs_per_session=1,
        max_upload_mb=1,
    )
    with pytest.raises(LimitError, match=r"units is 256, over this server's limit of 128"):
        limits.check_model(256, 1, lim)
    with pytest.raises(LimitError, match=r"tokens to record is 5,000.*limit of 1,000"):
        limits.check_trace(5000, 64, 1, 6, lim)
    # 500 tokens x 128 units x 6 signals x 4 bytes = 1.5 MB > 1 MB
    with pytest.raises(LimitError, match=r"needs 0.0 GB, over .* 0.001 GB"):
        limits.check_trace(500, 128, 1, 6, lim)
    limits.check_trace(100, 128, 1, 6, lim)
    with pytest.raises(LimitError, match="2 jobs are running on this server"):
        limits.check_jobs(2, 0, lim)
    with pytest.raises(LimitError, match="You are running 1 job"):
        limits.check_jobs(1, 1, lim)
    with pytest.raises(LimitError, match=r"2.0 MB, over this server's limit of 1 MB"):
        limits.check_upload(2 * 2**20, lim)
    assert limits.trace_bytes(10, 4, 2, 3, topk=0) == 10 * (4 * 3 * 2 * 4 + 16)


def test_jobs_over_a_limit_are_refused_before_any_work(registry, monkeypatch):
    corpus = corpus_from_text("abc " * 500)
    monkeypatch.setenv("RNN_LENS_MAX_UNITS", "16")
    with pytest.raises(LimitError, match="units is 32"):
        jobs.start("me", ModelSpec(units=32, seq_len=10), corpus, TrainConfig(epochs=1), "too-wide")
    monkeypatch.setenv("RNN_LENS_MAX_CORPUS_CHARS", "100")
    with pytest.raises(LimitError, match="corpus length"):
        jobs.start("me", ModelSpec(units=8, seq_len=10), corpus, TrainConfig(epochs=1), "too-long")
    assert not [j for j in jobs.jobs() if j.settings.name.startswith("too-")]
    assert not (registry / "too-wide").exists() and not (registry / "too-long").exists()
