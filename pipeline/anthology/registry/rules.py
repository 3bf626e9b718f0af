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

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.anthology.registry.model import Registry, unverified_id
from pipeline.anthology.volumes import mention_lines
from pipeline.errors import ProblemLog

# What went wrong with one distinct key: (severity, message, value)
Issue = tuple[str, str, str]
KEY_COLUMNS = ("first", "last", "id", "orcid")


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
    codes, first_rows = _distinct_keys(mentions)
    firsts, lasts, ids, orcids, slugs = (
        pa.array(mentions[c]).take(first_rows).to_pylist()
        for c in ("first", "last", "id", "orcid", "slug"))
    resolved: list[str | None] = []
    issues: dict[int, Issue] = {}
    legacy = registry.format == "legacy"
    for key, (first, last, pid, orcid, slug) in enumerate(zip(firsts, lasts, ids, orcids,
                                                              slugs)):
        if legacy:
            person, issue = _resolve_legacy(registry, first, last, pid, slug)
        else:
            person, issue = _resolve_current(registry, first, last, pid, orcid, slug)
        resolved.append(person)
        if issue is not None:
            issues[key] = issue
    persons = pd.Series(np.array(resolved, dtype=object)[codes], index=mentions.index,
                        dtype=object, name="person")
    if problems is not None and issues:
        _report(mentions, codes, issues, problems, xml_dir)
    return persons


def _distinct_keys(mentions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per mention the number of its distinct (first, last, id, orcid), numbered in order
    of first appearance, and the first row of each (one joined string per row, encoded in
    Arrow: building and hashing a Python tuple per row took most of the time)."""
    # Neither character can occur in XML text, so no two distinct keys join alike.
    parts = [pc.fill_null(pa.array(mentions[c], type=pa.string()), "\x00")
             for c in KEY_COLUMNS]
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    if isinstance(joined, pa.ChunkedArray):  # pandas' Arrow-backed columns may be chunked
        joined = joined.combine_chunks()
    codes = joined.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    # Codes are given in order of first appearance, so the first rows come out in order.
    first_rows = np.unique(codes, return_index=True)[1]
    return codes.astype(np.intp), first_rows


def _report(mentions: pd.DataFrame, codes: np.ndarray, issues: dict[int, Issue],
            problems: ProblemLog, xml_dir: Path | None) -> None:
    """One problem per offending mention, with file and line (looked up per file)."""
    with_issue = np.zeros(int(codes.max()) + 1, dtype=bool)
    with_issue[list(issues)] = True
    hits = np.flatnonzero(with_issue[codes])
    for i, (paper, role, position), path, line in mention_lines(mentions.iloc[hits], xml_dir):
        severity, message, value = issues[int(codes[hits[i]])]
        report = problems.error if severity == "error" else problems.warning
        report(path, line, f"{role} {position} of {paper}: {message}", value)
