from __future__ import annotations

from acl_anthology.people.name import Name as OfficialName
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.anthology.names import (
    MAX_SLUG_LENGTH,
    first_initials,
    full_name,
    last_key,
    name_slug,
    slug_problem,
    strip_accents,
)

name_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")


@settings(max_examples=300, deadline=None)
@given(first=st.one_of(st.none(), name_text), last=name_text)
def test_slug_equals_the_official_library(first: str | None, last: str) -> None:
    assert name_slug(first, last) == OfficialName(first, last).slugify()


ascii_name = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                     max_size=25).filter(lambda s: s.strip() != "")


@settings(max_examples=1000, deadline=None)
@given(first=st.one_of(st.none(), ascii_name), last=ascii_name)
def test_ascii_fast_path_equals_the_official_library(first: str | None, last: str) -> None:
    assert name_slug(first, last) == OfficialName(first, last).slugify()


# Pieces of names that slugify keeps, drops, or decodes to nothing (HTML entities).
name_pieces = st.lists(st.sampled_from(
    [".", "-", "'", "…", " ", "!", "&", ",", "·", "A", "é", "李", "1", "ⵜ", "\u200b", "&amp;",
     "&lt;", "&nbsp;", "&#8203;", "&#x41;", "&#65;", "amp;"]), min_size=1, max_size=8).map("".join)
long_names = st.text(alphabet="ab -李", min_size=150, max_size=260)


@settings(max_examples=500, deadline=None)
@given(first=st.one_of(st.none(), name_text, name_pieces, long_names),
       last=st.one_of(name_text, name_pieces, long_names))
def test_slug_problem_says_when_the_slug_cannot_name_a_person(first: str | None, last: str
                                                              ) -> None:
    slug = name_slug(first, last)
    assert (slug_problem(first, last) is None) == (0 < len(slug) <= MAX_SLUG_LENGTH)


@given(first=name_text, last=name_text)
def test_slug_is_lowercase_ascii_and_hyphenated(first: str, last: str) -> None:
    slug = name_slug(first, last)
    assert slug == slug.lower()
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-") and "--" not in slug


@given(text=name_text)
def test_strip_accents_is_idempotent(text: str) -> None:
    once = strip_accents(text)
    assert strip_accents(once) == once


@given(first=name_text, last=name_text)
def test_last_key_ignores_case_and_accents(first: str, last: str) -> None:
    assert last_key(last.upper()) == last_key(last.lower()) or not last.isascii()
    assert last_key(strip_accents(last)) == last_key(last)


def test_examples() -> None:
    assert name_slug("Héctor", "Martínez Alonso") == name_slug("Hector", "Martinez Alonso")
    assert name_slug("Long", "Do") != name_slug("Do", "Long")
    assert full_name("", "Mausam") == "Mausam"
    assert first_initials("H. V.") == "hv"


@settings(max_examples=200, deadline=None)
@given(names=st.lists(st.tuples(st.sampled_from(["", "Héctor", "Hector", "hector", "Yang",
                                                  "Ana María", "Ana-Maria"]),
                                 st.sampled_from(["Liu", "LIU", "Martínez", "Martinez",
                                                  "Alonso", "Al-Thubaity"])),
                       min_size=1, max_size=30))
def test_commonness_counts_names_by_the_slugs_of_their_parts(
        names: list[tuple[str, str]]) -> None:
    """log(#names whose given name has this one's slug * #names whose family name has
    this one's slug / #names), over distinct name slugs (each name's first spelling)."""
    import math

    import pandas as pd

    from pipeline.resolve.ambiguity import name_commonness

    mentions = pd.DataFrame({"first": [f for f, _ in names], "last": [last for _, last in names],
                             "slug": [name_slug(f or None, last) for f, last in names]})
    commonness = name_commonness(mentions)
    firsts = mentions.drop_duplicates("slug")
    total = len(firsts)
    given = [name_slug(None, f) if f else "" for f in firsts["first"]]
    family = [name_slug(None, last) for last in firsts["last"]]
    assert commonness.index.tolist() == firsts["slug"].tolist()
    for k, slug in enumerate(firsts["slug"]):
        expected = math.log(given.count(given[k]) * family.count(family[k]) / total)
        assert math.isclose(commonness[slug], expected)


@settings(max_examples=200, deadline=None)
@given(column=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "é", "", "a b"])),
                       max_size=20),
       values=st.sets(st.sampled_from(["a", "b", "é", "", "c"])),
       arrow=st.booleans())
def test_isin_is_pandas_isin(column: list[str | None], values: set[str], arrow: bool) -> None:
    import numpy as np
    import pandas as pd

    from pipeline.anthology.columns import isin

    series = pd.Series(column, dtype="str" if arrow else object)
    assert np.array_equal(isin(series, values), series.isin(values).to_numpy(dtype=bool))
