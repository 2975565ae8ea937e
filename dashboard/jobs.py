"""Background jobs (training, experiments) that outlive Streamlit reruns and page changes.

A job is a thread running ``lib.train.fit.train`` (or another piece of work) with a stop
flag; it copies the progress records into the Job object, which pages poll. The list of
jobs is module-level, so every session on the server sees every job; only the session
that started a job may stop it.

Each job also keeps a record on disk, ``<registry>/.jobs/<id>/job.json`` (written
atomically at the start, after every epoch and at the end) with a copy of its training
data. When the server process dies mid-job, the record still says "running" with a
process id that is gone: :func:`jobs` then lists it as ``interrupted``, and
:func:`resume_interrupted` continues it from the model's last saved epoch.

No Streamlit import: the Train page renders what is here.
"""

from __future__ import annotations

import json
import os
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
from lib.model.registry import models_root, read_meta
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import check_classifier_training, check_training, train, train_classifier

_LOCK = threading.Lock()
JOBS: dict[str, Job] = {}
KEEP_RECORDS = 50  # finished job records kept on disk per registry
ACTIVE = ("running", "stopping")


@dataclass
class Job:
    id: str
    owner: str
    name: str
    spec: ModelSpec
    config: TrainConfig
    corpus: Corpus  # or a lib.data.datasets.LabelledData for a classifier
    resume: bool = False
    root: str = ""  # the registry when the job started (the environment may change later)
    status: str = "running"  # running, stopping, done, stopped, failed, interrupted
    kind: str = "train"  # or e.g. "search", "sweep" (then ``work`` does the work)
    work: Callable[[Job], None] | None = field(default=None, repr=False)
    detail: dict = field(default_factory=dict)  # what a non-training job reports (JSON-able)
    pid: int = field(default_factory=os.getpid)
    pid_start: str = field(default_factory=lambda: _process_start(os.getpid()))
    started: float = field(default_factory=time.time)
    finished: float | None = None
    epoch: int = 0
    step: int = 0
    steps: int = 0
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch, loss)
    epochs: list[dict] = field(default_factory=list)  # one record per finished epoch
    error: str = ""
    first_epoch: int = 0
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fraction(self) -> float:
        """Share of the job's work done, 0 to 1."""
        total = max(self.config.epochs - self.first_epoch, 1)
        within = self.step / self.steps if self.steps else 0.0
        return min((self.epoch - self.first_epoch + within) / total, 1.0)

    def eta_seconds(self) -> float | None:
        elapsed = time.time() - self.started
        done = self.fraction
        if done <= 0.01 or not self.active:
            return None
        return elapsed * (1 - done) / done

    def on_progress(self, event: dict) -> None:
        if event["kind"] == "batch":
            self.epoch, self.step, self.steps = event["epoch"], event["step"], event["steps"]
            self.batch_losses.append(
                (event["epoch"] + event["step"] / event["steps"], event["loss"])
            )
        else:
            self.epochs.append({k: v for k, v in event.items() if k != "kind"})
            self.epoch, self.step = event["epoch"] + 1, 0
            self.persist()

    def stop(self) -> None:
        if self.active:
            self.status = "stopping"
            self.stop_event.set()

    def run(self) -> None:
        try:
            if self.work is not None:
                self.work(self)
            else:
                fit = train_classifier if self.spec.task == "classifier" else train
                fit(
                    self.spec,
                    self.corpus,
                    name=self.name,
                    config=self.config,
                    progress=self.on_progress,
                    stop=self.stop_event,
                    resume=self.resume,
                    root=self.root,
                )
            self.status = "stopped" if self.stop_event.is_set() else "done"
        except Exception as e:  # reported on the page; the thread must not die silently
            self.status = "stopped" if self.stop_event.is_set() and not self.epochs else "failed"
            self.error = f"{type(e).__name__}: {e}"
            if not isinstance(e, ValueError | RuntimeError):
                self.error += "\n" + traceback.format_exc(limit=3)
        finally:
            self.finished = time.time()
            self.persist()

    # --- the record on disk -------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return Path(self.root) / ".jobs" / self.id

    def record(self) -> dict:
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "kind": self.kind,
            "spec": self.spec.to_dict(),
            "config": asdict(self.config),
            "corpus_name": self.corpus.name,
            "status": self.status,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "started": self.started,
            "finished": self.finished,
            "epoch": self.epoch,
            "first_epoch": self.first_epoch,
            "epochs": self.epochs,
            "error": self.error,
            "detail": self.detail,
        }

    def persist(self) -> None:
        """Write job.json atomically (never fails the job: a full disk is reported)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".job.json.{uuid.uuid4().hex[:6]}"
            tmp.write_text(json.dumps(self.record(), default=str), encoding="utf-8")
            os.replace(tmp, self.folder / "job.json")
        except OSError as e:
            self.error = self.error or f"could not write the job record: {e}"


def _save_data(folder: Path, data) -> None:
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


def _load_data(folder: Path):
    from lib.data.datasets import LabelledData

    payload = json.loads((folder / "data.json").read_text(encoding="utf-8"))
    if payload.pop("type") == "corpus":
        return Corpus(**payload)
    return LabelledData(**payload)


def _running(owner: str | None = None) -> list[Job]:
    return [j for j in JOBS.values() if j.active and (owner is None or j.owner == owner)]


def launch(job: Job, data=None) -> Job:
    """Check the server's job limits, keep ``job``'s record on disk and start its thread.

    Raises
    ------
    lib.limits.LimitError
        The server or this session runs its maximum of jobs already.
    """
    with _LOCK:
        limits.check_jobs(len(_running()), len(_running(job.owner)))
        busy = [j for j in _running() if j.name == job.name]
        if busy:
            raise ValueError(
                f"Model {job.name!r} is being trained already; wait or pick a new name."
            )
        JOBS[job.id] = job
    try:
        job.folder.mkdir(parents=True, exist_ok=True)
        if data is not None:
            _save_data(job.folder, data)
    except OSError as e:
        job.error = f"the job's data could not be kept for a resume after a restart: {e}"
    job.persist()
    _prune(Path(job.root))
    job.thread = threading.Thread(target=job.run, name=f"{job.kind}-{job.name}", daemon=True)
    job.thread.start()
    return job


def start(
    owner: str,
    spec: ModelSpec,
    corpus: Corpus,
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
    job = Job(
        id=uuid.uuid4().hex[:8],
        owner=owner,
        name=name,
        spec=spec,
        config=config,
        corpus=corpus,
        resume=resume,
        root=root,
        first_epoch=first_epoch,
        epoch=first_epoch,
    )
    return launch(job, corpus)


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
    job = Job(
        id=rec["id"],
        owner=rec["owner"],
        name=rec["name"],
        spec=ModelSpec.from_dict(rec["spec"]),
        config=TrainConfig(**rec["config"]),
        corpus=Corpus(rec.get("corpus_name", "?"), "", "memory", ""),
        root=str(root),
        status=rec["status"],
        kind=rec.get("kind", "train"),
        detail=rec.get("detail", {}),
        pid=rec.get("pid", 0),
        pid_start=rec.get("pid_start", ""),
        started=rec.get("started", 0.0),
        finished=rec.get("finished"),
        epoch=rec.get("epoch", 0),
        epochs=rec.get("epochs", []),
        error=rec.get("error", ""),
        first_epoch=rec.get("first_epoch", 0),
    )
    gone = not _pid_alive(job.pid, job.pid_start) or job.pid == os.getpid()
    if job.active and gone:
        job.status = "interrupted"  # its process is gone (this one would have it in JOBS)
        job.error = (
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
    done = [j for j in _records(root) if j.status in ("done", "stopped", "failed")]
    for job in sorted(done, key=lambda j: j.started, reverse=True)[KEEP_RECORDS:]:
        shutil.rmtree(job.folder, ignore_errors=True)


def resume_interrupted(owner: str, job_id: str, epochs: int | None = None) -> Job:
    """Continue an interrupted training job from its model's last saved epoch."""
    root = models_root()
    old = next((j for j in _records(root) if j.id == job_id), None)
    if old is None or old.status != "interrupted":
        raise ValueError(f"There is no interrupted job {job_id!r}.")
    if old.kind != "train":
        raise ValueError(f"An interrupted {old.kind} cannot be resumed; start it again.")
    try:
        data = _load_data(old.folder)
        read_meta(old.name, root=root)
    except Exception as e:  # noqa: BLE001 - a missing copy, or a model never saved
        raise ValueError(f"Job {job_id} cannot be resumed: {type(e).__name__}: {e}") from None
    config = TrainConfig(**{**asdict(old.config), **({"epochs": int(epochs)} if epochs else {})})
    job = start(owner, old.spec, data, config, old.name, resume=True)
    old.status = "resumed"
    old.persist()
    return job


def jobs(*, owner: str | None = None) -> list[Job]:
    """All jobs, newest first; only ``owner``'s when given."""
    with _LOCK:
        found = list(JOBS.values())
    found += [j for j in _records(models_root()) if j.status != "resumed"]
    if owner is not None:
        found = [j for j in found if j.owner == owner]
    return sorted(found, key=lambda j: j.started, reverse=True)
