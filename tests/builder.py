"""Generate small made-up Anthology data directories for tests (legacy registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Author:
    first: str
    last: str
    id: str | None = None
    orcid: str | None = None
    affiliation: str | None = None

    def xml(self, tag: str = "author") -> str:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in (("id", self.id),
                                                             ("orcid", self.orcid)) if v)
        aff = f"<affiliation>{escape(self.affiliation)}</affiliation>" if self.affiliation else ""
        first = f"<first>{escape(self.first)}</first>" if self.first else "<first/>"
        return f"<{tag}{attrs}>{first}<last>{escape(self.last)}</last>{aff}</{tag}>"


@dataclass
class Paper:
    title: str
    authors: list[Author]
    abstract: str = ""


@dataclass
class Volume:
    collection: str  # e.g. "2020.tiny"
    volume: str  # e.g. "main"
    year: int
    venue: str
    papers: list[Paper] = field(default_factory=list)


def write_snapshot(root: Path, volumes: list[Volume], registry_yaml: str = "") -> Path:
    """Write xml/<collection>.xml files and yaml/name_variants.yaml under `root`."""
    (root / "xml").mkdir(parents=True, exist_ok=True)
    (root / "yaml").mkdir(parents=True, exist_ok=True)
    by_collection: dict[str, list[Volume]] = {}
    for volume in volumes:
        by_collection.setdefault(volume.collection, []).append(volume)
    for collection, vols in by_collection.items():
        parts = ["<?xml version='1.0' encoding='UTF-8'?>", f'<collection id="{collection}">']
        for v in vols:
            parts.append(f'  <volume id="{v.volume}" type="proceedings">')
            parts.append(f"    <meta><booktitle>Proceedings of {escape(v.venue)} {v.year}"
                         f"</booktitle><year>{v.year}</year><venue>{v.venue}</venue></meta>")
            for number, paper in enumerate(v.papers, start=1):
                parts.append(f'    <paper id="{number}"><title>{escape(paper.title)}</title>')
                parts.extend(f"      {a.xml()}" for a in paper.authors)
                if paper.abstract:
                    parts.append(f"      <abstract>{escape(paper.abstract)}</abstract>")
                parts.append("    </paper>")
            parts.append("  </volume>")
        parts.append("</collection>\n")
        (root / "xml" / f"{collection}.xml").write_text("\n".join(parts), encoding="utf-8")
    (root / "yaml" / "name_variants.yaml").write_text(registry_yaml, encoding="utf-8")
    return root


def two_wei_zhangs(root: Path, nlp_orcid: str | None = None,
                   speech_orcid: str | None = None) -> Path:
    """A made-up snapshot: two people named Wei Zhang with disjoint coauthors and topics,
    and one prolific person with a rare name and a dense coauthor network. An ORCID given
    is on that Wei Zhang's papers of 2015 and 2016."""
    nlp = [Author("Alice", "Nakamura"), Author("Bruno", "Oliveira"), Author("Chen", "Hua")]
    speech = [Author("Dmitri", "Petrov"), Author("Eva", "Lindqvist"), Author("Farid", "Haddad")]
    volumes = []
    for year in range(2015, 2021):
        early = year <= 2016
        papers = [
            Paper(f"Neural parsing of treebanks part {year}",
                  [Author("Wei", "Zhang", affiliation="Tsinghua University",
                          orcid=nlp_orcid if early else None), nlp[year % 3],
                   nlp[(year + 1) % 3], Author("Ingrid", "Solberg")],
                  "We study dependency parsing, treebanks and syntactic structure."),
            Paper(f"Acoustic models for speech recognition {year}",
                  [speech[year % 3], Author("Wei", "Zhang", affiliation="Stanford University",
                                            orcid=speech_orcid if early else None),
                   speech[(year + 1) % 3]],
                  "We train acoustic models for automatic speech recognition of audio."),
            Paper(f"Parsing with Ingrid {year}",
                  [Author("Ingrid", "Solberg"), nlp[year % 3], nlp[(year + 2) % 3]],
                  "Dependency parsing and treebanks again."),
        ]
        volumes.append(Volume(f"{year}.tiny", "main", year, "tiny", papers))
    volumes.append(common_name_fillers("Wei", "Zhang"))
    return write_snapshot(root, volumes)


def common_name_fillers(first: str, last: str, count: int = 20) -> Volume:
    """Papers by other people called `first` or `last`, so that "`first` `last`" is a common
    name (name commonness above zero, as in the real Anthology), not a rare one."""
    papers = [Paper(f"Filler {k}", [Author(first, f"Other{k}"), Author(f"Other{k}", last)])
              for k in range(count)]
    return Volume("2000.fill", "main", 2000, "fill", papers)
