"""The snapshot's own curation as identity labels: what `resolve` learns from and what
`evaluate` scores against (there it is called the gold standard).

Curated identity of a mention: its explicit id unless that id is a catch-all ("May refer to
several people"), joined with its ORCID: mentions sharing an id or an ORCID are one person
(union-find over both). Curated blocks: name slugs with at least two curated mentions; a block
is multi-identity when its curated mentions are two or more persons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.anthology.registry import Registry


class UnionFind:
    """Disjoint sets over hashable items; `find` returns a canonical representative.

    >>> uf = UnionFind()
    >>> uf.union("a", "b"); uf.union("c", "b")
    >>> uf.find("a") == uf.find("c"), uf.find("a") == uf.find("d")
    (True, False)
    """

    def __init__(self) -> None:
        self._parent: dict[object, object] = {}

    def find(self, item: object) -> object:
        parent = self._parent
        root = parent.setdefault(item, item)
        while root != parent[root]:
            root = parent[root]
        while item != root:  # path compression
            parent[item], item = root, parent[item]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[rb] = ra


@dataclass(frozen=True)
class Curation:
    """Curated identity per mention (None where unknown) and the curated blocks."""

    identity: pd.Series  # mention index -> curated identity label or None
    blocks: list[str]  # curated name slugs (2+ curated mentions), sorted
    multi_identity: frozenset[str]  # blocks with 2+ curated identities

    @property
    def labelled(self) -> pd.Series:
        """Mask of curated mentions inside curated blocks (what is learnt from or scored)."""
        return self.identity.notna()


def curated_identities(mentions: pd.DataFrame, registry: Registry) -> pd.Series:
    """Identity label per mention: explicit non-catch-all id and ORCID, unioned."""
    catch_all = registry.catch_all_ids()
    ids = mentions["id"].where(~mentions["id"].isin(catch_all))
    orcids = mentions["orcid"]
    curated = (ids.notna() | orcids.notna()).to_numpy()
    uf = UnionFind()
    positions = np.flatnonzero(curated)
    id_values = ids.to_numpy(dtype=object)
    orcid_values = orcids.to_numpy(dtype=object)
    for i in positions.tolist():
        if isinstance(id_values[i], str):
            uf.union(("id", id_values[i]), ("mention", i))
        if isinstance(orcid_values[i], str):
            uf.union(("orcid", orcid_values[i]), ("mention", i))
    labels: list[str | None] = [None] * len(mentions)
    for i in positions.tolist():
        root = uf.find(("mention", i))
        assert isinstance(root, tuple)
        labels[i] = f"{root[0]}:{root[1]}"
    return pd.Series(labels, index=mentions.index, dtype=object, name="curated")


def curation_of(mentions: pd.DataFrame, registry: Registry) -> Curation:
    """Curated identities restricted to blocks (slugs) with at least two curated mentions."""
    identity = curated_identities(mentions, registry)
    known = identity.notna()
    counts = mentions.loc[known, "slug"].value_counts()
    blocks = sorted(counts[counts >= 2].index)
    in_block = mentions["slug"].isin(blocks)
    identity = identity.where(in_block & known, None)
    per_block = identity.dropna().groupby(mentions.loc[identity.notna(), "slug"]).nunique()
    multi = frozenset(per_block[per_block >= 2].index)
    return Curation(identity, blocks, multi)


def fold_of(slug: str, folds: int) -> int:
    """Stable fold of a block (a hash of its slug, so adding names moves no other block)."""
    return int(hashlib.blake2b(slug.encode("utf-8"), digest_size=4).hexdigest(), 16) % folds
