"""The start page (pages/start.py) and its findings (lib.analysis.findings)."""

import json
import shutil

import pytest

from lib.analysis.findings import read_findings, sentence
from tests.helpers import ROOT, app

F = {
    "feature": "inside quotes",
    "neuron": 7,
    "kind": "binary",
    "effect": 0.2,
    "ci_low": 0.15,
    "ci_high": 0.25,
    "q": 1e-6,
    "direction": "lower on the feature",
    "step": 5,
    "start": 0,
    "stop": 40,
}


def test_sentence_says_what_the_neuron_does_and_how_sure():
    text = sentence(F)
    assert text.startswith("Neuron 7 is lower inside quotes")
    assert "80% of the time it is lower" in text and "0.15 to 0.25" in text
    numeric = {**F, "kind": "numeric", "feature": "position in line", "effect": -0.7}
    assert "falls with the position in line" in sentence(numeric)


def _write(tmp_path, data):
    (tmp_path / "findings.json").write_text(json.dumps(data))
    return read_findings(tmp_path)


def test_findings_files_are_validated(tmp_path):
    good = {"model": "m", "layer": 0, "chars": 100, "signal": "c", "findings": [F]}
    assert _write(tmp_path, good)["findings"] == [F]
    assert _write(tmp_path, {**good, "signal": "x"}) is None
    assert _write(tmp_path, {**good, "findings": [{**F, "neuron": "7"}]})["findings"] == []
    assert _write(tmp_path, {**good, "findings": [{**F, "stop": 10**6}]})["findings"] == []
    (tmp_path / "findings.json").write_text("x" * 70_000)
    assert read_findings(tmp_path) is None
    assert read_findings(tmp_path / "missing") is None


def test_shipped_demo_models_have_findings():
    for name in ("demo-stdlib-char-lstm", "demo-ref-char-lstm"):
        data = read_findings(ROOT / "models" / name)
        assert data is not None and data["model"] == name
        features = [f["feature"] for f in data["findings"]]
        want = "inside string literal" if "stdlib" in name else "inside quotes"
        assert want in features


@pytest.mark.slow
def test_the_app_opens_on_findings_and_one_click_opens_the_atlas_card(registry):
    name = "demo-stdlib-char-lstm"
    shutil.copytree(ROOT / "models" / name, registry / name)
    at = app(page=None)
    assert any(m.value.startswith("**Inside string literal**") for m in at.markdown)
    assert at.main.get("html"), "the highlighted text is missing"
    at.button(key=f"btn.start.atlas.{name}.0").click().run()
    assert not at.exception, at.exception
    assert at.session_state["model"] == name
    neuron = at.session_state["atlas.neuron"]
    assert any(h.value.startswith(f"Neuron {neuron}: ") for h in at.subheader)
    assert not any(b.key == "btn.atlas.build" for b in at.button)  # opened at once


@pytest.mark.slow
def test_the_start_page_report_holds_each_findings_model_sentence_and_text(registry):
    from dashboard import exporting

    name = "demo-stdlib-char-lstm"
    shutil.copytree(ROOT / "models" / name, registry / name)
    at = app(page=None)
    assert not at.exception, at.exception
    assert "Download this page as HTML" in [
        b.proto.label for b in at.sidebar.get("download_button")
    ]
    _, report, prefix = at.session_state["_export.report"]
    assert report.title == "Start here" and prefix == "start."
    texts = [i for i in report.items if i.kind == "text"]
    shown = read_findings(registry / name)["findings"][:3]
    assert len(texts) >= len(shown)
    for item, f in zip(texts, shown, strict=False):
        assert item.name == f"{f['feature'].capitalize()}: {name}, neuron {f['neuron']}"
        assert item.note.startswith(sentence(f))
        assert "hl-table" in item.value
    # the cards: every model whose findings are shown, each once
    models = [report.model] + [n for n, _ in report.cards]
    assert name in models and len(models) == len(set(models))
    doc = exporting.report_html(report)
    assert f"<h2>Model: {name}</h2>" in doc and "spec.cell" in doc
    assert exporting.html.escape(sentence(shown[0])) in doc
