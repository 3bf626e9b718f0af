"""How the graphs look when opened: colours per cluster, sizes by degree, a layout computed
in advance (igraph's Fruchterman-Reingold, seeded), so a file opens readable in Gephi."""

from __future__ import annotations

import colorsys
import math
import random

import igraph as ig
import networkx as nx

GREY = (170, 170, 170)
LAYOUT_SEED = 42
SCALE = 100.0  # positions span about -SCALE..SCALE


def palette(count: int) -> list[tuple[int, int, int]]:
    """`count` distinct colours: hues spaced by the golden angle, two lightness levels so
    that neighbours in the list differ; no colour repeats within one graph."""
    colours = []
    for k in range(count):
        hue = (k * 0.618033988749895) % 1.0
        lightness = 0.42 if k % 2 == 0 else 0.58
        r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.75)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def node_size(degree: int) -> float:
    return round(4.0 + 3.0 * math.sqrt(degree), 2)


def add_viz(graph: nx.Graph, colour_of: dict[str, tuple[int, int, int]]) -> None:
    """Set `viz` (colour, size by degree, seeded Fruchterman-Reingold position) on every node;
    nodes missing from `colour_of` are grey."""
    nodes = list(graph.nodes)
    index = {node: k for k, node in enumerate(nodes)}
    layout_graph = ig.Graph(n=len(nodes), edges=[(index[a], index[b]) for a, b in graph.edges])
    if len(nodes) > 1:
        # igraph seeds layouts from its global generator: a seeded one, then the default.
        ig.set_random_number_generator(random.Random(LAYOUT_SEED))
        try:
            layout = layout_graph.layout_fruchterman_reingold(niter=300, grid="auto")
        finally:
            ig.set_random_number_generator(random)
        coordinates = layout.coords
        span = max((max(abs(x), abs(y)) for x, y in coordinates), default=1.0) or 1.0
    else:
        coordinates, span = [(0.0, 0.0)] * len(nodes), 1.0
    for node, (x, y) in zip(nodes, coordinates):
        r, g, b = colour_of.get(node, GREY)
        graph.nodes[node]["viz"] = {
            "color": {"r": r, "g": g, "b": b, "a": 1.0},
            "size": node_size(graph.degree(node)),
            "position": {"x": round(x / span * SCALE, 3), "y": round(y / span * SCALE, 3),
                         "z": 0.0}}
