"""Recording in shards: shard folders plus a manifest that open as one Trace, equal to one
recording; shards recorded alone (several machines) from a warm-up; the CLI; opening a
recorded trace in the app, with its path checked."""

import json

import numpy as np
import pytest

from lib.model.registry import load
from lib.run.record import record, record_shards
from lib.run.trace import ConcatRows, TraceError, open_trace, resolve_trace_path
from tests.helpers import DEMO, TEXT, TINY, app, random_bundle

LONG = (TEXT * 8)[:5000]


@pytest.fixture(scope="module")
def bundle():
    return random_bundle(cell="lstm", layers=2, units=12, scale=0.3)


@pytest.fixture(scope="module")
def single(bundle):
    return record(bundle, LONG, streams=1)


def test_shards_open_as_one_trace_equal_to_a_single_recording(tmp_path, bundle, single):
    record_shards(bundle, LONG, tmp_path, 3, dtype="float32", chunk_tokens=700)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [(s["start"], s["stop"]) for s in manifest["shards"]] == [
        (0, 1667),
        (1667, 3333),
        (3333, 5000),
    ]
    joined = open_trace(tmp_path)
    assert joined.storage == "shards" and len(joined) == 5000
    assert isinstance(joined.signals[(1, "c")], ConcatRows)
    assert joined.tokens == single.tokens and joined.model_name == single.model_name
    for key, v in single.signals.items():
        np.testing.assert_allclose(np.asarray(joined.signals[key]), v, atol=2e-5)
    # exact states across the boundaries: next_prob too, NaN only after the last token
    np.testing.assert_allclose(joined.next_prob, single.next_prob, atol=1e-6, equal_nan=True)
    assert np.isnan(joined.next_prob).sum() == 1
    np.testing.assert_array_equal(np.asarray(joined.topk_ids), single.topk_ids)
    assert [s["record"]["dtype"] for s in joined.meta["shards"]] == ["float32"] * 3
    # a window across a boundary reads only the shards it spans
    window = joined.window(1600, 1700)
    np.testing.assert_allclose(
        window.signals[(0, "h")], single.signals[(0, "h")][1600:1700], atol=2e-5
    )


def test_concat_rows_indexes_like_the_joined_array():
    parts = [np.arange(12.0).reshape(4, 3), np.arange(12.0, 21.0).reshape(3, 3)]
    joined, whole = ConcatRows(parts), np.concatenate(parts)
    assert joined.shape == (7, 3) and len(joined) == 7 and joined.dtype == whole.dtype
    for index in (
        3,
        -1,
        slice(2, 6),
        slice(None, None, 2),
        slice(5, 2),
        np.array([6, 0, 4]),
        whole[:, 0] > 8,
        (slice(1, 6), 2),
        (np.array([1, 5]), slice(0, 2)),
    ):
        np.testing.assert_array_equal(joined[index], whole[index])
    np.testing.assert_array_equal(np.asarray(joined), whole)
    with pytest.raises(IndexError, match="row 7 is out of range for 7 rows"):
        joined[7]
    with pytest.raises(ValueError, match=r"part 1 has shape \(2, 4\)"):
        ConcatRows([np.zeros((2, 3)), np.zeros((2, 4))])


def test_shards_recorded_alone_start_from_a_warm_up(tmp_path, bundle, single):
    record_shards(bundle, LONG, tmp_path, 3, shard=1, shard_warmup=400)
    with pytest.raises(TraceError, match=r"missing 2 of 3 shards \(indices \[0, 2\]\)"):
        open_trace(tmp_path)
    for k in (2, 0):
        record_shards(bundle, LONG, tmp_path, 3, shard=k, shard_warmup=400)
    joined = open_trace(tmp_path)
    states = [s["start_state"] for s in joined.meta["shards"]]
    assert states[0] == "exact" and states[1].startswith("zero state 400 tokens before")
    h = np.asarray(joined.signals[(1, "h")], np.float32)
    assert joined.dtype == np.float16
    # after its warm-up a shard agrees with the exact recording to float16's resolution
    np.testing.assert_allclose(h, single.signals[(1, "h")], atol=2e-3)


def test_a_folder_of_another_recording_is_refused(tmp_path, bundle):
    record_shards(bundle, LONG[:1000], tmp_path, 2)
    with pytest.raises(ValueError, match="holds shards of another recording .* 2 shards"):
        record_shards(bundle, LONG[:1000], tmp_path, 3)
    with pytest.raises(ValueError, match=r"shards must be 1 to 1,000 .* got 0"):
        record_shards(bundle, LONG[:1000], tmp_path / "x", 0)
    with pytest.raises(ValueError, match="shard index must be 0 to 1, got 2"):
        record_shards(bundle, LONG[:1000], tmp_path / "y", 2, shard=2)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("traces/a", True),
        ("a/b", True),
        ("models/m", True),
        ("../elsewhere", False),
        ("/etc", False),
        ("traces/../../x", False),
        ("  ", False),
    ],
)
def test_trace_paths_must_lie_under_the_configured_folders(tmp_path, path, ok):
    roots = [tmp_path / "traces", tmp_path / "models"]
    text = path if not path.startswith(("traces", "models")) else str(tmp_path / path)
    if ok:
        assert resolve_trace_path(text, roots).is_relative_to(tmp_path)
    else:
        with pytest.raises(TraceError, match="outside the folders|give the path"):
            resolve_trace_path(text, roots)


def test_cli_records_a_folder_and_shards(tmp_path, registry, capsys):
    from lib.__main__ import main

    text = tmp_path / "t.txt"
    text.write_text(LONG[:3000], encoding="utf-8")
    main(
        [
            "record",
            "--model",
            DEMO,
            "--text",
            str(text),
            "--dtype",
            "float16",
            "--out",
            str(tmp_path / "one"),
        ]
    )
    assert "written to" in capsys.readouterr().out
    one = open_trace(tmp_path / "one")
    assert one.dtype == np.float16 and one.storage == "memory-mapped" and len(one) == 3000
    main(
        [
            "record",
            "--model",
            DEMO,
            "--text",
            str(text),
            "--shards",
            "2",
            "--shard-index",
            "0",
            "--out",
            str(tmp_path / "sh"),
        ]
    )
    assert "shard 0 of 2 written" in capsys.readouterr().out
    main(
        [
            "record",
            "--model",
            DEMO,
            "--text",
            str(text),
            "--shards",
            "2",
            "--shard-index",
            "1",
            "--out",
            str(tmp_path / "sh"),
        ]
    )
    joined = open_trace(tmp_path / "sh")
    # shard 1's warm-up (2,000 tokens) reaches the text's start: exact, to float16 rounding
    assert joined.meta["shards"][1]["start_state"] == "exact"
    np.testing.assert_allclose(
        np.asarray(joined.signals[(0, "c")], np.float32),
        np.asarray(one.signals[(0, "c")], np.float32),
        rtol=2**-10,
        atol=1e-3,
    )
    with pytest.raises(SystemExit, match="--shard-index needs --shards N"):
        main(
            [
                "record",
                "--model",
                DEMO,
                "--text",
                str(text),
                "--shard-index",
                "1",
                "--out",
                str(tmp_path / "x"),
            ]
        )


@pytest.mark.slow
def test_the_app_analyses_a_window_of_a_trace_on_disk(tmp_path, tiny_registry, monkeypatch):
    traces = tmp_path / "traces"
    monkeypatch.setenv("RNN_LENS_TRACES", str(traces))
    record_shards(load(TINY), LONG, traces / "demo", 2)
    at = app()
    for key, value in {
        "fft.source": "Recorded on disk",
        "fft.trace_path": "demo",
        "fft.trace_start": 1000,
        "fft.trace_len": 3000,
    }.items():
        at.session_state[key] = value
    at.switch_page("pages/fourier.py").run()
    assert not at.exception, at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Analysed"))
    assert caption.startswith("Analysed 3,000 of 5,000 tokens (tokens 1,000 to 3,999 of ")
    assert caption.endswith("(float16).")
    assert at.dataframe  # the spectrum ran on the window
    at.text_input(key="fft.trace_path").input("../../etc").run()
    assert any(
        "outside the folders this server opens traces from" in w.value for w in at.warning
    ), [w.value for w in at.warning]
