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
from acl_anthology.utils.attrs import convert_orcid
from acl_anthology.utils.ids import is_valid_orcid, is_verified_person_id
from slugify import slugify

from .attribution import check_no_new_errors, express, repeated_persons, separate_repeated
from .changeset import Changeset
from .errors import AnthologyResolveError
from .person_ids import propose_id
from .registry import REGISTRY_FILES, Name, Person, Registry, unverified_id
from .snapshot import Snapshot

log = logging.getLogger(__name__)
ORCID_PATTERN = re.compile(r"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]")


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


def clean_orcid(value: object) -> str | None:
    """The ORCID as the library stores it (upper case, no URL), or None if invalid."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    orcid = convert_orcid(value)
    return orcid if orcid is not None and is_valid_orcid(orcid) else None


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


def plan_migration(snapshot: Snapshot) -> Migration:
    legacy = snapshot.registry
    if legacy.format != "legacy":
        raise MigrationError(f"{legacy.path}: already in the {legacy.format} format")
    mentions = snapshot.mentions
    person_of = mentions["person"].astype(object)
    old_ids = mentions["id"].astype(object)
    counts: Counter[str] = Counter()
    notes: list[str] = []
    changeset = Changeset(delete=[REGISTRY_FILES["legacy"]])
    target = Path(str(legacy.path).removesuffix(REGISTRY_FILES["legacy"])) / REGISTRY_FILES[
        "people-json"]
    registry = Registry("people-json", target, {})

    orcids = mentions["orcid"].astype(object).map(clean_orcid)
    invalid = mentions["orcid"].notna() & orcids.isna()
    counts["invalid ORCIDs removed"] = int(invalid.sum())

    # 1. Registry persons with papers become verified persons.
    has_papers = set(person_of.dropna())
    with_id = mentions[old_ids.notna()].assign(orcid=orcids[old_ids.notna()])
    explicit_of = {str(pid): group for pid, group in with_id.groupby("id", sort=False)}
    no_mentions = with_id.iloc[:0]
    taken: set[str] = set()
    id_map: dict[str, str] = {}
    catch_all_names: list[Name] = []
    for pid, person in legacy.persons.items():
        if person.is_catch_all:
            catch_all_names.extend(person.names)
            continue
        if pid not in has_papers:
            notes.append(f"{pid}: no papers; not carried over")
            counts["persons without papers dropped"] += 1
            continue
        new_id, orcid_from_id = _current_id(person, taken | set(legacy.persons) - {pid})
        if new_id != pid:
            notes.append(f"{pid}: not a valid id any more; now {new_id}")
        taken.add(new_id)
        id_map[pid] = new_id
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
    counts["verified persons from the registry"] = len(registry.persons)
    for person in list(registry.persons.values()):
        similar = tuple(sorted({id_map[s] for s in person.similar if s in id_map}))
        registry.replace_person(person.with_changes(similar=similar))
    by_orcid: dict[str, str] = {}
    for pid, person in registry.persons.items():
        if person.orcid is not None:
            if person.orcid in by_orcid:
                notes.append(f"{pid}: ORCID {person.orcid} already belongs to "
                             f"{by_orcid[person.orcid]}; dropped")
                registry.replace_person(person.with_changes(orcid=None))
            else:
                by_orcid[person.orcid] = pid

    # Who each mention should be: its person if verified, else unverified; ORCIDs decide
    # for mentions without a verified person.
    desired = person_of.map(id_map)
    catch_all_ids = {pid for pid, p in legacy.persons.items() if p.is_catch_all}
    ids = old_ids.map(lambda v: id_map.get(v) if isinstance(v, str) else None)
    removed = old_ids.isin(catch_all_ids)
    counts["catch-all ids removed"] = int(removed.sum())
    misplaced = _misplaced_orcids(mentions, orcids, registry, by_orcid)
    for row in mentions[misplaced].itertuples():
        notes.append(f"{row.role} {row.position} of {row.paper}: ORCID {row.orcid} on "
                     f"{row.first} {row.last} belongs to a differently named person; removed")
    counts["misplaced ORCIDs removed"] = int(misplaced.sum())
    orcids = orcids.where(~misplaced)
    # A registry person without an ORCID takes the first one used with one of its listed
    # names that nobody has (the old registry ignored ORCIDs on papers).
    adopt = ids.isna() & orcids.notna() & desired.notna()
    for first, last, pid, orcid in zip(mentions.loc[adopt, "first"],
                                       mentions.loc[adopt, "last"], desired[adopt],
                                       orcids[adopt]):
        person = registry.persons[pid]
        if (orcid not in by_orcid and person.orcid is None
                and Name(str(first), str(last)) in person.names):
            registry.replace_person(person.with_changes(orcid=orcid))
            by_orcid[orcid] = pid
    person_orcid = desired.map(lambda p: registry.persons[p].orcid if isinstance(p, str)
                               else None)
    contradicted = ids.notna() & orcids.notna() & (orcids != person_orcid)
    for row in mentions[contradicted].itertuples():
        notes.append(f"{row.role} {row.position} of {row.paper}: id {row.id} used with ORCID "
                     f"{row.orcid}, which its entry does not have; the id wins, ORCID removed")
    counts["contradicting ORCIDs removed"] = int(contradicted.sum())
    orcids = orcids.where(~contradicted)
    by_orcid_mention = orcids.notna() & ids.isna() & (orcids != person_orcid)

    # 3. ORCIDs without a verified person: the person with that ORCID, or a new one.
    groups = mentions[by_orcid_mention].assign(orcid=orcids[by_orcid_mention])
    for orcid_value, group in groups.groupby("orcid", sort=False, observed=True):
        orcid = str(orcid_value)
        if orcid not in by_orcid:
            names = list(dict.fromkeys(Name(f, la) for f, la in zip(group["first"],
                                                                     group["last"])))
            canonical = _best_name(names)
            new_id = propose_id(canonical.slug, taken | set(legacy.persons), orcid=orcid)
            taken.add(new_id)
            names.remove(canonical)
            registry.add_person(Person(id=new_id, names=(canonical, *names), orcid=orcid))
            by_orcid[orcid] = new_id
            counts["verified persons from ORCIDs"] += 1
    desired = desired.where(~by_orcid_mention, orcids.map(by_orcid))
    for name in catch_all_names:
        holders = registry.ids_for_name(name.first, name.last)
        if len(holders) == 1 and not registry.persons[holders[0]].disable_name_matching:
            registry.replace_person(registry.persons[holders[0]].with_changes(
                disable_name_matching=True))

    # Intended: verified mentions stay with their person, catch-all mentions become
    # unverified; the rest (names the old rules matched by slug) go where the new rules say.
    catch_all_mention = person_of.isin(catch_all_ids) & desired.isna()
    desired = desired.where(~catch_all_mention, mentions["slug"].map(unverified_id))
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
        notes.extend(f"{pid}: listed twice on a paper by name; name matching disabled"
                     for pid in holders)
        dropped = repeated & orcids.notna()
        for row in mentions[dropped].itertuples():
            notes.append(f"{row.role} {row.position} of {row.paper}: ORCID {row.orcid} also "
                         "on another author of the paper; removed here")
        counts["contradicting ORCIDs removed"] += int(dropped.sum())
        orcids = orcids.where(~dropped)
        migrated = mentions.assign(orcid=orcids)
        free = free & ~bind & ~repeated
        counts["authors moved off a person listed twice on a paper"] = int(repeated.sum())
        attribution = express(migrated, registry, desired, ids, "migration", free=free)
    check_no_new_errors(set(), attribution.errors, "migration")
    new_ids = attribution.ids.astype(object).where(attribution.ids.notna(), None)
    id_changed = ~((old_ids == new_ids) | (old_ids.isna() & new_ids.isna()))
    orcid_removed = mentions["orcid"].notna() & orcids.isna()
    touched = mentions[id_changed | orcid_removed]
    for index, file, paper, role, position, old_id, old_orcid in zip(
            touched.index, touched["file"], touched["paper"], touched["role"],
            touched["position"], touched["id"], touched["orcid"]):
        key = (str(paper), str(role), int(position))
        old = old_id if isinstance(old_id, str) else None
        new = new_ids[index]
        if old != new:
            changeset.edit(str(file), key, ("id", old, new))
        if orcid_removed[index]:
            changeset.edit(str(file), key, ("orcid", str(old_orcid), None))
    counts["ids added"] = int((attribution.ids.notna() & old_ids.isna()).sum())
    counts["persons with name matching disabled"] = sum(
        p.disable_name_matching for p in registry.persons.values())
    counts["ids renamed"] = int((attribution.ids.notna() & old_ids.notna()
                                 & (attribution.ids != old_ids)).sum())
    counts["persons in people.json"] = len(registry.persons)
    changeset.registry = registry
    log.info("migration: %s", ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())))
    return Migration(changeset=changeset, registry=registry, ids=attribution.ids,
                     orcids=orcids, id_map=id_map, counts=counts, notes=notes)
