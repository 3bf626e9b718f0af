"""The one-pass weighted binning gives scikit-learn's own thresholds, so the same trees."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting import binning

from pipeline.resolve import tree_binning
from pipeline.resolve.tree_binning import one_pass_binning, one_pass_thresholds

needs_reproduced_version = pytest.mark.skipif(
    not sklearn.__version__.startswith(tree_binning.REPRODUCED_VERSION),
    reason="reproduces scikit-learn 1.9's binning only")


def _column(seed: int, rows: int, decimals: int | None, missing_share: float,
            zero_weight_share: float, unit_weights: bool = False
            ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=rows)
    if decimals is not None:  # ties
        values = np.round(values, decimals)
    values[rng.random(rows) < missing_share] = np.nan
    # Unit weights put quantiles on data points (then averaged with the next one).
    weights = np.ones(rows) if unit_weights else 1.0 / rng.integers(1, 60, size=rows)
    weights[rng.random(rows) < zero_weight_share] = 0.0
    return values, weights


@needs_reproduced_version
@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       rows=st.one_of(st.integers(2, 3000), st.integers(2, 11).map(lambda k: 255 * k)),
       decimals=st.sampled_from([None, 3, 2, 1]),
       missing_share=st.sampled_from([0.0, 0.1]),
       zero_weight_share=st.sampled_from([0.0, 0.2]),
       unit_weights=st.booleans(), max_bins=st.sampled_from([255, 16]))
def test_thresholds_are_scikit_learns_bit_for_bit(seed: int, rows: int, decimals: int | None,
                                                  missing_share: float,
                                                  zero_weight_share: float,
                                                  unit_weights: bool, max_bins: int) -> None:
    values, weights = _column(seed, rows, decimals, missing_share, zero_weight_share,
                              unit_weights)
    if not (weights[~np.isnan(values)] > 0).any():
        return  # scikit-learn itself fails on a column with no weight
    expected = tree_binning._SKLEARN_THRESHOLDS(values.copy(), max_bins, weights.copy())
    found = one_pass_thresholds(values.copy(), max_bins, weights.copy())
    assert found.dtype == expected.dtype
    assert found.tobytes() == expected.tobytes()


def test_a_column_of_more_distinct_values_than_bins_takes_the_weighted_quantiles() -> None:
    # What the property above must exercise: the weighted quantiles, not the midpoints.
    values, weights = _column(seed=3, rows=3000, decimals=None, missing_share=0.0,
                              zero_weight_share=0.0)
    assert len(np.unique(values)) > 255
    thresholds = one_pass_thresholds(values, 255, weights)
    assert 200 < len(thresholds) <= 254  # heavy rows can make two quantiles one
    assert np.isin(thresholds, values).mean() > 0.9  # quantiles are data points, not midpoints


@needs_reproduced_version
def test_trees_fitted_with_one_pass_binning_are_scikit_learns() -> None:
    rng = np.random.default_rng(5)
    x = rng.random((4000, 6))
    x[:, 5] = np.round(x[:, 5], 1)
    y = (x[:, 0] + 0.3 * x[:, 1:].sum(axis=1) + rng.normal(0, 0.4, len(x)) > 1.3).astype(int)
    weights = 1.0 / rng.integers(1, 40, size=len(x))

    def fitted() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15,
                                              random_state=0).fit(x, y, sample_weight=weights)

    plain = fitted()
    with one_pass_binning():
        assert binning._find_binning_thresholds is one_pass_thresholds
        one_pass = fitted()
    assert binning._find_binning_thresholds is tree_binning._SKLEARN_THRESHOLDS
    for ours, theirs in zip(one_pass._bin_mapper.bin_thresholds_,
                            plain._bin_mapper.bin_thresholds_, strict=True):
        assert np.array_equal(ours, theirs)
    rows = rng.random((3000, 6))
    assert np.array_equal(one_pass.predict_proba(rows), plain.predict_proba(rows))


def test_the_context_restores_scikit_learns_function_after_an_error() -> None:
    with pytest.raises(RuntimeError), one_pass_binning():
        raise RuntimeError("a fit failed")
    assert binning._find_binning_thresholds is tree_binning._SKLEARN_THRESHOLDS


def test_another_scikit_learn_keeps_its_own_binning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    with one_pass_binning():
        assert binning._find_binning_thresholds is tree_binning._SKLEARN_THRESHOLDS
