"""Candidate name variants: the kinds of difference real Anthology variants show."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.anthology.names import name_slug
from pipeline.resolve import candidate_index
from pipeline.resolve.candidate_index import (
    KEPT_VERSION,
    CandidateIndex,
    KeptSearch,
    KeptSearchError,
    candidate_pairs,
)
from pipeline.resolve.variant_candidates import NameCounts, NameTokens, counted_parts, variant_kind

# (first, last) pairs from the issue and the registry's own variant lists.
KNOWN_VARIANTS = [
    (("Ben", "Hamadou"), ("Ben", "Benhamadou"), None),  # different given names: no
    (("Abdelmajid", "Ben Hamadou"), ("Abdelmajid", "Benhamadou"), "spelling"),
    (("Do", "Long"), ("Long", "Do"), "order"),
    (("A. Feder", "Cooper"), ("A.", "Cooper"), "abbreviation"),
    (("Aaron Steven", "White"), ("Aaron", "White"), "abbreviation"),
    (("Khalid", "Al Khatib"), ("Khalid", "Khatib"), "abbreviation"),
    (("Abhay", "L. Kashyap"), ("Abhay", "Kashyap"), "abbreviation"),
    (("Héctor", "Martínez Alonso"), ("Hector", "Martinez"), "abbreviation"),
    (("Chris", "Dyer"), ("Christopher J.", "Dyer"), "abbreviation"),
    (("Md Nishat", "Raihan"), ("Nishat", "Raihan"), "abbreviation"),
    (("Yuka", "Tateishi"), ("Yuka", "Tateisi"), "typo"),
    (("Mohammed", "Attia"), ("Mohammad", "Attia"), "typo"),
    (("Yang", "Liu"), ("Yi", "Liu"), None),
    (("Yang", "Liu"), ("Xu", "Liu"), None),
    (("John", "Smith"), ("John", "Smith-Jones"), "abbreviation"),
    (("J.", "Smith"), ("John", "Jones"), None),
    (("Jun", "He"), ("Junhui", "He"), None),  # two complete Chinese given names
    (("Wen", "Xie"), ("Wenjin", "Xie"), None),
    (("Liang", "Qiao"), ("Liang", "Xiao"), None),  # two Chinese family names, not a typo
    (("Xaobing", "Zhou"), ("Xiaobing", "Zhou"), "typo"),
    (("Koldo", "Gojenola"), ("Koldobika", "Gojenola"), "abbreviation"),
    # Nicknames that are no short form, from the snapshot's own curation.
    (("Bill", "Byrne"), ("William J.", "Byrne"), "nickname"),
    (("Kathy", "McKeown"), ("Kathleen R.", "McKeown"), "nickname"),
    (("Ted", "Briscoe"), ("Edward", "Briscoe"), "nickname"),
    (("Mike", "Rosner"), ("Michael", "Rosner"), "nickname"),
    (("Bill", "Dolan"), ("William", "Burns"), None),  # another family name
    (("Bill", "Dolan"), ("Robert B.", "Dolan"), "nickname"),  # the table's: the graph decides
    (("Kathy", "Dolan"), ("William", "Dolan"), None),
    # Family names cut to initials, the given names in full.
    (("Malliga", "S"), ("Malliga", "Subramanian"), "abbreviation"),
    (("Anand Kumar", "M"), ("Anand Kumar", "Madasamy"), "abbreviation"),
    (("Lavanya", "S K"), ("Lavanya", "Sambath Kumar"), "abbreviation"),
    (("Malliga", "S"), ("Malliga", "Kumar"), None),
    (("Wei", "Z"), ("Wei", "Zhang"), None),  # a pinyin given name: too many people
    # Korean and Taiwanese given names a syllable apart: two names (the first two pairs carry
    # two ORCIDs, two ids in the curation; a helper read the others as two people).
    (("Jaewoo", "Kang"), ("Jaewook", "Kang"), None),
    (("Jae-hee", "Lee"), ("Jaesong", "Lee"), None),
    (("Minsoo", "Kim"), ("Minwoo", "Kim"), None),
    (("Seo", "Park"), ("Seongjun", "Park"), None),
    (("H.", "Kim"), ("Hyunwoo", "Kim"), "abbreviation"),  # an initial still stands for one
    # One syllable romanized two ways, and a family name one letter off: one person each.
    (("Shi-Ting", "Huang"), ("Shih-Ting", "Huang"), "abbreviation"),
    (("Yao-Ting", "Hung"), ("Yao-Ting", "Sung"), "typo"),
]


@pytest.mark.parametrize(("a", "b", "kind"), KNOWN_VARIANTS)
def test_variant_kind_of_real_variants(a: tuple[str, str], b: tuple[str, str],
                                       kind: str | None) -> None:
    assert variant_kind(NameTokens.of(*a), NameTokens.of(*b)) == kind
    assert variant_kind(NameTokens.of(*b), NameTokens.of(*a)) == kind


@pytest.mark.parametrize(("a", "b", "kind"), [v for v in KNOWN_VARIANTS if v[2]])
def test_every_kind_of_variant_is_a_candidate(a: tuple[str, str], b: tuple[str, str],
                                              kind: str) -> None:
    """Blocking finds the pair among distractors of the same family name."""
    names = [a, b, ("Zoe", a[1]), ("Q.", b[1]), ("Quentin", "Zhang")]
    rows = [(name_slug(*n), n[0], n[1]) for n in names]
    found = {(c.first, c.second): c.kind for c in candidate_pairs(rows)}
    pair = tuple(sorted((name_slug(*a), name_slug(*b))))
    assert found.get(pair) == kind


name_part = st.text(alphabet=st.sampled_from("abcdeéèüñøłAB -.'"), min_size=1, max_size=12)


@given(name_part, name_part, name_part, name_part)
def test_variant_kind_is_symmetric(f1: str, l1: str, f2: str, l2: str) -> None:
    a, b = NameTokens.of(f1, l1), NameTokens.of(f2, l2)
    assert variant_kind(a, b) == variant_kind(b, a)


@given(name_part, name_part)
def test_accents_case_and_punctuation_are_the_same_letters(first: str, last: str) -> None:
    """Folding never separates a name from its accent-less, lower-case, unhyphenated form."""
    plain = first.lower().replace("é", "e").replace("è", "e").replace("ü", "u")
    folded_last = last.replace("-", " ").upper()
    a, b = NameTokens.of(first, last), NameTokens.of(plain, folded_last)
    assert variant_kind(a, b) in (None, "spelling") or a.all == b.all
    assert "".join(a.all) == "".join(b.all)


@given(st.lists(st.tuples(name_part, name_part), max_size=12))
def test_candidates_are_sorted_distinct_pairs_of_known_slugs(names: list[tuple[str, str]]
                                                             ) -> None:
    rows = [(name_slug(f, last), f, last) for f, last in names]
    slugs = {slug for slug, _, _ in rows}
    candidates = candidate_pairs(rows)
    pairs = [(c.first, c.second) for c in candidates]
    assert pairs == sorted(set(pairs))
    assert all(a < b and a in slugs and b in slugs for a, b in pairs)


def _sole(names: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    rows = [(name_slug(first, last), first, last) for first, last in names]
    return {(c.first, c.second): c.sole_expansion for c in candidate_pairs(rows)}


def test_an_initial_spelt_out_by_one_name_only_is_a_sole_expansion() -> None:
    sole = _sole([("D.", "Moldovan"), ("Dan", "Moldovan"), ("Dan I.", "Moldovan"),
                  ("A. L.", "Guenet"), ("Anne-Laure", "Guenet")])
    assert sole[("d-moldovan", "dan-moldovan")]
    assert sole[("a-l-guenet", "anne-laure-guenet")]
    # Another number of given names is no spelling-out of these initials.
    assert not sole[("d-moldovan", "dan-i-moldovan")]
    assert not sole[("dan-i-moldovan", "dan-moldovan")]


def test_an_initial_two_names_spell_out_is_no_sole_expansion() -> None:
    sole = _sole([("D.", "Moldovan"), ("Dan", "Moldovan"), ("Doina", "Moldovan")])
    assert not sole[("d-moldovan", "dan-moldovan")]
    assert not sole[("d-moldovan", "doina-moldovan")]


def test_a_registry_name_spelling_out_the_initials_too_makes_no_sole_expansion() -> None:
    rows = [(name_slug(first, last), first, last)
            for first, last in [("E.", "Bertino"), ("Enrico", "Bertino")]]
    [alone] = candidate_pairs(rows)
    assert alone.sole_expansion
    # The registry gives "E. Bertino" to Elisa Bertino, a name no mention uses.
    [with_registry] = candidate_pairs(rows, [("Elisa", "Bertino"), ("Enrico", "Bertino")])
    assert (with_registry.first, with_registry.second) == ("e-bertino", "enrico-bertino")
    assert not with_registry.sole_expansion
    # A registry name the mentions use already counts once.
    [same] = candidate_pairs(rows, [("Enrico", "Bertino"), ("E.", "Bertino")])
    assert same.sole_expansion


@given(st.dictionaries(st.text("ab", min_size=1, max_size=3),
                       st.text("abc", min_size=4, max_size=6), max_size=14))
def test_typo_blocks_small_and_large_pair_the_same_slugs(token_of: dict[str, str]) -> None:
    # Blocks of few distinct tokens are compared pair by pair, larger ones by one matrix.
    by_pairs = list(candidate_index._one_edit_apart(token_of))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(candidate_index, "SMALL_TYPO_BLOCK", 0)
        by_matrix = list(candidate_index._one_edit_apart(token_of))
    assert by_pairs == by_matrix
    one_edit = {frozenset((a, b)) for a in token_of for b in token_of
                if _edit_distance(token_of[a], token_of[b]) == 1}
    assert {frozenset(pair) for pair in by_pairs} == one_edit


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


_token = st.sampled_from(["a", "d", "an", "ann", "anna", "anne", "dan", "li", "liu", "lu",
                          "xiao", "qiao", "wang", "wong", "moldovan", "moldavan", "martin",
                          "martina", "bill", "william", "m"])
_name = st.tuples(st.lists(_token, max_size=2).map(" ".join),
                  st.lists(_token, min_size=1, max_size=2).map(" ".join))


@given(_name, _name)
def test_variant_kind_of_whole_tokens_is_symmetric(a: tuple[str, str], b: tuple[str, str]
                                                   ) -> None:
    """As above, with tokens that are names, initials, short forms and nicknames."""
    ta, tb = NameTokens.of(*a), NameTokens.of(*b)
    assert variant_kind(ta, tb) == variant_kind(tb, ta)


def _split_elsewhere(name: tuple[str, str]) -> tuple[str, str]:
    """The same words (so the same slug) split one word later or earlier between the
    given and the family names ({Abhay L., Kashyap} / {Abhay, L. Kashyap})."""
    first, last = name
    words, given = f"{first} {last}".split(), len(first.split())
    if len(words) < 2:
        return name
    at = given - 1 if given > 0 else 1
    return " ".join(words[:at]), " ".join(words[at:])


@given(st.lists(_name, max_size=16), st.lists(_name, max_size=16),
       st.lists(_name, max_size=4), st.data())
def test_a_kept_search_updated_finds_what_a_fresh_one_finds(
        before: list[tuple[str, str]], added: list[tuple[str, str]],
        known: list[tuple[str, str]], data: st.DataObject) -> None:
    """Names leave, come, and change spelling under one slug (split elsewhere, or another
    first row for it); the kept search, through its bytes, updated to tonight's names gives
    the candidates a fresh search gives."""
    staying = [name for name in before if data.draw(st.booleans())]
    split_elsewhere = [_split_elsewhere(name) for name in before if data.draw(st.booleans())]
    tonight = data.draw(st.permutations([*staying, *split_elsewhere, *added]))
    rows = {when: [(name_slug(first, last), first, last) for first, last in names]
            for when, names in (("before", before), ("tonight", tonight))}
    kept = KeptSearch.of(CandidateIndex.build(rows["before"]))
    updated = KeptSearch.from_bytes(kept.to_bytes()).updated(rows["tonight"])
    assert updated.candidates(known) == candidate_pairs(rows["tonight"], known)
    fresh = KeptSearch.of(CandidateIndex.build(rows["tonight"]))
    for part in ("names", "filings", "found"):
        assert sorted(getattr(updated, part).to_pylist(), key=str) == sorted(
            getattr(fresh, part).to_pylist(), key=str), part


def test_new_names_of_every_kind_pair_with_the_kept_ones() -> None:
    before = [("Dan", "Moldovan"), ("Anna", "Martin"), ("Li", "Wang"), ("A.", "Lu"),
              ("William J.", "Byrne"), ("Malliga", "Subramanian")]
    tonight = [*before, ("Dan", "Moldavan"), ("D.", "Moldovan"), ("Anna Martin", "Lu"),
               ("Martin", "Anna"), ("Liwang", ""), ("Anne", "Lu"), ("Bill", "Byrne"),
               ("Malliga", "S")]
    rows = [(name_slug(first, last), first, last) for first, last in tonight]
    kept = KeptSearch.of(CandidateIndex.build(rows[:len(before)]))
    found = kept.updated(rows).candidates()
    assert found == candidate_pairs(rows)
    assert {c.kind for c in found} == {"spelling", "order", "abbreviation", "nickname", "typo"}
    assert ("malliga-s", "malliga-subramanian", "abbreviation") in {
        (c.first, c.second, c.kind) for c in found}


def _kept_bytes(**parts: pa.Table) -> bytes:
    rows = [(name_slug(first, last), first, last)
            for first, last in [("D.", "Moldovan"), ("Dan", "Moldovan"), ("Anna", "Lu")]]
    search = KeptSearch.of(CandidateIndex.build(rows))
    tables = {"names": search.names, "filings": search.filings, "found": search.found}
    return pickle.dumps({"version": KEPT_VERSION, **tables, **parts})


def _bad_offsets(strings: pa.Array) -> pa.Array:
    validity, offsets, data = strings.buffers()
    bad = np.frombuffer(offsets, dtype=np.int32).copy()
    bad[1] = 1 << 30  # within the bounds only the first and last offsets are checked
    return pa.Array.from_buffers(pa.string(), len(strings), [validity, pa.py_buffer(bad), data])


def _with_row(table: pa.Table, **values: object) -> pa.Table:
    row = {**table.slice(0, 1).to_pylist()[0], **values}
    return pa.concat_tables([table, pa.Table.from_pylist([row], schema=table.schema)])


@pytest.mark.parametrize("data", [
    b"", b"not a pickle", pickle.dumps({"version": 1}),
    pickle.dumps({"version": KEPT_VERSION, "names": 3}),
    pytest.param(lambda search: _kept_bytes(filings=_with_row(search.filings, slug="nobody")),
                 id="a filing of a slug it does not name"),
    pytest.param(lambda search: _kept_bytes(found=_with_row(search.found, second="nobody")),
                 id="a pair with a slug it does not name"),
    pytest.param(lambda search: _kept_bytes(names=_with_row(search.names)),
                 id="a slug named twice"),
    pytest.param(lambda search: _kept_bytes(names=_with_row(search.names, slug="x", last=None)),
                 id="a missing value"),
    pytest.param(lambda search: _kept_bytes(found=_with_row(search.found, kind="alias")),
                 id="a kind of difference it does not know"),
    pytest.param(lambda search: _kept_bytes(names=search.names.set_column(
        0, "slug", _bad_offsets(search.names["slug"].combine_chunks()))),
        id="a string offset past its data (Arrow would read out of bounds)"),
    pytest.param(lambda search: _kept_bytes(found=search.found.cast(pa.schema(
        [(field.name, pa.string()) for field in search.found.schema]))), id="another type")])
def test_bytes_that_are_no_kept_search_are_refused(data: Any) -> None:
    if callable(data):
        data = data(KeptSearch.from_bytes(_kept_bytes()))
    with pytest.raises(KeptSearchError):
        KeptSearch.from_bytes(data)


def test_a_kept_search_is_the_same_bytes_whatever_the_string_hashing() -> None:
    """Keys come from a set, whose order changes with each process's hash seed."""
    code = ("import hashlib, sys; from pipeline.resolve.candidate_index import *; "
            "rows = [('dan-moldovan', 'Dan', 'Moldovan'), ('d-moldovan', 'D.', 'Moldovan'), "
            "('dan-moldavan', 'Dan', 'Moldavan'), ('moldovan-dan', 'Moldovan', 'Dan')]; "
            "kept = KeptSearch.of(CandidateIndex.build(rows[:2])); "
            "print(hashlib.sha256(kept.to_bytes() + kept.updated(rows).to_bytes()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(digests) == 1


def test_an_updated_search_keeps_one_chunk_per_column() -> None:
    rows = [(name_slug(first, last), first, last)
            for first, last in [("Dan", "Moldovan"), ("D.", "Moldovan"), ("Anna", "Lu")]]
    search = KeptSearch.of(CandidateIndex.build(rows[:1]))
    for row in rows[1:]:
        search = search.updated([*rows[:1], row])
    assert {column.num_chunks for table in (search.names, search.filings, search.found)
            for column in table.columns} == {1}


def test_a_family_initial_counts_every_family_name_with_it() -> None:
    """As an initial given name does: "Malliga S" may be any Malliga whose family name
    starts with S."""
    names = [("Malliga", "S"), ("Malliga", "Subramanian"), ("Xu", "Smith"), ("Yan", "Jones")]
    counts = NameCounts.of(counted_parts(NameTokens.of(*name)) for name in names)
    assert counts.commonness(*counted_parts(NameTokens.of("Malliga", "S"))) == \
        pytest.approx(np.log(2 * 3 / 4))
    assert counts.commonness(*counted_parts(NameTokens.of("Malliga", "Subramanian"))) == \
        pytest.approx(np.log(2 * 1 / 4))
