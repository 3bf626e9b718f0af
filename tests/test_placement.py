"""Nearest cluster, margin and cluster confidence (`resolve/placement.py`) on made-up blocks."""

from __future__ import annotations

import numpy as np
from test_split import blocks_logits

from pipeline.resolve.placement import ALONE, placement_of


def test_clear_clusters_are_confident_and_point_at_each_other() -> None:
    membership = np.repeat([0, 1], [5, 4])
    placement = placement_of(blocks_logits([5, 4]), membership)
    assert placement.nearest.tolist() == [1] * 5 + [0] * 4
    assert (placement.margin > 0.9).all()
    assert (placement.cluster_confidence > 0.9).all()
    assert placement.cluster_confidence[:5].tolist() == [placement.cluster_confidence[0]] * 5


def test_a_misplaced_mention_has_a_negative_margin_and_lowers_its_cluster() -> None:
    logits = blocks_logits([5, 4])
    membership = np.repeat([0, 1], [5, 4])
    membership[0] = 1  # mention 0 looks like cluster 0 but is put in cluster 1
    placement = placement_of(logits, membership)
    assert placement.nearest[0] == 0 and placement.margin[0] < -0.5
    clean = placement_of(logits, np.repeat([0, 1], [5, 4]))
    assert placement.cluster_confidence[5] < clean.cluster_confidence[5]


def test_a_singleton_is_measured_against_standing_alone() -> None:
    logits = blocks_logits([4, 1])
    membership = np.repeat([0, 1], [4, 1])
    placement = placement_of(logits, membership)
    probability_across = 1 / (1 + np.exp(3.0))
    assert np.isclose(placement.margin[4], ALONE - probability_across)
    assert np.isclose(placement.cluster_confidence[4], 1 - probability_across)


def test_a_cluster_it_may_not_join_is_not_nearest() -> None:
    logits = blocks_logits([3, 3, 2], across=-1.0)
    logits[0, 3:6] = logits[3:6, 0] = 5.0  # mention 0 resembles cluster 1 ...
    cannot = np.zeros((8, 8), dtype=bool)
    cannot[0, 3] = cannot[3, 0] = True  # ... but shares a paper with one of its mentions
    membership = np.repeat([0, 1, 2], [3, 3, 2])
    with_cannot = placement_of(logits, membership, cannot)
    without = placement_of(logits, membership)
    assert without.nearest[0] == 1
    assert with_cannot.margin[0] > without.margin[0]


def test_one_cluster_has_no_nearest() -> None:
    placement = placement_of(blocks_logits([3]), np.zeros(3, dtype=np.int64))
    assert placement.nearest.tolist() == [-1, -1, -1]
    assert (placement.cluster_confidence > 0.9).all()


def test_of_two_look_alike_clusters_the_smaller_carries_the_doubt() -> None:
    logits = blocks_logits([6])  # one person, but a constraint kept mention 5 apart
    membership = np.repeat([0, 1], [5, 1])
    placement = placement_of(logits, membership)
    assert placement.cluster_confidence[0] > 0.9
    assert placement.cluster_confidence[5] < 0.1 and placement.margin[5] < 0
