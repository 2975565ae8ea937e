"""The Train page's Experiments tab (Dahlberg's randomized search, Ryšánek's 2023 sweeps) and
the model-group pickers of the Distributions and Compare pages.

Searches and sweeps run as background jobs (:mod:`dashboard.jobs`, ``kind`` "search" or
"sweep"); their results live in ``experiment.json`` (:mod:`lib.train.experiments`), which the
results panel reads on every poll, so a finished or interrupted experiment shows the
same way as a running one.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import pandas as pd
import streamlit as st

from dashboard import charts, export, jobs, state
from dashboard.fmt import md
from dashboard.widgets.pickers import corpus_picker
from dashboard.widgets.vectors import pretrained_picker
from lib import limits
from lib.model.registry import RegistryError, list_groups, models_root
from lib.model.spec import ModelSpec, TrainConfig
from lib.train import experiments as X

P = "train.exp."  # widget keys; the "train." prefix keeps them across pages
KINDS = ("search", "sweep")
LR_GRID = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
SWEEP_DEFAULTS = {
    "dropout": "0:0.8:0.1",
    "units": "32, 64, 128, 256",
    "seed": "0, 1, 2",
    "learning_rate": "0.001, 0.003, 0.01",
    "batch_size": "16, 32, 64",
    "layers": "1, 2, 3",
    "embedding": "16, 32, 64",
}
DEFAULTS = {
    "kind": "Random search",
    "level": "char",
    "mode": "keep-space",
    "embedding": 32,
    "seq_len": 100,
    "optimizer": "adam",
    "max_tokens": 200_000,
    # search ranges and plan
    "cells": ["lstm"],
    "layers": (1, 1),
    "units": (64, 256),
    "units_step": 32,
    "lr_lo": 1e-3,
    "lr_hi": 1e-2,
    "batch": (32, 128),
    "batch_step": 32,
    "dropout": (0.0, 0.3),
    "trials": 6,
    "max_epochs": 3,
    "patience": 1,
    "metric": "val_loss",
    "seed": 0,
    "fine": False,
    "fine_trials": 4,
    "fine_top": 3,
    "keep_top": 0,
    "name": "",
    # sweep
    "s_cell": "lstm",
    "s_layers": 1,
    "s_units": 128,
    "s_dropout": 0.0,
    "s_lr": 3e-3,
    "s_batch": 32,
    "s_epochs": 5,
    "s_patience": 0,
    "setting": "dropout",
    "values": SWEEP_DEFAULTS["dropout"],
    "vary_seed": False,
    "group": "",
    # results
    "rank_by": "val_loss",
}


# --- background work ---------------------------------------------------------------------------


def _work(kind: str, run, n_trials: int, max_epochs: int):
    """A Job.work function: runs ``run(root=..., progress=..., stop=...)`` and mirrors its
    progress into the job (epoch = trials finished, step / 1000 = share of the current trial)."""

    def work(job: jobs.Job) -> None:
        finished = set()

        def progress(event: dict) -> None:
            if event["kind"] == "trial":
                row = event["row"]
                job.progress.detail["trial"] = row["trial"]
                if row["status"] not in ("pending", "running"):
                    finished.add(row["trial"])
                    job.progress.epoch, job.progress.step = len(finished), 0
                    job.persist()
            elif event["kind"] == "batch":
                within = (event["epoch"] + event["step"] / event["steps"]) / max_epochs
                job.progress.step, job.progress.steps = int(1000 * min(within, 1.0)), 1000

        run(root=job.settings.root, progress=progress, stop=job.stop_event)

    return work


def _launch(
    owner: str,
    kind: str,
    name: str,
    spec: ModelSpec,
    corpus,
    config: TrainConfig,
    n_trials: int,
    max_epochs: int,
    run,
) -> None:
    settings = jobs.JobSettings(
        id=uuid.uuid4().hex[:8],
        owner=owner,
        name=name,
        spec=spec,
        config=dataclasses.replace(config, epochs=n_trials),
        data_name=corpus.name,
        root=str(models_root()),
        kind=kind,
    )
    job = jobs.Job(
        settings,
        jobs.JobProgress(detail={"experiment": name, "n_trials": n_trials}),
        work=_work(kind, run, n_trials, max_epochs),
    )
    jobs.launch(job)  # no data copy: an interrupted experiment is started again, not resumed
    # shown in the results as soon as its job has written its record (a moment later)
    st.session_state[P + "pending"] = name


# --- the forms ---------------------------------------------------------------------------------


def _architecture() -> tuple[ModelSpec, TrainConfig, object]:
    """Settings every trial shares: corpus, level, embedding, sequence length, optimizer."""
    corpus = corpus_picker("train.exp")
    if corpus is not None:
        st.caption(f"{md(corpus.name)}: {len(corpus.text):,} characters.")
    c1, c2, c3, c4 = st.columns(4)
    level = c1.selectbox(
        "Level", ["char", "word"], key=P + "level", help="Characters or words as tokens."
    )
    mode = c1.selectbox(
        "Word tokens",
        ["keep-space", "words"],
        key=P + "mode",
        disabled=level == "char",
        format_func={
            "keep-space": "words, spaces and newlines",
            "words": "words and punctuation only",
        }.get,
        help="Dahlberg kept spaces and newlines as tokens.",
    )
    embedding = c2.number_input(
        "Embedding",
        1,
        512,
        key=P + "embedding",
        help="Size of the token vectors (the same in every trial).",
    )
    seq_len = c2.number_input(
        "Sequence length", 2, 1000, key=P + "seq_len", help="Tokens per training window."
    )
    optimizer = c3.selectbox(
        "Optimizer", ["adam", "rmsprop"], key=P + "optimizer", help="Dahlberg used RMSprop."
    )
    max_tokens = c4.number_input(
        "Use the first N tokens (0 = all)",
        0,
        50_000_000,
        step=50_000,
        key=P + "max_tokens",
        help="Keep trials quick: every trial trains on this text.",
    )
    spec = ModelSpec(
        level=level, tokenizer_mode=mode, embedding=int(embedding), seq_len=int(seq_len)
    )
    config = TrainConfig(optimizer=optimizer, max_tokens=int(max_tokens) or None)
    path, freeze = pretrained_picker(
        "train.exp",
        level=level,
        embedding=int(embedding),
        corpus=corpus,
        spec=spec,
        config_key=(1, None, config.max_tokens),
    )
    if path:
        config = dataclasses.replace(config, embedding_file=path, freeze_embedding=freeze)
    return spec, config, corpus


def _search_form(owner: str, spec: ModelSpec, config: TrainConfig, corpus) -> None:
    st.markdown("**Ranges** (each trial draws one value of each)")
    c1, c2, c3 = st.columns(3)
    cells = c1.multiselect(
        "Cells",
        ["lstm", "gru", "rnn"],
        key=P + "cells",
        format_func={"lstm": "LSTM", "gru": "GRU", "rnn": "vanilla RNN"}.get,
        help="Each trial picks one of these cells at random.",
    )
    layers = c1.slider("Layers", 1, 3, key=P + "layers", help="Stacked recurrent layers.")
    units = c2.slider(
        "Units",
        8,
        1024,
        step=8,
        key=P + "units",
        help="Neurons per layer, drawn from low, low + step, ... (Dahlberg: 32n).",
    )
    units_step = c2.number_input(
        "Units step", 1, 512, key=P + "units_step", help="Grid step of the units."
    )
    lr_lo = c3.select_slider(
        "Learning rate from",
        LR_GRID,
        key=P + "lr_lo",
        format_func=lambda v: f"{v:g}",
        help="Drawn log-uniformly between the two, rounded to one digit (Dahlberg: n x 10^m).",
    )
    lr_hi = c3.select_slider(
        "to",
        LR_GRID,
        key=P + "lr_hi",
        format_func=lambda v: f"{v:g}",
        help="The highest learning rate a trial may draw.",
    )
    dropout = c3.slider(
        "Dropout",
        0.0,
        0.8,
        step=0.01,
        key=P + "dropout",
        help="Drawn uniformly, rounded to 0.01 (Dahlberg: 0.10 to 0.40).",
    )
    d1, d2 = st.columns([2, 1])
    batch = d1.slider(
        "Batch size",
        8,
        512,
        step=8,
        key=P + "batch",
        help="Windows per step, drawn from low, low + step, ...",
    )
    batch_step = d2.number_input(
        "Batch step", 1, 256, key=P + "batch_step", help="Grid step of the batch size."
    )
    st.markdown("**Plan**")
    e1, e2, e3, e4 = st.columns(4)
    trials = e1.number_input(
        "Trials",
        1,
        200,
        key=P + "trials",
        help=f"Random configurations to train (this server allows {limits.limits().max_trials:,}).",
    )
    max_epochs = e2.number_input(
        "Max epochs per trial",
        1,
        100,
        key=P + "max_epochs",
        help="Dahlberg's coarse search: at most 3.",
    )
    patience = e3.number_input(
        "Early stopping patience",
        0,
        20,
        key=P + "patience",
        help="Stop a trial after this many epochs without a lower "
        "validation loss (0 = off); its best epoch is kept.",
    )
    metrics = ["val_loss", "val_accuracy", "val_bpc" if spec.level == "char" else "val_perplexity"]
    if st.session_state[P + "metric"] not in metrics:
        st.session_state[P + "metric"] = "val_loss"
    metric = e4.selectbox(
        "Rank by",
        metrics,
        key=P + "metric",
        help="Dahlberg ranked by validation accuracy; the loss is smoother.",
    )
    f1, f2, f3, f4, f5 = st.columns(5)
    seed = f1.number_input(
        "Seed",
        0,
        2**31 - 1,
        key=P + "seed",
        help="Draws every trial's settings and its own training seed.",
    )
    fine = f2.toggle(
        "Coarse then fine",
        key=P + "fine",
        help="After the trials above, narrow the ranges around the best and run "
        "more trials on a finer grid (Dahlberg's two stages).",
    )
    fine_trials = f3.number_input(
        "Fine trials",
        1,
        200,
        key=P + "fine_trials",
        disabled=not fine,
        help="Trials in the narrowed ranges.",
    )
    fine_top = f4.number_input(
        "Narrow around the best",
        1,
        20,
        key=P + "fine_top",
        disabled=not fine,
        help="How many best coarse trials the fine ranges span.",
    )
    keep_top = f5.number_input(
        "Keep the best as models",
        0,
        10,
        key=P + "keep_top",
        help="Copy this many best trials into the model picker when "
        "the search ends (you can also keep any trial below).",
    )
    auto = f"search-{time.strftime('%m%d-%H%M%S')}"
    name = st.text_input(
        "Experiment name",
        key=P + "name",
        placeholder=auto,
        help="Letters, digits, - and _; kept models are named after it.",
    )
    name = name.strip() or auto
    if st.button(
        "Start the search",
        type="primary",
        disabled=corpus is None,
        key="btn.exp.search",
        help="Runs in the background; trials appear below.",
    ):
        try:
            space = X.SearchSpace(
                cells=tuple(cells),
                layers=tuple(layers),
                units=tuple(units),
                units_step=int(units_step),
                learning_rate=(lr_lo, lr_hi),
                batch_size=tuple(batch),
                batch_step=int(batch_step),
                dropout=tuple(dropout),
            )
            plan = X.SearchPlan(
                space=space,
                n_trials=int(trials),
                max_epochs=int(max_epochs),
                patience=int(patience),
                metric=metric,
                seed=int(seed),
                fine_trials=int(fine_trials) if fine else 0,
                fine_top=int(fine_top),
                keep_top=int(keep_top),
            )
            X.check_search(spec, corpus, config, plan, name)

            def run(**kw):
                return X.run_search(spec, corpus, config, plan, name=name, **kw)

            _launch(
                owner, "search", name, spec, corpus, config, plan.total_trials, plan.max_epochs, run
            )
        except ValueError as e:
            st.error(f"Not started: {md(str(e))}")


def _sweep_form(owner: str, spec: ModelSpec, config: TrainConfig, corpus) -> None:
    st.markdown("**Architecture** (the same for every member except the swept setting)")
    c1, c2, c3, c4 = st.columns(4)
    cell = c1.selectbox(
        "Cell",
        ["lstm", "gru", "rnn"],
        key=P + "s_cell",
        format_func={"lstm": "LSTM", "gru": "GRU", "rnn": "vanilla RNN"}.get,
        help="The recurrent cell.",
    )
    layers = c1.number_input("Layers", 1, 3, key=P + "s_layers", help="Stacked layers.")
    units = c2.number_input("Units", 1, 1024, step=32, key=P + "s_units", help="Neurons per layer.")
    dropout = c2.slider(
        "Dropout", 0.0, 0.8, step=0.05, key=P + "s_dropout", help="Between layers, while training."
    )
    lr = c3.number_input(
        "Learning rate",
        1e-5,
        1.0,
        format="%.4f",
        key=P + "s_lr",
        help="Step size of the optimizer.",
    )
    batch = c3.number_input("Batch size", 1, 1024, key=P + "s_batch", help="Windows per step.")
    epochs = c4.number_input("Epochs", 1, 200, key=P + "s_epochs", help="Per member.")
    patience = c4.number_input(
        "Early stopping patience",
        0,
        20,
        key=P + "s_patience",
        help="0 = off; else stop after this many epochs without a "
        "lower validation loss and keep the best epoch.",
    )
    d1, d2, d3 = st.columns([1, 2, 1])
    setting = d1.selectbox(
        "Sweep over",
        list(X.SWEEPABLE),
        key=P + "setting",
        on_change=_default_values,
        help="Ryšánek (2023) trained nine LSTMs at dropout 0 to 0.8.",
    )
    values_text = d2.text_input(
        "Values", key=P + "values", help="Comma-separated, or start:stop:step (stop included)."
    )
    vary_seed = d3.checkbox(
        "Also vary the seed",
        key=P + "vary_seed",
        disabled=setting == "seed",
        help="Member i trains with seed + i (Ryšánek's 2023 models differ in seed and dropout).",
    )
    auto = f"sweep-{time.strftime('%m%d-%H%M')}"
    group = st.text_input(
        "Group name",
        key=P + "group",
        placeholder=auto,
        help="Members are named <group>-<setting>-<value>.",
    )
    group = group.strip() or auto
    if st.button(
        "Start the sweep",
        type="primary",
        disabled=corpus is None,
        key="btn.exp.sweep",
        help="Trains every member in turn in the background.",
    ):
        try:
            values = X.parse_values(values_text, setting)
            base = dataclasses.replace(
                spec, cell=cell, layers=int(layers), units=int(units), dropout=float(dropout)
            )
            conf = dataclasses.replace(
                config,
                learning_rate=float(lr),
                batch_size=int(batch),
                epochs=int(epochs),
                early_stopping=int(patience),
                keep_best=bool(patience),
            )
            X.check_sweep(
                base, corpus, conf, group=group, setting=setting, values=values, vary_seed=vary_seed
            )

            def run(**kw):
                return X.run_sweep(
                    base,
                    corpus,
                    conf,
                    group=group,
                    setting=setting,
                    values=values,
                    vary_seed=vary_seed,
                    **kw,
                )

            _launch(owner, "sweep", group, base, corpus, conf, len(values), int(epochs), run)
        except ValueError as e:
            st.error(f"Not started: {md(str(e))}")


def _default_values() -> None:
    st.session_state[P + "values"] = SWEEP_DEFAULTS[st.session_state[P + "setting"]]


# --- results -----------------------------------------------------------------------------------


def _keep(experiment: str) -> None:
    trial, name = st.session_state[P + "keep_trial"], st.session_state[P + "keep_name"].strip()
    try:
        X.keep_trial(experiment, int(trial), name or f"{experiment}-trial-{trial}")
        st.session_state[P + "message"] = (
            "success",
            f"Kept trial {trial} as model {name or f'{experiment}-trial-{trial}'}.",
        )
    except (RegistryError, X.ExperimentError) as e:
        st.session_state[P + "message"] = ("error", f"Not kept: {e}")


def _delete(experiment: str) -> None:
    try:
        X.delete_experiment(experiment)
        st.session_state[P + "message"] = (
            "success",
            f"Deleted experiment {experiment} (kept models stay).",
        )
    except X.ExperimentError as e:
        st.session_state[P + "message"] = ("error", str(e))


def _table(data: dict, metric: str) -> pd.DataFrame:
    df = X.results_table(data["rows"], metric)
    if data["kind"] == "sweep" and "trial" in df:  # in the setting's order, ranks shown
        df = df.sort_values("trial", kind="stable")
    first = ["rank", "trial", "stage", "status"] + (["value"] if data["kind"] == "sweep" else [])
    metrics = [m for m in X.METRICS if m in df]
    rest = [c for c in ("seed", "epochs", "best_epoch", "seconds", "model", "error") if c in df]
    cols = [c for c in first + list(X.PARAMS) + metrics + rest if c in df]
    return df[cols]


def _results_panel(owner: str) -> None:
    if kind_msg := st.session_state.pop(P + "message", None):
        getattr(st, kind_msg[0])(md(kind_msg[1]))
    failed = [
        j
        for j in jobs.jobs(owner=owner)
        if j.settings.kind in KINDS and j.progress.status is jobs.JobState.FAILED
    ]
    for job in failed[:3]:  # e.g. a check that failed in the job, before any trial ran
        st.error(f"Experiment {md(job.settings.name)} failed: {md(job.progress.error)}")
    experiments = X.list_experiments()
    if not experiments:
        return
    names = [e["name"] for e in experiments]
    if st.session_state.get(P + "pending") in names:  # the experiment just started
        st.session_state[P + "view"] = st.session_state.pop(P + "pending")
    elif st.session_state.get(P + "view") not in names:
        st.session_state[P + "view"] = names[0]
    st.subheader("Results")
    by_name = {e["name"]: e for e in experiments}
    name = st.selectbox(
        "Experiment",
        names,
        key=P + "view",
        format_func=lambda n: f"{n} ({by_name[n]['kind']}, {by_name[n]['status']})",
        help="Searches and sweeps of this server, newest first.",
    )
    data = by_name[name]
    job = next(
        (
            j
            for j in jobs.jobs()
            if j.settings.kind in KINDS and j.settings.name == name and j.active
        ),
        None,
    )
    rows, metric = data["rows"], data.get("metric", "val_loss")
    done = [r for r in rows if r["status"] in ("done", "stopped", "failed")]
    if job is not None:
        st.progress(
            job.fraction,
            text=f"{len(done)} of {len(rows)} trials finished · trial "
            f"{job.progress.detail.get('trial', 1)} running",
        )
        if job.settings.owner == owner and job.progress.status is jobs.JobState.RUNNING:
            st.button(
                "Stop",
                key=f"stop.{job.settings.id}",
                on_click=job.stop,
                help="End the running trial after its current batch (its finished "
                "epochs count) and skip the rest.",
            )
    elif data["status"] == "running":
        st.warning(
            "This experiment's job is not running any more (the server stopped?); its "
            "finished trials are below. Start it again under a new name to continue."
        )
    for note in data.get("notes", []):
        st.info(md(note))
    metrics = [m for m in X.METRICS if any(m in r for r in rows)] or ["val_loss"]
    if st.session_state.get(P + "rank_by") not in metrics:
        st.session_state[P + "rank_by"] = metric if metric in metrics else metrics[0]
    rank_by = st.selectbox(
        "Rank by",
        metrics,
        key=P + "rank_by",
        help="The table's order (click a column header to sort by it).",
    )
    table = _table(data, rank_by)
    export.table(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "learning_rate": st.column_config.NumberColumn(format="%.0e"),
            **{m: st.column_config.NumberColumn(format="%.4f") for m in X.METRICS},
        },
    )
    finished = table[table["status"] == "done"] if "status" in table else table.iloc[:0]
    if not finished.empty and rank_by in finished:
        params = (
            ["value"]
            if data["kind"] == "sweep"
            else [p for p in X.PARAMS if p in finished and finished[p].nunique() > 1] or ["units"]
        )
        export.chart(
            charts.metric_vs_params(
                finished.assign(stage=finished["stage"].astype(str)), metric=rank_by, params=params
            ),
            width="stretch",
        )
    if data["kind"] == "search" and not finished.empty:
        _keep_form(name, finished, rank_by)
    elif data["kind"] == "sweep" and not finished.empty:
        st.caption(
            f"The members form model group **{md(name)}**: open it on the "
            "Distributions or Compare page (model group picker)."
        )
        if st.button(
            "Open the group on Distributions",
            key="btn.exp.open_group",
            help="Compares every member on the same text.",
        ):
            st.session_state["dist.model_group_open"] = name
            st.switch_page("pages/distributions.py")
    if job is None:
        st.button(
            "Delete this experiment",
            key="btn.exp.delete",
            on_click=_delete,
            args=(name,),
            help="Removes its trials and record; models kept from it stay.",
        )


def _keep_form(name: str, finished: pd.DataFrame, rank_by: str) -> None:
    kept = {k["trial"]: k["model"] for k in X.kept_models(name)}
    trials = finished["trial"].astype(int).tolist()
    if st.session_state.get(P + "keep_trial") not in trials:
        st.session_state[P + "keep_trial"] = trials[0]
    c1, c2, c3 = st.columns([2, 2, 1])
    labels = {
        int(r["trial"]): f"trial {int(r['trial'])}: {r[rank_by]:.4f}"
        + (f" (kept as {kept[int(r['trial'])]})" if int(r["trial"]) in kept else "")
        for _, r in finished.iterrows()
    }
    trial = c1.selectbox(
        "Keep trial",
        trials,
        key=P + "keep_trial",
        format_func=labels.get,
        help="Best first. Its best epoch becomes a model in the picker.",
    )
    c2.text_input(
        "as model",
        key=P + "keep_name",
        placeholder=f"{name}-trial-{trial}",
        help="Letters, digits, - and _.",
    )
    c3.button(
        "Keep as model",
        key="btn.exp.keep",
        on_click=_keep,
        args=(name,),
        help="Copy the trial into the registry.",
    )


def experiments_tab(owner: str) -> None:
    """The Experiments tab: search and sweep forms, and the results of every experiment."""
    state.bind({P + k: v for k, v in DEFAULTS.items()})
    kind = (
        st.segmented_control(
            "Experiment",
            ["Random search", "Sweep"],
            key=P + "kind",
            help="A random search tries many configurations (Dahlberg); a sweep trains one "
            "architecture at several values of one setting (Ryšánek 2023).",
        )
        or "Random search"
    )
    spec, config, corpus = _architecture()
    if kind == "Random search":
        _search_form(owner, spec, config, corpus)
    else:
        _sweep_form(owner, spec, config, corpus)
    active = any(j.active for j in jobs.jobs(owner=owner) if j.settings.kind in KINDS)
    st.fragment(_results_fragment, run_every=1.0 if active else None)(owner)


def _results_fragment(owner: str) -> None:
    _results_panel(owner)
    finished = {
        j.settings.id for j in jobs.jobs(owner=owner) if j.settings.kind in KINDS and not j.active
    }
    seen = st.session_state.setdefault(P + "seen_finished", set())
    if finished - seen:  # a job ended since the last poll: rerun the page (picker, polling)
        seen |= finished
        st.rerun(scope="app")


# --- model groups on other pages ---------------------------------------------------------------


def group_picker(key: str, allowed: list[str], *, help: str) -> list[str] | None:
    """A "model group" selectbox; the chosen group's members among ``allowed`` (in sweep
    order), or None for no group (also when there are no groups).

    ``st.session_state[key + "_open"]``, set by another page, chooses the group once.
    """
    if (wanted := st.session_state.pop(key + "_open", None)) is not None:
        st.session_state[key] = wanted
    groups = {
        g: [m["name"] for m in members if m["name"] in allowed]
        for g, members in list_groups().items()
    }
    groups = {g: names for g, names in groups.items() if names}
    if not groups:
        return None
    options = ["(none)", *groups]
    if st.session_state.get(key) not in options:
        st.session_state[key] = "(none)"
    group = st.selectbox("Model group", options, key=key, help=help)
    return None if group == "(none)" else groups[group]


def group_values(names: list[str]) -> dict[str, tuple[str, float]]:
    """model -> (setting, value) for the members of any group among ``names``."""
    out = {}
    for members in list_groups().values():
        for m in members:
            if m["name"] in names:
                out[m["name"]] = (m["group"]["setting"], m["group"]["value"])
    return out
