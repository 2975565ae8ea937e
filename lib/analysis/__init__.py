"""Pure analysis functions over activations, one method per module (no Streamlit).

Every analysis takes plain arrays: ``acts`` of shape (T, n_units), e.g.
``trace.signals[(layer, name)]``, and a feature over the T tokens, e.g. a boolean ``mask`` of
shape (T,) from :mod:`lib.analysis.features`.

- :mod:`~lib.analysis.features`: the feature of interest (regex, POS tags, text structure).
- :mod:`~lib.analysis.relevance`: seed 000's relevance score and auto-detected windows.
- :mod:`~lib.analysis.significance`: AUROC, correlations, circular-shift p-values,
  Benjamini-Hochberg, rank agreement.
- :mod:`~lib.analysis.fourier`: amplitude spectra and in-band peaks.
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
