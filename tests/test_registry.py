from __future__ import annotations

import json
import pkgutil
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from acl_anthology import Anthology
from acl_anthology.utils.ids import build_id
from conftest import MINI
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.anthology.names import name_slug
from pipeline.anthology.registry import (
    Name,
    Person,
    Registry,
    detect_format,
    load_registry,
    write_registry,
)
from pipeline.anthology.registry.rules import resolve_mentions
from pipeline.anthology.snapshot import read_snapshot
from pipeline.errors import InputError, ProblemLog

PEOPLE = {
    "yang-liu-tiny": {"names": [{"first": "Yang", "last": "Liu"}],
                      "orcid": "0000-0002-1825-0097"},
    "bo-li-tiny": {"names": [{"first": "Bo", "last": "Li"}], "comment": "Tiny Journal"},
    "steven-abney": {"names": [{"first": "Steven", "last": "Abney"},
                               {"first": "Steve", "last": "Abney"}]},
    "hector-martinez-alonso": {"names": [{"first": "Héctor", "last": "Martínez Alonso"}],
                               "disable_name_matching": True},
}


def make_current(tmp_path: Path, people: dict[str, object] = PEOPLE) -> Path:
    """The mini snapshot in the current format, written by the official library itself."""
    target = tmp_path / "current"
    shutil.copytree(MINI, target)
    (target / "yaml" / "name_variants.yaml").unlink()
    w99 = target / "xml" / "W99.xml"  # the official library requires a year
    w99.write_text(w99.read_text().replace("<venue>tj</venue>",
                                           "<year>1999</year><venue>tj</venue>"))
    schema = pkgutil.get_data("acl_anthology", "data/schema.rnc")
    assert schema is not None
    (target / "xml" / "schema.rnc").write_bytes(schema)
    (target / "json").mkdir()
    (target / "json" / "people.json").write_text(json.dumps(people))
    anthology = Anthology(datadir=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anthology.people.load()
    anthology.people.save(target / "json" / "people.json")
    return target


def test_legacy_registry_reads_entries_and_ids(mini_dir: Path) -> None:
    registry = load_registry(mini_dir, ProblemLog())
    assert registry.format == "legacy"
    assert list(registry.persons) == ["steven-abney", "yang-liu-tiny", "yang-liu", "bo-li-tiny",
                                      "bo-li", "hector-martinez-alonso", "mausam"]
    hector = registry.persons["hector-martinez-alonso"]
    assert not hector.has_explicit_id
    assert hector.names == (Name("Héctor", "Martínez Alonso"), Name("Hector", "Martinez"))
    assert registry.persons["yang-liu"].is_catch_all
    assert dict(registry.persons["yang-liu-tiny"].extra) == {"institution": "Tiny University"}
    assert registry.ambiguous_names() == {"Yang Liu": ["yang-liu-tiny", "yang-liu"],
                                          "Bo Li": ["bo-li-tiny", "bo-li"]}


def test_legacy_round_trip_is_byte_identical(mini_dir: Path, tmp_path: Path) -> None:
    registry = load_registry(mini_dir, ProblemLog())
    out = write_registry(registry, tmp_path / "out.yaml")
    assert out.read_bytes() == (mini_dir / "yaml" / "name_variants.yaml").read_bytes()


def test_legacy_write_changes_only_the_changed_entry(mini_dir: Path, tmp_path: Path) -> None:
    registry = load_registry(mini_dir, ProblemLog())
    abney = registry.persons["steven-abney"]
    registry.persons["steven-abney"] = abney.with_changes(orcid="0000-0001-2345-6789")
    text = write_registry(registry, tmp_path / "out.yaml").read_text()
    original = (mini_dir / "yaml" / "name_variants.yaml").read_text()
    assert text.replace("  orcid: 0000-0001-2345-6789\n", "", 1) == original


@pytest.mark.parametrize("entry, message", [
    ("- {first: No, last: Canonical}\n", "entry has no `canonical` name"),
    ("- canonical: Just A String\n", "`canonical` must be a mapping"),
    ("- canonical: {first: A, last: B}\n  variants: {first: C, last: D}\n",
     "`variants` must be a list"),
    ("- canonical: {first: A, last: ''}\n", "empty or non-text name part"),
])
def test_legacy_bad_entries_name_the_line(mini_dir: Path, entry: str, message: str) -> None:
    path = mini_dir / "yaml" / "name_variants.yaml"
    path.write_text(path.read_text() + entry)
    problems = ProblemLog()
    load_registry(mini_dir, problems)
    [problem] = problems.errors
    assert message in problem.message and problem.line == 22 and problem.source == str(path)


def test_duplicate_ids_are_errors(mini_dir: Path) -> None:
    path = mini_dir / "yaml" / "name_variants.yaml"
    path.write_text(path.read_text() + "- canonical: {first: Other, last: Person}\n"
                    "  id: steven-abney\n")
    with pytest.raises(InputError) as info:
        read_snapshot(mini_dir)
    assert "duplicate id (also defined at line 1)" in str(info.value)


def test_unknown_id_in_xml_is_an_error_with_file_and_line(mini_dir: Path) -> None:
    path = mini_dir / "xml" / "P99.xml"
    path.write_text(path.read_text().replace("<author><first>Steven</first>",
                                             '<author id="nobody"><first>Steven</first>'))
    with pytest.raises(InputError) as info:
        read_snapshot(mini_dir)
    [problem] = info.value.problems
    assert problem.source.endswith("P99.xml") and problem.line == 12
    assert problem.value == "nobody"


def test_all_problems_of_a_run_are_reported_together(mini_dir: Path) -> None:
    (mini_dir / "xml" / "2099.broken.xml").write_text("<collection id='2099.broken'>\n<volume>")
    path = mini_dir / "yaml" / "name_variants.yaml"
    path.write_text(path.read_text() + "- canonical: {first: X}\n")
    with pytest.raises(InputError) as info:
        read_snapshot(mini_dir)
    sources = sorted(Path(p.source).name for p in info.value.problems)
    assert sources == ["2099.broken.xml", "name_variants.yaml"]


def test_legacy_resolution_rules(mini_dir: Path) -> None:
    snapshot = read_snapshot(mini_dir)
    m = snapshot.mentions
    person = {(r.paper, r.role, r.position): r.person for r in m.itertuples()}
    assert person[("2099.tiny-long.1", "author", 0)] == "yang-liu-tiny"  # explicit id
    assert person[("2099.tiny-long.2", "author", 1)] is None  # ambiguous, no id
    assert person[("2099.tiny-long.2", "author", 2)] == "hector-martinez-alonso"  # variant
    assert person[("P99-1012", "author", 0)] == "steven-abney"
    assert person[("W99-0307", "author", 1)] == "long-do"  # unlisted: its slug
    ambiguous = [p for p in snapshot.problems.warnings if "ambiguous name" in p.message]
    assert [(Path(p.source).name, p.line) for p in ambiguous] == [
        ("2099.tiny.xml", 7), ("2099.tiny.xml", 27), ("P99.xml", 11)]


def test_detects_the_newest_format(tmp_path: Path) -> None:
    current = make_current(tmp_path)
    assert detect_format(current) == "people-json"


def test_current_resolution_matches_the_official_library(tmp_path: Path) -> None:
    current = make_current(tmp_path)
    snapshot = read_snapshot(current)
    ours: dict[str, set[str]] = {}
    for row in snapshot.mentions.itertuples():
        ours.setdefault(row.person, set()).add(row.paper)
        if row.paper == row.volume:  # volume editors also own the front matter
            frontmatter = snapshot.papers[snapshot.papers["volume"] == row.volume]
            ours[row.person].update(frontmatter.loc[frontmatter["is_frontmatter"], "paper"])
    anthology = Anthology(datadir=current)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anthology.people.load()
    official = {pid: {build_id(*item) for item in person.item_ids}
                for pid, person in anthology.people.items() if person.item_ids}
    assert ours == official
    assert "hector-martinez-alonso/unverified" in ours  # name matching disabled


def test_people_json_round_trip_is_byte_identical(tmp_path: Path) -> None:
    current = make_current(tmp_path)
    registry = load_registry(current, ProblemLog())
    out = write_registry(registry, tmp_path / "people.json")
    assert out.read_bytes() == (current / "json" / "people.json").read_bytes()


def test_people_yaml_is_written_as_the_library_did(tmp_path: Path) -> None:
    (tmp_path / "yaml").mkdir()
    path = tmp_path / "yaml" / "people.yaml"
    # As acl-anthology 1.1 wrote it: sorted keys, flow-style names, unicode kept.
    path.write_text(
        "bo-li-tiny:\n  comment: Tiny Journal\n  names:\n  - {first: Bo, last: Li}\n"
        "hector-martinez-alonso:\n  names:\n  - {first: Héctor, last: Martínez Alonso}\n"
        "  - {first: Hector, last: Martinez}\n  orcid: 0000-0002-1825-0097\n"
        "mausam:\n  disable_name_matching: true\n  names:\n  - {last: Mausam}\n",
        encoding="utf-8")
    registry = load_registry(tmp_path, ProblemLog())
    assert registry.format == "people-yaml"
    assert registry.persons["mausam"].names == (Name("", "Mausam"),)
    assert registry.persons["mausam"].disable_name_matching
    assert write_registry(registry, tmp_path / "out.yaml").read_bytes() == path.read_bytes()


def test_current_format_rejects_bad_entries(tmp_path: Path) -> None:
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "people.json").write_text(json.dumps({
        "Bad-Id": {"names": [{"first": "A", "last": "B"}]},
        "no-names": {"comment": "x"},
        "twin-a": {"names": [{"last": "A"}], "orcid": "0000-0002-1825-0097"},
        "twin-b": {"names": [{"last": "B"}], "orcid": "0000-0002-1825-0097"},
        # Not text: every command crashed on them (helper-47).
        "listed-comment": {"names": [{"last": "C"}], "comment": ["see", "other"]},
        "numbered-degree": {"names": [{"last": "D"}], "degree": 5},
        "numbered-script": {"names": [{"last": "E", "script": 5}]},
        "zero-comment": {"names": [{"last": "F"}], "comment": 0},  # empty, still not text
        "false-first": {"names": [{"first": False, "last": "G"}]},
    }, indent=2))
    problems = ProblemLog()
    load_registry(tmp_path, problems)
    messages = sorted((p.line, p.message) for p in problems.errors)
    assert messages == [
        (2, "invalid person id"),
        (10, "entry 'no-names' lists no names"),
        (21, "ORCID already assigned to 'twin-a'"),
        (29, "entry 'listed-comment': `comment` must be text"),
        (40, "entry 'numbered-degree': `degree` must be text"),
        (48, "entry 'numbered-script' has a malformed name"),
        (56, "entry 'zero-comment': `comment` must be text"),
        (64, "entry 'false-first' has a malformed name"),
    ]


def test_person_model_is_immutable() -> None:
    person = Person("a-b", (Name("A", "B"),))
    with pytest.raises(AttributeError):
        person.id = "c"  # type: ignore[misc]
    assert Registry("legacy", Path("x"), {"a-b": person}).ids_for_slug("a-b") == ["a-b"]


@pytest.mark.parametrize(("comment", "catch_all"), [
    ("May refer to several people", True),
    ("May refer to multiple people", True),
    ('"May refer to several people"', True),
    ("may refer to multiple persons.", True),
    ("Tsinghua University", False),
    (None, False),
    ("Not to be confused with: May refer to several people", False),
])
def test_catch_alls_in_every_phrasing(comment: str | None, catch_all: bool) -> None:
    person = Person(id="kun-zhang", names=(Name("Kun", "Zhang"),), comment=comment)
    assert person.is_catch_all is catch_all


_PEOPLE = {
    "ann-lee": Person("ann-lee", (Name("Ann", "Lee"),), orcid="0000-0002-1825-0097"),
    "ann-lee-2": Person("ann-lee-2", (Name("Ann", "Lee"), Name("A.", "Lee"))),
    "bo-wu": Person("bo-wu", (Name("Bo", "Wu"),), disable_name_matching=True),
    "cy-ng": Person("cy-ng", (Name("Cy", "Ng"), Name("C.", "Ng"))),
}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(
    st.sampled_from([("Ann", "Lee"), ("A.", "Lee"), ("Bo", "Wu"), ("Cy", "Ng"), ("C.", "Ng"),
                     ("Di", "Xu")]),
    st.sampled_from([None, "ann-lee", "ann-lee-2", "bo-wu", "nobody"]),
    st.sampled_from([None, "0000-0002-1825-0097", "0000-0001-5109-3700"])), max_size=25),
    registry_format=st.sampled_from(["legacy", "current"]))
def test_mentions_resolve_as_each_row_would_alone(
        rows: list[tuple[tuple[str, str], str | None, str | None]],
        registry_format: str) -> None:
    # Resolution runs once per distinct (first, last, id, orcid): it must give every row
    # what resolving that row alone gives, problems included, in row order.
    registry = Registry(registry_format, Path("people.yaml"), dict(_PEOPLE))
    mentions = pd.DataFrame({
        "first": [name[0] for name, _, _ in rows], "last": [name[1] for name, _, _ in rows],
        "id": pd.Series([pid for _, pid, _ in rows], dtype="str"),
        "orcid": pd.Series([orcid for _, _, orcid in rows], dtype=object),
        "slug": [name_slug(*name) for name, _, _ in rows],
        "file": "X99.xml", "paper": [f"X99-{i}" for i in range(len(rows))], "role": "author",
        "position": 0})
    problems = ProblemLog()
    persons = resolve_mentions(registry, mentions, problems)
    expected_problems = ProblemLog()
    for i in range(len(rows)):
        alone = resolve_mentions(registry, mentions.iloc[[i]], expected_problems)
        assert persons.iloc[i] == alone.iloc[0]
    assert [str(p) for p in problems.problems] == [str(p) for p in expected_problems.problems]


@settings(max_examples=60, deadline=None)
@given(entries=st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
    st.lists(st.text(alphabet="ab \n{}\"", max_size=8), max_size=4), max_size=12))
def test_each_people_json_id_is_found_on_its_line(entries: dict[str, list[str]]) -> None:
    # The lines error messages cite: counted from one entry to the next (from the start of
    # the file each time, the shared snapshot's people.json took 5 s to read).
    from pipeline.anthology.registry.current import _entry_lines

    text = json.dumps({pid: {"names": names} for pid, names in entries.items()}, indent=2)
    expected = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('  "') and line.endswith('": {'):
            expected.setdefault(json.loads(line[2:-3]), number)
    assert _entry_lines(text, "people-json") == expected
