"""Issue 18, class 7: one regular expression must not take a shared server down.

Each hostile pattern is refused with a FeatureError before it is compiled (length, nesting,
size with counted repeats written out), matching stays within its budget, and ordinary
patterns still work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from lib.analysis.features import REGEX_PRESETS, FeatureError, _timeout_message, regex_mask
from lib.analysis.regex_guard import MAX_REGEX_DEPTH, MAX_REGEX_SIZE
from tests.helpers import ROOT, app

#: nested counted repeats; unguarded, the regex package compiles them for seconds and GBs
NESTED_REPEATS = [
    "((a{9999}){9999}){9999}",  # 23 characters: out of 6 GB after 15 s
    "(?:a{3000}){3000}",  # 2.9 s, 2.4 GB
    "(?:(a){2000}){2000}",  # 5.4 s, 2.7 GB
    "(?:a{65535}){100}",  # 1.8 s, 1.7 GB
    r"(?:[\w\W]{2000}){2000}",  # 1.1 s, 1.0 GB
    "(?:x{0,1000}){0,1000}",  # upper bounds count: cheap to compile, refused all the same
    "(?:a{1000,}){1000}",  # no upper bound: the lower one counts
    "a{65535}b{65535}",  # a sum, not a product
]

# ru_maxrss is carried across fork + exec, so a child started by the test process would
# report at least pytest's own size: a small launcher starts the worker and reports it.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "subprocess.run([sys.executable, '-c', sys.argv[1]], check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)
# caps the worker at 4 GB of address space so a regression fails instead of exhausting
# the shared machine
_CAP = "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))\n"


def _peak_rss_mb(code: str) -> float:
    """Peak RSS of a fresh Python running `code` (after the 4 GB cap), in MB."""
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, _CAP + code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,  # a safety net against a hang, not an assertion
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1]) / 1024


def test_a_pattern_over_max_regex_chars_is_refused_with_both_lengths(monkeypatch):
    with pytest.raises(FeatureError, match=r"301 characters long.*limit of 300 \(max_regex_chars"):
        regex_mask(["a"], "a" * 301)
    assert regex_mask(["a"], "a?" * 150).tolist() == [True]  # 300 characters
    monkeypatch.setenv("RNN_LENS_MAX_REGEX_CHARS", "10")
    with pytest.raises(FeatureError, match=r"is 11 characters long.*limit of 10 "):
        regex_mask(["a"], "a" * 11)


def test_groups_nested_deeper_than_the_bound_are_refused():
    ok = "(" * MAX_REGEX_DEPTH + "a" + ")" * MAX_REGEX_DEPTH
    assert regex_mask(["a", "b"], ok).tolist() == [True, False]
    deep = "(?:" * (MAX_REGEX_DEPTH + 1) + "a" + ")" * (MAX_REGEX_DEPTH + 1)
    with pytest.raises(FeatureError, match=r"nests groups 21 deep, over the limit of 20"):
        regex_mask(["a"], deep)
    # parentheses inside a class or escaped do not nest
    escaped = "[" + "(" * 25 + "]" + r"\(" * 25
    assert regex_mask(["(" * 26, "("], escaped).tolist() == [True, False]


def test_5000_nested_parentheses_give_a_feature_error_not_recursion_error(monkeypatch):
    monkeypatch.setenv("RNN_LENS_MAX_REGEX_CHARS", "100000")
    with pytest.raises(FeatureError, match=r"nests groups 5,000 deep, over the limit of 20"):
        regex_mask(["a"], "(" * 5000 + "a" + ")" * 5000)
    # verbose-mode comments hide the ')' from the scan; the parser's recursion is caught
    hidden = "(?x)" + "(?:#)\n" * 5000 + "a" + ")" * 5000
    with pytest.raises(FeatureError, match=r"nests groups too deep to parse"):
        regex_mask(["a"], hidden)


@pytest.mark.parametrize("pattern", NESTED_REPEATS)
def test_nested_counted_repeats_are_refused_before_compiling(pattern):
    limit = f"limit of {MAX_REGEX_SIZE:,}"
    with pytest.raises(FeatureError, match=rf"would compile to [\d,]+ items.*{limit}"):
        regex_mask(["a", "b"], pattern)


def test_the_refusal_names_the_pattern_and_its_written_out_size():
    with pytest.raises(FeatureError) as err:
        regex_mask(["a"], "((a{9999}){9999}){9999}")
    assert "'((a{9999}){9999}){9999}' would compile to 999,900,010,000 items" in str(err.value)


def test_hostile_patterns_cost_little_memory_and_unguarded_they_would_not():
    code = (
        "from lib.analysis.features import FeatureError, regex_mask\n"
        f"for p in {NESTED_REPEATS!r}:\n"
        "    try:\n"
        "        regex_mask(['a', 'b'], p)\n"
        "    except FeatureError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('not refused: ' + p)\n"
        # the biggest patterns the bound lets through compile within it too
        "regex_mask(['a'], '(?:(a){4999}){10}')\n"
        "regex_mask(['a'], '(?:(?:(?:(?:a{10}){10}){10}){10}){9}')\n"
    )
    assert _peak_rss_mb(code) < 300
    unguarded = "import regex; regex.compile('(?:a{2000}){2000}', cache_pattern=False)\n"
    assert _peak_rss_mb(unguarded) > 600  # 1.1 GB measured: the same measure can fail


@pytest.mark.parametrize(
    "pattern, tokens, expected",
    [
        ("[A-Z]", ["A", "a", "AB"], [True, False, False]),
        (r"\d+", ["12", "1a", ""], [True, False, False]),
        ("(ab|cd){2,5}", ["abcd", "ab", "cdcdcdcdcd", "ab" * 6], [True, False, True, False]),
        ("x{1,1000}", ["x" * 1000, "x" * 1001, ""], [True, False, False]),
        ("(?:a{10}){10}", ["a" * 100, "a" * 99], [True, False]),
    ],
)
def test_ordinary_patterns_still_work(pattern, tokens, expected):
    assert regex_mask(tokens, pattern).tolist() == expected


@pytest.mark.parametrize("preset", list(REGEX_PRESETS))
def test_every_preset_passes_the_guard_and_agrees_with_re(preset):
    tokens = [" ", "\n", "A", "Abc", "abc", "7", "42", ".", "?!", "é", "<unk>"]
    pattern = REGEX_PRESETS[preset]
    expected = [re.fullmatch(pattern, tok) is not None for tok in tokens]
    assert regex_mask(tokens, pattern).tolist() == expected


def test_the_timeout_message_says_how_far_matching_got():
    tokens = ["a" * 60 + "c", "b", "aa"]
    with pytest.raises(
        FeatureError,
        match=r"took over 0.2 s and was stopped after \d+\.\d s, having matched \d of 3 distinct",
    ):
        regex_mask(tokens, "(a|aa)+b", timeout=0.2)
    # the budget starts before compiling: none left means no token is matched
    with pytest.raises(FeatureError, match=r"having matched 0 of 2 distinct tokens"):
        regex_mask(["a", "b"], "a", timeout=0)


def test_an_overshoot_on_a_busy_server_is_said_honestly():
    message = _timeout_message("(a+)+b", 2.0, 6.3, 1234, 5678)
    assert "stopped after 6.3 s, having matched 1,234 of 5,678 distinct tokens" in message
    assert "ran 6.3 s on the clock, over its 2 s budget" in message
    assert "on the clock" not in _timeout_message("(a+)+b", 2.0, 2.1, 0, 1)


def test_many_catastrophic_tokens_share_one_budget():
    # each token alone would use the whole budget: 40 x 0.3 s of CPU without a shared one
    tokens = ["a" * n + "c" for n in range(40, 80)]
    before = time.process_time()
    with pytest.raises(FeatureError, match=r"having matched [0-9] of 40 distinct tokens"):
        regex_mask(tokens, "(a|aa)+b", timeout=0.3)
    assert time.process_time() - before < 3.0  # CPU time, which load does not inflate


@pytest.mark.slow
def test_a_hostile_pattern_in_the_feature_editor_shows_a_message(tiny_registry):
    at = app()
    at.session_state["rel.fkind"] = "Regex"
    at.session_state["rel.slice_len"] = 2000
    at.switch_page("pages/relevance.py").run()
    box = at.text_input(key="rel.regex")
    assert box.max_chars == 300
    box.input("((a{9999}){9999}){9999}").run()
    assert not at.exception
    shown = [w.value.replace("\\", "") for w in at.warning]
    assert any("would compile to 999,900,010,000 items" in w for w in shown), shown


@pytest.mark.slow
def test_an_overlong_pattern_in_a_shared_link_shows_a_message(tiny_registry):
    at = app(None)
    at.query_params["rel.fkind"] = "Regex"
    at.query_params["rel.regex"] = "(" * 500 + "a" + ")" * 500
    at.query_params["rel.slice_len"] = "2000"
    at.switch_page("pages/relevance.py").run()
    assert not at.exception
    shown = [w.value.replace("\\", "") for w in at.warning]
    assert any("1,001 characters long, over this server's limit of 300" in w for w in shown)
