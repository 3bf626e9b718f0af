"""Predict with gradient-boosted trees once per distinct path through the trees.

A tree ensemble reads a row only through which side of each split threshold each feature
falls. Rows are keyed by that (per feature, how many of the model's thresholds lie below the
value) and the classifier runs on one row per key: the same floats as predicting every row,
in a fraction of the time when rows repeat their keys, as the millions of pair rows of
`resolve` do (on the shared snapshot 3.2M rows hold 0.52M keys).
"""

from __future__ import annotations

import weakref

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

# Thresholds of each classifier seen, with the trees they were read from (a refit replaces
# the trees): some callers predict a few rows at a time, thousands of times.
_read: weakref.WeakKeyDictionary[HistGradientBoostingClassifier,
                                  tuple[object, list[np.ndarray]]] = weakref.WeakKeyDictionary()


def split_thresholds(classifier: HistGradientBoostingClassifier) -> list[np.ndarray]:
    """Per feature, the sorted thresholds of every split on it in the fitted trees."""
    found: list[list[np.ndarray]] = [[] for _ in range(classifier.n_features_in_)]
    for iteration in classifier._predictors:
        for tree in iteration:
            splits = tree.nodes[tree.nodes["is_leaf"] == 0]
            for feature in np.unique(splits["feature_idx"]):
                found[feature].append(splits["num_threshold"][splits["feature_idx"] == feature])
    return [np.unique(np.concatenate(parts)) if parts else np.zeros(0) for parts in found]


def _thresholds_of(classifier: HistGradientBoostingClassifier) -> list[np.ndarray]:
    trees, thresholds = _read.get(classifier, (None, []))
    if trees is not classifier._predictors:
        trees, thresholds = classifier._predictors, split_thresholds(classifier)
        _read[classifier] = (trees, thresholds)
    return thresholds


def distinct_paths(x: np.ndarray, thresholds: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(rows to predict, for every row the position of its key among them)."""
    # searchsorted "left" counts the thresholds strictly below a value; the trees send a
    # value left at a threshold t when value <= t, so equal counts mean equal paths.
    positions = [np.searchsorted(t, x[:, j], side="left") for j, t in enumerate(thresholds)]
    radix = [len(t) + 1 for t in thresholds]
    if float(np.prod(np.asarray(radix, dtype=np.float64))) < 2.0 ** 62:
        key = np.zeros(len(x), dtype=np.int64)
        for position, base in zip(positions, radix):
            key = key * base + position
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(np.column_stack(positions), axis=0,
                                      return_index=True, return_inverse=True)
    return first, np.ravel(inverse)


def predict_positive(classifier: HistGradientBoostingClassifier, x: np.ndarray
                     ) -> np.ndarray:
    """`classifier.predict_proba(x)[:, 1]`, predicting each distinct path once."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(0)
    if np.isnan(x).any() or classifier.is_categorical_ is not None:
        # Missing values and categories take paths the thresholds alone do not tell.
        return np.asarray(classifier.predict_proba(x)[:, 1], dtype=np.float64)
    first, inverse = distinct_paths(x, _thresholds_of(classifier))
    predicted = classifier.predict_proba(x[first])[:, 1]
    return np.asarray(predicted[inverse], dtype=np.float64)
