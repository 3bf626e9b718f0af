"""Turn a resolution (`assignments.csv`) into what a maintainer commits.

For every mention of every resolved name, `assignments.csv` says which person it is: a
registry id, a new id `resolve` proposed, the name's catch-all (legacy) or
`<slug>/unverified` (current). The exporter writes:

- registry entries for new persons (legacy `name_variants.yaml` entries in the file's own style
  and place; current `people.json` entries as the official library writes them), with every
  name string the person's mentions use, the affiliation of its first paper as comment, and
  its ORCID when its mentions carry exactly one that no other person has;
- a catch-all entry ("May refer to several people") where the legacy rules need one; in the
  current format `disable_name_matching` on a name's only verified person when some of its
  mentions stay unverified;
- `id="..."` on exactly the `<author>`/`<editor>` elements that need one for the rules to
  give the wanted person (`attribution.py`); ids already in the XML are never changed, and a
  mention that carries one keeps its person.

`--format current` on a legacy snapshot migrates it first (`migrate.py`) and exports onto the
result. Rows whose name string differs from the snapshot's (a resolution of another snapshot)
are an error naming the row.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from pipeline.anthology.changeset import Changeset
from pipeline.anthology.orcids import clean_orcid
from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.registry import (
    CATCH_ALL_COMMENT,
    UNVERIFIED_SUFFIX,
    Name,
    Person,
    Registry,
    unverified_id,
)
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import AnthologyResolveError, InputError, Problem
from pipeline.export.attribution import (
    check_no_new_errors,
    express,
    list_name,
    repeated_persons,
    resolve_checked,
    separate_repeated,
)
from pipeline.export.migrate import plan_migration
from pipeline.export.variant_merges import MergeDecision, plan_merges

log = logging.getLogger(__name__)
ExportFormat = Literal["legacy", "current"]
ASSIGNMENT_COLUMNS = ("paper", "role", "position", "first", "last", "person", "status")


class ExportError(AnthologyResolveError):
    """The resolution cannot be exported onto this snapshot."""


@dataclass
class PersonChange:
    person: str
    status: str  # new, existing, catch-all
    mentions: int  # of the name, once exported (with those that already had its id)
    ids_added: int
    names: list[str]


@dataclass
class ExportPlan:
    changeset: Changeset
    format: ExportFormat
    by_name: dict[str, list[PersonChange]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    merges: list[MergeDecision] = field(default_factory=list)  # name variants applied


STATUSES = ("existing", "new", "unresolved", "unchanged")  # of a mention in assignments.csv


def read_assignments(path: Path) -> pd.DataFrame:
    """`assignments.csv` with its columns checked; a bad file is an error naming it."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path), None, f"cannot read: {exc}")]) from exc
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError([Problem(str(path), 1, f"missing columns {missing}",
                                  ",".join(table.columns))])
    # Every reader of a resolution (export, review, graphs) gets the same checks; all
    # problems are reported together (up to 50 per kind).
    checks = [
        ("position", ~table["position"].str.fullmatch(r"[0-9]+"), "position must be a number"),
        ("role", ~table["role"].isin(["author", "editor"]), "role must be author or editor"),
        ("status", ~table["status"].isin(STATUSES),
         f"status must be one of {', '.join(STATUSES)}"),
        ("confidence", ~table["confidence"].str.fullmatch(r"(0(\.[0-9]+)?|1(\.0+)?)?"),
         "confidence must be a number from 0 to 1, or empty"),
    ]
    problems = [Problem(str(path), int(row) + 2, message, table[column].iloc[row])
                for column, bad, message in checks
                for row in bad.to_numpy().nonzero()[0][:50]]
    if problems:
        raise InputError(problems)
    return table.assign(position=table["position"].astype(int))


def _locate(mentions: pd.DataFrame, assignments: pd.DataFrame, source: Path) -> pd.Series:
    """The mention row of each assignment; rows that do not fit the snapshot are errors."""
    keys = pd.MultiIndex.from_frame(mentions[["paper", "role", "position"]].astype(
        {"position": int}))
    rows = keys.get_indexer(pd.MultiIndex.from_frame(assignments[["paper", "role",
                                                                  "position"]]))
    problems = []
    for i in (rows < 0).nonzero()[0][:50]:
        r = assignments.iloc[i]
        problems.append(Problem(str(source), int(i) + 2, "no such mention in the snapshot",
                                f"{r['role']} {r['position']} of {r['paper']}"))
    found = rows >= 0
    names_differ = found.copy()
    names_differ[found] = ((mentions["first"].to_numpy()[rows[found]]
                            != assignments["first"].to_numpy()[found])
                           | (mentions["last"].to_numpy()[rows[found]]
                              != assignments["last"].to_numpy()[found]))
    for i in names_differ.nonzero()[0][:50]:
        r = assignments.iloc[i]
        problems.append(Problem(str(source), int(i) + 2, "name differs from the snapshot's "
                                "(a resolution of another snapshot?)",
                                f"{r['first']} {r['last']}"))
    if problems:
        raise InputError(problems)
    return pd.Series(mentions.index[rows], index=assignments.index)


def _check_persons(assignments: pd.DataFrame, source: Path, registry: Registry) -> None:
    """Every changed row names a registry id or a valid new one (or `<slug>/unverified`),
    and a known status."""
    changed = assignments["status"] != "unchanged"
    person = assignments["person"].str.removesuffix(UNVERIFIED_SUFFIX)
    bad_person = changed & ~person.str.fullmatch(r"[a-z0-9][-a-z0-9]+") & ~person.isin(
        list(registry.persons))
    bad_status = ~assignments["status"].isin(STATUSES)
    problems = [Problem(str(source), int(i) + 2, "not a valid person id",
                        assignments["person"].iloc[i]) for i in bad_person.to_numpy().nonzero()[0]]
    problems += [Problem(str(source), int(i) + 2, "status must be existing, new, unresolved or "
                         "unchanged", assignments["status"].iloc[i])
                 for i in bad_status.to_numpy().nonzero()[0]]
    if problems:
        raise InputError(problems[:100])


def _names_by_use(rows: pd.DataFrame) -> tuple[Name, ...]:
    """The name strings of the mentions `rows`, most used first."""
    names = Counter(Name(f, la) for f, la in zip(rows["first"], rows["last"]))
    return tuple(sorted(names, key=lambda n: (-names[n], n.last, n.first)))


def _new_person(pid: str, rows: pd.DataFrame, catch_all: bool, taken_orcids: set[str]
                ) -> Person:
    """A registry entry for the mentions `rows` (all mention columns)."""
    ordered = _names_by_use(rows)
    if catch_all:
        return Person(id=pid, names=ordered, comment=CATCH_ALL_COMMENT)
    first_seen = rows.sort_values(["year", "paper"], kind="stable")
    affiliations = first_seen["affiliation"].dropna()
    # Plain map: pandas' Series.map turns the None of a mention without ORCID back into NaN,
    # which counted as a second ORCID and cost every such person its ORCID.
    orcids = {o for o in map(clean_orcid, rows["orcid"]) if o is not None}
    orcid = next(iter(orcids)) if len(orcids) == 1 and not orcids & taken_orcids else None
    return Person(id=pid, names=ordered, orcid=orcid,
                  comment=str(affiliations.iloc[0]) if len(affiliations) else None)


def plan_export(snapshot: Snapshot, assignments: pd.DataFrame, source: Path,
                fmt: ExportFormat | None = None, merges: list[dict[str, Any]] | None = None
                ) -> ExportPlan:
    """The changes that make the snapshot say what the resolution says: its persons
    (`assignments`) and the name-variant `merges` of its `proposals.json`."""
    legacy_snapshot = snapshot.registry.format == "legacy"
    fmt = fmt or ("legacy" if legacy_snapshot else "current")
    if fmt == "legacy" and not legacy_snapshot:
        raise ExportError(f"{snapshot.registry.path}: a {snapshot.registry.format} snapshot "
                          "cannot be exported in the legacy format")
    mentions = snapshot.mentions
    _check_persons(assignments, source, snapshot.registry)
    every_assignment = assignments
    assignments = assignments[assignments["status"] != "unchanged"]
    rows = _locate(mentions, assignments, source)
    plan = ExportPlan(changeset=Changeset(), format=fmt)
    wanted = pd.Series(assignments["person"].to_numpy(), index=rows.to_numpy(), dtype=object)
    status = pd.Series(assignments["status"].to_numpy(), index=rows.to_numpy(), dtype=object)
    if fmt == "current" and legacy_snapshot:
        migration = plan_migration(snapshot)
        plan.changeset = migration.changeset
        plan.notes.extend(migration.notes)
        registry = migration.registry
        ids, orcids = migration.ids, migration.orcids
        slugs = mentions.loc[wanted.index, "slug"]
        # The resolution's new ids were free in the legacy registry; the migration may have
        # given one of them to a person it made from an ORCID.
        taken = set(registry.persons)
        renamed: dict[str, str] = {}
        for pid, slug in sorted(set(zip(wanted[status == "new"], slugs[status == "new"]))):
            if pid in taken and pid not in renamed:
                renamed[pid] = propose_id(slug, taken)
                taken.add(renamed[pid])
                plan.notes.append(f"{pid}: taken by the migration; the new person is "
                                  f"{renamed[pid]}")
        mapped = wanted.map(lambda p: migration.id_map.get(p, p))
        mapped = mapped.where(status != "new", wanted.map(lambda p: renamed.get(p, p)))
        to_catch_all = (status == "unresolved") | ((status == "existing")
                                                   & ~mapped.isin(list(registry.persons)))
        wanted = mapped.where(~to_catch_all, slugs.map(unverified_id))
    else:
        registry = snapshot.registry.copy()
        ids = mentions["id"].astype(object)
        orcids = mentions["orcid"].astype(object)
        if fmt == "current":
            orcids = orcids.map(clean_orcid)
    if merges and fmt == "current" and legacy_snapshot:
        plan.notes.append(f"{len(merges)} variant merges not applied while migrating: "
                          "migrate, resolve the migrated copy and export that")
    split_rows = wanted.index  # what the PR summary lists per name (merges: on their own)
    if merges and not (fmt == "current" and legacy_snapshot):
        wanted, status = _apply_merges(plan, mentions, every_assignment, merges, registry,
                                       wanted, status)
    current_mentions = mentions.assign(orcid=orcids)
    resolved_before, errors_before = resolve_checked(registry, current_mentions, ids)
    desired = resolved_before.astype(object)
    # A mention with a specific id in the XML keeps it, and so its person. A catch-all id
    # means "not attributed yet": it is replaced where the resolution names a person.
    held = ids[wanted.index]
    replaceable = _unattributed(held, registry) & (status != "unresolved") & ~_unattributed(
        wanted, registry)
    keeps_id = held.notna() & ~replaceable
    kept_elsewhere = keeps_id & (desired[wanted.index] != wanted)
    plan.counts["mentions that keep their curated id"] = int(kept_elsewhere.sum())
    _note_clusters_not_whole(plan, assignments, rows, kept_elsewhere, held)
    wanted = wanted[~keeps_id]
    status = status[wanted.index]
    desired[wanted.index] = wanted
    replaced = replaceable.index[replaceable]
    plan.counts["catch-all ids replaced"] = len(replaced)

    taken_orcids = {p.orcid for p in registry.persons.values() if p.orcid}
    merged_names = {d.person: d.names for d in plan.merges if d.status == "new"}
    new_ids = sorted(set(wanted[(~wanted.isin(list(registry.persons)))
                                & ~wanted.str.endswith(UNVERIFIED_SUFFIX)]))
    for pid in new_ids:
        members = mentions.loc[wanted.index[wanted == pid]]
        catch_all = bool((status[members.index] == "unresolved").all())
        person = _new_person(pid, members, catch_all and fmt == "legacy", taken_orcids)
        if pid in merged_names:  # the canonical name `resolve` chose comes first
            first = merged_names[pid]
            person = person.with_changes(
                names=first + tuple(n for n in person.names if n not in first))
        if fmt == "current":
            person = person.with_changes(comment=None if catch_all else person.comment)
        registry.add_person(person)
        if person.orcid:
            taken_orcids.add(person.orcid)
    if fmt == "current":
        _keep_unverified(plan, registry, mentions, desired, wanted.index, ids, orcids)
    else:
        _give_namesakes_entries(plan, registry, mentions, desired, ids)

    # A replaced catch-all id always gives way to the person's own id (the mention would
    # otherwise keep the catch-all id in the XML, whatever name matching says).
    start_ids = ids.copy()
    start_ids[replaced] = wanted[replaced]
    if fmt == "current":
        replacing = mentions.loc[replaced, ["first", "last"]].assign(person=wanted[replaced])
        for pid, group in replacing.groupby("person", sort=True):
            list_name(registry, str(pid), (Name(f, la) for f, la in
                                           zip(group["first"], group["last"])))
    attribution = express(current_mentions, registry, desired, start_ids, "export")
    if fmt == "current":
        repeated = repeated_persons(mentions, attribution.resolved, registry, ids, orcids)
        if repeated.any():
            desired, _, holders = separate_repeated(mentions, registry, attribution.resolved,
                                                    repeated, desired)
            plan.notes.extend(f"{pid}: would be twice on a paper by name; name matching "
                              "disabled" for pid in holders)
            attribution = express(current_mentions, registry, desired, start_ids, "export")
    check_no_new_errors(errors_before, attribution.errors, "export")
    added = (attribution.added & ids.isna()) | ids.index.isin(replaced)
    touched = mentions[added]
    for file, paper, role, position, old_id, new_id in zip(
            touched["file"], touched["paper"], touched["role"], touched["position"],
            ids[added], attribution.ids[added]):
        plan.changeset.edit(str(file), (str(paper), str(role), int(position)),
                            ("id", old_id if isinstance(old_id, str) else None, str(new_id)))
    plan.changeset.registry = registry
    _summarise(plan, mentions, wanted, status, added, set(new_ids), fmt,
               desired.reindex(split_rows))
    return plan


def _keep_unverified(plan: ExportPlan, registry: Registry, mentions: pd.DataFrame,
                     desired: pd.Series, resolved_rows: pd.Index, ids: pd.Series,
                     orcids: pd.Series) -> None:
    """Current format: where mentions of a name must stay unverified but the name's only
    verified person would take them by name matching, that person stops matching by name.
    Every such mention counts, not only the resolution's (`resolved_rows`): a merged person
    that now lists a name of a split name would otherwise take all of its mentions."""
    by_name = ids.isna() & orcids.isna()
    stay = desired.str.endswith(UNVERIFIED_SUFFIX, na=False) & (
        by_name | desired.index.isin(resolved_rows))
    for slug in sorted(set(mentions.loc[stay, "slug"])):
        holders = registry.ids_for_slug(slug)
        if len(holders) == 1 and not registry.persons[holders[0]].disable_name_matching:
            registry.replace_person(registry.persons[holders[0]].with_changes(
                disable_name_matching=True))
            plan.notes.append(f"{holders[0]}: name matching disabled, since other "
                              f"mentions of {slug} stay unverified")


def _give_namesakes_entries(plan: ExportPlan, registry: Registry, mentions: pd.DataFrame,
                            desired: pd.Series, ids: pd.Series) -> None:
    """Legacy: a name no entry lists is the person whose id is its slug, with no entry. When
    a new or merged person now lists such a name, its other mentions would go to that
    person; the slug's person gets an entry of its own, so the name is shared and ids say
    who is who (`attribution.py` adds them)."""
    implicit = ids.isna() & (desired == mentions["slug"]) & ~desired.isin(list(registry.persons))
    rows = mentions.loc[implicit, ["first", "last", "slug"]]
    listed = [bool(registry.ids_for_name(f, la)) for f, la in zip(rows["first"], rows["last"])]
    for slug, group in rows[listed].groupby("slug", sort=True):
        registry.add_person(Person(id=str(slug), names=_names_by_use(group)))
        plan.notes.append(f"{slug}: given an entry of its own, since another person now "
                          "lists its name")


def _unattributed(ids: pd.Series, registry: Registry) -> pd.Series:
    """Ids that attribute a mention to nobody yet: catch-alls and `<slug>/unverified`."""
    text = ids.where(ids.notna(), "").astype(str)
    return text.isin(registry.catch_all_ids()) | text.str.endswith(UNVERIFIED_SUFFIX)


def _note_clusters_not_whole(plan: ExportPlan, assignments: pd.DataFrame, rows: pd.Series,
                             kept: pd.Series, held: pd.Series) -> None:
    """A cluster is applied whole, or the notes say which of its mentions keep another
    person's curated id."""
    if "cluster" not in assignments or not kept.any():
        return
    cluster_of = pd.Series(assignments["cluster"].to_numpy(), index=rows.to_numpy())
    for cluster, members in kept[kept].groupby(cluster_of[kept.index[kept]], sort=True):
        ids = sorted(set(held[members.index]))
        plan.notes.append(f"{cluster}: {len(members)} mention(s) keep their curated id "
                          f"({', '.join(ids)}), so the cluster is not applied whole")


def _apply_merges(plan: ExportPlan, mentions: pd.DataFrame, assignments: pd.DataFrame,
                  merges: list[dict[str, Any]], registry: Registry, wanted: pd.Series,
                  status: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Every mention of a merged person gets the merge's person; an existing person's entry
    lists the merged names (`variant_merges.py`)."""
    catch_all = registry.catch_all_ids()
    decisions, notes = plan_merges(mentions, assignments, merges, registry, catch_all)
    plan.notes.extend(notes)
    plan.merges = decisions
    plan.counts["variant merges applied"] = len(decisions)
    plan.counts["variant merges into a new person"] = sum(d.status == "new" for d in decisions)
    plan.counts["variant merges left to a curator"] = len(notes)
    if not decisions:
        return wanted, status
    person = pd.Series({row: d.person for d in decisions for row in d.rows}, dtype=object)
    state = pd.Series({row: d.status for d in decisions for row in d.rows}, dtype=object)
    wanted = pd.concat([wanted.drop(person.index, errors="ignore"), person])
    status = pd.concat([status.drop(state.index, errors="ignore"), state])
    for decision in decisions:
        if decision.status == "existing":
            known = registry.persons[decision.person]
            missing = tuple(n for n in decision.names if n not in known.names)
            if missing:
                registry.replace_person(known.with_changes(names=known.names + missing))
    return wanted.sort_index(), status.sort_index()


def _summarise(plan: ExportPlan, mentions: pd.DataFrame, wanted: pd.Series, status: pd.Series,
               added: pd.Series, new_ids: set[str], fmt: ExportFormat,
               person_after: pd.Series) -> None:
    """Counts, and per name split by the resolution its persons (rows only a variant merge
    changed are summarised with the merges). `person_after`: the person of every mention
    the resolution assigned, once exported (a mention that keeps its curated id counts for
    the person of that id)."""
    split_rows = person_after.index
    listed = wanted.index[wanted.index.isin(split_rows) | added[wanted.index].to_numpy()]
    slug_after = mentions.loc[split_rows, "slug"]
    frame = mentions.loc[listed, ["slug", "first", "last"]].assign(
        person=wanted[listed], status=status[listed], added=added[listed])
    changed_names = sorted(set(frame.loc[frame["status"].isin(["new", "unresolved"]), "slug"])
                           | set(frame.loc[frame["added"], "slug"]))
    for slug in changed_names:
        group = frame[frame["slug"] == slug]
        people = []
        for person, members in group.groupby("person", sort=True):
            kind = ("catch-all" if (members["status"] == "unresolved").all()
                    else "new" if person in new_ids else "existing")
            names = sorted({f"{f} {la}".strip() for f, la in zip(members["first"],
                                                                  members["last"])})
            total = int(((slug_after == slug) & (person_after == person)).sum())
            people.append(PersonChange(str(person), kind, max(total, len(members)),
                                       int(members["added"].sum()), names))
        plan.by_name[slug] = people
    plan.counts["names changed"] = len(changed_names)
    plan.counts["new persons"] = sum(p.status == "new" for ps in plan.by_name.values()
                                     for p in ps)
    plan.counts["ids added for the resolution"] = int(added[wanted.index].sum())
    plan.counts["ids added in all"] = int(added.sum())
    plan.counts["mentions left to a catch-all"] = int((status == "unresolved").sum())
    log.info("export (%s): %s", fmt, ", ".join(f"{k}: {v:,}" for k, v in
                                               sorted(plan.counts.items())))
