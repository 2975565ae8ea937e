"""Readable axis and legend titles for the charts, in place of raw column names.

A chart names an axis after what it shows ("validation loss (nats per token)"), never
after the DataFrame column behind it (``val_loss``). :func:`readable` is the one place the
charts turn a column name into a title.
"""

from __future__ import annotations

#: column -> title of every metric, score and setting a chart may be handed by name
TITLES = {
    "loss": "training loss (nats per token)",
    "val_loss": "validation loss (nats per token)",
    "val_accuracy": "validation accuracy",
    "val_bpc": "validation bits per character",
    "val_perplexity": "validation perplexity",
    "delta_loss": "loss change (nats per token)",
    "delta_loss_feature": "loss change at the feature (nats)",
    "delta_loss_other": "loss change elsewhere (nats)",
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "dropout": "dropout",
    "units": "units per layer",
    "layers": "layers",
    "cell": "cell type",
    "mean_abs": "mean |activation|",
    "dead": "dead neurons",
    "R": "relevance R (Dahlberg)",
    "size": "effect size (0 to 1)",
    "auroc": "effect (AUROC)",
    "n_neurons": "units in the probe",
}


#: a categorical scheme with 20 distinguishable colours (Vega's "category20")
CATEGORY20 = "category20"


def numeric_order(values) -> list:
    """The distinct values, numbers in numeric order (0, 1, 2, 10, not 0, 1, 10, 2), then
    the rest as text.

    Examples
    --------
    >>> numeric_order(["10", "2", "0", "1", "noise"])
    ['0', '1', '2', '10', 'noise']
    """

    def key(v):
        try:
            return (0, float(v), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(v))

    return sorted(dict.fromkeys(values), key=key)


def category_scale(values) -> dict:
    """Keyword arguments of ``alt.Scale`` for a categorical colour: 20 colours, legend and
    colours in numeric order of the values."""
    return {"scheme": CATEGORY20, "domain": [_plain(v) for v in numeric_order(values)]}


def _plain(v):
    """A NumPy scalar as the Python value Altair can serialise."""
    return v.item() if hasattr(v, "item") else v


def readable(column: str) -> str:
    """The title of a column: its entry in :data:`TITLES`, else the name with spaces.

    Examples
    --------
    >>> readable("val_loss")
    'validation loss (nats per token)'
    >>> readable("hidden_size")
    'hidden size'
    """
    return TITLES.get(column, column.replace("_", " "))


def row_axis(
    n_rows: int, *, title: str | None, px: int = 16, most: int = 80, overview: int = 320
) -> dict:
    """Height and y-axis settings of a chart with one row per item, every row labelled.

    Up to ``most`` rows the chart is ``n_rows * px`` pixels tall and no label is dropped
    (``labelOverlap`` off); beyond that it is an overview whose
    labels thin out rather than overlap, ``overview`` pixels tall.

    Returns
    -------
    dict with ``height`` (int, pixels) and ``axis`` (keyword arguments of ``alt.Axis``).
    """
    n = max(int(n_rows), 1)
    if n <= most:
        return {
            "height": n * px,
            "axis": {"title": title, "labelOverlap": False, "labelLimit": 400},
        }
    return {"height": overview, "axis": {"title": title, "labelOverlap": True}}
