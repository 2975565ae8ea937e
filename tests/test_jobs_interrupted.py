"""A training process killed mid-epoch: the registry stays consistent and Resume works."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dashboard import jobs
from lib.model import registry as reg
from lib.model.spec import ModelSpec, TrainConfig

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import sys, time
    from dashboard import jobs
    from lib.data.corpora import corpus_from_text
    from lib.model.spec import ModelSpec, TrainConfig

    text = "".join(f"line {i}: the quick brown fox, {i * 7 % 13}\\n" for i in range(3000))
    job = jobs.start("child-session", ModelSpec(units=16, embedding=8, seq_len=20),
                     corpus_from_text(text), TrainConfig(epochs=50, batch_size=16),
                     "killed-model")
    p = job.progress
    while not (p.epochs and p.epoch >= 1 and p.step > 2):  # inside epoch 2
        time.sleep(0.05)
        if not job.active:
            print("FINISHED EARLY", p.status, p.error, flush=True)
            sys.exit(1)
    print("READY", job.settings.id, flush=True)
    time.sleep(600)
""")


@pytest.mark.slow
def test_killed_server_leaves_a_loadable_model_and_an_interrupted_resumable_job(registry):
    env = {**os.environ, "RNN_LENS_MODELS": str(registry), "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), line
        job_id = line.split()[1]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)

    # the registry is consistent: the model is listed and loads with its last whole epoch
    assert reg.broken_models() == []
    bundle = reg.load("killed-model")
    done = bundle.meta["epochs_done"]
    assert done >= 1
    assert [e for e, _ in reg.checkpoints("killed-model")] == list(range(1, done + 1))
    reg.load_checkpoint(bundle, done)

    # the job list shows it as interrupted, to any session (its own session is gone)
    listed = {j.settings.id: j for j in jobs.jobs()}
    assert listed[job_id].progress.status == "interrupted"
    assert "The server stopped while this job ran" in listed[job_id].progress.error

    resumed = jobs.resume_interrupted("new-session", job_id, epochs=done + 1)
    resumed.thread.join(300)
    assert resumed.progress.status == "done", resumed.progress.error
    assert reg.read_meta("killed-model")["epochs_done"] == done + 1
    statuses = {j.settings.id: j.progress.status for j in jobs.jobs()}
    assert job_id not in statuses  # the interrupted record is marked resumed, not listed
    assert statuses[resumed.settings.id] == "done"


def test_a_live_job_of_another_process_is_not_called_interrupted(registry):
    settings = jobs.JobSettings(
        id="other01",
        owner="x",
        name="m",
        spec=ModelSpec(units=8),
        config=TrainConfig(epochs=1),
        data_name="c",
        root=str(registry),
    )
    parent = os.getppid()
    job = jobs.Job(settings, process=jobs.ProcessId(parent, jobs._process_start(parent)))
    job.persist()
    assert {j.settings.id: j.progress.status for j in jobs.jobs()}["other01"] == "running"
    # the pid was reused by a process that started at another time
    job.process = jobs.ProcessId(parent, "1")
    job.persist()
    assert {j.settings.id: j.progress.status for j in jobs.jobs()}["other01"] == "interrupted"
