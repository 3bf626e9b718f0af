"""Clustering metrics: B-cubed and pairwise precision/recall/F1, micro-averaged over mentions.

A clustering is one pandas Series: mention id -> cluster label. Scores compare a predicted
clustering with a gold one over the same mentions, within blocks (clusters never span
blocks, so a block is just a prefix of the labels).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Scores:
    """Summed per-mention B-cubed precision/recall and pair counts; combine with `+`."""

    mentions: int = 0
    b3_precision_sum: float = 0.0
    b3_recall_sum: float = 0.0
    true_pairs: int = 0
    predicted_pairs: int = 0
    correct_pairs: int = 0

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            self.mentions + other.mentions,
            self.b3_precision_sum + other.b3_precision_sum,
            self.b3_recall_sum + other.b3_recall_sum,
            self.true_pairs + other.true_pairs,
            self.predicted_pairs + other.predicted_pairs,
            self.correct_pairs + other.correct_pairs,
        )

    @property
    def b3_precision(self) -> float:
        return self.b3_precision_sum / self.mentions if self.mentions else 1.0

    @property
    def b3_recall(self) -> float:
        return self.b3_recall_sum / self.mentions if self.mentions else 1.0

    @property
    def b3_f1(self) -> float:
        return _f1(self.b3_precision, self.b3_recall)

    @property
    def pair_precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def pair_recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def pair_f1(self) -> float:
        return _f1(self.pair_precision, self.pair_recall)

    def summary(self) -> dict[str, float]:
        return {
            "mentions": self.mentions,
            "b3_precision": round(self.b3_precision, 4),
            "b3_recall": round(self.b3_recall, 4),
            "b3_f1": round(self.b3_f1, 4),
            "pair_precision": round(self.pair_precision, 4),
            "pair_recall": round(self.pair_recall, 4),
            "pair_f1": round(self.pair_f1, 4),
        }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score_block(gold: Iterable[object], predicted: Iterable[object]) -> Scores:
    """Scores of one block, labels given in the same mention order.

    >>> s = score_block(["a", "a", "b"], [1, 1, 1])
    >>> round(s.b3_precision, 3), s.b3_recall, s.pair_precision
    (0.556, 1.0, 0.3333333333333333)
    >>> score_block(["a", "b"], [1, 2]).b3_f1
    1.0
    """
    gold_list, pred_list = list(gold), list(predicted)
    by_gold = Counter(gold_list)
    by_pred = Counter(pred_list)
    by_both = Counter(zip(gold_list, pred_list))
    precision = sum(by_both[(g, p)] / by_pred[p] for g, p in zip(gold_list, pred_list))
    recall = sum(by_both[(g, p)] / by_gold[g] for g, p in zip(gold_list, pred_list))
    return Scores(
        mentions=len(gold_list),
        b3_precision_sum=precision,
        b3_recall_sum=recall,
        true_pairs=sum(_pairs(c) for c in by_gold.values()),
        predicted_pairs=sum(_pairs(c) for c in by_pred.values()),
        correct_pairs=sum(_pairs(c) for c in by_both.values()),
    )


def score_clustering(gold: pd.Series, predicted: pd.Series, block: pd.Series) -> dict[str, Scores]:
    """Scores per block for mentions present in `gold` (labels aligned by index)."""
    frame = pd.DataFrame({"gold": gold, "pred": predicted.reindex(gold.index),
                          "block": block.reindex(gold.index)})
    if frame["pred"].isna().any():
        missing = frame.index[frame["pred"].isna()][:5].tolist()
        raise ValueError(f"predicted clustering lacks mentions {missing}")
    return {
        str(name): score_block(group["gold"].tolist(), group["pred"].tolist())
        for name, group in frame.groupby("block", sort=True)
    }


def membership_to_pairs(labels: pd.Series) -> set[tuple[object, object]]:
    """All unordered pairs of mention ids that share a cluster.

    >>> sorted(membership_to_pairs(pd.Series({"m1": 0, "m2": 0, "m3": 1})))
    [('m1', 'm2')]
    """
    pairs: set[tuple[object, object]] = set()
    for _, members in labels.groupby(labels, sort=True):
        ids = sorted(members.index)
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1:])
    return pairs
