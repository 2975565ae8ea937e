"""Shared pytest setup."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# These machines are offline: NLTK tests read the corpora kept in ../shared/nltk_data.
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEMO = "demo-ref-char-lstm"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A model registry in a temporary folder holding a copy of the default demo model."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(ROOT / "models" / DEMO, root / DEMO)
    monkeypatch.setenv("RNN_LENS_MODELS", str(root))
    return root
