"""Counts that describe a snapshot: what `anthology-resolve stats` prints."""

from __future__ import annotations

import pandas as pd

from pipeline.anthology.snapshot import Snapshot


def snapshot_stats(snapshot: Snapshot) -> list[tuple[str, int]]:
    """(label, count) rows, in display order."""
    m = snapshot.mentions
    registry = snapshot.registry
    papers = snapshot.papers
    authors = m["role"] == "author"
    has_id = m["id"].notna()
    ambiguous = registry.ambiguous_names()
    if registry.format == "legacy":
        names = m["first"].where(m["first"] == "", m["first"] + " ") + m["last"]
        of_ambiguous = names.isin(set(ambiguous))
    else:
        of_ambiguous = m["slug"].isin(set(ambiguous))
    distinct_names = len(m[["first", "last"]].drop_duplicates())
    distinct_author_names = len(m.loc[authors, ["first", "last"]].drop_duplicates())
    canonical_ids: dict[tuple[str, str], int] = {}
    for person in registry.persons.values():
        key = (person.canonical.first, person.canonical.last)
        canonical_ids[key] = canonical_ids.get(key, 0) + 1
    return [
        ("volumes", len(snapshot.volumes)),
        ("papers", int((~papers["is_frontmatter"]).sum())),
        ("papers incl. front matter", len(papers)),
        ("author mentions", int(authors.sum())),
        ("editor mentions", int((~authors).sum())),
        ("distinct author name strings (first, last)", distinct_author_names),
        ("distinct name strings incl. editors", distinct_names),
        ("distinct name slugs", int(m["slug"].nunique())),
        (f"persons in the registry ({registry.format})", len(registry.persons)),
        ("registry persons that are catch-alls",
         sum(p.is_catch_all for p in registry.persons.values())),
        ("canonical names with 2+ ids", sum(n > 1 for n in canonical_ids.values())),
        ("ambiguous names (match 2+ persons, variants included)", len(ambiguous)),
        ("mentions with an explicit id", int(has_id.sum())),
        ("mentions with an ORCID", int(m["xml_orcid"].notna().sum())),
        ("distinct ORCIDs", int(m["xml_orcid"].nunique())),
        ("... of which invalid (read as none)",
         int((m["xml_orcid"].notna() & m["orcid"].isna()).sum())),
        ("mentions of ambiguous names", int(of_ambiguous.sum())),
        ("... of which without an id", int((of_ambiguous & ~has_id).sum())),
        ("mentions resolved to a person", int(m["person"].notna().sum())),
    ]


def stats_frame(snapshot: Snapshot) -> pd.DataFrame:
    return pd.DataFrame(snapshot_stats(snapshot), columns=["what", "count"])
