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
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.anthology.names import canonical_name
from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.person_units import person_units
from pipeline.anthology.registry import Name, Registry
from pipeline.errors import InputError, Problem
from pipeline.export.decisions import renamed


@dataclass(frozen=True)
class MergeDecision:
    person: str  # who every mention in `rows` becomes
    status: str  # "existing" or "new"
    rows: pd.Index  # mention index labels
    names: tuple[Name, ...]  # every name string of those mentions, canonical first
    confidence: float  # the lowest confidence of the merge's links (1.0 if none given)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _NotANumber:
    """What `NaN`, `Infinity` or `-Infinity` (not JSON, though Python writes them), or a
    number too large for a float (`1e999`), parse to, so that the place can be named."""

    def __init__(self, token: str) -> None:
        self.token = token


def _place_of_not_a_number(document: object, place: str = "$") -> tuple[str, str] | None:
    """The first place (`$.splits[3].ambiguity`) holding a `_NotANumber`, and its token."""
    if isinstance(document, _NotANumber):
        return place, document.token
    children: Any = (document.items() if isinstance(document, dict)
                     else enumerate(document) if isinstance(document, list) else ())
    for key, child in children:
        # A key that is not a plain word is quoted, so that no control character in it
        # reaches the terminal.
        step = (f"[{key}]" if isinstance(key, int) else f".{key}"
                if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]")
        found = _place_of_not_a_number(child, place + step)
        if found is not None:
            return found
    return None


def read_proposals(path: Path) -> dict[str, Any]:
    """`proposals.json` as a mapping ({} if the file is absent); unreadable is an error, and so
    is a number that is not finite (`resolve` never writes one)."""
    if not path.exists():
        return {}
    constants: list[_NotANumber] = []

    def not_a_number(token: str) -> _NotANumber:
        constants.append(_NotANumber(token))
        return constants[-1]

    def finite(token: str) -> float | _NotANumber:
        number = float(token)
        return number if math.isfinite(number) else not_a_number(token)

    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=not_a_number,
                              parse_float=finite)
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError([Problem(str(path), None, f"cannot read: {exc}")]) from exc
    if not isinstance(document, dict):
        raise InputError([Problem(str(path), None, "must hold an object with 'splits' and "
                                  "'variants'", type(document).__name__)])
    if constants:
        try:
            place, token = _place_of_not_a_number(document) or ("$", constants[0].token)
        except RecursionError:  # nested deeper than the walk may go: the place is unnamed
            place, token = "$", constants[0].token
        raise InputError([Problem(str(path), None, f"{place} must be a finite number (JSON "
                                  "has no NaN or Infinity)", token)])
    return document


def merges_of(proposals: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The variant merges of `proposals` (read from `path`), checked: each a list of two or
    more distinct person ids (strings) no other merge names, and an optional canonical name."""
    variants = proposals.get("variants", {})
    merges = variants.get("merges", []) if isinstance(variants, dict) else None
    if not isinstance(merges, list):
        raise InputError([Problem(str(path), None, "variants.merges must be a list",
                                  type(merges).__name__)])
    problems = []
    seen: dict[str, int] = {}
    for number, merge in enumerate(merges):
        where = f"variants.merges[{number}]"
        persons = merge.get("persons") if isinstance(merge, dict) else None
        if (not isinstance(persons, list) or len(persons) < 2
                or not all(isinstance(p, str) and p for p in persons)
                or len(set(persons)) != len(persons)):
            problems.append(Problem(str(path), None, f"{where}: 'persons' must list two or "
                                    "more distinct person ids", json.dumps(persons)))
            continue
        canonical = merge.get("canonical")
        if canonical is not None and not (
                isinstance(canonical, dict) and isinstance(canonical.get("last"), str)
                and canonical["last"].strip()
                and isinstance(canonical.get("first", ""), str)):
            problems.append(Problem(str(path), None, f"{where}: 'canonical' must be "
                                    "{\"first\": ..., \"last\": ...} with a last name",
                                    json.dumps(canonical)))
        for person in persons:
            if person in seen:
                problems.append(Problem(str(path), None, f"{where}: {person} is already in "
                                        f"variants.merges[{seen[person]}]", person))
            seen.setdefault(person, number)
    if problems:
        raise InputError(problems[:50])
    return merges


def follow_renames(merges: list[dict[str, Any]], moved: dict[str, tuple[str, ...]]
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """The merges with each person a curator's decisions renamed as a whole under its new id
    (`moved`, from `decisions.moved_persons`: a person whose mentions all went to one
    other), and notes on those the decisions settled or undid: a merge whose persons the
    decisions already made one, whose renamed person another merge names too, or one of
    whose persons the decisions dissolved (its mentions given to several, or unattributed)."""
    followed, notes = [], []
    seen: set[str] = set()
    renames = renamed(moved)
    for merge in merges:
        before = [str(p) for p in merge["persons"]]
        dissolved = [p for p in before if p in moved and p not in renames]
        if dissolved:
            where = "; ".join(f"{p} to {', '.join(t or '(unattributed)' for t in moved[p])}"
                              for p in dissolved)
            notes.append(f"variant merge of {', '.join(before)} not applied: the decisions "
                         f"gave the mentions of {where}; decide the variant on the review "
                         "page")
            continue
        persons = list(dict.fromkeys(renames.get(p, p) for p in before))
        moves = ", ".join(f"{p} -> {renames[p]}" for p in before if p in renames)
        what = f"variant merge of {', '.join(before)}" + (
            f" (renamed by the decisions: {moves})" if moves else "")
        if len(persons) < 2:
            notes.append(f"{what}: the decisions already made them one person, {persons[0]}")
        elif seen & set(persons):
            notes.append(f"{what} not applied: {', '.join(sorted(seen & set(persons)))} is in "
                         "another merge too; decide it on the review page")
        else:
            followed.append(merge if persons == before else {**merge, "persons": persons})
            seen.update(persons)
    return followed, notes


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
    # A legacy name no entry lists is the person whose id is its slug: a merge may take
    # that id only if every mention of that person is in the merge.
    in_use = Counter(mentions["person"].dropna())
    decisions, notes = [], []
    for merge in merges:
        persons = [str(p) for p in merge["persons"]]
        what = f"variant merge of {', '.join(persons)} not applied"
        missing = [p for p in persons if p not in rows_of]
        if missing:
            notes.append(f"{what}: {', '.join(missing)} is no person of this resolution "
                         "and snapshot (a split name's persons are its clusters' ids)")
            continue
        known = [p for p in persons if p in registry.persons and p not in catch_all]
        if len(known) > 1:
            notes.append(f"{what}: {', '.join(known)} are registry persons, and two become "
                         "one only by a curator's decision")
            continue
        rows = pd.Index(sorted(set().union(*(rows_of[p] for p in persons))))
        orcid = registry.persons[known[0]].orcid if known else None
        conflict = _cannot_link(mentions.loc[rows], catch_all, orcid)
        if conflict:
            notes.append(f"{what}: {conflict}")
            continue
        counts = Counter((str(f), str(la)) for f, la in zip(
            mentions.loc[rows, "first"].fillna(""), mentions.loc[rows, "last"]))
        first_name = canonical_name(counts)
        # The canonical name first (as `resolve` chose it), then by use.
        ordered = tuple(Name(*n) for n in sorted(
            counts, key=lambda n: (n != first_name, -counts[n], n[1], n[0])))
        proposed = sorted((p for p in persons if p in new_persons),
                          key=lambda p: (-len(rows_of[p]), p))
        if known:
            person, status = known[0], "existing"
        elif proposed:
            person, status = proposed[0], "new"
        else:
            inside = Counter(mentions.loc[rows, "person"].dropna())
            person = propose_id(ordered[0].slug, _Taken(taken, in_use, inside))
            status = "new"
            taken.add(person)
        decisions.append(MergeDecision(person, status, rows, ordered, _confidence(merge)))
    return decisions, notes


class _Taken:
    """Ids a merge may not take: `ids`, and the persons of mentions outside the merge."""

    def __init__(self, ids: set[str], in_use: Counter[str], inside: Counter[str]) -> None:
        self.ids, self.in_use, self.inside = ids, in_use, inside

    def __contains__(self, pid: object) -> bool:
        return pid in self.ids or self.in_use[str(pid)] > self.inside[str(pid)]


def _confidence(merge: dict[str, Any]) -> float:
    values = [link.get("confidence") for link in merge.get("links", [])
              if isinstance(link, dict)]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return min(numbers) if numbers else 1.0


def _cannot_link(rows: pd.DataFrame, catch_all: frozenset[str], orcid: str | None
                 ) -> str | None:
    """Why these mentions cannot be one person, if they cannot: two on one paper, or
    different explicit ids or ORCIDs (the rules `resolve` merges by; checked again here since
    `proposals.json` may have been edited); `orcid`: the registry person's, if any."""
    twice = rows.duplicated(["paper", "role"], keep=False)
    if twice.any():
        return f"two of its mentions are on {rows.loc[twice, 'paper'].iloc[0]}"
    ids = {x for x in rows["id"].dropna() if x not in catch_all}
    if len(ids) > 1:
        return f"its mentions carry different ids ({', '.join(sorted(ids))})"
    orcids = set(rows["orcid"].dropna()) | ({orcid} if orcid else set())
    if len(orcids) > 1:
        return f"its mentions carry different ORCIDs ({', '.join(sorted(orcids))})"
    return None
