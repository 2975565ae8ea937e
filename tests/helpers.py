"""Plain helpers and constants shared by the tests (fixtures live in conftest.py).

Keras, SciPy and Streamlit are imported inside the helpers that need them, so conftest.py
and a test module that only wants a constant do not load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

    from lib.model.bundle import ModelBundle

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
#: the default demo model, the one the app opens on
DEMO = "demo-ref-char-lstm"
#: a small character LSTM with random weights on the demo's corpus (conftest tiny_registry)
TINY = "tiny-char-lstm"
TINY_CORPUS = "builtin:python-reference"

TEXT = (
    'def f(x):\n    return "a (b) c" + x  # note\n'
    "The quick brown fox jumps over the lazy dog. <script>alert(1)</script>\n"
) * 6

#: a small pasted corpus for the Train page
TRAIN_TEXT = "def add(a, b):\n    return a + b\n\n# adds two numbers\n" * 40

# --- models -------------------------------------------------------------------------------


def random_bundle(
    cell="lstm", layers=1, units=12, level="char", scale=0.25, seed=0, text=TEXT, embedding=6
) -> ModelBundle:
    """A model with random weights of moderate size (so float32 round-off stays small)."""
    from lib.data.tokenizer import Vocab
    from lib.model.build import build
    from lib.model.bundle import ModelBundle
    from lib.model.spec import ModelSpec

    spec = ModelSpec(
        cell=cell, level=level, layers=layers, units=units, embedding=embedding, seq_len=20
    )
    vocab = Vocab.build(spec.tokenizer.tokenize(text))
    model = randomize_weights(build(spec, len(vocab)), scale=scale, seed=seed)
    return ModelBundle(
        model=model, vocab=vocab, tokenizer=spec.tokenizer, spec=spec, name=f"test-{cell}"
    )


def randomize_weights(model, *, scale: float, seed: int):
    """Replace every weight of ``model`` by N(0, scale) draws; returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in weights])
    return model


# --- planted activations ------------------------------------------------------------------

SPIKE_UNIT = 17  # spikes at every space
PERIOD_UNIT = 42  # oscillates with period 4, unrelated to the text


def ar1(rng: np.random.Generator, n_steps: int, n_units: int, *, phi: float, sd: float):
    """Autocorrelated noise a_t = phi a_t-1 + e_t, e ~ N(0, sd^2), shape (n_steps, n_units)."""
    import scipy.signal

    noise = rng.normal(0.0, sd, size=(n_steps, n_units))
    return scipy.signal.lfilter([1.0], [1.0, -phi], noise, axis=0)


def planted_layer(n_steps: int = 2000, n_units: int = 64, seed: int = 0):
    """Tokens, the "space" mask and float32 activations with two planted units.

    All units are AR(1) noise (phi 0.8). Unit SPIKE_UNIT adds 2 at every space (~15 % of the
    tokens); unit PERIOD_UNIT adds cos(pi t / 2), period 4 (frequency 0.25).
    """
    from lib.analysis.features import REGEX_PRESETS, regex_mask

    rng = np.random.default_rng(seed)
    alphabet = list("abcdefgh ")
    tokens = rng.choice(alphabet, size=n_steps, p=[0.85 / 8] * 8 + [0.15]).tolist()
    mask = regex_mask(tokens, REGEX_PRESETS["space"])
    acts = ar1(rng, n_steps, n_units, phi=0.8, sd=0.5)
    acts[:, SPIKE_UNIT] += 2.0 * mask
    acts[:, PERIOD_UNIT] += np.cos(np.pi * np.arange(n_steps) / 2)
    return tokens, mask, acts.astype(np.float32)


# --- the app through Streamlit's AppTest --------------------------------------------------


def app(page: str | None = "pages/generate.py") -> AppTest:
    """The app run through AppTest on ``page`` (Generate & Highlight, which most AppTests
    were written for), or on its default start page with ``page=None``; no exception.

    Tests that call it need the conftest ``registry`` (or ``tiny_registry``) fixture; the
    autouse ``_server_like_routing`` fixture makes AppTest route pages like a server."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    if page is not None:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


# --- hostile inputs ---------------------------------------------------------------------------


def peak_rss_mb(code: str, env: dict[str, str] | None = None) -> float:
    """Run ``code`` in a fresh Python and return its peak resident memory in MB.

    Read from the child's own ``VmHWM`` (peak of its address space since exec):
    ``getrusage``'s ``ru_maxrss`` would carry over the peak of this test process at fork,
    which holds TensorFlow (~800 MB), so it could not tell a bounded child from a bomb.
    """
    import os
    import subprocess
    import sys

    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    tail = "\nprint('PEAK', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    out = subprocess.run(
        [sys.executable, "-c", code + tail], env=full_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return int(out.stdout.rsplit("PEAK ", 1)[1]) / 1024


def plain(markdown: str) -> str:
    """What a reader sees of Markdown made by dashboard.fmt.md: backslash escapes resolved,
    the invisible word joiners that defang URLs dropped."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
