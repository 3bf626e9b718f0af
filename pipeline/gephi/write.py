"""Write a graph as GEXF 1.3 (with `viz` colours, sizes and positions) and as GraphML.

networkx writes GEXF 1.3; its only varying output, the `lastmodifieddate` of the meta
element, is left out so the same graph gives the same bytes, and the XML Schema instance
namespace it misspells (`http://w3.org/...`) is corrected. GraphML has no `viz`: the
colour (`#rrggbb`), size and position become plain attributes there.
"""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx

GEXF_VERSION = "1.3"
_DATE = re.compile(r' lastmodifieddate="[^"]*"')
_XSI = ('xmlns:xsi="http://w3.org/2001/XMLSchema-instance"',
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')


def gexf_text(graph: nx.Graph) -> str:
    text = "\n".join(nx.generate_gexf(graph, version=GEXF_VERSION, prettyprint=True))
    text = _DATE.sub("", text, count=1).replace(*_XSI, 1)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def graphml_graph(graph: nx.Graph) -> nx.Graph:
    """A copy where `viz` is flattened into attributes GraphML can hold."""
    flat = nx.Graph(**{k: v for k, v in graph.graph.items() if isinstance(v, str | int | float)})
    for node, data in graph.nodes(data=True):
        attributes = {k: v for k, v in data.items() if k != "viz"}
        viz = data.get("viz")
        if viz:
            colour = viz["color"]
            attributes["color"] = f"#{colour['r']:02x}{colour['g']:02x}{colour['b']:02x}"
            attributes["size"] = viz["size"]
            attributes["x"] = viz["position"]["x"]
            attributes["y"] = viz["position"]["y"]
        flat.add_node(node, **attributes)
    flat.add_edges_from(graph.edges(data=True))
    return flat


def write_graph(graph: nx.Graph, stem: Path) -> list[Path]:
    """`stem`.gexf and `stem`.graphml; returns both paths."""
    gexf, graphml = stem.with_suffix(".gexf"), stem.with_suffix(".graphml")
    gexf.write_text(gexf_text(graph), encoding="utf-8")
    nx.write_graphml(graphml_graph(graph), graphml, encoding="utf-8", prettyprint=True)
    return [gexf, graphml]
