"""scikit-learn's weighted binning of tree inputs, computed in one pass per input.

Fitted with sample weights, HistGradientBoosting cuts each input into 255 bins at weighted
quantiles (scikit-learn 1.6 and later). scikit-learn 1.9 finds a column's 254 quantiles by
254 calls to `_weighted_percentile`, each sorting the column and summing its weights again:
in `resolve` the 107 inputs binned by the ten tree models took 4.1 s of a 33 s run.
`one_pass_binning()` swaps in, while it is active, a function that sorts and sums once and
finds every quantile from that, by the same arithmetic in the same order: the thresholds are
the same bit for bit (tested against scikit-learn's own function), so are the trees. The same
idea is merged upstream (scikit-learn pull request #34248) but in no release yet; on any
scikit-learn but 1.9 this does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import sklearn
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble._hist_gradient_boosting import binning
from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF

# The scikit-learn whose `_find_binning_thresholds` this module's function reproduces.
REPRODUCED_VERSION = "1.9."

Thresholds = Callable[..., np.ndarray]
_SKLEARN_THRESHOLDS: Thresholds = binning._find_binning_thresholds


def one_pass_thresholds(col_data: np.ndarray, max_bins: int,
                        sample_weight: np.ndarray | None = None) -> np.ndarray:
    """The bin thresholds scikit-learn 1.9's `_find_binning_thresholds` gives, weighted
    quantiles found from one sort and one cumulative sum (unweighted: its own function)."""
    if sample_weight is None:
        return _SKLEARN_THRESHOLDS(col_data, max_bins)
    missing = np.isnan(col_data)
    if missing.any():
        col_data = col_data[~missing]
        sample_weight = sample_weight[~missing]
    weighted = sample_weight != 0
    col_data = col_data[weighted]
    sample_weight = sample_weight[weighted]
    order = np.argsort(col_data)
    col_data = col_data[order]
    distinct_values = np.unique(col_data).astype(np.float64)
    if len(distinct_values) == 1:
        return np.asarray([])
    if len(distinct_values) <= max_bins:
        thresholds = sliding_window_view(distinct_values, 2).mean(axis=1)
    else:
        thresholds = _weighted_quantiles(col_data, sample_weight[order], max_bins)
    distinct_thresholds = np.unique(thresholds)
    if distinct_thresholds.shape[0] != thresholds.shape[0]:
        thresholds = distinct_thresholds
    np.clip(thresholds, a_min=None, a_max=ALMOST_INF, out=thresholds)
    return np.asarray(thresholds)


def _weighted_quantiles(sorted_values: np.ndarray, weights: np.ndarray, max_bins: int
                        ) -> np.ndarray:
    """`_weighted_percentile(sorted_values, weights, ranks, average=True)` of scikit-learn
    1.9 at the binning's ranks, for positive weights, step for step: it sorts the sorted values
    once more, unstably (ties could change the order their weights are summed in; none did in
    our trials, but the same sort costs little), and takes a quantile within `eps` of a sum
    as lying on it."""
    order = np.argsort(sorted_values.reshape(-1, 1), axis=0)[:, 0]
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    ranks = np.linspace(0, 100, num=max_bins + 1)[1:-1]
    adjusted = ranks / 100 * cdf[-1]
    last = len(sorted_values) - 1
    at = np.clip(np.searchsorted(cdf, adjusted), 0, last)
    above = cdf[at] - adjusted > np.finfo(np.float64).eps
    value = sorted_values[order[at]]
    following = sorted_values[order[np.clip(at + 1, 0, last)]]
    return np.asarray(np.where(above, value, (value + following) / 2))


@contextlib.contextmanager
def one_pass_binning() -> Iterator[None]:
    """A context in which HistGradientBoosting fits bin their inputs with
    `one_pass_thresholds` (on scikit-learn 1.9; elsewhere, unchanged)."""
    if not sklearn.__version__.startswith(REPRODUCED_VERSION):
        yield
        return
    binning._find_binning_thresholds = one_pass_thresholds
    try:
        yield
    finally:
        binning._find_binning_thresholds = _SKLEARN_THRESHOLDS
