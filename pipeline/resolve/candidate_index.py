"""The blocking-key index of a snapshot's name slugs, and the candidate pairs it finds.

`variant_candidates.py` says which keys a name has and when two names are a candidate; this
module files every slug under its keys and compares the slugs that share one
(`CandidateIndex`). Whether two slugs are a candidate, and of which kind, depends on their
two spellings alone, so a night keeps what it found (`KeptSearch`, in the nightly state)
and the next one compares only the slugs whose spelling came or changed, with each other
and with the kept slugs filed under their keys; a property test checks that this finds
what a fresh index finds. Commonness and sole expansions read every name, so they are
computed again each time, from the parts of each name that they count (`_candidates`).
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from pipeline.garbage import cyclic_gc_paused
from pipeline.resolve.variant_candidates import (
    KIND_ORDER,
    Candidate,
    NameCounts,
    NameTokens,
    VariantKind,
    blocking_keys,
    counted_parts,
    family_initials,
    spells_out,
    variant_kind,
)

SMALL_TYPO_BLOCK = 8  # distinct tokens up to which pairs are compared one by one
INITIALS = "initials"  # the token of an `f:` filing whose name has family initials
KEPT_VERSION = "kept-candidate-search-v3"  # v2: nickname keys (`n:`); v3: `f:` keys
# Which slug of a found pair is a name of initials the other spells out ("D. Moldovan" /
# "Dan Moldovan"), if either.
NEITHER, FIRST, SECOND = 0, 1, 2

Spelling = tuple[str, str]  # (first, last), the first "" for none
FoundPair = tuple[str, str, VariantKind, int]  # sorted slugs, kind, NEITHER/FIRST/SECOND


class KeptSearchError(ValueError):
    """Bytes that are not a search this version kept."""


@dataclass
class CandidateIndex:
    """Slugs filed under their blocking keys, and the candidate pairs among them."""

    spellings: dict[str, Spelling]  # slug -> the (first, last) that stands for it
    tokens: dict[str, NameTokens]
    # Slugs by `c:`, `s:` and `t:` key; by `i:` key, grouped by the given name it came from.
    blocks: dict[str, list[str]]
    by_initial: dict[str, dict[str, list[str]]]
    found: dict[tuple[str, str], VariantKind]  # sorted pair -> kind

    @classmethod
    def build(cls, names: Iterable[tuple[str, str | None, str]]) -> CandidateIndex:
        """The index of `(slug, first, last)` names (the first row of a slug stands for it),
        its pairs found block by block."""
        index = cls({}, {}, {}, {}, {})
        with cyclic_gc_paused():
            for slug, first, last in names:
                if slug not in index.spellings:
                    index._file(slug, (first or "", last))
            index._find_all()
        return index

    def candidates(self, known: Iterable[tuple[str | None, str]] = ()) -> list[Candidate]:
        """The candidate pairs, sorted (`_candidates`)."""
        with cyclic_gc_paused():
            return _candidates(self.found_pairs(),
                               {slug: counted_parts(name) for slug, name in self.tokens.items()},
                               ((slug, initials_key(name)) for slug, name in self.tokens.items()),
                               known)

    def found_pairs(self) -> list[FoundPair]:
        return [(a, b, kind, _spelt_out(self.tokens[a], self.tokens[b], kind))
                for (a, b), kind in self.found.items()]

    def filings(self) -> Iterator[tuple[str, str, str, str]]:
        """(slug, key, given name, token) for every key a slug is filed under: `i:` keys
        without their given name, which the third field holds; `t:` keys with the token
        left out; `f:` keys with INITIALS for a name whose family names are initials; ""
        where a field does not apply."""
        for key, slugs in self.blocks.items():
            if key.startswith("t:"):
                position = int(key.split(":", 2)[1])
                for slug in slugs:
                    yield slug, key, "", self.tokens[slug].all[position]
            elif key.startswith("f:"):
                for slug in slugs:
                    yield slug, key, "", INITIALS if family_initials(self.tokens[slug]) else ""
            else:
                for slug in slugs:
                    yield slug, key, "", ""
        for block, groups in self.by_initial.items():
            for given, slugs in groups.items():
                for slug in slugs:
                    yield slug, block, given, ""

    def _file(self, slug: str, spelling: Spelling) -> None:
        name = NameTokens.of(*spelling)
        self.spellings[slug] = spelling
        self.tokens[slug] = name
        # Sorted: a set's order changes with each process's string hashing, and the kept
        # search must come out the same bytes from the same names.
        for key in sorted(blocking_keys(name)):
            if key.startswith("i:"):
                block, _, given = key.rpartition("|")
                self.by_initial.setdefault(block, {}).setdefault(given, []).append(slug)
            else:
                self.blocks.setdefault(key, []).append(slug)

    def _find_all(self) -> None:
        tokens = self.tokens
        for key, slugs in self.blocks.items():
            if len(slugs) < 2:
                continue
            if key.startswith("t:"):
                position = int(key.split(":", 2)[1])
                for a, b in _one_edit_apart({slug: tokens[slug].all[position]
                                             for slug in slugs}):
                    _check(self.found, a, tokens[a], b, tokens[b])
            elif key.startswith("f:"):  # a name of family initials with each other name
                for a in slugs:
                    if family_initials(tokens[a]):
                        for b in slugs:
                            if b != a:
                                _check(self.found, a, tokens[a], b, tokens[b])
            else:
                for i, a in enumerate(slugs):
                    for b in slugs[i + 1:]:
                        _check(self.found, a, tokens[a], b, tokens[b])
        for groups in self.by_initial.values():
            if sum(len(members) for members in groups.values()) > 1:
                for a, b in _compatible_given_names(groups):
                    _check(self.found, a, tokens[a], b, tokens[b])


@dataclass(frozen=True)
class KeptSearch:
    """A candidate search kept for the next night: `names` (slug, first, last, and the
    name's counted parts and initials key), `filings` (`CandidateIndex.filings`) and
    `found` (first, second, kind, spelt: the `FoundPair`s)."""

    names: pa.Table
    filings: pa.Table
    found: pa.Table

    @classmethod
    def of(cls, index: CandidateIndex) -> KeptSearch:
        with cyclic_gc_paused():
            return cls(_names_table(index), _filings_table(index.filings()),
                       _found_table(index.found_pairs()))

    def updated(self, names: Iterable[tuple[str, str | None, str]]) -> KeptSearch:
        """The search of `names`: the kept slugs whose spelling left or changed are taken
        out; the new spellings are compared with each other and with the kept slugs filed
        under their keys."""
        with cyclic_gc_paused():
            tonight: dict[str, Spelling] = {}
            for slug, first, last in names:
                if slug not in tonight:
                    tonight[slug] = (first or "", last)
            kept = dict(zip(self.names["slug"].to_pylist(),
                            zip(self.names["first"].to_pylist(),
                                self.names["last"].to_pylist())))
            stale = pa.array([slug for slug, spelling in kept.items()
                              if tonight.get(slug) != spelling], pa.string())
            fresh = CandidateIndex.build(
                (slug, *spelling) for slug, spelling in tonight.items()
                if kept.get(slug) != spelling)
            filings = _without(self.filings, stale, "slug")
            cross = _pairs_with_kept(fresh, filings, tonight)
            found = _without(self.found, stale, "first", "second")
            # One chunk per column, not one more each night.
            return KeptSearch(
                pa.concat_tables([_without(self.names, stale, "slug"),
                                  _names_table(fresh)]).combine_chunks(),
                pa.concat_tables([filings, _filings_table(fresh.filings())]).combine_chunks(),
                pa.concat_tables([found, _found_table([*fresh.found_pairs(), *cross])]
                                 ).combine_chunks())

    def candidates(self, known: Iterable[tuple[str | None, str]] = ()) -> list[Candidate]:
        """The candidate pairs, sorted (`_candidates`)."""
        with cyclic_gc_paused():
            slugs = self.names["slug"].to_pylist()
            found: Any = zip(*(self.found[column].to_pylist()
                               for column in ("first", "second", "kind", "spelt")))
            return _candidates(found, dict(zip(slugs, zip(self.names["given"].to_pylist(),
                                                          self.names["family"].to_pylist()))),
                               zip(slugs, self.names["initials"].to_pylist()), known)

    def to_bytes(self) -> bytes:
        return pickle.dumps({"version": KEPT_VERSION, "names": self.names,
                             "filings": self.filings, "found": self.found},
                            protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> KeptSearch:
        """A search `to_bytes` wrote. Pickle runs code as it loads: only the tool's own
        state is given here. Raises KeptSearchError for anything else."""
        try:
            stored: Any = pickle.loads(data)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                ImportError, IndexError) as error:
            raise KeptSearchError(f"not a kept candidate search ({error})") from error
        if not isinstance(stored, dict) or stored.get("version") != KEPT_VERSION:
            raise KeptSearchError("not a candidate search kept by this version")
        schemas = {"names": _NAMES, "filings": _FILINGS, "found": _FOUND}
        tables: dict[str, pa.Table] = {part: stored.get(part) for part in schemas}
        if not all(isinstance(table, pa.Table) and table.schema.equals(schemas[part])
                   for part, table in tables.items()):
            raise KeptSearchError("a kept candidate search of another shape")
        try:
            # Arrow trusts its buffers: a bad offset read later could crash the process.
            for table in tables.values():
                table.validate(full=True)
        except pa.ArrowInvalid as error:
            raise KeptSearchError(f"a kept candidate search with invalid data ({error})"
                                  ) from error
        if not all(column.null_count == 0 for table in tables.values()
                   for column in table.columns):
            raise KeptSearchError("a kept candidate search with missing values")
        search = cls(tables["names"], tables["filings"], tables["found"])
        slugs = search.names["slug"]
        members = ((search.filings["slug"], slugs), (search.found["first"], slugs),
                   (search.found["second"], slugs),
                   (search.found["kind"], pa.array(KIND_ORDER, pa.string())),
                   (search.found["spelt"], pa.array([NEITHER, FIRST, SECOND], pa.int8())))
        if len(pc.unique(slugs)) != len(slugs) or not all(
                pc.all(pc.is_in(values, allowed)).as_py() is not False
                for values, allowed in members):
            raise KeptSearchError("a kept candidate search whose parts do not agree")
        return search


def candidate_pairs(names: Iterable[tuple[str, str | None, str]],
                    known: Iterable[tuple[str | None, str]] = ()) -> list[Candidate]:
    """Candidates among `(slug, first, last)` names (`CandidateIndex.candidates`)."""
    return CandidateIndex.build(names).candidates(known)


def initials_key(name: NameTokens) -> str:
    """For a name whose given names are all initials, the key under which a name spelling
    them out is looked up (`spelling_out_key`); "" for other names.

    >>> initials_key(NameTokens.of("A. L.", "Guenet"))
    'guenet|a l'
    >>> initials_key(NameTokens.of("Anne", "Guenet"))
    ''
    """
    if not name.given or not name.family or any(len(g) > 1 for g in name.given):
        return ""
    return " ".join(name.family) + "|" + " ".join(name.given)


def spelling_out_key(name: NameTokens) -> str:
    """The `initials_key` of the names whose initials `name` spells out and whose
    initial-and-family-name blocks it shares (a family name of 2+ letters); "" if none.

    >>> spelling_out_key(NameTokens.of("Anne-Laure", "Guenet"))
    'guenet|a l'
    """
    if not name.given or all(len(g) == 1 for g in name.given) \
            or all(len(t) < 2 for t in name.family):
        return ""
    return " ".join(name.family) + "|" + " ".join(g[0] for g in name.given)


def _candidates(found: Iterable[FoundPair], parts: dict[str, tuple[str, str]],
                initials_keys: Iterable[tuple[str, str]],
                known: Iterable[tuple[str | None, str]]) -> list[Candidate]:
    """The found pairs as candidates, sorted; each with the commonness of the more common
    of its two strings (`NameCounts`, over `parts`: every slug's `counted_parts`), and
    whether it is a sole expansion: one slug is a name of initials that the other spells
    out, and no other slug or `known` name does (`initials_keys`: every slug with its
    `initials_key`). `known`: more `(first, last)` names (the registry's), which are no
    candidates but may spell out initials: "E. Bertino" on a paper the registry gives to
    Elisa Bertino is no sole expansion of Enrico Bertino."""
    initials: dict[str, list[str]] = defaultdict(list)
    for slug, key in initials_keys:
        if key:
            initials[key].append(slug)
    counts = NameCounts.of(parts.values())
    pairs = sorted(found)
    expanded_by: dict[str, set[str]] = {}
    for a, b, _, spelt in pairs:
        if spelt == FIRST:
            expanded_by.setdefault(a, set()).add(b)
        elif spelt == SECOND:
            expanded_by.setdefault(b, set()).add(a)
    for known_first, known_last in known:
        name = NameTokens.of(known_first, known_last)
        if key := spelling_out_key(name):
            # Its slug is its tokens joined: a name the mentions use too counts once.
            for slug in initials.get(key, ()):
                expanded_by.setdefault(slug, set()).add("-".join(name.all))
    return [Candidate(a, b, kind, max(counts.commonness(*parts[a]), counts.commonness(*parts[b])),
                      len(expanded_by.get(a, ())) == 1 and b in expanded_by[a]
                      or len(expanded_by.get(b, ())) == 1 and a in expanded_by[b])
            for a, b, kind, _ in pairs]


def _without(table: pa.Table, slugs: pa.Array, *columns: str) -> pa.Table:
    """The rows of `table` naming none of `slugs` in any of `columns`."""
    named = pc.is_in(table[columns[0]], slugs)
    for column in columns[1:]:
        named = pc.or_(named, pc.is_in(table[column], slugs))
    return table.filter(pc.invert(named))


def _spelt_out(a: NameTokens, b: NameTokens, kind: VariantKind) -> int:
    if kind != "abbreviation":
        return NEITHER
    return FIRST if spells_out(a, b) else SECOND if spells_out(b, a) else NEITHER


def _check(found: dict[tuple[str, str], VariantKind], a: str, name_a: NameTokens, b: str,
           name_b: NameTokens) -> None:
    pair = (a, b) if a < b else (b, a)
    if pair not in found:
        kind = variant_kind(name_a, name_b)
        if kind is not None:
            found[pair] = kind


def _pairs_with_kept(fresh: CandidateIndex, filings: pa.Table,
                     tonight: dict[str, Spelling]) -> list[FoundPair]:
    """The candidate pairs of a slug of `fresh` and a slug of `filings` (kept, not in
    `fresh`), compared where `CandidateIndex._find_all` would compare them: filed under one
    key, and for an `i:` key with compatible given names, for a `t:` key with tokens one
    edit apart, for an `f:` key with one of the two of family initials."""
    by_key: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for slug, key, given, token in fresh.filings():
        by_key[key].append((slug, given, token))
    shared = filings.filter(pc.is_in(filings["key"], pa.array(list(by_key), pa.string())))
    found: dict[tuple[str, str], VariantKind] = {}
    tokens: dict[str, NameTokens] = {}
    for other, key, other_given, other_token in zip(
            *(shared[column].to_pylist() for column in ("slug", "key", "given", "token"))):
        for slug, given, token in by_key[key]:
            if key.startswith("i:"):
                if not _given_names_compatible(given, other_given):
                    continue
            elif key.startswith("t:") and (token == other_token or Levenshtein.distance(
                    token, other_token, score_cutoff=1) > 1):
                continue
            elif key.startswith("f:") and INITIALS not in (token, other_token):
                continue
            if other not in tokens:
                tokens[other] = NameTokens.of(*tonight[other])
            _check(found, slug, fresh.tokens[slug], other, tokens[other])
    names = {**tokens, **fresh.tokens}
    return [(a, b, kind, _spelt_out(names[a], names[b], kind))
            for (a, b), kind in found.items()]


_NAMES = pa.schema([(column, pa.string()) for column in
                    ("slug", "first", "last", "given", "family", "initials")])
_FILINGS = pa.schema([(column, pa.string()) for column in ("slug", "key", "given", "token")])
_FOUND = pa.schema([("first", pa.string()), ("second", pa.string()), ("kind", pa.string()),
                    ("spelt", pa.int8())])


def _names_table(index: CandidateIndex) -> pa.Table:
    slugs = list(index.spellings)
    parts = [counted_parts(index.tokens[slug]) for slug in slugs]
    return pa.table([slugs, [index.spellings[s][0] for s in slugs],
                     [index.spellings[s][1] for s in slugs], [p[0] for p in parts],
                     [p[1] for p in parts], [initials_key(index.tokens[s]) for s in slugs]],
                    schema=_NAMES)


def _filings_table(filings: Iterable[tuple[str, str, str, str]]) -> pa.Table:
    columns: tuple[list[str], ...] = ([], [], [], [])
    for row in filings:
        for column, value in zip(columns, row):
            column.append(value)
    return pa.table(list(columns), schema=_FILINGS)


def _found_table(found: list[FoundPair]) -> pa.Table:
    return pa.table([[row[i] for row in found] for i in range(4)], schema=_FOUND)


def _given_names_compatible(a: str, b: str) -> bool:
    """The pairs `_compatible_given_names` makes: equal, or one an initial or a short form
    of 3+ letters of the other."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return short == long or (long.startswith(short) and len(short) != 2)


def _one_edit_apart(token_of: dict[str, str]) -> Iterable[tuple[str, str]]:
    """Pairs of slugs whose tokens (all of 4+ letters) are one edit apart."""
    groups: dict[str, list[str]] = {}
    for slug, token in token_of.items():
        groups.setdefault(token, []).append(slug)
    distinct = sorted(groups)
    if len(distinct) < 2:
        return
    if len(distinct) <= SMALL_TYPO_BLOCK:  # most blocks: cheaper than a matrix call
        close = [(i, j) for i in range(len(distinct)) for j in range(i + 1, len(distinct))
                 if Levenshtein.distance(distinct[i], distinct[j], score_cutoff=1) <= 1]
    else:
        distances = cdist(distinct, distinct, scorer=Levenshtein.distance, score_cutoff=1,
                          dtype=np.int32)
        close = list(zip(*np.nonzero(np.triu(distances <= 1, 1))))
    for i, j in close:
        yield from ((a, b) for a in groups[distinct[i]] for b in groups[distinct[j]])


def _compatible_given_names(groups: dict[str, list[str]]) -> Iterable[tuple[str, str]]:
    """Pairs of one initial-and-family-name block (slugs grouped by the given name the key
    came from) whose given names may be one: equal, or an initial or short form of the
    other (typos are found by the `t:` keys). A block like "y|wang" holds hundreds of
    slugs; grouping by given name avoids comparing every pair."""
    for members in groups.values():
        for i, a in enumerate(members):
            yield from ((a, b) for b in members[i + 1:])
    given = sorted(groups)
    for i, short in enumerate(given):
        if len(short) == 1 or len(short) >= 3:
            j = i + 1
            while j < len(given) and given[j].startswith(short):
                yield from ((a, b) for a in groups[short] for b in groups[given[j]])
                j += 1
