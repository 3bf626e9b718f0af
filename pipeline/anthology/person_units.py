"""Who each mention is attributed to, as one label per person ("unit").

Name variants are decided between these units, and exported from them: a registry or
proposed person spans all its names, an unresolved cluster or an unregistered name stands
for itself.
"""

from __future__ import annotations

import pandas as pd


def person_units(mentions: pd.DataFrame, assignments: pd.DataFrame | None,
                 catch_all: frozenset[str]) -> pd.Series:
    """The person each mention is attributed to, as a unit label (index of `mentions`).

    A resolved name's mentions take their cluster's person when it has one (an existing or
    new person), else the cluster; other mentions take today's person (`mentions["person"]`),
    except a catch-all or missing one, which stands for the name only (its slug).
    """
    today = mentions["person"].astype(object)
    units = today.where(today.notna() & ~today.isin(catch_all), mentions["slug"])
    if assignments is not None and len(assignments):
        keyed = assignments.set_index(["paper", "role", "position"])
        own = keyed["person"].where(keyed["status"].isin(["existing", "new"]), keyed["cluster"])
        key = pd.MultiIndex.from_frame(mentions[["paper", "role", "position"]])
        resolved = pd.Series(own.reindex(key).to_numpy(), index=mentions.index)
        units = resolved.where(resolved.notna(), units)
    return units.astype(str)
