"""The `<author id>` patcher changes only id attributes (examples and a property test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builder import Author, Paper, Volume, write_snapshot
from conftest import MINI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.anthology.volumes import MENTION_FIELDS, parse_volume_file
from pipeline.anthology.xml_patch import add_person_ids, edit_mention_attributes

INSERTED = re.compile(r' id="[a-z0-9][-a-z0-9]+"')


def test_adds_an_id_and_nothing_else() -> None:
    original = (MINI / "xml" / "2099.tiny.xml").read_text(encoding="utf-8")
    result = add_person_ids(original, {("2099.tiny-long.2", "author", 1): "yang-liu-tiny",
                                       ("2099.tiny-long", "editor", 1): "bo-li-tiny"})
    assert result.added == 2 and not result.conflicts and not result.missing
    assert '<author id="yang-liu-tiny"><first>Yang</first><last>Liu</last></author>' in (
        result.text)
    assert '<editor id="bo-li-tiny"><first>Bo</first>' in result.text
    assert result.text.replace(' id="yang-liu-tiny"><first>Yang</first><last>Liu</last></a',
                               "><first>Yang</first><last>Liu</last></a", 1
                               ).replace(' id="bo-li-tiny"', "", 1) == original


def test_existing_ids_are_never_changed() -> None:
    original = (MINI / "xml" / "2099.tiny.xml").read_text(encoding="utf-8")
    result = add_person_ids(original, {("2099.tiny-long.1", "author", 0): "someone-else",
                                       ("2099.tiny-long.9", "author", 0): "nobody"})
    assert result.text == original
    assert result.conflicts == ["author 0 of 2099.tiny-long.1 has id 'yang-liu-tiny'; not "
                                "changed to 'someone-else'"]
    assert result.missing == [("2099.tiny-long.9", "author", 0)]


def test_rejects_invalid_ids() -> None:
    with pytest.raises(ValueError, match="not a valid person id"):
        add_person_ids("<collection id='2099.x'/>", {("2099.x-1.1", "author", 0): "Bad Id"})


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=12).filter(lambda s: s.strip() != "")
authors = st.builds(Author, first=names, last=names,
                    id=st.one_of(st.none(), st.sampled_from(["kept-id", "other-id"])),
                    affiliation=st.one_of(st.none(), names))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(papers=st.lists(st.lists(authors, min_size=1, max_size=5), min_size=1, max_size=4),
       chosen=st.data())
def test_property_only_id_attributes_change(tmp_path: Path, papers: list[list[Author]],
                                            chosen: st.DataObject) -> None:
    volume = Volume("2099.prop", "main", 2099, "prop",
                    [Paper(f"Title {i}", authors) for i, authors in enumerate(papers)])
    root = write_snapshot(tmp_path / "snap", [volume])
    path = root / "xml" / "2099.prop.xml"
    original = path.read_text(encoding="utf-8")
    rows = parse_volume_file(path).mentions
    keys = [(r[0], r[2], r[3]) for r in rows]
    # A name whose slug is empty (":" ":") is skipped by the parser: it may leave no key.
    picked = chosen.draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys))
                         if keys else st.just([]))
    wanted = {key: f"person-{i}" for i, key in enumerate(picked)}
    result = add_person_ids(original, wanted)
    path.write_text(result.text, encoding="utf-8")
    patched = parse_volume_file(path)
    assert not patched.problems.errors
    id_index = MENTION_FIELDS.index("id")
    before = {(r[0], r[2], r[3]): r[id_index] for r in rows}
    after = {(r[0], r[2], r[3]): r[id_index] for r in patched.mentions}
    for key, old in before.items():
        expected = old if old is not None or key not in wanted else wanted[key]
        assert after[key] == expected
    assert result.added == sum(1 for k in wanted if before[k] is None)
    # Removing the inserted attributes gives back the original, byte for byte.
    assert INSERTED.sub("", result.text) == INSERTED.sub("", original)
    assert len(result.text) - len(original) == sum(
        len(f' id="{wanted[k]}"') for k in wanted if before[k] is None)


def test_a_volume_number_inside_meta_is_not_a_volume() -> None:
    # The 2019 files have <meta><volume>1</volume></meta> beside <volume id="1">.
    text = ("<collection id='U03'><volume id='1'><meta><booktitle>B</booktitle>"
            "<volume>1</volume></meta><paper id='1'><author><first>A</first><last>B</last>"
            "</author></paper></volume></collection>")
    result = edit_mention_attributes(text, {("U03-1001", "author", 0): [("id", None, "a-b")]})
    assert result.text.count('id="a-b"') == 1 and not result.missing
