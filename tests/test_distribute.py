"""Training past one device: strategy choice, the CLI flags, and MirroredStrategy over two
logical CPU devices (in a subprocess: the CPU must be split before TensorFlow sets up its
devices, which other tests in this process have done)."""

import inspect
import json
import os
import subprocess
import sys

import pytest

from lib.train.distribute import in_strategy_scope, is_chief, strategy_kind
from tests.helpers import ROOT, TEXT

CLUSTER = {"worker": ["host1:2222", "host2:2222"]}


@pytest.mark.parametrize(
    ("requested", "tf_config", "n_devices", "kind"),
    [
        ("auto", None, 1, "none"),
        ("auto", None, 2, "mirrored"),
        ("auto", '{"cluster": {}}', 1, "multiworker"),
        ("auto", '{"cluster": {}}', 4, "multiworker"),
        ("none", '{"cluster": {}}', 4, "none"),
        ("mirrored", None, 1, "mirrored"),
        ("multiworker", '{"cluster": {}}', 1, "multiworker"),
    ],
)
def test_strategy_kind(requested, tf_config, n_devices, kind):
    assert strategy_kind(requested, tf_config=tf_config, n_devices=n_devices) == kind


@pytest.mark.parametrize(
    ("requested", "tf_config", "match"),
    [
        ("multiworker", None, "needs TF_CONFIG"),
        ("multiworker", "", "needs TF_CONFIG"),
        ("tpu", None, r"one of \('auto', 'none', 'mirrored', 'multiworker'\), got 'tpu'"),
    ],
)
def test_bad_strategy_requests_are_named(requested, tf_config, match):
    with pytest.raises(ValueError, match=match):
        strategy_kind(requested, tf_config=tf_config, n_devices=1)


@pytest.mark.parametrize(
    ("task", "chief"),
    [
        ({"type": "worker", "index": 0}, True),
        ({"type": "worker", "index": 1}, False),
        ({"type": "chief", "index": 0}, True),
    ],
)
def test_only_the_chief_writes(task, chief):
    assert is_chief(json.dumps({"cluster": CLUSTER, "task": task})) is chief
    assert is_chief("") is True
    with_chief = {
        "cluster": {**CLUSTER, "chief": ["host0:2222"]},
        "task": {"type": "worker", "index": 0},
    }
    assert is_chief(json.dumps(with_chief)) is False


def test_in_strategy_scope_adds_a_keyword_and_enters_the_scope():
    entered = []

    class Strategy:
        def scope(self):
            class Scope:
                def __enter__(self):
                    entered.append(True)

                def __exit__(self, *exc):
                    return False

            return Scope()

    @in_strategy_scope
    def train(x, *, name):
        return x, name, list(entered)

    assert "strategy" in inspect.signature(train).parameters
    assert train(1, name="a") == (1, "a", [])
    assert train(1, name="a", strategy=Strategy()) == (1, "a", [True])


def test_cli_multiworker_without_tf_config_is_refused(monkeypatch, capsys):
    from lib.__main__ import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match="strategy 'multiworker' needs TF_CONFIG"):
        main(["train", "--name", "x", "--strategy", "multiworker"])


@pytest.mark.slow
def test_cli_trains_with_mirrored_strategy_over_two_cpu_devices(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT * 4, encoding="utf-8")
    env = {
        **os.environ,
        "RNN_LENS_MODELS": str(tmp_path / "models"),
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    env.pop("TF_CONFIG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib",
            "train",
            "--file",
            str(corpus),
            "--name",
            "mirrored",
            "--strategy",
            "mirrored",
            "--cpu-devices",
            "2",
            "--units",
            "8",
            "--embedding",
            "4",
            "--seq-len",
            "20",
            "--epochs",
            "1",
            "--batch-size",
            "8",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MirroredStrategy with 2 replica(s)" in done.stderr
    meta = json.loads((tmp_path / "models" / "mirrored" / "meta.json").read_text())
    assert meta["epochs_done"] == 1 and meta["metrics"]["val_loss"] > 0
