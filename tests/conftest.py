"""Shared pytest setup."""

import os
from pathlib import Path

# These machines are offline: NLTK tests read the corpora kept in ../shared/nltk_data.
os.environ.setdefault(
    "NLTK_DATA", str(Path(__file__).resolve().parent.parent.parent / "shared" / "nltk_data")
)
