"""The nightly job on small made-up snapshots: what it recomputes, what it keeps, what it
reports, and that bad input or a broken state never costs the last night's results."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from builder import Author, Paper, Volume, two_wei_zhangs, write_snapshot
from hypothesis import given
from hypothesis import strategies as st

from pipeline import parallel
from pipeline.anthology import atomic, data_dir, snapshot, table_cache
from pipeline.anthology.snapshot import Snapshot, read_snapshot
from pipeline.cli import main
from pipeline.export.entries import read_assignments
from pipeline.nightly import inputs, night
from pipeline.nightly import state as nightly_state
from pipeline.nightly.fingerprints import (
    changed_names,
    mention_fingerprints,
    name_fingerprints,
)
from pipeline.nightly.report import changed_clusters, flipped, report_markdown
from pipeline.nightly.run import run_nightly
from pipeline.nightly.state import file_sha256
from pipeline.resolve import candidate_index, clustering, paper_text, run
from pipeline.resolve.candidate_index import KeptSearch
from pipeline.resolve.clustering import symmetric_matrix
from pipeline.resolve.files import RESOLUTION_FILES
from pipeline.resolve.pair_evidence import BlockEvidence, PairEvidence
from pipeline.resolve.settings import ResolveSettings
from pipeline.resolve.stable_ids import name_of_cluster, stable_labels

NAMES = ("wei-zhang", "ingrid-solberg")
SETTINGS = ResolveSettings(names=NAMES)
KEY = ["paper", "role", "position"]


def _mentions(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"paper": [p for p, _ in rows], "role": "author", "position": 0,
                         "cluster": [c for _, c in rows]})


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab#-1", max_size=6)), max_size=30))
def test_the_name_of_a_cluster_label_is_what_precedes_its_last_hash(
        labels: list[str | None]) -> None:
    cluster = pd.Series(labels, index=range(10, 10 + len(labels)), dtype=object)
    names = name_of_cluster(cluster)
    assert names.index.equals(cluster.index)
    for label, name in zip(labels, names):
        if label is None:
            assert pd.isna(name)
        else:
            assert name == label.rsplit("#", 1)[0]


def test_a_cluster_keeps_its_label_while_it_keeps_most_of_its_mentions() -> None:
    previous = _mentions([("p1", "a#0"), ("p2", "a#0"), ("p3", "a#0"), ("p4", "a#1"),
                          ("p5", "a#1"), ("p6", "a#2")])
    # Tonight Leiden numbers them differently: p4, p5 (all of a#1) come first.
    now = _mentions([("p4", "a#0"), ("p5", "a#0"), ("p7", "a#0"), ("p1", "a#1"),
                     ("p2", "a#1"), ("p3", "a#2"), ("p6", "a#3")])
    renamed = stable_labels(now["cluster"], now[KEY], previous)
    assert renamed["a#0"] == "a#1"  # holds 2 of a#1's 2 mentions
    assert renamed["a#1"] == "a#0"  # holds 2 of a#0's 3
    assert renamed["a#3"] == "a#2"  # holds a#2's one mention
    # p3 alone is no majority of a#0: a new label the name never had
    assert renamed["a#2"] == "a#3"
    assert len(set(renamed.values())) == len(renamed)


def test_a_mention_renamed_on_its_paper_does_not_take_its_old_name_s_label() -> None:
    previous = _mentions([("p1", "chen-li#12"), ("p2", "chen-li#12"), ("p3", "yang-liu#0")])
    # p1 and p2 now read "Yang Liu": the new yang-liu cluster holds all of chen-li#12.
    now = _mentions([("p1", "yang-liu#0"), ("p2", "yang-liu#0"), ("p3", "yang-liu#1")])
    renamed = stable_labels(now["cluster"], now[KEY], previous)
    assert all(label.startswith("yang-liu#") for label in renamed.values())
    assert renamed["yang-liu#1"] == "yang-liu#0"  # p3 keeps yang-liu#0


def test_half_of_a_cluster_is_not_enough_to_keep_its_label() -> None:
    previous = _mentions([("p1", "a#0"), ("p2", "a#0")])
    now = _mentions([("p1", "a#0"), ("p2", "a#1")])
    renamed = stable_labels(now["cluster"], now[KEY], previous)
    assert sorted(renamed.values()) == ["a#1", "a#2"]  # a#0 is retired, never reused


def test_names_with_no_earlier_mention_keep_their_labels() -> None:
    # A night whose split names are all new, on new papers: nothing to inherit (this
    # raised TypeError in pandas' comparison of the empty overlap until session 18).
    previous = _mentions([("p1", "a#0"), ("p2", "a#1")])
    now = _mentions([("p8", "z#0"), ("p9", "z#1"), ("p1", "y#0")])
    assert stable_labels(now["cluster"], now[KEY], previous) == {
        "z#0": "z#0", "z#1": "z#1", "y#0": "y#0"}


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3)), min_size=1, max_size=25),
       st.lists(st.tuples(st.integers(0, 24), st.sampled_from("ab"), st.integers(0, 3)),
                min_size=1, max_size=25, unique_by=lambda row: row[0]))
def test_earlier_rows_of_names_not_split_tonight_do_not_matter(
        before: list[tuple[str, int]], tonight: list[tuple[int, str, int]]) -> None:
    # stable_labels drops them first (a night splits a few names against every row).
    previous = _mentions([(f"p{i}", f"{name}#{k}") for i, (name, k) in enumerate(before)])
    now = _mentions([(f"p{i}", f"{name}#{k}") for i, name, k in tonight])
    names_now = {name for _, name, _ in tonight}
    only_theirs = previous[previous["cluster"].str[0].isin(names_now)]
    assert stable_labels(now["cluster"], now[KEY], previous) == stable_labels(
        now["cluster"], now[KEY], only_theirs.reset_index(drop=True))


def test_a_new_paper_changes_the_fingerprints_of_its_authors_only(tmp_path: Path) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    aside = tmp_path / "2020.tiny.xml"
    shutil.move(root / "xml" / "2020.tiny.xml", aside)
    before = name_fingerprints(read_snapshot(root))
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    snapshot = read_snapshot(root)
    now = name_fingerprints(snapshot)
    on_2020 = set(snapshot.mentions.loc[snapshot.mentions["paper"].str.startswith("2020."),
                                        "slug"])
    assert changed_names(before.to_dict(), now) == frozenset(on_2020)
    assert "wei-zhang" in on_2020 and len(now) > len(on_2020)
    # The same snapshot read again: the same fingerprints (nothing depends on order).
    assert name_fingerprints(read_snapshot(root)).equals(now)


@pytest.mark.parametrize(("old", "new", "changed"), [
    ("Tsinghua University", "Peking University", {"wei-zhang"}),
    ("Neural parsing of treebanks part 2017", "Neural parsing, part 2017",
     {"wei-zhang", "ingrid-solberg", "bruno-oliveira", "chen-hua"}),
    ("<first>Eva</first>", "<first>Eve</first>", {"eva-lindqvist", "eve-lindqvist",
                                                  "wei-zhang", "farid-haddad"}),
], ids=["an affiliation", "a title", "a coauthor's name"])
def test_an_edit_changes_the_fingerprints_of_the_names_that_read_it(
        tmp_path: Path, old: str, new: str, changed: set[str]) -> None:
    # Fingerprints start from the content hashes taken when a file is parsed and cached
    # with its rows: the edited file's rows are hashed again, the others come from the
    # cache as they were.
    root = two_wei_zhangs(tmp_path / "anthology")
    cache = tmp_path / "cache"
    before = name_fingerprints(read_snapshot(root, cache_dir=cache))
    volume = root / "xml" / "2017.tiny.xml"
    text = volume.read_text(encoding="utf-8")
    assert text.count(old) == 1
    volume.write_text(text.replace(old, new), encoding="utf-8")
    now = name_fingerprints(read_snapshot(root, cache_dir=cache))
    assert changed_names(before.to_dict(), now) == frozenset(changed)
    assert now.equals(name_fingerprints(read_snapshot(root)))  # as parsed without a cache


def test_content_hashes_do_not_depend_on_the_files_parsed_with_them(tmp_path: Path) -> None:
    # Each worker hashes its own batch of files; a night hashes the one file it parses.
    root = two_wei_zhangs(tmp_path / "anthology")
    paths = sorted((root / "xml").glob("*.xml"))
    together, _ = snapshot.parse_xml_files(paths, workers=1)
    for path in paths:
        alone, _ = snapshot.parse_xml_files([path], workers=1)
        for name in ("mentions", "papers"):
            rows = pc.equal(together[name]["file"], path.name)
            assert alone[name]["content_hash"].equals(
                together[name].filter(rows)["content_hash"])


def test_a_new_co_editor_changes_the_fingerprints_of_the_volume_s_editors(tmp_path: Path
                                                                          ) -> None:
    # An editor sits on the volume id; its pair features read the volume's front matter.
    root = two_wei_zhangs(tmp_path / "anthology")
    volume = root / "xml" / "2017.tiny.xml"

    def editors(second: str) -> None:
        text = volume.read_text(encoding="utf-8")
        start = text.index("<venue>tiny</venue>") + len("<venue>tiny</venue>")
        end = text.index("</meta>")
        volume.write_text(text[:start] + "<editor><first>Wei</first><last>Zhang</last>"
                          f"</editor><editor><first>{second}</first><last>Petrov</last>"
                          "</editor>" + text[end:end + len("</meta>")] + "<frontmatter/>"
                          + text[end + len("</meta>"):].replace("<frontmatter/>", ""),
                          encoding="utf-8")

    editors("Dmitri")
    snapshot = read_snapshot(root)
    before = name_fingerprints(snapshot)
    editor = ((snapshot.mentions["role"] == "editor")
              & (snapshot.mentions["slug"] == "wei-zhang")).to_numpy()
    assert editor.sum() == 1
    keys = mention_fingerprints(snapshot)
    editors("Anna")
    snapshot = read_snapshot(root)
    now = mention_fingerprints(snapshot)
    assert now[editor][0] != keys[editor][0]
    assert (now[~editor] == keys[~editor]).sum() == (~editor).sum() - 1  # and the co-editor
    assert changed_names(before.to_dict(), name_fingerprints(snapshot)) == frozenset(
        {"wei-zhang", "dmitri-petrov", "anna-petrov"})


def test_a_registry_edit_changes_the_fingerprint_of_the_names_it_touches(tmp_path: Path
                                                                        ) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    before = name_fingerprints(read_snapshot(root))
    (root / "yaml" / "name_variants.yaml").write_text(
        "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang-stanford\n", encoding="utf-8")
    now = name_fingerprints(read_snapshot(root))
    assert changed_names(before.to_dict(), now) == frozenset({"wei-zhang"})


def test_report_sections_compare_two_nights() -> None:
    before = _mentions([("p1", "a#0"), ("p2", "a#0"), ("p3", "a#1")]).assign(
        person=["a-1", "a-1", "a-2"])
    now = _mentions([("p1", "a#0"), ("p2", "a#1"), ("p3", "a#1"), ("p4", "a#1")]).assign(
        person=["a-1", "a-2", "a-2", "a-2"])
    moved = flipped(before, now)
    assert moved[["paper", "before", "now"]].values.tolist() == [["p2", "a-1", "a-2"]]
    clusters = changed_clusters(before, now).set_index("cluster")
    assert clusters.loc["a#0", ["before", "now", "lost"]].tolist() == [2, 1, 1]
    assert clusters.loc["a#1", ["before", "now", "gained"]].tolist() == [1, 3, 2]


def _night(anthology: Path, state: Path, settings: ResolveSettings = SETTINGS,
           **kwargs: object) -> dict[str, object]:
    report, _ = run_nightly(anthology, state, settings, **kwargs)  # type: ignore[arg-type]
    return report


def _persons(state: Path) -> pd.DataFrame:
    return pd.read_csv(state / "run" / "assignments.csv", dtype=str, keep_default_na=False)


@pytest.fixture
def two_nights(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A snapshot whose 2020 volume arrives on the second night; the first night's state."""
    root = two_wei_zhangs(tmp_path / "anthology")
    aside = tmp_path / "2020.tiny.xml"
    shutil.move(root / "xml" / "2020.tiny.xml", aside)
    state = tmp_path / "state"
    assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    return root, state, aside


def test_an_unchanged_night_recomputes_nothing_and_keeps_the_results(
        two_nights: tuple[Path, Path, Path]) -> None:
    root, state, _ = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    report = _night(root, state)
    assert report["run"]["mode"] == "unchanged"  # type: ignore[index]
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results
    assert "**unchanged**" in (state / "report.md").read_text()


def test_a_new_volume_recomputes_its_names_and_keeps_everyone_s_ids(
        two_nights: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, state, aside = two_nights
    first = _persons(state)
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    report = _night(root, state)
    run = report["run"]
    assert run["mode"] == "incremental"  # type: ignore[index]
    assert run["changed_files"] == ["xml/2020.tiny.xml"]  # type: ignore[index]
    new = pd.DataFrame(report["new_assignments"])
    assert set(new["paper"].str[:4]) == {"2020"} and set(new["name"]) == set(NAMES)
    second = _persons(state)
    kept = first.merge(second, on=KEY, suffixes=("_before", "_now"))
    assert len(kept) == len(first)
    assert (kept["person_before"] == kept["person_now"]).all()
    assert (kept["cluster_before"] == kept["cluster_now"]).all()
    assert report["flipped"] == []
    # A full night on the same snapshot gives everyone the same person and cluster; only
    # the confidences differ a little (its text and affiliation models saw the 2020 papers).
    fresh = tmp_path / "fresh-state"
    _night(root, fresh)
    columns = [*KEY, "person", "status", "cluster"]
    assert _persons(fresh)[columns].equals(second[columns])
    report_md = (state / "report.md").read_text()
    assert "2020.tiny-main.1" in report_md and "xml/2020.tiny.xml" in report_md


def test_a_night_reads_each_volume_file_s_bytes_once_for_its_digest(
        two_nights: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # The night's input digests serve the table cache too (it hashed every file again).
    root, state, aside = two_nights
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    hashed: list[str] = []

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return data_dir.file_digest(path)

    monkeypatch.setattr(inputs, "file_digest", counting)
    monkeypatch.setattr(snapshot, "file_digest", counting)
    assert _night(root, state)["run"]["mode"] == "incremental"  # type: ignore[index]
    volumes = sorted(p.name for p in (root / "xml").glob("*.xml"))
    assert sorted(name for name in hashed if name.endswith(".xml")) == volumes


def test_a_night_caches_the_tables_of_the_files_it_parsed(
        two_nights: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Cached while the results are written (in another process on a large snapshot).
    root, state, aside = two_nights
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    assert _night(root, state)["run"]["mode"] == "incremental"  # type: ignore[index]

    def parsing(paths: list[Path], *args: object, **kwargs: object) -> None:
        raise AssertionError(f"parsed {[p.name for p in paths]} again")

    monkeypatch.setattr(snapshot, "parse_xml_files", parsing)
    assert "2020.tiny-main" in set(read_snapshot(root, cache_dir=state / "cache").mentions[
        "volume"])


def test_a_new_volume_predicts_only_the_pairs_with_a_new_mention(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    root, state, aside = two_nights
    last = PairEvidence.load(state / "run" / "pair_evidence.npz")
    assert set(last.blocks) == set(NAMES)
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    with caplog.at_level(logging.INFO, logger="pipeline.resolve.run"):
        assert _night(root, state)["run"]["mode"] == "incremental"  # type: ignore[index]
    found = re.search(r"pair evidence: (\d+) of (\d+) pairs predicted", caplog.text)
    assert found is not None
    predicted, total = int(found[1]), int(found[2])
    tonight = PairEvidence.load(state / "run" / "pair_evidence.npz")
    kept = 0
    for slug, block in tonight.blocks.items():
        before = {int(key): p for p, key in enumerate(last.blocks[slug].mentions.tolist())}
        matrix = symmetric_matrix(last.blocks[slug].evidence, len(before))
        keys = block.mentions.tolist()
        for value, i, j in zip(block.evidence, *np.triu_indices(len(keys), 1)):
            if keys[i] in before and keys[j] in before:
                assert value == matrix[before[keys[i]], before[keys[j]]]
                kept += 1
    assert 0 < predicted == total - kept and kept > 0


def _replaced_with_its_digest(state: Path, name: str, content: bytes) -> None:
    """`content` as the state's run file `name`, the manifest's digest fixed to match (a hand
    edit or a writer's bug: what the digest check cannot catch). Files are replaced, never
    written into: the state's copies are hard links."""
    path = state / "run" / name
    path.unlink(missing_ok=True)
    path.write_bytes(content)
    manifest_path = state / "run" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][name] = file_sha256(path)
    manifest_path.unlink()
    manifest_path.write_text(json.dumps(manifest))


def test_kept_evidence_the_model_cannot_have_given_is_predicted_again(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    root, state, aside = two_nights
    last = PairEvidence.load(state / "run" / "pair_evidence.npz")
    _replaced_with_its_digest(state, "pair_evidence.npz", PairEvidence(
        {slug: BlockEvidence(block.mentions, np.full(len(block.evidence), 1e6))
         for slug, block in last.blocks.items()}).to_bytes())
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    with caplog.at_level(logging.INFO, logger="pipeline.resolve.run"):
        report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    assert "outside the range of the stored evidence model" in caplog.text
    assert "pairs predicted, the others kept" not in caplog.text
    # The report says so too (before session 32 only the log did).
    assert report["state_notes"] == [  # type: ignore[index]
        "the kept pair evidence lies outside the range of the stored evidence model; every "
        "pair of the names split tonight was predicted again"]
    assert np.abs(np.concatenate([b.evidence for b in PairEvidence.load(
        state / "run" / "pair_evidence.npz").blocks.values()])).max() < 100


def test_a_table_cache_that_does_not_read_is_a_problem_the_report_lists(
        two_nights: tuple[Path, Path, Path], tmp_path: Path) -> None:
    # It costs time, not results: every file is parsed again (helper-39: only the log said).
    root, state, intact = _second_night_on_a_copy(two_nights, tmp_path)
    papers = next((state / "cache" / "tables-v5").glob("papers-*.parquet"))
    content = papers.read_bytes()
    papers.unlink()  # the state's files are replaced, never written into (hard links)
    papers.write_bytes(content + b"more")
    report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    assert report["state_notes"] == [  # type: ignore[index]
        f"the parsed tables cached in {state / 'cache' / 'tables-v5'} could not be read "
        f"(NotItsContent: {papers}: its content is not the one its name was made from); "
        "every volume file was parsed again"]
    assert "every volume file was parsed again" in (state / "report.md").read_text()
    for name in RESOLUTION_FILES:
        assert (state / "run" / name).read_bytes() == (intact / "run" / name).read_bytes()


def _second_night_on_a_copy(two_nights: tuple[Path, Path, Path], tmp_path: Path
                            ) -> tuple[Path, Path, Path]:
    """The volume put back and the second night run on a copy of the first night's state
    (to compare with a night on the state itself, damaged first); the snapshot, the state
    and the copy."""
    root, state, aside = two_nights
    intact = tmp_path / "intact-state"
    shutil.copytree(state, intact)
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    _night(root, intact)
    return root, state, intact


@pytest.mark.parametrize("damage", ["garbage", "deleted", "deleted and unlisted"])
def test_damaged_pair_evidence_costs_predictions_not_a_full_night(
        two_nights: tuple[Path, Path, Path], tmp_path: Path, damage: str) -> None:
    root, state, intact = _second_night_on_a_copy(two_nights, tmp_path)
    evidence = state / "run" / "pair_evidence.npz"
    evidence.unlink()  # the state's files are replaced, never written into (hard links)
    fault = f"{evidence} is missing"
    if damage == "garbage":
        evidence.write_bytes(b"not an npz")
        fault = f"{evidence} does not match its manifest"
    elif damage == "deleted and unlisted":
        manifest_path = state / "run" / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        del manifest["files"]["pair_evidence.npz"]
        manifest_path.unlink()
        manifest_path.write_text(json.dumps(manifest))
        fault = (f"{state / 'run'} has no pair_evidence.npz: an earlier version of the tool "
                 "wrote it")
    report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    assert report["state_notes"] == [  # type: ignore[index]
        f"{fault}; this night predicts every pair of the names it splits again, on "
        "tonight's graph (kept evidence is last night's), so some clusters changed and "
        "proposals flipped below may come from that rather than from the snapshot; it keeps "
        "no pair evidence for the names it does not split"]
    # Predicted again on tonight's graph, the evidence of old pairs moves a little (kept,
    # it is last night's): here the persons and clusters not at all (on the shared
    # snapshot's add-volume night, 156 mentions got another person).
    columns = [*KEY, "person", "status", "cluster"]
    assert _persons(state)[columns].equals(_persons(intact)[columns])
    assert PairEvidence.load(evidence).blocks.keys() == set(NAMES)
    assert "None." in (intact / "report.md").read_text().split(
        "## Problems in last night's state")[1]


@pytest.mark.parametrize("damage", [None, "garbage", "garbage with its digest", "deleted",
                                    "larger than a search may be"])
def test_a_night_compares_only_the_names_that_came_unless_its_kept_search_is_damaged(
        two_nights: tuple[Path, Path, Path], tmp_path: Path, damage: str | None,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    root, state, intact = _second_night_on_a_copy(two_nights, tmp_path)
    kept = state / "run" / "candidate_search.pickle"
    if damage == "larger than a search may be":
        monkeypatch.setattr(nightly_state, "MAX_SEARCH_BYTES", kept.stat().st_size - 1)
    elif damage is not None:
        kept.unlink()  # the state's files are replaced, never written into (hard links)
    if damage == "garbage":
        kept.write_bytes(b"not a pickle")
    elif damage == "garbage with its digest":
        _replaced_with_its_digest(state, "candidate_search.pickle", b"not a pickle")
    compared: list[int] = []
    build = candidate_index.CandidateIndex.build

    def counting(names: Any) -> candidate_index.CandidateIndex:
        index = build(names)
        compared.append(len(index.spellings))
        return index

    monkeypatch.setattr(candidate_index.CandidateIndex, "build", staticmethod(counting))
    with caplog.at_level(logging.INFO, logger="pipeline"):
        report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    # A search that does not match its manifest is a problem of the state the report lists
    # (one whose digest was fixed too is only logged: a hand edit).
    assert [note for note in report["state_notes"]  # type: ignore[union-attr]
            if "compared for name-variant candidates again" in note] == (
        [f"{kept} {'is missing' if damage == 'deleted' else 'does not match its manifest'}; "
         "every name was compared for name-variant candidates again (slower; the same "
         "candidates)"] if damage in ("garbage", "deleted") else [])
    names = len(read_snapshot(root).mentions["slug"].unique())
    # The tiny volume's names all have earlier papers, spelt as before: none is compared.
    assert compared == ([0] if damage is None else [names])
    assert ("every name is compared again" in caplog.text) == (
        damage == "garbage with its digest")
    for name in RESOLUTION_FILES:
        assert (state / "run" / name).read_bytes() == (intact / "run" / name).read_bytes()
    # What the damaged night keeps serves the next one.
    assert KeptSearch.from_bytes(kept.read_bytes()).candidates() == KeptSearch.from_bytes(
        (intact / "run" / "candidate_search.pickle").read_bytes()).candidates()


def test_state_files_a_night_can_do_without_may_be_unreadable(
        two_nights: tuple[Path, Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As a user without read permission on them meets it (root reads every file).
    root, state, intact = _second_night_on_a_copy(two_nights, tmp_path)
    unreadable = {state / "run" / name for name in ("pair_evidence.npz",
                                                     "candidate_search.pickle")}
    digest = nightly_state.file_sha256

    def denied(path: Path) -> str:
        if path in unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return digest(path)

    monkeypatch.setattr(nightly_state, "file_sha256", denied)
    report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    assert report["state_notes"][0].startswith(  # type: ignore[index]
        f"{state / 'run' / 'pair_evidence.npz'} cannot be read (Permission denied); this "
        "night predicts every pair")
    # Predicted again, the evidence moves a little (see the test above): not the persons.
    columns = [*KEY, "person", "status", "cluster"]
    assert _persons(state)[columns].equals(_persons(intact)[columns])


def test_a_state_pickle_naming_a_module_not_there_makes_a_full_night(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    # Its digest matches (a writer's bug or a hand edit): what loading it raises is a
    # state that cannot be read, not a failed night (helper-31 found ModuleNotFoundError).
    root, state, aside = two_nights
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    # loading it imports that module
    _replaced_with_its_digest(state, "fingerprints.pickle", b"cno_such_module\nx\n.")
    with caplog.at_level(logging.WARNING):
        assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    assert "cannot be read" in caplog.text


@pytest.mark.parametrize("content", [
    b'{"splits": [], "variants": {', b'{"splits": [NaN]}', b'{"splits": ["\xff"]}',
    # helper-39: JSON, but not proposals as `resolve` writes them, failed every night after
    b'[]', b'{"variants": {}}', b'{"splits": null}', b'{"splits": [{"name": 1}]}',
    b'{"splits": [], "variants": {"similar": [{"from": "x"}]}}',
    b'[' * 100_000 + b']' * 100_000])
def test_proposals_that_do_not_read_as_proposals_make_a_full_night(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture,
        content: bytes) -> None:
    # Digest matching (a hand edit): cut short, not JSON (NaN), not UTF-8, another shape,
    # nested too deep.
    root, state, aside = two_nights
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    _replaced_with_its_digest(state, "proposals.json", content)
    with caplog.at_level(logging.WARNING):
        assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    assert "cannot be read" in caplog.text


def test_a_report_says_what_a_state_without_its_manifest_could_not_compare(
        two_nights: tuple[Path, Path, Path], tmp_path: Path) -> None:
    # Not "0 files changed" nor "0 name-variant links added" (helper-31).
    root, state, aside = two_nights
    (state / "run" / "manifest.json").unlink()
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    text = (state / "report.md").read_text(encoding="utf-8")
    assert "(not compared: last night's list of input files could not be read)" in text
    assert "- name-variant links: not compared (last night's proposals could not be read)" \
        in text
    report = json.loads((state / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["files_compared"] is False
    assert report["variant_links_compared"] is False
    # A first night says why it compares nothing.
    first = _night(root, tmp_path / "new-state")
    assert "- name-variant links: not compared (first night: nothing to compare with)" in \
        report_markdown(first)
    # The next night compares both again.
    (root / "xml" / "2020.tiny.xml").touch()
    _night(root, state)
    text = (state / "report.md").read_text(encoding="utf-8")
    assert "not compared" not in text and "added, changed or removed" in text


def test_same_two_nights_give_the_same_bytes(two_nights: tuple[Path, Path, Path],
                                             tmp_path: Path) -> None:
    root, state, aside = two_nights
    copy = tmp_path / "state-copy"
    shutil.copytree(state, copy)
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    _night(root, state)
    _night(root, copy)
    for path in [*(state / "run").iterdir(), state / "report.md", state / "report.json"]:
        assert path.read_bytes() == (copy / path.relative_to(state)).read_bytes(), path.name


def test_a_night_in_forked_processes_gives_the_same_bytes(
        two_nights: tuple[Path, Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Last night's state is read in another process while the snapshot is read here; the
    # name candidates start as soon as the snapshot is read, the report once the results
    # are known, each in another process too.
    root, state, aside = two_nights
    copy = tmp_path / "state-copy"
    shutil.copytree(state, copy)
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    _night(root, state, workers=1)
    monkeypatch.setattr(run, "BACKGROUND_MENTIONS", 0)
    monkeypatch.setattr(clustering, "MIN_FORKED_WORK", 0.0)
    monkeypatch.setattr(paper_text, "MIN_FORKED_PAPERS", 0)
    started: list[int] = []

    def recording(snapshot: Snapshot, *args: Any) -> night.CandidateSearch:
        started.append(args[-1])
        search = start_candidate_search(snapshot, *args)
        assert search.searching._value is None
        return search

    start_candidate_search = night.start_candidate_search
    monkeypatch.setattr(night, "start_candidate_search", recording)
    monkeypatch.setattr(night, "BACKGROUND_NAMES", 0)
    forked: list[bool] = []

    class Recorded(parallel.Background[Any]):
        def __init__(self, task: Any, workers: int) -> None:
            super().__init__(task, workers)
            forked.append(self._value is None)

    monkeypatch.setattr(night, "Background", Recorded)
    monkeypatch.setattr(run, "Background", Recorded)
    assert _night(root, copy, workers=2)["run"]["mode"] == "incremental"  # type: ignore[index]
    assert started == [2]
    # The state, the name candidates, the placements and split proposals, the caching of
    # tonight's tables, the report.
    assert forked == [True] * 5
    for path in [*(state / "run").iterdir(), state / "report.md", state / "report.json"]:
        assert path.read_bytes() == (copy / path.relative_to(state)).read_bytes(), path.name
    for state_dir in (state, copy):
        cache = table_cache.TableCache(state_dir / "cache")
        assert "2020.tiny.xml" in cache.load_manifest()["files"]


def test_bad_input_is_reported_and_the_last_night_kept(two_nights: tuple[Path, Path, Path]
                                                       ) -> None:
    root, state, _ = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    (root / "xml" / "2021.bad.xml").write_text("<collection id='2021.bad'><volume>\n",
                                               encoding="utf-8")
    assert main(["-q", "nightly", "--anthology", str(root), "--state", str(state)]) == 2
    report = json.loads((state / "report.json").read_text())
    assert report["run"]["mode"] == "failed"
    assert any("2021.bad.xml" in problem for problem in report["problems"])
    # Tonight's files counted (not last night's), and the state said not examined.
    assert report["run"]["files"] == len(list((root / "xml").iterdir())) + 1  # + registry
    assert report["state_notes"] is None
    assert "- problems in last night's state: not examined" in (state / "report.md").read_text()
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results


def test_an_interrupted_night_leaves_the_last_one_readable(
        two_nights: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, state, aside = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    shutil.move(aside, root / "xml" / "2020.tiny.xml")

    def interrupted(self: object, path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.resolve.carryover.LearntModels.save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _night(root, state)
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results
    assert [p.name for p in state.iterdir() if p.name.startswith(".run.")] == []
    monkeypatch.undo()
    assert _night(root, state)["run"]["mode"] == "incremental"  # type: ignore[index]


def test_a_damaged_state_means_a_full_night_that_keeps_the_ids(
        two_nights: tuple[Path, Path, Path]) -> None:
    root, state, _ = two_nights
    first = _persons(state)
    models = state / "run" / "models.pickle"
    models.write_bytes(models.read_bytes()[: models.stat().st_size // 2])
    report = _night(root, state)
    assert report["run"]["mode"] == "full"  # type: ignore[index]
    assert "could not be read whole" in report["run"]["reason"]  # type: ignore[index]
    assert report["state_notes"] == [  # type: ignore[index]
        f"{models} does not match its manifest",
        f"the state in {state / 'run'} cannot be read whole; this night runs in full"]
    assert _persons(state)[[*KEY, "person", "cluster"]].equals(
        first[[*KEY, "person", "cluster"]])
    # Its assignments unreadable too: nothing to keep ids against, and the report says so
    # (it said nothing: helper-45).
    assignments = state / "run" / "assignments.csv"
    assignments.unlink()  # the state's files are replaced, never written into (hard links)
    assignments.write_text("not,a\nresolution\n")
    report = _night(root, state)
    assert report["run"]["reason"] == "no usable earlier state"  # type: ignore[index]
    assert report["state_notes"] == [  # type: ignore[index]
        f"the state in {state / 'run'} could not be read, nor its assignments (the log says "
        "why): this night ran in full and kept no earlier cluster labels or ids"]
    shutil.rmtree(state / "run")  # nothing left: a fresh full night, nothing to report
    report = _night(root, state)
    assert report["run"]["reason"] == "no usable earlier state"  # type: ignore[index]
    assert report["state_notes"] == []  # type: ignore[index]


def test_a_damaged_state_on_an_unchanged_snapshot_is_reported_once(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    root, state, _ = two_nights
    models = state / "run" / "models.pickle"
    models.write_bytes(models.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    assert caplog.text.count("does not match its manifest") == 1
    manifest = json.loads((state / "run" / "manifest.json").read_text())
    (state / "run" / "manifest.json").write_text(json.dumps({**manifest, "names": "many"}))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _night(root, state)["run"]["mode"] == "full"  # type: ignore[index]
    assert caplog.text.count("is not a manifest this version wrote") == 1


def test_a_night_killed_between_the_two_renames_of_its_save_is_put_back(
        two_nights: tuple[Path, Path, Path]) -> None:
    root, state, _ = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    (state / ".run.killed").mkdir()
    shutil.move(state / "run", state / ".run.killed" / "old")
    assert _night(root, state)["run"]["mode"] == "unchanged"  # type: ignore[index]
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results


def test_what_a_killed_night_left_is_put_back_and_removed_even_on_an_unchanged_night(
        two_nights: tuple[Path, Path, Path]) -> None:
    root, state, _ = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    killed = atomic.make_staging_dir(state / "run")
    shutil.move(state / "run", killed / "old")
    older = atomic.make_staging_dir(state / "run")  # a night killed while filling `new`
    (older / "new").mkdir()
    assert _night(root, state)["run"]["mode"] == "unchanged"  # type: ignore[index]
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results
    assert not killed.exists() and not older.exists()


def test_a_second_night_on_the_same_state_is_refused(two_nights: tuple[Path, Path, Path]
                                                     ) -> None:
    import fcntl

    root, state, _ = two_nights
    with open(state / ".lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["-q", "nightly", "--anthology", str(root), "--state", str(state)]) == 2


def test_a_failing_night_says_so_in_its_report(two_nights: tuple[Path, Path, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root, state, aside = two_nights
    results = {p.name: p.read_bytes() for p in (state / "run").iterdir()}
    shutil.move(aside, root / "xml" / "2020.tiny.xml")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    import fcntl

    from pipeline.nightly import run as nightly_run

    monkeypatch.setattr("pipeline.nightly.night.resolve", broken)
    locked_while_written = []
    write_report = nightly_run._write_report

    def written_under_lock(*args: Any) -> list[Path]:
        # Not after the lock is released: a night started since would lose its report.
        with open(state / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked_while_written.append(False)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                locked_while_written.append(True)
        return write_report(*args)

    monkeypatch.setattr(nightly_run, "_write_report", written_under_lock)
    with pytest.raises(RuntimeError):
        main(["-q", "nightly", "--anthology", str(root), "--state", str(state)])
    assert locked_while_written == [True]
    report = json.loads((state / "report.json").read_text())
    assert report["run"]["mode"] == "failed" and "a bug" in report["run"]["reason"]
    assert report["run"]["changed_files"] == ["xml/2020.tiny.xml"]
    assert "**failed**" in (state / "report.md").read_text()
    assert {p.name: p.read_bytes() for p in (state / "run").iterdir()} == results


def test_a_state_directory_not_written_by_the_tool_is_refused(tmp_path: Path) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    state = tmp_path / "mine"
    state.mkdir()
    (state / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["-q", "nightly", "--anthology", str(root), "--state", str(state)]) == 2
    assert [p.name for p in state.iterdir()] == ["notes.txt"]
    assert main(["-q", "nightly", "--anthology", str(root),
                 "--state", str(root / "state")]) == 2
    assert not (root / "state").exists()
    # The state's own results directory, or another command's output, is not a state.
    night = tmp_path / "state"
    _night(root, night)
    results = {p.name: p.read_bytes() for p in (night / "run").iterdir()}
    assert main(["-q", "nightly", "--anthology", str(root), "--state",
                 str(night / "run")]) == 2
    assert {p.name: p.read_bytes() for p in (night / "run").iterdir()} == results


def test_report_markdown_lists_every_section() -> None:
    report = {
        "run": {"mode": "incremental", "reason": "2 names changed", "files": 3,
                "changed_files": ["xml/a.xml"], "names": 10, "changed_names": 2,
                "recomputed": 1},
        "new_ambiguous_names": ["a"], "no_longer_resolved": [],
        "new_assignments": [{"paper": "p9", "role": "author", "position": 0, "first": "A",
                             "last": "B", "person": "a-1", "status": "new", "confidence": 0.9,
                             "placement_confidence": 0.5, "review": True,
                             "why": "new mention"}],
        "changed_clusters": [], "flipped": [],
        "variant_links": {"added": [], "dropped": [], "decided_otherwise": []},
        "problems": ["xml/a.xml:3: warning: something"],
    }
    text = report_markdown(report)
    for heading in ("New ambiguous names", "New assignments for review", "Clusters that changed",
                    "Proposals that flipped", "Name-variant links added", "Problems"):
        assert f"## {heading}" in text
    assert "| p9 | author | 0 | A | B | a-1 | new | 0.5000 | new mention |" in text


def test_a_line_added_to_the_registry_changes_no_fingerprint(tmp_path: Path) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    registry = root / "yaml" / "name_variants.yaml"
    registry.write_text("- canonical: {first: Ingrid, last: Solberg}\n  id: ingrid-solberg\n",
                        encoding="utf-8")
    before = name_fingerprints(read_snapshot(root))
    registry.write_text("# a comment line above every entry\n" + registry.read_text(),
                        encoding="utf-8")
    assert changed_names(before.to_dict(), name_fingerprints(read_snapshot(root))) == set()


def test_the_registry_person_stays_with_the_cluster_that_had_it(tmp_path: Path) -> None:
    """One registry Wei Zhang, two clusters: the larger takes the person in a first run; a
    later run keeps it with the cluster an earlier run gave it to, even if that is smaller."""
    from pipeline.resolve.carryover import Carryover
    from pipeline.resolve.run import resolve

    root = two_wei_zhangs(tmp_path / "anthology")
    (root / "yaml" / "name_variants.yaml").write_text(
        "- canonical: {first: Wei, last: Zhang}\n  id: wei-zhang\n", encoding="utf-8")
    snapshot = read_snapshot(root)
    first = resolve(snapshot, SETTINGS).assignments
    wei = first[first["cluster"].str.startswith("wei-zhang#")]
    holder = wei.loc[wei["person"] == "wei-zhang", "cluster"].iloc[0]
    other = wei.loc[wei["cluster"] != holder, "cluster"].iloc[0]
    # Suppose an earlier night had matched the registry person with the other cluster.
    earlier = first.assign(
        person=first["cluster"].map({holder: "wei-zhang-x", other: "wei-zhang"}).fillna(
            first["person"]),
        status=first["cluster"].map({holder: "new", other: "existing"}).fillna(
            first["status"]))
    again = resolve(snapshot, SETTINGS, carry=Carryover(earlier)).assignments
    assert set(again.loc[again["cluster"] == other, "person"]) == {"wei-zhang"}
    assert set(again.loc[again["cluster"] == holder, "person"]) == {"wei-zhang-x"}


def test_a_label_retired_two_nights_ago_is_not_given_again() -> None:
    previous = _mentions([("p1", "a#0"), ("p2", "a#0")])  # last night: a#1 already gone
    now = _mentions([("p1", "a#0"), ("p2", "a#0"), ("p3", "a#1")])
    assert stable_labels(now["cluster"], now[KEY], previous)["a#1"] == "a#1"  # reused
    renamed = stable_labels(now["cluster"], now[KEY], previous, {"a": frozenset({0, 1})})
    assert renamed == {"a#0": "a#0", "a#1": "a#2"}


def test_a_label_that_had_no_person_last_night_takes_back_its_earlier_id(
        tmp_path: Path) -> None:
    """Two nights ago Wei Zhang's clusters were new persons; last night the name was left as
    it is (a volume had gone), the same clusters without persons; tonight they are persons
    again: the same ones (a helper saw `wei-zhang` move to `wei-zhang-tsinghua`)."""
    from pipeline.resolve.carryover import Carryover
    from pipeline.resolve.issued_ids import IssuedIds
    from pipeline.resolve.run import resolve

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "anthology"))
    before = resolve(snapshot, SETTINGS).assignments
    wei = before["cluster"].str.startswith("wei-zhang#")
    assert set(before.loc[wei, "status"]) == {"new"}
    last_night = before.copy()
    last_night.loc[wei, "status"] = "unchanged"
    last_night.loc[wei, "person"] = None
    tonight = resolve(snapshot, SETTINGS, carry=Carryover(
        last_night, issued=IssuedIds.of(before).union(IssuedIds.of(last_night)))).assignments
    assert tonight[["cluster", "person"]].equals(before[["cluster", "person"]])


def test_persons_merged_into_one_group_for_a_night_come_back_with_their_ids(
        tmp_path: Path) -> None:
    """Last night Wei Zhang was kept whole (a volume had gone: the name looked rare), its two
    persons one group under the catch-all; tonight they are split again, under new labels
    (neither holds most of last night's group), and each takes back its id by its mentions
    (helper-25 saw `wei-zhang-tsinghua` and `wei-zhang-2` instead)."""
    from pipeline.resolve.carryover import Carryover
    from pipeline.resolve.issued_ids import IssuedIds
    from pipeline.resolve.run import resolve

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "anthology"))
    before = resolve(snapshot, SETTINGS).assignments
    wei = before["cluster"].str.startswith("wei-zhang#")
    last_night = before.copy()
    last_night.loc[wei, ["cluster", "status", "person"]] = ["wei-zhang#0", "unresolved",
                                                            "wei-zhang"]
    ledger = IssuedIds.of(before).union(IssuedIds.of(last_night))
    tonight = resolve(snapshot, SETTINGS, carry=Carryover(last_night, issued=ledger)
                      ).assignments
    assert not set(tonight.loc[wei, "cluster"]) & {"wei-zhang#0", *before.loc[wei, "cluster"]}
    assert tonight["person"].equals(before["person"])


def test_ids_and_labels_retired_before_last_night_go_to_no_other_cluster(
        tmp_path: Path) -> None:
    """Two nights ago Wei Zhang's labels and new persons' ids named other papers (here: the
    ledger records other mentions for them); last night none of its mentions were split
    (retired); tonight's clusters get other labels and ids. (With the ledger's own record of
    these very papers they would take the ids back: the test above.)"""
    from dataclasses import replace

    from pipeline.resolve.carryover import Carryover
    from pipeline.resolve.issued_ids import IssuedIds
    from pipeline.resolve.run import resolve

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "anthology"))
    before = resolve(snapshot, SETTINGS).assignments
    wei = before["cluster"].str.startswith("wei-zhang#")
    new_ids = set(before.loc[wei & (before["status"] == "new"), "person"])
    assert len(new_ids) == 2
    last_night = before[~wei].reset_index(drop=True)
    forgetful = resolve(snapshot, SETTINGS, carry=Carryover(last_night)).assignments
    assert set(forgetful.loc[wei, "person"]) == new_ids  # what the ledger prevents
    issued = IssuedIds.of(before)
    elsewhere = replace(issued, members={person: frozenset({f"1999.gone-{k}.1 author 0"})
                                         for k, person in enumerate(sorted(new_ids))})
    tonight = resolve(snapshot, SETTINGS, carry=Carryover(last_night, issued=elsewhere)
                      ).assignments
    assert not set(tonight.loc[wei, "cluster"]) & set(before.loc[wei, "cluster"])
    assert not set(tonight.loc[wei, "person"]) & new_ids
    assert tonight.loc[~wei, ["cluster", "person"]].equals(before.loc[~wei, ["cluster",
                                                                             "person"]])


def test_the_ledger_of_issued_ids_grows_night_by_night_and_survives_a_damaged_state(
        two_nights: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.nightly import state as state_module
    from pipeline.resolve.issued_ids import IssuedIds

    root, state, aside = two_nights
    ledger = state / "run" / "issued.json"
    first = IssuedIds.from_json(ledger.read_text())
    assert first == IssuedIds.of(_persons(state).replace("", None))
    # An earlier night's label and id, retired since: kept through a damaged state too.
    retired = IssuedIds({"wei-zhang": frozenset({41})}, {"wei-zhang#41": "wei-zhang-41"})
    ledger.write_text(first.union(retired).to_json())  # no longer its manifest's digest
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    # The ledger only guards ids: the rest of the state is used, the ledger read as it is.
    report = _night(root, state)
    assert report["run"]["mode"] == "incremental"  # type: ignore[index]
    assert report["state_notes"] == [  # type: ignore[index]
        f"{ledger} does not match its manifest; it is read as it is (it only keeps labels "
        "and ids from being given again)"]
    assert f"- {ledger} does not match its manifest" in (state / "report.md").read_text()
    second = IssuedIds.from_json(ledger.read_text())
    assert second == first.union(retired).union(IssuedIds.of(_persons(state).replace("",
                                                                                        None)))
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(state_module, "MAX_LEDGER_BYTES", 10_000)
    for damage in ("{", "fifo", " " * 20_000, "nope"):
        ledger.unlink()
        if damage == "fifo":
            os.mkfifo(ledger)  # reading it would wait for a writer forever
        else:
            ledger.write_text(damage)
        caplog.clear()
        report = _night(root, state, full=True)
        assert "issued.json cannot be read" in caplog.text
        assert any("issued.json cannot be read" in note  # and in the report
                   for note in report["state_notes"])  # type: ignore[attr-defined]
        assert IssuedIds.from_json(ledger.read_text()).labels["wei-zhang"] >= first.labels[
            "wei-zhang"]
    # What was read but not understood is kept, a copy per night, for a maintainer to
    # repair (not a pipe's or an oversized file's: those are not read).
    assert "a copy of it is kept as" in caplog.text
    assert sorted(p.name for p in state.glob("issued.damaged-*")) == [
        "issued.damaged-0.json", "issued.damaged-1.json"]
    assert (state / "issued.damaged-0.json").read_text() == "{"
    assert (state / "issued.damaged-1.json").read_text() == "nope"


@pytest.mark.parametrize("text", ['{"format": "other"}', "[]", "nope", "[" * 100_000,
                                  '{"format": "anthology-resolve-issued-ids-v1", "labels": '
                                  '{"a": [-5]}, "persons": {}, "members": {}}',
                                  '{"format": "anthology-resolve-issued-ids-v1", "labels": '
                                  '{"a": [100000000000000000000]}, "persons": {}, '
                                  '"members": {}}',
                                  '{"format": "anthology-resolve-issued-ids-v1", "labels": '
                                  '{"a": [1.5]}, "persons": []}'])
def test_a_ledger_of_another_shape_is_refused(text: str) -> None:
    from pipeline.resolve.issued_ids import IssuedIds, LedgerError

    with pytest.raises(LedgerError):
        IssuedIds.from_json(text)


def test_a_retired_id_is_taken_back_only_by_a_cluster_of_its_own_name() -> None:
    from pipeline.resolve.issued_ids import IssuedIds, Reclaimer

    keys = ["p1 author 0", "p2 author 0", "p3 author 0"]
    issued = IssuedIds({"chen-li": frozenset({5})}, {"chen-li#5": "chen-li-5"},
                       {"chen-li-5": frozenset(keys)})
    reclaimer = Reclaimer(issued)
    assert reclaimer.candidates(keys[:2], "chen-li") == ["chen-li-5"]
    assert reclaimer.candidates(keys[:1], "chen-li") == []  # one of three is no majority
    # The same papers, renamed to Yang Liu on the page: not Chen Li's id.
    assert reclaimer.candidates(keys, "yang-liu") == []


def test_names_that_name_nobody_are_skipped_and_the_next_night_reads_the_state(
        tmp_path: Path) -> None:
    # Such names all share the empty slug; split, they gave proposals.json a split named ""
    # that the next night could not read back (helper-43's attack).
    root = two_wei_zhangs(tmp_path / "anthology")
    # Two on one paper: a split is forced, as two authors of one paper are two people.
    # HTML entities ("&lt;") are decoded by the slug, to nothing; a slug over 200 characters
    # cannot name a person either (helper-44).
    unnamed = [[Author(".", "-"), Author("…", "!!")], [Author("&lt;", "&amp;"),
                                                       Author("&gt;", "&quot;")],
               [Author("Long", "x" * 250), Author("Long", "x" * 250)]]
    write_snapshot(root, [Volume("2021.punct", "main", 2021, "punct", [
        Paper(f"Punctuation {k}", pair) for pair in unnamed for k in range(2)])])
    # A carriage return in a name broke its row of assignments.csv (helper-45).
    (root / "xml" / "2021.cr.xml").write_text(
        "<collection id='2021.cr'><volume id='1'><meta><year>2021</year></meta>"
        "<paper id='1'><title>T</title>" + "<author><first>Ann&#13;Marie</first>"
        "<last>Zqxjv</last></author>" * 2 + "</paper></volume></collection>")
    aside = tmp_path / "2020.tiny.xml"
    shutil.move(root / "xml" / "2020.tiny.xml", aside)
    state = tmp_path / "state"
    everything = ResolveSettings()
    first = _night(root, state, settings=everything)
    assert first["run"]["mode"] == "full"  # type: ignore[index]
    skipped = [p for p in first["problems"]  # type: ignore[attr-defined]
               if "has a name with an empty slug" in p or "a slug longer than" in p]
    assert len(skipped) == 2 * 2 * len(unnamed)
    assert all(split["name"] for split in
               json.loads((state / "run" / "proposals.json").read_text())["splits"])
    assignments = read_assignments(state / "run" / "assignments.csv")
    assert (assignments["first"] == "Ann Marie").sum() == 2
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    second = _night(root, state, settings=everything)
    assert second["run"]["mode"] == "incremental"  # type: ignore[index]
    assert second["state_notes"] == []


def test_a_night_of_other_code_never_uses_the_models_kept_before(
        two_nights: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Models kept by other code may read other features (session 37 gave the variant model
    # two more): the code's digest in the state makes such a night a full one that learns.
    root, state, aside = two_nights
    shutil.move(aside, root / "xml" / "2020.tiny.xml")
    carried: list[object] = []

    def resolve_and_record(snapshot: Snapshot, settings: ResolveSettings, show_progress: bool,
                           carry: object, *args: object) -> object:
        carried.append(carry)
        return run.resolve(snapshot, settings, show_progress, carry, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(night, "resolve", resolve_and_record)
    monkeypatch.setattr("pipeline.nightly.run.code_digest", lambda: "another version")
    report = _night(root, state)
    assert report["run"]["mode"] == "full"  # type: ignore[index]
    assert report["run"]["reason"] == \
        "the code, its libraries or the settings changed"  # type: ignore[index]
    assert len(carried) == 1 and carried[0].models is None  # type: ignore[attr-defined]
