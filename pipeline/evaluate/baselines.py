"""Two baselines the pipeline must beat, computed on the same mentions in the same run.

- one cluster per name: every mention of a name is one person;
- coauthor components: mentions of a name are one person when linked (transitively) by a
  shared coauthor name; computed over the evaluated mentions, as the issue defines it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.anthology.curation import UnionFind


def one_cluster_per_name(mentions: pd.DataFrame, index: pd.Index) -> pd.Series:
    return pd.Series(mentions.loc[index, "slug"].to_numpy(dtype=object), index=index,
                     name="cluster")


def coauthor_components(mentions: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Cluster label per mention in `index`: components linked by shared coauthor slugs."""
    coauthors = mentions.groupby("paper")["slug"].agg(frozenset)
    uf = UnionFind()
    frame = mentions.loc[index, ["slug", "paper"]]
    seen: dict[tuple[str, str], int] = {}
    for row, slug, paper in zip(frame.index.tolist(), frame["slug"], frame["paper"]):
        uf.find(row)
        for coauthor in coauthors.get(paper, frozenset()):
            if coauthor == slug:
                continue
            first = seen.setdefault((slug, coauthor), row)
            uf.union(first, row)
    labels = [f"{slug}#{uf.find(row)}" for row, slug in zip(frame.index.tolist(), frame["slug"])]
    return pd.Series(np.array(labels, dtype=object), index=frame.index, name="cluster")
