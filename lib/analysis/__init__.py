"""Pure analysis functions over activations, one method per module (no Streamlit).

Every analysis takes plain arrays: ``acts`` of shape (T, n_units), e.g.
``trace.signals[(layer, name)]``, and a feature over the T tokens, e.g. a boolean ``mask`` of
shape (T,) from :mod:`lib.analysis.features`.

- :mod:`~lib.analysis.features`: the feature of interest (regex, POS tags, text structure).
- :mod:`~lib.analysis.code_structure`: Python source labelled per character with tokenize
  (strings, docstrings, comments, names, indentation, brackets), robust to slices.
- :mod:`~lib.analysis.feature_bank`: every feature for code or for prose, and which kind a
  text is (the Neuron Atlas's features).
- :mod:`~lib.analysis.relevance`: Dahlberg's relevance score and auto-detected windows.
- :mod:`~lib.analysis.significance`: AUROC, correlations, circular-shift p-values,
  Benjamini-Hochberg, rank agreement.
- :mod:`~lib.analysis.effects`: effect sizes (AUROC, r) with block-bootstrap intervals
  (Künsch 1989), Dahlberg's R calibrated against its shift null (R_z), findings.
- :mod:`~lib.analysis.ranking`: one table ranking every neuron of a layer against a feature.
- :mod:`~lib.analysis.fourier`: amplitude spectra and in-band peaks (Dahlberg).
- :mod:`~lib.analysis.distributions`: histograms, KL divergence against the layer, dead
  neurons (Ryšánek 2023).
- :mod:`~lib.analysis.response`: expected response of units to token types (Ming et al.
  2017, RNNVis).
- :mod:`~lib.analysis.coclustering`: memory chips, co-clusters of units and token types
  (RNNVis).
- :mod:`~lib.analysis.glyphs`: sentence glyphs per memory chip (RNNVis).
- :mod:`~lib.analysis.projection`: 2-D maps of states (PCA, t-SNE, UMAP) and clusters.
- :mod:`~lib.analysis.embedding_map`: the embedding vectors of the most frequent tokens.
- :mod:`~lib.analysis.patterns`: neurons on throughout a span and where else they are on
  together (Strobelt et al. 2018, LSTMVis).
- :mod:`~lib.analysis.evolution`: a neuron's relevance and spectrum over the training
  checkpoints.
- :mod:`~lib.analysis.ablation`: next-token loss with neurons switched off (zero, mean,
  resample), against random draws from unrelated and from all units; per-neuron costs.
- :mod:`~lib.analysis.saturation`: how often each gate unit is nearly shut or nearly open
  (Karpathy, Johnson & Fei-Fei 2015).
- :mod:`~lib.analysis.probe`: a sparse (L1) linear probe of a feature against the best
  single unit (after Radford et al. 2017's sentiment neuron).
- :mod:`~lib.analysis.cluster_agreement`: what token-state clusters follow (AMI with the
  token and its POS tag), and an untrained network of the same shape as the baseline.
"""

from lib.analysis.features import (
    REGEX_PRESETS,
    Feature,
    FeatureError,
    check_binary,
    pos_mask,
    pos_tags,
    regex_mask,
    structural_feature,
)
from lib.analysis.fourier import band_peaks, spectrum
from lib.analysis.relevance import auto_detect_windows, relevance
from lib.analysis.significance import (
    auroc,
    benjamini_hochberg,
    circular_shift_pvalues,
    correlation,
    point_biserial,
    rank_agreement,
)

__all__ = [
    "REGEX_PRESETS",
    "Feature",
    "FeatureError",
    "auroc",
    "auto_detect_windows",
    "band_peaks",
    "benjamini_hochberg",
    "check_binary",
    "circular_shift_pvalues",
    "correlation",
    "point_biserial",
    "pos_mask",
    "pos_tags",
    "rank_agreement",
    "regex_mask",
    "relevance",
    "spectrum",
    "structural_feature",
]
