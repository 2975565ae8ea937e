"""The whole app in a real browser: Debian's chromium driven by Playwright.

One server (on a free port, with a copy of the shipped models as its registry) serves
every test of this module and is stopped at the end whatever happens. Each page is
visited on a demo model, its main action performed, checked for Streamlit exception
boxes, and a screenshot saved in ``e2e-screenshots/``. ``make e2e`` runs only these.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.browser

# expect() waits 5 s unless told otherwise, and a page that records or generates takes longer
# on a loaded machine (a slider walk's first navigation missed 5 s while other processes
# ran): every assertion of the browser modules (they import this one) waits on its
# condition as long as the pages' actions may take (set_default_timeout below)
expect.set_options(timeout=60_000)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", ROOT / "e2e-screenshots"))
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(2)> **bold** # head \x07|a|b|"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    root = tmp / "models"
    shutil.copytree(ROOT / "models", root, ignore=shutil.ignore_patterns(".*"))
    port = _free_port()
    env = {
        **os.environ,
        "RNN_LENS_MODELS": str(root),
        "PYTHONPATH": str(ROOT),
        "RNN_LENS_MAX_CONCURRENT_JOBS": "2",
    }
    log = open(tmp / "server.log", "w")  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError((tmp / "server.log").read_text()[-2000:])
        server_info = type("Server", (), {"url": url, "root": root})
        yield server_info
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _new_page(browser):
    # tall, so a screenshot holds the page (Streamlit scrolls its main block, not the page)
    pg = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
    # generous: CI machines are slow, and two trainings share their 2 cores with the server
    pg.set_default_navigation_timeout(180_000)
    pg.set_default_timeout(60_000)
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    return pg


@pytest.fixture
def page(browser):
    pg = _new_page(browser)
    yield pg
    pg.context.close()


def settle(page, timeout: float = 240.0) -> None:
    """Wait until the script has stopped running for a moment (charts drawn, jobs polled)."""
    app = page.locator("[data-testid=stApp]")
    calm, end = 0, time.time() + timeout
    while calm < 6:
        assert time.time() < end, "the page kept running"
        time.sleep(0.25)
        calm = calm + 1 if app.get_attribute("data-test-script-state") == "notRunning" else 0


def check_clean(page, name: str) -> None:
    """No exception box, no script dialog; save a screenshot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    assert not page.dialogs


def shown(locator, timeout: float = 120_000) -> None:
    """At least one element of ``locator`` becomes visible (a slow CI machine may still draw)."""
    expect(locator.first).to_be_visible(timeout=timeout)


def open_page(page, server, path: str) -> None:
    page.goto(f"{server.url}/{path}")
    expect(page.locator("[data-testid=stMain] h1").first).to_be_visible(timeout=90_000)
    settle(page)


def charts(page):
    return page.locator("[data-testid=stMain] .vega-embed")


# --- every page, its main action ------------------------------------------------------------


def test_generate_highlights_a_new_sample_and_shows_hostile_text_as_text(server, page):
    open_page(page, server, "generate?model=demo-ref-char-lstm&pick.neurons=4,9")
    rows = page.locator("td.hl-label")
    expect(rows).to_have_text(["neuron 4", "neuron 9"])
    assert page.locator("td.hl-text span.tok").count() > 100
    assert "position 0" in page.locator("td.hl-text span.tok").first.get_attribute("title")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("LSTM, char level")
    seed = page.get_by_role("textbox", name="Seed text")
    seed.fill("def main(")
    seed.press("Enter")
    settle(page)
    # spaces are drawn visibly (·)
    expect(page.locator("td.hl-text").first).to_have_text(re.compile(r"^def.main\("))
    check_clean(page, "generate")

    page.get_by_text("Paste text", exact=True).click()
    box = page.get_by_role("textbox", name="Text to record")
    box.fill(HOSTILE)
    box.press("Control+Enter")
    settle(page)
    expect(page.locator("td.hl-text").first).to_contain_text("<script>alert('x')</script>")
    expect(page.locator("td.hl-text").first).to_contain_text(
        re.compile(r"<img.src=x.onerror=alert\(2\)>.\*\*bold\*\*.#.head")
    )
    assert (
        page.locator(
            "td.hl-text b, td.hl-text img, td.hl-text h1, td.hl-text script, "
            "[data-testid=stMain] img[src=x]"
        ).count()
        == 0
    )
    check_clean(page, "generate-hostile-text")


def test_relevance_ranks_neurons_for_a_regex_and_refuses_a_bad_one(server, page):
    open_page(page, server, "relevance?model=demo-ref-char-lstm")
    page.get_by_text("Regex", exact=True).click()
    settle(page)
    box = page.get_by_role("textbox", name="Regular expression")
    box.fill("[0-9]")
    box.press("Enter")
    settle(page)
    expect(page.get_by_text("Feature regex '[0-9]'")).to_be_visible()
    shown(page.locator("[data-testid=stDataFrame]"))
    shown(charts(page))
    check_clean(page, "relevance")
    box.fill("([")
    box.press("Enter")
    settle(page)
    expect(page.get_by_text("Invalid regular expression").first).to_be_visible()
    check_clean(page, "relevance-bad-regex")


def _luminance(rgb: str) -> float:
    """WCAG 2 relative luminance of a CSS ``rgb(r, g, b)`` colour."""
    channels = [int(x) / 255 for x in re.findall(r"\d+", rgb)[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrasts(page) -> list[float]:
    """Contrast ratio of every highlighted token's text against its background."""
    pairs = page.locator("td.hl-text span.tok").evaluate_all(
        "els => els.map(e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor])"
    )
    out = []
    for fg, bg in pairs:
        a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
        out.append((a + 0.05) / (b + 0.05))
    return out


def test_a_teachers_walk_from_the_start_page_to_a_highlighted_neuron(server, page):
    open_page(page, server, "")
    expect(page.get_by_text("Inside string literal").first).to_be_visible()
    shown(page.locator("td.hl-text span.tok"))
    check_clean(page, "start-page")
    page.get_by_role("button", name="Open its card in the Neuron Atlas").first.click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Neuron Atlas")
    settle(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Neuron \d+: "))
    expect(heading).to_be_visible(timeout=240_000)
    neuron = re.match(r"Neuron (\d+):", heading.inner_text()).group(1)
    check_clean(page, "start-to-atlas")
    page.get_by_role("button", name="Open in Generate & Highlight").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Generate & Highlight")
    settle(page)
    expect(page.locator("td.hl-label")).to_have_text([f"neuron {neuron}"])
    ratios = _contrasts(page)
    assert ratios and min(ratios) >= 4.5, min(ratios)


def test_a_slider_only_walk_never_types(server, page):
    """Someone who only clicks and moves sliders: start page, a finding, its page, a slider,
    another page from the sidebar, its sliders; nothing is typed."""
    open_page(page, server, "")
    page.get_by_role("button", name="See it in Generate & Highlight").first.click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Generate & Highlight")
    settle(page)
    shown(page.locator("td.hl-text span.tok"))
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    settle(page)
    check_clean(page, "slider-walk-generate")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Neuron Relevance").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Neuron Relevance")
    settle(page)
    shown(charts(page))
    for slider in page.get_by_role("slider").all()[:2]:
        slider.focus()
        slider.press("ArrowLeft")
        settle(page)
    shown(charts(page))
    check_clean(page, "slider-walk-relevance")


def test_the_quote_neuron_from_the_start_page_is_legible(server, page):
    open_page(page, server, "")
    expect(page.get_by_text("Inside quotes").first).to_be_visible()
    # the cards: three of the code model, then the prose model's, quotes first
    page.get_by_role("button", name="See it in Generate & Highlight").nth(3).click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Generate & Highlight")
    settle(page)
    shown(page.locator("td.hl-text span.tok"))
    expect(page.get_by_test_id("stSidebar")).to_contain_text("corpus: Python language reference")
    ratios = _contrasts(page)
    assert ratios and min(ratios) >= 4.5, min(ratios)
    check_clean(page, "quote-neuron")


def test_atlas_builds_opens_a_card_and_jumps_to_generate(server, page):
    open_page(page, server, "atlas?model=demo-stdlib-char-lstm&atlas.slice_len=8000")
    page.get_by_role("button", name="Build the atlas").click()
    expect(page.get_by_text("Neurons with a clear role")).to_be_visible(timeout=240_000)
    settle(page)
    shown(page.locator("[data-testid=stDataFrame]"))
    box = page.get_by_role("spinbutton", name="Neuron")
    box.fill("7")
    box.press("Enter")
    settle(page)
    expect(page.get_by_role("heading", name=re.compile(r"^Neuron 7: "))).to_be_visible()
    shown(page.locator("td.hl-text span.tok"))  # its contexts, highlighted
    shown(charts(page))  # its histogram
    check_clean(page, "atlas-card")
    page.get_by_role("button", name="Open in Generate & Highlight").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Generate & Highlight")
    settle(page)
    expect(page.locator("td.hl-label")).to_have_text(["neuron 7"])
    check_clean(page, "atlas-to-generate")


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("fourier?model=demo-ref-char-lstm", "Detected neurons in the text"),
        ("distributions?model=demo-ref-char-lstm", "One neuron"),
        ("word_clusters?model=demo-ref-char-lstm", "Clusters"),
        ("hidden_states?model=demo-polarity-lstm", "Projection of every hidden state"),
        ("memory_chips?model=demo-ref-word-lstm", "Unit detail"),
        ("ablation?model=demo-stdlib-char-lstm", "Training evolution"),
    ],
)
def test_analysis_page_draws_its_charts(server, page, path, want):
    open_page(page, server, path)
    expect(page.get_by_role("heading", name=want).first).to_be_visible()
    if path.startswith("ablation"):  # one recording per epoch: it waits to be asked
        page.get_by_role("button", name="Trace the training evolution").click()
        settle(page)
    shown(charts(page))
    check_clean(page, path.split("?")[0])


def test_hostile_sentence_in_chart_labels_and_tooltips_stays_text(server, page):
    open_page(page, server, "memory_chips?model=demo-ref-char-lstm")
    box = page.get_by_role("textbox", name="Sentence")
    box.fill(HOSTILE.replace("\x07", ""))
    box.press("Enter")
    settle(page)
    expect(page.get_by_role("heading", name="Sentence glyphs")).to_be_visible()
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text("<script>alert('x')</script>")
    # hover over every glyph chart so Vega's tooltips render the token labels
    for chart in charts(page).all()[-2:]:
        chart.hover()
        page.mouse.move(chart.bounding_box()["x"] + 200, chart.bounding_box()["y"] + 120)
    assert page.locator("img[src=x], script:text('alert')").count() == 0
    check_clean(page, "memory_chips-hostile-sentence")


def test_clicking_a_glyph_bar_picks_its_chip_out(server, page):
    open_page(page, server, "memory_chips")
    glyphs = charts(page).last
    # the bold box of chip 2 at the sentence's last token (its tooltip holds α₊)
    box = glyphs.locator("path[aria-label*='chip (cluster): 2;'][aria-label*='α₊']").last
    shown(box)
    assert page.get_by_text("Picked: chip").count() == 0
    box.click()
    shown(page.get_by_text("Picked: chip 2 "))
    settle(page)
    expect(glyphs.locator("path[fill='#ffe08a']").first).to_be_attached()  # picked bars yellow
    chips = charts(page).first  # the other chips faded, chip 2's units not
    expect(chips.locator("path[opacity='0.15']").first).to_be_attached()
    expect(chips.locator("path[aria-label$='cluster: 2'][opacity='1']").first).to_be_attached()
    assert chips.locator("path[aria-label$='cluster: 2'][opacity='0.15']").count() == 0
    check_clean(page, "memory_chips-picked-chip")


def test_pattern_search_and_compare_show_their_tables(server, page):
    open_page(page, server, "pattern_search?model=demo-ref-char-lstm")
    shown(page.locator("[data-testid=stDataFrame]"))
    check_clean(page, "pattern_search")
    open_page(page, server, "compare?model=demo-ref-char-lstm")
    shown(page.locator("[data-testid=stDataFrame]"))
    expect(page.get_by_role("heading", name="Samples from the same seed")).to_be_visible()
    check_clean(page, "compare")


# --- training, alone and from two sessions at once --------------------------------------------


def _start_training(page, server, name: str, seed_text: str = "") -> None:
    open_page(page, server, "train")
    page.get_by_role("radio", name="Paste", exact=True).first.click()
    settle(page)
    text = seed_text or "".join(f"line {i}: the quick brown fox.\n" for i in range(400))
    page.get_by_role("textbox", name="Text").fill(text)
    page.get_by_role("textbox", name="Text").press("Control+Enter")
    settle(page)
    for label, value in (("Units", "16"), ("Epochs", "1"), ("Sequence length", "20")):
        field = page.get_by_role("spinbutton", name=label, exact=True).first
        field.fill(value)
        field.press("Enter")
        settle(page)
    page.get_by_role("textbox", name="Model name").fill(name)
    page.get_by_role("textbox", name="Model name").press("Enter")
    settle(page)
    page.get_by_role("button", name="Train", exact=True).click()


def _wait_trained(page, name: str) -> None:
    card = page.get_by_test_id("stMain").get_by_text(name, exact=True).first
    expect(card).to_be_visible(timeout=60_000)
    expect(page.get_by_text(" · done").first).to_be_visible(timeout=240_000)
    settle(page)


def _picker_names(page) -> list[str]:
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip().lstrip("★ ") for o in options]


def test_train_settings_survive_a_visit_to_another_page(server, page):
    open_page(page, server, "train")
    units = page.get_by_role("spinbutton", name="Units")
    units.fill("32")
    units.press("Enter")
    settle(page)
    name = page.get_by_role("textbox", name="Model name")
    expect(page.get_by_text(re.compile(r"will be saved as"))).to_contain_text("32")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Fourier").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Fourier")
    settle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Train")
    settle(page)
    expect(page.get_by_role("spinbutton", name="Units")).to_have_value("32")
    expect(page.get_by_text(re.compile(r"will be saved as"))).to_contain_text("32")
    assert "128" not in name.input_value()
    check_clean(page, "train-settings-kept")


def test_train_a_tiny_model_for_one_epoch_and_see_it_in_the_picker(server, page):
    _start_training(page, server, "e2e-tiny")
    _wait_trained(page, "e2e-tiny")
    assert "e2e-tiny" in _picker_names(page)
    assert (server.root / "e2e-tiny" / "model.keras").is_file()
    check_clean(page, "train")


def _experiment(page, server, kind: str, text: str, fields) -> object:
    """The Experiments tab with ``kind`` chosen, ``text`` pasted and each (role, label,
    value) of ``fields`` filled in; returns the tab's panel."""
    open_page(page, server, "train")
    page.get_by_role("tab", name="Experiments").click()
    panel = page.get_by_role("tabpanel", name="Experiments")
    for choice in (kind, "Paste"):
        panel.get_by_role("radio", name=choice, exact=True).click()
        settle(page)
    for role, label, value in (("textbox", "Text", text), *fields):
        field = panel.get_by_role(role, name=label, exact=True)
        field.fill(value)
        field.press("Control+Enter" if label == "Text" else "Enter")
        settle(page)
    return panel


def test_a_small_random_search_keeps_its_best_model(server, page):
    text = "".join(f"item {i}: a small search over tiny models.\n" for i in range(300))
    panel = _experiment(
        page,
        server,
        "Random search",
        text,
        (
            ("spinbutton", "Sequence length", "20"),
            ("spinbutton", "Trials", "2"),
            ("spinbutton", "Max epochs per trial", "1"),
            ("spinbutton", "Keep the best as models", "1"),
            ("textbox", "Experiment name", "e2e-search"),
        ),
    )
    panel.get_by_role("button", name="Start the search").click()
    # the results poll the job; when it ends, the best trial is kept and the page reruns
    expect(panel.get_by_role("combobox", name="Experiment")).to_have_value(
        "e2e-search (search, done)", timeout=300_000
    )
    settle(page)
    shown(panel.locator("[data-testid=stDataFrame]"))  # the trials, ranked
    expect(panel.get_by_role("combobox", name="Keep trial")).to_be_visible()
    assert (server.root / "e2e-search-best-1" / "model.keras").is_file()
    assert "e2e-search-best-1" in _picker_names(page)
    check_clean(page, "train-experiments-search")


def test_a_dropout_sweep_opens_as_a_group_on_distributions(server, page):
    text = "".join(f"member {i}: the same net at another dropout.\n" for i in range(300))
    panel = _experiment(
        page,
        server,
        "Sweep",
        text,
        (
            ("spinbutton", "Sequence length", "20"),
            ("spinbutton", "Units", "16"),
            ("spinbutton", "Epochs", "1"),
            ("textbox", "Values", "0, 0.5"),
            ("textbox", "Group name", "e2e-dg"),
        ),
    )
    panel.get_by_role("button", name="Start the sweep").click()
    expect(panel.get_by_role("combobox", name="Experiment")).to_have_value(
        "e2e-dg (sweep, done)", timeout=300_000
    )
    settle(page)
    panel.get_by_role("button", name="Open the group on Distributions").click()
    expect(page.locator("[data-testid=stMain] h1").first).to_have_text("Distributions")
    settle(page)
    main = page.get_by_test_id("stMain")
    for member in ("e2e-dg-dropout-0", "e2e-dg-dropout-0p5"):
        expect(main.get_by_text(member, exact=True).first).to_be_visible()
    shown(charts(page))
    check_clean(page, "distributions-sweep-group")


def test_two_sessions_train_and_analyse_at_once_without_cross_talk(server, browser):
    a, b = _new_page(browser), _new_page(browser)
    try:
        _start_training(a, server, "e2e-alice")
        _start_training(
            b, server, "e2e-bob", "".join(f"row {i}, a lazy dog jumps;\n" for i in range(400))
        )
        # while both train, each session analyses a different model
        open_page(a, server, "relevance?model=demo-ref-char-gru")
        open_page(b, server, "fourier?model=demo-ref-char-rnn")
        check_clean(a, "two-sessions-a-relevance")
        check_clean(b, "two-sessions-b-fourier")
        expect(a.get_by_test_id("stSidebar")).to_contain_text("GRU")
        expect(b.get_by_test_id("stSidebar")).to_contain_text("RNN")
        for pg, mine, theirs in ((a, "e2e-alice", "e2e-bob"), (b, "e2e-bob", "e2e-alice")):
            open_page(pg, server, "train")
            _wait_trained(pg, mine)
            main = pg.get_by_test_id("stMain")
            expect(main.get_by_text("Your training jobs")).to_be_visible()
            # the other session's job is never shown as this session's
            assert (
                main.locator("[data-testid=stVerticalBlockBorderWrapper]")
                .filter(has_text=theirs)
                .count()
                == 0
            )
            check_clean(pg, f"two-sessions-{mine}")
        for name in ("e2e-alice", "e2e-bob"):
            assert (server.root / name / "model.keras").is_file()
        assert {"e2e-alice", "e2e-bob"} <= set(_picker_names(a))
    finally:
        a.context.close()
        b.context.close()


def test_at_800_px_the_sidebar_folds_and_nothing_is_fetched_from_outside(server, browser):
    """A projector or a small laptop: at 800 x 900 the sidebar starts folded away, no key
    figure is cut, and every request (favicon and fonts included) goes to the app's server."""
    context = browser.new_context(viewport={"width": 800, "height": 900})
    try:
        pg = context.new_page()
        pg.set_default_navigation_timeout(180_000)
        pg.set_default_timeout(60_000)
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        open_page(pg, server, "relevance?model=demo-ref-char-lstm")
        sidebar = pg.get_by_test_id("stSidebar")
        expect(sidebar).to_have_attribute("data-collapsed", "true", timeout=30_000)
        shown(pg.locator("[data-testid=stMetricValue]"))
        cut = pg.evaluate(
            """[...document.querySelectorAll('[data-testid=stMetricValue]')]
               .flatMap(e => [e, ...e.querySelectorAll('*')])
               .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""
        )
        assert not cut, f"key figures cut at 800 px: {cut}"
        icon = pg.evaluate("document.querySelector(\"link[rel='shortcut icon']\")?.href || ''")
        assert icon.startswith((server.url, "data:")), icon
        outside = sorted({u for u in requests if not u.startswith((server.url, "data:", "blob:"))})
        assert not outside, f"fetched from outside the server: {outside}"
        check_clean(pg, "relevance-800px")
    finally:
        context.close()


def test_a_hostile_corpus_name_in_meta_json_shows_as_text_and_fetches_nothing(server, page):
    """Issue 18, class 5: an imported model's corpus name is Markdown an attacker wrote."""
    name = "hostile-meta"
    folder = server.root / name
    shutil.copytree(server.root / "demo-ref-char-rnn", folder)
    meta = json.loads((folder / "meta.json").read_text())
    evil = "![x](http://127.0.0.1:9/p.png) <img src=y onerror=alert(3)> $x^2$ **bold** www.e.org"
    meta.update(demo=False, corpus={**meta["corpus"], "name": evil})
    (folder / "meta.json").write_text(json.dumps(meta))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        open_page(page, server, f"generate?model={name}")
        caption = page.get_by_test_id("stSidebar").get_by_test_id("stCaptionContainer").first
        expect(caption).to_contain_text("**bold**")
        # what a reader sees, the invisible word joiners that keep URLs unlinked aside
        assert f"corpus: {evil} ·" in caption.inner_text().replace("\u2060", "")
        assert caption.locator("img, a, .katex").count() == 0
        expect(caption.locator("strong")).to_have_text(["RNN"])  # the summary's own bold only
        assert page.get_by_test_id("stSidebar").locator("img[src=y]").count() == 0
        assert not [u for u in requests if ":9/" in u or u.endswith("/y")], requests
        check_clean(page, "hostile-corpus-name")
    finally:
        shutil.rmtree(folder)


def import_keras_from_sidebar(page, server, model_file, *, vocab_file=None, classes="") -> None:
    """Upload a Keras model (and its vocabulary, and a classifier's class names) through
    the sidebar's importer, press Import, and wait for the check's "recorder matches
    Keras"."""
    open_page(page, server, "generate?model=demo-ref-char-lstm")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Model files", exact=True).click()
    uploaders = sidebar.get_by_test_id("stFileUploader")
    keras_up = uploaders.filter(has_text="Keras model (.keras or .h5)")
    keras_up.locator("input[type=file]").set_input_files(str(model_file))
    settle(page)
    if vocab_file is not None:
        vocab_up = uploaders.filter(has_text="Its vocabulary (optional)")
        vocab_up.locator("input[type=file]").set_input_files(str(vocab_file))
        settle(page)
    if classes:
        names = sidebar.get_by_role("textbox", name="Class names (classifiers only, optional)")
        names.fill(classes)
        names.press("Enter")
        settle(page)
    sidebar.get_by_role("button", name="Import the Keras model").click()
    settle(page)
    expect(sidebar.get_by_text(re.compile("recorder matches Keras"))).to_be_visible(timeout=120_000)


def test_a_plain_keras_model_imports_from_the_sidebar_and_generates(server, page, tmp_path):
    """Issue 20: a word LSTM language model built with plain Keras, saved as .keras, with
    its word index JSON, uploaded through the sidebar; Generate then works on it."""
    import keras
    from keras import layers

    words = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away", " ", "\n"]
    index = {w: i + 1 for i, w in enumerate(words)}
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(index) + 1, 8),
            layers.LSTM(12, return_sequences=True),
            layers.Dense(len(index) + 1),
        ]
    )
    model.save(tmp_path / "browser-lm.keras")
    (tmp_path / "index.json").write_text(json.dumps(index))
    import_keras_from_sidebar(
        page, server, tmp_path / "browser-lm.keras", vocab_file=tmp_path / "index.json"
    )
    assert "browser-lm" in _picker_names(page)
    check_clean(page, "import-keras")
    open_page(page, server, "generate?model=browser-lm")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("LSTM, word level")
    shown(page.locator("td.hl-text span.tok"))
    assert page.locator("td.hl-text span.tok").count() > 10
    check_clean(page, "import-keras-generate")


def test_exported_text_and_report_open_offline_with_their_colours(page, tmp_path):
    """The files the export buttons render (dashboard.exporting) open from disk in
    Chromium: the text reads as in the app, a token keeps its background colour, the
    chart's SVG draws, a hostile token stays text and nothing is fetched."""
    import altair as alt
    import numpy as np
    import pandas as pd

    from dashboard import exporting
    from dashboard.widgets.highlight import ColourScale, highlighted_rows_html

    tokens = ["def", " ", "f", HOSTILE]
    scale = ColourScale("diverging", -1.0, 1.0, label="h")
    view = highlighted_rows_html(tokens, [("unit 3", np.array([1.0, 0.0, -1.0, 0.5]))], scale)
    chart = (
        alt.Chart(pd.DataFrame({"t": [0, 1, 2], "h": [0.1, -0.5, 0.9]}))
        .mark_line()
        .encode(x=alt.X("t", title="Time step"), y="h")
        .properties(title="Unit 3 over time")
    )
    report = exporting.Report(
        "Generate & Highlight",
        {"gen.seed_text": HOSTILE},
        "demo",
        {"spec": {"cell": "lstm"}},
        [
            exporting.Item("chart", "a chart", chart),
            exporting.Item("text", "neurons", view),
            exporting.Item("table", "a table", pd.DataFrame({"unit": [3], "score": [0.5]})),
        ],
    )
    files = {
        "text.html": exporting.highlight_document("Neurons", view),
        "report.html": exporting.report_html(report),
    }
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    for file, doc in files.items():
        path = tmp_path / file
        path.write_text(doc, encoding="utf-8")
        page.goto(path.as_uri())
        body = page.locator("body").inner_text()
        # spaces show as · (the app's whitespace symbols); the hostile token is text
        assert "def·f" + HOSTILE.replace(" ", "·") in body
        tok = page.locator(".hl-text .tok").first  # "def": value 1.0, the scale's red
        assert tok.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(180, 4, 38)"
        assert tok.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
        blue = page.locator(".hl-text .tok").nth(2)  # "f": -1.0, the scale's blue
        assert blue.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(59, 76, 192)"
        assert page.locator("script").count() == 0 and page.dialogs == []
    svg = page.locator("figure svg").first
    box = svg.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    assert "Unit 3 over time" in svg.inner_html() and "Time step" in svg.inner_html()
    assert page.locator("table.data td", has_text="0.5").count() == 1
    assert all(url.startswith("file://") for url in requests), requests
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "export-report.png"), full_page=True)
