"""How firmly each mention sits in its cluster, and how sure each cluster is, from pair
probabilities; what review pages and `proposals.json` show a curator.

The affinity of a mention to a cluster is the mean same-person probability to its `K_NEAREST`
closest members (a person's papers need not all resemble each other; its nearest ones do).
A mention that may not join a cluster (same paper, different id or ORCID) has affinity 0.
A mention alone in its cluster has affinity `ALONE` to it: the point at which the split
would rather start a new person (pair log-odds 0 at the default resolution).

- `nearest`: the other cluster of the name with the highest affinity (-1: none);
- `margin`: affinity to its own cluster minus affinity to the nearest; below 0, the mention
  looks closer to another cluster than to its own;
- cluster `confidence`: an estimate of the probability that the cluster is one person and
  not a fragment of another: cohesion (mean affinity of its members, 1 for a singleton)
  times separation (1 minus the highest mean affinity of its members to one other cluster
  at least as large). Of two look-alike clusters the smaller carries the doubt: it is the
  one a curator would move. This raw score ranks clusters; `resolve` then maps it to a
  probability learnt from blind splits of the curated names (`confidence_calibration.py`),
  and `make eval` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K_NEAREST = 3
ALONE = 0.5


@dataclass(frozen=True)
class Placement:
    nearest: np.ndarray  # per mention: cluster number of the closest other cluster, or -1
    margin: np.ndarray  # per mention: own affinity minus nearest affinity
    cluster_confidence: np.ndarray  # per mention: the confidence of its cluster


def _affinity(probability: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per mention: mean of its `K_NEAREST` highest probabilities to the other `members`
    (NaN on the diagonal marks a mention itself; NaN where it has no other member)."""
    block = probability[:, members]
    if block.shape[1] > K_NEAREST:
        top = -np.partition(-np.nan_to_num(block, nan=-np.inf), K_NEAREST - 1,
                            axis=1)[:, :K_NEAREST]
        return np.asarray(top.mean(axis=1))
    valid = ~np.isnan(block)
    counts = valid.sum(axis=1)
    sums = np.where(valid, block, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def placement_of(logits: np.ndarray, membership: np.ndarray,
                 cannot: np.ndarray | None = None) -> Placement:
    """See the module docstring; `cannot` marks pairs that may not be one person."""
    n = len(membership)
    labels = np.unique(membership)
    if n == 0:
        empty = np.zeros(0)
        return Placement(np.zeros(0, dtype=np.int64), empty, empty)
    probability = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    if cannot is not None:
        probability = np.where(cannot, 0.0, probability)
    np.fill_diagonal(probability, np.nan)
    affinity = np.zeros((n, len(labels)))
    for column, label in enumerate(labels):
        members = np.flatnonzero(membership == label)
        affinity[:, column] = _affinity(probability, members)
    own_column = np.searchsorted(labels, membership)
    sizes = np.bincount(own_column, minlength=len(labels))
    own = np.where(sizes[own_column] > 1,
                   np.nan_to_num(affinity[np.arange(n), own_column], nan=ALONE), ALONE)
    others = affinity.copy()
    others[np.arange(n), own_column] = -1.0
    if len(labels) > 1:
        nearest_column = np.argmax(others, axis=1)
        nearest = labels[nearest_column]
        nearest_affinity = others[np.arange(n), nearest_column]
    else:
        nearest = np.full(n, -1, dtype=np.int64)
        nearest_affinity = np.zeros(n)
    margin = own - nearest_affinity
    confidence = np.zeros(len(labels))
    for column in range(len(labels)):
        members = own_column == column
        cohesion = 1.0 if sizes[column] == 1 else float(own[members].mean())
        pooled = others[members].mean(axis=0)
        pooled[(sizes < sizes[column]) | (np.arange(len(labels)) == column)] = 0.0
        separation = 1.0 - float(pooled.max(initial=0.0))
        confidence[column] = cohesion * separation
    return Placement(nearest.astype(np.int64), margin, confidence[own_column])
