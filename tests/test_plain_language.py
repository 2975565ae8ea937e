"""Plain language: no page cites a method by a seed number ("seed 000"), only by its authors
and year, and the sidebar carries the glossary and its references."""

import re

import pytest

from tests.helpers import ROOT, app

#: a method cited by its spec's number: "seed 000", "Seed 001", "seed-003", "seed 0"
SEED_CITATION = re.compile(r"\bseed[\s_-]*0", re.IGNORECASE)

#: proto fields that hold text the user reads (labels, help, options, bodies, captions)
TEXT_FIELDS = {"body", "label", "help", "placeholder", "options", "content", "caption", "title"}

#: elements whose text is the user's or the corpus's (highlighted tokens, tables, charts,
#: code), not the app's words
DATA_ELEMENTS = {"html", "arrow_data_frame", "arrow_vega_lite_chart", "vega_lite_chart", "code"}

PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))


def _strings(message) -> list[str]:
    """Every string in a protobuf message under a field of TEXT_FIELDS, at any depth."""
    found = []
    for field, value in message.ListFields():
        single = isinstance(value, str | bytes) or hasattr(value, "ListFields")
        values = [value] if single or not hasattr(value, "__len__") else list(value)
        for v in values:
            if isinstance(v, str):
                if field.name in TEXT_FIELDS:
                    found.append(v)
            elif hasattr(v, "ListFields"):
                found.extend(_strings(v))
    return found


def rendered_text(at) -> list[str]:
    """The app's own words on the page: every element and block (expanders, tabs) of the
    main area and the sidebar, walked recursively, data elements left out."""
    texts = []
    work = [at.main, at.sidebar]
    while work:
        node = work.pop()
        if getattr(node, "type", None) in DATA_ELEMENTS:
            continue
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            texts.extend(_strings(proto))
        work.extend(getattr(node, "children", {}).values())
    return texts


def seed_citations(at) -> list[str]:
    return [t for t in rendered_text(at) if SEED_CITATION.search(t)]


def _page(page: str):
    at = app()
    if page != "pages/generate.py":
        at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
    return at


def test_the_walk_finds_a_seed_citation_planted_in_any_kind_of_text():
    """The collector must see labels, help, options and expander/sidebar text: a script that
    cites "seed 000" in each place is caught in each, and a clean one is not."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        where = st.session_state.get("where")
        with st.sidebar.expander("Seed 004 chips" if where == "expander" else "Chips"):
            st.caption("by seed 001" if where == "caption" else "by Ryšánek 2023")
        st.selectbox(
            "Method",
            ["seed-003" if where == "option" else "Garcia et al. 2021", "PCA"],
            key="m",
            help="as seed 000" if where == "help" else "as Dahlberg",
        )
        st.metric(
            "Random seed", 0, help="The random seed 0 by default" if where == "metric" else ""
        )
        st.html("<b>random.seed(0)</b>")  # corpus text: not the app's words

    for where in ("expander", "caption", "option", "help", "metric", None):
        at = AppTest.from_function(script)
        at.session_state["where"] = where
        at.run()
        assert not at.exception
        texts = rendered_text(at)
        assert "Random seed" in texts
        assert ("as Dahlberg" in texts) == (where != "help")
        assert (len(seed_citations(at)) == 1) == (where is not None), (where, texts)


def test_the_opening_page_and_sidebar_cite_no_seed_number_and_hold_the_glossary(
    tiny_registry,
):
    at = app()
    assert seed_citations(at) == []
    texts = rendered_text(at)
    assert "Glossary and references" in texts
    glossary = next(t for t in texts if "**References**" in t)
    for author in ("Dahlberg", "Ryšánek", "Garcia", "Ming", "Karpathy", "Strobelt", "Künsch"):
        assert author in glossary, author
    assert "Benjamini, Y. & Hochberg, Y. (1995)" in glossary and "arXiv:1506.02078" in glossary


@pytest.mark.parametrize("page", PAGES)
def test_no_page_cites_a_method_by_seed_number(tiny_registry, page):
    at = _page(page)
    assert len(rendered_text(at)) > 5, page  # the page drew its text
    assert seed_citations(at) == [], page


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_page_cites_a_method_by_seed_number_on_the_demo_model(registry, page):
    """The trained demo model takes the pages down other branches (findings, headlines)."""
    at = _page(page)
    assert seed_citations(at) == [], page


def test_the_glossary_explains_every_score_the_pages_show():
    from dashboard.panels.glossary import GLOSSARY, REFERENCES, glossary_markdown

    terms = {term for term, _ in GLOSSARY}
    assert {"AUROC", "r", "R (relevance)", "p", "q", "KL divergence", "Effect size"} <= terms
    assert all(meaning and "\n" not in meaning for _, meaning in GLOSSARY)
    text = glossary_markdown()
    assert not SEED_CITATION.search(text)
    assert all(re.search(r"\((c\. )?\d{4}\)", ref) for ref in REFERENCES)
    assert text.count("\n- ") == len(GLOSSARY) + len(REFERENCES) - 1
