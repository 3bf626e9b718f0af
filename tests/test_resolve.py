"""The resolve and evaluate stages end to end on generated snapshots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from builder import two_wei_zhangs

from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main
from pipeline.evaluate.run import EvalSettings, evaluate
from pipeline.resolve.outputs import write_outputs
from pipeline.resolve.proposals_format import check_proposals
from pipeline.resolve.run import ResolveSettings, resolve
from pipeline.resolve.split_proposals import pinned_by


@pytest.fixture
def wei_zhangs(tmp_path: Path) -> Path:
    return two_wei_zhangs(tmp_path / "anthology")


def test_two_people_with_one_name_are_split_and_a_prolific_one_is_not(wei_zhangs: Path
                                                                       ) -> None:
    snapshot = read_snapshot(wei_zhangs)
    settings = ResolveSettings(names=("wei-zhang", "ingrid-solberg"))
    resolution = resolve(snapshot, settings)
    a = resolution.assignments
    wei = a[a["last"] == "Zhang"].merge(snapshot.papers[["paper", "title"]], on="paper")
    parsing = set(wei.loc[wei["title"].str.startswith("Neural"), "person"])
    speech = set(wei.loc[wei["title"].str.startswith("Acoustic"), "person"])
    assert len(parsing) == 1 and len(speech) == 1 and parsing != speech
    assert parsing | speech == {"wei-zhang", "wei-zhang-stanford"}
    assert a.loc[a["last"] == "Solberg", "person"].nunique() == 1
    assert resolution.models["pair_model"]["kind"] == "hand-set rule"  # too small to learn


def test_outputs_are_deterministic(wei_zhangs: Path, tmp_path: Path) -> None:
    args = ["-q", "resolve", "--anthology", str(wei_zhangs), "--no-cache", "--name",
            "wei-zhang", "--name", "ingrid-solberg"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two")]) == 0
    for name in ("assignments.csv", "proposals.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    header = (tmp_path / "one" / "assignments.csv").read_text().splitlines()[0]
    assert header == "paper,role,position,first,last,person,status,cluster,confidence"


def test_proposals_carry_evidence(wei_zhangs: Path, tmp_path: Path) -> None:
    snapshot = read_snapshot(wei_zhangs)
    resolution = resolve(snapshot, ResolveSettings(names=("wei-zhang",)))
    write_outputs(resolution, snapshot, tmp_path)
    import json

    document = json.loads((tmp_path / "proposals.json").read_text())
    check_proposals(document, tmp_path / "proposals.json")  # what review and graphs accept
    [proposal] = document["splits"]
    assert proposal["name"] == "wei-zhang" and len(proposal["clusters"]) == 2
    stanford = [c for c in proposal["clusters"] if c["person"] == "wei-zhang-stanford"][0]
    assert stanford["evidence"]["affiliations"][0]["value"] == "Stanford University"
    assert stanford["evidence"]["years"] == [2015, 2020]
    assert {c["value"] for c in stanford["evidence"]["coauthors"]} == {
        "Dmitri Petrov", "Eva Lindqvist", "Farid Haddad"}
    other = [c for c in proposal["clusters"] if c is not stanford][0]
    assert proposal["display"] == "Wei Zhang"
    assert 0.0 <= stanford["confidence"] <= 1.0 and stanford["size"] == len(stanford["papers"])
    for paper in stanford["papers"]:
        assert paper["link"] == f"https://aclanthology.org/{paper['paper']}/"
        assert paper["title"] and paper["year"] and paper["role"] == "author"
        assert paper["as"] == "Wei Zhang" and paper["nearest"] == other["cluster"]
        assert paper["margin"] > 0  # the two people are well apart
    assert {p["pinned"] for c in proposal["clusters"] for p in c["papers"]} == {None}


def test_a_mention_is_pinned_by_a_specific_id_before_an_orcid_never_by_a_catch_all() -> None:
    ids = pd.Series(["wei-zhang-thu", "wei-zhang", None, None, "wei-zhang"])
    orcids = pd.Series([None, None, "0000-0002-1825-0097", None, "0000-0002-1825-0097"])
    assert pinned_by(ids, orcids, frozenset({"wei-zhang"})).tolist() == [
        "id", None, "orcid", None, "orcid"]


def test_evaluation_blinds_and_scores(tmp_path: Path) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    for path in (root / "xml").glob("*.xml"):
        text = path.read_text()
        text = text.replace('<author><first>Wei</first><last>Zhang</last><affiliation>Tsinghua',
                            '<author id="wei-zhang-thu"><first>Wei</first><last>Zhang</last>'
                            '<affiliation>Tsinghua')
        text = text.replace('<author><first>Wei</first><last>Zhang</last><affiliation>Stanford',
                            '<author id="wei-zhang-su"><first>Wei</first><last>Zhang</last>'
                            '<affiliation>Stanford')
        path.write_text(text)
    (root / "yaml" / "name_variants.yaml").write_text(
        "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-thu\n"
        "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-su\n")
    report = evaluate(read_snapshot(root), EvalSettings())
    assert report["gold"] == {"mentions": 12, "blocks": 1, "multi_identity_blocks": 1,
                              "multi_identity_mentions": 12}
    assert report["pipeline"]["multi"]["b3_f1"] == 1.0
    assert report["baselines"]["one_cluster_per_name"]["multi"]["b3_f1"] < 0.7
