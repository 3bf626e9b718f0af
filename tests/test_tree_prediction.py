"""Predicting once per distinct path through the trees gives exactly the classifier's floats;
the lowest and highest score of any input are found exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from pipeline.resolve.tree_prediction import (
    distinct_paths,
    predict_positive,
    raw_extreme,
    split_thresholds,
)


def _fitted(columns: int, seed: int = 0) -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Rounded values repeat, as pair features do (counts, year gaps, zero similarities).
    x = np.round(rng.random((3000, columns)) * 4, 1)
    # Every column matters a little, so that many features have split thresholds.
    signal = x[:, 0] + 0.1 * x.sum(axis=1)
    y = (signal + rng.normal(0, 1, len(x)) > np.median(signal)).astype(int)
    classifier = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15,
                                                early_stopping=False, random_state=0)
    return classifier.fit(x, y), x


def test_the_same_floats_as_predicting_every_row() -> None:
    classifier, x = _fitted(4)
    rows = np.vstack([x, np.round(np.random.default_rng(1).random((5000, 4)) * 4, 2)])
    expected = classifier.predict_proba(rows)[:, 1]
    assert np.array_equal(predict_positive(classifier, rows), expected)
    first, _ = distinct_paths(rows, split_thresholds(classifier))
    assert len(first) < len(rows)  # rows did share paths


def test_a_value_on_a_threshold_takes_the_threshold_side() -> None:
    # Each threshold of each feature, just above it first and then on it: had "on" been
    # keyed with "above", it would take the prediction of the row just above.
    classifier, x = _fitted(3)
    rows = []
    for feature, thresholds in enumerate(split_thresholds(classifier)):
        for threshold in thresholds:
            for value in (np.nextafter(threshold, np.inf), threshold):
                row = x[0].copy()
                row[feature] = value
                rows.append(row)
    grid = np.array(rows)
    assert np.array_equal(predict_positive(classifier, grid),
                          classifier.predict_proba(grid)[:, 1])


def test_a_refitted_classifier_is_read_again() -> None:
    classifier, x = _fitted(3)
    predict_positive(classifier, x)
    y = (x[:, 1] > 2).astype(int)
    classifier.fit(x, y)
    assert np.array_equal(predict_positive(classifier, x), classifier.predict_proba(x)[:, 1])


def test_missing_values_fall_back_to_the_classifier() -> None:
    classifier, x = _fitted(3)
    rows = x[:50].copy()
    rows[::7, 1] = np.nan
    assert np.array_equal(predict_positive(classifier, rows),
                          classifier.predict_proba(rows)[:, 1], equal_nan=True)


@pytest.mark.parametrize("columns", [1, 40])
def test_few_and_many_features(columns: int) -> None:
    # 40 features with many thresholds each overflow a single integer key: rows are then
    # compared whole.
    classifier, x = _fitted(columns, seed=columns)
    radix = [len(t) + 1 for t in split_thresholds(classifier)]
    assert (np.prod(np.asarray(radix, dtype=np.float64)) >= 2.0 ** 62) == (columns == 40)
    assert np.array_equal(predict_positive(classifier, x), classifier.predict_proba(x)[:, 1])


def test_no_rows() -> None:
    classifier, _ = _fitted(2)
    assert predict_positive(classifier, np.zeros((0, 2))).shape == (0,)


def test_a_large_batch_predicted_on_every_core_gives_the_same_floats(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches from THREADED_PREDICTION_ROWS rows run OpenMP on every core, smaller ones on one.
    from pipeline.resolve import pair_model
    from pipeline.resolve.evidence_kinds import FEATURE_NAMES

    rng = np.random.default_rng(3)
    x = np.round(rng.random((4000, len(FEATURE_NAMES))) * 4, 2)
    same = x[:, 0] + rng.normal(0, 1, len(x)) > 2
    model = pair_model.PairModel.fit_evidence(x, same, np.arange(len(x)) // 8)
    rows = np.round(rng.random((30000, len(FEATURE_NAMES))) * 4, 3)
    one_thread = model.evidence(rows)
    monkeypatch.setattr(pair_model, "THREADED_PREDICTION_ROWS", 1000)
    assert np.array_equal(model.evidence(rows), one_thread)


def test_trees_fitted_on_one_thread_are_those_fitted_on_every_core() -> None:
    # The variant models are fitted under `one_thread` (faster on a few thousand pairs).
    from threadpoolctl import threadpool_info

    from pipeline.resolve.pair_model import one_thread

    rng = np.random.default_rng(4)
    x = np.round(rng.random((12000, 13)) * 4, 2)
    y = (x[:, 0] + 0.2 * x[:, 1:].sum(axis=1) + rng.normal(0, 1, len(x)) > 4.4).astype(int)

    def fitted() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15,
                                              random_state=0).fit(x, y)

    every_core = fitted()
    with one_thread():
        assert {pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "openmp"} == {1}
        one = fitted()
    rows = np.round(rng.random((5000, 13)) * 4, 3)
    assert np.array_equal(one.predict_proba(rows), every_core.predict_proba(rows))


def _every_path(classifier: HistGradientBoostingClassifier) -> np.ndarray:
    """One input per cell of the grid the split thresholds make, so every path there is: a
    value on a threshold goes left, one above the last threshold right."""
    cells = [np.concatenate([t, [t[-1] + 1.0]]) if len(t) else np.zeros(1)
             for t in split_thresholds(classifier)]
    return np.array(np.meshgrid(*cells, indexing="ij")).reshape(len(cells), -1).T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raw_extreme_is_the_lowest_or_highest_score_of_any_input(seed: int) -> None:
    classifier, _ = _fitted(3, seed)
    scores = classifier._raw_predict(_every_path(classifier))[:, 0]
    low, high = raw_extreme(classifier), raw_extreme(classifier, highest=True)
    assert low == pytest.approx(scores.min(), abs=1e-9)
    assert high == pytest.approx(scores.max(), abs=1e-9)
    # The sum of each tree's extreme leaf, the bound used before, is looser.
    base = float(np.ravel(classifier._baseline_prediction)[0])
    leaves = [[node["value"] for node in tree[0].nodes if node["is_leaf"]]
              for tree in classifier._predictors]
    assert base + sum(min(v) for v in leaves) < low - 0.1
    assert base + sum(max(v) for v in leaves) > high + 0.1


def test_raw_extreme_cut_short_is_still_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    classifier, x = _fitted(5)
    low, high = raw_extreme(classifier), raw_extreme(classifier, highest=True)
    early_low = raw_extreme(classifier, max_boxes=10)
    early_high = raw_extreme(classifier, highest=True, max_boxes=10)
    scores = classifier._raw_predict(np.vstack([x, x * 10, -x]))[:, 0]
    assert early_low < low <= scores.min() + 1e-9
    assert scores.max() - 1e-9 <= high < early_high
    assert "bounded, not found: the search stopped at 10 boxes" in caplog.text


def test_raw_extreme_refuses_more_than_two_classes() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((300, 2))
    three = HistGradientBoostingClassifier(max_iter=5).fit(x, (x[:, 0] * 3).astype(int))
    with pytest.raises(ValueError, match="binary classifiers"):
        raw_extreme(three)
