"""The review site: static pages a curator opens from disk (no server, no network).

- `index.html`: every split name, ranked by how much a curator's decision is needed (the
  expected number of misplaced mentions, the sum over clusters of size x (1 - confidence)),
  then by ambiguity; with counts and a search box.
- `names/<slug>.html`: the name's papers grouped by proposed person, as the Anthology's own
  "Fixing paper assignments" previews show them, with the evidence of each group. A curator
  ticks papers and moves them to another person or a new one; the page writes the registry
  entries and `paper -> person` changes, and a decisions file for `export --decisions`.
- `variants.html`: the proposed name-variant merges, with links to the names' pages.

Everything the pages need is in them or in `assets/` (copied from the package).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from pipeline.anthology.names import canonical_name
from pipeline.anthology.orcids import clean_orcid, orcid_key
from pipeline.anthology.registry import CATCH_ALL_COMMENT, Registry, unverified_id
from pipeline.anthology.snapshot import Snapshot
from pipeline.export.decision_orcids import registry_orcid_owners
from pipeline.export.decisions import FORMAT, VERSION

REVIEW_MARGIN = 0.1  # a mention this close to another cluster is flagged for a look
ASSETS = ("review.css", "review.js")


@dataclass(frozen=True)
class NameSummary:
    slug: str
    display: str
    ambiguity: float
    mentions: int
    persons: int  # clusters that are a person (existing or new)
    new_persons: int
    unattributed: int  # mentions left to the catch-all
    flagged: int  # mentions whose margin is below REVIEW_MARGIN
    need: float  # expected misplaced mentions: sum of size x (1 - confidence)


def summarise(split: dict[str, Any]) -> NameSummary:
    clusters = split["clusters"]
    return NameSummary(
        slug=split["name"], display=split.get("display") or split["name"],
        ambiguity=float(split.get("ambiguity", 0.0)),
        mentions=sum(c["size"] for c in clusters),
        persons=sum(c["status"] in ("existing", "new") for c in clusters),
        new_persons=sum(c["status"] == "new" for c in clusters),
        unattributed=sum(c["size"] for c in clusters if c["status"] == "unresolved"),
        flagged=sum(1 for c in clusters for p in c["papers"]
                    if p.get("margin") is not None and p["margin"] < REVIEW_MARGIN),
        need=round(sum(c["size"] * (1.0 - float(c["confidence"])) for c in clusters), 1))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("pipeline.review", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _abstracts(snapshot: Snapshot, papers: set[str]) -> dict[str, str]:
    table = snapshot.papers
    table = table[table["paper"].isin(papers)]
    return dict(zip(table["paper"], table["abstract"].fillna("")))


def _mention_records(snapshot: Snapshot, slugs: set[str]
                     ) -> dict[str, dict[str, dict[str, Any]]]:
    """Per name, what the page's script needs per mention to write entries: key -> name
    parts, affiliation, year."""
    table = snapshot.mentions
    rows = table[table["slug"].isin(slugs)]
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for slug, paper, role, position, first, last, affiliation, year, orcid in zip(
            rows["slug"], rows["paper"], rows["role"], rows["position"],
            rows["first"].fillna(""), rows["last"], rows["affiliation"], rows["year"],
            rows["orcid"]):
        records.setdefault(str(slug), {})[f"{paper}|{role}|{position}"] = {
            "paper": str(paper), "role": str(role), "position": int(position),
            "first": str(first), "last": str(last),
            "affiliation": str(affiliation) if pd.notna(affiliation) else "",
            "year": int(year) if pd.notna(year) else 0, "orcid": clean_orcid(orcid) or ""}
    return records


def _merged_names(merges: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Per person in a name-variant merge: every name string of the merge, canonical first
    (export lists them in the merged person's entry)."""
    merged: dict[str, list[str]] = {}
    for merge in merges:
        first = _canonical(merge)
        names = sorted((f"{n.get('first', '')} {n.get('last', '')}".strip(),
                        int(n.get("mentions", 0))) for n in merge.get("names", []))
        ordered = [first] + [n for n, _ in sorted(names, key=lambda n: -n[1]) if n != first]
        for person in merge.get("persons", []):
            merged[str(person)] = ordered
    return merged


def _canonical(merge: dict[str, Any]) -> str:
    """The merge's canonical name; where a hand-edited file gives none (`null`, which
    export takes), the one export would choose from its name strings."""
    canonical = merge.get("canonical") or {}
    named = f"{canonical.get('first', '')} {canonical.get('last', '')}".strip()
    counts: Counter[tuple[str, str]] = Counter()
    for n in merge.get("names", []):
        counts[(str(n.get("first", "")), str(n.get("last", "")))] += int(n.get("mentions", 0))
    if named or not counts:
        return named
    return " ".join(part for part in canonical_name(counts) if part)


def _page_data(split: dict[str, Any], registry: Registry,
               mentions: dict[str, dict[str, Any]], merged: dict[str, list[str]],
               owned: set[str], catch_all_of: dict[str, str]) -> dict[str, Any]:
    """The JSON the page's script reads: groups, mentions, registry facts, and the names
    variant merges join to its persons."""
    slug = split["name"]
    groups = [{"key": c["cluster"], "person": c["person"], "status": c["status"],
               "mentions": [f"{p['paper']}|{p['role']}|{p['position']}" for p in c["papers"]]}
              for c in split["clusters"]]
    catch_all = next((c["person"] for c in split["clusters"] if c["status"] == "unresolved"),
                     None) or catch_all_of.get(slug)
    legacy = registry.format == "legacy"
    return {"format": FORMAT, "version": VERSION, "name": slug,
            "display": split.get("display") or slug,
            "registry": "legacy" if legacy else "current",
            "catch_all": catch_all or (None if legacy else unverified_id(slug)),
            "taken": sorted(pid for pid in registry.persons if pid.startswith(slug)),
            "catch_all_comment": CATCH_ALL_COMMENT,
            "orcid_owned": sorted({m["orcid"] for m in mentions.values()} & owned),
            "groups": groups, "mentions": mentions,
            "merged": {g["person"]: merged[g["person"]] for g in groups
                       if g["person"] in merged}}


def build_site(proposals: dict[str, Any], snapshot: Snapshot, out_dir: Path) -> list[Path]:
    """Write the site into `out_dir` (which exists and is empty); returns the pages."""
    splits = sorted(proposals.get("splits", []), key=lambda s: s["name"])
    summaries = sorted((summarise(s) for s in splits),
                       key=lambda s: (-s.need, -s.ambiguity, s.slug))
    with_pages = {s["name"] for s in splits}
    papers = {p["paper"] for s in splits for c in s["clusters"] for p in c["papers"]}
    abstracts, authors = _abstracts(snapshot, papers), snapshot.names_on(papers)
    records = _mention_records(snapshot, with_pages)
    environment = _environment()
    written: list[Path] = []
    (out_dir / "names").mkdir()
    (out_dir / "assets").mkdir()
    for asset in ASSETS:
        with resources.as_file(resources.files("pipeline.review") / "assets" / asset) as src:
            shutil.copyfile(src, out_dir / "assets" / asset)
    merges = proposals.get("variants", {}).get("merges", [])
    index = environment.get_template("index.html.j2").render(
        names=summaries, merges=len(merges), review_margin=REVIEW_MARGIN)
    written.append(_write(out_dir / "index.html", index))
    page = environment.get_template("name.html.j2")
    merged = _merged_names(merges)
    # ORCIDs the registry gives to a person pin their mentions, as ids do (export refuses
    # to move them); keyed as the proposals write them.
    owners = registry_orcid_owners(snapshot.registry)
    # The registry's catch-all of each name (the first by id), found once for every page.
    catch_all_of: dict[str, str] = {}
    for pid in sorted(snapshot.registry.catch_all_ids()):
        for name in snapshot.registry.persons[pid].names:
            catch_all_of.setdefault(name.slug, pid)
    orcid_owner = {raw: owners[clean] for s in splits for c in s["clusters"]
                   for p in c["papers"] if (raw := p.get("orcid"))
                   and (clean := orcid_key(raw)) in owners}
    for split in splits:
        data = _page_data(split, snapshot.registry, records.get(split["name"], {}), merged,
                          set(owners), catch_all_of)
        html = page.render(
            split=split, summary=summarise(split), abstracts=abstracts, authors=authors,
            with_pages=with_pages, review_margin=REVIEW_MARGIN, orcid_owner=orcid_owner,
            data=json.dumps(data, ensure_ascii=False, sort_keys=True).replace("</", "<\\/"))
        written.append(_write(out_dir / "names" / f"{split['name']}.html", html))
    variants = environment.get_template("variants.html.j2").render(
        merges=_merge_rows(merges, with_pages))
    written.append(_write(out_dir / "variants.html", variants))
    return written


def _merge_rows(merges: Iterable[dict[str, Any]], with_pages: set[str]
                ) -> list[dict[str, Any]]:
    rows = []
    for merge in merges:
        links = merge.get("links", [])
        slugs = sorted({n for link in links for n in link.get("names", [])})
        rows.append({
            "canonical": _canonical(merge),
            "names": [f"{n.get('first', '')} {n.get('last', '')}".strip()
                      for n in merge.get("names", [])],
            "mentions": sum(int(n.get("mentions", 0)) for n in merge.get("names", [])),
            "persons": merge.get("persons", []),
            "confidence": min((float(link.get("confidence", 0.0)) for link in links),
                              default=0.0),
            "sole_expansion": any(link.get("sole_expansion") is True for link in links),
            "slugs": [(s, s in with_pages) for s in slugs]})
    rows.sort(key=lambda r: (r["confidence"], r["canonical"]))
    return rows


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
