"""Predict with gradient-boosted trees once per distinct path through the trees.

A tree ensemble reads a row only through which side of each split threshold each feature
falls. Rows are keyed by that (per feature, how many of the model's thresholds lie below the
value) and the classifier runs on one row per key: the same floats as predicting every row,
in a fraction of the time when rows repeat their keys, as the millions of pair rows of
`resolve` do (on the shared snapshot 3.2M rows hold 0.52M keys).

`raw_extreme` reads the same trees for the lowest (highest) score any input can get.
"""

from __future__ import annotations

import heapq
import logging
import weakref
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Leaves:
    """Every leaf of an ensemble with the box of inputs that reaches it: per feature, the
    values in (above, upto]."""

    trees: list[np.ndarray]  # each tree's nodes, as scikit-learn keeps them
    above: np.ndarray  # (leaves, features)
    upto: np.ndarray
    value: np.ndarray
    first_of_tree: np.ndarray  # index of each tree's first leaf, trees in order

    @classmethod
    def of(cls, classifier: HistGradientBoostingClassifier) -> _Leaves:
        n_features = classifier.n_features_in_
        trees = [iteration[0].nodes for iteration in classifier._predictors]
        above: list[np.ndarray] = []
        upto: list[np.ndarray] = []
        values: list[float] = []
        first: list[int] = []
        for nodes in trees:
            first.append(len(values))
            stack = [(0, np.full(n_features, -np.inf), np.full(n_features, np.inf))]
            while stack:
                index, low, high = stack.pop()
                node = nodes[index]
                if node["is_leaf"]:
                    above.append(low)
                    upto.append(high)
                    values.append(float(node["value"]))
                    continue
                feature, threshold = int(node["feature_idx"]), float(node["num_threshold"])
                left_high, right_low = high.copy(), low.copy()
                left_high[feature] = min(high[feature], threshold)
                right_low[feature] = max(low[feature], threshold)
                stack.append((int(node["right"]), right_low, high))
                stack.append((int(node["left"]), low, left_high))
        return cls(trees, np.array(above), np.array(upto), np.array(values),
                   np.array(first))

    def bound(self, reached: np.ndarray, values: np.ndarray) -> tuple[float, np.ndarray]:
        """(sum over trees of the lowest of `values` among the `reached` leaves, per tree
        the spread of `values` over them)."""
        lowest = np.minimum.reduceat(np.where(reached, values, np.inf), self.first_of_tree)
        highest = np.maximum.reduceat(np.where(reached, values, -np.inf), self.first_of_tree)
        return float(lowest.sum()), highest - lowest

    def cut(self, box: _Box, tree: int) -> tuple[_Box, _Box]:
        """`box` in two at the first split of `tree` that its inputs take both ways, each
        with the leaves its inputs reach."""
        low, high, reached = box
        nodes, index = self.trees[tree], 0
        while not nodes[index]["is_leaf"]:
            node = nodes[index]
            feature, threshold = int(node["feature_idx"]), float(node["num_threshold"])
            if high[feature] <= threshold:
                index = int(node["left"])
            elif low[feature] > threshold:
                index = int(node["right"])
            else:
                left_high, right_low = high.copy(), low.copy()
                left_high[feature] = threshold
                right_low[feature] = np.nextafter(threshold, np.inf)
                # A leaf is reached when its values (above, upto] meet the box's.
                left = reached & (self.above[:, feature] < threshold)
                right = reached & (self.upto[:, feature] >= right_low[feature])
                return (low, left_high, left), (right_low, high, right)
        raise AssertionError("a tree whose reachable leaves differ reaches one leaf")


# Per feature the lowest and the highest value, and the leaves those inputs reach.
_Box = tuple[np.ndarray, np.ndarray, np.ndarray]


def raw_extreme(classifier: HistGradientBoostingClassifier, highest: bool = False,
                max_boxes: int = 20_000) -> float:
    """The lowest (or highest) raw score, in log-odds, that the ensemble gives any finite
    input: exactly, to the rounding of a sum, by branch and bound over boxes of inputs.

    The sum over trees of each tree's extreme leaf bounds the score too, but loosely: the
    extreme leaves of different trees need inputs no row has at once (on the shared
    snapshot the lowest evidence is -3.27, that sum -4.82). A box is bounded by the extreme
    leaves its inputs can reach; the box with the lowest bound is cut in two, at a split of
    the tree whose reachable leaves spread most, until the lowest box reaches leaves of one
    value in every tree: any input in it scores the bound, the exact extreme. After
    `max_boxes` boxes the lowest bound of the open ones is returned, still a bound (the
    ensembles `resolve` fits on the shared snapshot take a few hundred to a few thousand).
    """
    if classifier.is_categorical_ is not None or classifier.n_trees_per_iteration_ != 1:
        raise ValueError("raw_extreme reads binary classifiers with numerical splits only")
    leaves = _Leaves.of(classifier)
    base = float(np.ravel(classifier._baseline_prediction)[0])
    if highest:
        return base - _lowest(leaves, -leaves.value, max_boxes)
    return base + _lowest(leaves, leaves.value, max_boxes)


def _lowest(leaves: _Leaves, values: np.ndarray, max_boxes: int) -> float:
    n_features = leaves.above.shape[1]
    # Leaves below splits that contradict each other are reached by no input.
    possible = np.asarray((leaves.above < leaves.upto).all(axis=1))
    everything: _Box = (np.full(n_features, -np.inf), np.full(n_features, np.inf), possible)
    bound, spread = leaves.bound(possible, values)
    heap = [(bound, 0, spread, everything)]
    made = 1
    while made < max_boxes:
        bound, _, spread, box = heapq.heappop(heap)
        if not spread.any():
            return bound
        for child in leaves.cut(box, int(np.argmax(spread))):
            bound, child_spread = leaves.bound(child[2], values)
            heapq.heappush(heap, (bound, made, child_spread, child))
            made += 1
    log.warning("the trees' extreme score was bounded, not found: the search stopped at %d "
                "boxes", max_boxes)
    return float(heap[0][0])
