"""Training evolution over the demo model's real per-epoch checkpoints."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.analysis.evolution import COLUMNS, evolution, first_epoch_of_best
from lib.analysis.features import regex_mask
from lib.model.registry import load
from tests.helpers import TEXT, random_bundle

MODELS = Path(__file__).resolve().parent.parent / "models"
DEMO = "demo-stdlib-char-lstm"


@pytest.mark.slow
def test_evolution_has_one_row_per_checkpoint():
    bundle = load(DEMO, root=MODELS)
    text = (TEXT * 2)[:1000]
    mask = regex_mask(bundle.tokenizer.tokenize(text), " ")
    df = evolution(bundle, text, layer=0, signal="h", neuron=3, feature_mask=mask)
    assert list(df.columns) == COLUMNS
    assert df.epoch.tolist() == list(range(1, 9))
    assert (df.best_relevance >= df.relevance).all() and (df["rank"] >= 1).all()
    assert ((df.relevance_normalized > 0) & (df.relevance_normalized <= 1)).all()
    assert ((df.peak_freq >= 0.02) & (df.peak_freq <= 0.5)).all()
    assert df.best_neuron.between(0, 255).all()
    assert first_epoch_of_best(df) in set(df.epoch)
    best_df = evolution(
        bundle, text, layer=0, signal="h", neuron=int(df.best_neuron.iloc[-1]), feature_mask=mask
    )
    assert best_df["rank"].iloc[-1] == 1 and best_df.relevance_normalized.iloc[-1] == 1.0
    np.testing.assert_allclose(best_df.best_relevance, df.best_relevance)


def test_first_epoch_of_best():
    df = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "best_neuron": [3, 5, 5, 3, 5]})
    assert first_epoch_of_best(df) == 2
    assert first_epoch_of_best(df, stable=True) == 5
    assert first_epoch_of_best(df.iloc[::-1]) == 2  # order of rows does not matter
    steady = pd.DataFrame({"epoch": [1, 2], "best_neuron": [4, 4]})
    assert first_epoch_of_best(steady) == first_epoch_of_best(steady, stable=True) == 1
    with pytest.raises(ValueError, match="no rows"):
        first_epoch_of_best(df.iloc[:0])


def test_model_without_checkpoints():
    bundle = random_bundle("lstm")
    mask = np.arange(len(TEXT)) % 2 == 0
    with pytest.raises(ValueError, match="no checkpoints|no per-epoch"):
        evolution(bundle, TEXT, layer=0, signal="h", neuron=0, feature_mask=mask)
