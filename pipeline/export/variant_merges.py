"""Name-variant merges (`proposals.json` -> `variants.merges`) as export decisions.

A merge joins persons (units, `variant_decision.person_units`) of several names. Exported,
every mention of the merged units gets one person:
- the one registry person among the units, if there is exactly one;
- else a person the resolution proposed (`new`) among them, the largest;
- else a new person with an id from the canonical name.
A merge of two or more registry persons is a decision for a curator (two entries become one,
ids in the XML change): it is not applied, and the summary says so. So is a merge whose units
no longer match the snapshot (a resolution of another snapshot).

The registry entry then lists every name string of the merged mentions (legacy `variants`,
current `names`), which is what lets the format's rules give them that person; `attribution`
adds ids only where a name is shared.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.person_units import person_units
from pipeline.anthology.registry import UNVERIFIED_SUFFIX, Name, Registry
from pipeline.errors import InputError, Problem


@dataclass(frozen=True)
class MergeDecision:
    person: str  # who every mention in `rows` becomes
    status: str  # "existing" or "new"
    rows: pd.Index  # mention index labels
    names: tuple[Name, ...]  # every name string of those mentions, most used first


def load_merges(path: Path) -> list[dict[str, Any]]:
    """The variant merges of a `proposals.json` (none if the file is absent)."""
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        merges = document.get("variants", {}).get("merges", []) if isinstance(
            document, dict) else None
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError([Problem(str(path), None, f"cannot read variant merges: {exc}")]
                         ) from exc
    if not isinstance(merges, list) or not all(
            isinstance(m, dict) and isinstance(m.get("persons"), list) for m in merges):
        raise InputError([Problem(str(path), None, "variants.merges must be a list of "
                                  "objects with a 'persons' list")])
    return merges


def plan_merges(mentions: pd.DataFrame, assignments: pd.DataFrame, merges: list[dict[str, Any]],
                registry: Registry, catch_all: frozenset[str]) -> tuple[list[MergeDecision],
                                                                        list[str]]:
    """What each merge makes of its mentions, and notes on the merges left to a curator."""
    units = person_units(mentions, assignments if "cluster" in assignments else None,
                         catch_all)
    rows_of = pd.Series(units.index, index=units.to_numpy()).groupby(level=0).apply(
        lambda rows: pd.Index(rows.to_numpy())).to_dict()
    new_persons = set(assignments.loc[assignments["status"] == "new", "person"])
    taken = set(registry.persons) | new_persons
    decisions, notes = [], []
    for merge in merges:
        persons = [str(p) for p in merge["persons"]]
        missing = [p for p in persons if p not in rows_of]
        if missing:
            notes.append(f"variant merge of {', '.join(persons)} not applied: "
                         f"{', '.join(missing)} not found in this snapshot")
            continue
        known = [p for p in persons if p in registry.persons and p not in catch_all]
        if len(known) > 1:
            notes.append(f"variant merge of {', '.join(known)} not applied: two registry "
                         "persons become one only by a curator's decision")
            continue
        rows = pd.Index(sorted(set().union(*(rows_of[p] for p in persons))))
        names = Counter(Name(str(f), str(la)) for f, la in zip(
            mentions.loc[rows, "first"].fillna(""), mentions.loc[rows, "last"]))
        ordered = tuple(sorted(names, key=lambda n: (-names[n], n.last, n.first)))
        proposed = sorted((p for p in persons if p in new_persons),
                          key=lambda p: (-len(rows_of[p]), p))
        if known:
            person, status = known[0], "existing"
        elif proposed:
            person, status = proposed[0], "new"
        else:
            canonical = merge.get("canonical") or {}
            slug = Name(str(canonical.get("first", ordered[0].first)),
                        str(canonical.get("last", ordered[0].last))).slug
            person, status = propose_id(slug.removesuffix(UNVERIFIED_SUFFIX), taken), "new"
            taken.add(person)
        decisions.append(MergeDecision(person, status, rows, ordered))
    return decisions, notes
