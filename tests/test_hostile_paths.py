"""Hostile path text typed by a user (issue 18, classes 12 and 13): NUL characters,
5,000-character names, parts over 255 bytes, lone surrogates and loops of links give the
module's own error with a message, and no message or help text shows a server path."""

import json

import pytest

from dashboard import cache
from dashboard.widgets.vectors import folders_text, resolve_vectors_path
from lib.data.embeddings import VectorsError, check_pretrained, read_vectors, sniff
from lib.limits import ROOT
from lib.run.trace import TraceError, resolve_trace_path

GLOVE = "the 0.1 0.2\nfox 1 2\n"

HOSTILE = {
    "nul": ("glove\x00.txt", "holds a NUL character"),
    "long": ("v" * 5000, "has 5,0\\d\\d characters, over the 1,024 a path may have"),
    "long part": ("data/" + "v" * 300 + ".txt", "has 304 bytes, over the 255"),
    "surrogate": ("glove\ud800.txt", "characters that no file name can hold"),
}


def assert_no_server_path(message: str, tmp_path) -> None:
    assert str(tmp_path) not in message and str(ROOT) not in message, message


@pytest.fixture
def loop(tmp_path):
    """A link that points at itself: resolving it loops."""
    link = tmp_path / "traces" / "loop"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(link)
    return link


# --- traces --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("absolute", [False, True])
def test_hostile_trace_paths_are_trace_errors(tmp_path, kind, absolute):
    text, why = HOSTILE[kind]
    text = str(tmp_path / "traces" / text) if absolute else text
    roots = [tmp_path / "traces", tmp_path / "models"]
    with pytest.raises(TraceError, match=f"^the trace path .* cannot be used: .*{why}") as e:
        resolve_trace_path(text, roots)
    assert_no_server_path(str(e.value), tmp_path)


def test_a_trace_path_outside_the_roots_names_the_folders_not_their_paths(tmp_path):
    roots = [tmp_path / "traces", tmp_path / "models"]
    with pytest.raises(TraceError) as e:
        resolve_trace_path(str(tmp_path / "elsewhere" / "t.npz"), roots)
    assert str(e.value) == (
        "'t.npz' lies outside the folders this server opens traces from (the traces, "
        "models folders; an operator can set RNN_LENS_TRACES to another folder)"
    )
    with pytest.raises(TraceError, match="^'../../etc' lies outside the folders"):
        resolve_trace_path("../../etc", roots)


def test_a_loop_of_links_in_a_trace_path_is_a_trace_error(tmp_path, loop):
    roots = [tmp_path / "traces"]
    with pytest.raises(TraceError, match="^the trace path 'loop/x' cannot be resolved: ") as e:
        resolve_trace_path("loop/x", roots)
    assert_no_server_path(str(e.value), tmp_path)


def test_the_app_opens_hostile_or_damaged_traces_with_a_message(tmp_path, monkeypatch):
    traces = tmp_path / "traces"
    monkeypatch.setenv("RNN_LENS_TRACES", str(traces))
    monkeypatch.setenv("RNN_LENS_MODELS", str(tmp_path / "models"))
    for text, why in HOSTILE.values():
        with pytest.raises(TraceError, match=why):
            cache.disk_trace(text)
    damaged = traces / "damaged"
    damaged.mkdir(parents=True)
    manifest = {"format": "rnn-lens-trace-shards"}  # no "shards": a KeyError inside
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    for name in ["damaged", "absent", str(damaged)]:
        with pytest.raises(TraceError) as e:
            cache.disk_trace(name)
        assert_no_server_path(str(e.value), tmp_path)
    with pytest.raises(TraceError, match=r"^damaged/manifest.json must list 1 to 10,000 shards"):
        cache.disk_trace("damaged")
    # a manifest naming a shard folder out of the trace folder is refused, not followed
    manifest.update(shards=[{"index": 0, "folder": "../../etc", "start": 0, "stop": 5}])
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match="lists a shard that is not one RNN Lens writes"):
        cache.disk_trace("damaged")
    with pytest.raises(TraceError, match="^absent is not a saved Trace: expected"):
        cache.disk_trace("absent")


# --- vectors -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("read", [sniff, read_vectors, resolve_vectors_path])
def test_hostile_vector_paths_are_vectors_errors(tmp_path, registry, kind, read):
    text, why = HOSTILE[kind]
    with pytest.raises(VectorsError, match=f"^The vectors file name .* cannot be used: .*{why}"):
        read(text)
    with pytest.raises(VectorsError) as e:
        read(str(tmp_path / text))
    assert_no_server_path(str(e.value), tmp_path)


def test_check_pretrained_refuses_a_hostile_name(registry):
    with pytest.raises(VectorsError, match="cannot be used: it holds a NUL character"):
        check_pretrained("a\x00b", level="word", embedding=2)


def test_missing_or_misplaced_vectors_name_no_server_path(tmp_path, registry, monkeypatch):
    extra = tmp_path / "shared" / "glove"
    extra.mkdir(parents=True)
    (extra / "g.txt").write_text(GLOVE)
    outside = tmp_path / "outside.txt"
    outside.write_text(GLOVE)
    monkeypatch.setenv("RNN_LENS_VECTOR_DIRS", str(extra))
    assert resolve_vectors_path("g.txt") == (extra / "g.txt").resolve()
    folders = folders_text()
    assert folders == "uploads, data/vectors, glove (RNN_LENS_VECTOR_DIRS)"
    for text in ["absent.txt", str(outside), "../outside.txt", "../../etc/passwd"]:
        with pytest.raises(VectorsError) as e:
            resolve_vectors_path(text)
        message = str(e.value)
        assert f"in the folders this server reads vectors from ({folders})" in message
        assert_no_server_path(message, tmp_path)
    with pytest.raises(VectorsError) as e:
        sniff(tmp_path / "absent.txt")
    assert str(e.value) == "There is no vectors file named 'absent.txt'."


def test_a_loop_of_links_among_vectors_is_a_vectors_error(tmp_path, registry, monkeypatch):
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    monkeypatch.setenv("RNN_LENS_VECTOR_DIRS", str(folder))
    with pytest.raises(VectorsError, match="^No vectors file 'loop.txt' in the folders") as e:
        resolve_vectors_path("loop.txt")
    assert_no_server_path(str(e.value), tmp_path)
    with pytest.raises(VectorsError, match="^There is no vectors file named 'loop.txt'"):
        sniff(folder / "loop.txt")
