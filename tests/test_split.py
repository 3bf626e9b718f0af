"""Invariants of the Leiden split on small made-up graphs, with fixed seeds."""

from __future__ import annotations

import igraph as ig
import leidenalg
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from pipeline.resolve.split import Constraints, split_block


def blocks_logits(sizes: list[int], within: float = 3.0, across: float = -3.0) -> np.ndarray:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    logits = np.where(labels[:, None] == labels[None, :], within, across).astype(float)
    np.fill_diagonal(logits, 0.0)
    return logits


def test_two_disjoint_people_are_separated() -> None:
    result = split_block(blocks_logits([6, 4]), Constraints.none(10))
    assert result.membership.tolist() == [0] * 6 + [1] * 4


def test_one_person_with_a_dense_network_stays_whole() -> None:
    result = split_block(blocks_logits([12]), Constraints.none(12))
    assert set(result.membership.tolist()) == {0}
    assert result.confidence.min() > 0.9


def test_weakly_positive_evidence_keeps_one_cluster() -> None:
    logits = np.full((8, 8), 0.2)
    np.fill_diagonal(logits, 0.0)
    assert set(split_block(logits, Constraints.none(8)).membership.tolist()) == {0}


def test_same_paper_forces_a_split_even_against_evidence() -> None:
    constraints = Constraints(np.array(["p1", "p1", "p2"], dtype=object),
                              np.full(3, None, dtype=object), np.full(3, None, dtype=object))
    membership = split_block(blocks_logits([3]), constraints).membership
    assert membership[0] != membership[1]


def test_shared_orcid_forces_a_merge_against_evidence() -> None:
    orcid = np.array([None, None, None, "0000-0002-1825-0097", None, "0000-0002-1825-0097"],
                     dtype=object)
    constraints = Constraints(np.arange(6), np.full(6, None, dtype=object), orcid)
    membership = split_block(blocks_logits([3, 3]), constraints).membership
    assert membership[3] == membership[5]


def test_conflicting_orcid_is_reported_not_applied() -> None:
    constraints = Constraints(np.array(["p", "p"], dtype=object),
                              np.full(2, None, dtype=object),
                              np.array(["0000-0002-1825-0097"] * 2, dtype=object))
    result = split_block(blocks_logits([2]), constraints)
    assert result.membership.tolist() == [0, 1]
    [conflict] = result.conflicts
    assert (conflict.kind, conflict.linked) == ("ORCID", False)
    assert conflict.describe("p1", "p2").endswith("not linked")


def test_same_seed_same_output() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(30, 30))
    logits = (logits + logits.T) / 2
    first = split_block(logits, Constraints.none(30), seed=3)
    second = split_block(logits, Constraints.none(30), seed=3)
    assert first.membership.tolist() == second.membership.tolist()
    assert np.array_equal(first.confidence, second.confidence)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_constraints_are_never_violated(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 14))
    seed = data.draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, n))
    logits = (logits + logits.T) / 2
    papers = rng.integers(0, max(2, n // 2), size=n).astype(object)
    ids = np.array([rng.choice(["a", "b", None, None, None]) for _ in range(n)], dtype=object)
    orcids = np.array([rng.choice(["0000-0000-0000-0001", None, None]) for _ in range(n)],
                      dtype=object)
    result = split_block(logits, Constraints(papers, ids, orcids), seed=seed)
    m = result.membership
    for i in range(n):
        for j in range(i + 1, n):
            same = m[i] == m[j]
            if isinstance(ids[i], str) and isinstance(ids[j], str):
                assert same == (ids[i] == ids[j])
            elif papers[i] == papers[j]:
                assert not same
    assert ((result.confidence >= 0) & (result.confidence <= 1)).all()
    assert sorted(set(m.tolist())) == list(range(len(set(m.tolist()))))


def _leiden_membership(group_logits: np.ndarray, sizes: list[int], resolution: float
                       ) -> list[int]:
    graph = ig.Graph(n=2, edges=[(0, 1)])
    graph.es["weight"] = [float(group_logits[0, 1])]
    partition = leidenalg.find_partition(
        graph, leidenalg.CPMVertexPartition, weights="weight", node_sizes=sizes,
        resolution_parameter=resolution, seed=42, n_iterations=-1)
    return list(partition.membership)


@settings(max_examples=200, deadline=None)
@example(first=2, evidence=-1.0, resolution=-1.0)
@example(first=3, evidence=2.0, resolution=0.5)
@given(st.integers(1, 5), st.floats(-20, 20, allow_nan=False),
       st.floats(-2, 2, allow_nan=False))
def test_two_groups_are_joined_exactly_when_leiden_joins_them(
        first: int, evidence: float, resolution: float) -> None:
    # A must-link group of `first` mentions (one ORCID) and one more mention: split_block
    # decides these two groups without Leiden, and must decide as Leiden does.
    second = 1
    assume(abs(evidence - resolution * first * second) > 1e-9)  # Leiden's own tolerance
    # Leiden ignores an edge of weight 0 (log-odds never are 0 exactly).
    assume(abs(evidence) > 1e-9)
    n = first + second
    logits = np.full((n, n), evidence / first)
    orcids = np.array(["0000-0000-0000-0001"] * first + [None], dtype=object)
    result = split_block(logits, Constraints(np.arange(n), np.full(n, None, dtype=object),
                                             orcids), resolution=resolution)
    expected = _leiden_membership(np.array([[0.0, evidence], [evidence, 0.0]]),
                                  [first, second], resolution)
    joined = result.membership[0] == result.membership[-1]
    assert joined == (expected[0] == expected[1])


@pytest.mark.parametrize("k", [3, 4, 17])
def test_the_complete_graph_lists_its_edges_in_the_order_of_triu_indices(k: int) -> None:
    # split_block builds Leiden's graph with Graph.Full and weights in triu order.
    ii, jj = np.triu_indices(k, 1)
    assert ig.Graph.Full(k).get_edgelist() == list(zip(ii.tolist(), jj.tolist()))
