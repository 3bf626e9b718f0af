"""How likely two mentions of one name are one person, from their pair features.

The model is learnt from the snapshot's own curation (gold pairs inside blocks): a gradient-
boosted tree classifier (scikit-learn), each block weighted equally so that "Yang Liu" does
not drown the rest. Without enough curation (a small or new snapshot) a fixed logistic rule
is used instead; its weights are set by hand and say what the evidence means: shared rare
coauthors, a shared neighbourhood, affiliation and topic raise the odds, a common name lowers
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from pipeline.resolve.evidence import FEATURE_NAMES

MIN_TRAINING_PAIRS = 200
# Hand-set log-odds weights of the fallback rule, in FEATURE_NAMES order.
FALLBACK_WEIGHTS = {
    "shared_coauthors_idf": 2.0,
    "shared_coauthor_count": 0.0,
    "two_hop_cosine": 3.0,
    "affiliation_cosine": 2.0,
    "both_affiliations": -0.5,
    "text_cosine": 2.0,
    "venue_jaccard": 0.5,
    "year_gap": -0.05,
    "name_commonness": -0.6,
}
FALLBACK_INTERCEPT = -2.0


@dataclass
class PairModel:
    """Gives pair log-odds; `classifier` is None for the fallback rule."""

    classifier: HistGradientBoostingClassifier | None = None
    training_pairs: int = 0
    training_blocks: int = 0
    kind: str = field(default="fallback rule")

    @classmethod
    def fit(cls, features: np.ndarray, same: np.ndarray, blocks: np.ndarray, seed: int = 0
            ) -> PairModel:
        """Learn from gold pairs; `blocks` gives each pair's block so blocks weigh equally."""
        n_blocks = len(np.unique(blocks)) if len(blocks) else 0
        if len(same) < MIN_TRAINING_PAIRS or len(np.unique(same)) < 2:
            return cls(None, len(same), n_blocks)
        _, codes, counts = np.unique(blocks, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[codes]
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
        classifier.fit(features, same, sample_weight=weights)
        return cls(classifier, len(same), n_blocks, "gradient-boosted trees")

    def logits(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        if self.classifier is None:
            weights = np.array([FALLBACK_WEIGHTS[name] for name in FEATURE_NAMES])
            return np.asarray(features @ weights + FALLBACK_INTERCEPT, dtype=np.float64)
        probability = self.classifier.predict_proba(features)[:, 1]
        probability = np.clip(probability, 1e-6, 1 - 1e-6)
        return np.asarray(np.log(probability / (1 - probability)), dtype=np.float64)

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "training_pairs": self.training_pairs,
                "training_blocks": self.training_blocks}
