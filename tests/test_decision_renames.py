"""A curator's decisions that rename a person as a whole carry its name-variant merge to the
new id (`export --decisions`), on hand-made attributions."""

from __future__ import annotations

import pandas as pd

from pipeline.export.decisions import renamed_persons
from pipeline.export.variant_merges import follow_renames


def _attribution(persons: list[str], statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"person": persons, "status": statuses})


def test_a_person_whose_mentions_all_go_to_one_new_id_is_renamed() -> None:
    before = _attribution(["bo-chen-iscas", "bo-chen-iscas", "bo-chen-2", "bo-chen-2"],
                          ["existing", "existing", "new", "new"])
    after = _attribution(["bo-chen-ict", "bo-chen-ict", "bo-chen-2", "bo-chen-9"],
                         ["new", "new", "new", "new"])
    # bo-chen-2 keeps a mention, so it is not renamed (one mention only moved).
    assert renamed_persons(before, after) == {"bo-chen-iscas": "bo-chen-ict"}


def test_a_person_split_by_the_decisions_or_left_unattributed_is_not_renamed() -> None:
    before = _attribution(["bo-chen-2", "bo-chen-2", "bo-chen-3"], ["new", "new", "new"])
    after = _attribution(["bo-chen-8", "bo-chen-9", "bo-chen-1"],
                         ["new", "new", "unresolved"])
    assert renamed_persons(before, after) == {}


def test_a_merge_follows_the_rename_and_one_the_decisions_settled_is_noted() -> None:
    merges = [{"persons": ["bo-chen-iscas", "chen-bo"]},
              {"persons": ["li-na-1", "na-li"]},
              {"persons": ["x-y", "y-x"]}]
    renamed = {"bo-chen-iscas": "bo-chen-ict", "li-na-1": "na-li"}
    followed, notes = follow_renames(merges, renamed)
    assert followed == [{"persons": ["bo-chen-ict", "chen-bo"]}, {"persons": ["x-y", "y-x"]}]
    [note] = notes
    assert "li-na-1 -> na-li" in note and "already made them one person, na-li" in note


def test_a_rename_that_makes_two_merges_share_a_person_applies_only_the_first() -> None:
    merges = [{"persons": ["a-b", "b-a"]}, {"persons": ["c-d", "d-c"]}]
    followed, notes = follow_renames(merges, {"c-d": "a-b"})
    assert followed == [merges[0]]
    [note] = notes
    assert "not applied: a-b is in another merge too" in note
