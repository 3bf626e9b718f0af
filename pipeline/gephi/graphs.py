"""The graphs of a resolution, for Gephi (and any GEXF or GraphML reader).

- per split name (`names/<slug>`): its mentions (label: title and year) coloured by proposed
  cluster, linked to their coauthors (grey, label: the name as written); attributes
  cluster, person, status, pinned (curated id or ORCID), year, venue, affiliation, link;
- `coauthors`: the resolved person-coauthor network: the persons of the split names and
  everyone who wrote with them, persons as nodes (new persons blue, registry persons green,
  coauthors grey), edges weighted by shared papers;
- `variants`: persons linked by name-variant merges (a colour per merged person) and
  `similar` links (grey).

Relation names go into an edge attribute `relation` (GEXF reserves `type` for
directed/undirected).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from pipeline.anthology.names import full_name
from pipeline.anthology.snapshot import Snapshot
from pipeline.gephi.style import add_viz, palette

LABEL_LENGTH = 72  # of a title; the year follows it
NEW, EXISTING = (31, 119, 180), (44, 160, 44)


@dataclass(frozen=True)
class Written:
    stem: str  # path under the output directory, without suffix
    what: str
    nodes: int
    edges: int


def _short(text: str) -> str:
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1].rstrip() + "…"


def name_graph(split: dict[str, Any], authors: dict[str, list[tuple[str, str]]],
               affiliation_of: dict[tuple[str, str, int], str]) -> nx.Graph:
    """One split name: mention nodes per cluster, coauthor nodes, coauthor edges."""
    slug = split["name"]
    graph = nx.Graph(name=f"{split.get('display', slug)} ({slug})")
    colours = palette(len(split["clusters"]))
    colour_of: dict[str, tuple[int, int, int]] = {}
    for colour, cluster in zip(colours, split["clusters"]):
        for paper in cluster["papers"]:
            node = f"{paper['paper']}|{paper['role']}|{paper['position']}"
            year = paper.get("year")
            title = paper.get("title") or paper["paper"]
            graph.add_node(node, label=f"{_short(title)} ({year})" if year else _short(title),
                           kind="mention", cluster=cluster["cluster"],
                           person=cluster["person"] or "", status=cluster["status"],
                           pinned=paper.get("pinned") is not None, year=int(year or 0),
                           venue=paper.get("venue") or "",
                           affiliation=affiliation_of.get(
                               (paper["paper"], paper["role"], int(paper["position"])), ""),
                           link=paper["link"])
            colour_of[node] = colour
            for other, written in authors.get(paper["paper"], []):
                if other == slug:
                    continue
                coauthor = f"coauthor:{other}"
                if coauthor not in graph:
                    graph.add_node(coauthor, label=written, kind="coauthor", cluster="",
                                   person="", status="", pinned=False, year=0, venue="",
                                   affiliation="", link="")
                graph.add_edge(node, coauthor, relation="coauthor", weight=1.0)
    add_viz(graph, colour_of)
    return graph


def coauthor_network(splits: list[dict[str, Any]], assignments: pd.DataFrame,
                     snapshot: Snapshot) -> nx.Graph:
    """Persons of the split names and their coauthors, as the resolution says."""
    mentions = snapshot.mentions
    keys = pd.MultiIndex.from_frame(mentions[["paper", "role", "position"]])
    resolved = assignments.set_index(["paper", "role", "position"])["person"]
    person = pd.Series(mentions["person"].to_numpy(dtype=object), index=keys)
    override = resolved[resolved.notna() & (resolved != "")]
    person.loc[override.index.intersection(keys)] = override
    status = {c["person"]: c["status"] for s in splits for c in s["clusters"]
              if c["person"] and c["status"] in ("new", "existing")}
    focus = set(status)
    authors = mentions["role"].to_numpy() == "author"
    table = pd.DataFrame({"paper": mentions["paper"].to_numpy()[authors],
                          "person": person.to_numpy()[authors],
                          "slug": mentions["slug"].to_numpy()[authors],
                          "first": mentions["first"].fillna("").to_numpy()[authors],
                          "last": mentions["last"].fillna("").to_numpy()[authors]})
    table = table[table["person"].notna()]
    touched = set(table.loc[table["person"].isin(focus), "paper"])
    table = table[table["paper"].isin(touched)]
    graph = nx.Graph(name="resolved person-coauthor network")
    names: dict[str, Counter[str]] = {}
    for pid, first, last in zip(table["person"], table["first"], table["last"]):
        names.setdefault(pid, Counter())[full_name(first, last)] += 1
    shown = {pid: min(counts, key=lambda n: (-counts[n], n)) for pid, counts in names.items()}
    shared = Counter(shown.values())
    for pid in sorted(names):
        kind = status.get(pid, "coauthor")
        # Persons who share a name (the point of the resolution) are told apart by their id.
        label = shown[pid] if shared[shown[pid]] == 1 else f"{shown[pid]} ({pid})"
        graph.add_node(pid, label=label, status=kind, papers=int(sum(names[pid].values())))
    weights: Counter[tuple[str, str]] = Counter()
    for _, group in table.groupby("paper", sort=True):
        people = sorted(set(group["person"]))
        if not focus.intersection(people):
            continue
        for i, a in enumerate(people):
            for b in people[i + 1:]:
                if a in focus or b in focus:
                    weights[(a, b)] += 1
    for (a, b), count in sorted(weights.items()):
        graph.add_edge(a, b, relation="coauthor", weight=float(count))
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0
                             and n not in focus])
    add_viz(graph, {pid: NEW if kind == "new" else EXISTING for pid, kind in status.items()})
    return graph


def display_names(mentions: pd.DataFrame, slugs: set[str]) -> dict[str, str]:
    """Per name slug, its most used name string (ties: the first in sort order)."""
    rows = mentions[mentions["slug"].isin(slugs)]
    strings = (rows["first"].fillna("") + " " + rows["last"].fillna("")).str.strip()
    counts = pd.DataFrame({"slug": rows["slug"], "name": strings}).value_counts()
    ordered = counts.reset_index().sort_values(["slug", "count", "name"],
                                               ascending=[True, False, True])
    return dict(ordered.drop_duplicates("slug")[["slug", "name"]].itertuples(index=False))


def variant_slugs(variants: dict[str, Any]) -> set[str]:
    links = [link for merge in variants.get("merges", []) for link in merge.get("links", [])]
    links += variants.get("similar", [])
    return {str(n) for link in links for n in link.get("names", [])}


def variant_graph(variants: dict[str, Any], names: dict[str, str]) -> nx.Graph:
    """Persons linked by merges (a colour per merged person) and `similar` links; a node is
    labelled with its name as written most often, and its person id where that differs
    from the name's slug. `names`: from `display_names`."""
    graph = nx.Graph(name="name variants")
    merges = variants.get("merges", [])
    colours = palette(len(merges))
    colour_of: dict[str, tuple[int, int, int]] = {}
    for k, merge in enumerate(merges):
        for link in merge.get("links", []):
            _add_link(graph, link, "merge", k, names)
            colour_of[str(link["from"])] = colour_of[str(link["to"])] = colours[k]
    for link in variants.get("similar", []):
        _add_link(graph, link, "similar", -1, names)
    add_viz(graph, colour_of)
    return graph


def _add_link(graph: nx.Graph, link: dict[str, Any], decision: str, merged: int,
              names: dict[str, str]) -> None:
    for unit, slug in zip((str(link["from"]), str(link["to"])), link.get("names", ["", ""])):
        if unit not in graph:
            shown = names.get(str(slug), str(slug))
            label = shown if unit == slug else f"{shown} ({unit})"
            graph.add_node(unit, label=label, name=str(slug), merged_into=merged)
    graph.add_edge(str(link["from"]), str(link["to"]), relation=decision,
                   kind_of_variant=str(link.get("kind", "")),
                   weight=float(link.get("confidence", 0.0)))
