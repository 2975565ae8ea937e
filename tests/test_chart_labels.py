"""Charts show what matters: every row labelled, independent legends, 20 cluster colours
in numeric order, and readable axis titles instead of raw column names."""

from __future__ import annotations

import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from dashboard.charts.titles import numeric_order, readable, row_axis

#: colours in each categorical scheme the charts may use (Vega's scheme definitions)
SCHEME_SIZE = {"category10": 10, "tableau10": 10, "category20": 20, "tableau20": 20}
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
CHANNELS = ("x", "y", "color", "size", "shape", "row", "column")


def _untitled_snake_fields(spec, inherited=frozenset()) -> list[str]:
    """Every axis or legend of the spec whose title would be a snake_case column name.

    A channel without a title gets its field's name; in a layer, a title set by any layer
    names the shared axis.
    """
    bad: list[str] = []
    if isinstance(spec, list):
        for s in spec:
            bad += _untitled_snake_fields(s, inherited)
        return bad
    if not isinstance(spec, dict):
        return bad
    titled = set(inherited)
    if "layer" in spec:
        for layer in spec["layer"]:
            for ch, enc in (layer.get("encoding") or {}).items():
                if isinstance(enc, dict) and enc.get("title"):
                    titled.add(ch)
    for ch, enc in (spec.get("encoding") or {}).items():
        if ch not in CHANNELS or not isinstance(enc, dict):
            continue
        title = enc.get("title")
        if isinstance(title, str) and SNAKE.match(title):
            bad.append(f"{ch}: title {title!r}")
        hidden = enc.get("axis", {}) is None or enc.get("legend", {}) is None
        field = enc.get("field")
        if field and "title" not in enc and ch not in titled and not hidden and "_" in field:
            bad.append(f"{ch}: field {field!r} untitled")
    for key, value in spec.items():
        if key in ("layer", "hconcat", "vconcat", "concat", "spec"):
            bad += _untitled_snake_fields(value, frozenset(titled) if key == "layer" else inherited)
    return bad


def _y_axis(spec: dict) -> dict:
    return spec["encoding"]["y"]["axis"]


# ---------------------------------------------------------------- small inputs of each chart


def _steps(n_neurons: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"neuron": str(200 + k), "step": s, "position": 3 * s, "token": "x", "value": v}
        for k in range(n_neurons)
        for s, v in enumerate(rng.normal(size=5))
    ]
    return pd.DataFrame(rows)


def _scores(n_neurons: int) -> pd.DataFrame:
    return pd.DataFrame({"neuron": [str(200 + k) for k in range(n_neurons)], "R": 0.5})


def _sweep() -> pd.DataFrame:
    top = pd.DataFrame({"kind": "top", "control": "", "k": [1, 2], "draw": 0})
    rnd = pd.DataFrame({"kind": "random", "control": "all", "k": [1, 1, 2, 2], "draw": [0, 1] * 2})
    return pd.concat([top, rnd]).assign(delta_loss_feature=0.1)


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": [1, 2],
            "control": "all",
            "p5": 0.0,
            "median": 0.1,
            "p95": 0.2,
            "top": 0.3,
            "n_draws": 5,
            "rank": 1,
        }
    )


def _trials() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial": [0, 1],
            "stage": "random",
            "learning_rate": [1e-3, 1e-2],
            "batch_size": [32, 64],
            "cell": ["lstm", "gru"],
            "val_loss": [1.2, 1.1],
        }
    )


CHARTS = {
    "heatmap_with_scores": lambda: charts.heatmap_with_scores(_steps(3), _scores(3)),
    "layer_overview": lambda: charts.layer_overview(
        pd.DataFrame({"neuron": [0, 0, 1], "bin_start": [0, 10, 0], "value": [0.1, -0.2, 0.3]})
    ),
    "topk_bars": lambda: charts.topk_bars(
        pd.DataFrame({"token": list("abc"), "prob": [0.5, 0.3, 0.2]}), actual="b"
    ),
    "box_percentiles": lambda: charts.box_percentiles(
        pd.DataFrame(
            {"token": ["NOUN", "SPACE"], "p9": 0, "p25": 1, "p50": 2, "p75": 3, "p91": 4}
        ).assign(count=3, mean=2.0)
    ),
    "signal_means": lambda: charts.signal_means(
        pd.DataFrame({"signal": ["L0 h", "L0 c"], "mean |activation|": [0.4, 3.0]})
    ),
    "histogram_overlay": lambda: charts.histogram_overlay(
        pd.DataFrame({"value": [0.0, 0.1], "neuron": [0.5, 0.5], "reference": [0.4, 0.6]})
    ),
    "per_model_bars": lambda: charts.per_model_bars(
        pd.DataFrame({"model": ["a", "b"], "mean_abs": [0.1, 0.2]}),
        value="mean_abs",
        title="mean |h|",
    ),
    "spectrum_heatmap": lambda: charts.spectrum_heatmap(
        pd.DataFrame({"neuron": [0, 1], "freq": [0.1, 0.1], "amplitude": [1.0, 2.0]})
    ),
    "spectrum_lines": lambda: charts.spectrum_lines(
        pd.DataFrame({"neuron": [0, 0], "freq": [0.1, 0.2], "amplitude": [1.0, 2.0]}),
        band=(0.1, 0.2),
    ),
    "token_map": lambda: charts.token_map(
        pd.DataFrame(
            {
                "x": [0.0, 1.0],
                "y": [0.0, 1.0],
                "token": ["a", "b"],
                "context": ["a", "b"],
                "cluster": ["1", "0"],
                "position": [0, 1],
            }
        ),
        colour="cluster",
    ),
    "cluster_positions": lambda: charts.cluster_positions(
        pd.DataFrame({"token": ["a", "b"], "position": [0, 1], "cluster": ["10", "2"]})
    ),
    "edge_matrix": lambda: charts.edge_matrix(
        pd.DataFrame({"word_cluster": [0], "unit_cluster": [1], "weight": [0.1], "strength": [1]})
    ),
    "sweep_chart": lambda: charts.sweep_chart(_sweep(), "delta_loss_feature"),
    "control_range_chart": lambda: charts.control_range_chart(_summary()),
    "training_curves": lambda: charts.training_curves(
        pd.DataFrame({"epoch": [0.5, 1.0], "loss": [2.0, 1.5]}),
        pd.DataFrame({"epoch": [1, 1], "series": ["loss", "val_loss"], "value": [1.5, 1.6]}),
    ),
    "metric_vs_baseline": lambda: charts.metric_vs_baseline(
        pd.DataFrame({"epoch": [1, 2], "value": [3.0, 2.5]}), metric="val_bpc", baseline=4.0
    ),
    "metric_vs_params": lambda: charts.metric_vs_params(
        _trials(), metric="val_loss", params=["learning_rate", "batch_size", "cell"]
    ),
    "setting_line": lambda: charts.setting_line(
        pd.DataFrame({"dropout": [0.0, 0.5], "mean_abs": [0.3, 0.2], "model": ["a", "b"]}),
        x="dropout",
        y="mean_abs",
        title="mean |h|",
    ),
    "class_bars": lambda: charts.class_bars(
        pd.DataFrame({"actual": ["pos", "neg"], "predicted": ["pos", "pos"], "count": [3, 1]})
    ),
    "confusion_matrix": lambda: charts.confusion_matrix(
        pd.DataFrame({"actual": ["pos", "neg"], "predicted": ["pos", "pos"], "count": [3, 1]})
    ),
    "time_class_heatmap": lambda: charts.time_class_heatmap(
        pd.DataFrame({"label": ["a (0)", "final"], "class": ["pos", "pos"], "ep": [0.2, 0.9]})
    ),
    "jump_bars": lambda: charts.jump_bars(
        pd.DataFrame({"label": ["a (0)", "b (1)"], "distance": [0.2, 0.9]}), threshold=0.5
    ),
    "probe_path": lambda: charts.probe_path(
        pd.DataFrame({"n_neurons": [1, 2], "accuracy": [0.7, 0.8], "C": [0.1, 1], "neurons": "1"}),
        best_single=0.75,
        best_neuron=1,
    ),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_no_axis_is_titled_with_a_raw_column_name(name):
    spec = CHARTS[name]().to_dict()
    assert _untitled_snake_fields(spec) == [], name


def test_the_title_walker_catches_raw_names():
    """The fake: a chart titled by its columns is caught, on an axis and in a layer."""
    df = pd.DataFrame({"val_loss": [1.0], "epoch": [1], "delta_loss_feature": [0.1]})
    plain = alt.Chart(df).mark_point().encode(x="epoch:Q", y="val_loss:Q")
    assert _untitled_snake_fields(plain.to_dict()) == ["y: field 'val_loss' untitled"]
    titled = alt.Chart(df).mark_point().encode(y=alt.Y("epoch:Q", title="delta_loss_feature"))
    assert _untitled_snake_fields(titled.to_dict()) == ["y: title 'delta_loss_feature'"]
    # a title from one layer names the shared axis of the others
    layered = plain.encode(y=alt.Y("val_loss:Q", title="loss")) + plain.mark_line()
    assert _untitled_snake_fields(layered.to_dict()) == []


def test_readable_titles_of_the_raw_columns_the_issue_names():
    assert readable("delta_loss_feature") == "loss change at the feature (nats)"
    assert readable("val_loss") == "validation loss (nats per token)"
    assert readable("some_new_column") == "some new column"
    spec = charts.sweep_chart(_sweep(), "delta_loss_feature").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["title"] == "loss change at the feature (nats)"


# ---------------------------------------------------------------- every row labelled


@pytest.mark.parametrize("n", [3, 30, 120])
def test_relevance_heatmap_labels_every_neuron_row(n):
    spec = charts.heatmap_with_scores(_steps(n), _scores(n)).to_dict()
    column, heat = spec["hconcat"]
    assert _y_axis(heat)["labelOverlap"] is False and _y_axis(heat)["labelLimit"] >= 100
    assert heat["height"] >= 14 * n and column["height"] == heat["height"]  # rows line up
    assert heat["encoding"]["y"]["sort"] is None  # the page's order: top neuron first


def test_heatmap_colour_scales_are_independent_with_two_legends_and_centred():
    spec = charts.heatmap_with_scores(_steps(4), _scores(4)).to_dict()
    assert spec["resolve"]["scale"]["color"] == "independent"
    column, heat = (c["encoding"]["color"] for c in spec["hconcat"])
    assert heat["legend"] is not None and heat["title"] == "activation"
    assert column["legend"] is not None and column["title"] != "R"
    assert heat["scale"]["domainMid"] == 0  # a neuron that goes down is blue, not white
    # the fake: without the resolve, Vega-Lite would merge them into one scale
    merged = alt.hconcat(charts.feature_heatmap(_steps(4)), charts.score_column(_scores(4)))
    assert "resolve" not in merged.to_dict()


def test_every_diverging_scale_is_centred_on_zero():
    overview = charts.layer_overview(
        pd.DataFrame({"neuron": [0, 1], "bin_start": [0, 0], "value": [-3.0, 0.1]})
    ).to_dict()
    assert overview["encoding"]["color"]["scale"]["domainMid"] == 0
    chips = charts.memory_chips(
        pd.DataFrame({"unit": [0], "cluster": [0], "row": [0], "col": [0], "response": [-1.0]})
    ).to_dict()
    assert chips["spec"]["encoding"]["color"]["scale"]["domainMid"] == 0


def test_pos_box_plot_shows_all_twelve_tags():
    tags = ["ADJ", "ADP", "ADV", "DET", "NOUN", "NUM", "PRON", "PROPN", "PUNCT", "SPACE"]
    tags += ["SYM", "VERB"]
    df = pd.DataFrame({"token": tags, "p9": 0, "p25": 1, "p50": 2, "p75": 3, "p91": 4})
    spec = charts.box_percentiles(df.assign(count=5, mean=2.0)).to_dict()
    assert spec["height"] >= 14 * len(tags)
    assert all(_y_axis(layer)["labelOverlap"] is False for layer in spec["layer"])


def test_next_token_chart_names_all_ten_bars():
    df = pd.DataFrame({"token": [f"t{k}" for k in range(10)], "prob": np.linspace(0.3, 0.01, 10)})
    spec = charts.topk_bars(df, actual="t3").to_dict()
    assert spec["height"] >= 14 * 10 and _y_axis(spec)["labelOverlap"] is False


def test_row_axis_labels_all_rows_up_to_the_limit_then_thins():
    assert row_axis(50, title="neuron", px=14) == {
        "height": 700,
        "axis": {"title": "neuron", "labelOverlap": False, "labelLimit": 400},
    }
    many = row_axis(256, title="neuron", px=14)
    assert many["axis"]["labelOverlap"] is True and many["height"] == 320
    assert row_axis(0, title=None)["height"] == 16  # an empty chart still has a row


# ---------------------------------------------------------------- cluster colours


def test_numeric_order_is_numeric_not_text():
    assert numeric_order(["10", "2", "0", "1", "2"]) == ["0", "1", "2", "10"]
    assert numeric_order([10, 2, 0]) == [0, 2, 10]
    assert numeric_order(["b", "1", "a"]) == ["1", "a", "b"]


def _twenty_clusters() -> pd.DataFrame:
    order = np.random.default_rng(1).permutation(20)
    return pd.DataFrame(
        {
            "x": np.arange(20.0),
            "y": np.arange(20.0),
            "token": "t",
            "context": "c",
            "cluster": [str(k) for k in order],
            "position": np.arange(20),
        }
    )


def test_word_cluster_map_has_twenty_colours_in_numeric_order():
    spec = charts.token_map(_twenty_clusters(), colour="cluster").to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert SCHEME_SIZE[scale["scheme"]] >= 20
    assert scale["domain"] == [str(k) for k in range(20)]  # 0, 1, 2, ..., 10, not 0, 1, 10


def test_cluster_positions_rows_in_numeric_order_and_all_labelled():
    df = _twenty_clusters()
    spec = charts.cluster_positions(df).to_dict()
    assert spec["encoding"]["y"]["sort"] == [str(k) for k in range(20)]
    assert _y_axis(spec)["labelOverlap"] is False and spec["height"] >= 14 * 20


def test_chips_and_clouds_facet_clusters_in_numeric_order_with_twenty_pos_colours():
    chips = pd.DataFrame(
        {"unit": range(12), "cluster": [11, 2, 0, 1] * 3, "row": 0, "col": 0, "response": 0.1}
    )
    assert charts.memory_chips(chips).to_dict()["facet"]["row"]["sort"] == [0, 1, 2, 11]
    words = pd.DataFrame(
        {
            "word": list("abcd"),
            "label": list("abcd"),
            "cluster": [10, 9, 1, 0],
            "x": 0.0,
            "y": 0,
            "size": 1.0,
            "pos": ["NOUN", "VERB", "ADJ", "SPACE"],
        }
    )
    spec = charts.word_clouds(words).to_dict()
    assert spec["facet"]["row"]["sort"] == [0, 1, 9, 10]
    assert SCHEME_SIZE[spec["spec"]["encoding"]["color"]["scale"]["scheme"]] >= 20
