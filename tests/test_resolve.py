"""The resolve and evaluate stages end to end on generated snapshots."""

from __future__ import annotations

import io
import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builder import Author, Paper, Volume, common_name_fillers, two_wei_zhangs, write_snapshot
from hypothesis import given
from hypothesis import strategies as st

from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main
from pipeline.evaluate.run import EvalSettings, evaluate
from pipeline.resolve import run
from pipeline.resolve.clustering import block_rows_of
from pipeline.resolve.outputs import proposals_json, table_csv, write_outputs
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
    write_outputs(resolution, tmp_path)
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


REGISTRY_ORCID, OTHER_ORCID = "0000-0002-1825-0097", "0000-0001-5109-3700"


def _registered_wei_zhang(root: Path, with_ids: bool) -> Path:
    """The two Wei Zhangs of `two_wei_zhangs`, the parsing one registered as
    wei-zhang-tsinghua with an ORCID (and, `with_ids`, that id on its 2015-2016 papers);
    its 2019 paper carries another ORCID, so it is someone else, whatever the coauthors say."""
    volumes = []
    nlp = [Author("Alice", "Nakamura"), Author("Bruno", "Oliveira"), Author("Chen", "Hua")]
    speech = [Author("Dmitri", "Petrov"), Author("Eva", "Lindqvist")]
    for year in range(2015, 2021):
        wei = Author("Wei", "Zhang", id="wei-zhang-tsinghua" if with_ids and year <= 2016
                     else None, orcid=OTHER_ORCID if year == 2019 else None)
        volumes.append(Volume(f"{year}.tiny", "main", year, "tiny", [
            Paper(f"Neural parsing of treebanks part {year}",
                  [wei, nlp[year % 3], nlp[(year + 1) % 3]], "Dependency parsing, treebanks."),
            Paper(f"Acoustic models for speech recognition {year}",
                  [speech[year % 2], Author("Wei", "Zhang")], "Acoustic models for speech.")]))
    volumes.append(common_name_fillers("Wei", "Zhang"))
    registry = ("- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-tsinghua\n"
                f"  orcid: {REGISTRY_ORCID}\n")
    return write_snapshot(root, volumes, registry)


@pytest.mark.parametrize("with_ids", [True, False])
def test_a_mention_with_another_orcid_never_goes_to_a_registry_person(
        tmp_path: Path, with_ids: bool) -> None:
    """With the person's id on other papers (the id brings the registry's ORCID into the
    split's constraints), or with no id at all (the name's one registry person is not given
    to a cluster carrying another ORCID). Found on the full snapshot in session 11: 11
    mentions given to a registry person whose ORCID is not theirs."""
    snapshot = read_snapshot(_registered_wei_zhang(tmp_path / "anthology", with_ids))
    resolution = resolve(snapshot, ResolveSettings(names=("wei-zhang",)))
    person = resolution.assignments.set_index("paper")["person"]
    assert person["2019.tiny-main.1"] != "wei-zhang-tsinghua"
    if with_ids:
        assert person["2015.tiny-main.1"] == "wei-zhang-tsinghua"


def test_a_mention_with_a_registry_person_s_orcid_never_joins_another_person_s_id(
        tmp_path: Path) -> None:
    """The registry gives yang-liu-thu an ORCID that six papers carry, and three papers of
    the same coauthors carry the id yang-liu-other: the ORCID stands for its person's id,
    so the two never join (a helper found all nine given to yang-liu-other in session 13)."""
    lab = [Author("Alice", "Nakamura"), Author("Bruno", "Oliveira")]
    volumes = []
    for year in (2019, 2020, 2021):
        volumes.append(Volume(f"{year}.tiny", "main", year, "tiny", [
            Paper(f"Parsing {year}", [Author("Yang", "Liu", orcid=REGISTRY_ORCID), *lab],
                  "Dependency parsing."),
            Paper(f"More parsing {year}", [Author("Yang", "Liu", orcid=REGISTRY_ORCID),
                                           *lab], "Dependency parsing."),
            Paper(f"Other parsing {year}", [Author("Yang", "Liu", id="yang-liu-other"),
                                            *lab], "Dependency parsing.")]))
    volumes.append(common_name_fillers("Yang", "Liu"))
    registry = ("- canonical: {first: Yang, last: Liu}\n  id: yang-liu-thu\n"
                f"  orcid: {REGISTRY_ORCID}\n"
                "- canonical: {first: Yang, last: Liu}\n  id: yang-liu-other\n")
    snapshot = read_snapshot(write_snapshot(tmp_path / "anthology", volumes, registry))
    resolution = resolve(snapshot, ResolveSettings(names=("yang-liu",)))
    assignments = resolution.assignments
    person = assignments.set_index(["paper"])["person"]
    for year in (2019, 2020, 2021):
        assert person[f"{year}.tiny-main.1"] == person[f"{year}.tiny-main.2"] == "yang-liu-thu"
        assert person[f"{year}.tiny-main.3"] == "yang-liu-other"


def test_a_name_given_twice_is_resolved_once(wei_zhangs: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    args = ["resolve", "--anthology", str(wei_zhangs), "--no-cache", "--name", "wei-zhang"]
    assert main([*args, "--out", str(tmp_path / "once")]) == 0
    assert main([*args, "--name", "wei-zhang", "--out", str(tmp_path / "twice")]) == 0
    assert "resolving the 1 name(s) given by --name" in caplog.text
    for name in ("assignments.csv", "proposals.json"):
        assert (tmp_path / "once" / name).read_bytes() == (tmp_path / "twice" / name).read_bytes()


def test_proposals_json_is_what_the_standard_library_writes() -> None:
    splits = [{"slug": "héctor-martínez", "confidence": np.float64(0.8125), "papers": [],
               "evidence": {"b": [1, {"x": []}], "a": {}}, "count": np.int64(3),
               "share": 0.25, "text": 'quote " and </tag> \u2028'}]
    variants = {"merges": [{"z": 1.5, "y": None, "x": True}], "similar": []}
    assert proposals_json(splits, variants) == json.dumps(
        {"splits": splits, "variants": variants}, indent=2, ensure_ascii=False,
        sort_keys=True, default=lambda value: value.item()) + "\n"


@pytest.mark.parametrize("number", [float("nan"), np.float32("inf"), -float("inf")])
def test_proposals_json_refuses_a_number_that_is_not_finite(number: float) -> None:
    # msgspec alone writes NaN and infinities as `null`, silently.
    splits = [{"slug": "x", "evidence": {"b": [1, {"score": number}]}}]
    with pytest.raises(ValueError, match="not a finite number"):
        proposals_json(splits, {"merges": [], "similar": []})


_LEAVES = st.one_of(st.floats(), st.integers(-2**63, 2**64 - 1), st.text(), st.none(),
                   st.booleans(), st.sampled_from([0xCB7FF0, 0xCB7FF8000000, 0xCBFFFF]))


def _has_non_finite(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return isinstance(value, float) and not math.isfinite(value)


@given(st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=4), max_leaves=20))
def test_proposals_json_refuses_exactly_the_numbers_that_are_not_finite(value: object) -> None:
    # The walk runs only where the MessagePack bytes may hold one (integers may look so).
    splits = [{"slug": "x", "value": value}]
    if _has_non_finite(value):
        with pytest.raises(ValueError, match="not a finite number"):
            proposals_json(splits, {"merges": [], "similar": []})
    else:
        assert json.loads(proposals_json(splits, {"merges": [], "similar": []}))


def test_table_csv_writes_what_pandas_float_format_writes() -> None:
    table = pd.DataFrame({
        "name": ["a,b", 'q"uote', None, "plain"],
        "score": [0.12345, float("nan"), -0.0, 1e20],
        "count": [1, 2, 3, 4],
        "maybe": pd.array([1, None, 3, 4], dtype="Int32"),
        "nullable": pd.array([0.5, None, 2.0, 3.25], dtype="Float64"),
        "flag": [True, False, True, False]})
    expected = io.StringIO()
    table.to_csv(expected, index=False, float_format="%.4f", lineterminator="\n")
    assert table_csv(table) == expected.getvalue()


def test_block_rows_of_keeps_table_order_per_slug() -> None:
    mentions = pd.DataFrame({"slug": ["b", "a", "c", "b", "a", None, "b"]})
    rows = block_rows_of(mentions, ["b", "a", "z", "b"])
    assert list(rows) == ["b", "a", "z"]
    assert {slug: found.tolist() for slug, found in rows.items()} == {
        "b": [0, 3, 6], "a": [1, 4], "z": []}


def test_a_snapshot_where_no_name_is_split_gives_empty_tables(tmp_path: Path) -> None:
    # A helper's three small real volumes ended in AttributeError: the empty table of
    # clusters had no string column to read the names from.
    # Every name on one paper: none to split.
    papers = [Paper(f"Paper {k}", [Author(f"Given{k}", f"Family{k}"), Author(f"Ana{k}", "Lund")])
              for k in range(3)]
    root = write_snapshot(tmp_path / "anthology", [Volume("2020.tiny", "main", 2020, "tiny",
                                                          papers)])
    assert main(["-q", "resolve", "--anthology", str(root), "--no-cache", "--out",
                 str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert json.loads((out / "proposals.json").read_text())["splits"] == []
    assert pd.read_csv(out / "placements.csv").empty
    assert set(pd.read_csv(out / "assignments.csv")["status"]) <= {"unchanged"}


def test_an_id_on_one_mention_of_a_name_too_rare_to_split_reaches_the_others(
        tmp_path: Path) -> None:
    """One "A. Waibelino" carries the id of the registry's Alex Waibelino, the other two
    carry none, and the name is so rare that every pair of its mentions joins. A name
    attributed today to two persons is always resolved, so the two follow the id. Skipped
    as too rare to split, they stayed on a page of their own (on the shared snapshot, 15
    mentions of 7 names, with the pair model's bound made exact in session 26)."""
    lab = [Author("Alice", "Nakamura"), Author("Bruno", "Oliveira")]
    papers = [Paper(f"Speech translation {k}",
                    [Author("A.", "Waibelino", id="alex-waibelino" if k == 0 else None), *lab],
                    "Speech translation.") for k in range(3)]
    # Others with names of their own, so that one name among them is rare.
    others = [Paper(f"Other {k}", [Author(f"Given{k}", f"Family{k}")]) for k in range(300)]
    registry = "- canonical: {first: Alex, last: Waibelino}\n  id: alex-waibelino\n"
    snapshot = read_snapshot(write_snapshot(tmp_path / "anthology", [
        Volume("1993.tiny", "main", 1993, "tiny", papers),
        Volume("1994.tiny", "main", 1994, "tiny", others)], registry))
    resolution = resolve(snapshot, ResolveSettings())
    commonness = resolution.name_features.loc["a-waibelino", "commonness"]
    assert resolution.pair_model is not None
    assert commonness < resolution.pair_model.rarest_splittable(0.0)
    assert "a-waibelino" in resolution.resolved_names
    person = resolution.assignments.set_index("paper")["person"]
    assert (person[[f"1993.tiny-main.{k}" for k in (1, 2, 3)]] == "alex-waibelino").all()


@given(st.lists(st.tuples(st.sampled_from(["ann-lee", "bo-li", "cy-wu"]),
                          st.sampled_from(["p1", "p2", "p3"]),
                          st.sampled_from([None, "x", "y", "catch-all"]),
                          st.sampled_from([None, "0000-0001", "0000-0002"]),
                          st.sampled_from(["ann-lee", "bo-li", "other"])), max_size=30),
       st.sets(st.sampled_from(["ann-lee", "bo-li", "cy-wu"])))
def test_must_split_flags_read_only_each_name_s_own_mentions(
        rows: list[tuple[str, str, str | None, str | None, str]], names: set[str]) -> None:
    # A night computes them from the mentions of the names it splits again only.
    mentions = pd.DataFrame(rows, columns=["slug", "paper", "id", "orcid", "person"]).assign(
        role="author")
    own = mentions[mentions["slug"].isin(names)]
    for flags in (lambda frame: run.constrained_names(frame, frozenset({"catch-all"})),
                  run.several_persons_names):
        whole, theirs = flags(mentions), flags(own)
        assert theirs.to_dict() == whole[whole.index.isin(names)].to_dict()
