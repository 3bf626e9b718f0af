"""Incremental assignment, evaluated the way new papers arrive (`make eval`, `assignment`).

In every gold block (curated name), some gold mentions lose their ids and ORCIDs (hidden);
the rest stay as known persons. The split then places each hidden mention with a known
person or a new one (`resolve/assignment.py`); a placement is right when it names the hidden
mention's gold person, or a new person when that person has no known mention in the block.

Two ways of hiding:
- `newest`: the newest 30% of each block's gold mentions (by year, then paper id);
- `random`: a seeded random 30% of each block, five times with different seeds.
At least one mention is hidden in each block, and at least one stays known.

Confidence is calibrated cross-fitted: a block's placements are mapped by what the other
fold of names taught (`anthology.curation.fold_of`). Reported per way of hiding: accuracy,
the share sent to review (confidence below `REVIEW_BELOW`), accuracy of the rest, a
reliability table, and the baseline: the known person with most shared coauthors, else the
one seen most recently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.curation import Curation, fold_of
from pipeline.evaluate.calibration import reliability_table
from pipeline.resolve.assignment import (
    HIDDEN_SHARE,
    NEW,
    PlacementConfidence,
    hidden_count,
    hidden_newest,
    place_hidden,
)
from pipeline.resolve.clustering import BlockLogits
from pipeline.resolve.settings import REVIEW_BELOW

RANDOM_SEEDS = (1, 2, 3, 4, 5)
FOLDS = 2


def hidden_random(mentions: pd.DataFrame, gold: pd.Series, seed: int) -> pd.Index:
    """A seeded random HIDDEN_SHARE of each block's gold mentions."""
    rng = np.random.default_rng(seed)
    slugs = mentions.loc[gold.index, "slug"]
    chosen: list[Any] = []
    for _, rows in slugs.groupby(slugs.to_numpy(), sort=True):
        index = rows.index.sort_values()
        chosen.extend(index[rng.permutation(len(index))[:hidden_count(len(index))]])
    hidden: pd.Index = pd.Index(sorted(chosen))
    return hidden


def baseline(mentions: pd.DataFrame, gold: Curation, hidden: pd.Index) -> pd.Series:
    """Per hidden mention: the known person of its block with most coauthors in common with
    it (coauthor name slugs), ties and no shared coauthor: the one seen most recently."""
    known = gold.identity[gold.labelled].drop(hidden)
    coauthors = mentions.groupby("paper")["slug"].agg(frozenset)
    table = mentions.loc[known.index, ["slug", "paper", "year"]].assign(person=known)
    persons: dict[str, list[tuple[str, frozenset[str], float]]] = {}
    for slug, person, paper, year in zip(table["slug"], table["person"], table["paper"],
                                         table["year"].fillna(0)):
        persons.setdefault(str(slug), []).append((str(person), coauthors[paper], float(year)))
    predicted = {}
    for row, slug, paper in zip(hidden, mentions.loc[hidden, "slug"],
                                mentions.loc[hidden, "paper"]):
        mine = coauthors[paper] - {slug}
        shared: dict[str, int] = {}
        latest: dict[str, float] = {}
        for person, theirs, year in persons.get(str(slug), []):
            shared[person] = shared.get(person, 0) + len(mine & theirs)
            latest[person] = max(latest.get(person, 0.0), year)
        predicted[row] = max(sorted(shared), key=lambda p: (shared[p], latest[p]),
                             default=NEW)
    return pd.Series(predicted, dtype=object)


def calibrated_confidence(placed: pd.DataFrame) -> pd.Series:
    """Per placement: its confidence from the model learnt on the other fold's names."""
    folds = {slug: fold_of(slug, FOLDS) for slug in sorted(set(placed["name"]))}
    return PlacementConfidence.fit(placed, folds).apply(placed)


def _report(placed: pd.DataFrame, confidence: pd.Series, baseline_person: pd.Series
            ) -> dict[str, Any]:
    review = ~(confidence >= REVIEW_BELOW)  # no confidence: a curator decides
    kept = placed[~review]
    expected = placed["expected"]
    return {
        "hidden_mentions": len(placed),
        "accuracy": round(float(placed["right"].mean()), 4),
        "sent_to_review": round(float(review.mean()), 4),
        "accuracy_not_reviewed": round(float(kept["right"].mean()), 4) if len(kept) else None,
        "to_new_person": {"predicted": int((placed["person"] == NEW).sum()),
                          "expected": int((expected == NEW).sum())},
        "reliability": reliability_table(pd.DataFrame(
            {"confidence": confidence, "right": placed["right"]})),
        "baseline_accuracy": round(float(
            (baseline_person.reindex(placed.index).to_numpy() == expected.to_numpy()).mean()),
            4),
    }


def evaluate_assignment(mentions: pd.DataFrame, gold: Curation, logits: BlockLogits,
                        commonness: pd.Series, resolution: float, seed: int,
                        workers: int = 1) -> dict[str, Any]:
    """Both ways of hiding; for each, the report over all blocks and over the blocks with
    2+ gold persons (`multi`). `mentions`: author mentions; `logits`: of every gold block,
    under a pair model that learnt nothing from the curation; `workers`: processes for the
    splits."""
    gold_mentions = gold.identity[gold.labelled]
    ways = {"newest": [hidden_newest(mentions, gold_mentions)],
            "random": [hidden_random(mentions, gold_mentions, s) for s in RANDOM_SEEDS]}
    report: dict[str, Any] = {"hidden_share": HIDDEN_SHARE, "review_below": REVIEW_BELOW,
                              "random_seeds": list(RANDOM_SEEDS)}
    for way, hidings in ways.items():
        placed, baselines = [], []
        for number, hidden in enumerate(hidings):
            one = place_hidden(mentions, gold, hidden, logits, commonness, resolution, seed,
                               workers)
            guess = baseline(mentions, gold, hidden)
            # A calibration learns from one hiding at a time (the same mention hidden by two
            # seeds must not inform itself).
            one["confidence"] = calibrated_confidence(one)
            placed.append(one.set_axis(one.index.astype(str) + f"@{number}"))
            baselines.append(guess.set_axis(guess.index.astype(str) + f"@{number}"))
        table = pd.concat(placed)
        guesses = pd.concat(baselines)
        multi = table["name"].isin(gold.multi_identity)
        report[way] = {
            "all": _report(table, table["confidence"], guesses),
            "multi": _report(table[multi], table.loc[multi, "confidence"], guesses)}
    return report
