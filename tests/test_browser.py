"""The whole app in a real browser: Debian's chromium driven by Playwright."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(registry, tmp_path):
    port = _free_port()
    env = {**os.environ, "RNN_LENS_MODELS": str(registry), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError((tmp_path / "server.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.fixture
def page():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg
        browser.close()


def test_deep_link_opens_highlighted_demo_text_and_escapes_script(server, page):
    page.goto(f"{server}/generate?model=demo-ref-char-lstm&pick.neurons=4,9")
    rows = page.locator("td.hl-label")
    expect(rows.first).to_be_visible(timeout=60_000)
    expect(rows).to_have_text(["neuron 4", "neuron 9"])
    assert page.locator("td.hl-text span.tok").count() > 100
    assert "position 0" in page.locator("td.hl-text span.tok").first.get_attribute("title")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("LSTM, char level")

    page.get_by_text("Paste text", exact=True).click()
    box = page.get_by_role("textbox", name="Text to record")
    box.fill("<script>alert('x')</script><b>bold</b>")
    box.press("Control+Enter")
    expect(page.locator("td.hl-text").first).to_contain_text("<script>alert('x')</script>",
                                                             timeout=30_000)
    assert page.locator("td.hl-text b").count() == 0 and not page.dialogs


def test_train_page_renders_its_controls(server, page):
    page.goto(f"{server}/train")
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    expect(page.get_by_text("Python language reference").first).to_be_visible()
