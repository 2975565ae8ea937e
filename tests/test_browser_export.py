"""Issue 20, item 3: every page's export round-trips through a real browser.

For every page of the app (on a demo model, its main action pressed where it needs one),
the sidebar's "Download this page as HTML" is clicked, the file Chromium saves is opened
from disk (file://) in a fresh context and checked against the page it came from: the
page's title and model, every chart the page showed drawn as an SVG with a size, the
highlighted tokens with the colours the page gave them, no script and no request leaving
the file. On Generate & Highlight (and Neuron Relevance, the page with a table) the single
downloads are clicked too: the highlighted text as HTML, a chart as SVG and PNG, a table
as CSV.

The server and the browser are this module's own (the fixtures of tests.test_browser,
module-scoped, start again here). Every wait is on a condition, with generous timeouts:
the machine may be shared.
"""

# The fixtures browser, page and server come from tests.test_browser: a test naming one as
# an argument is what pytest asks for, not a redefinition.
# ruff: noqa: F811
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401  (fixtures: browser, page, server)
    SHOTS,
    browser,
    charts,
    check_clean,
    open_page,
    page,
    server,
    settle,
    shown,
)

pytestmark = pytest.mark.browser

#: rendering a page's charts with vl-convert on a loaded machine takes a while
DOWNLOAD_TIMEOUT = 300_000
#: the first tokens of a page compared with its report, (text, background) each
TOKENS_COMPARED = 40


@dataclass
class Visit:
    """One page: where it opens, its title, the models its report must name, and the
    button (and what then appears) that gives it content."""

    path: str
    title: str
    models: list[str] = field(default_factory=list)
    action: str = ""
    action_done: str = ""


VISITS = {
    "start": Visit("", "Start here", ["demo-stdlib-char-lstm", "demo-ref-char-lstm"]),
    "generate": Visit(
        "generate?model=demo-ref-char-lstm", "Generate & Highlight", ["demo-ref-char-lstm"]
    ),
    "train": Visit("train", "Train"),
    "atlas": Visit(
        "atlas?model=demo-stdlib-char-lstm&atlas.slice_len=8000",
        "Neuron Atlas",
        ["demo-stdlib-char-lstm"],
        action="Build the atlas",
        action_done="Neurons with a clear role",
    ),
    "relevance": Visit(
        "relevance?model=demo-ref-char-lstm", "Neuron Relevance", ["demo-ref-char-lstm"]
    ),
    "fourier": Visit("fourier?model=demo-ref-char-lstm", "Fourier", ["demo-ref-char-lstm"]),
    "distributions": Visit(
        "distributions?model=demo-ref-char-lstm", "Distributions", ["demo-ref-char-lstm"]
    ),
    "word_clusters": Visit(
        "word_clusters?model=demo-ref-char-lstm", "Word Clusters", ["demo-ref-char-lstm"]
    ),
    "hidden_states": Visit(
        "hidden_states?model=demo-polarity-lstm", "Hidden States", ["demo-polarity-lstm"]
    ),
    "memory_chips": Visit(
        "memory_chips?model=demo-ref-word-lstm", "Memory Chips", ["demo-ref-word-lstm"]
    ),
    "pattern_search": Visit(
        "pattern_search?model=demo-ref-char-lstm", "Pattern Search", ["demo-ref-char-lstm"]
    ),
    "ablation": Visit(
        "ablation?model=demo-stdlib-char-lstm",
        "Ablation",
        ["demo-stdlib-char-lstm"],
        action="Trace the training evolution",
        action_done="The final best neuron for",
    ),
    "compare": Visit("compare?model=demo-ref-char-lstm", "Compare", ["demo-ref-char-lstm"]),
}

#: (text, computed background) of the first tokens of every highlighted view
_TOKENS_JS = """(toks, n) => toks.slice(0, n).map(
    t => [t.textContent, getComputedStyle(t).backgroundColor])"""


def _tokens(scope) -> list[tuple[str, str]]:
    return [tuple(p) for p in scope.locator(".hl-text .tok").evaluate_all(_TOKENS_JS, 10**6)]


def _page_tokens(page) -> list[tuple[str, str]]:
    """The first tokens of each highlighted view of the page's main block."""
    out: list[tuple[str, str]] = []
    for view in page.locator("[data-testid=stMain] .hl-text").all():
        out += [tuple(p) for p in view.locator(".tok").evaluate_all(_TOKENS_JS, 8)]
    return out[:TOKENS_COMPARED]


def _download_button(scope, label: str):
    """The app's download buttons labelled ``label`` in ``scope``."""
    return scope.get_by_test_id("stDownloadButton").get_by_role("button", name=label)


def _open_popover(popover, inside, attempts: int = 6) -> None:
    """Click a popover's button until ``inside`` shows (a click landing while the app
    still lays the page out can be lost)."""
    for _ in range(attempts):
        popover.get_by_role("button").first.click()
        try:
            expect(inside.first).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    expect(inside.first).to_be_visible(timeout=1_000)


def _download(page, button, folder: Path) -> Path:
    """Click a download button; the file Chromium saved, moved into ``folder``."""
    with page.expect_download(timeout=DOWNLOAD_TIMEOUT) as info:
        button.click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = folder / download.suggested_filename
    download.save_as(path)
    assert path.stat().st_size > 0, f"{path.name} is empty"
    return path


def _offline(browser, path: Path):
    """A fresh page on ``path`` (file://), recording every request it makes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.requests = []
    pg.dialogs = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(path.as_uri())
    pg.wait_for_load_state("load")
    return pg


def _check_offline(pg, path: Path) -> None:
    """No script in the file or the page, no dialog, nothing fetched beyond the file."""
    assert "<script" not in path.read_text(encoding="utf-8").lower()
    assert pg.locator("script").count() == 0 and not pg.dialogs
    outside = [u for u in pg.requests if not u.startswith("file://")]
    assert not outside, f"{path.name} fetched {outside}"


@pytest.mark.parametrize("name", list(VISITS))
def test_a_pages_report_round_trips_offline(server, page, browser, tmp_path, name):
    visit = VISITS[name]
    open_page(page, server, visit.path)
    if visit.action:
        page.get_by_role("button", name=visit.action).click()
        done = page.get_by_test_id("stMain").get_by_text(visit.action_done)
        expect(done.first).to_be_visible(timeout=300_000)
        settle(page)
    check_clean(page, f"export-{name}-page")
    n_charts = charts(page).count()
    tokens = _page_tokens(page)
    button = _download_button(page.get_by_test_id("stSidebar"), "Download this page as HTML")
    assert button.count() == 1, f"{visit.title}: no page report in the sidebar"
    path = _download(page, button, tmp_path)
    assert path.name == re.sub(r"[^a-z0-9_]+", "-", f"{visit.title} report".lower()) + ".html"

    report = _offline(browser, path)
    try:
        expect(report.locator("h1").first).to_have_text(visit.title)
        assert report.title() == visit.title
        body = report.locator("body").inner_text()
        for model in visit.models:
            assert model in body, f"{visit.title}: model {model} missing from its report"
        assert "Not rendered:" not in body, body[body.index("Not rendered:") :][:300]
        svgs = report.locator("figure > svg")
        assert svgs.count() >= n_charts, f"page drew {n_charts} charts, report {svgs.count()}"
        for i in range(svgs.count()):
            svg = svgs.nth(i)
            svg.scroll_into_view_if_needed()
            box = svg.bounding_box()
            assert box and box["width"] > 20 and box["height"] > 20, (i, box)
            assert svg.locator("path, rect, text").count() > 0, f"chart {i} is empty"
        if tokens:
            kept = set(_tokens(report))
            lost = [t for t in tokens if t not in kept]
            assert not lost, f"tokens lost or recoloured in the report: {lost[:5]}"
            assert any(bg not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") for _, bg in kept)
        _check_offline(report, path)
        SHOTS.mkdir(parents=True, exist_ok=True)
        report.screenshot(path=str(SHOTS / f"export-{name}-report.png"), full_page=True)
    finally:
        report.context.close()


def test_generates_single_downloads_open_offline(server, page, browser, tmp_path):
    """The highlighted text as HTML, the next-token chart as SVG and PNG."""
    open_page(page, server, "generate?model=demo-ref-char-lstm&pick.neurons=4,9")
    shown(page.locator("td.hl-text span.tok"))
    tokens = _page_tokens(page)
    main = page.get_by_test_id("stMain")

    text = _download(page, _download_button(main, "Download this text as HTML").first, tmp_path)
    assert text.name == "generate-highlight-neuron-activations.html"
    doc = _offline(browser, text)
    try:
        expect(doc.locator("h1")).to_have_text("Neuron activations")
        expect(doc.locator("td.hl-label")).to_have_text(["neuron 4", "neuron 9"])
        kept = _tokens(doc)
        assert len(kept) > 100
        assert [t for t in tokens if t not in set(kept)] == []
        _check_offline(doc, text)
    finally:
        doc.context.close()

    main.get_by_text("What did the model expect next?").click()
    chart = charts(page).first
    shown(chart)
    settle(page)
    svg_button = _download_button(page, "SVG")
    _open_popover(main.get_by_test_id("stPopover").first, svg_button)
    svg_file = _download(page, svg_button.first, tmp_path)
    png_button = _download_button(page, "PNG")
    if not png_button.first.is_visible():
        _open_popover(main.get_by_test_id("stPopover").first, png_button)
    png_file = _download(page, png_button.first, tmp_path)
    assert svg_file.suffix == ".svg" and png_file.suffix == ".png"
    assert svg_file.stem == png_file.stem and svg_file.stem.startswith("generate-highlight-")

    svg = _offline(browser, svg_file)
    try:
        box = svg.locator("svg").first.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, box
        assert svg.locator("svg text").count() > 0  # axis labels stay text
        _check_offline(svg, svg_file)
    finally:
        svg.context.close()
    png = _offline(browser, png_file)
    try:
        size = png.evaluate(
            "() => [document.images[0].naturalWidth, document.images[0].naturalHeight]"
        )
        assert size[0] > 50 and size[1] > 50, size
        assert all(u.startswith("file://") for u in png.requests), png.requests
    finally:
        png.context.close()
    check_clean(page, "export-generate-single")


def test_a_tables_csv_parses_with_its_header_and_rows(server, page, tmp_path):
    """Neuron Relevance's ranking (Generate has no table) as CSV, named by page and columns."""
    open_page(page, server, "relevance?model=demo-ref-char-lstm")
    shown(page.locator("[data-testid=stDataFrame]"))
    # the app's button, not the data grid's own toolbar icon of the same name
    button = _download_button(page.get_by_test_id("stMain"), "Download as CSV").first
    path = _download(page, button, tmp_path)
    assert path.name.startswith("neuron-relevance-neuron-effect-"), path.name
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["neuron", "effect", "ci_low", "ci_high", "direction"], header
    assert header[-1] == "constant"
    assert 0 < len(body) <= 50 and all(len(r) == len(header) for r in body)
    neurons = [int(r[0]) for r in body]
    assert len(set(neurons)) == len(neurons)  # one row per neuron
    assert all(-1.0 <= float(r[1]) <= 1.0 for r in body if r[1])
