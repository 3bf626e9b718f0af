"""Parse one Anthology volume file (`data/xml/<collection>.xml`) into rows.

`parse_volume_file` returns three lists of row tuples (mentions, papers, volumes); their
fields are named by `MENTION_FIELDS`, `PAPER_FIELDS` and `VOLUME_FIELDS`. The bulk walk uses
the standard library's C ElementTree: its elements are native objects, so visiting 400k
`<author>` elements costs a fraction of what lxml's per-access proxies cost (measured:
`make bench`). ElementTree keeps no line numbers, so when a problem must be reported,
`locate_mentions` re-reads that one file with lxml to name the line.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from acl_anthology.utils.ids import build_id
from lxml import etree

from pipeline.anthology.names import slug_problem
from pipeline.errors import ProblemLog

MENTION_FIELDS = (
    "paper", "volume", "role", "position", "first", "last", "id", "orcid", "affiliation",
    "variant_first", "variant_last", "variant_script", "year", "venues",
)
PAPER_FIELDS = (
    "paper", "volume", "is_frontmatter", "title", "abstract", "year", "venues",
    "volume_title", "authors",
)
VOLUME_FIELDS = ("volume", "type", "title", "year", "venues", "has_frontmatter")


def plain_text(element: ET.Element | None) -> str:
    """Text of an element with all markup (`<fixed-case>`, `<tex-math>`, ...) reduced to text.

    >>> plain_text(ET.fromstring("<title><fixed-case>BERT</fixed-case>  rocks</title>"))
    'BERT rocks'
    """
    if element is None:
        return ""
    if len(element) == 0:
        return _clean(element.text)
    return " ".join("".join(element.itertext()).split())


def _clean(text: str | None) -> str:
    """Whitespace-normalised text; most names need no change, so check before splitting.
    Every kind of whitespace becomes one space: a carriage return (`&#13;`) left in a name
    broke the row of `assignments.csv` it was written to (helper-45)."""
    if not text:
        return ""
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return " ".join(text.split())


@dataclass
class VolumeFileTables:
    """Columns parsed from one volume file, plus the problems found in it."""

    source: str
    mentions: list[tuple[Any, ...]] = field(default_factory=list)
    papers: list[tuple[Any, ...]] = field(default_factory=list)
    volumes: list[tuple[Any, ...]] = field(default_factory=list)
    problems: ProblemLog = field(default_factory=ProblemLog)
    # (severity, paper, role, position, message, value); lines are looked up after the walk
    mention_issues: list[tuple[str, str, str, int, str, str]] = field(default_factory=list)
    # (volume or paper, volume's XML id, message, value) of elements that get no row (errors)
    element_issues: list[tuple[str, str, str, str]] = field(default_factory=list)


def parse_volume_file(path: Path) -> VolumeFileTables:
    """Parse one volume file. Malformed XML and empty names are reported, not raised."""
    tables = VolumeFileTables(source=str(path))
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        tables.problems.error(path, line, f"malformed XML: {exc}")
        return tables
    collection_id = root.get("id")
    if root.tag != "collection" or not collection_id:
        tables.problems.error(path, 1, "root element is not <collection id=...>", root.tag)
        return tables
    for volume in root.iterfind("volume"):
        _parse_volume(tables, volume, collection_id)
    if tables.element_issues:
        element_lines = _element_lines(path)
        for what, volume_xml_id, message, value in tables.element_issues:
            element_line = element_lines.get((what, volume_xml_id, value))
            tables.problems.error(path, element_line, f"{message} in volume {volume_xml_id!r}",
                                  value)
    if tables.mention_issues:
        keys = {(paper, role, pos) for _, paper, role, pos, _, _ in tables.mention_issues}
        lines = locate_mentions(path, keys)
        for severity, paper, role, pos, message, value in tables.mention_issues:
            report = tables.problems.error if severity == "error" else tables.problems.warning
            report(path, lines.get((paper, role, pos)), message, value)
    return tables


def _paper_or_volume_id(tables: VolumeFileTables, collection_id: str, volume_xml_id: str,
                        paper_xml_id: str | None = None) -> str | None:
    """The Anthology id of a volume or paper, or None (and an error) if it cannot be built."""
    what = "volume" if paper_xml_id is None else "paper"
    xml_id = volume_xml_id if paper_xml_id is None else paper_xml_id
    if not xml_id:
        tables.element_issues.append((what, volume_xml_id, f"<{what}> without an id", ""))
        return None
    try:
        if paper_xml_id is None:
            built = build_id(collection_id, volume_xml_id)
        else:
            built = build_id(collection_id, volume_xml_id, paper_xml_id)
    except ValueError:
        rule = " (old-style volumes number their papers)" if what == "paper" else ""
        tables.element_issues.append((what, volume_xml_id,
                                      f"no Anthology id can be built from this <{what}> id"
                                      + rule, xml_id))
        return None
    if not built.isprintable():
        # A carriage return (`&#13;`) or another invisible character would break the rows
        # of the CSV files the id is written to.
        tables.element_issues.append((what, volume_xml_id, f"the Anthology id {built!r} of "
                                      f"this <{what}> holds a control character or an "
                                      "invisible space", xml_id))
        return None
    return built


def _parse_volume(tables: VolumeFileTables, volume: ET.Element, collection_id: str) -> None:
    volume_xml_id = volume.get("id") or ""
    built = _paper_or_volume_id(tables, collection_id, volume_xml_id)
    if built is None:
        return
    volume_id = built
    title = ""
    year_text = None
    venue_list: list[str] = []
    editors: list[ET.Element] = []
    meta = volume.find("meta")
    if meta is not None:
        for child in meta:
            tag = child.tag
            if tag == "booktitle":
                title = plain_text(child)
            elif tag == "year":
                year_text = child.text
            elif tag == "venue":
                venue_list.append(_clean(child.text))
            elif tag == "editor":
                editors.append(child)
    year = _parse_year(tables, year_text, volume_id)
    venues = "|".join(sorted(venue_list))
    has_frontmatter = volume.find("frontmatter") is not None
    tables.volumes.append(
        (volume_id, volume.get("type") or "", title, year, venues, has_frontmatter))
    editor_names = [
        name for i, e in enumerate(editors)
        if (name := _add_mention(tables, e, volume_id, volume_id, "editor", i, year, venues))
    ]
    if has_frontmatter:
        frontmatter_id = build_id(collection_id, volume_xml_id, "0")
        _add_paper(tables, frontmatter_id, volume_id, True, title, "", year, venues, title,
                   editor_names)
    for paper in volume.iterfind("paper"):
        built = _paper_or_volume_id(tables, collection_id, volume_xml_id, paper.get("id") or "")
        if built is None:
            continue
        paper_id = built
        paper_title = ""
        abstract = ""
        authors: list[str] = []
        n_authors = n_editors = 0
        for child in paper:
            tag = child.tag
            if tag == "author":
                name = _add_mention(tables, child, paper_id, volume_id, "author", n_authors,
                                    year, venues)
                n_authors += 1
                if name:
                    authors.append(name)
            elif tag == "editor":
                _add_mention(tables, child, paper_id, volume_id, "editor", n_editors, year,
                             venues)
                n_editors += 1
            elif tag == "title":
                paper_title = plain_text(child)
            elif tag == "abstract":
                abstract = plain_text(child)
        _add_paper(tables, paper_id, volume_id, False, paper_title, abstract, year, venues,
                   title, authors)


def _add_mention(
    tables: VolumeFileTables,
    person: ET.Element,
    paper_id: str,
    volume_id: str,
    role: str,
    position: int,
    year: int | None,
    venues: str,
) -> str:
    """Append one `<author>`/`<editor>` row; returns the printed name for the author list
    ("" for an empty name, which gets no row)."""
    first = last = affiliation = None
    vfirst = vlast = vscript = None
    for child in person:
        tag = child.tag
        if tag == "first":
            first = child.text
        elif tag == "last":
            last = child.text
        elif tag == "affiliation":
            affiliation = plain_text(child)
        elif tag == "variant" and vlast is None:
            vscript = child.get("script")
            for part in child:
                if part.tag == "first":
                    vfirst = _clean(part.text) or None
                elif part.tag == "last":
                    vlast = _clean(part.text) or None
    first = _clean(first)
    last = _clean(last)
    if not last and not first:
        # The Anthology's own build tolerated these (an index entry, old ROCLING volumes):
        # the element names nobody, so it is left out of person resolution.
        _warn_mention(tables, paper_id, role, position, "has an empty name; skipped", "")
        return ""
    if problem := slug_problem(first, last):
        # An empty slug would be shared by every such name; no person id or page can carry
        # it, nor one too long to name a file.
        _warn_mention(tables, paper_id, role, position, f"has a name with {problem}; skipped",
                      " ".join(part for part in (first, last) if part))
        return ""
    if not last:
        _warn_mention(tables, paper_id, role, position, "has <first> but no <last>", first)
    tables.mentions.append((
        paper_id, volume_id, role, position, first, last, person.get("id"),
        person.get("orcid"), affiliation or None, vfirst, vlast, vscript, year, venues,
    ))
    return f"{first} {last}" if first else last


def _warn_mention(tables: VolumeFileTables, paper_id: str, role: str, position: int,
                  problem: str, value: str) -> None:
    tables.mention_issues.append(("warning", paper_id, role, position,
                                  f"{role} {position} of {paper_id} {problem}", value))


def _parse_year(tables: VolumeFileTables, text: str | None, volume_id: str) -> int | None:
    if text is None:
        return None
    digits = text.strip()[:4]
    # str.isdigit() is true of "²⁰²⁴" too, which int() refuses; no paper is from year 0.
    if not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
        tables.problems.warning(tables.source, None, f"unreadable <year> in {volume_id}", text)
        return None
    return int(digits)


def _add_paper(
    tables: VolumeFileTables,
    paper_id: str,
    volume_id: str,
    is_frontmatter: bool,
    title: str,
    abstract: str,
    year: int | None,
    venues: str,
    volume_title: str,
    authors: list[str],
) -> None:
    tables.papers.append((paper_id, volume_id, is_frontmatter, title, abstract, year, venues,
                          volume_title, authors))


def _element_lines(path: Path) -> dict[tuple[str, str, str], int]:
    """Source line of each `<volume>` and `<paper>` by (tag, volume XML id, own id)."""
    try:
        root = etree.parse(str(path)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return {}
    lines: dict[tuple[str, str, str], int] = {}
    for volume in root.iterfind("volume"):
        volume_xml_id = volume.get("id") or ""
        lines.setdefault(("volume", volume_xml_id, volume_xml_id), int(volume.sourceline or 0))
        for paper in volume.iterfind("paper"):
            lines.setdefault(("paper", volume_xml_id, paper.get("id") or ""),
                             int(paper.sourceline or 0))
    return lines


MentionKey = tuple[str, str, int]
"""(paper or volume id, role, 0-based position within the role) of one name mention."""


def locate_mentions(path: Path, keys: set[MentionKey]) -> dict[MentionKey, int]:
    """Source lines of the given mentions in one volume file, read with lxml.

    ElementTree keeps no line numbers, so error reports call this for the few files
    that have a problem.
    """
    try:
        root = etree.parse(str(path)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return {}
    collection_id = root.get("id") or ""
    found: dict[MentionKey, int] = {}

    def visit(item_id: str, people: list[etree._Element], role: str) -> None:
        for position, person in enumerate(people):
            key = (item_id, role, position)
            if key in keys and person.sourceline is not None:
                found[key] = int(person.sourceline)

    for volume in root.iterfind("volume"):
        volume_xml_id = volume.get("id") or ""
        try:
            volume_id = build_id(collection_id, volume_xml_id)
        except ValueError:  # reported by the parse
            continue
        visit(volume_id, volume.findall("meta/editor"), "editor")
        for paper in volume.iterfind("paper"):
            try:
                paper_id = build_id(collection_id, volume_xml_id, paper.get("id") or "")
            except ValueError:
                continue
            visit(paper_id, paper.findall("author"), "author")
            visit(paper_id, paper.findall("editor"), "editor")
    return found


def mention_lines(rows: pd.DataFrame, xml_dir: Path | None
                  ) -> list[tuple[int, MentionKey, Path, int | None]]:
    """Per mention of `rows` (columns `file`, `paper`, `role`, `position`), file by file:
    its position in `rows`, its key, the file's path in `xml_dir` and the line of the
    mention there (None without `xml_dir`), each file read once."""
    keys: list[MentionKey] = [
        (str(paper), str(role), int(position)) for paper, role, position in zip(
            rows["paper"].tolist(), rows["role"].tolist(), rows["position"].tolist())]
    by_file: dict[str, list[int]] = {}
    for i, file in enumerate(rows["file"].tolist()):
        by_file.setdefault(str(file), []).append(i)
    located: list[tuple[int, MentionKey, Path, int | None]] = []
    for file, indices in sorted(by_file.items()):
        path = xml_dir / file if xml_dir is not None else Path(file)
        lines = locate_mentions(path, {keys[i] for i in indices}) if xml_dir is not None else {}
        located.extend((i, keys[i], path, lines.get(keys[i])) for i in indices)
    return located
