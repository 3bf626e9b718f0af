"""The ORCID checks of a curator's decisions (`export --decisions`): an ORCID is one person,
and a registry entry holds one ORCID. Only what the decisions change is refused: a split the
resolution already has is the resolution's, and the plain export writes it the same."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.anthology.orcids import orcid_key
from pipeline.anthology.registry import UNVERIFIED_SUFFIX, Registry


def is_person(person_of: np.ndarray, status_of: np.ndarray, catch_alls: set[str]
              ) -> np.ndarray:
    """Per row: its person is a person, not a catch-all or unverified id (nor none)."""
    return np.array([s in ("new", "existing") or (
        s == "unchanged" and isinstance(p, str) and bool(p) and p not in catch_alls
        and not p.endswith(UNVERIFIED_SUFFIX)) for p, s in zip(person_of, status_of)],
        dtype=bool)


@dataclass(frozen=True)
class OrcidHolders:
    """Who holds each ORCID in one attribution of the mentions (row -> person): the persons
    and catch-alls with a mention of it, the ORCIDs of each person's mentions, and the rows
    of each ORCID."""

    person_of: np.ndarray
    is_person: np.ndarray
    of_orcid: dict[str, set[str]]
    of_person: dict[str, set[str]]
    rows_of_orcid: dict[str, list[int]]

    @classmethod
    def of(cls, person_of: np.ndarray, is_person: np.ndarray, orcids: list[str | None]
           ) -> OrcidHolders:
        of_orcid: dict[str, set[str]] = {}
        of_person: dict[str, set[str]] = {}
        rows_of_orcid: dict[str, list[int]] = {}
        for row, orcid in enumerate(orcids):
            if orcid is None:
                continue
            holder = str(person_of[row])
            of_orcid.setdefault(orcid, set()).add(holder)
            rows_of_orcid.setdefault(orcid, []).append(row)
            if is_person[row]:
                of_person.setdefault(holder, set()).add(orcid)
        return cls(person_of, is_person, of_orcid, of_person, rows_of_orcid)

    def label(self, holder: str) -> str:
        """A holder as an error names it: a catch-all (or no person) says so."""
        return holder if holder in self.of_person else f"{holder} (unattributed)"

    def has_person(self, orcid: str) -> bool:
        """Some person (not a catch-all) holds a mention with this ORCID."""
        return any(orcid in self.of_person.get(h, set()) for h in self.of_orcid[orcid])


def orcid_splits(moved: dict[int, str], orcids: list[str | None], before: OrcidHolders,
                 after: OrcidHolders) -> list[tuple[str, str]]:
    """(place, why) for each moved mention (row -> place in the file: decided otherwise than
    the resolution) that gives a person a second ORCID, or puts one ORCID with two persons,
    or with a person and a catch-all, or leaves a mention unattributed while its ORCID has a
    person. What the resolution already has is not refused, even under another id (a
    person renamed as a whole)."""
    found: list[tuple[str, str]] = []
    for row, place in sorted(moved.items()):
        orcid, person = orcids[row], str(after.person_of[row])
        if orcid is None:
            continue
        theirs = after.of_person.get(person, set())
        holders = after.of_orcid[orcid]
        if len(theirs) > 1 and not _held_together_before(theirs, person, before, after):
            others = ", ".join(sorted(theirs - {orcid}))
            found.append((place, f"has the ORCID {orcid}, but {person} would also have "
                          f"mentions with the ORCID {others}: one person, one ORCID"))
        elif (len(holders) > 1 and not holders <= before.of_orcid.get(orcid, set())
              and not _only_renamed(orcid, before, after)):
            others = ", ".join(after.label(h) for h in sorted(holders - {person}))
            leaving = "" if person in after.of_person else "; leaving it unattributed (with " \
                f"the catch-all {person}) splits one person"
            found.append((place, f"has the ORCID {orcid}, which mentions of {others} also "
                          f"have: one ORCID is one person{leaving}; decide them together"))
        elif not after.is_person[row] and before.is_person[row] and after.has_person(orcid):
            persons = ", ".join(sorted(h for h in holders
                                       if orcid in after.of_person.get(h, set())))
            found.append((place, f"has the ORCID {orcid}, which {persons} would hold: "
                          "leaving it unattributed splits one person; decide them together"))
    return found


def _held_together_before(theirs: set[str], person: str, before: OrcidHolders,
                          after: OrcidHolders) -> bool:
    """A person the resolution had, under whatever id, held all these ORCIDs already."""
    was = {str(before.person_of[r]) for orcid in theirs for r in after.rows_of_orcid[orcid]
           if str(after.person_of[r]) == person and before.is_person[r]}
    return any(theirs <= before.of_person.get(p, set()) for p in was)


def _only_renamed(orcid: str, before: OrcidHolders, after: OrcidHolders) -> bool:
    """The decisions kept together every group of this ORCID's mentions that the resolution
    had together: they renamed or merged holders, and split none."""
    now: dict[str, set[str]] = {}
    for r in after.rows_of_orcid[orcid]:
        now.setdefault(str(before.person_of[r]), set()).add(str(after.person_of[r]))
    return all(len(holders) == 1 for holders in now.values())


def mention_orcids(mentions: pd.DataFrame, keys: pd.MultiIndex) -> list[str | None]:
    """The ORCID of each mention (paper, role, position) in `keys`, or None: the snapshot's
    `orcid` column, which already holds only ORCIDs that identify someone
    (`anthology/orcids.usable_orcids`). A plain list: pandas' Series.map would turn the None
    of a mention without ORCID back into NaN, which then read as a second ORCID."""
    column = mentions.set_index(["paper", "role", "position"])["orcid"].reindex(keys)
    return [o if isinstance(o, str) else None for o in column]


def registry_orcid_owners(registry: Registry) -> dict[str, str]:
    """The registry person of each ORCID the registry holds (keyed by `orcid_key`: a bad
    checksum in the registry still names one person)."""
    return {orcid: pid for pid, person in sorted(registry.persons.items())
            if (orcid := orcid_key(person.orcid)) is not None}


def orcid_clash(orcid: str | None, person: str | None, owner: dict[str, str],
                registry: Registry) -> str | None:
    """Why a mention with this ORCID cannot go to `person`, or None: an ORCID the registry
    gives to a person pins the mention to that person (as an id would), and a registry
    person with another ORCID cannot take it."""
    if orcid is None or person is None:
        return None
    if orcid in owner and owner[orcid] != person:
        return (f"is pinned by the ORCID {orcid} of {owner[orcid]}, which export never "
                "changes; change it in the XML by hand")
    held = orcid_key(registry.persons[person].orcid) if person in registry.persons else None
    if held is not None and held != orcid:
        return f"has the ORCID {orcid}, but {person} has the ORCID {held}"
    return None
