"""A curator's decisions from a review page (`anthology-resolve review`), read by
`export --decisions FILE`: which person each listed mention is.

The file is JSON, written by the review page's "Download decisions" button:

    {"format": "anthology-resolve decisions", "version": 1,
     "decisions": [{"name": "yang-liu", "person": "yang-liu-icsi",
                    "mentions": [{"paper": "2023.acl-long.1", "role": "author",
                                  "position": 2}, ...]}, ...]}

`person` is a registry person of that name (existing), a new valid id no other name uses (a
new person; another name's slug is that name's page, and so not new; one new id given to two
names would make one person of them), the name's catch-all
(leave the mentions unattributed), or null (as the snapshot has it today; the name's
catch-all if the name has a person after the decisions, the resolution's or the decisions'
own). A mention pinned by a specific curated id keeps it; so does one whose ORCID the
registry gives to a person, and a mention with an ORCID never goes to a registry person
holding another ORCID, and the decisions may neither give a person two ORCIDs nor put one
ORCID with two persons, nor leave a mention unattributed (`null` or the catch-all) while its
ORCID has a person; only what they change is checked (a split the resolution already has is
the plain export's), so a review page's groups left as proposed change nothing. The
decisions replace the resolution's person for exactly the listed mentions, which must be
mentions the resolution covers; everything else in `assignments.csv` stands. Any problem is
an error naming the file and the decision, and nothing is exported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.registry import UNVERIFIED_SUFFIX, Registry, unverified_id
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import InputError, Problem
from pipeline.export.decision_orcids import (
    OrcidHolders,
    is_person,
    mention_orcids,
    orcid_clash,
    orcid_splits,
    registry_orcid_owners,
)

FORMAT = "anthology-resolve decisions"
VERSION = 1
# The current format's rule for a verified person id (acl_anthology's RE_VERIFIED_PERSON_ID);
# a new id must pass it in both formats, so a legacy export can be migrated later.
NEW_ID = re.compile(r"[a-z][-a-z0-9]+")
ORCID_SHAPE = re.compile(r"\d{4}-?\d{4}-?\d{4}-?\d{3}[\dx]")
KEYS = {"file": {"format", "version", "decisions"}, "decision": {"name", "person", "mentions"},
        "mention": {"paper", "role", "position"}}


def _problem(path: Path, where: str, message: str, value: Any = None) -> Problem:
    return Problem(str(path), None, f"{where}: {message}",
                   "" if value is None else json.dumps(value, ensure_ascii=False)[:200])


class _RepeatedKey(ValueError):
    """A JSON object names one key twice (json keeps the last silently)."""


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(json.dumps(key))
        found[key] = value
    return found


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """The decisions of a file, their shape checked; errors name the file and the place."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"),
                              object_pairs_hook=_object_without_repeated_keys)
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError([Problem(str(path), None, f"cannot read: {exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise InputError([Problem(str(path), exc.lineno, f"not valid JSON: {exc.msg}")]
                         ) from exc
    except _RepeatedKey as exc:
        raise InputError([Problem(str(path), None, f"the key {exc} appears twice in one "
                                  "object; which one is meant is unclear")]) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError([Problem(str(path), 1, f'not a decisions file (needs "format": '
                                  f'"{FORMAT}")')])
    if type(document.get("version")) is not int or document["version"] != VERSION:
        raise InputError([_problem(path, "version", f"only version {VERSION} is known",
                                   document.get("version"))])
    decisions = document.get("decisions")
    if not isinstance(decisions, list):
        raise InputError([_problem(path, "decisions", "must be a list", decisions)])
    problems: list[Problem] = _unknown_keys(path, "the file", document, "file")
    for k, decision in enumerate(decisions):
        where = f"decisions[{k}]"
        if not isinstance(decision, dict):
            problems.append(_problem(path, where, "must be an object", decision))
            continue
        problems.extend(_unknown_keys(path, where, decision, "decision"))
        if not isinstance(decision.get("name"), str) or not decision["name"]:
            problems.append(_problem(path, f"{where}.name", "must be a non-empty string",
                                     decision.get("name")))
        if "person" not in decision or not (decision["person"] is None or (
                isinstance(decision["person"], str) and decision["person"])):
            problems.append(_problem(path, f"{where}.person", "must be a person id, or null "
                                     "for as today", decision.get("person")))
        mentions = decision.get("mentions")
        if not isinstance(mentions, list) or not mentions:
            problems.append(_problem(path, f"{where}.mentions", "must be a non-empty list",
                                     mentions))
            continue
        for j, mention in enumerate(mentions):
            if not (isinstance(mention, dict) and isinstance(mention.get("paper"), str)
                    and mention.get("role") in ("author", "editor")
                    and isinstance(mention.get("position"), int)
                    and not isinstance(mention.get("position"), bool)
                    and mention["position"] >= 0):
                unknown = _unknown(mention, "mention") if isinstance(mention, dict) else []
                problems.append(_problem(
                    path, f"{where}.mentions[{j}]", "needs paper (text), role (author or "
                    "editor) and position (a whole number from 0, no decimal point)" + (
                        f"; unknown key {', '.join(map(json.dumps, unknown))}"
                        if unknown else ""), mention))
            else:
                problems.extend(_unknown_keys(path, f"{where}.mentions[{j}]", mention,
                                              "mention"))
    if problems:
        raise InputError(problems[:100])
    return decisions


def _unknown(document: dict[str, Any], kind: str) -> list[str]:
    """The keys of `document` that a `kind` of the format does not have, sorted."""
    return sorted(set(document) - KEYS[kind])


def _unknown_keys(path: Path, where: str, document: dict[str, Any], kind: str
                  ) -> list[Problem]:
    """A key the format does not have (a misspelt one would be ignored silently)."""
    unknown = _unknown(document, kind)
    if not unknown:
        return []
    return [_problem(path, where, f"unknown key {', '.join(map(json.dumps, unknown))} (a "
                     f"{kind} has only {', '.join(sorted(KEYS[kind]))})")]


MAX_ID_LENGTH = 100


def _slugs_of(registry: Registry) -> dict[str, set[str]]:
    """Registry person id -> the slugs of the names it lists."""
    return {pid: {n.slug for n in person.names} for pid, person in registry.persons.items()}


def apply_decisions(assignments: pd.DataFrame, decisions: list[dict[str, Any]],
                    snapshot: Snapshot, path: Path) -> pd.DataFrame:
    """`assignments` with the decided mentions moved to their persons (see the module
    docstring); the status follows from the person. A person must belong to the decision's
    name: a registry person listing it, a person the resolution gives it, the name's own
    catch-all, or a new id no other name uses. A mention pinned by a specific curated id keeps
    that id. `person: null` keeps a mention as the snapshot has it today, unless its name has
    a person after the decisions (one the resolution gives it counts too): then it goes to the
    name's catch-all, as `resolve` leaves an unattributed cluster."""
    registry = snapshot.registry
    keys = pd.MultiIndex.from_frame(assignments[["paper", "role", "position"]])
    name_of = assignments["cluster"].astype(str).str.rsplit("#", n=1).str[0].to_numpy()
    persons_of_name: dict[str, set[str]] = {}
    for name, person in zip(name_of, assignments["person"]):
        if isinstance(person, str) and person:
            persons_of_name.setdefault(str(name), set()).add(person)
    name_of_person: dict[str, set[str]] = {}
    for name, persons in persons_of_name.items():
        for person in persons:
            name_of_person.setdefault(person, set()).add(name)
    # The registry's catch-alls and those the resolution leaves clusters to (a legacy name's
    # new catch-all is no registry entry yet, and is no new person either).
    catch_alls = set(registry.catch_all_ids()) | {
        str(p) for p in assignments.loc[assignments["status"] == "unresolved", "person"]
        if isinstance(p, str)}
    registry_slugs = _slugs_of(registry)
    names_of_id = _names_of_ids(snapshot.mentions)
    curated = snapshot.mentions.set_index(["paper", "role", "position"])["id"].reindex(keys)
    curated = curated.where(~curated.isin(catch_alls) & curated.notna()
                            & ~curated.astype(str).str.endswith(UNVERIFIED_SUFFIX))
    orcid_owner = registry_orcid_owners(registry)
    orcids = mention_orcids(snapshot.mentions, keys)
    person_of = assignments["person"].to_numpy(dtype=object, copy=True)
    status_of = assignments["status"].to_numpy(dtype=object, copy=True)
    seen: dict[tuple[str, str, int], str] = {}
    decided: dict[int, str] = {}  # row -> where in the file
    decided_mention: dict[str, Any] = {}
    as_today: list[int] = []
    new_id_of: dict[str, tuple[str, str]] = {}  # a new id -> the first name given it, where
    problems: list[Problem] = []
    for k, decision in enumerate(decisions):
        where = f"decisions[{k}]"
        person, name = decision["person"], decision["name"]
        status = _status(person, name, registry, catch_alls, registry_slugs,
                         persons_of_name, name_of_person, names_of_id)
        if status == "new":
            first_name, first_where = new_id_of.setdefault(person, (name, where))
            if first_name != name:
                status = Problem("", None, f"a new id {first_where} gives to {first_name}, "
                                 f"not to {name}: export would make one person of the two "
                                 "names; choose another id, or list the name for it in the "
                                 "registry first")
        if isinstance(status, Problem):
            problems.append(_problem(path, f"{where}.person", status.message, person))
            continue
        wanted = [(m["paper"], m["role"], m["position"]) for m in decision["mentions"]]
        rows = keys.get_indexer(pd.MultiIndex.from_tuples(wanted))
        for j, (key, row) in enumerate(zip(wanted, rows)):
            place = f"{where}.mentions[{j}]"
            mention = decision["mentions"][j]
            if row < 0:
                problems.append(_problem(path, place, "not a mention of the resolution "
                                         "(assignments.csv)", mention))
            elif key in seen:
                problems.append(_problem(path, place, f"decided twice (also {seen[key]})",
                                         mention))
            elif name_of[row] != name:
                problems.append(_problem(path, place, f"is not a mention of {name}", mention))
            elif isinstance(curated.iloc[row], str) and curated.iloc[row] != person:
                problems.append(_problem(
                    path, place, f"is pinned by the curated id {curated.iloc[row]}, which "
                    "export never changes; change it in the XML by hand", mention))
            else:
                seen[key] = place
                decided[int(row)] = place
                decided_mention[place] = mention
                if person is None:
                    as_today.append(int(row))
                else:
                    person_of[row] = person
                    status_of[row] = status
    # Settled before the ORCID checks, which must see where a `null` mention ends up.
    _settle_as_today(as_today, name_of, person_of, status_of, assignments, snapshot)
    today = assignments["person"].to_numpy(dtype=object)
    moved = {row: place for row, place in decided.items() if person_of[row] != today[row]}
    for moved_row, place in sorted(moved.items()):
        clash = orcid_clash(orcids[moved_row], str(person_of[moved_row]), orcid_owner,
                             registry)
        if clash is not None:
            problems.append(_problem(path, place, clash, decided_mention[place]))
            del moved[moved_row]
    before = OrcidHolders.of(today, is_person(today, assignments["status"].to_numpy(
        dtype=object), catch_alls), orcids)
    after = OrcidHolders.of(person_of, is_person(person_of, status_of, catch_alls), orcids)
    problems.extend(_problem(path, place, message, decided_mention[place])
                    for place, message in orcid_splits(moved, orcids, before, after))
    if problems:
        raise InputError(problems[:100])
    return assignments.assign(person=person_of, status=status_of)


def moved_persons(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Persons of the resolution (`before`) none of whose mentions the decisions (`after`,
    same rows) left with them: the persons those mentions went to, sorted ("" for left
    unattributed). One person there is a rename, even when the old id now names others (a
    swap of two ids). Name-variant merges name persons by their resolution ids, and follow
    a rename."""
    was_person = before["status"].isin(["existing", "new"]).to_numpy()
    is_person_now = after["status"].isin(["existing", "new"]).to_numpy()
    old, new = before["person"].to_numpy(dtype=object), after["person"].to_numpy(dtype=object)
    targets: dict[str, set[str]] = {}
    for row in np.flatnonzero(was_person):
        targets.setdefault(str(old[row]), set()).add(
            str(new[row]) if is_person_now[row] else "")
    return {person: tuple(sorted(now)) for person, now in sorted(targets.items())
            if person not in now}


def renamed(moved: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The persons of `moved` (`moved_persons`) renamed as a whole: old id -> new id."""
    return {person: targets[0] for person, targets in moved.items()
            if len(targets) == 1 and targets[0]}


def _names_of_ids(mentions: pd.DataFrame) -> dict[str, set[str]]:
    """Each id the snapshot uses -> the names (slugs) whose mentions it stands for: every
    name's own slug (a legacy name's page, the implicit id of its mentions without one) and
    every explicit id in the XML."""
    names: dict[str, set[str]] = {}
    for slug, explicit in zip(mentions["slug"], mentions["id"]):
        if not isinstance(slug, str):
            continue
        names.setdefault(slug, set()).add(slug)
        if isinstance(explicit, str) and explicit:
            names.setdefault(explicit, set()).add(slug)
    return names


def _status(person: str | None, name: str, registry: Registry, catch_alls: set[str],
            registry_slugs: dict[str, set[str]], persons_of_name: dict[str, set[str]],
            name_of_person: dict[str, set[str]], names_of_id: dict[str, set[str]]
            ) -> str | Problem:
    """What a decision's person is for `name`, or the problem with it."""
    if person is None:
        return "as today"
    ours = person in persons_of_name.get(name, set())
    if person.endswith(UNVERIFIED_SUFFIX) and registry.format == "legacy":
        return Problem("", None, "an /unverified id, which only the current registry format "
                       "(people.json) has; leave the mentions to the name's catch-all, or "
                       "null for as today")
    if person in catch_alls or person.endswith(UNVERIFIED_SUFFIX):
        if ours or person == unverified_id(name) or name in registry_slugs.get(person, set()):
            return "unresolved"
        return Problem("", None, f"a catch-all, but not the catch-all of {name}")
    if person in registry.persons:
        if ours or name in registry_slugs[person]:
            return "existing"
        return Problem("", None, f"a registry person who is not {name} (its names: "
                       f"{', '.join(sorted(registry_slugs[person]))}); list the name for it "
                       "in the registry first")
    if ORCID_SHAPE.fullmatch(person):
        return Problem("", None, "an ORCID, not a person id; choose an id from the name")
    if not NEW_ID.fullmatch(person) or len(person) > MAX_ID_LENGTH:
        return Problem("", None, f"not a registry id and not a valid new id (lower case "
                       f"letters, digits, hyphens, starting with a letter; 2 to "
                       f"{MAX_ID_LENGTH} characters)")
    others = name_of_person.get(person, set()) - {name}
    if others:
        return Problem("", None, f"a person the resolution gives to {', '.join(sorted(others))}"
                       f", not to {name}")
    others = names_of_id.get(person, set()) - {name}
    if others:
        return Problem("", None, f"the id of the mentions of {', '.join(sorted(others))} in "
                       "the snapshot (a name's slug is its page), not a new id for "
                       f"{name}: export would make one person of them; choose another id")
    return "new"


def _settle_as_today(rows: list[int], name_of: np.ndarray, person_of: np.ndarray,
                     status_of: np.ndarray, assignments: pd.DataFrame,
                     snapshot: Snapshot) -> None:
    """Mentions decided `null` stay as they are today, unless their name now has a person,
    whether the decisions or the resolution gave it: then they go to the name's catch-all
    (as `resolve` leaves an unattributed cluster)."""
    if not rows:
        return
    named = {str(name_of[i]) for i in range(len(name_of))
             if status_of[i] in ("new", "existing")}
    registry = snapshot.registry
    legacy = registry.format == "legacy"
    taken = set(registry.persons) | {str(p) for p in person_of if isinstance(p, str)}
    catch_all_of: dict[str, str] = {}
    for i in range(len(name_of)):
        if status_of[i] == "unresolved" and isinstance(person_of[i], str):
            catch_all_of.setdefault(str(name_of[i]), str(person_of[i]))
    for pid, person in sorted(registry.persons.items()):
        if person.is_catch_all:
            for slug in sorted({n.slug for n in person.names}):
                catch_all_of.setdefault(slug, pid)
    for row in rows:
        name = str(name_of[row])
        if name not in named:
            person_of[row] = assignments["person"].iloc[row]
            status_of[row] = "unchanged"
            continue
        if name not in catch_all_of:
            catch_all_of[name] = propose_id(name, taken) if legacy else unverified_id(name)
            taken.add(catch_all_of[name])
        person_of[row] = catch_all_of[name]
        status_of[row] = "unresolved"
