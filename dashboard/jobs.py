"""Background jobs (training, experiments) that outlive Streamlit reruns and page changes.

A job is a thread running ``lib.train.fit.train`` (or another piece of work) with a stop
flag; it copies the progress records into the Job object, which pages poll. The list of
jobs is module-level, so every session on the server sees every job; only the session
that started a job may stop it. The per-session job limit counts the jobs of the owner
(its cookie) and, since a cleared cookie is a new owner, those started from the same client
address (``JobSettings.address``). Error messages name files, never server folders.

Each job also keeps a record on disk, ``<registry>/.jobs/<id>/job.json`` (written
atomically at the start, after every epoch and at the end) with a copy of its training
data. When the server process dies mid-job, the record still says "running" with a
process id that is gone: :func:`jobs` then lists it as ``interrupted``, and
:func:`resume_interrupted` continues it from the model's last saved epoch.

No Streamlit import: the Train page renders what is here.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lib import limits
from lib.data.corpora import Corpus
from lib.data.datasets import LabelledData
from lib.model.registry import models_root, read_meta
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import (
    TrainingStopped,
    check_classifier_training,
    check_training,
    train,
    train_classifier,
)

_LOCK = threading.Lock()
_log = logging.getLogger(__name__)
JOBS: dict[str, Job] = {}
KEEP_RECORDS = 50  # finished job records kept on disk per registry

#: what a job trains on: a text corpus (language model) or labelled texts (classifier)
TrainingData = Corpus | LabelledData


class JobState(enum.StrEnum):
    """Where a job is in its life; the value is what job.json and the pages show."""

    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its server process died while it ran
    RESUMED = "resumed"  # an interrupted job that a new job continues

    @property
    def active(self) -> bool:
        return self in (JobState.RUNNING, JobState.STOPPING)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.STOPPED, JobState.FAILED)


@dataclass(frozen=True)
class JobSettings:
    """What a job does, fixed when it starts.

    ``kind`` is "train" (the job trains ``spec`` on its data) or the kind of experiment
    ("search", "sweep") whose work function the Job runs. ``root`` is the registry when the
    job started (the environment may change later); ``data_name`` names its corpus or
    dataset. ``address`` is the client's network address ("" unknown), taken from
    ``owner`` when it is a dashboard.state.Owner; ``owner`` is then kept as the plain token.
    """

    id: str
    owner: str
    name: str
    spec: ModelSpec
    config: TrainConfig
    data_name: str
    root: str
    kind: str = "train"
    resume: bool = False
    first_epoch: int = 0
    address: str = ""

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", str(getattr(self.owner, "address", "") or ""))
        object.__setattr__(self, "owner", str(self.owner))


#: a folder part of an absolute path in a message (the file name after it is kept)
_FOLDERS = re.compile(r"(?<![\w.~/:])/(?:[^/\s'\"]+/)+")


def public_message(text: str) -> str:
    """``text`` with every absolute path cut to its file name: what a page may show."""
    return _FOLDERS.sub("", text)


@dataclass
class JobProgress:
    """What a job has done so far: written by its thread, read by the pages."""

    status: JobState = JobState.RUNNING
    started: float = field(default_factory=time.time)
    finished: float | None = None
    epoch: int = 0
    step: int = 0
    steps: int = 0
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch, loss)
    epochs: list[dict] = field(default_factory=list)  # one record per finished epoch
    detail: dict = field(default_factory=dict)  # what a non-training job reports (JSON-able)
    error: str = ""
    phase: str = ""  # what training does before its first batch ("tokenizing", ...)
    batches: int | None = None  # batches trained when a stop ended the job

    @property
    def stop_note(self) -> str:
        """What a stopped job did, in words ("stopped before the first batch"); "" else."""
        if self.status is not JobState.STOPPED:
            return ""
        if self.batches is None:
            return "stopped"
        if self.batches == 0:
            return "stopped before the first batch"
        plural = "es" if self.batches != 1 else ""
        kept = (
            f"; epoch {self.epochs[-1]['epoch'] + 1} is the last one saved"
            if self.epochs
            else "; no epoch ended, so nothing new was saved"
        )
        return f"stopped after {self.batches:,} batch{plural}{kept}"


@dataclass(frozen=True)
class ProcessId:
    """The server process that runs a job: its pid and when it started (clock ticks since
    boot), which tells a live job's process from a new one that reused its pid."""

    pid: int = field(default_factory=os.getpid)
    start: str = field(default_factory=lambda: _process_start(os.getpid()))


@dataclass
class Job:
    """A background job: its settings, its progress, the process and thread running it.

    ``data`` is the corpus or dataset it trains on (None for a record read from disk, whose
    data is read when it is resumed); ``work`` replaces training for experiments.
    """

    settings: JobSettings
    progress: JobProgress = field(default_factory=JobProgress)
    data: TrainingData | None = field(default=None, repr=False)
    work: Callable[[Job], None] | None = field(default=None, repr=False)
    process: ProcessId = field(default_factory=ProcessId)
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.progress.status.active

    @property
    def fraction(self) -> float:
        """Share of the job's work done, 0 to 1."""
        s, p = self.settings, self.progress
        total = max(s.config.epochs - s.first_epoch, 1)
        within = p.step / p.steps if p.steps else 0.0
        return min((p.epoch - s.first_epoch + within) / total, 1.0)

    def eta_seconds(self) -> float | None:
        elapsed = time.time() - self.progress.started
        done = self.fraction
        if done <= 0.01 or not self.active:
            return None
        return elapsed * (1 - done) / done

    def on_progress(self, event: dict) -> None:
        p = self.progress
        if event["kind"] == "phase":
            p.phase = event["text"]
        elif event["kind"] == "stopped":
            p.batches = int(event["batches"])
        elif event["kind"] == "batch":
            p.epoch, p.step, p.steps = event["epoch"], event["step"], event["steps"]
            p.batch_losses.append((event["epoch"] + event["step"] / event["steps"], event["loss"]))
        else:
            p.epochs.append({k: v for k, v in event.items() if k != "kind"})
            p.epoch, p.step = event["epoch"] + 1, 0
            self.persist()

    def stop(self) -> None:
        if self.active:
            self.progress.status = JobState.STOPPING
            self.stop_event.set()

    def run(self) -> None:
        s, p = self.settings, self.progress
        try:
            if self.work is not None:
                self.work(self)
            else:
                if self.data is None:
                    raise RuntimeError(f"job {s.id} has no training data")
                fit = train_classifier if s.spec.task == "classifier" else train
                fit(
                    s.spec,
                    self.data,
                    name=s.name,
                    config=s.config,
                    progress=self.on_progress,
                    stop=self.stop_event,
                    resume=s.resume,
                    root=s.root,
                )
            p.status = JobState.STOPPED if self.stop_event.is_set() else JobState.DONE
        except TrainingStopped as e:  # a stop before an epoch ended: not a failure
            p.status, p.batches = JobState.STOPPED, e.batches
        except Exception as e:  # reported on the page; the thread must not die silently
            stopped = self.stop_event.is_set() and not p.epochs
            p.status = JobState.STOPPED if stopped else JobState.FAILED
            p.error = public_message(f"{type(e).__name__}: {e}")
            if not isinstance(e, ValueError | RuntimeError):  # a bug: its traceback is logged
                _log.error("job %s failed\n%s", s.id, traceback.format_exc())
                p.error += " (the traceback is in the server's log)"
        finally:
            p.finished = time.time()
            self.persist()

    # --- the record on disk -------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return Path(self.settings.root) / ".jobs" / self.settings.id

    def record(self) -> dict:
        s, p = self.settings, self.progress
        return {
            "id": s.id,
            "owner": s.owner,
            "address": s.address,
            "name": s.name,
            "kind": s.kind,
            "spec": s.spec.to_dict(),
            "config": asdict(s.config),
            "corpus_name": s.data_name,
            "first_epoch": s.first_epoch,
            "status": str(p.status),
            "pid": self.process.pid,
            "pid_start": self.process.start,
            "started": p.started,
            "finished": p.finished,
            "epoch": p.epoch,
            "epochs": p.epochs,
            "error": p.error,
            "detail": p.detail,
            "batches": p.batches,
        }

    def persist(self) -> None:
        """Write job.json atomically (never fails the job: a full disk is reported)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".job.json.{uuid.uuid4().hex[:6]}"
            tmp.write_text(json.dumps(self.record(), default=str), encoding="utf-8")
            os.replace(tmp, self.folder / "job.json")
        except OSError as e:
            self.progress.error = self.progress.error or public_message(
                f"could not write the job record: {e}"
            )


def _save_data(folder: Path, data: TrainingData) -> None:
    """A copy of the training data, so an interrupted job can resume after a restart."""
    if isinstance(data, Corpus):
        payload = {
            "type": "corpus",
            "name": data.name,
            "source": data.source,
            "ref": data.ref,
            "text": data.text,
        }
    else:  # lib.data.datasets.LabelledData
        payload = {
            "type": "labelled",
            "name": data.name,
            "texts": list(data.texts),
            "labels": [int(x) for x in data.labels],
            "classes": list(data.classes),
            "source": data.source,
            "ref": data.ref,
            "info": dict(data.info),
        }
    tmp = folder / f".data.json.{uuid.uuid4().hex[:6]}"
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, folder / "data.json")


def _load_data(folder: Path) -> TrainingData:
    payload = json.loads((folder / "data.json").read_text(encoding="utf-8"))
    if payload.pop("type") == "corpus":
        return Corpus(**payload)
    return LabelledData(**payload)


def _running(owner: str | None = None) -> list[Job]:
    return [j for j in JOBS.values() if j.active and owner in (None, j.settings.owner)]


def _from_address(address: str) -> list[Job]:
    """Running jobs started from client ``address`` (none when it is unknown)."""
    return [j for j in JOBS.values() if j.active and address and j.settings.address == address]


def launch(job: Job) -> Job:
    """Check the server's job limits, keep ``job``'s record on disk and start its thread.

    Raises
    ------
    lib.limits.LimitError
        The server, this session (owner) or its client address runs its maximum of jobs
        already.
    """
    with _LOCK:
        limits.check_jobs(
            len(_running()),
            len(_running(job.settings.owner)),
            n_address=len(_from_address(job.settings.address)),
        )
        name = job.settings.name
        if any(j.settings.name == name for j in _running()):
            raise ValueError(f"Model {name!r} is being trained already; wait or pick a new name.")
        JOBS[job.settings.id] = job
    try:
        job.folder.mkdir(parents=True, exist_ok=True)
        if job.data is not None and job.work is None:
            _save_data(job.folder, job.data)
    except OSError as e:
        job.progress.error = public_message(
            f"the job's data could not be kept for a resume after a restart: {e}"
        )
    job.persist()
    _prune(Path(job.settings.root))
    job.thread = threading.Thread(
        target=job.run, name=f"{job.settings.kind}-{job.settings.name}", daemon=True
    )
    job.thread.start()
    return job


def start(
    owner: str,
    spec: ModelSpec,
    corpus: TrainingData,
    config: TrainConfig,
    name: str,
    *,
    resume: bool = False,
) -> Job:
    """Check the settings (ValueError with a clear message), then start training."""
    root = str(models_root())
    check = check_classifier_training if spec.task == "classifier" else check_training
    limits.check_model(spec.units, spec.layers)
    if isinstance(corpus, Corpus):
        limits.check_corpus(len(corpus.text))
    else:
        limits.check_corpus(sum(len(t) for t in corpus.texts))
    first_epoch = check(spec, corpus, config, name, resume=resume, root=root)
    settings = JobSettings(
        id=uuid.uuid4().hex[:8],
        owner=owner,
        name=name,
        spec=spec,
        config=config,
        data_name=corpus.name,
        root=root,
        resume=resume,
        first_epoch=first_epoch,
    )
    return launch(Job(settings, JobProgress(epoch=first_epoch), data=corpus))


def setting_bounds(lim: limits.Limits | None = None) -> dict[str, tuple[float, float]]:
    """The (min, max) of every number on the Train form: the values ModelSpec.validate and
    TrainConfig.validate accept, narrowed to the server's limits (``max_units``,
    ``max_layers``), so a form input cannot take a value that is refused later.

    Keys are the form's settings: layers, units, embedding, seq_len, max_len, batch,
    epochs, lr, clipnorm, min_count, patience, max_tokens.
    """
    lim = lim or limits.limits()
    return {
        "layers": (1, min(3, lim.max_layers)),
        "units": (1, min(4096, lim.max_units)),
        "embedding": (1, 2048),
        "seq_len": (2, 2000),
        "max_len": (1, 2000),
        "batch": (1, 4096),
        "epochs": (1, 1000),
        "lr": (1e-5, 1.0),  # validate: (0, 1]
        "clipnorm": (0.1, 100.0),  # validate: > 0
        "min_count": (1, 100),  # validate: >= 1
        "patience": (0, 100),
        "max_tokens": (0, 50_000_000),  # 0 = all; the corpus limit applies to the text
    }


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), "" if unknown or gone.

    With the pid, it tells a live job's process from a new one that reused its pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or _process_start(pid) in ("", started)


def _from_record(rec: dict, root: Path) -> Job:
    """A Job rebuilt from its job.json (no thread; its data is read when resumed)."""
    settings = JobSettings(
        id=rec["id"],
        owner=rec["owner"],
        address=str(rec.get("address") or ""),
        name=rec["name"],
        spec=ModelSpec.from_dict(rec["spec"]),
        config=TrainConfig(**rec["config"]),
        data_name=rec.get("corpus_name", "?"),
        root=str(root),
        kind=rec.get("kind", "train"),
        first_epoch=rec.get("first_epoch", 0),
    )
    progress = JobProgress(
        status=JobState(rec["status"]),
        started=rec.get("started", 0.0),
        finished=rec.get("finished"),
        epoch=rec.get("epoch", 0),
        epochs=rec.get("epochs", []),
        detail=rec.get("detail", {}),
        error=rec.get("error", ""),
        batches=rec.get("batches"),
    )
    job = Job(settings, progress, process=ProcessId(rec.get("pid", 0), rec.get("pid_start", "")))
    pid = job.process.pid
    gone = not _pid_alive(pid, job.process.start) or pid == os.getpid()
    if job.active and gone:
        progress.status = JobState.INTERRUPTED  # its process is gone (this one has it in JOBS)
        progress.error = (
            "The server stopped while this job ran. The model keeps its last "
            "finished epoch; Resume continues from there."
        )
    return job


def _records(root: Path) -> list[Job]:
    """Jobs on disk that this process is not running: interrupted, or another server's."""
    found = []
    for path in (root / ".jobs").glob("*/job.json"):
        if path.parent.name in JOBS:
            continue
        try:
            found.append(_from_record(json.loads(path.read_text(encoding="utf-8")), root))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a half-written or foreign file: not a job we can show
    return found


def _prune(root: Path) -> None:
    """Keep the newest KEEP_RECORDS finished records (interrupted ones are kept)."""
    done = [j for j in _records(root) if j.progress.status.finished]
    for job in sorted(done, key=lambda j: j.progress.started, reverse=True)[KEEP_RECORDS:]:
        shutil.rmtree(job.folder, ignore_errors=True)


def resume_interrupted(owner: str, job_id: str, epochs: int | None = None) -> Job:
    """Continue an interrupted training job from its model's last saved epoch."""
    root = models_root()
    old = next((j for j in _records(root) if j.settings.id == job_id), None)
    if old is None or old.progress.status is not JobState.INTERRUPTED:
        raise ValueError(f"There is no interrupted job {job_id!r}.")
    was = old.settings
    if was.kind != "train":
        raise ValueError(f"An interrupted {was.kind} cannot be resumed; start it again.")
    try:
        data = _load_data(old.folder)
        read_meta(was.name, root=root)
    except Exception as e:
        raise ValueError(
            public_message(f"Job {job_id} cannot be resumed: {type(e).__name__}: {e}")
        ) from None
    config = TrainConfig(**{**asdict(was.config), **({"epochs": int(epochs)} if epochs else {})})
    job = start(owner, was.spec, data, config, was.name, resume=True)
    old.progress.status = JobState.RESUMED
    old.persist()
    return job


def jobs(*, owner: str | None = None) -> list[Job]:
    """All jobs, newest first; only ``owner``'s when given."""
    with _LOCK:
        found = list(JOBS.values())
    found += [j for j in _records(models_root()) if j.progress.status is not JobState.RESUMED]
    if owner is not None:
        found = [j for j in found if j.settings.owner == owner]
    return sorted(found, key=lambda j: j.progress.started, reverse=True)
