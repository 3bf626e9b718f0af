"""Split the mentions of one name into person clusters with Leiden (CPM), under hard constraints.

Input: an n x n matrix of pair log-odds that two mentions are the same person (from
`pair_model`), and the constraints:
- mentions that share an explicit id or an ORCID are one person (they are merged first);
- mentions on one paper, or with different ids, or with different ORCIDs, are different people.
Where the curation contradicts itself, an id wins over a clash and an ORCID gives way; each
such case is reported in `SplitResult.conflicts`.

The constant Potts model scores a partition by the sum over same-cluster pairs of
(log-odds - resolution), so two groups join when the evidence between them, on average,
beats the resolution. That needs no number of persons up front, and a name whose mentions
all look alike stays one cluster. Leiden runs with a fixed seed; clusters are numbered by
their first mention, so the same input gives the same output.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np

from pipeline.resolve.settings import DEFAULT_RESOLUTION, DEFAULT_SEED

CANNOT_LINK = -1.0e6


@dataclass(frozen=True)
class Constraints:
    """Per-mention keys that define the hard constraints of one block.

    `paper`: mentions with equal values are on one paper (cannot link).
    `person_id` / `orcid`: equal non-empty values must link; different ones cannot.
    """

    paper: np.ndarray
    person_id: np.ndarray
    orcid: np.ndarray

    @classmethod
    def none(cls, n: int) -> Constraints:
        return cls(np.arange(n), np.full(n, None, dtype=object), np.full(n, None, dtype=object))


@dataclass(frozen=True)
class Conflict:
    """Mentions `first` and `second` share an id or ORCID but must otherwise be apart."""

    kind: str  # "id" or "ORCID"
    value: str
    first: int
    second: int
    linked: bool  # True: the id won and they are one person; False: the ORCID was dropped

    def describe(self, first: str, second: str) -> str:
        outcome = "linked (the id wins)" if self.linked else "not linked"
        return (f"{self.kind} {self.value} on {first} and {second}, which cannot be one person "
                f"(same paper, or different ids/ORCIDs); {outcome}")


@dataclass(frozen=True)
class SplitResult:
    membership: np.ndarray  # cluster number per mention, 0..k-1, by first mention
    confidence: np.ndarray  # in [0, 1], how well each mention fits its cluster
    conflicts: tuple[Conflict, ...] = ()  # contradictions in the curation, how they were read


def _must_link_groups(c: Constraints, cannot: np.ndarray
                      ) -> tuple[np.ndarray, list[Conflict]]:
    """Group mentions that must be one person; returns groups and conflicts found.

    Ids are merged first and always win (curation says so explicitly); an ORCID then joins
    groups only where that breaks no cannot-link, since an ORCID on a paper is sometimes
    attached to the wrong author.
    """
    n = len(c.paper)
    group = np.arange(n)
    conflicts: list[Conflict] = []
    for kind, values in (("id", c.person_id), ("ORCID", c.orcid)):
        first_seen: dict[str, int] = {}
        for i in range(n):
            value = values[i]
            if not (isinstance(value, str) and value):
                continue
            j = first_seen.setdefault(value, i)
            if group[i] == group[j]:
                continue
            a, b = group == group[i], group == group[j]
            if cannot[np.ix_(a, b)].any():
                conflicts.append(Conflict(kind, value, j, i, linked=kind == "id"))
                if kind == "ORCID":
                    continue
            group[a] = group[j]
    _, renumbered = np.unique(group, return_inverse=True)
    return renumbered.astype(np.int64), conflicts


def cannot_link(c: Constraints) -> np.ndarray:
    """Boolean n x n matrix of pairs that must be in different clusters."""
    # Integer codes: comparing n x n objects costs more than the rest of a large block.
    _, paper = np.unique(np.asarray(c.paper), return_inverse=True)
    paper = np.ravel(paper)
    cannot: np.ndarray = np.asarray(paper[:, None] == paper[None, :], dtype=bool)
    for values in (c.person_id, c.orcid):
        present = np.array([isinstance(v, str) and bool(v) for v in values], dtype=bool)
        if present.sum() < 2:
            continue
        as_str = np.array([v if p else "" for v, p in zip(values, present)], dtype=object)
        differ = as_str[:, None] != as_str[None, :]
        cannot |= differ & present[:, None] & present[None, :]
    np.fill_diagonal(cannot, False)
    return cannot


def split_block(
    logits: np.ndarray,
    constraints: Constraints,
    resolution: float = DEFAULT_RESOLUTION,
    seed: int = DEFAULT_SEED,
    cannot: np.ndarray | None = None,
) -> SplitResult:
    """Partition one block's mentions; see the module docstring. `cannot`: the block's
    `cannot_link(constraints)`, when the caller has it already."""
    n = logits.shape[0]
    if n == 0:
        return SplitResult(np.zeros(0, dtype=np.int64), np.zeros(0))
    cannot = cannot_link(constraints) if cannot is None else cannot.copy()
    off_diagonal = ~np.eye(n, dtype=bool)
    if not cannot.any() and (logits[off_diagonal] > resolution).all():
        # Every pair joins: one cluster is the best partition (what Leiden would find).
        membership = np.zeros(n, dtype=np.int64)
        return SplitResult(membership, confidence_of(logits, membership))
    group, conflicts = _must_link_groups(constraints, cannot)
    cannot &= group[:, None] != group[None, :]  # an explicit id outranks a clash
    k = int(group.max()) + 1
    if k == 1:
        membership = np.zeros(n, dtype=np.int64)
        return SplitResult(membership, confidence_of(logits, membership), tuple(conflicts))
    # Aggregate mentions into must-link groups: summed log-odds, cannot-link if any pair is.
    indicator = np.zeros((k, n))
    indicator[group, np.arange(n)] = 1.0
    group_logits = indicator @ logits @ indicator.T
    group_cannot = (indicator @ cannot.astype(float) @ indicator.T) > 0
    group_logits[group_cannot] = CANNOT_LINK
    sizes = indicator.sum(axis=1).astype(int).tolist()
    if k == 2:
        # What Leiden finds on two nodes, without building a graph (a third of the names
        # split have two mentions): CPM joins them when w - resolution * n1 * n2 > 0 (Leiden
        # asks for a gain above ~1e-15, a tie no sum of real log-odds comes near).
        join = group_logits[0, 1] - resolution * sizes[0] * sizes[1] > 0
        membership = _renumber(np.array([0, 0 if join else 1])[group])
        return SplitResult(membership, confidence_of(logits, membership), tuple(conflicts))
    ii, jj = np.triu_indices(k, 1)
    graph = ig.Graph.Full(k)  # edges in the order of triu_indices; 8x faster than a list
    partition = leidenalg.find_partition(
        graph, leidenalg.CPMVertexPartition, weights=group_logits[ii, jj].tolist(),
        node_sizes=sizes,
        resolution_parameter=resolution, seed=seed, n_iterations=-1)
    group_cluster = _repair(np.array(partition.membership), group_cannot)
    membership = _renumber(group_cluster[group])
    return SplitResult(membership, confidence_of(logits, membership), tuple(conflicts))


def _repair(membership: np.ndarray, cannot: np.ndarray) -> np.ndarray:
    """Guarantee no cluster holds a cannot-link pair (Leiden avoids it; this makes it sure)."""
    membership = membership.copy()
    next_label = int(membership.max()) + 1
    while True:
        same = membership[:, None] == membership[None, :]
        clash = np.argwhere(cannot & same)
        if len(clash) == 0:
            return membership
        membership[clash[0][1]] = next_label
        next_label += 1


def _renumber(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(x), len(order)) for x in labels], dtype=np.int64)


def confidence_of(logits: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """Mean same-person probability to the rest of its cluster; for a singleton, one minus
    the highest probability to any other mention (how sure it stands apart)."""
    n = len(membership)
    if n == 1:
        return np.ones(1)
    probability = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    np.fill_diagonal(probability, np.nan)
    same = membership[:, None] == membership[None, :]
    np.fill_diagonal(same, False)
    sizes = same.sum(axis=1)
    with np.errstate(invalid="ignore"):
        within = np.where(same, probability, 0.0).sum(axis=1) / np.maximum(sizes, 1)
        apart = 1.0 - np.nanmax(probability, axis=1)
    confidence: np.ndarray = np.clip(
        np.nan_to_num(np.where(sizes > 0, within, apart), nan=1.0), 0.0, 1.0)
    return confidence
