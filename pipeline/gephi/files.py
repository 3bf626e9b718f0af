"""Write every graph of a resolution into one directory, with `index.md` listing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from pipeline.anthology.snapshot import Snapshot
from pipeline.gephi.graphs import (
    Written,
    coauthor_network,
    display_names,
    name_graph,
    variant_graph,
    variant_slugs,
)
from pipeline.gephi.write import write_graph
from pipeline.parallel import forked_map, worker_count
from pipeline.progress import progress_bar


def _write_name_graph(split: dict[str, Any], authors: dict[str, list[tuple[str, str]]],
                      affiliation_of: dict[tuple[str, str, int], str], out_dir: Path) -> Written:
    graph = name_graph(split, authors, affiliation_of)
    stem = f"names/{split['name']}"
    write_graph(graph, out_dir / stem)
    return Written(stem, f"{split.get('display', split['name'])}: mentions by proposed "
                   "person, with coauthors", graph.number_of_nodes(), graph.number_of_edges())


def write_graphs(proposals: dict[str, Any], assignments: pd.DataFrame, snapshot: Snapshot,
                 out_dir: Path, show_progress: bool = False, workers: int = 0
                 ) -> list[Written]:
    """Per split name, the coauthor network and the variants; GEXF and GraphML each. The name
    graphs are written by `workers` forked processes (`parallel.worker_count`; they share the
    tables) while this one builds the two global graphs; with one, all here."""
    splits = sorted(proposals.get("splits", []), key=lambda s: s["name"])
    mentions = snapshot.mentions
    papers = {p["paper"] for s in splits for c in s["clusters"] for p in c["papers"]}
    authors = snapshot.names_on(papers)
    relevant = mentions[mentions["paper"].isin(papers) & mentions["affiliation"].notna()]
    affiliation_of = {(str(p), str(r), int(k)): str(a) for p, r, k, a in zip(
        relevant["paper"], relevant["role"], relevant["position"], relevant["affiliation"])}
    written: list[Written] = []
    (out_dir / "names").mkdir()

    def save(graph: nx.Graph, stem: str, what: str) -> None:
        write_graph(graph, out_dir / stem)
        written.append(Written(stem, what, graph.number_of_nodes(), graph.number_of_edges()))

    # The workers inherit what the name graphs read (and so does this process, which writes
    # a killed worker's graphs itself). They are forked before the progress bar starts its
    # refresh thread: forking a process that runs threads is unsafe.
    with forked_map(lambda number: _write_name_graph(splits[number], authors, affiliation_of,
                                                     out_dir), len(splits),
                    worker_count(workers)) as name_graphs_written, progress_bar(
            "Writing graphs", total=len(splits) + 2, enabled=show_progress) as advance:
        save(coauthor_network(splits, assignments, snapshot), "coauthors",
             "resolved person-coauthor network (persons as nodes)")
        advance(1)
        variants = proposals.get("variants", {})
        save(variant_graph(variants, display_names(mentions, variant_slugs(variants))),
             "variants", "name variants: merged persons and similar links")
        advance(1)
        for name_graph_written in name_graphs_written:
            written.append(name_graph_written)
            advance(1)
    (out_dir / "index.md").write_text(index_markdown(written), encoding="utf-8")
    return written


def index_markdown(written: list[Written]) -> str:
    lines = ["# Graphs of the resolution", "",
             "Written by `anthology-resolve graphs`. Each graph is a GEXF 1.3 file (open in "
             "Gephi or Gephi Lite; colours, sizes and a layout are set) and a GraphML file "
             "beside it.", "",
             "| graph | what | nodes | edges |", "|---|---|---|---|"]
    for item in sorted(written, key=lambda w: (w.stem.startswith("names/"), w.stem)):
        lines.append(f"| [{item.stem}.gexf]({item.stem}.gexf) ([GraphML]({item.stem}.graphml)) "
                     f"| {item.what} | {item.nodes:,} | {item.edges:,} |")
    return "\n".join(lines) + "\n"
