"""The text an analysis page looks at (dashboard.widgets.text_source) through AppTest.

The page asks the TextSource for a second text of the same kind and for a token's place in
the corpus, instead of reading other widgets' keys or parsing cache keys.
"""

import numpy as np
import pytest

from dashboard.widgets.text_source import SourceKind, TextSource
from lib.run.trace import Trace
from tests.helpers import app


def _relevance(at):
    at.switch_page("pages/relevance.py").run()
    assert not at.exception, at.exception
    return at


def test_corpus_offset_counts_characters_of_the_tokens_before():
    trace = Trace(
        tokens=["ab", "c", "def"],
        ids=np.arange(3),
        signals={},
        topk_ids=np.zeros((3, 1), np.int32),
        topk_probs=np.ones((3, 1), np.float32),
        next_prob=np.ones(3, np.float32),
    )
    corpus = TextSource(SourceKind.CORPUS, trace, "k", (100, 106))
    assert corpus.corpus_offset(0) == 100
    assert corpus.corpus_offset(2) == 103
    generated = TextSource(SourceKind.GENERATED, trace, "k", (0, 3))
    assert generated.corpus_offset(2) is None


@pytest.mark.slow
def test_reliability_runs_on_the_next_corpus_slice(registry):
    at = _relevance(app())
    at.session_state["rel.slice_len"] = 3000
    at.run()
    at.button(key="btn.rel.other").click().run()
    assert not at.exception, at.exception
    [line] = [m.value for m in at.markdown if "on the other text" in m.value]
    assert "in both:" in line and "Spearman" in line


@pytest.mark.slow
def test_reliability_on_generated_text_uses_another_seed(registry):
    at = _relevance(app())
    at.session_state["rel.source"] = SourceKind.GENERATED.value
    at.session_state["rel.length"] = 300
    at.run()
    at.button(key="btn.rel.other").click().run()
    assert not at.exception, at.exception
    assert any("on the other text" in m.value for m in at.markdown)


@pytest.mark.slow
def test_open_in_generate_starts_at_the_slice_in_the_corpus(registry):
    at = _relevance(app())
    at.session_state["rel.start"] = 5000
    at.run()
    at.button(key="btn.rel.open").click().run()
    assert not at.exception, at.exception
    assert at.session_state["gen.source"] == "Corpus slice"
    assert at.session_state["gen.start"] >= 5000
