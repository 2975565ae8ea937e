"""Issue 20 in a real browser: a GRU classifier built with plain Keras, holding its own
TextVectorization, imported from the sidebar, then given the user's own sentences on
Hidden States (an imported classifier has no dataset).

The fixtures come from tests/test_browser.py; the module-scoped ``server`` fixture
imported here starts a server of its own for this module.
"""

# A test naming a fixture imported from tests.test_browser redefines it for ruff.
# ruff: noqa: F811
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401  (browser, page, server: fixtures)
    _picker_names,
    browser,
    check_clean,
    import_keras_from_sidebar,
    open_page,
    page,
    server,
    settle,
    shown,
)

pytestmark = pytest.mark.browser

SENTENCES = ["the cat sat on the mat", "a dog ran far away", "the dog sat", "a cat ran away"]
PASTED = (
    "1\tThe cat sat on the MAT!\n"
    "0\tA dog ran far away.\n"
    "1,the dog sat\n"
    "0,a cat ran away\n"
    "The Cat ran far"  # no label: drawn, actual class unknown
)

#: the alpha values of every pixel of a canvas, or the size of an svg's drawing
_DRAWN = """e => {
  const c = e.querySelector('canvas');
  if (c) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return {kind: 'canvas', width: c.width, height: c.height, painted: n};
  }
  const s = e.querySelector('svg');
  const box = s ? s.getBoundingClientRect() : {width: 0, height: 0};
  const marks = s ? s.querySelectorAll('path, circle, rect, symbol').length : 0;
  return {kind: 'svg', width: box.width, height: box.height, painted: marks};
}"""


def _gru_classifier(path):
    """A GRU classifier over a TextVectorization (Keras' default standardization), saved."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(7)
    tv = layers.TextVectorization(max_tokens=30, output_sequence_length=12)
    tv.adapt(SENTENCES)
    text_in = keras.Input((1,), dtype="string")
    x = layers.Embedding(len(tv.get_vocabulary()), 6, mask_zero=True)(tv(text_in))
    out = layers.Dense(2, activation="softmax")(layers.GRU(9)(x))
    model = keras.Model(text_in, out)
    rng = np.random.default_rng(1)  # weights of a visible size: the classes differ
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    model.save(path)
    return model


def test_an_imported_gru_classifier_reads_the_users_sentences_on_hidden_states(
    server, page, tmp_path
):
    model_file = tmp_path / "browser-gru.keras"
    _gru_classifier(model_file)
    import_keras_from_sidebar(page, server, model_file, classes="neg, pos")
    assert "browser-gru" in _picker_names(page)
    check_clean(page, "import-keras-gru")

    open_page(page, server, "hidden_states?model=browser-gru&hid.method=pca")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("Your own sentences", exact=True)).to_be_visible()
    assert main.locator(".vega-embed").count() == 0  # nothing recorded before the button
    box = page.get_by_role("textbox", name="Sentences (one a line)")
    box.fill(PASTED)
    box.press("Control+Enter")
    settle(page)
    main.get_by_role("button", name="Record these sentences").click()
    settle(page)
    heading = main.get_by_role("heading", name="Projection of every hidden state")
    expect(heading).to_be_visible(timeout=120_000)
    projection = page.locator(
        "xpath=//h3[contains(., 'Projection of every hidden state')]"
        "/following::div[contains(@class, 'vega-embed')][1]"
    )
    shown(projection)
    drawn = projection.evaluate(_DRAWN)
    assert drawn["width"] > 200 and drawn["height"] > 150, drawn
    assert drawn["painted"] > 100 if drawn["kind"] == "canvas" else drawn["painted"] > 5, drawn

    table = main.get_by_test_id("stDataFrame").first
    shown(table)
    grid = table.locator("[role=grid]").first
    assert int(grid.get_attribute("aria-rowcount")) == 5 + 1  # the 5 sentences + the header
    expect(table).to_contain_text("the cat sat on the mat")  # standardized as in Keras
    expect(main.get_by_test_id("stMetric").filter(has_text="Sequences loaded")).to_contain_text("5")
    expect(main.get_by_test_id("stMetric").filter(has_text="Correctly classified")).to_contain_text(
        "of 4"
    )
    expect(main.get_by_text(re.compile("1 of 5 sentences have no label"))).to_be_visible()
    check_clean(page, "hidden-states-own-sentences")

    seq = page.get_by_role("spinbutton", name="…or sequence id (-1: none)")
    seq.fill("0")
    seq.press("Enter")
    settle(page)
    expect(main.get_by_role("heading", name=re.compile("^Sequence 0: actual pos"))).to_be_visible()
    words = main.locator("td.hl-text span.tok")
    shown(words)
    assert words.count() == 6 and words.first.inner_text().strip() == "the", words.all_inner_texts()
    check_clean(page, "hidden-states-own-sentences-trajectory")
