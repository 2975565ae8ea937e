"""A shared registry under hostile or careless writers (issue 18, classes 4, 10 and 11).

meta.json is bounded and checked against its schema before any page trusts it, listings
are cached until the registry changes, a save or training killed at any point leaves the
model listed, loadable and resumable, and one name has one writer across processes.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from lib.model import registry as reg
from lib.model.lock import NameLocked, held_elsewhere
from lib.model.meta import MAX_DEPTH, meta_problem
from tests.helpers import ROOT, TINY, TRAIN_TEXT, peak_rss_mb


def _env(root) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RNN_LENS_MODELS": str(root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _run(code: str, root, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=_env(root), capture_output=True, text=True, **kw
    )


def _listing(root) -> list[str]:
    return sorted(os.listdir(root))


def _copy(root, name: str, **meta_changes) -> dict:
    shutil.copytree(root / TINY, root / name)
    meta = json.loads((root / name / "meta.json").read_text())
    meta.update(meta_changes)
    (root / name / "meta.json").write_text(json.dumps(meta))
    return meta


@contextlib.contextmanager
def _held_by_another_thread(name: str, what: str, root=None):
    """Hold the write lock of ``name`` in another thread for the ``with`` block."""
    inside, release = threading.Event(), threading.Event()

    def hold():
        with reg.writing(name, root=root, what=what):
            inside.set()
            release.wait(60)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert inside.wait(60)
        yield
    finally:
        release.set()
        t.join()


# --- class 4: meta.json is trusted --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"metrics": [1, 2]}, "metrics must be an object, got list"),
        ({"metrics": {"val_bpc": "low"}}, "metrics.val_bpc must be a number, got str"),
        ({"corpus": "a string"}, "corpus must be an object, got str"),
        ({"corpus": {"name": ["x"]}}, "corpus.name must be a str, got list"),
        ({"group": {"name": 3}}, "group.name must be a str, got int"),
        ({"demo": "yes"}, "demo must be a bool, got str"),
        ({"epochs_done": 2.5}, "epochs_done must be an int, got number"),
        ({"history": [1]}, "history[0] must be an object, got int"),
        ({"sample": "x" * 30_000}, "sample is a text of 30,000 characters, over 20,000"),
    ],
)
def test_meta_of_the_wrong_type_is_broken_not_a_crash(tiny_registry, changes, why):
    _copy(tiny_registry, "bad", **{"demo": True, "demo_rank": -1, **changes})  # sorts first
    assert [m["name"] for m in reg.list_models()] == [TINY]
    broken = dict(reg.broken_models())
    assert list(broken) == ["bad"]
    assert "meta.json of model 'bad' is not valid" in broken["bad"]
    assert why in broken["bad"], broken["bad"]
    assert reg.list_groups() == {}


def test_meta_schema_by_hand():
    assert meta_problem([]) == "meta.json must hold an object, got list"
    assert meta_problem({"name": "m"}) == "meta.json has no model spec"
    deep: dict = {"spec": {}}
    node = deep
    for _ in range(MAX_DEPTH + 1):
        node["x"] = {}
        node = node["x"]
    assert "nested over 8 levels deep" in meta_problem(deep)
    assert meta_problem({"spec": {}, "extra": {"anything": [1, "a", None]}}) is None


def test_deeply_nested_meta_is_broken_not_a_recursion_error(tiny_registry):
    _copy(tiny_registry, "deep")
    (tiny_registry / "deep" / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    broken = dict(reg.broken_models())
    assert "is not valid JSON: RecursionError" in broken["deep"]
    assert [m["name"] for m in reg.list_models()] == [TINY]


def test_huge_meta_is_refused_by_its_size_before_it_is_read(tiny_registry):
    meta = _copy(tiny_registry, "huge")
    meta["description"] = "x" * 1000
    meta["padding"] = ["y" * 10_000] * 6000  # 60 MB
    (tiny_registry / "huge" / "meta.json").write_text(json.dumps(meta))
    assert (tiny_registry / "huge" / "meta.json").stat().st_size > 60e6
    broken = dict(reg.broken_models())
    assert "over this server's limit of 1,024 KB (max_meta_kb)" in broken["huge"]
    # a fresh process lists it in little memory: the file is never parsed (json.loads of
    # it alone would take ~200 MB)
    code = "from lib.model import registry as r; print([m['name'] for m in r.list_models()])"
    assert peak_rss_mb(code, {"RNN_LENS_MODELS": str(tiny_registry)}) < 120


def test_listing_is_cached_until_the_registry_changes(tiny_registry, monkeypatch):
    reads = []
    real = reg._read_meta_file
    monkeypatch.setattr(reg, "_read_meta_file", lambda p, n: reads.append(n) or real(p, n))
    first = reg.list_models()
    n = len(reads)
    assert n >= 1 and reg.list_models() == first and reg.broken_models() == []
    assert len(reads) == n  # nothing read again
    first[0]["metrics"] = "mutated by a caller"
    assert reg.list_models()[0].get("metrics") != "mutated by a caller"
    _copy(tiny_registry, "second")
    assert [m["name"] for m in reg.list_models()] == ["second", TINY]
    meta_path = tiny_registry / "second" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["description"] = "changed"
    time.sleep(0.01)  # mtime granularity: let the stamp differ
    meta_path.write_text(json.dumps(meta))
    assert [m.get("description") for m in reg.list_models()][0] == "changed"


# --- class 10: a crash between the renames of a save -------------------------------------


def test_a_save_cut_between_its_renames_is_listed_loadable_and_settled(tiny_registry):
    folder = tiny_registry / TINY
    os.rename(folder, tiny_registry / f".{TINY}.old-1234abcd")  # the first rename only
    (tiny_registry / f".{TINY}.tmp-99").mkdir()  # a partial new version
    assert [m["name"] for m in reg.list_models()] == [TINY]  # listing settles it
    assert _listing(tiny_registry) == [".locks", TINY]
    assert reg.load(TINY).spec.units == 16


def test_resume_finds_a_model_whose_save_was_cut(tiny_registry):
    os.rename(tiny_registry / TINY, tiny_registry / f".{TINY}.old-1234abcd")
    assert reg.read_meta(TINY)["name"] == TINY  # model_dir looks there too
    assert TINY in {m["name"] for m in reg.list_models()}


def test_leftovers_of_a_name_being_written_are_left_alone(tiny_registry):
    tmp = tiny_registry / f".{TINY}.tmp-abc"
    tmp.mkdir()
    with _held_by_another_thread(TINY, "saving"):
        assert reg.recover() == []
        assert tmp.is_dir()
    assert reg.recover() == [TINY] and not tmp.exists()


def _kill_save_between_renames(root) -> subprocess.CompletedProcess:
    code = f"""
import os
from lib.model import registry as r
b = r.load({TINY!r})
real = os.rename
calls = []
def cut(src, dst):
    calls.append(dst)
    real(src, dst)
    if len(calls) == 1:
        os._exit(9)  # killed after the old version moved away, before the new one moved in
os.rename = cut
r.save(b, {TINY!r}, new_checkpoint=(7, b.model))
"""
    return _run(code, root)


def test_crash_injection_kill_a_save_between_its_renames(tiny_registry):
    out = _kill_save_between_renames(tiny_registry)
    assert out.returncode == 9, out.stderr
    left = _listing(tiny_registry)
    assert TINY not in left and any(n.startswith(f".{TINY}.old-") for n in left), left
    assert any(n.startswith(f".{TINY}.tmp-") for n in left), left  # the new version, unmoved
    # the lock died with the process; the next listing puts the old version back
    assert held_elsewhere(tiny_registry, TINY) is None
    assert [m["name"] for m in reg.list_models()] == [TINY]
    assert _listing(tiny_registry) == [".locks", TINY]
    bundle = reg.load(TINY)
    assert bundle.spec.units == 16
    reg.save(bundle, TINY)  # and it can be written again


def _train_code(name: str, epochs: int, *, kill_in_epoch: int = 0, hold: str = "") -> str:
    """A training of a 1 x 8 LSTM in a subprocess: killed at the first batch of epoch
    ``kill_in_epoch`` (1-based; 0: never), or holding on at its first batch until the file
    ``hold`` exists."""
    return f"""
import os, sys, time, pathlib
from lib.data.corpora import Corpus
from lib.model.spec import ModelSpec, TrainConfig
from lib.train.fit import train
text = {TRAIN_TEXT!r}
spec = ModelSpec(cell="lstm", layers=1, units=8, embedding=4, seq_len=20)
config = TrainConfig(epochs={epochs}, batch_size=16, learning_rate=0.01)
resume = "--resume" in sys.argv
def hook(e):
    if e["kind"] == "batch" and e["epoch"] + 1 == {kill_in_epoch}:  # Keras counts from 0
        os._exit(9)
    if {hold!r} and e["kind"] == "batch":
        pathlib.Path({hold!r} + ".started").touch()
        for _ in range(1200):
            if pathlib.Path({hold!r}).exists():
                break
            time.sleep(0.1)
b = train(spec, Corpus("t", text, "pasted", "pasted"), name={name!r}, config=config,
          progress=hook, resume=resume)
print("epochs", b.meta["epochs_done"])
"""


@pytest.mark.slow
def test_crash_injection_kill_a_training_between_epochs(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    out = _run(_train_code("killed", 4, kill_in_epoch=3), root)
    assert out.returncode == 9, out.stderr[-2000:]
    assert [m["name"] for m in reg.list_models(root=root)] == ["killed"]
    meta = reg.read_meta("killed", root=root)
    assert meta["epochs_done"] == 2  # epochs 1 and 2 were saved; 3 was cut mid-way
    assert [e for e, _ in reg.checkpoints("killed", root=root)] == [1, 2]
    assert reg.load("killed", root=root).spec.units == 8
    code = _train_code("killed", 4)
    resumed = subprocess.run(
        [sys.executable, "-c", code, "--resume"], env=_env(root), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "epochs 4" in resumed.stdout
    assert [e for e, _ in reg.checkpoints("killed", root=root)] == [1, 2, 3, 4]


# --- class 11: one writer per name, across processes --------------------------------------


def test_a_second_thread_cannot_write_a_name_being_written(tiny_registry):
    with _held_by_another_thread(TINY, "training"):
        with pytest.raises(NameLocked, match=r"'tiny-char-lstm' is being written by training"):
            reg.save(reg.load(TINY), TINY)
        with pytest.raises(NameLocked, match="being written by training"):
            reg.delete(TINY)
        with pytest.raises(NameLocked, match="being written by training"):
            reg.check_writable(TINY)
    reg.check_writable(TINY)  # free again
    with reg.writing(TINY), reg.writing(TINY):  # one thread may nest its own lock
        reg.save(reg.load(TINY), TINY)


def test_an_import_under_a_name_being_trained_is_refused(tiny_registry):
    data = reg.export_archive(TINY)
    with _held_by_another_thread("fresh", "training"):  # before a training's first save
        before = _listing(tiny_registry)
        with pytest.raises(NameLocked, match="'fresh' is being written by training"):
            reg.import_archive(data, "fresh")
        assert _listing(tiny_registry) == before
    assert reg.import_archive(data, "fresh").spec.units == 16  # free once training ended


@pytest.mark.slow
def test_two_processes_train_one_name_one_is_refused_and_the_model_is_intact(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    hold = tmp_path / "release"
    first = subprocess.Popen(
        [sys.executable, "-c", _train_code("shared", 2, hold=str(hold))],
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = tmp_path / "release.started"
        for _ in range(3000):  # the first process is inside its training
            if started.exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert started.exists(), first.stderr.read() if first.poll() is not None else ""
        (tmp_path / "corpus.txt").write_text(TRAIN_TEXT)
        cli = [
            sys.executable, "-m", "lib", "train", "--file", str(tmp_path / "corpus.txt"),
            "--name", "shared", "--units", "8", "--embedding", "4", "--seq-len", "20",
            "--epochs", "1",
        ]  # fmt: skip
        second = subprocess.run(cli, env=_env(root), capture_output=True, text=True)
        assert second.returncode != 0
        assert "'shared' is being written by training (process" in second.stderr
        assert f"process {first.pid}," in second.stderr
    finally:
        hold.touch()
        out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err[-2000:]
    assert "epochs 2" in out
    bundle = reg.load("shared", root=root)
    assert bundle.meta["epochs_done"] == 2 and bundle.spec.units == 8
    assert [e for e, _ in reg.checkpoints("shared", root=root)] == [1, 2]
