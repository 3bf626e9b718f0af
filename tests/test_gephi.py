"""`anthology-resolve graphs`: GEXF 1.3 and GraphML files that Gephi's parsers read, on the
made-up two-Wei-Zhang snapshot. Each GEXF is checked against a schema of GEXF 1.3 (see
tests/fixtures/gexf/README.md) and read by networkx and by graphology-gexf (npm)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pytest
from lxml import etree
from test_review import resolved  # noqa: F401  (the fixture)

from pipeline.cli import main
from pipeline.gephi import files
from pipeline.gephi.graphs import Written, display_names, variant_graph, variant_slugs

REPOSITORY = Path(__file__).resolve().parents[1]
SCHEMA = REPOSITORY / "tests" / "fixtures" / "gexf" / "gexf-1.3-subset.xsd"
READER = REPOSITORY / "tests" / "read_gexf.cjs"


@pytest.fixture(scope="module")
def graphs(resolved: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory  # noqa: F811
           ) -> Path:
    anthology, resolution = resolved
    out = tmp_path_factory.mktemp("graphs") / "resolution"
    assert main(["-q", "graphs", "--anthology", str(anthology), "--no-cache",
                 "--resolution", str(resolution), "--out", str(out)]) == 0
    return out


def _gexf_files(graphs: Path) -> list[Path]:
    return sorted(graphs.rglob("*.gexf"))


def test_every_kind_of_graph_is_written_with_graphml_beside_and_an_index(graphs: Path
                                                                         ) -> None:
    stems = {str(p.relative_to(graphs).with_suffix("")) for p in _gexf_files(graphs)}
    assert stems == {"names/wei-zhang", "coauthors", "variants"}
    assert all((graphs / f"{stem}.graphml").is_file() for stem in stems)
    index = (graphs / "index.md").read_text()
    assert all(f"]({stem}.gexf)" in index for stem in stems)


def test_gexf_files_are_valid_gexf_1_3(graphs: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    for path in _gexf_files(graphs):
        document = etree.parse(str(path))
        assert schema.validate(document), (path, schema.error_log)


def test_both_clients_read_every_file(graphs: Path) -> None:
    files = _gexf_files(graphs)
    output = subprocess.run(["node", str(READER), *map(str, files)], capture_output=True,
                            text=True, check=True, cwd=REPOSITORY).stdout
    seen = json.loads(output)
    for path in files:
        ours = nx.read_gexf(path, version="1.3")
        theirs = seen[str(path)]
        assert (theirs["nodes"], theirs["edges"]) == (ours.number_of_nodes(),
                                                      ours.number_of_edges())
        assert theirs["undirected"] == theirs["edges"]  # every edge read as undirected
        first = theirs["firstNode"]
        if path.name == "variants.gexf":  # no variants in this snapshot
            assert first is None
            continue
        assert ours.number_of_edges() > 0
        # graphology-gexf reads viz into color, size, x, y.
        assert first["color"].startswith("rgb") and first["size"] > 0 and "x" in first
        assert nx.read_graphml(path.with_suffix(".graphml")).number_of_nodes() == \
            ours.number_of_nodes()


def test_a_name_graph_colours_each_cluster_apart_and_labels_papers(
        graphs: Path, resolved: tuple[Path, Path]) -> None:  # noqa: F811
    graph = nx.read_gexf(graphs / "names" / "wei-zhang.gexf", version="1.3")
    proposals = json.loads((resolved[1] / "proposals.json").read_text())
    [split] = proposals["splits"]
    mentions = {n: d for n, d in graph.nodes(data=True) if d["kind"] == "mention"}
    assert len(mentions) == sum(c["size"] for c in split["clusters"])
    colour = {d["cluster"]: (d["viz"]["color"]["r"], d["viz"]["color"]["g"],
                             d["viz"]["color"]["b"]) for d in mentions.values()}
    assert len(colour) == len(split["clusters"]) == len(set(colour.values()))
    titles = {p["title"] for c in split["clusters"] for p in c["papers"]}
    assert all(any(d["label"].startswith(t) for t in titles) for d in mentions.values())
    assert {d["status"] for d in mentions.values()} <= {"new", "existing", "unresolved"}
    assert all(isinstance(d["pinned"], bool) for d in mentions.values())
    assert {d["relation"] for _, _, d in graph.edges(data=True)} == {"coauthor"}
    positions = {(d["viz"]["position"]["x"], d["viz"]["position"]["y"])
                 for _, d in graph.nodes(data=True)}
    assert len(positions) > 1  # laid out, not all at the origin


def test_graphs_are_deterministic_and_replace_only_their_own_output(
        graphs: Path, resolved: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    anthology, resolution = resolved
    again = tmp_path / "again"
    args = ["-q", "graphs", "--anthology", str(anthology), "--no-cache", "--resolution",
            str(resolution)]
    assert main([*args, "--out", str(again)]) == 0
    for path in graphs.rglob("*"):
        if path.is_file():
            assert (again / path.relative_to(graphs)).read_bytes() == path.read_bytes(), path
    assert main([*args, "--out", str(again)]) == 2  # an earlier output needs --force
    assert main([*args, "--out", str(again), "--force"]) == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    assert main([*args, "--out", str(foreign), "--force"]) == 2
    assert (foreign / "mine.txt").read_text() == "keep"


_PARENT = os.getpid()
_write_name_graph = files._write_name_graph


def _written_unless_a_worker(split: dict[str, Any], *inputs: Any) -> Written:
    if os.getpid() != _PARENT:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel does when memory runs out
    return _write_name_graph(split, *inputs)


def test_a_killed_writer_s_graphs_are_written_here(
        graphs: Path, resolved: tuple[Path, Path], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    anthology, resolution = resolved
    monkeypatch.setattr(files, "_write_name_graph", _written_unless_a_worker)
    again = tmp_path / "again"
    assert main(["-q", "graphs", "--anthology", str(anthology), "--no-cache", "--resolution",
                 str(resolution), "--out", str(again)]) == 0
    expected = sorted(p.relative_to(graphs) for p in graphs.rglob("*") if p.is_file())
    assert sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file()) == expected
    assert any(p.parts[0] == "names" for p in expected)
    for path in expected:
        assert (again / path).read_bytes() == (graphs / path).read_bytes(), path


def test_workers_1_writes_every_graph_in_this_process_and_the_same_bytes(
        graphs: Path, resolved: tuple[Path, Path], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    anthology, resolution = resolved
    asked: list[int] = []
    forked_map = files.forked_map

    def recording(task: Any, count: int, workers: int) -> Any:
        asked.append(workers)
        return forked_map(task, count, workers)

    monkeypatch.setattr(files, "forked_map", recording)
    again = tmp_path / "again"
    assert main(["-q", "graphs", "--anthology", str(anthology), "--no-cache", "--resolution",
                 str(resolution), "--out", str(again), "--workers", "1"]) == 0
    assert asked == [1]
    for path in graphs.rglob("*"):
        if path.is_file():
            assert (again / path.relative_to(graphs)).read_bytes() == path.read_bytes(), path


def test_a_name_graph_renders_with_its_layout_and_colours(graphs: Path) -> None:
    """Draw the stored layout (viz positions, colours, sizes) as SVG in Chromium and save a
    picture to tests/artifacts/ (the README shows it)."""
    from playwright.sync_api import sync_playwright
    from test_review_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    graph = nx.read_gexf(graphs / "names" / "wei-zhang.gexf", version="1.3")
    viz = {n: d["viz"] for n, d in graph.nodes(data=True)}
    scale = 3.0

    def at(node: str) -> tuple[float, float]:
        position = viz[node]["position"]
        return 400 + scale * position["x"], 330 - scale * position["y"]

    lines = [f'<line x1="{at(a)[0]:.1f}" y1="{at(a)[1]:.1f}" x2="{at(b)[0]:.1f}" '
             f'y2="{at(b)[1]:.1f}" stroke="#bbb"/>' for a, b in graph.edges]
    circles = []
    for node, data in graph.nodes(data=True):
        x, y = at(node)
        colour = viz[node]["color"]
        fill = f"rgb({colour['r']},{colour['g']},{colour['b']})"
        circles.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{viz[node]["size"]:.1f}" '
                       f'fill="{fill}"><title>{data["label"]}</title></circle>')
    page = graphs / "render.html"
    page.write_text('<!DOCTYPE html><html lang="en"><title>wei-zhang</title><body>'
                    '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="660">'
                    + "".join(lines + circles) + "</svg></body></html>")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        view = browser.new_page(viewport={"width": 820, "height": 680})
        view.goto(page.as_uri())
        assert view.locator("circle").count() == graph.number_of_nodes()
        view.screenshot(path=str(ARTIFACTS / "name-graph.png"))
        browser.close()
    page.unlink()


def test_variant_nodes_are_labelled_by_name_and_by_person_where_it_differs() -> None:
    mentions = pd.DataFrame({"slug": ["a-bergman", "a-bergman", "a-bergman",
                                      "a-stevie-bergman", "ahmed-hassan-awadallah"],
                             "first": ["A.", "A.", "a.", "A. Stevie", "Ahmed Hassan"],
                             "last": ["Bergman", "Bergman", "Bergman", "Bergman", "Awadallah"]})
    variants = {"merges": [{"links": [
        {"from": "a-bergman", "to": "a-stevie-bergman", "kind": "abbreviation",
         "names": ["a-bergman", "a-stevie-bergman"], "confidence": 0.9}]}],
        "similar": [{"from": "a-bergman", "to": "ahmed-hassan", "kind": "initials",
                     "names": ["a-bergman", "ahmed-hassan-awadallah"], "confidence": 0.2}]}
    graph = variant_graph(variants, display_names(mentions, variant_slugs(variants)))
    assert dict(graph.nodes(data="label")) == {
        "a-bergman": "A. Bergman", "a-stevie-bergman": "A. Stevie Bergman",
        "ahmed-hassan": "Ahmed Hassan Awadallah (ahmed-hassan)"}
    assert graph.edges["a-bergman", "a-stevie-bergman"]["relation"] == "merge"
