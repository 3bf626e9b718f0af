from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINI
from hypothesis import given
from hypothesis import strategies as st

from pipeline.anthology.volumes import (
    MENTION_FIELDS,
    PAPER_FIELDS,
    VOLUME_FIELDS,
    VolumeFileTables,
    _clean,
    locate_mentions,
    parse_volume_file,
)


def column(tables: VolumeFileTables, kind: str, name: str) -> list[object]:
    fields = {"mentions": MENTION_FIELDS, "papers": PAPER_FIELDS, "volumes": VOLUME_FIELDS}
    index = fields[kind].index(name)
    return [row[index] for row in getattr(tables, kind)]


def test_new_style_ids_frontmatter_and_editors() -> None:
    tables = parse_volume_file(MINI / "xml" / "2099.tiny.xml")
    assert column(tables, "papers", "paper") == [
        "2099.tiny-long.0", "2099.tiny-long.1", "2099.tiny-long.2"]
    assert column(tables, "papers", "is_frontmatter") == [True, False, False]
    editors = [(row[0], row[2], row[4], row[5]) for row in tables.mentions
               if row[2] == "editor"]
    assert editors == [("2099.tiny-long", "editor", "Ada", "Editor"),
                       ("2099.tiny-long", "editor", "Bo", "Li")]
    assert column(tables, "volumes", "venues") == ["acl|tiny"]
    assert column(tables, "papers", "authors")[0] == ["Ada Editor", "Bo Li"]


def test_markup_is_reduced_to_text() -> None:
    tables = parse_volume_file(MINI / "xml" / "2099.tiny.xml")
    assert column(tables, "papers", "title")[1] == "BERT for Tiny Parsing with \\alpha-Smoothing"
    assert column(tables, "papers", "abstract")[1] == "We parse tiny sentences with big models."
    assert column(tables, "volumes", "title") == [
        "Proceedings of the Tiny Conference on NLP (Volume 1: Long Papers)"]


def test_mention_fields_variant_and_mononym() -> None:
    rows = [(row[0], *row[2:12])  # all but volume, year, venues
            for row in parse_volume_file(MINI / "xml" / "2099.tiny.xml").mentions]
    assert rows[2] == ("2099.tiny-long.1", "author", 0, "Yang", "Liu", "yang-liu-tiny",
                       "0000-0002-1825-0097", "Tiny University", None, None, None)
    assert rows[4][3:5] == ("Xiaoming", "Sun") and rows[4][8:] == ("小明", "孙", "hani")
    assert rows[5][2:5] == (0, "", "Mausam")


def test_old_style_ids_and_missing_year() -> None:
    p99 = parse_volume_file(MINI / "xml" / "P99.xml")
    assert column(p99, "papers", "paper") == ["P99-1001", "P99-1012"]
    assert column(p99, "mentions", "first")[:1] == ["Bo"]  # <last> before <first> is fine
    w99 = parse_volume_file(MINI / "xml" / "W99.xml")
    assert column(w99, "papers", "paper") == ["W99-0307"]
    assert column(w99, "mentions", "paper") == ["W99-03", "W99-0307", "W99-0307"]
    assert column(w99, "papers", "year") == [None]


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "2099.bad.xml"
    bad.write_text("<collection id='2099.bad'>\n<volume id='1'>\n<paper>\n</volume>\n")
    tables = parse_volume_file(bad)
    [problem] = tables.problems.errors
    assert problem.source == str(bad) and problem.line == 4
    assert "malformed XML" in problem.message


def test_empty_name_is_skipped_with_a_warning_naming_its_line(tmp_path: Path) -> None:
    # The Anthology's own build tolerated <first/><last/> (2019 snapshot): skip, warn.
    bad = tmp_path / "2099.empty.xml"
    bad.write_text(
        "<collection id='2099.empty'>\n<volume id='1'>\n<meta><year>2099</year></meta>\n"
        "<paper id='1'>\n<title>T</title>\n<author><first/><last/></author>\n"
        "<author><first>Ada</first><last>Lovelace</last></author>\n"
        "</paper>\n</volume>\n</collection>\n")
    tables = parse_volume_file(bad)
    assert tables.problems.errors == []
    [problem] = tables.problems.warnings
    assert (problem.line, problem.message) == (
        6, "author 0 of 2099.empty-1.1 has an empty name; skipped")
    [row] = tables.mentions
    mention = dict(zip(MENTION_FIELDS, row))
    # The position stays the element's position, so patches still find the right element.
    assert (mention["last"], mention["position"]) == ("Lovelace", 1)
    assert tables.papers[0][-1] == ["Ada Lovelace"]


@pytest.mark.parametrize(("first", "last", "problem"), [
    (".", "- !!", "an empty slug (no letter or digit the slug keeps)"),
    ("&amp;lt;", "&amp;amp;", "an empty slug (no letter or digit the slug keeps)"),  # entities
    ("Ann", "x" * 250, "a slug longer than 200 characters"),
])
def test_a_name_whose_slug_cannot_name_a_person_is_skipped_with_a_warning(
        tmp_path: Path, first: str, last: str, problem: str) -> None:
    bad = tmp_path / "2099.dots.xml"
    bad.write_text(
        "<collection id='2099.dots'>\n<volume id='1'>\n<meta><year>2099</year></meta>\n"
        f"<paper id='1'>\n<title>T</title>\n<author><first>{first}</first><last>{last}</last>"
        "</author>\n<author><last>李</last></author>\n"
        "</paper>\n</volume>\n</collection>\n")
    tables = parse_volume_file(bad)
    [warning] = tables.problems.warnings
    assert (warning.line, warning.message) == (
        6, f"author 0 of 2099.dots-1.1 has a name with {problem}; skipped")
    [row] = tables.mentions
    assert dict(zip(MENTION_FIELDS, row))["last"] == "李"  # its slug is "li"


@given(st.text(alphabet=st.sampled_from(list("ab é\r\n\t\x0b\x0c\x85\u00a0\u2028\u200b")),
               max_size=12))
def test_names_are_cleaned_of_every_kind_of_whitespace(text: str) -> None:
    assert _clean(text) == " ".join(text.split())


def test_a_carriage_return_in_a_name_becomes_a_space(tmp_path: Path) -> None:
    # helper-45: left in the name, it broke the row of assignments.csv it was written to.
    path = tmp_path / "2099.cr.xml"
    path.write_text(
        "<collection id='2099.cr'><volume id='1'><meta><year>2099</year></meta>"
        "<paper id='1'><title>T</title><author><first>Ann&#13;Marie</first>"
        "<last>Zqxjv&#13;</last></author></paper></volume></collection>")
    [row] = parse_volume_file(path).mentions
    mention = dict(zip(MENTION_FIELDS, row))
    assert (mention["first"], mention["last"]) == ("Ann Marie", "Zqxjv")


@pytest.mark.parametrize("year", ["0000", "²⁰²⁴", "２０２４", "twenty"])
def test_a_year_that_is_not_a_year_is_a_warning_not_a_crash(tmp_path: Path, year: str) -> None:
    bad = tmp_path / "2099.year.xml"
    bad.write_text(
        f"<collection id='2099.year'>\n<volume id='1'>\n<meta><year>{year}</year></meta>\n"
        "<paper id='1'>\n<title>T</title>\n<author><first>Ada</first><last>Lovelace</last>"
        "</author>\n</paper>\n</volume>\n</collection>\n", encoding="utf-8")
    tables = parse_volume_file(bad)
    [warning] = tables.problems.warnings
    assert (warning.message, warning.value) == ("unreadable <year> in 2099.year-1", year)
    assert dict(zip(MENTION_FIELDS, tables.mentions[0]))["year"] is None


def test_locate_mentions_finds_editor_and_author_lines() -> None:
    lines = locate_mentions(MINI / "xml" / "2099.tiny.xml",
                            {("2099.tiny-long", "editor", 1), ("2099.tiny-long.2", "author", 1)})
    assert lines == {("2099.tiny-long", "editor", 1): 7, ("2099.tiny-long.2", "author", 1): 27}
