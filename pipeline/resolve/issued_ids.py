"""Every cluster label and proposed person id the nightly job has given out, on any night.

`stable_ids.py` keeps a label (and a new person's id) with the cluster that holds most of its
mentions from one night to the next; a label no cluster keeps is retired. Last night's
assignments alone do not remember a label retired the night before, so without this ledger a
third night could give `yang-liu#7` or `yang-liu-12` to another group of papers than the one
a curator saw under it. The ledger is the union over nights of the labels and, per label,
the id of the new person (`status` "new") it last was, with that person's mentions then; a
retired label or id is never given to another cluster. A cluster takes an id back when it
inherits the label that had it, or, as `stable_ids` does for labels, when it holds more than
half of the mentions the id last had (a name left unsplit for a night, its persons merged
into one group, comes back with its ids).

Not recorded: ids of registry persons (the registry keeps them) and the catch-all id a legacy
name without one is proposed (proposed again each night; recording it would move it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from pipeline.resolve.stable_ids import KEY

LEDGER_FORMAT = "anthology-resolve-issued-ids-v1"
# Cluster labels are "slug#k", k counting a name's clusters: a larger k is no label we gave.
MAX_LABEL_NUMBER = 1_000_000


class LedgerError(ValueError):
    """A ledger file that is not one this module wrote."""


@dataclass(frozen=True)
class IssuedIds:
    labels: Mapping[str, frozenset[int]] = field(default_factory=dict)  # slug -> numbers
    persons: Mapping[str, str] = field(default_factory=dict)  # label -> new person's id
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)  # id -> mention keys

    @classmethod
    def of(cls, assignments: pd.DataFrame) -> IssuedIds:
        """The labels and new persons' ids in `assignments` (as `resolve` writes them)."""
        labels: dict[str, set[int]] = {}
        for label in pd.unique(assignments["cluster"].dropna().astype(str)).tolist():
            name, _, number = label.rpartition("#")
            if name and number.isdigit():
                labels.setdefault(name, set()).add(int(number))
        new = assignments.loc[assignments["status"] == "new",
                              ["cluster", "person", *KEY]].dropna()
        members: dict[str, set[str]] = {}
        for person, key in zip(new["person"].astype(str).tolist(), mention_keys(new)):
            members.setdefault(person, set()).add(key)
        return cls({name: frozenset(numbers) for name, numbers in labels.items()},
                   dict(zip(new["cluster"].astype(str).tolist(),
                            new["person"].astype(str).tolist())),
                   {person: frozenset(keys) for person, keys in members.items()})

    def ids(self) -> frozenset[str]:
        return frozenset(self.persons.values()) | frozenset(self.members)

    def union(self, other: IssuedIds) -> IssuedIds:
        names = set(self.labels) | set(other.labels)
        return IssuedIds({name: self.labels.get(name, frozenset())
                          | other.labels.get(name, frozenset()) for name in names},
                         {**self.persons, **other.persons},  # `other` is the later
                         {**self.members, **other.members})

    def to_json(self) -> str:
        return json.dumps({"format": LEDGER_FORMAT,
                           "labels": {name: sorted(self.labels[name])
                                      for name in sorted(self.labels)},
                           "persons": {label: self.persons[label]
                                       for label in sorted(self.persons)},
                           "members": {person: sorted(self.members[person])
                                       for person in sorted(self.members)}},
                          indent=0) + "\n"

    @classmethod
    def from_json(cls, text: str) -> IssuedIds:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise LedgerError(f"not JSON: {error}") from error
        if not isinstance(document, dict) or document.get("format") != LEDGER_FORMAT:
            raise LedgerError(f'needs "format": "{LEDGER_FORMAT}"')
        labels, persons = document.get("labels"), document.get("persons")
        members = document.get("members")
        if not isinstance(labels, dict) or not all(
                isinstance(numbers, list) and all(
                    type(n) is int and 0 <= n < MAX_LABEL_NUMBER for n in numbers)
                for numbers in labels.values()):
            raise LedgerError("labels must map each name to a list of whole numbers from 0 "
                              f"to {MAX_LABEL_NUMBER - 1:,}")
        if not isinstance(persons, dict) or not all(isinstance(p, str)
                                                    for p in persons.values()):
            raise LedgerError("persons must map each label to an id")
        if not isinstance(members, dict) or not all(
                isinstance(keys, list) and all(isinstance(k, str) for k in keys)
                for keys in members.values()):
            raise LedgerError("members must map each id to a list of mention keys")
        return cls({str(name): frozenset(numbers) for name, numbers in labels.items()},
                   {str(label): person for label, person in persons.items()},
                   {str(person): frozenset(keys) for person, keys in members.items()})


def mention_keys(frame: pd.DataFrame) -> list[str]:
    """One string per row naming its mention (paper, role, position), as the ledger keeps it."""
    return [f"{paper} {role} {int(position)}" for paper, role, position in
            zip(frame["paper"].tolist(), frame["role"].tolist(), frame["position"].tolist())]


class Reclaimer:
    """Which retired ids a cluster of a name may take back: ids a cluster of that name had,
    whose recorded mentions it holds more than half of, the one it shares most with first
    (ties: the lower id). Of the same name only: a mention renamed on its paper (Chen Li to
    Yang Liu) must not carry its old person's id to the new name."""

    def __init__(self, issued: IssuedIds) -> None:
        self.members = issued.members
        self.name_of = {person: label.rsplit("#", 1)[0]
                        for label, person in issued.persons.items()}
        self.ids_of_key: dict[str, list[str]] = {}
        for person in sorted(self.members):
            for key in self.members[person]:
                self.ids_of_key.setdefault(key, []).append(person)

    def candidates(self, keys: list[str], name: str) -> list[str]:
        shared: dict[str, int] = {}
        for key in set(keys):
            for person in self.ids_of_key.get(key, ()):
                shared[person] = shared.get(person, 0) + 1
        held = [p for p, common in shared.items()
                if 2 * common > len(self.members[p]) and self.name_of.get(p) == name]
        return sorted(held, key=lambda person: (-shared[person], person))
