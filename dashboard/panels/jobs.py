"""The Train page's live view of training jobs, polled with st.fragment(run_every=...)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import charts, export, jobs
from dashboard.fmt import md
from lib.model.spec import TrainConfig

#: (metric, its baseline, label): bits per char, perplexity, or classifier test accuracy
HEADLINES = [
    ("val_bpc", "baseline_bpc", "validation bits per character"),
    ("val_perplexity", "baseline_perplexity", "validation perplexity"),
    ("test_accuracy", "baseline_accuracy", "test accuracy"),
]


#: what the job card says while training prepares (lib.train.fit.PHASES), before a batch
PHASE_TEXT = {
    "": "Starting the job…",
    "tokenizing": "Tokenizing the text and building the vocabulary…",
    "building the model": "Building the model…",
    "first batch": "Running the first batch (Keras compiles the model first, which "
    "can take a while on a busy server)…",
}


def phase_text(phase: str) -> str:
    """The job card's line for a preparation phase (unknown phases are shown as they are)."""
    return PHASE_TEXT.get(phase, f"{phase[:1].upper()}{phase[1:]}…")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _resume(owner: str, job: jobs.Job, epochs: int) -> None:
    config = TrainConfig(**{**job.settings.config.__dict__, "epochs": epochs})
    if job.data is None:  # a finished job of another server process: its data is not here
        st.session_state["train.resume_error"] = (
            f"The training data of {job.settings.name!r} is not in this server's memory; "
            "choose the same corpus in the form above, tick Resume and train."
        )
        return
    try:
        jobs.start(owner, job.settings.spec, job.data, config, job.settings.name, resume=True)
    except ValueError as e:
        st.session_state["train.resume_error"] = str(e)


def _resume_interrupted(owner: str, job: jobs.Job, epochs: int) -> None:
    try:
        jobs.resume_interrupted(owner, job.settings.id, epochs)
    except ValueError as e:
        st.session_state["train.resume_error"] = str(e)


def _job_card(owner: str, job: jobs.Job) -> None:
    settings = job.settings
    total = settings.config.epochs
    status = job.progress.stop_note or job.progress.status.value
    st.markdown(
        f"**{md(settings.name)}** · {md(settings.spec.describe())} on "
        f"{md(settings.data_name)} · {md(status)}"
    )
    if job.active:
        if job.progress.steps:
            st.progress(
                job.fraction,
                text=f"epoch {min(job.progress.epoch + 1, total)}/{total} · step "
                f"{job.progress.step}/{job.progress.steps} · ETA {_duration(job.eta_seconds())}",
            )
        else:
            elapsed = _duration(time.time() - job.progress.started)
            st.progress(0.0, text=f"{phase_text(job.progress.phase)} ({elapsed} so far)")
        if job.progress.status is jobs.JobState.RUNNING:
            st.button(
                "Stop",
                key=f"stop.{job.settings.id}",
                on_click=job.stop,
                help="Stop now, or after the batch that is running; finished epochs are kept.",
            )
        else:
            st.caption("Stopping after the batch that is running…")
    elif job.progress.status is jobs.JobState.INTERRUPTED:
        done = job.progress.epochs[-1]["epoch"] + 1 if job.progress.epochs else 0
        c1, c2 = st.columns([1, 3])
        more = c1.number_input(
            "Continue to epoch",
            done + 1,
            done + 200,
            max(total, done + 1),
            key=f"more.{job.settings.id}",
            help="Resume training from the last saved epoch.",
        )
        c2.button(
            "Resume",
            key=f"btn.resume.{job.settings.id}",
            on_click=_resume_interrupted,
            args=(owner, job, int(more)),
            disabled=not done,
            help="Continue this model from its last saved epoch (needs one).",
        )
    elif job.progress.status in (jobs.JobState.STOPPED, jobs.JobState.DONE) and job.progress.epochs:
        done = job.progress.epochs[-1]["epoch"] + 1
        c1, c2 = st.columns([1, 3])
        more = c1.number_input(
            "Continue to epoch",
            done + 1,
            done + 200,
            max(total, done + 5) if total <= done else total,
            key=f"more.{job.settings.id}",
            help="Resume training from the last saved epoch.",
        )
        c2.button(
            "Resume",
            key=f"resume.{job.settings.id}",
            on_click=_resume,
            args=(owner, job, int(more)),
            help="Continue training this model.",
        )
    if job.progress.error:
        (st.warning if job.progress.status is jobs.JobState.STOPPED else st.error)(
            md(job.progress.error)
        )
    # a curve needs two points; a job stopped before an epoch ended says so in its status
    if len(job.progress.batch_losses) > 1 or job.progress.epochs:
        batches = pd.DataFrame(job.progress.batch_losses, columns=["epoch", "loss"])
        rows = [
            {"epoch": e["epoch"] + 1, "series": k, "value": e["logs"][k]}
            for e in job.progress.epochs
            for k in ("loss", "val_loss")
        ]
        epochs = pd.DataFrame(rows, columns=["epoch", "series", "value"])
        left, right = st.columns([3, 2])
        export.chart(where=left, chart=charts.training_curves(batches, epochs), width="stretch")
        if job.progress.epochs:
            metrics = job.progress.epochs[-1]["metrics"]
            key, base, label = next(k for k in HEADLINES if k[0] in metrics)
            higher_better = key == "test_accuracy"
            right.metric(
                label.capitalize(),
                f"{metrics[key]:.3f}",
                delta=f"{metrics[key] - metrics[base]:+.3f} vs baseline {metrics[base]:.3f}",
                delta_color="normal" if higher_better else "inverse",
            )
            per_epoch = pd.DataFrame(
                {
                    "epoch": [e["epoch"] + 1 for e in job.progress.epochs],
                    "value": [e["metrics"][key] for e in job.progress.epochs],
                }
            )
            export.chart(
                where=right,
                chart=charts.metric_vs_baseline(per_epoch, metric=label, baseline=metrics[base]),
                width="stretch",
            )
            st.caption(
                f"After epoch {job.progress.epochs[-1]['epoch'] + 1}"
                + (" (a sample at temperature 0.8):" if job.settings.spec.task == "lm" else ":")
            )
            st.code(job.progress.epochs[-1]["sample"] or " ", language=None, wrap_lines=True)


def _panel(owner: str) -> None:
    everyone = [j for j in jobs.jobs() if j.settings.kind == "train"]
    # after a restart no session owns an interrupted job: anyone may resume it
    mine = [
        j
        for j in everyone
        if j.settings.owner == owner or j.progress.status is jobs.JobState.INTERRUPTED
    ]
    if err := st.session_state.pop("train.resume_error", None):
        st.error(f"Not resumed: {md(err)}")
    if not mine:
        return
    st.subheader("Your training jobs")
    for job in mine[:5]:
        with st.container(border=True):
            _job_card(owner, job)
    # a job that finished since the last poll: rerun the whole page so the picker shows it
    finished = {j.settings.id for j in mine if not j.active}
    seen = st.session_state.setdefault("train.seen_finished", set())
    if finished - seen:
        seen |= finished
        st.rerun(scope="app")


def job_panel(owner: str) -> None:
    """This session's jobs: progress, charts, sample, Stop / Resume (polled while active)."""
    active = any(j.active for j in jobs.jobs(owner=owner) if j.settings.kind == "train")
    st.fragment(_panel, run_every=1.0 if active else None)(owner)


def other_jobs_table(owner: str) -> None:
    """Jobs of other sessions on this server (read-only)."""
    others = [
        j
        for j in jobs.jobs()
        if j.settings.owner != owner and j.active and j.settings.kind == "train"
    ]
    if others:
        st.caption("Also training on this server (started by other sessions):")
        export.table(
            pd.DataFrame(
                [
                    {
                        "model": j.settings.name,
                        "architecture": j.settings.spec.describe(),
                        "status": str(j.progress.status),
                        "progress": f"{j.fraction:.0%}",
                    }
                    for j in others
                ]
            ),
            hide_index=True,
        )
