"""Name variants on made-up snapshots: proposed where the graph supports them, never across a
cannot-link, written to proposals.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from builder import Author, Paper, Volume, common_name_fillers, write_snapshot

from pipeline.anthology.snapshot import read_snapshot
from pipeline.resolve.outputs import write_outputs
from pipeline.resolve.run import ResolveSettings, resolve


def _people(prefix: str, n: int) -> list[Author]:
    return [Author(f"{prefix}{k}", f"Coauthor{prefix}{k}") for k in range(n)]


def _variants_snapshot(root: Path) -> Path:
    """Héctor Martínez Alonso writes as "Hector Martinez" too, with the same coauthors and
    topic; Anna Kowalczyk and A. Kowalczyk share coauthors but have different ORCIDs; Li Na
    and Na Li are two authors of one paper; Bo Chen and Bo Cheng share nothing."""
    lab = _people("Lab", 3)
    other = _people("Other", 3)
    volumes = []
    for year in range(2012, 2020):
        hector = (Author("Héctor", "Martínez Alonso") if year % 3 else
                  Author("Hector", "Martinez"))
        papers = [
            Paper(f"Treebank parsing study {year}", [hector, lab[year % 3], lab[(year + 1) % 3]],
                  "Dependency parsing of treebanks for low-resource languages."),
            Paper(f"Kowalczyk study {year}",
                  [Author("Anna", "Kowalczyk", orcid="0000-0002-1825-0097")
                   if year % 2 else Author("A.", "Kowalczyk", orcid="0000-0001-5109-3700"),
                   other[year % 3], other[(year + 1) % 3]],
                  "Morphological analysis of Polish."),
            Paper(f"Two authors named alike {year}",
                  [Author("Li", "Na"), Author("Na", "Li"), other[(year + 2) % 3]],
                  "Machine translation of Chinese."),
            Paper(f"Bo Chen on vision {year}", [Author("Bo", "Chen"), Author("Zed", "Vision")],
                  "Image captioning.") if year < 2016 else
            Paper(f"Bo Cheng on law {year}", [Author("Bo", "Cheng"), Author("Yan", "Law")],
                  "Legal documents."),
        ]
        volumes.append(Volume(f"{year}.tiny", "main", year, "tiny", papers))
    volumes.append(common_name_fillers("Bo", "Chen"))
    return write_snapshot(root, volumes)


@functools.cache
def _resolved(root: Path) -> dict[str, object]:
    snapshot = read_snapshot(_variants_snapshot(root / "anthology"))
    resolution = resolve(snapshot, ResolveSettings())
    write_outputs(resolution, snapshot, root / "out")
    variants: dict[str, object] = json.loads((root / "out" / "proposals.json").read_text())[
        "variants"]
    return variants


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return _resolved(tmp_path_factory.mktemp("variants"))


def _merged_names(variants: dict[str, object]) -> list[set[str]]:
    merges = variants["merges"]
    assert isinstance(merges, list)
    return [{f"{n.get('first', '')} {n['last']}".strip() for n in merge["names"]}
            for merge in merges]


def test_a_variant_with_the_same_coauthors_is_merged(variants: dict[str, object]) -> None:
    merged = _merged_names(variants)
    assert {"Héctor Martínez Alonso", "Hector Martinez"} in merged
    [merge] = [m for m in variants["merges"]  # type: ignore[attr-defined]
               if "hector-martinez" in m["persons"]]
    # The most frequent spelling is the canonical name.
    assert merge["canonical"] == {"first": "Héctor", "last": "Martínez Alonso"}
    [link] = merge["links"]
    assert link["kind"] == "abbreviation" and 0.95 <= link["confidence"] <= 1.0


def test_different_orcids_are_never_merged(variants: dict[str, object]) -> None:
    for names in _merged_names(variants):
        assert not {"Anna Kowalczyk", "A. Kowalczyk"} <= names
    for link in variants["similar"]:  # type: ignore[attr-defined]
        assert set(link["names"]) != {"anna-kowalczyk", "a-kowalczyk"}


def test_two_authors_of_one_paper_are_never_merged(variants: dict[str, object]) -> None:
    for names in _merged_names(variants):
        assert not {"Li Na", "Na Li"} <= names
    for link in variants["similar"]:  # type: ignore[attr-defined]
        assert set(link["names"]) != {"li-na", "na-li"}


def test_a_typo_without_evidence_is_not_merged(variants: dict[str, object]) -> None:
    for names in _merged_names(variants):
        assert not {"Bo Chen", "Bo Cheng"} <= names


def test_variant_proposals_are_byte_identical_across_runs(tmp_path: Path) -> None:
    root = _variants_snapshot(tmp_path / "anthology")
    outputs = []
    for run in ("one", "two"):
        snapshot = read_snapshot(root)
        write_outputs(resolve(snapshot, ResolveSettings()), snapshot, tmp_path / run)
        outputs.append((tmp_path / run / "proposals.json").read_bytes())
    assert outputs[0] == outputs[1]


def test_export_writes_the_merge_into_the_registry(tmp_path: Path) -> None:
    from pipeline.cli import main

    root = _variants_snapshot(tmp_path / "anthology")
    base = ["--anthology", str(root), "--no-cache"]
    assert main(["-q", "resolve", *base, "--out", str(tmp_path / "res")]) == 0
    assert main(["-q", "export", *base, "--resolution", str(tmp_path / "res"), "--out",
                 str(tmp_path / "exported")]) == 0
    exported = read_snapshot(tmp_path / "exported")
    hector = exported.mentions[exported.mentions["last"].str.startswith("Mart")]
    assert set(hector["slug"]) == {"hector-martinez", "hector-martinez-alonso"}
    # One person, by the legacy rules: the variant is listed under the canonical name.
    assert hector["person"].nunique() == 1
    [person] = [p for p in exported.registry.persons.values()
                if any(n.last == "Martinez" for n in p.names)]
    assert [str(n) for n in person.names] == ["Héctor Martínez Alonso", "Hector Martinez"]
    assert hector["id"].isna().all()  # the registry says it; no id needed in the XML
    kowalczyk = exported.mentions[exported.mentions["last"] == "Kowalczyk"]
    assert kowalczyk["person"].nunique() == 2
    summary = (tmp_path / "res" / "pr-summary-legacy.md").read_text()
    assert "## Name variants merged (1 person)" in summary


def test_export_can_leave_variants_out(tmp_path: Path) -> None:
    from pipeline.cli import main

    root = _variants_snapshot(tmp_path / "anthology")
    base = ["--anthology", str(root), "--no-cache"]
    assert main(["-q", "resolve", *base, "--out", str(tmp_path / "res")]) == 0
    assert main(["-q", "export", *base, "--resolution", str(tmp_path / "res"), "--out",
                 str(tmp_path / "exported"), "--no-variants"]) == 0
    exported = read_snapshot(tmp_path / "exported")
    hector = exported.mentions[exported.mentions["last"].str.startswith("Mart")]
    assert hector["person"].nunique() == 2


def test_export_current_format_lists_the_names_of_one_person(tmp_path: Path) -> None:
    from pipeline.cli import main

    root = _variants_snapshot(tmp_path / "anthology")
    migrated = tmp_path / "migrated"
    assert main(["-q", "migrate", "--anthology", str(root), "--no-cache", "--out",
                 str(migrated)]) == 0
    base = ["--anthology", str(migrated), "--no-cache"]
    assert main(["-q", "resolve", *base, "--out", str(tmp_path / "res")]) == 0
    assert main(["-q", "export", *base, "--resolution", str(tmp_path / "res"), "--out",
                 str(tmp_path / "exported")]) == 0
    exported = read_snapshot(tmp_path / "exported")
    assert exported.registry.format == "people-json"
    hector = exported.mentions[exported.mentions["last"].str.startswith("Mart")]
    [person] = hector["person"].unique()
    assert not person.endswith("/unverified")
    assert {str(n) for n in exported.registry.persons[person].names} == {
        "Héctor Martínez Alonso", "Hector Martinez"}


def test_variant_evaluation_as_a_user_hides_the_registry_and_recovers_the_pair(
        tmp_path: Path) -> None:
    from pipeline.evaluate.variants import VariantGold, evaluate_variants_as_user

    root = _variants_snapshot(tmp_path / "anthology")
    (root / "yaml" / "name_variants.yaml").write_text(
        "- canonical: {first: Héctor, last: Martínez Alonso}\n"
        "  id: hector-martinez-alonso\n"
        "  variants:\n  - {first: Hector, last: Martinez}\n", encoding="utf-8")
    snapshot = read_snapshot(root)
    gold = VariantGold.of(snapshot.mentions, snapshot.registry)
    assert ("hector-martinez", "hector-martinez-alonso") in gold.pairs
    report = evaluate_variants_as_user(snapshot, tmp_path / "work", tmp_path / "cache", 42)
    assert report["persons"]["confirmed"] == 1 and report["persons"]["errors"] == 0
    assert report["persons"]["recall"] == round(1 / len(gold.pairs), 4)
    # The copy really lost the variant list: its registry lists one name per person.
    copy = read_snapshot(tmp_path / "work" / "anthology")
    assert all(len(p.names) == 1 for p in copy.registry.persons.values())


def test_graphs_writes_the_variant_links_for_gephi(tmp_path: Path) -> None:
    import networkx as nx

    from pipeline.cli import main

    root = _variants_snapshot(tmp_path / "anthology")
    assert main(["-q", "graphs", "--anthology", str(root), "--no-cache", "--out",
                 str(tmp_path / "graphs")]) == 0
    graph = nx.read_gexf(tmp_path / "graphs" / "variants.gexf")
    labels = nx.get_node_attributes(graph, "label")
    hector = [n for n, label in labels.items() if label == "Héctor Martínez Alonso"]
    assert hector
    [(_, other, data)] = list(graph.edges(hector[0], data=True))
    assert labels[other] == "Hector Martinez" and data["decision"] == "merge"
