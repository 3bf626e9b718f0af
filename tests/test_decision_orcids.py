"""The ORCID checks of `export --decisions` on hand-made attributions: only what the
decisions change is refused, whatever the ids are called."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.export.decision_orcids import OrcidHolders, orcid_splits

CATCH_ALL = "wei-zhang-3"


def _check(today: list[str], decided: dict[int, str], orcids: list[str | None]
           ) -> list[tuple[str, str]]:
    """The problems of moving rows `decided` (row -> new person) of an attribution `today`;
    a catch-all is CATCH_ALL, every other id a person."""
    after = list(today)
    for row, person in decided.items():
        after[row] = person
    before_arr = np.array(today, dtype=object)
    after_arr = np.array(after, dtype=object)
    before = OrcidHolders.of(before_arr, before_arr != CATCH_ALL, orcids)
    now = OrcidHolders.of(after_arr, after_arr != CATCH_ALL, orcids)
    moved = {row: f"m{row}" for row, person in decided.items() if person != today[row]}
    return orcid_splits(moved, orcids, before, now)


X, Y = "0000-0002-1825-0097", "0000-0001-5109-3700"


def test_renaming_a_person_keeps_the_splits_the_resolution_already_had() -> None:
    # wei-zhang-1 has two ORCIDs, and X is also with the catch-all: both the resolution's.
    today = ["wei-zhang-1", "wei-zhang-1", CATCH_ALL]
    assert _check(today, {0: "wei-zhang-tsinghua", 1: "wei-zhang-tsinghua"}, [X, Y, X]) == []
    # Taking one ORCID's mentions out of that person splits nothing new either.
    assert _check(today, {0: "wei-zhang-tsinghua"}, [X, Y, X]) == []


def test_a_person_given_a_second_orcid_by_the_decisions_is_refused() -> None:
    problems = _check(["wei-zhang-1", "wei-zhang-2"], {1: "wei-zhang-1"}, [X, Y])
    assert [place for place, _ in problems] == ["m1"]
    assert "one person, one ORCID" in problems[0][1]


def test_splitting_one_orcid_between_two_persons_is_refused() -> None:
    problems = _check(["wei-zhang-1", "wei-zhang-1"], {1: "wei-zhang-9"}, [X, X])
    assert [place for place, _ in problems] == ["m1"]
    assert "one ORCID is one person" in problems[0][1]


@pytest.mark.parametrize("decided", [{0: CATCH_ALL, 1: "wei-zhang-1"}, {0: CATCH_ALL}])
def test_leaving_a_mention_unattributed_while_its_orcid_has_a_person_is_refused(
        decided: dict[int, str]) -> None:
    # The resolution already splits X between a person and the catch-all; swapping two of
    # its mentions keeps the same holders, but leaves an attributed mention unattributed.
    problems = _check(["wei-zhang-1", CATCH_ALL, "wei-zhang-1"], decided, [X, X, X])
    assert [place for place, _ in problems] == ["m0"]
    assert "leaving it unattributed splits one person" in problems[0][1]


def test_giving_the_catch_all_s_mention_to_the_orcid_s_person_is_accepted() -> None:
    assert _check(["wei-zhang-1", CATCH_ALL], {1: "wei-zhang-1"}, [X, X]) == []
    assert _check(["wei-zhang-1", CATCH_ALL], {1: "wei-zhang-1"}, [X, None]) == []


def test_a_registry_orcid_with_a_bad_checksum_still_pins_its_mentions(tmp_path: Path) -> None:
    import pandas as pd
    from builder import Author, Paper, Volume, write_snapshot

    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.export.decision_orcids import (
        mention_orcids,
        orcid_clash,
        registry_orcid_owners,
    )

    bad = "0000-0003-3333-4444"  # the shape of an ORCID, not its checksum
    root = write_snapshot(tmp_path / "anthology", [Volume("2020.tiny", "main", 2020, "tiny", [
        Paper("One paper", [Author("Yang", "Liu", orcid=bad),
                            Author("Zhai", "Yu", orcid="0000-0000-0000-0000")])])],
        registry_yaml=f"- canonical: {{first: Yang, last: Liu}}\n  id: yang-liu-thu\n"
                      f"  orcid: {bad}\n")
    snapshot = read_snapshot(root)
    owner = registry_orcid_owners(snapshot.registry)
    assert owner == {bad: "yang-liu-thu"}
    keys = pd.MultiIndex.from_tuples([("2020.tiny-main.1", "author", 0),
                                      ("2020.tiny-main.1", "author", 1)])
    # A bad checksum nobody in the registry holds is no identity (placeholders exist).
    orcids = mention_orcids(snapshot.mentions, keys)
    assert orcids == [bad, None]
    clash = orcid_clash(orcids[0], "yang-liu", owner, snapshot.registry)
    assert clash is not None and "pinned by the ORCID" in clash
