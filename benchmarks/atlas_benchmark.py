"""Neuron Atlas (issue 16): the atlas of a 256-unit layer over 100,000 tokens, cold and warm.

The model is the shipped ``demo-stdlib-char-lstm`` (a trained 1x256 char LSTM); the text
is 100,000 characters of the standard-library corpus after its training portion (held
out). Cold: :func:`lib.analysis.atlas.atlas` from the recording (feature bank, every
(neuron, feature) effect and shift test, intervals, contexts, periods, saturation).
Warm: the Neuron Atlas page in AppTest once its atlas is cached (what a user waits for
when reopening it). Targets: cold < 60 s, warm < 1 s.

    .venv/bin/python benchmarks/atlas_benchmark.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))

from benchmarks.common import Figure, print_figures  # noqa: E402

MODEL = "demo-stdlib-char-lstm"
HELD_OUT = 1_500_000  # the demo model trained on the corpus's first 1.5 M characters
TARGET_COLD = 60.0
TARGET_WARM = 1.0


def held_out_text(n_chars: int) -> str:
    """``n_chars`` of the stdlib corpus after the demo model's training portion."""
    from lib.data.corpora import builtin_corpus

    return builtin_corpus("python-stdlib").text[HELD_OUT : HELD_OUT + n_chars]


def time_cold(n_chars: int) -> tuple[float, dict]:
    """Seconds of one atlas of layer 0's h, and what it found."""
    from lib.analysis.atlas import atlas
    from lib.model.registry import load
    from lib.run.record import record

    bundle = load(MODEL)
    trace = record(bundle, held_out_text(n_chars))
    start = time.perf_counter()
    found = atlas(trace, 0, level="char")
    seconds = time.perf_counter() - start
    return seconds, {
        "tokens": found.n_tokens,
        "share_clear": found.share_clear,
        "share_memory": found.share_memory,
        "top_features": found.top_features(5),
        "features": len(found.matches["feature"].unique()),
    }


def time_warm(n_chars: int, runs: int = 3) -> float:
    """Best seconds of reopening the atlas page in AppTest once its atlas is cached."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.query_params["model"] = MODEL
    at.session_state["model"] = MODEL
    at.session_state["atlas.slice_len"] = n_chars
    at.switch_page("pages/atlas.py").run()
    at.button(key="btn.atlas.build").click().run()
    assert not at.exception, at.exception
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        best = min(best, time.perf_counter() - start)
        assert not at.exception, at.exception
    return best


def run(*, quick: bool = False, log=print) -> tuple[list[Figure], dict]:
    n_chars = 20_000 if quick else 100_000
    cold, found = time_cold(n_chars)
    log(f"  atlas cold: {cold:.1f} s for {found['tokens']:,} tokens")
    warm = time_warm(min(n_chars, 100_000))
    log(f"  atlas page warm: {warm:.2f} s")
    what = f"{MODEL}, layer 0 h (256 units), {found['tokens']:,} held-out characters"
    figs = [
        Figure(
            "atlas",
            "Neuron Atlas, cold",
            cold,
            "s",
            TARGET_COLD,
            higher_is_better=False,
            source="issue 16",
            note=what,
            extra=f"{found['share_clear']:.0%} with a role, "
            f"{found['share_memory']:.0%} needing memory",
        ),
        Figure(
            "atlas",
            "Neuron Atlas page, warm",
            warm,
            "s",
            TARGET_WARM,
            higher_is_better=False,
            source="issue 16",
            note="AppTest rerun of the page with its atlas cached (script time, best of 3)",
        ),
    ]
    return figs, {"cold": cold, "warm": warm, **found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 characters")
    args = parser.parse_args()
    figs, details = run(quick=args.quick)
    print_figures(figs)
    print(details)


if __name__ == "__main__":
    main()
