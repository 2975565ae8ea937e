"""Background training jobs that outlive Streamlit reruns, clicks and page changes.

A job is a thread running ``lib.models.train`` with a stop flag; it copies the progress
records into the Job object, which pages poll. The registry of jobs is module-level, so
every session on the server sees every job; only the session that started a job may
stop it. No Streamlit import: the Train page renders what is here.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

from lib.corpora import Corpus
from lib.models import (
    ModelSpec,
    TrainConfig,
    check_classifier_training,
    check_training,
    train,
    train_classifier,
)
from lib.registry import models_root

_LOCK = threading.Lock()
JOBS: dict[str, Job] = {}


@dataclass
class Job:
    id: str
    owner: str
    name: str
    spec: ModelSpec
    config: TrainConfig
    corpus: Corpus  # or a lib.datasets.LabelledData for a classifier
    resume: bool = False
    root: str = ""  # the registry when the job started (the environment may change later)
    status: str = "running"  # running, stopping, done, stopped, failed
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
        return self.status in ("running", "stopping")

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
            self.batch_losses.append((event["epoch"] + event["step"] / event["steps"],
                                      event["loss"]))
        else:
            self.epochs.append({k: v for k, v in event.items() if k != "kind"})
            self.epoch, self.step = event["epoch"] + 1, 0

    def stop(self) -> None:
        if self.active:
            self.status = "stopping"
            self.stop_event.set()

    def run(self) -> None:
        try:
            fit = train_classifier if self.spec.task == "classifier" else train
            fit(self.spec, self.corpus, name=self.name, config=self.config,
                progress=self.on_progress, stop=self.stop_event, resume=self.resume,
                root=self.root)
            self.status = "stopped" if self.stop_event.is_set() else "done"
        except Exception as e:  # reported on the page; the thread must not die silently
            self.status = "stopped" if self.stop_event.is_set() and not self.epochs else "failed"
            self.error = f"{type(e).__name__}: {e}"
            if not isinstance(e, ValueError | RuntimeError):
                self.error += "\n" + traceback.format_exc(limit=3)
        finally:
            self.finished = time.time()


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
    first_epoch = check(spec, corpus, config, name, resume=resume, root=root)
    with _LOCK:
        busy = [j for j in JOBS.values() if j.active and j.name == name]
        if busy:
            raise ValueError(f"Model {name!r} is being trained already; wait or pick a new name.")
        job = Job(id=uuid.uuid4().hex[:8], owner=owner, name=name, spec=spec, config=config,
                  corpus=corpus, resume=resume, root=root, first_epoch=first_epoch,
                  epoch=first_epoch)
        JOBS[job.id] = job
    job.thread = threading.Thread(target=job.run, name=f"train-{name}", daemon=True)
    job.thread.start()
    return job


def jobs(*, owner: str | None = None) -> list[Job]:
    """All jobs, newest first; only ``owner``'s when given."""
    with _LOCK:
        found = list(JOBS.values())
    if owner is not None:
        found = [j for j in found if j.owner == owner]
    return sorted(found, key=lambda j: j.started, reverse=True)
