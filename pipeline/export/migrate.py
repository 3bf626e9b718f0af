"""Convert a legacy snapshot (`yaml/name_variants.yaml`) to the current format (`json/people.json`).

The rules follow the Anthology's own transition to the new author system (its
`transition_to_people_yaml.py`, run with acl-anthology 0.5.4):

1. Every registry person that has papers becomes a verified person. Its names are the
   canonical name, the listed variants and every name used with its id in the XML (names
   matched only by slug are not copied: the new rules match slugs by themselves). It gets an
   `id` on each paper it had by name, where that name is one of its listed names.
2. Catch-alls ("May refer to several people") disappear: their ids are removed from the XML, so
   those mentions become `<slug>/unverified`; where only one verified person keeps a catch-all's
   name, that person gets `disable_name_matching`.
3. A mention with an ORCID but no id is the person with that ORCID, or a new verified person
   (id: the slug, else the slug and the ORCID's last four characters). Invalid ORCIDs (format
   or checksum) are removed, as the Anthology did, since the new library rejects them.

What the old registry held that the new format forbids is repaired and reported: ids that are
not valid any more (`yang-liu-Helsinki` becomes `yang-liu-helsinki`; an ORCID used as an id
becomes the person's ORCID and a slug id), an ORCID written as a URL, and a `variant:` key
(read as `variants`). Where the curation contradicts itself (an id used with an ORCID that the
person's entry does not have), the id wins and the ORCID is removed from that mention.
Finally every mention is resolved under the new rules and checked against what was intended
(`attribution.py`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from acl_anthology.people import Name as OfficialName
from acl_anthology.utils.ids import is_verified_person_id
from slugify import slugify

from pipeline.anthology.changeset import Changeset
from pipeline.anthology.orcids import ORCID_PATTERN, clean_orcid
from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.registry import REGISTRY_FILES, Name, Person, Registry, unverified_id
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import AnthologyResolveError
from pipeline.export.attribution import (
    Attribution,
    check_no_new_errors,
    express,
    repeated_persons,
    separate_repeated,
)

log = logging.getLogger(__name__)


class MigrationError(AnthologyResolveError):
    """The snapshot cannot be migrated as it is."""


@dataclass
class Migration:
    changeset: Changeset
    registry: Registry  # the new people.json registry
    ids: pd.Series  # every mention's id attribute after the migration
    orcids: pd.Series  # every mention's ORCID after the migration
    id_map: dict[str, str]  # legacy id -> current id, for every person kept
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def _legacy_names(person: Person) -> list[Name]:
    """Listed names, plus a `variant:` key (a typo for `variants` the old loader ignored)."""
    names = list(person.names)
    for key, value in person.extra:
        if key == "variant":
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and isinstance(item.get("last"), str):
                    names.append(Name(str(item.get("first") or ""), item["last"]))
    return list(dict.fromkeys(names))


def _current_id(person: Person, taken: set[str]) -> tuple[str, str | None]:
    """A valid current-format id for a legacy person, and an ORCID found in its old id."""
    pid = person.id
    if is_verified_person_id(pid) and pid not in taken:
        return pid, None
    if ORCID_PATTERN.fullmatch(pid.upper()):
        return propose_id(person.canonical.slug, taken, orcid=pid), pid.upper()
    fixed = re.sub(r"[^a-z0-9]+", "-", pid.lower()).strip("-")
    if is_verified_person_id(fixed) and fixed not in taken:
        return fixed, None
    return propose_id(person.canonical.slug, taken), None


def _best_name(names: list[Name]) -> Name:
    """The name the library would call canonical: highest score, then first seen."""
    return max(names, key=lambda n: (OfficialName(n.first or None, n.last).score(),
                                     -names.index(n)))


def _fold(text: str) -> str:
    return slugify(text).split("-")[0] if text else ""


def _misplaced_orcids(mentions: pd.DataFrame, orcids: pd.Series, registry: Registry,
                      by_orcid: dict[str, str]) -> pd.Series:
    """Mentions whose ORCID belongs to someone named differently: neither the family name
    nor the first given name matches the ORCID's usual name (or its registry entry's)."""
    with_orcid = mentions[orcids.notna()].assign(orcid=orcids[orcids.notna()])
    misplaced = pd.Series(False, index=mentions.index)
    for orcid, group in with_orcid.groupby("orcid", sort=False):
        if group[["first", "last"]].drop_duplicates().shape[0] == 1:
            continue
        owner = registry.persons.get(by_orcid.get(str(orcid), ""))
        usual = Counter(zip(group["first"], group["last"])).most_common(1)[0][0]
        known = {usual} | ({(n.first, n.last) for n in owner.names} if owner else set())
        keys = {(_fold(f), _fold(la)) for f, la in known}
        lasts = {k[1] for k in keys}
        firsts = {k[0] for k in keys if k[0]}
        for index, first, last in zip(group.index, group["first"], group["last"]):
            if _fold(last) not in lasts and _fold(first) not in firsts:
                misplaced[index] = True
    return misplaced


@dataclass
class _Progress:
    """What the steps of a migration build up, in the order they run."""

    legacy: Registry
    registry: Registry  # the new people.json registry
    taken: set[str] = field(default_factory=set)  # ids given out so far
    id_map: dict[str, str] = field(default_factory=dict)  # legacy id -> current id
    by_orcid: dict[str, str] = field(default_factory=dict)  # ORCID -> current id
    catch_all_names: list[Name] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def plan_migration(snapshot: Snapshot) -> Migration:
    """Every change of the migration, in memory; nothing is written."""
    legacy = snapshot.registry
    if legacy.format != "legacy":
        raise MigrationError(f"{legacy.path}: already in the {legacy.format} format")
    mentions = snapshot.mentions
    person_of = mentions["person"].astype(object)
    old_ids = mentions["id"].astype(object)
    target = Path(str(legacy.path).removesuffix(REGISTRY_FILES["legacy"])) / REGISTRY_FILES[
        "people-json"]
    state = _Progress(legacy, Registry("people-json", target, {}))

    orcids = mentions["orcid"].astype(object).map(clean_orcid)
    invalid = mentions["xml_orcid"].notna() & orcids.isna()
    state.counts["invalid ORCIDs removed"] = int(invalid.sum())

    _verify_registry_persons(state, mentions, person_of, orcids)
    _index_orcids(state)
    desired = person_of.map(state.id_map)
    ids = old_ids.map(lambda v: state.id_map.get(v) if isinstance(v, str) else None)
    catch_all_ids = legacy.catch_all_ids()
    state.counts["catch-all ids removed"] = int(old_ids.isin(catch_all_ids).sum())
    orcids = _remove_misplaced_orcids(state, mentions, orcids)
    _adopt_orcids(state, mentions, ids, orcids, desired)
    orcids, by_orcid_mention = _remove_contradicting_orcids(state, mentions, ids, orcids, desired)
    _persons_from_orcids(state, mentions, orcids, by_orcid_mention)
    desired = desired.where(~by_orcid_mention, orcids.map(state.by_orcid))
    _disable_matching_of_catch_all_names(state)

    # Intended: verified mentions stay with their person, catch-all mentions become
    # unverified; the rest (names the old rules matched by slug) go where the new rules say.
    catch_all_mention = person_of.isin(catch_all_ids) & desired.isna()
    desired = desired.where(~catch_all_mention, mentions["slug"].map(unverified_id))
    attribution, orcids = _attribute(state, mentions, desired, ids, orcids, old_ids)
    changeset = _changeset(mentions, old_ids, attribution.ids, orcids)
    counts = state.counts
    counts["ids added"] = int((attribution.ids.notna() & old_ids.isna()).sum())
    counts["persons with name matching disabled"] = sum(
        p.disable_name_matching for p in state.registry.persons.values())
    counts["ids renamed"] = int((attribution.ids.notna() & old_ids.notna()
                                 & (attribution.ids != old_ids)).sum())
    counts["persons in people.json"] = len(state.registry.persons)
    changeset.registry = state.registry
    log.info("migration: %s", ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())))
    return Migration(changeset=changeset, registry=state.registry, ids=attribution.ids,
                     orcids=orcids, id_map=state.id_map, counts=counts, notes=state.notes)


def _verify_registry_persons(state: _Progress, mentions: pd.DataFrame, person_of: pd.Series,
                             orcids: pd.Series) -> None:
    """Step 1: registry persons with papers become verified persons; catch-alls are noted."""
    legacy, registry = state.legacy, state.registry
    has_papers = set(person_of.dropna())
    old_ids = mentions["id"]
    with_id = mentions[old_ids.notna()].assign(orcid=orcids[old_ids.notna()])
    explicit_of = {str(pid): group for pid, group in with_id.groupby("id", sort=False)}
    no_mentions = with_id.iloc[:0]
    for pid, person in legacy.persons.items():
        if person.is_catch_all:
            state.catch_all_names.extend(person.names)
            continue
        if pid not in has_papers:
            state.notes.append(f"{pid}: no papers; not carried over")
            state.counts["persons without papers dropped"] += 1
            continue
        new_id, orcid_from_id = _current_id(person, state.taken | set(legacy.persons) - {pid})
        if new_id != pid:
            state.notes.append(f"{pid}: not a valid id any more; now {new_id}")
        state.taken.add(new_id)
        state.id_map[pid] = new_id
        explicit = explicit_of.get(pid, no_mentions)
        names = _legacy_names(person) + [Name(f, la) for f, la in
                                         zip(explicit["first"], explicit["last"])]
        orcid = person.orcid or orcid_from_id
        if orcid is None:
            used = explicit["orcid"].dropna()
            orcid = str(used.iloc[0]) if len(used) else None
        registry.add_person(Person(
            id=new_id, names=tuple(dict.fromkeys(names)), orcid=clean_orcid(orcid),
            comment=person.comment, degree=person.degree, similar=person.similar))
    state.counts["verified persons from the registry"] = len(registry.persons)
    for person in list(registry.persons.values()):
        similar = tuple(sorted({state.id_map[s] for s in person.similar if s in state.id_map}))
        registry.replace_person(person.with_changes(similar=similar))


def _index_orcids(state: _Progress) -> None:
    """ORCID -> person; a second person with the same ORCID loses it."""
    for pid, person in state.registry.persons.items():
        if person.orcid is None:
            continue
        if person.orcid in state.by_orcid:
            state.notes.append(f"{pid}: ORCID {person.orcid} already belongs to "
                               f"{state.by_orcid[person.orcid]}; dropped")
            state.registry.replace_person(person.with_changes(orcid=None))
        else:
            state.by_orcid[person.orcid] = pid


def _remove_misplaced_orcids(state: _Progress, mentions: pd.DataFrame, orcids: pd.Series
                             ) -> pd.Series:
    misplaced = _misplaced_orcids(mentions, orcids, state.registry, state.by_orcid)
    for row in mentions[misplaced].itertuples():
        state.notes.append(f"{row.role} {row.position} of {row.paper}: ORCID {row.orcid} on "
                           f"{row.first} {row.last} belongs to a differently named person; "
                           "removed")
    state.counts["misplaced ORCIDs removed"] = int(misplaced.sum())
    return orcids.where(~misplaced)


def _adopt_orcids(state: _Progress, mentions: pd.DataFrame, ids: pd.Series, orcids: pd.Series,
                  desired: pd.Series) -> None:
    """A registry person without an ORCID takes the first one used with one of its listed
    names that nobody has (the old registry ignored ORCIDs on papers)."""
    adopt = ids.isna() & orcids.notna() & desired.notna()
    for first, last, pid, orcid in zip(mentions.loc[adopt, "first"],
                                       mentions.loc[adopt, "last"], desired[adopt],
                                       orcids[adopt]):
        person = state.registry.persons[pid]
        if (orcid not in state.by_orcid and person.orcid is None
                and Name(str(first), str(last)) in person.names):
            state.registry.replace_person(person.with_changes(orcid=orcid))
            state.by_orcid[orcid] = pid


def _remove_contradicting_orcids(state: _Progress, mentions: pd.DataFrame, ids: pd.Series,
                                 orcids: pd.Series, desired: pd.Series
                                 ) -> tuple[pd.Series, pd.Series]:
    """An id used with an ORCID its person does not have: the id wins. Returns the ORCIDs
    left and the mentions whose ORCID, not an id, decides who they are."""
    registry = state.registry
    person_orcid = desired.map(lambda p: registry.persons[p].orcid if isinstance(p, str)
                               else None)
    contradicted = ids.notna() & orcids.notna() & (orcids != person_orcid)
    for row in mentions[contradicted].itertuples():
        state.notes.append(f"{row.role} {row.position} of {row.paper}: id {row.id} used with "
                           f"ORCID {row.orcid}, which its entry does not have; the id wins, "
                           "ORCID removed")
    state.counts["contradicting ORCIDs removed"] = int(contradicted.sum())
    orcids = orcids.where(~contradicted)
    return orcids, orcids.notna() & ids.isna() & (orcids != person_orcid)


def _persons_from_orcids(state: _Progress, mentions: pd.DataFrame, orcids: pd.Series,
                         by_orcid_mention: pd.Series) -> None:
    """Step 3: an ORCID without a verified person becomes a new verified person."""
    groups = mentions[by_orcid_mention].assign(orcid=orcids[by_orcid_mention])
    for orcid_value, group in groups.groupby("orcid", sort=False, observed=True):
        orcid = str(orcid_value)
        if orcid in state.by_orcid:
            continue
        names = list(dict.fromkeys(Name(f, la) for f, la in zip(group["first"],
                                                                 group["last"])))
        canonical = _best_name(names)
        new_id = propose_id(canonical.slug, state.taken | set(state.legacy.persons),
                            orcid=orcid)
        state.taken.add(new_id)
        names.remove(canonical)
        state.registry.add_person(Person(id=new_id, names=(canonical, *names), orcid=orcid))
        state.by_orcid[orcid] = new_id
        state.counts["verified persons from ORCIDs"] += 1


def _disable_matching_of_catch_all_names(state: _Progress) -> None:
    """Step 2: where one verified person keeps a catch-all's name, it stops matching by name."""
    registry = state.registry
    for name in state.catch_all_names:
        holders = registry.ids_for_name(name.first, name.last)
        if len(holders) == 1 and not registry.persons[holders[0]].disable_name_matching:
            registry.replace_person(registry.persons[holders[0]].with_changes(
                disable_name_matching=True))


def _attribute(state: _Progress, mentions: pd.DataFrame, desired: pd.Series, ids: pd.Series,
               orcids: pd.Series, old_ids: pd.Series) -> tuple[Attribution, pd.Series]:
    """The XML ids that make the new rules give every mention its intended person."""
    registry = state.registry
    free = desired.isna()
    migrated = mentions.assign(orcid=orcids)
    attribution = express(migrated, registry, desired, ids, "migration", free=free)
    repeated = repeated_persons(mentions, attribution.resolved, registry, old_ids, orcids)
    if repeated.any():
        # One person twice on a paper: the name matched two authors. The one the curation
        # points at keeps the person; the others become unverified, and the person stops
        # matching by name (its other papers get explicit ids).
        desired, bind, holders = separate_repeated(mentions, registry, attribution.resolved,
                                                   repeated, desired)
        state.notes.extend(f"{pid}: listed twice on a paper by name; name matching disabled"
                           for pid in holders)
        dropped = repeated & orcids.notna()
        for row in mentions[dropped].itertuples():
            state.notes.append(f"{row.role} {row.position} of {row.paper}: ORCID {row.orcid} "
                               "also on another author of the paper; removed here")
        state.counts["contradicting ORCIDs removed"] += int(dropped.sum())
        orcids = orcids.where(~dropped)
        migrated = mentions.assign(orcid=orcids)
        free = free & ~bind & ~repeated
        state.counts["authors moved off a person listed twice on a paper"] = int(
            repeated.sum())
        attribution = express(migrated, registry, desired, ids, "migration", free=free)
    check_no_new_errors(set(), attribution.errors, "migration")
    return attribution, orcids


def _changeset(mentions: pd.DataFrame, old_ids: pd.Series, ids: pd.Series, orcids: pd.Series
               ) -> Changeset:
    """The XML edits: changed ids and removed ORCIDs; the legacy registry file goes."""
    changeset = Changeset(delete=[REGISTRY_FILES["legacy"]])
    new_ids = ids.astype(object).where(ids.notna(), None)
    id_changed = ~((old_ids == new_ids) | (old_ids.isna() & new_ids.isna()))
    orcid_removed = mentions["xml_orcid"].notna() & orcids.isna()
    touched = mentions[id_changed | orcid_removed]
    for index, file, paper, role, position, old_id, old_orcid in zip(
            touched.index, touched["file"], touched["paper"], touched["role"],
            touched["position"], touched["id"], touched["xml_orcid"]):
        key = (str(paper), str(role), int(position))
        old = old_id if isinstance(old_id, str) else None
        new = new_ids[index]
        if old != new:
            changeset.edit(str(file), key, ("id", old, new))
        if orcid_removed[index]:
            changeset.edit(str(file), key, ("orcid", str(old_orcid), None))
    return changeset
