"""A curator's decisions that rename a person as a whole carry its name-variant merge to the
new id (`export --decisions`), on hand-made attributions."""

from __future__ import annotations

import pandas as pd

from pipeline.export.decisions import moved_persons
from pipeline.export.variant_merges import follow_renames


def _attribution(persons: list[str], statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"person": persons, "status": statuses})


def test_a_person_whose_mentions_all_go_to_one_new_id_is_renamed() -> None:
    before = _attribution(["bo-chen-iscas", "bo-chen-iscas", "bo-chen-2", "bo-chen-2"],
                          ["existing", "existing", "new", "new"])
    after = _attribution(["bo-chen-ict", "bo-chen-ict", "bo-chen-2", "bo-chen-9"],
                         ["new", "new", "new", "new"])
    # bo-chen-2 keeps a mention, so it did not move (one mention only moved).
    assert moved_persons(before, after) == {"bo-chen-iscas": ("bo-chen-ict",)}


def test_two_persons_whose_ids_are_swapped_are_both_renamed() -> None:
    before = _attribution(["bo-chen-iscas"] * 3 + ["bo-chen-2"] * 2, ["existing"] * 3 + ["new"] * 2)
    after = _attribution(["bo-chen-2"] * 3 + ["bo-chen-iscas"] * 2, ["new"] * 3 + ["existing"] * 2)
    moved = moved_persons(before, after)
    assert moved == {"bo-chen-iscas": ("bo-chen-2",), "bo-chen-2": ("bo-chen-iscas",)}
    followed, notes = follow_renames([{"persons": ["bo-chen-iscas", "chen-bo"]}], moved)
    assert followed == [{"persons": ["bo-chen-2", "chen-bo"]}] and notes == []


def test_a_person_split_by_the_decisions_or_left_unattributed_keeps_no_merge() -> None:
    before = _attribution(["bo-chen-2", "bo-chen-2", "bo-chen-3"], ["new", "new", "new"])
    after = _attribution(["bo-chen-8", "bo-chen-9", "bo-chen-1"],
                         ["new", "new", "unresolved"])
    moved = moved_persons(before, after)
    assert moved == {"bo-chen-2": ("bo-chen-8", "bo-chen-9"), "bo-chen-3": ("",)}
    followed, notes = follow_renames([{"persons": ["bo-chen-2", "chen-bo"]},
                                      {"persons": ["bo-chen-3", "chen-bo-2"]}], moved)
    assert followed == []
    assert "gave the mentions of bo-chen-2 to bo-chen-8, bo-chen-9" in notes[0]
    assert "bo-chen-3 to (unattributed)" in notes[1]


def test_a_merge_follows_the_rename_and_one_the_decisions_settled_is_noted() -> None:
    merges = [{"persons": ["bo-chen-iscas", "chen-bo"]},
              {"persons": ["li-na-1", "na-li"]},
              {"persons": ["x-y", "y-x"]}]
    moved = {"bo-chen-iscas": ("bo-chen-ict",), "li-na-1": ("na-li",)}
    followed, notes = follow_renames(merges, moved)
    assert followed == [{"persons": ["bo-chen-ict", "chen-bo"]}, {"persons": ["x-y", "y-x"]}]
    [note] = notes
    assert "li-na-1 -> na-li" in note and "already made them one person, na-li" in note


def test_a_rename_that_makes_two_merges_share_a_person_applies_only_the_first() -> None:
    merges = [{"persons": ["a-b", "b-a"]}, {"persons": ["c-d", "d-c"]}]
    followed, notes = follow_renames(merges, {"c-d": ("a-b",)})
    assert followed == [merges[0]]
    [note] = notes
    assert "not applied: a-b is in another merge too" in note


def test_the_summary_s_evidence_follows_a_rename_and_a_swap_and_leaves_a_dissolved_person(
        ) -> None:
    from pipeline.export.pr_summary import evidence_after_decisions

    evidence = {"bo-chen-iscas": {"years": [2016, 2022]}, "bo-chen-2": {"years": [2019, 2019]},
                "bo-chen-3": {"years": [2020, 2021]}, "bo-chen-4": {"years": [2024, 2024]}}
    moved = {"bo-chen-iscas": ("bo-chen-2",), "bo-chen-2": ("bo-chen-iscas",),
             "bo-chen-3": ("bo-chen-ict",), "bo-chen-4": ("bo-chen-8", "bo-chen-9")}
    assert evidence_after_decisions(evidence, moved) == {
        "bo-chen-2": {"years": [2016, 2022]}, "bo-chen-iscas": {"years": [2019, 2019]},
        "bo-chen-ict": {"years": [2020, 2021]}}
    # Moved into a person that keeps its own mentions: that person keeps its own evidence.
    assert evidence_after_decisions(evidence, {"bo-chen-3": ("bo-chen-4",)}) == {
        "bo-chen-iscas": {"years": [2016, 2022]}, "bo-chen-2": {"years": [2019, 2019]},
        "bo-chen-4": {"years": [2024, 2024]}}
