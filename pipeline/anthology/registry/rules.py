"""Which person each name mention resolves to, exactly as the Anthology decides it.

Legacy (`name_variants.yaml`, acl-anthology 0.5): an explicit id must be defined; otherwise a
name listed by one person resolves to that person, a name listed by several persons is
ambiguous and needs an id, and an unlisted name resolves to the person whose id is its slug
(created if needed: the library assumes names with one slug are one person).

Current (`people.yaml`/`people.json`, acl-anthology 1.x): an explicit id must be defined and
list the name used (and match the mention's ORCID); without an id, an ORCID is an error, and
the name resolves to the single registry person with a name of the same slug unless that
person disables name matching; everything else resolves to `<slug>/unverified`.

Resolution runs once per distinct (first, last, id, orcid) and is mapped back to mentions.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.anthology.registry.model import Registry, unverified_id
from pipeline.anthology.volumes import MentionKey, locate_mentions
from pipeline.errors import ProblemLog

# What went wrong with one distinct key: (severity, message, value)
Issue = tuple[str, str, str]


def _resolve_legacy(registry: Registry, first: str, last: str, pid: str | None,
                    slug: str) -> tuple[str | None, Issue | None]:
    if pid is not None:
        person = registry.persons.get(pid)
        if person is None:
            return None, ("error", f"{first} {last} used with id that the registry does not "
                          "define", pid)
        return pid, None
    ids = registry.ids_for_name(first, last)
    if len(ids) > 1:
        return None, ("warning", f"ambiguous name {first} {last} used without an id "
                      f"(registry ids: {', '.join(sorted(ids))})", f"{first} {last}")
    if ids:
        return ids[0], None
    return slug, None


def _resolve_current(registry: Registry, first: str, last: str, pid: str | None,
                     orcid: str | None, slug: str) -> tuple[str | None, Issue | None]:
    if pid is not None:
        person = registry.persons.get(pid)
        if person is None:
            return None, ("error", f"id wasn't defined in {registry.path.name}", pid)
        if not any(n.first == first and n.last == last for n in person.names):
            return pid, ("error", f"id used with name '{first} {last}' that "
                         f"{registry.path.name} does not list for it", pid)
        if orcid is not None and orcid != person.orcid:
            return pid, ("error", f"id used with ORCID {orcid}, but {registry.path.name} has "
                         f"{person.orcid}", pid)
        return pid, None
    if orcid is not None:
        return unverified_id(slug), (
            "error", "ORCID given without an id (the person needs an entry and an explicit id)",
            orcid)
    ids = registry.ids_for_slug(slug)
    if len(ids) == 1 and not registry.persons[ids[0]].disable_name_matching:
        return ids[0], None
    return unverified_id(slug), None


def resolve_mentions(registry: Registry, mentions: pd.DataFrame,
                     problems: ProblemLog | None = None, xml_dir: Path | None = None
                     ) -> pd.Series:
    """Person id per mention (None where it cannot be resolved), problems with file and line."""
    firsts, lasts, ids, orcids, slugs = (
        pa.array(mentions[c]).to_pylist() for c in ("first", "last", "id", "orcid", "slug")
    )
    row_keys = list(zip(firsts, lasts, ids, orcids))
    slug_of = dict(zip(row_keys, slugs))
    resolved: dict[tuple[str, str, str | None, str | None], str | None] = {}
    issues: dict[tuple[str, str, str | None, str | None], Issue] = {}
    legacy = registry.format == "legacy"
    for key, slug in slug_of.items():
        first, last, pid, orcid = key
        if legacy:
            person, issue = _resolve_legacy(registry, first, last, pid, slug)
        else:
            person, issue = _resolve_current(registry, first, last, pid, orcid, slug)
        resolved[key] = person
        if issue is not None:
            issues[key] = issue
    persons = pd.Series([resolved[k] for k in row_keys], index=mentions.index, dtype=object,
                        name="person")
    if problems is not None and issues:
        _report(mentions, row_keys, issues, problems, xml_dir)
    return persons


def _report(mentions: pd.DataFrame, row_keys: list[tuple[str, str, str | None, str | None]],
            issues: dict[tuple[str, str, str | None, str | None], Issue],
            problems: ProblemLog, xml_dir: Path | None) -> None:
    """One problem per offending mention, with file and line (looked up per file)."""
    hits = [i for i, k in enumerate(row_keys) if k in issues]
    files = mentions["file"].tolist()
    papers = mentions["paper"].tolist()
    roles = mentions["role"].tolist()
    positions = mentions["position"].tolist()
    by_file: dict[str, list[int]] = defaultdict(list)
    for i in hits:
        by_file[str(files[i])].append(i)
    for file, rows in sorted(by_file.items()):
        wanted: dict[int, MentionKey] = {
            i: (str(papers[i]), str(roles[i]), int(positions[i])) for i in rows
        }
        path = xml_dir / file if xml_dir is not None else Path(file)
        lines = locate_mentions(path, set(wanted.values())) if xml_dir is not None else {}
        for i in rows:
            severity, message, value = issues[row_keys[i]]
            paper, role, position = wanted[i]
            text = f"{role} {position} of {paper}: {message}"
            report = problems.error if severity == "error" else problems.warning
            report(path, lines.get(wanted[i]), text, value)
