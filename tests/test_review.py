"""Review pages (`anthology-resolve review`) and the decisions they write, read by
`export --decisions`, on a made-up snapshot with two people named Wei Zhang."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from builder import two_wei_zhangs

from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("review")
    anthology = two_wei_zhangs(root / "anthology")
    resolution = root / "resolution"
    assert main(["-q", "resolve", "--anthology", str(anthology), "--no-cache", "--name",
                 "wei-zhang", "--out", str(resolution)]) == 0
    return anthology, resolution


def _review(resolved: tuple[Path, Path], out: Path, *extra: str) -> int:
    anthology, resolution = resolved
    return main(["-q", "review", "--anthology", str(anthology), "--no-cache",
                 "--resolution", str(resolution), "--out", str(out), *extra])


def page_data(page: Path) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>',
                      page.read_text(encoding="utf-8"), re.S)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1).replace("<\\/", "</"))
    return data


def test_site_has_an_index_a_page_per_split_name_and_its_assets(
        resolved: tuple[Path, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert _review(resolved, site) == 0
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="names/wei-zhang.html"' in index and 'id="search"' in index
    page = (site / "names" / "wei-zhang.html").read_text(encoding="utf-8")
    proposals = json.loads((resolved[1] / "proposals.json").read_text())
    [split] = proposals["splits"]
    assert page.count('<section class="group"') == len(split["clusters"]) == 2
    for cluster in split["clusters"]:
        for paper in cluster["papers"]:
            assert paper["title"] in page and f'href="{paper["link"]}"' in page
    assert "<summary>Abstract</summary>" in page and "Fixing paper assignments" in page
    assert "https://" not in page.replace("https://aclanthology.org/", "")  # no CDNs
    data = page_data(site / "names" / "wei-zhang.html")
    assert data["registry"] == "legacy" and len(data["groups"]) == 2  # type: ignore[arg-type]
    assert (site / "assets" / "review.js").is_file() and (site / "assets" / "review.css").is_file()
    # Deterministic, and an earlier site is replaced only with --force.
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert _review(resolved, site) == 2
    assert _review(resolved, site, "--force") == 0
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == first


def test_review_refuses_a_directory_it_did_not_write(resolved: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert _review(resolved, mine, "--force") == 2
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def _decisions(path: Path, decisions: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"format": "anthology-resolve decisions", "version": 1,
                                "decisions": decisions}))
    return path


def _export(resolved: tuple[Path, Path], out: Path, decisions: Path) -> int:
    anthology, resolution = resolved
    return main(["-q", "export", "--anthology", str(anthology), "--no-cache", "--resolution",
                 str(resolution), "--out", str(out), "--decisions", str(decisions),
                 "--summary", str(out.parent / "summary.md")])


def test_export_applies_a_decision_to_move_a_paper_to_a_new_person(
        resolved: tuple[Path, Path], tmp_path: Path) -> None:
    proposals = json.loads((resolved[1] / "proposals.json").read_text())
    [split] = proposals["splits"]
    moved = split["clusters"][0]["papers"][0]
    decision = {"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [
        {"paper": moved["paper"], "role": moved["role"], "position": moved["position"]}]}
    out = tmp_path / "exported"
    assert _export(resolved, out, _decisions(tmp_path / "d.json", [decision])) == 0
    exported = read_snapshot(out)
    person = exported.mentions.set_index(["paper", "role", "position"])["person"]
    assert person[(moved["paper"], moved["role"], moved["position"])] == "wei-zhang-9"
    assert "wei-zhang-9" in exported.registry.persons
    others = [p for p in split["clusters"][0]["papers"][1:]]
    assert {person[(p["paper"], p["role"], p["position"])] for p in others} == {
        split["clusters"][0]["person"]}


@pytest.mark.parametrize(("decisions", "message"), [
    ("not json", "not valid JSON"),
    ({"format": "something else"}, "not a decisions file"),
    ({"format": "anthology-resolve decisions", "version": 7, "decisions": []}, "version"),
    ({"format": "anthology-resolve decisions", "version": True, "decisions": []}, "version"),
    ('{"format": "anthology-resolve decisions", "version": 1, "decisions": [], '
     '"decisions": []}', 'the key "decisions" appears twice'),
    ([{"name": "wei-zhang", "person": "w", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "2 to 100 characters"),
    ([{"name": "wei-zhang", "person": "0000-0002-1825-0097", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "an ORCID, not a person id"),
    ([{"name": "wei-zhang", "person": "Bad Id!", "mentions": [
        {"paper": "2015.tiny-1.1", "role": "author", "position": 0}]}], "not a valid new id"),
    ([{"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [
        {"paper": "2015.tiny-1.99", "role": "author", "position": 0}]}],
     "not a mention of the resolution"),
    ([{"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [
        {"paper": "2015.tiny-1.1", "role": "author", "position": "first"}]}],
     "needs paper (text), role"),
    ([{"name": "wei-zhang", "person": "wei-zhang/unverified", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "only the current registry format (people.json) has"),
    ([{"name": "wei-zhang", "person": "w" * 101, "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "2 to 100 characters"),
    ([{"name": "wei-zhang", "person": "9wei", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "starting with a letter"),  # the current format's rule, so a legacy export migrates
    ([{"name": "wei-zhang", "persons": "wei-zhang-9", "person": None, "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     'decisions[0]: unknown key "persons"'),
    ([{"name": "wei-zhang", "person": None, "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0, "note": "x"}]}],
     'decisions[0].mentions[0]: unknown key "note"'),
    ([{"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [
        {"paper": "2015.tiny-1.1", "role": "author", "position": 1.0}]}],
     "a whole number from 0, no decimal point"),
    ([{"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [
        {"paper": "2015.tiny-1.1", "role": "author", "postion": 1}]}],
     'no decimal point); unknown key "postion"'),
    # One new id for two names would make one person of them.
    ([{"name": "wei-zhang", "person": "zhang-or-solberg", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]},
      {"name": "ingrid-solberg", "person": "zhang-or-solberg", "mentions": [
          {"paper": "2015.tiny-main.1", "role": "author", "position": 1}]}],
     "decisions[1].person: a new id decisions[0] gives to wei-zhang, not to ingrid-solberg"),
    # Another name's slug is that name's page: as a "new" id it would merge two people.
    ([{"name": "wei-zhang", "person": "ingrid-solberg", "mentions": [
        {"paper": "2015.tiny-main.1", "role": "author", "position": 0}]}],
     "the id of the mentions of ingrid-solberg in the snapshot"),
])
def test_bad_decisions_are_refused_with_the_place_and_nothing_is_written(
        resolved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        decisions: object, message: str) -> None:
    path = tmp_path / "decisions.json"
    if isinstance(decisions, list):
        _decisions(path, decisions)  # type: ignore[arg-type]
    else:
        path.write_text(decisions if isinstance(decisions, str) else json.dumps(decisions))
    out = tmp_path / "exported"
    assert _export(resolved, out, path) == 2
    error = capsys.readouterr().err
    assert str(path) in error and message in error
    assert not out.exists() and not (tmp_path / "summary.md").exists()


@pytest.mark.parametrize("damage", ["year", "display", "variants", "confidence", "nan",
                                    "infinity", "mentions", "1e999", "negative size", "size 10^400",
                                    "years backwards", "year 10^20", "link confidence",
                                    "fit 5", "pinned over size"])
def test_review_graphs_and_export_refuse_proposals_of_another_shape(
        resolved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        damage: str) -> None:
    anthology, resolution = resolved
    document = json.loads((resolution / "proposals.json").read_text())
    split = document["splits"][0]
    place = "proposals.json"
    if damage == "year":
        split["clusters"][0]["papers"][0]["year"] = "2020x"
    elif damage == "display":
        del split["display"]
    elif damage == "variants":
        document["variants"] = []
    elif damage == "nan":  # Python writes NaN; JSON has none, and review showed "nan"
        split["clusters"][0]["papers"][0]["fit"] = float("nan")
        place = "$.splits[0].clusters[0].papers[0].fit must be a finite number"
    elif damage == "infinity":  # under a key that would write to the terminal
        split["\x1b[31mred"] = {"x": -float("inf")}
        place = '$.splits[0]["\\u001b[31mred"].x must be a finite number'
        assert "\x1b" not in place
    elif damage == "mentions":  # a merge's name counts must be whole numbers
        document["variants"]["merges"] = [{"persons": ["a", "b"], "links": [], "names": [
            {"first": "Wei", "last": "Zhang", "mentions": "many"}]}]
    elif damage == "1e999":  # read as infinity by Python, without the NaN hook
        split["ambiguity"] = 1e999
    elif damage == "negative size":
        split["clusters"][0]["size"] = -2
    elif damage == "size 10^400":  # review converted it to float: OverflowError
        split["clusters"][0]["size"] = 10 ** 400
    elif damage == "years backwards":
        split["clusters"][0]["evidence"]["years"] = [2020, 1900]
        place = "evidence.years must be [first, last]"
    elif damage == "year 10^20":
        split["clusters"][0]["papers"][0]["year"] = 10 ** 20
    elif damage == "link confidence":
        document["variants"]["similar"] = [{"from": "a", "to": "b", "confidence": 5.0}]
    elif damage == "fit 5":  # a mean same-person probability
        split["clusters"][0]["papers"][0]["fit"] = 5.0
        place = "$.splits[0].clusters[0].papers[0].fit"
    elif damage == "pinned over size":
        split["clusters"][0]["pinned"] = split["clusters"][0]["size"] + 1
        place = "$.splits[0].clusters[0].pinned must not exceed its size"
    else:
        split["clusters"][0]["confidence"] = 7
    broken = tmp_path / "resolution"
    broken.mkdir()
    text = json.dumps(document)
    if damage == "1e999":
        assert "Infinity" in text
        text = text.replace("Infinity", "1e999")
        place = "$.splits[0].ambiguity must be a finite number"
    (broken / "proposals.json").write_text(text)
    (broken / "assignments.csv").write_bytes((resolution / "assignments.csv").read_bytes())
    for command in ("review", "graphs", "export"):
        out = tmp_path / command
        assert main(["-q", command, "--anthology", str(anthology), "--no-cache",
                     "--resolution", str(broken), "--out", str(out)]) == 2
        assert place in capsys.readouterr().err
        assert not out.exists()
    assert not list(broken.glob("pr-summary*"))


def test_a_mention_decided_as_today_goes_to_the_catch_all_of_a_name_with_persons(
        resolved: tuple[Path, Path], tmp_path: Path) -> None:
    proposals = json.loads((resolved[1] / "proposals.json").read_text())
    [split] = proposals["splits"]
    assert {c["status"] for c in split["clusters"]} == {"new"}
    paper = split["clusters"][0]["papers"][0]
    decision = {"name": "wei-zhang", "person": None, "mentions": [
        {"paper": paper["paper"], "role": paper["role"], "position": paper["position"]}]}
    out = tmp_path / "exported"
    assert _export(resolved, out, _decisions(tmp_path / "d.json", [decision])) == 0
    exported = read_snapshot(out)
    person = exported.mentions.set_index(["paper", "role", "position"])["person"]
    now = person[(paper["paper"], paper["role"], paper["position"])]
    assert now in exported.registry.catch_all_ids()


NLP_ORCID, SPEECH_ORCID = "0000-0002-1825-0097", "0000-0001-5109-3700"


@pytest.fixture(scope="module")
def resolved_with_orcids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("review-orcids")
    anthology = two_wei_zhangs(root / "anthology", NLP_ORCID, SPEECH_ORCID)
    resolution = root / "resolution"
    assert main(["-q", "resolve", "--anthology", str(anthology), "--no-cache", "--name",
                 "wei-zhang", "--out", str(resolution)]) == 0
    return anthology, resolution


def _orcid_mentions(resolved: tuple[Path, Path]) -> tuple[dict[str, list[dict[str, object]]],
                                                           dict[str, str]]:
    """The ORCID-carrying Wei Zhang mentions by ORCID, and the person of each ORCID's
    cluster in the resolution."""
    anthology, resolution = resolved
    mentions = read_snapshot(anthology).mentions
    with_orcid = mentions[(mentions["slug"] == "wei-zhang") & mentions["orcid"].notna()]
    by_orcid: dict[str, list[dict[str, object]]] = {}
    for row in with_orcid.itertuples():
        by_orcid.setdefault(str(row.orcid), []).append(
            {"paper": row.paper, "role": row.role, "position": int(row.position)})
    assignments = pd.read_csv(resolution / "assignments.csv", dtype=str)
    person = assignments.set_index("paper")["person"]
    persons = {orcid: str(person[found[0]["paper"]]) for orcid, found in by_orcid.items()}
    return by_orcid, persons


@pytest.mark.parametrize("case", ["second orcid", "orcid split"])
def test_decisions_that_break_one_orcid_one_person_are_refused(
        resolved_with_orcids: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], case: str) -> None:
    by_orcid, persons = _orcid_mentions(resolved_with_orcids)
    assert len(by_orcid[NLP_ORCID]) == len(by_orcid[SPEECH_ORCID]) == 2
    assert persons[NLP_ORCID] != persons[SPEECH_ORCID]
    if case == "second orcid":  # a speech paper joins the parsing person
        decision = {"name": "wei-zhang", "person": persons[NLP_ORCID],
                    "mentions": by_orcid[SPEECH_ORCID][:1]}
        message = f"would also have mentions with the ORCID {NLP_ORCID}"
    else:  # one of the two parsing papers with the ORCID goes to a new person
        decision = {"name": "wei-zhang", "person": "wei-zhang-9",
                    "mentions": by_orcid[NLP_ORCID][:1]}
        message = f"which mentions of {persons[NLP_ORCID]} also have"
    out = tmp_path / "exported"
    path = _decisions(tmp_path / "d.json", [decision])
    assert _export(resolved_with_orcids, out, path) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "decisions[0].mentions[0]" in error and message in error
    assert not out.exists() and not (tmp_path / "summary.md").exists()


@pytest.mark.parametrize("case", ["null", "null beside a new person"])
def test_leaving_one_mention_of_an_orcid_unattributed_is_refused(
        resolved_with_orcids: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], case: str) -> None:
    """`null` for one of the two parsing papers with the ORCID sends it to the name's
    catch-all (the name has persons), which splits that ORCID between a person and the
    catch-all; a `null` once hid the mention from the check."""
    by_orcid, _ = _orcid_mentions(resolved_with_orcids)
    first, second = by_orcid[NLP_ORCID]
    decisions: list[dict[str, object]] = [
        {"name": "wei-zhang", "person": None, "mentions": [first]}]
    if case == "null beside a new person":
        decisions.append({"name": "wei-zhang", "person": "wei-zhang-9", "mentions": [second]})
    out = tmp_path / "exported"
    path = _decisions(tmp_path / "d.json", decisions)
    assert _export(resolved_with_orcids, out, path) == 2
    error = capsys.readouterr().err
    assert "decisions[0].mentions[0]" in error and "splits one person" in error
    assert not out.exists() and not (tmp_path / "summary.md").exists()


@pytest.mark.parametrize(("registry_format", "person", "message"), [
    ("legacy", "wei-zhang/unverified", "only the current registry format"),
    ("current", "bo-li/unverified", "not the catch-all of wei-zhang"),
    ("current", "wei-zhang/unverified", None),
])
def test_an_unverified_id_must_be_the_name_s_own_in_the_current_format(
        registry_format: str, person: str, message: str | None) -> None:
    from types import SimpleNamespace

    from pipeline.export.decisions import _status
    registry = SimpleNamespace(format=registry_format, persons={})
    status = _status(person, "wei-zhang", registry, set(), {}, {}, {}, {})  # type: ignore[arg-type]
    if message is None:
        assert status == "unresolved"
    else:
        assert message in getattr(status, "message", "")


def test_a_new_person_given_all_mentions_of_an_orcid_gets_that_orcid(
        resolved_with_orcids: tuple[Path, Path], tmp_path: Path) -> None:
    by_orcid, _ = _orcid_mentions(resolved_with_orcids)
    decision = {"name": "wei-zhang", "person": "wei-zhang-9",
                "mentions": by_orcid[NLP_ORCID]}
    out = tmp_path / "exported"
    assert _export(resolved_with_orcids, out, _decisions(tmp_path / "d.json", [decision])) == 0
    exported = read_snapshot(out)
    assert exported.registry.persons["wei-zhang-9"].orcid == NLP_ORCID


def test_a_mention_with_an_orcid_goes_only_where_that_orcid_allows() -> None:
    from types import SimpleNamespace

    from pipeline.export.decision_orcids import orcid_clash as _orcid_clash

    mine, other = "0000-0002-1825-0097", "0000-0001-5109-3700"
    registry = SimpleNamespace(persons={
        "wei-zhang-stanford": SimpleNamespace(orcid=mine),
        "wei-zhang-mit": SimpleNamespace(orcid=other),
        "wei-zhang": SimpleNamespace(orcid=None)})
    owner = {mine: "wei-zhang-stanford", other: "wei-zhang-mit"}
    clash = _orcid_clash(mine, "wei-zhang", owner, registry)  # type: ignore[arg-type]
    assert clash is not None and "pinned by the ORCID" in clash
    assert _orcid_clash(mine, "wei-zhang-stanford", owner, registry) is None  # type: ignore[arg-type]
    unknown = "0000-0002-1694-233X"  # nobody's ORCID in the registry: free to move, but
    assert _orcid_clash(unknown, "wei-zhang", owner, registry) is None  # type: ignore[arg-type]
    clash = _orcid_clash(unknown, "wei-zhang-mit", owner, registry)  # type: ignore[arg-type]
    assert clash is not None and f"has the ORCID {other}" in clash  # not to another's
    assert _orcid_clash(None, "wei-zhang-mit", owner, registry) is None  # type: ignore[arg-type]


def test_a_mention_without_an_orcid_reads_as_none_not_nan() -> None:
    import numpy as np
    import pandas as pd

    from pipeline.export.decision_orcids import mention_orcids

    mentions = pd.DataFrame({"paper": ["a", "b"], "role": ["author", "author"],
                             "position": [0, 0], "orcid": [np.nan, "0000-0002-1825-0097"]})
    keys = pd.MultiIndex.from_tuples([("a", "author", 0), ("b", "author", 0)])
    assert mention_orcids(mentions, keys) == [None, "0000-0002-1825-0097"]


def _variants_page(resolved: tuple[Path, Path], tmp_path: Path,
                   merges: list[dict[str, object]]) -> str:
    """variants.html of `review` on the resolution with these variant merges instead."""
    anthology, resolution = resolved
    document = json.loads((resolution / "proposals.json").read_text())
    document["variants"]["merges"] = merges
    edited = tmp_path / "resolution"
    edited.mkdir()
    (edited / "proposals.json").write_text(json.dumps(document))
    (edited / "assignments.csv").write_bytes((resolution / "assignments.csv").read_bytes())
    assert main(["-q", "review", "--anthology", str(anthology), "--no-cache", "--resolution",
                 str(edited), "--out", str(tmp_path / "review")]) == 0
    return (tmp_path / "review" / "variants.html").read_text()


def test_review_shows_a_merge_without_a_canonical_name(
        resolved: tuple[Path, Path], tmp_path: Path) -> None:
    """`"canonical": null`, which export takes, must not crash review (it read `.get` on it)."""
    page = _variants_page(resolved, tmp_path, [
        {"persons": ["a", "b"], "canonical": None, "names": [
            {"first": "W.", "last": "Zhang", "mentions": 1},
            {"first": "Wei", "last": "Zhang", "mentions": 2}]}])
    # The name cell shows the name export would choose (it was empty).
    assert '<th scope="row">Wei Zhang</th>' in page


def test_review_says_which_merges_spell_out_initials(
        resolved: tuple[Path, Path], tmp_path: Path) -> None:
    """Such a merge may have a low confidence: the page says why it is proposed."""
    link = {"from": "a", "to": "b", "names": ["d-moldovan", "dan-moldovan"],
            "kind": "abbreviation", "confidence": 0.6}
    page = _variants_page(resolved, tmp_path, [
        {"persons": ["a", "b"], "names": [{"first": "Dan", "last": "Moldovan", "mentions": 2}],
         "links": [{**link, "sole_expansion": True}]},
        {"persons": ["c", "d"], "names": [{"first": "Ann", "last": "Lee", "mentions": 2}],
         "links": [{**link, "names": ["a-lee", "ann-lee"], "sole_expansion": False}]}])
    [moldovan] = [row for row in page.split("<tr>") if "Dan Moldovan" in row]
    [lee] = [row for row in page.split("<tr>") if "Ann Lee" in row]
    assert "the only spelling-out of these initials" in moldovan
    assert "the only spelling-out of these initials" not in lee
