"""The heterogeneous graph of a snapshot (python-igraph), and its export for inspection.

Vertex types (attribute `type`; `key` holds the Anthology id, slug or venue id):
- `paper`: a paper or front matter (key: full Anthology id);
- `volume`: a volume (key: volume id);
- `name`: a name string, keyed by its Anthology slug (all spellings with one slug meet here);
- `person`: a registry person (key: person id);
- `venue`: a venue (key: venue id).

Edge types (attribute `type`, with `weight`):
- `authorship` name -> paper (weight 1 per mention), `editorship` name -> paper or volume;
- `part_of` paper -> volume; `published_in` volume -> venue;
- `coauthorship` name -- name, weight = number of shared papers (papers with at most
  MAX_AUTHORS_FOR_COAUTHORSHIP authors; big collaborations say little about who works with
  whom);
- `registered_as` person -> name, for every name the registry lists for the person.

    name ──authorship──▶ paper ──part_of──▶ volume ──published_in──▶ venue
      │  ╲                                   ▲
      │   ╲──editorship──────────────────────┘
      ├──coauthorship── name
      ◀──registered_as── person

Pair evidence (`evidence.py`) reads the same relations as sparse matrices; this graph is what
`graphs` exports (GEXF, for Gephi) and what a maintainer can query.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd

from .registry import Registry

MAX_AUTHORS_FOR_COAUTHORSHIP = 25
VERTEX_TYPES = ("paper", "volume", "name", "person", "venue")


@dataclass
class HeterogeneousGraph:
    graph: ig.Graph
    vertex: dict[tuple[str, str], int]  # (type, key) -> vertex id

    def vertices_of_type(self, kind: str) -> list[int]:
        return [v.index for v in self.graph.vs.select(type_eq=kind)]

    def name_neighbourhood(self, slug: str, hops: int = 2) -> ig.Graph:
        """The subgraph within `hops` of one name vertex."""
        centre = self.vertex[("name", slug)]
        members = self.graph.neighborhood(centre, order=hops)
        return self.graph.induced_subgraph(sorted(members))

    def counts(self) -> dict[str, int]:
        out = {f"{t} vertices": len(self.graph.vs.select(type_eq=t)) for t in VERTEX_TYPES}
        for t in sorted(set(self.graph.es["type"])):
            out[f"{t} edges"] = len(self.graph.es.select(type_eq=t))
        return out


def build_graph(mentions: pd.DataFrame, papers: pd.DataFrame, volumes: pd.DataFrame,
                registry: Registry | None) -> HeterogeneousGraph:
    """Build the whole-snapshot graph from the reader's tables."""
    keys: list[tuple[str, str]] = []
    vertex: dict[tuple[str, str], int] = {}

    def add(kind: str, key: str) -> int:
        found = vertex.get((kind, key))
        if found is None:
            found = vertex[(kind, key)] = len(keys)
            keys.append((kind, key))
        return found

    for pid in papers["paper"].tolist():
        add("paper", pid)
    for vid in volumes["volume"].tolist():
        add("volume", vid)
    for slug in sorted(mentions["slug"].unique()):
        add("name", slug)
    venues = sorted({v for vs in volumes["venues"].tolist() if vs for v in vs.split("|")})
    for venue in venues:
        add("venue", venue)

    sources: list[int] = []
    targets: list[int] = []
    types: list[str] = []
    weights: list[float] = []

    def edge(a: int, b: int, kind: str, weight: float = 1.0) -> None:
        sources.append(a)
        targets.append(b)
        types.append(kind)
        weights.append(weight)

    for slug, paper, role in zip(mentions["slug"], mentions["paper"], mentions["role"]):
        item = vertex.get(("paper", paper))
        if item is None:
            item = vertex.get(("volume", paper))
        if item is not None:
            edge(vertex[("name", slug)], item, "authorship" if role == "author"
                 else "editorship")
    for pid, vid in zip(papers["paper"], papers["volume"]):
        edge(vertex[("paper", pid)], vertex[("volume", vid)], "part_of")
    for vid, vs in zip(volumes["volume"], volumes["venues"]):
        for venue in (vs.split("|") if vs else []):
            edge(vertex[("volume", vid)], vertex[("venue", venue)], "published_in")
    for (a, b), count in _coauthorship(mentions).items():
        edge(vertex[("name", a)], vertex[("name", b)], "coauthorship", float(count))
    if registry is not None:
        for pid, person in registry.persons.items():
            p = add("person", pid)
            for slug in sorted({n.slug for n in person.names}):
                edge(p, add("name", slug), "registered_as")

    graph = ig.Graph(n=len(keys), edges=list(zip(sources, targets)), directed=False)
    graph.vs["type"] = [k for k, _ in keys]
    graph.vs["key"] = [key for _, key in keys]
    graph.es["type"] = types
    graph.es["weight"] = weights
    return HeterogeneousGraph(graph, vertex)


def _coauthorship(mentions: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Shared-paper counts of name pairs (a < b), over papers with few authors."""
    authors = mentions[mentions["role"] == "author"][["paper", "slug"]].drop_duplicates()
    sizes = authors.groupby("paper")["slug"].transform("size")
    small = authors[sizes <= MAX_AUTHORS_FOR_COAUTHORSHIP]
    pairs = small.merge(small, on="paper")
    pairs = pairs[pairs["slug_x"] < pairs["slug_y"]]
    counted = pairs.groupby(["slug_x", "slug_y"]).size()
    return {(str(a), str(b)): int(c) for a, b, c in zip(
        counted.index.get_level_values(0), counted.index.get_level_values(1), counted)}


def to_networkx(graph: ig.Graph) -> nx.Graph:
    """An igraph graph as networkx, vertices named by "type:key", attributes kept."""
    out = nx.Graph()
    names = [f"{t}:{k}" for t, k in zip(graph.vs["type"], graph.vs["key"])]
    for v, name in zip(graph.vs, names):
        out.add_node(name, **{a: v[a] for a in graph.vs.attributes() if v[a] is not None})
    for e in graph.es:
        out.add_edge(names[e.source], names[e.target],
                     **{a: e[a] for a in graph.es.attributes()})
    return out


def mention_graph(slug: str, mentions: pd.DataFrame, logits: np.ndarray,
                  clusters: list[str], min_probability: float = 0.5) -> nx.Graph:
    """One name's mentions as a graph for Gephi: nodes coloured by cluster, edges where the
    pair model gives at least `min_probability` of being the same person."""
    out = nx.Graph(name=slug)
    labels = [f"{p} #{pos}" for p, pos in zip(mentions["paper"], mentions["position"])]
    for label, cluster, year, venue in zip(labels, clusters, mentions["year"],
                                           mentions["venues"]):
        out.add_node(label, cluster=cluster, year=int(year) if pd.notna(year) else 0,
                     venues=str(venue))
    probability = 1 / (1 + np.exp(-np.clip(logits, -30, 30)))
    ii, jj = np.triu_indices(len(labels), 1)
    for i, j in zip(ii.tolist(), jj.tolist()):
        if probability[i, j] >= min_probability:
            out.add_edge(labels[i], labels[j], weight=float(probability[i, j]))
    return out
