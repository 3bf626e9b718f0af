"""Coauthors as persons (`resolve/coauthor_identity.py`) and the variant decision's second
round, which reads them so."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pandas as pd
from builder import Author, Paper, Volume, write_snapshot

from pipeline.anthology.snapshot import read_snapshot
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.coauthor_identity import CoauthorIdentity, near
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.outputs import write_outputs
from pipeline.resolve.run import ResolveSettings, resolve
from pipeline.resolve.variant_candidates import Candidate
from pipeline.resolve.variant_decision import VariantLink
from pipeline.resolve.variants import KeptLinks, pairs_to_score_again


def _authorship(papers_of: dict[str, list[str]]) -> tuple[Authorship, pd.Series]:
    """Paper id -> its authors' slugs; each mention its own unit (its slug)."""
    rows = [(paper, position, slug) for paper, slugs in papers_of.items()
            for position, slug in enumerate(slugs)]
    mentions = pd.DataFrame(rows, columns=["paper", "position", "slug"]).assign(role="author")
    authorship = Authorship.build(mentions, pd.DataFrame({"paper": list(papers_of)}))
    return authorship, mentions["slug"]


def _reached(authorship: Authorship, slugs: set[str]) -> set[str]:
    mask = authorship.slugs.isin(sorted(slugs))
    return set(authorship.slugs[near(authorship, np.asarray(mask))].tolist())


def test_near_reaches_the_coauthors_and_their_coauthors_and_no_further() -> None:
    authorship, _ = _authorship({"p1": ["a", "b"], "p2": ["b", "c"], "p3": ["c", "d"],
                                 "p4": ["e"]})
    assert _reached(authorship, {"a"}) == {"a", "b", "c"}
    one_paper = near(authorship, np.asarray(authorship.slugs.isin(["a"])), hops=1)
    assert set(authorship.slugs[one_paper].tolist()) == {"a", "b"}
    assert _reached(authorship, {"e"}) == {"e"}
    assert _reached(authorship, set()) == set()


def test_names_of_one_person_stand_for_one_coauthor_and_a_shared_name_for_none() -> None:
    authorship, units = _authorship({"p1": ["r-bruce", "x"], "p2": ["rebecca-bruce", "y"],
                                     "p3": ["wei-li", "x"], "p4": ["wei-li", "y"],
                                     "p5": ["w-li"]})
    units = units.copy()
    units.iloc[6] = "wei-li#2"  # the Wei Li of p4 is another person than that of p3
    identity = CoauthorIdentity.of(authorship, units, [["r-bruce", "rebecca-bruce"],
                                                       ["w-li", "wei-li#2"]])
    stands_for = dict(zip(authorship.slugs, authorship.slugs[identity.representative]))
    assert stands_for["rebecca-bruce"] == stands_for["r-bruce"] == "r-bruce"
    assert stands_for["wei-li"] == "wei-li" and stands_for["w-li"] == "w-li"
    joined = set(authorship.slugs[identity.joined()].tolist())
    assert joined == {"r-bruce", "rebecca-bruce"}
    alone = CoauthorIdentity.of(authorship, units, [])
    assert not alone.joined().any()
    assert set(authorship.slugs[identity.moved(alone)].tolist()) == {"rebecca-bruce"}


def _wiebe_snapshot(root: Path) -> Path:
    """Rebecca Bruce writes as "Rebecca F. Bruce" too, under one ORCID (so the two strings
    are one person whatever the graph says). Janyce Wiebe writes as "Janyce M. Wiebe" with
    "Rebecca F. Bruce" only, and as "Janyce Wiebe" with "Rebecca Bruce" only, on other
    topics and venues: by name strings her two strings share no coauthor, by persons they
    share Rebecca Bruce."""
    orcid = "0000-0002-1825-0097"
    volumes = []
    for year in range(2010, 2020):
        middle = year % 2 == 0
        bruce = Author("Rebecca F." if middle else "Rebecca", "Bruce", orcid=orcid)
        wiebe = Author("Janyce M." if middle else "Janyce", "Wiebe")
        topic = (("Subjectivity in news", "Subjective sentences in newspaper articles.")
                 if middle else ("Word senses", "Disambiguating word senses in dictionaries."))
        volumes.append(Volume(f"{year}.{'subj' if middle else 'sense'}", "main", year,
                              "subj" if middle else "sense", [
            Paper(f"{topic[0]} {year}", [wiebe, bruce], topic[1]),
            Paper(f"Filler {year}", [Author(f"F{year}", f"Person{year}"),
                                     Author(f"G{year}", f"Person{year}")], "Other things."),
        ]))
    return write_snapshot(root, volumes)


def test_two_strings_whose_coauthor_is_one_person_under_two_strings_are_merged(
        tmp_path: Path) -> None:
    snapshot = read_snapshot(_wiebe_snapshot(tmp_path / "anthology"))
    write_outputs(resolve(snapshot, ResolveSettings()), tmp_path / "out")
    merges = json.loads((tmp_path / "out" / "proposals.json").read_text())["variants"][
        "merges"]
    by_names = {frozenset(f"{n['first']} {n['last']}" for n in merge["names"]): merge
                for merge in merges}
    assert frozenset({"Rebecca F. Bruce", "Rebecca Bruce"}) in by_names
    wiebe = by_names[frozenset({"Janyce M. Wiebe", "Janyce Wiebe"})]
    [link] = wiebe["links"]
    assert link["features"]["shared_coauthor_count"] > 0


def _night_setup() -> tuple[pd.DataFrame, pd.Series, list[Candidate], EvidenceContext]:
    """X. Wiebe writes with R. Bruce, Xavier Wiebe with Rebecca Bruce; Far A and Far B
    write alone."""
    authors = {"p1": ["x-wiebe", "r-bruce"], "p2": ["xavier-wiebe", "rebecca-bruce"],
               "p3": ["far-a"], "p4": ["far-b"]}
    authorship, units = _authorship(authors)
    mentions = pd.DataFrame({"paper": [p for p, slugs in authors.items() for _ in slugs],
                             "slug": units.tolist(), "id": None, "orcid": None})
    candidates = [Candidate("r-bruce", "rebecca-bruce", "abbreviation"),
                  Candidate("x-wiebe", "xavier-wiebe", "abbreviation"),
                  Candidate("far-a", "far-b", "typo")]
    return mentions, units, candidates, cast(EvidenceContext, SimpleNamespace(
        authorship=authorship))


def _again(identity_persons: list[list[str]], kept: KeptLinks | None) -> set[str]:
    mentions, units, candidates, context = _night_setup()
    identity = CoauthorIdentity.of(context.authorship, units, identity_persons)
    tonight = [] if kept is None else kept.to_score(candidates)
    again = pairs_to_score_again(identity, mentions, units, candidates, context, frozenset(),
                                 None, kept, tonight)
    return {c.first for c in again}


def test_the_second_round_scores_again_the_pairs_near_a_joined_or_moved_name() -> None:
    bruce = VariantLink("r-bruce", "rebecca-bruce", "r-bruce", "rebecca-bruce",
                        "abbreviation", 2.0, 3.0, "merge")
    joined = [["r-bruce", "rebecca-bruce"]]
    # A full run: the Bruce names stand for one person, so their pair and the Wiebe pair
    # (whose coauthors they are) are scored again; the Far pair reads neither.
    assert _again(joined, None) == {"r-bruce", "x-wiebe"}
    assert _again([], None) == set()
    # A night where only Far A changed and the Bruce merge stands as last night: its pair.
    assert _again(joined, KeptLinks([bruce], frozenset({"far-a"}))) == {"far-a"}
    # A night whose first round no longer merges the Bruce names: the pairs one paper from
    # them too.
    assert _again([], KeptLinks([bruce], frozenset({"far-a"}))) == {
        "far-a", "r-bruce", "x-wiebe"}
