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

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import igraph as ig
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.anthology.registry import Registry
from pipeline.resolve.authorship import Authorship

if TYPE_CHECKING:
    import networkx as nx

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
        vertices = Counter(self.graph.vs["type"])
        edges = Counter(self.graph.es["type"])
        return {**{f"{t} vertices": vertices[t] for t in VERTEX_TYPES},
                **{f"{t} edges": edges[t] for t in sorted(edges)}}


def build_graph(mentions: pd.DataFrame, papers: pd.DataFrame, volumes: pd.DataFrame,
                registry: Registry | None, authorship: Authorship | None = None
                ) -> HeterogeneousGraph:
    """Build the whole-snapshot graph from the reader's tables (vectorised)."""
    if authorship is None:
        authorship = Authorship.build(mentions, papers)
    venues = sorted({v for vs in volumes["venues"].tolist() if vs for v in vs.split("|")})
    links = ([(pid, slug) for pid, person in registry.persons.items()
              for slug in sorted({n.slug for n in person.names})]
             if registry is not None else [])
    # A registry name nobody uses on a paper still gets its name vertex.
    slugs = sorted(set(mentions["slug"].unique()) | {slug for _, slug in links})
    persons = sorted(registry.persons) if registry is not None else []
    layout = [("paper", papers["paper"].tolist()), ("volume", volumes["volume"].tolist()),
              ("name", slugs), ("venue", venues), ("person", persons)]
    offsets: dict[str, int] = {}
    keys: list[tuple[str, str]] = []
    for kind, values in layout:
        offsets[kind] = len(keys)
        keys.extend((kind, str(v)) for v in values)
    index = {kind: pd.Index(values) for kind, values in layout}

    def ids(kind: str, values: pd.Series | list[str]) -> np.ndarray:
        found = index[kind].get_indexer(pd.Index(values))
        return np.where(found >= 0, found + offsets[kind], -1)

    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray | None]] = []
    name_ids = ids("name", mentions["slug"])
    items = ids("paper", mentions["paper"])
    items = np.where(items >= 0, items, ids("volume", mentions["paper"]))
    is_author = (mentions["role"] == "author").to_numpy()
    for kind, mask in (("authorship", is_author), ("editorship", ~is_author)):
        keep = mask & (items >= 0)
        parts.append((name_ids[keep], items[keep], kind, None))
    parts.append((ids("paper", papers["paper"]), ids("volume", papers["volume"]), "part_of",
                  None))
    published = [(vid, venue) for vid, vs in zip(volumes["volume"], volumes["venues"])
                 for venue in (vs.split("|") if vs else [])]
    parts.append((ids("volume", [v for v, _ in published]),
                  ids("venue", [venue for _, venue in published]), "published_in", None))
    coauthors = sp.triu(authorship.coauthorship, k=1).tocoo()
    parts.append((ids("name", authorship.slugs[coauthors.row]),
                  ids("name", authorship.slugs[coauthors.col]), "coauthorship",
                  coauthors.data.astype(float)))
    parts.append((ids("person", [p for p, _ in links]), ids("name", [s for _, s in links]),
                  "registered_as", None))
    sources = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    graph = ig.Graph(n=len(keys), directed=False)
    # From an array, add_edges takes a quarter of the time the constructor takes.
    graph.add_edges(np.column_stack([sources, targets]))
    graph.vs["type"] = [k for k, _ in keys]
    graph.vs["key"] = [key for _, key in keys]
    graph.es["type"] = list(chain.from_iterable([kind] * len(src) for src, _, kind, _ in parts))
    graph.es["weight"] = np.concatenate([
        w if w is not None else np.ones(len(src)) for src, _, _, w in parts])
    return HeterogeneousGraph(graph, {key: i for i, key in enumerate(keys)})


def to_networkx(graph: ig.Graph) -> nx.Graph:
    """An igraph graph as networkx, vertices named by "type:key", attributes kept."""
    import networkx as nx  # only the Gephi export needs it; `resolve` need not wait for it

    out = nx.Graph()
    names = [f"{t}:{k}" for t, k in zip(graph.vs["type"], graph.vs["key"])]
    for v, name in zip(graph.vs, names):
        out.add_node(name, **{a: v[a] for a in graph.vs.attributes() if v[a] is not None})
    for e in graph.es:
        # GEXF reserves an edge's `type` for directed/undirected: the relation is `relation`.
        out.add_edge(names[e.source], names[e.target],
                     **{("relation" if a == "type" else a): e[a] for a in graph.es.attributes()})
    return out
