"""Every Altair chart of the app, one function each (a long-form DataFrame in, a chart out).

Grouped by page in the submodules; all are re-exported here, so pages write
``charts.feature_heatmap(df)``. No chart is built anywhere else.
"""

from dashboard.charts.ablation import control_range_chart, relevance_by_epoch, sweep_chart
from dashboard.charts.atlas import activation_histogram
from dashboard.charts.chips import edge_matrix, memory_chips, word_clouds
from dashboard.charts.compare import score_distributions
from dashboard.charts.distributions import (
    box_percentiles,
    histogram_overlay,
    per_model_bars,
    signal_means,
)
from dashboard.charts.fourier import spectrum_heatmap, spectrum_lines
from dashboard.charts.glyphs import CHIP_SELECTION, sentence_glyphs
from dashboard.charts.hidden import (
    class_bars,
    confusion_matrix,
    jump_bars,
    state_projection,
    time_class_heatmap,
)
from dashboard.charts.maps import cluster_positions, embedding_map, token_map
from dashboard.charts.probe import probe_path
from dashboard.charts.relevance import (
    feature_heatmap,
    heatmap_with_scores,
    layer_overview,
    score_column,
)
from dashboard.charts.saturation import saturation_scatter
from dashboard.charts.text import topk_bars
from dashboard.charts.training import (
    metric_vs_baseline,
    metric_vs_params,
    setting_line,
    training_curves,
)

__all__ = [
    "activation_histogram",
    "CHIP_SELECTION",
    "box_percentiles",
    "class_bars",
    "cluster_positions",
    "confusion_matrix",
    "control_range_chart",
    "relevance_by_epoch",
    "edge_matrix",
    "embedding_map",
    "feature_heatmap",
    "heatmap_with_scores",
    "histogram_overlay",
    "jump_bars",
    "layer_overview",
    "memory_chips",
    "metric_vs_baseline",
    "metric_vs_params",
    "per_model_bars",
    "probe_path",
    "score_column",
    "score_distributions",
    "saturation_scatter",
    "sentence_glyphs",
    "setting_line",
    "signal_means",
    "spectrum_heatmap",
    "spectrum_lines",
    "state_projection",
    "sweep_chart",
    "time_class_heatmap",
    "token_map",
    "topk_bars",
    "training_curves",
    "word_clouds",
]
