"""The Examples sections of lib's docstrings run as doctests and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "lib.run.record",
    "lib.analysis.relevance",
    "lib.analysis.significance",
    "lib.analysis.fourier",
)


@pytest.mark.parametrize("name", MODULES)
def test_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, report=True
    )
    assert result.attempted > 0, f"{name} has no doctest examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
