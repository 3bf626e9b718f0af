"""Incremental assignment: which known person a mention lands with (`resolve/assignment.py`)
and how it is evaluated by hiding curated mentions (`evaluate/assignment.py`)."""

from __future__ import annotations

import pandas as pd

from pipeline.anthology.curation import Curation
from pipeline.evaluate.assignment import baseline, hidden_random
from pipeline.resolve.assignment import (
    NEW,
    PlacementConfidence,
    anchored_persons,
    coauthor_support,
    hidden_newest,
)


def test_a_mention_takes_the_person_of_the_anchors_in_its_cluster_or_a_new_one() -> None:
    cluster = pd.Series(["n#0", "n#0", "n#1", "n#2", "n#2"], index=[10, 11, 12, 13, 14])
    known = pd.Series(["p", None, "q", None, None], index=[10, 11, 12, 13, 14], dtype=object)
    assert anchored_persons(cluster, known).tolist() == ["p", "p", "q", NEW, NEW]


def _block() -> tuple[pd.DataFrame, Curation]:
    # Name "a-b": person p on papers 1-4 (2001-2004), person q on papers 5-6 (2010, 2011);
    # paper 7 is by another name only.
    mentions = pd.DataFrame({
        "slug": ["a-b"] * 6 + ["c-d", "c-d", "e-f", "c-d"],
        "paper": ["1", "2", "3", "4", "5", "6", "1", "2", "5", "7"],
        "year": [2001, 2002, 2003, 2004, 2010, 2011, 2001, 2002, 2010, 2012]})
    identity = pd.Series(["p", "p", "p", "p", "q", "q"] + [None] * 4, dtype=object)
    return mentions, Curation(identity, ["a-b"], frozenset({"a-b"}))


def test_the_newest_share_of_each_block_is_hidden_and_one_mention_stays_known() -> None:
    mentions, gold = _block()
    labelled = gold.identity[gold.labelled]
    assert hidden_newest(mentions, labelled).tolist() == [4, 5]  # 30% of 6, rounded: 2
    tiny = mentions.iloc[:2]
    assert hidden_newest(tiny, labelled.iloc[:2]).tolist() == [1]  # one hidden, one known
    random_one = hidden_random(mentions, labelled, seed=1)
    assert len(random_one) == 2 and random_one.equals(hidden_random(mentions, labelled, 1))


def test_the_baseline_picks_most_shared_coauthors_else_the_most_recent_person() -> None:
    mentions, gold = _block()
    # Mention 1 (paper 2, with c-d) shares c-d with p's paper 1; mention 5 (paper 6, no
    # coauthor) falls back to the person seen most recently: q (2010).
    guess = baseline(mentions, gold, pd.Index([1, 5]))
    assert guess.to_dict() == {1: "p", 5: "q"}


def test_placement_confidence_learns_per_kind_and_only_from_the_other_fold() -> None:
    # At the same margin, placements with a known person were right 9 in 10, with a new
    # person 1 in 2 (fold 0, name "a") or always (fold 1, name "b").
    rows = []
    for name, new_right in (("a", [True, False]), ("b", [True, True])):
        rows += [(name, "p", r) for r in [True] * 9 + [False]] * 10
        rows += [(name, NEW, r) for r in new_right] * 50
    judged = pd.DataFrame(rows, columns=["name", "person", "right"]).assign(
        margin=0.5, known_persons=2, commonness=0.0, own_shared=0, other_shared=0)
    calibration = PlacementConfidence.fit(judged, {"a": 0, "b": 1})
    placed = pd.DataFrame({"name": ["a", "b", "c"], "person": [NEW, NEW, "p"],
                           "margin": 0.5, "known_persons": 2, "commonness": 0.0,
                           "own_shared": 0, "other_shared": 0})
    confidence = calibration.apply(placed).round(2).tolist()
    assert confidence[0] > 0.95  # "a" is scored by what "b" taught, and the reverse
    assert abs(confidence[1] - 0.5) < 0.02
    assert abs(confidence[2] - 0.9) < 0.02  # a name outside the curation: both folds


def test_coauthor_support_counts_shared_coauthor_names_with_the_placed_and_other_persons(
        ) -> None:
    mentions, gold = _block()
    known = gold.identity.iloc[[0, 1, 4]]  # p on papers 1 and 2 (with c-d), q on paper 5
    # Mention 2 (paper 3) has no coauthor; mention 3 (paper 4) is given c-d here.
    mentions = pd.concat([mentions, pd.DataFrame({"slug": ["c-d"], "paper": ["4"],
                                                  "year": [2004]})], ignore_index=True)
    person = pd.Series(["p", NEW, "q"], index=[2, 3, 5], dtype=object)
    support = coauthor_support(mentions, person, known)
    assert support["own_shared"].tolist() == [0, 0, 0]
    assert support["other_shared"].tolist() == [0, 1, 0]  # mention 3 shares c-d with p
    person = pd.Series(["p"], index=[3], dtype=object)
    assert coauthor_support(mentions, person, known).iloc[0].tolist() == [1, 0]
