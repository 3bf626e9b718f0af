"""ORCIDs as the reader keeps them: in the library's form, and only those that identify
someone (`pipeline/anthology/orcids.py`), on a made-up snapshot and by property."""

from __future__ import annotations

from pathlib import Path

from builder import Author, Paper, Volume, write_snapshot
from hypothesis import given
from hypothesis import strategies as st

from pipeline.anthology.orcids import clean_orcid, orcid_key
from pipeline.anthology.snapshot import read_snapshot

VALID = "0000-0002-1825-0097"  # ORCID's own example
BAD_CHECKSUM = "0000-0003-3333-4444"


def test_invalid_orcids_are_read_as_none_with_a_warning_unless_the_registry_holds_them(
        tmp_path: Path) -> None:
    authors = [Author("Zhai", "Yu", orcid="0000-0000-0000-0000"),
               Author("Shuo", "Lei", orcid="0000-0000-0000-0000"),
               Author("Ada", "Url", orcid=f"https://orcid.org/{VALID.lower()}"),
               Author("Yang", "Liu", orcid=BAD_CHECKSUM)]
    root = write_snapshot(tmp_path / "anthology", [Volume("2020.tiny", "main", 2020, "tiny", [
        Paper("One paper", authors)])], registry_yaml=(
        f"- canonical: {{first: Yang, last: Liu}}\n  id: yang-liu-thu\n"
        f"  orcid: {BAD_CHECKSUM}\n"))
    snapshot = read_snapshot(root)
    orcid = dict(zip(snapshot.mentions["last"], snapshot.mentions["orcid"]))
    # A placeholder two strangers share is no identity; a URL is read as the bare ORCID;
    # a bad checksum the registry gives to a person still pins as the registry says.
    assert orcid == {"Yu": None, "Lei": None, "Url": VALID, "Liu": BAD_CHECKSUM}
    warned = [p for p in snapshot.problems.warnings if "not a valid ORCID" in p.message]
    assert len(warned) == 2
    assert all(p.source.endswith("2020.tiny.xml") and "2020.tiny-main.1" in p.message
               for p in warned)
    # Each names its mention and the line of its <author> element.
    lines = (root / "xml" / "2020.tiny.xml").read_text(encoding="utf-8").splitlines()
    for problem, position in zip(warned, (0, 1)):
        assert f"author {position} of 2020.tiny-main.1" in problem.message
        assert problem.line is not None and "<author" in lines[problem.line - 1]


digits = st.text(alphabet="0123456789", min_size=4, max_size=4)


@given(st.tuples(digits, digits, digits, st.text(alphabet="0123456789", min_size=3,
                                                 max_size=3), st.sampled_from("0123456789Xx")))
def test_an_orcid_is_clean_exactly_when_its_checksum_holds(parts: tuple[str, ...]) -> None:
    text = f"{parts[0]}-{parts[1]}-{parts[2]}-{parts[3]}{parts[4]}"
    key = orcid_key(text)
    assert key == text.upper()  # the shape is enough for a key
    assert orcid_key(f"https://orcid.org/{text}") == key
    total = 0
    for digit in text.replace("-", "")[:-1]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    expected = "X" if check == 10 else str(check)
    assert (clean_orcid(text) == key) == (key[-1] == expected)
    assert clean_orcid(text) in (key, None)


def test_what_is_not_shaped_like_an_orcid_has_no_key() -> None:
    for value in (None, float("nan"), "", "0000-0002-1825", "not an orcid", "00000002182500970"):
        assert orcid_key(value) is None and clean_orcid(value) is None


def test_migrate_removes_an_invalid_orcid_from_the_xml(tmp_path: Path) -> None:
    from pipeline.cli import main

    root = write_snapshot(tmp_path / "anthology", [Volume("2020.tiny", "main", 2020, "tiny", [
        Paper("One paper", [Author("Zhai", "Yu", orcid="0000-0000-0000-0000"),
                            Author("Ada", "Lovelace", orcid=VALID)])])])
    out = tmp_path / "migrated"
    assert main(["-q", "migrate", "--anthology", str(root), "--no-cache", "--out",
                 str(out)]) == 0
    xml = (out / "xml" / "2020.tiny.xml").read_text(encoding="utf-8")
    assert "0000-0000-0000-0000" not in xml and VALID in xml


LOWER_X = "0000-0002-1694-233x"  # valid, with the check character in lower case


def test_registry_orcids_are_read_as_the_library_reads_them(tmp_path: Path) -> None:
    import json

    from pipeline.anthology.registry import load_registry
    from pipeline.errors import ProblemLog

    (tmp_path / "legacy" / "yaml").mkdir(parents=True)
    (tmp_path / "legacy" / "yaml" / "name_variants.yaml").write_text(
        f"- canonical: {{first: Lowe, last: Ex}}\n  id: lowe-ex\n  orcid: {LOWER_X}\n"
        f"- canonical: {{first: Ursula, last: Url}}\n  id: ursula-url\n"
        f"  orcid: orcid.org/{VALID}\n")
    (tmp_path / "current" / "json").mkdir(parents=True)
    (tmp_path / "current" / "json" / "people.json").write_text(json.dumps(
        {"lowe-ex": {"names": [{"first": "Lowe", "last": "Ex"}], "orcid": LOWER_X}}))
    for kind in ("legacy", "current"):
        problems = ProblemLog()
        registry = load_registry(tmp_path / kind, problems)
        assert not problems.errors
        assert registry.persons["lowe-ex"].orcid == LOWER_X.upper()
    legacy = load_registry(tmp_path / "legacy", ProblemLog())
    assert legacy.persons["ursula-url"].orcid == VALID


def test_migrate_keeps_registry_orcids_in_another_spelling(tmp_path: Path) -> None:
    import json

    from pipeline.cli import main

    root = write_snapshot(tmp_path / "anthology", [Volume("2020.tiny", "main", 2020, "tiny", [
        Paper("One paper", [Author("Lowe", "Ex", id="lowe-ex"),
                            Author("Ursula", "Url", id="ursula-url")])])], registry_yaml=(
        f"- canonical: {{first: Lowe, last: Ex}}\n  id: lowe-ex\n  orcid: {LOWER_X}\n"
        f"- canonical: {{first: Ursula, last: Url}}\n  id: ursula-url\n"
        f"  orcid: orcid.org/{VALID}\n"))
    out = tmp_path / "migrated"
    assert main(["-q", "migrate", "--anthology", str(root), "--no-cache", "--out",
                 str(out)]) == 0
    people = json.loads((out / "json" / "people.json").read_text(encoding="utf-8"))
    assert people["lowe-ex"]["orcid"] == LOWER_X.upper()
    assert people["ursula-url"]["orcid"] == VALID
