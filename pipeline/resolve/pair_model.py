"""How likely two mentions of one name are one person: evidence, then the name's prior.

log-odds(same) = scale * evidence + weight * commonness + intercept

- `evidence` is the log likelihood ratio the pair features give: a gradient-boosted tree
  classifier (scikit-learn) learnt from synthetic homonyms (`synthetic.py`), with balanced
  classes and every block weighted equally. It needs no curation. A tiny snapshot without
  synthetic blocks uses a hand-set logistic rule instead.
- the prior: if k people share a name, two of its mentions are one person with odds about
  1 / (k - 1); `commonness` is log(k - 1) for common names (`ambiguity.name_commonness`), so
  the prior written in the code is scale 1, weight -1, intercept 0.
- on request (`--calibrate`), a three-parameter logistic regression on (evidence,
  commonness) refits scale, weight and intercept from the snapshot's curated names, every
  curated name weighted equally (cross-fitted in evaluation). It made the model more cautious
  and measured worse, as a user and cross-fitted, so the prior written here is the default.
"""

from __future__ import annotations

import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from pipeline.resolve.evidence_kinds import FEATURE_NAMES
from pipeline.resolve.tree_binning import one_pass_binning
from pipeline.resolve.tree_prediction import predict_positive, raw_extreme

MIN_TRAINING_PAIRS = 200
# Batches of pairs at least this large are predicted with every core's OpenMP thread.
THREADED_PREDICTION_ROWS = 200_000
EVIDENCE_FEATURES = tuple(n for n in FEATURE_NAMES if n != "name_commonness")
COMMONNESS_COLUMN = FEATURE_NAMES.index("name_commonness")
EVIDENCE_COLUMNS = [FEATURE_NAMES.index(n) for n in EVIDENCE_FEATURES]
# The prior written in the code: log-odds = evidence - commonness.
DEFAULT_CALIBRATION = (1.0, -1.0, 0.0)
# Hand-set log likelihood ratios of the rule used without synthetic blocks.
FALLBACK_WEIGHTS = {
    "shared_coauthors_idf": 2.0,
    "shared_coauthor_count": 0.0,
    "two_hop_cosine": 3.0,
    "affiliation_cosine": 2.0,
    "both_affiliations": -0.5,
    "text_cosine": 2.0,
    "venue_jaccard": 0.5,
    "year_gap": -0.05,
}
FALLBACK_INTERCEPT = -1.5

# `evidence` is log(p / (1 - p)) of the trees' probability p: it may differ from their raw
# score by rounding.
EXTREMES_MARGIN = 1e-6

_threadpools: list[ThreadpoolController] = []
# Each evidence model's `raw_extreme`s, computed once (0.01-0.1 s each on the shared
# snapshot), with the trees they were read from (a refit replaces the trees).
_extremes: weakref.WeakKeyDictionary[HistGradientBoostingClassifier,
                                     tuple[object, dict[bool, float]]] = \
    weakref.WeakKeyDictionary()


def _threadpool_controller() -> ThreadpoolController:
    """One controller per process: building one scans the loaded libraries, which cost more
    than the small predictions it wraps (a quarter of a `resolve` over every name)."""
    if not _threadpools:
        _threadpools.append(ThreadpoolController())
    return _threadpools[0]


def one_thread() -> AbstractContextManager[object]:
    """A context in which scikit-learn's OpenMP code runs on one thread. Fitting the variant
    models' trees on 12,000 pairs, two threads took 0.5-0.65 s a model against 0.4 s with
    one (they wait on each other), for the same trees; the evidence model's 90,000 pairs fit
    faster on every core (1.2 s against 1.6 s), so it does not use this."""
    limiter: AbstractContextManager[object] = _threadpool_controller().limit(
        limits=1, user_api="openmp")
    return limiter


def _balanced_weights(same: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Every block weighs the same, and so do the two classes."""
    _, codes, counts = np.unique(blocks, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[codes]
    for label in (False, True):
        mask = same == label
        if mask.any():
            weights[mask] *= 0.5 / weights[mask].sum()
    return np.asarray(weights, dtype=np.float64)


@dataclass
class PairModel:
    """Gives pair log-odds; `classifier` is None for the hand-set evidence rule."""

    classifier: HistGradientBoostingClassifier | None = None
    calibration: tuple[float, float, float] = DEFAULT_CALIBRATION
    synthetic_pairs: int = 0
    training_pairs: int = 0  # curated pairs the calibration was fitted on
    training_blocks: int = 0
    kind: str = field(default="hand-set rule")

    @classmethod
    def fit_evidence(cls, synthetic_x: np.ndarray, synthetic_same: np.ndarray,
                     synthetic_blocks: np.ndarray, seed: int = 0) -> PairModel:
        """The evidence model from synthetic homonyms (rows hold all FEATURE_NAMES)."""
        if len(synthetic_same) < MIN_TRAINING_PAIRS or len(np.unique(synthetic_same)) < 2:
            return cls()
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
        with one_pass_binning():
            classifier.fit(synthetic_x[:, EVIDENCE_COLUMNS], synthetic_same,
                           sample_weight=_balanced_weights(synthetic_same, synthetic_blocks))
        return cls(classifier, DEFAULT_CALIBRATION, len(synthetic_same),
                   kind="gradient-boosted trees on synthetic homonyms")

    def calibrated(self, curated_x: np.ndarray, curated_same: np.ndarray,
                   curated_blocks: np.ndarray) -> PairModel:
        """A copy whose prior and scale are refitted on curated pairs, where there are enough
        of both kinds; otherwise this model unchanged."""
        if len(curated_same) < MIN_TRAINING_PAIRS or len(np.unique(curated_same)) < 2:
            return self
        inputs = np.column_stack([self.evidence(curated_x), curated_x[:, COMMONNESS_COLUMN]])
        # Curated pairs keep their own class balance; only names are weighted equally.
        _, codes, counts = np.unique(curated_blocks, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[codes]
        regression = LogisticRegression(C=1.0, max_iter=1000)
        regression.fit(inputs, curated_same, sample_weight=weights / weights.mean())
        calibration = (float(regression.coef_[0][0]), float(regression.coef_[0][1]),
                       float(regression.intercept_[0]))
        return replace(self, calibration=calibration, training_pairs=len(curated_same),
                       training_blocks=len(counts))

    def evidence(self, features: np.ndarray) -> np.ndarray:
        """Log likelihood ratio of "same person" from the evidence alone."""
        if len(features) == 0:
            return np.zeros(0)
        x = features[:, EVIDENCE_COLUMNS]
        if np.isnan(x).any():
            # The pair features are never missing; `evidence_extreme` counts on it.
            raise ValueError("pair features hold a missing value (NaN)")
        if self.classifier is None:
            weights = np.array([FALLBACK_WEIGHTS[name] for name in EVIDENCE_FEATURES])
            return np.asarray(x @ weights + FALLBACK_INTERCEPT, dtype=np.float64)
        # One thread for small batches: OpenMP threads on many small predictions cost far
        # more than they give, and wait on each other when the other core is busy (a helper
        # measured resolve at 16 min 40 s by default, 1 min 44 s with one thread, same
        # output). The few large batches (`BlockLogits.prefetch`) use every core.
        threads = None if len(x) >= THREADED_PREDICTION_ROWS else 1
        with _threadpool_controller().limit(limits=threads, user_api="openmp"):
            predicted = predict_positive(self.classifier, x)
        probability = np.clip(predicted, 1e-6, 1 - 1e-6)
        return np.asarray(np.log(probability / (1 - probability)), dtype=np.float64)

    def evidence_range(self) -> tuple[float, float]:
        """Bounds of `evidence` over every possible input, loosely: the trees' baseline plus
        the smallest (largest) leaf of each tree; for the hand-set rule, over the features'
        ranges (similarities in [0, 1], counts up to e^3, year gaps up to 30)."""
        if self.classifier is None:
            upper = {"shared_coauthors_idf": 3.0, "shared_coauthor_count": 3.0,
                     "year_gap": 30.0}
            terms = [sorted((0.0, w * upper.get(n, 1.0))) for n, w in FALLBACK_WEIGHTS.items()]
            return (FALLBACK_INTERCEPT + sum(lo for lo, _ in terms),
                    FALLBACK_INTERCEPT + sum(hi for _, hi in terms))
        base = float(np.ravel(self.classifier._baseline_prediction)[0])
        leaves = [[node["value"] for node in tree[0].nodes if node["is_leaf"]]
                  for tree in self.classifier._predictors]
        return (base + sum(min(v) for v in leaves), base + sum(max(v) for v in leaves))

    def evidence_extreme(self, highest: bool = False) -> float:
        """The lowest (highest) `evidence` of any input: for the trees exactly
        (`tree_prediction.raw_extreme`, less or plus a margin for rounding; computed once
        per model), for the hand-set rule `evidence_range`."""
        if self.classifier is None:
            return self.evidence_range()[1 if highest else 0]
        trees, known = _extremes.get(self.classifier, (None, {}))
        if trees is not self.classifier._predictors:
            known = {}
            _extremes[self.classifier] = (self.classifier._predictors, known)
        if highest not in known:
            known[highest] = raw_extreme(self.classifier, highest)
        return known[highest] + (EXTREMES_MARGIN if highest else -EXTREMES_MARGIN)

    def lowest_logit(self, commonness: float) -> float:
        """The lowest log-odds any pair of mentions of a name this common can get: when it
        is above the split threshold, every pair joins and the name stays one cluster."""
        scale = self.calibration[0]
        return scale * self.evidence_extreme(highest=scale < 0) + self.prior(commonness)

    def rarest_splittable(self, threshold: float) -> float:
        """The commonness below which no name can be split (`lowest_logit` >= threshold),
        less two float32 steps: the pair features hold commonness as float32, so a name
        just below the bound in float64 may be rounded up to it there."""
        weight = self.calibration[1]
        if weight >= 0:
            return float("-inf")
        bound = (threshold - self.lowest_logit(0.0)) / weight
        return bound - 2 * float(np.spacing(np.float32(abs(bound))))

    def prior(self, commonness: float) -> float:
        """Log-odds that two mentions of a name this common are one person, before evidence."""
        _, weight, intercept = self.calibration
        return weight * commonness + intercept

    def logits(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        return self.logits_from(self.evidence(features), features[:, COMMONNESS_COLUMN])

    def logits_from(self, evidence: np.ndarray, commonness: np.ndarray | float
                    ) -> np.ndarray:
        """Log-odds from `evidence` (as `evidence` gives it) and the name's commonness."""
        scale, weight, intercept = self.calibration
        return np.asarray(scale * evidence + weight * commonness + intercept,
                          dtype=np.float64)

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "synthetic_pairs": self.synthetic_pairs,
                "training_pairs": self.training_pairs,
                "training_blocks": self.training_blocks,
                "calibration": {"scale": round(self.calibration[0], 4),
                                "commonness": round(self.calibration[1], 4),
                                "intercept": round(self.calibration[2], 4)}}
