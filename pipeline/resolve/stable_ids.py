"""Cluster labels and proposed person ids that stay put from one run to the next.

A cluster keeps the label of a cluster of the previous run while it holds more than half of
that cluster's mentions (a mention is its paper, role and position); a cluster that was a new
person then keeps that person's proposed id too (`previous_persons`, used by
`persons.assign_persons`). Other clusters get labels the name never had before (with the
nightly job's ledger, `issued_ids.py`, on any earlier night), so a label always means the
same group of papers. Since "more than half" can hold for one cluster only,
no two clusters ever claim one label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

KEY = ["paper", "role", "position"]


def name_of_cluster(cluster: pd.Series) -> pd.Series:
    """The name slug of each cluster label (`<slug>#<n>`)."""
    # Each label once: a night calls this on every assignment row several times, and
    # pandas' str.rsplit over them all took 4.5 s of an add-volume night.
    labels = cluster.astype(str)
    codes, uniques = pd.factorize(labels, use_na_sentinel=False)
    names = np.array([u.rsplit("#", 1)[0] if isinstance(u, str) else u
                      for u in uniques.tolist()],
                     dtype=object)
    return pd.Series(names[codes], index=cluster.index, name=cluster.name, dtype=object)


def _number(label: str) -> int:
    return int(label.rsplit("#", 1)[1])


def stable_labels(cluster: pd.Series, keys: pd.DataFrame, previous: pd.DataFrame,
                  issued: Mapping[str, frozenset[int]] | None = None) -> dict[str, str]:
    """New label of each label in `cluster` (label per mention, `<slug>#<n>`), against
    `previous` (an earlier run's assignments: paper, role, position, cluster). `keys`:
    paper, role and position of each mention of `cluster` (same index). `issued`: label
    numbers per name given out on earlier nights (`issued_ids.py`), never given again to a
    cluster that does not inherit them."""
    issued = issued or {}
    if not len(cluster) or (not len(previous) and not issued):
        return {str(label): str(label) for label in set(cluster.tolist())}
    # Only the previous rows of these names matter (a label is inherited within its name
    # only); a night splits a few thousand names against every earlier row.
    names = set(name_of_cluster(pd.Series(pd.unique(cluster.astype(str)))).tolist())
    previous = previous[name_of_cluster(previous["cluster"]).isin(names).to_numpy()]
    earlier = previous.set_index(KEY)["cluster"]
    earlier_label = earlier.reindex(pd.MultiIndex.from_frame(keys[KEY])).to_numpy()
    overlap = pd.DataFrame({"now": cluster.to_numpy(), "before": earlier_label}).dropna()
    # Only a cluster of the same name: a mention renamed on its paper (Chen Li -> Yang Liu)
    # must not carry its old name's label, nor that person's id, to the new name.
    same_name = name_of_cluster(overlap["now"]) == name_of_cluster(overlap["before"])
    overlap = overlap[same_name.to_numpy()]
    shared = Counter(zip(overlap["now"].astype(str).tolist(),
                         overlap["before"].astype(str).tolist()))
    size = Counter(previous["cluster"].astype(str).tolist())
    # Each new label takes the old label it shares most with (ties: the lower old label).
    inherited: dict[str, str] = {}
    for _, now, before in sorted((-count, now, before)
                                 for (now, before), count in shared.items()
                                 if 2 * count > size[before]):
        inherited.setdefault(now, before)

    used: dict[str, set[int]] = {name: set(issued[name]) for name in names if name in issued}
    for label in pd.unique(previous["cluster"].astype(str)).tolist():
        used.setdefault(label.rsplit("#", 1)[0], set()).add(_number(label))
    for label in inherited.values():
        used.setdefault(label.rsplit("#", 1)[0], set()).add(_number(label))
    renamed: dict[str, str] = {}
    for label in sorted(set(cluster.astype(str).tolist()), key=lambda c: (c.rsplit("#", 1)[0],
                                                                  _number(c))):
        if label in inherited:
            renamed[label] = inherited[label]
            continue
        name = label.rsplit("#", 1)[0]
        taken = used.setdefault(name, set())
        number = _number(label)
        if number in taken:
            number = max(taken) + 1
        taken.add(number)
        renamed[label] = f"{name}#{number}"
    return renamed


def relabel(clusters: pd.DataFrame, keys: pd.DataFrame, previous: pd.DataFrame,
            issued: Mapping[str, frozenset[int]] | None = None) -> pd.DataFrame:
    """`clusters` (from `clustering.cluster_blocks`) with stable labels in its `cluster`
    and `nearest` columns."""
    renamed = stable_labels(clusters["cluster"], keys, previous, issued)
    out = clusters.assign(cluster=clusters["cluster"].map(renamed))
    if "nearest" in out:
        out["nearest"] = clusters["nearest"].map(lambda c: renamed.get(c, c))
    out.attrs = dict(clusters.attrs)
    return out


def previous_persons(previous: pd.DataFrame) -> dict[str, str]:
    """Cluster label -> the person an earlier run gave it (a new person's proposed id, or the
    registry person it was matched with)."""
    kept = previous[previous["status"].isin(["new", "existing"])].drop_duplicates("cluster")
    return dict(zip(kept["cluster"].astype(str), kept["person"].astype(str)))
