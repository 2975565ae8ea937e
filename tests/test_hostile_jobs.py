"""The per-session job limit does not trust the cookie alone; job messages show no folders
(issue 18, class 13).

Jobs are launched with a fake quick job (a work function that waits for the test to let
it finish), so nothing trains.
"""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from dashboard import jobs
from dashboard.state import Owner
from lib import limits
from lib.limits import LimitError
from lib.model.spec import ModelSpec, TrainConfig

SPEC = ModelSpec(units=8, embedding=4, seq_len=20)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A function that launches a fake job of (owner, address) under tmp_path; every job it
    launched runs until the test ends."""
    monkeypatch.setattr(jobs, "JOBS", {})
    monkeypatch.setenv("RNN_LENS_MAX_CONCURRENT_JOBS", "2")
    monkeypatch.setenv("RNN_LENS_MAX_JOBS_PER_SESSION", "1")
    release = threading.Event()
    launched: list[jobs.Job] = []
    numbers = itertools.count(1)

    def launch(owner, address="", *, name=None, work=None) -> jobs.Job:
        n = next(numbers)
        settings = jobs.JobSettings(
            id=f"fake{n:04d}",
            owner=owner,
            address=address,
            name=name or f"model-{n}",
            spec=SPEC,
            config=TrainConfig(epochs=1),
            data_name="pasted",
            root=str(tmp_path),
            kind="search",
        )
        job = jobs.Job(settings, work=work or (lambda job: release.wait(30)))
        jobs.launch(job)
        launched.append(job)
        return job

    yield launch
    release.set()
    for job in launched:
        job.thread.join(30)


def test_two_owners_from_one_address_the_second_is_refused(fake):
    fake("cookie-a", "10.0.0.7")
    with pytest.raises(LimitError, match=r"1 job\(s\) started from your network address"):
        fake("cookie-b", "10.0.0.7")
    assert len(jobs._running()) == 1


def test_a_cleared_cookie_with_the_same_address_is_refused(fake):
    # what dashboard.state.session_id returns: the cookie's token, knowing the address
    first = fake(Owner("0123456789ab", "192.168.1.20"))
    assert first.settings.owner == "0123456789ab" and type(first.settings.owner) is str
    assert first.settings.address == "192.168.1.20"
    with pytest.raises(LimitError, match=r"another browser or tab, or before its cookie"):
        fake(Owner("ffffffffffff", "192.168.1.20"))  # the cookie cleared: a new token


def test_the_same_owner_from_a_new_address_is_refused(fake):
    fake("cookie-a", "10.0.0.7")
    with pytest.raises(LimitError, match=r"You are running 1 job\(s\), the limit per session"):
        fake("cookie-a", "10.0.0.8")


def test_different_owners_and_addresses_run_up_to_the_server_limit(fake):
    fake("cookie-a", "10.0.0.7")
    fake("cookie-b", "10.0.0.8")
    assert len(jobs._running()) == 2
    with pytest.raises(LimitError, match=r"2 jobs are running on this server.*= 2\)"):
        fake("cookie-c", "10.0.0.9")


def test_an_unknown_address_falls_back_to_the_owner(fake, monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_CONCURRENT_JOBS", "3")
    fake("cookie-a")  # localhost, AppTest: no address
    fake("cookie-b", "")
    with pytest.raises(LimitError, match="You are running 1 job"):
        fake("cookie-a")


def test_a_finished_job_frees_its_address(fake):
    done = fake("cookie-a", "10.0.0.7", work=lambda job: None)
    done.thread.join(30)
    assert done.progress.status == "done"
    fake("cookie-b", "10.0.0.7")


def test_check_jobs_says_which_count_hit_the_limit():
    lim = limits.Limits(max_concurrent_jobs=5, max_jobs_per_session=2, max_jobs_per_address=2)
    limits.check_jobs(1, 1, lim, n_address=1)
    with pytest.raises(LimitError, match="You are running 2 job"):
        limits.check_jobs(2, 2, lim, n_address=2)
    with pytest.raises(LimitError, match=r"2 job\(s\) started from your network address"):
        limits.check_jobs(2, 0, lim, n_address=2)
    with pytest.raises(LimitError, match=r"max_jobs_per_address = 2"):
        limits.check_jobs(2, 0, lim, n_address=2)


def test_loopback_is_not_a_client_address(monkeypatch):
    # behind a reverse proxy on this machine every client is 127.0.0.1: not counted
    from dashboard import state

    for address, counted in [("127.0.0.1", ""), ("::1", ""), ("10.0.0.7", "10.0.0.7")]:
        monkeypatch.setattr(state.st, "context", type("C", (), {"ip_address": address})())
        assert state.client_address() == counted


def test_the_address_is_kept_in_the_record_and_old_records_still_load(fake, tmp_path):
    job = fake("cookie-a", "10.0.0.7")
    record = json.loads((job.folder / "job.json").read_text(encoding="utf-8"))
    assert record["owner"] == "cookie-a" and record["address"] == "10.0.0.7"

    old = dict(record, id="old00001", status="done")
    del old["address"]  # written before addresses were kept
    (tmp_path / ".jobs" / "old00001").mkdir()
    (tmp_path / ".jobs" / "old00001" / "job.json").write_text(json.dumps(old), encoding="utf-8")
    rebuilt = next(j for j in jobs._records(tmp_path) if j.settings.id == "old00001")
    assert rebuilt.settings.address == "" and rebuilt.settings.owner == "cookie-a"


# --- no server folders in job messages ------------------------------------------------------


def test_public_message_keeps_file_names_only():
    assert (
        jobs.public_message("[Errno 28] No space left on device: '/srv/lab/models/.jobs/x/a.json'")
        == "[Errno 28] No space left on device: 'a.json'"
    )
    assert jobs.public_message("see https://example.org/a/b and 1/2/3") == (
        "see https://example.org/a/b and 1/2/3"
    )


def test_a_failed_job_shows_neither_folders_nor_a_traceback(fake, tmp_path):
    def missing(job):
        raise FileNotFoundError(2, "No such file or directory", f"{tmp_path}/models/m/model.keras")

    def bug(job):
        raise KeyError("weights")

    failed = fake("cookie-a", "10.0.0.7", work=missing)
    failed.thread.join(30)
    assert failed.progress.status == "failed"
    assert failed.progress.error == (
        "FileNotFoundError: [Errno 2] No such file or directory: 'model.keras' "
        "(the traceback is in the server's log)"
    )
    crashed = fake("cookie-b", "10.0.0.8", work=bug)
    crashed.thread.join(30)
    assert "Traceback" not in crashed.progress.error and 'File "' not in crashed.progress.error
    assert str(tmp_path) not in json.dumps(
        json.loads((failed.folder / "job.json").read_text(encoding="utf-8"))["error"]
    )


def test_a_record_that_cannot_be_written_names_no_folder(fake, tmp_path, monkeypatch):
    job = fake("cookie-a", "10.0.0.7")

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device", f"{self}")

    monkeypatch.setattr(jobs.Path, "write_text", full)
    job.persist()
    assert job.progress.error.startswith("could not write the job record: [Errno 28]")
    assert str(tmp_path) not in job.progress.error and ".job.json." in job.progress.error
