"""Bad input on a shared server: a clear message, nothing crashing, nothing lost."""

import re
import shutil

import pytest

from dashboard.widgets.pickers import parse_neurons
from lib.analysis.features import FeatureError, regex_mask
from lib.data.datasets import from_csv_bytes
from tests.helpers import DEMO, ROOT, app


def test_catastrophic_regex_is_stopped_with_a_message():
    tokens = ["a" * 60 + "c", "b", "aa"]
    with pytest.raises(FeatureError, match=r"took over 0.2 s and was stopped.*backtracks"):
        regex_mask(tokens, "(a|aa)+b", timeout=0.2)
    # the same engine gives re's answers to ordinary patterns
    assert regex_mask(["ab", "a", "(b", "B"], r"a.?|\(b").tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    ("text", "neurons", "ignored"),
    [
        ("5, 300, abc, 7-3, -1, 254-255", [5, 254, 255], ["'300'", "'abc'", "'7-3'", "'-1'"]),
        ("99999999999999999999999", [], ["'99999999999999999999999'"]),
        ("0-255", list(range(64)), []),  # at most 64 rows
        ("  ", [], []),
    ],
)
def test_neuron_numbers_out_of_range_are_named_and_skipped(text, neurons, ignored):
    got, problem = parse_neurons(text, 256)
    assert got == neurons
    assert all(b in problem for b in ignored) and ("0 to 255" in problem) == bool(ignored)


def test_csv_with_extra_columns_uses_the_text_and_label_columns():
    data = from_csv_bytes(
        b"id,text,label,notes\n1,good film,pos,x\n2,bad film,neg,y\n", name="extra.csv"
    )
    assert data.texts == ["good film", "bad film"] and data.classes == ["neg", "pos"]


@pytest.mark.slow
def test_out_of_range_neurons_in_the_page_warn_and_keep_the_text(tiny_registry):
    at = app()
    at.text_input(key="pick.neurons").input("5, 300, <b>x</b>").run()
    assert not at.exception
    assert any("Ignored '300', '<b>x</b>'" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    body = "".join(h.proto.body for h in at.main.get("html"))
    assert "neuron 5" in body and "<b>x</b>" not in body


@pytest.mark.slow
def test_sliders_and_numbers_at_their_extremes_on_generate(tiny_registry):
    at = app()
    for key, value in [
        ("gen.length", 10),
        ("gen.temperature", 0.0),
        ("gen.top_k", 1000),
        ("gen.length", 2000),
        ("gen.temperature", 2.0),
        ("gen.top_k", 0),
        ("gen.seed", 2**31 - 1),
    ]:
        widget = (
            at.slider(key=key)
            if key in ("gen.length", "gen.temperature")
            else at.number_input(key=key)
        )
        widget.set_value(value).run()
        assert not at.exception, (key, value, at.exception)
        assert "hl-text" in "".join(h.proto.body for h in at.main.get("html")), (key, value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", ["pages/relevance.py", "pages/fourier.py", "pages/pattern_search.py"]
)
def test_analysis_sliders_at_their_extremes(tiny_registry, page):
    at = app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    keys = [s.key for s in at.slider if s.key]
    assert keys, "the page has sliders"
    for key in keys:
        for end in ("min", "max"):
            if key not in [s.key for s in at.slider]:
                continue  # another extreme hid it (e.g. a band with no neurons)
            s = at.slider(key=key)
            value = s.min if end == "min" else s.max
            if isinstance(s.value, tuple):
                value = (s.min, s.min) if end == "min" else (s.max, s.max)
            s.set_value(value).run()
            assert not at.exception, (key, end, at.exception)


def test_broken_entries_and_unsafe_links_never_break_the_picker(registry):
    shutil.copytree(registry / DEMO, registry / "half-copied")
    (registry / "half-copied" / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    (registry / "dotted.name").mkdir()
    at = app()
    at.query_params["model"] = "../../etc/passwd"
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="model").options == [f"★ {DEMO}"]
    assert at.sidebar.selectbox(key="model").value == DEMO
    assert any(e.label == "1 broken model folder(s)" for e in at.sidebar.expander)
    shown = [m.value.replace("\\", "") for m in at.sidebar.markdown]  # markdown-escaped
    assert any("half-copied" in m and "model.keras is corrupt" in m for m in shown), shown


@pytest.mark.slow
def test_user_text_in_messages_is_markdown_escaped(tiny_registry):
    at = app()
    at.session_state["rel.fkind"] = "Regex"
    at.session_state["rel.slice_len"] = 2000
    at.switch_page("pages/relevance.py").run()
    at.text_input(key="rel.regex").input("![x](http://e.x/p.png) **(").run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "Invalid regular expression" in w.value)
    # shown literally: every Markdown character escaped, the URL defanged (no image, no
    # bold, no link), and what a reader sees is the pattern as typed
    assert r"\!\[x\]\(http" in warning and r"\*\*\(" in warning
    assert "![" not in warning and "](" not in warning and "http://" not in warning
    shown = re.sub(r"\\(.)", r"\1", warning).replace("\u2060", "")
    assert "'![x](http://e.x/p.png) **('" in shown


# --- a shared link carrying values no widget takes --------------------------------------------

ALL_PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


def test_a_link_value_out_of_its_widgets_bounds_falls_back_to_the_default(registry):
    """gen.length=99999999999 (the widget takes 10 to 2,000) opens the page on the default
    length with a warning naming the setting; the link's valid settings are kept; a
    non-finite or overlong number is ignored like any unparsable value."""
    at = app(None)
    at.query_params["gen.length"] = "99999999999"
    at.query_params["gen.temperature"] = "0.5"
    at.query_params["gen.seed"] = "nan"
    at.switch_page("pages/generate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    warned = [w.value for w in at.warning if "gen.length" in w.value]
    assert warned and "outside what that setting takes" in warned[0], [w.value for w in at.warning]
    assert at.session_state["gen.length"] == 400  # the char model's default
    assert at.slider(key="gen.length").value == 400
    assert at.session_state["gen.temperature"] == 0.5
    assert at.session_state["gen.seed"] == 1
    assert not state_of_link(at) & {"gen.length", "gen.seed"}


def state_of_link(at) -> set:
    from dashboard.state import LINKED

    return set(at.session_state[LINKED]) if LINKED in at.session_state else set()


@pytest.mark.slow
@pytest.mark.parametrize("page", ALL_PAGES)
def test_no_page_breaks_on_a_link_whose_every_number_is_out_of_range(registry, page):
    """Every number setting a page binds, set by the link far above and far below anything
    a widget takes (and to NaN and infinity): the page opens, without an exception."""
    from dashboard import state

    first = app(None)
    first.switch_page(f"pages/{page}.py").run()
    numbers = {
        k: type(d)
        for k, d in state._DEFAULTS.items()
        if isinstance(d, int | float) and not isinstance(d, bool)
    }
    assert numbers or page in ("start", "atlas"), page
    for value in ("99999999999", "-99999999999", "-1e300", "1e300", "nan", "inf"):
        at = app(None)
        for key, kind in numbers.items():
            if kind is float or "e" not in value:
                at.query_params[key] = value
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, value, [e.value[:300] for e in at.exception])
