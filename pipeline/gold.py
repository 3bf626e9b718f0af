"""The snapshot's own curation as ground truth, and how evaluation hides it from the pipeline.

Gold identity of a mention: its explicit id unless that id is a catch-all ("May refer to
several people"), joined with its ORCID: mentions sharing an id or an ORCID are one person
(union-find over both). Blocks: name slugs with at least two gold mentions. Blinding strips
the ids and ORCIDs of every mention in the evaluated blocks; everything else stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .registry import Registry


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
class GoldStandard:
    """Gold identity per mention (None where unknown) and the evaluated blocks."""

    identity: pd.Series  # mention index -> gold identity label or None
    blocks: list[str]  # evaluated name slugs, sorted
    multi_identity: frozenset[str]  # blocks with 2+ gold identities

    @property
    def evaluated(self) -> pd.Series:
        """Mask of gold mentions inside evaluated blocks (what the scores are over)."""
        return self.identity.notna()


def gold_identities(mentions: pd.DataFrame, registry: Registry) -> pd.Series:
    """Gold identity label per mention: explicit non-catch-all id and ORCID, unioned."""
    catch_all = {pid for pid, p in registry.persons.items() if p.is_catch_all}
    ids = mentions["id"].where(~mentions["id"].isin(catch_all))
    orcids = mentions["orcid"]
    has_gold = (ids.notna() | orcids.notna()).to_numpy()
    uf = UnionFind()
    positions = np.flatnonzero(has_gold)
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
    return pd.Series(labels, index=mentions.index, dtype=object, name="gold")


def gold_standard(mentions: pd.DataFrame, registry: Registry) -> GoldStandard:
    """Gold identities restricted to blocks (slugs) with at least two gold mentions."""
    identity = gold_identities(mentions, registry)
    known = identity.notna()
    counts = mentions.loc[known, "slug"].value_counts()
    blocks = sorted(counts[counts >= 2].index)
    in_block = mentions["slug"].isin(blocks)
    identity = identity.where(in_block & known, None)
    per_block = identity.dropna().groupby(mentions.loc[identity.notna(), "slug"]).nunique()
    multi = frozenset(per_block[per_block >= 2].index)
    return GoldStandard(identity, blocks, multi)


def blind(mentions: pd.DataFrame, blocks: list[str]) -> pd.DataFrame:
    """A copy whose mentions of the given names carry no id and no ORCID."""
    hidden = mentions["slug"].isin(blocks)
    out = mentions.copy()
    out["id"] = out["id"].where(~hidden, None)
    out["orcid"] = out["orcid"].where(~hidden, None)
    return out
