"""The shape of `proposals.json`, as `outputs.py` writes it, for the commands that read it
(`review`, `graphs`, `export`): a file that does not have it is an error naming the place
(`$.splits[3].clusters[0].papers[2].year`), never a crash halfway through writing.

msgspec checks the shape (types, required fields, allowed values and ranges); the rules a
type cannot say (a year span of two, in order; no more pinned mentions than mentions) are
checked after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from pipeline.anthology.names import MAX_SLUG_LENGTH
from pipeline.errors import InputError, Problem

# Constraints msgspec checks as it converts (with the place of a value that breaks one).
# No count of the Anthology comes near a billion; a larger one (10**400) broke review.
Count = Annotated[int, msgspec.Meta(ge=0, le=10**9)]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Year = Annotated[int, msgspec.Meta(ge=1, le=9999)]


class _Counted(msgspec.Struct, forbid_unknown_fields=False):
    value: str
    count: Count


class _Evidence(msgspec.Struct, forbid_unknown_fields=False):
    coauthors: list[_Counted]
    venues: list[_Counted]
    years: list[Year]
    affiliations: list[_Counted]
    topic_terms: list[str]


class _Paper(msgspec.Struct, forbid_unknown_fields=False):
    paper: str
    title: str
    year: Year | None
    venue: str
    booktitle: str
    role: Literal["author", "editor"]
    position: Count
    link: str
    pinned: Literal["id", "orcid"] | None
    curated_id: str | None
    orcid: str | None
    fit: Probability  # the mean same-person probability to the rest of its cluster
    nearest: str | None
    margin: float | None
    as_written: str = msgspec.field(name="as", default="")


class _Cluster(msgspec.Struct, forbid_unknown_fields=False):
    cluster: str
    person: str | None
    status: Literal["existing", "new", "unresolved", "unchanged"]
    confidence: Probability
    size: Count
    pinned: Count
    papers: list[_Paper]
    evidence: _Evidence


# A name slug as the Anthology makes them; it also names files (`names/<slug>.html`).
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                                   max_length=MAX_SLUG_LENGTH)]


class _Split(msgspec.Struct, forbid_unknown_fields=False):
    name: Slug
    display: str
    ambiguity: Probability
    clusters: list[_Cluster]


class _Link(msgspec.Struct, forbid_unknown_fields=False):
    from_unit: str = msgspec.field(name="from")
    to_unit: str = msgspec.field(name="to")
    names: list[str] = []
    kind: str = ""
    confidence: Probability = 0.0


class _MergedName(msgspec.Struct, forbid_unknown_fields=False):
    last: str
    first: str = ""
    mentions: Count = 0


class _Merge(msgspec.Struct, forbid_unknown_fields=False):
    persons: list[str]
    # A merge a curator writes by hand may give its persons alone (`export` reads those).
    names: list[_MergedName] = []
    links: list[_Link] = []
    canonical: dict[str, str] | None = None


class _Variants(msgspec.Struct, forbid_unknown_fields=False):
    merges: list[_Merge] = []
    similar: list[_Link] = []


class _Proposals(msgspec.Struct, forbid_unknown_fields=False):
    splits: list[_Split]
    variants: _Variants = msgspec.field(default_factory=_Variants)


def check_proposals(document: object, path: Path, need_splits: bool = True) -> None:
    """Raise an InputError naming `path` and the place, unless `document` (parsed JSON) has
    the shape `resolve` writes. `need_splits=False`: a document of variant merges alone (a
    curator's, for `export`) will do."""
    if not need_splits and isinstance(document, dict) and "splits" not in document:
        document = {**document, "splits": []}
    try:
        proposals = msgspec.convert(document, _Proposals)
    except msgspec.ValidationError as exc:
        raise InputError([Problem(str(path), None, f"not proposals as `anthology-resolve "
                                  f"resolve` writes them: {exc} (written by an older "
                                  "version? run `resolve` again)")]) from exc
    for k, split in enumerate(proposals.splits):
        for j, cluster in enumerate(split.clusters):
            where = f"$.splits[{k}].clusters[{j}]"
            if cluster.pinned > cluster.size:
                raise InputError([Problem(str(path), None, f"{where}.pinned must not exceed "
                                          f"its size ({cluster.size})", str(cluster.pinned))])
            years = cluster.evidence.years
            if len(years) not in (0, 2) or (years and years[0] > years[1]):
                raise InputError([Problem(str(path), None, f"{where}.evidence.years must be "
                                          "[first, last] or []", str(years))])
