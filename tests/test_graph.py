from __future__ import annotations

from conftest import MINI

from pipeline.anthology.snapshot import read_snapshot
from pipeline.resolve.graph import build_graph, to_networkx


def test_heterogeneous_graph_of_mini() -> None:
    s = read_snapshot(MINI)
    g = build_graph(s.mentions, s.papers, s.volumes, s.registry)
    counts = g.counts()
    assert counts["paper vertices"] == 6 and counts["volume vertices"] == 3
    assert counts["name vertices"] == s.mentions["slug"].nunique()
    assert counts["person vertices"] == len(s.registry.persons)
    assert counts["authorship edges"] == int((s.mentions["role"] == "author").sum())
    assert counts["editorship edges"] == int((s.mentions["role"] == "editor").sum())
    # Yang Liu and Héctor Martínez Alonso wrote 2099.tiny-long.1 together
    a = g.vertex[("name", "yang-liu")]
    b = g.vertex[("name", "hector-martinez-alonso")]
    assert g.graph.are_adjacent(a, b)


def test_networkx_conversion_keeps_everything() -> None:
    s = read_snapshot(MINI)
    g = build_graph(s.mentions, s.papers, s.volumes, s.registry)
    nxg = to_networkx(g.graph)
    assert nxg.number_of_nodes() == g.graph.vcount()
    assert nxg.nodes["name:mausam"]["type"] == "name"
    # The relation of an edge is `relation`: GEXF reserves an edge's `type`.
    assert {data["relation"] for _, _, data in nxg.edges(data=True)} >= {"authorship"}
    assert all("type" not in data for _, _, data in nxg.edges(data=True))
    neighbourhood = g.name_neighbourhood("mausam", hops=1)
    assert set(neighbourhood.vs["key"]) >= {"mausam", "2099.tiny-long.2"}
