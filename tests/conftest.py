"""Shared pytest setup and fixtures (plain helpers and constants are in helpers.py)."""

import functools
import os
import shutil

import pytest

from tests.helpers import DEMO, ROOT, TINY, TINY_CORPUS, random_bundle

# These machines are offline: NLTK tests read the corpora kept in ../shared/nltk_data.
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A model registry in a temporary folder holding a copy of the default demo model."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(ROOT / "models" / DEMO, root / DEMO)
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    return root


@pytest.fixture(scope="session")
def _tiny_model(tmp_path_factory):
    """The folder of TINY: a 1 x 16 character LSTM with random weights whose vocabulary and
    recorded corpus are the default demo's, so every page has a model and a corpus slice."""
    from lib.data.corpora import load_corpus
    from lib.model.registry import save

    corpus = load_corpus(TINY_CORPUS)
    bundle = random_bundle("lstm", units=16, embedding=8, seed=1, text=corpus.text)
    bundle.meta = {"corpus": {"ref": corpus.ref, "name": corpus.name, "chars": len(corpus.text)}}
    root = tmp_path_factory.mktemp("tiny-model")
    return save(bundle, TINY, root=root)


@pytest.fixture
def tiny_registry(tmp_path, monkeypatch, _tiny_model):
    """A model registry in a temporary folder holding only TINY: for AppTests that need *a*
    model, not a trained one (much faster than the 1 x 256 demo)."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(_tiny_model, root / TINY)
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    return root


@functools.cache
def _routed_pages_manager():
    from streamlit.runtime.pages_manager import PagesManager

    class _RoutedPagesManager(PagesManager):
        """AppTest forgets before every run that st.navigation turned Streamlit's older
        pages/-folder mode off, so each run would take the page_guard detour (a rerun that
        drops button clicks). A server remembers it; this restores the server's behaviour."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    return _RoutedPagesManager


@pytest.fixture(autouse=True)
def _server_like_routing(monkeypatch):
    """Every AppTest (tests.helpers.app) routes its pages as a server does."""
    from streamlit.testing.v1 import app_test as app_test_module

    monkeypatch.setattr(app_test_module, "PagesManager", _routed_pages_manager())
