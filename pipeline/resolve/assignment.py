"""Placing mentions that have no specific id among the known persons of their name.

A known person is the curated identity of some mentions (a specific id or an ORCID). The
other mentions of the name (new papers, `/unverified` or catch-all ids) are placed by the
split itself (`clustering.cluster_blocks`): the known persons' mentions are anchors that
must stay together and apart from each other, and a mention lands with a known person when
Leiden puts it in that person's cluster, or with a new person in a cluster of no anchor.

Its confidence is the probability that the placement is right, from a logistic regression
on what is known when placing: the `margin` of the placement (affinity to its own cluster
minus affinity to the nearest other, `placement.py`), whether it goes to a new person, how
many known persons the name has, how common the name is, and how many of its coauthors' names
the placed person's known papers share, against the most any other known person of the name
shares (`coauthor_support`). It is learnt by hiding the
newest 30% of the curated mentions of every curated name and placing them
(`PlacementConfidence.fit`), cross-fitted over two folds of names: a curated name's
placements are scored by the model of the other fold. Placements below `REVIEW_BELOW` are
listed for a curator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipeline.anthology.columns import isin
from pipeline.anthology.curation import Curation, fold_of
from pipeline.resolve.clustering import BlockLogits, cluster_blocks
from pipeline.resolve.settings import REVIEW_BELOW

NEW = ""  # the predicted person of a mention placed with no known person
HIDDEN_SHARE = 0.3  # of each curated name's mentions, hidden to learn the confidence from
MIN_PLACEMENTS = 50  # fewer judged placements: no model, confidence is left unknown (NaN)


def anchored_persons(cluster: pd.Series, known: pd.Series) -> pd.Series:
    """Per mention in `cluster`: the known person of the anchors in its cluster (at most one,
    since known persons cannot share a cluster), else NEW. `known`: the person of each
    anchor mention (same index), None for the mentions to place."""
    frame = pd.DataFrame({"cluster": cluster, "known": known.reindex(cluster.index)})
    anchors = frame.dropna(subset=["known"]).drop_duplicates("cluster").set_index("cluster")
    person = frame["cluster"].map(anchors["known"]).astype(object)
    return person.where(person.notna(), NEW)


def hidden_newest(mentions: pd.DataFrame, gold: pd.Series) -> pd.Index:
    """The newest HIDDEN_SHARE of each block's gold mentions (ties: by paper id)."""
    frame = mentions.loc[gold.index, ["slug", "year", "paper"]].assign(
        year=lambda f: f["year"].fillna(0))
    frame = frame.sort_values(["slug", "year", "paper"], kind="stable")
    chosen: list[Any] = []
    for _, rows in frame.groupby("slug", sort=True):
        chosen.extend(rows.index[len(rows) - hidden_count(len(rows)):])
    hidden: pd.Index = pd.Index(sorted(chosen))
    return hidden


def hidden_count(n: int) -> int:
    """How many of a name's n curated mentions to hide: HIDDEN_SHARE, at least one, and
    never all (one stays known)."""
    return min(max(1, math.floor(HIDDEN_SHARE * n + 0.5)), n - 1)


def place_hidden(mentions: pd.DataFrame, gold: Curation, hidden: pd.Index,
                 logits: BlockLogits, commonness: pd.Series, resolution: float, seed: int,
                 workers: int = 1) -> pd.DataFrame:
    """Hide the curation of the `hidden` mentions, split every curated name with the rest
    as anchors; per hidden mention: `name`, predicted `person` (a curated identity or NEW),
    `margin`, `known_persons` of its name, `commonness`, the `expected` person (NEW when
    the hidden person has no known mention of the name) and whether it is `right`."""
    known = gold.identity[gold.labelled].drop(hidden)
    # Known persons anchor by their identity (ids and ORCIDs already joined into it).
    anchored = mentions.assign(id=pd.Series(known, dtype=object).reindex(mentions.index),
                               orcid=None)
    clusters = cluster_blocks(anchored, logits.blocks, gold.blocks, lambda _: logits.model,
                              frozenset(), resolution, seed, logits_of=logits,
                              workers=workers)
    person = anchored_persons(clusters["cluster"], known)
    truth = gold.identity[hidden]
    slugs = mentions.loc[hidden, "slug"]
    known_in_block = set(zip(mentions.loc[known.index, "slug"], known))
    expected = [t if (s, t) in known_in_block else NEW for s, t in zip(slugs, truth)]
    predicted = person[hidden]
    known_persons = known.groupby(mentions.loc[known.index, "slug"].to_numpy()).nunique()
    support = coauthor_support(mentions, predicted, known)
    return pd.DataFrame({"name": slugs, "person": predicted,
                         "margin": clusters.loc[hidden, "margin"].astype(float),
                         "known_persons": slugs.map(known_persons).fillna(0).astype(int),
                         "commonness": slugs.map(commonness).astype(float),
                         **{c: support[c] for c in support},
                         "right": predicted.to_numpy() == np.array(expected, dtype=object),
                         "expected": expected}, index=hidden)


def coauthor_support(mentions: pd.DataFrame, person: pd.Series, known: pd.Series
                     ) -> pd.DataFrame:
    """Per placed mention (`person`: its placement, NEW or a known person): `own_shared`,
    how many of its coauthors' names the known mentions of that person have as coauthors
    (0 for NEW), and `other_shared`, the most any other known person of its name has.
    `known`: the known person of each anchor mention."""
    rows = person.index
    placed_papers = mentions.loc[rows, "paper"].tolist()
    known_papers = mentions.loc[known.index, "paper"].tolist()
    # Plain sets per paper: a pandas group per paper and Arrow strings taken one at a time
    # cost most of this function's time.
    shown = mentions.loc[isin(mentions["paper"], set(placed_papers) | set(known_papers))]
    on_paper: dict[str, set[str]] = {}
    for paper, name in zip(shown["paper"].tolist(), shown["slug"].tolist()):
        on_paper.setdefault(paper, set()).add(name)
    pooled: dict[str, dict[str, set[str]]] = {}
    for slug, who, paper in zip(mentions.loc[known.index, "slug"].tolist(), known.tolist(),
                                known_papers):
        pooled.setdefault(str(slug), {}).setdefault(str(who), set()).update(on_paper[paper])
    own: list[int] = []
    other: list[int] = []
    for slug, who, paper in zip(mentions.loc[rows, "slug"].tolist(), person.tolist(),
                                placed_papers):
        mine = on_paper[paper] - {slug}
        shared = {p: len(mine & theirs) for p, theirs in pooled.get(str(slug), {}).items()}
        own.append(shared.get(str(who), 0) if who != NEW else 0)
        other.append(max((n for p, n in shared.items() if p != who), default=0))
    return pd.DataFrame({"own_shared": own, "other_shared": other}, index=rows)


def placement_features(placed: pd.DataFrame) -> np.ndarray:
    """Columns `margin`, `person` (NEW or not), `known_persons` (of the name),
    `commonness` (`ambiguity.name_commonness`) and the coauthor support of the placement
    (`coauthor_support`) as the model's inputs."""
    margin = placed["margin"].to_numpy(dtype=float)
    new = (placed["person"] == NEW).to_numpy(dtype=float)
    many = np.log(np.maximum(placed["known_persons"].to_numpy(dtype=float), 1.0))
    own = np.log1p(placed["own_shared"].to_numpy(dtype=float))
    other = np.log1p(placed["other_shared"].to_numpy(dtype=float))
    return np.column_stack([margin, new, margin * new, many, many * margin, many * new,
                            placed["commonness"].fillna(0.0).to_numpy(dtype=float),
                            own, other, (own > other).astype(float)])


def _fit(placed: pd.DataFrame) -> LogisticRegression | None:
    if len(placed) < MIN_PLACEMENTS or placed["right"].nunique() < 2:
        return None
    return LogisticRegression(C=1.0, max_iter=2000).fit(
        placement_features(placed), placed["right"].to_numpy(dtype=bool))


@dataclass(frozen=True)
class PlacementConfidence:
    """One model for names outside the curation and one per fold of curated names, learnt
    without that fold."""

    overall: LogisticRegression | None
    by_fold: dict[int, LogisticRegression | None]
    fold_of_name: dict[str, int]
    placements: int  # judged placements learnt from

    @classmethod
    def fit(cls, judged: pd.DataFrame, fold_of_name: dict[str, int]) -> PlacementConfidence:
        """`judged`: per hidden mention `name`, `margin`, `person`, `known_persons`,
        `commonness` and whether it was `right`."""
        folds = judged["name"].map(fold_of_name)
        by_fold = {k: _fit(judged[folds != k]) for k in sorted(set(fold_of_name.values()))}
        return cls(_fit(judged), by_fold, dict(fold_of_name), len(judged))

    def apply(self, placed: pd.DataFrame) -> pd.Series:
        """Confidence per placement (columns as for `fit`, without `right`)."""
        confidence = pd.Series(np.nan, index=placed.index, dtype=float)
        folds = placed["name"].map(self.fold_of_name)
        for fold, model in [(None, self.overall), *self.by_fold.items()]:
            chosen = (folds.isna() if fold is None else folds == fold).to_numpy()
            if model is not None and chosen.any():
                confidence[chosen] = model.predict_proba(
                    placement_features(placed[chosen]))[:, 1]
        return confidence


def learn_placement_confidence(mentions: pd.DataFrame, curation: Curation, logits: BlockLogits,
                               commonness: pd.Series, resolution: float, seed: int,
                               folds: int = 2, workers: int = 1) -> PlacementConfidence:
    """Hide the newest HIDDEN_SHARE of every curated name's curated mentions, place them, and
    learn from how often each placement was right (cross-fitted over `folds` of names)."""
    hidden = hidden_newest(mentions, curation.identity[curation.labelled])
    judged = place_hidden(mentions, curation, hidden, logits, commonness, resolution, seed,
                          workers)
    return PlacementConfidence.fit(judged, {slug: fold_of(slug, folds)
                                            for slug in curation.blocks})


PLACEMENT_COLUMNS = ["paper", "role", "position", "name", "person", "status", "to",
                     "confidence", "review", "nearest", "margin"]


def placements_of(mentions: pd.DataFrame, identity: pd.Series, assignments: pd.DataFrame,
                  clusters: pd.DataFrame, commonness: pd.Series,
                  model: PlacementConfidence) -> pd.DataFrame:
    """One row per mention the split placed among known persons: every mention of a
    resolved name with known persons (curated `identity`: specific id or ORCID) that has no
    identity of its own. `to` is `known` when it landed with a known person, else `new`;
    `person` and `status` are those of `assignments` (same row order as `clusters`);
    `review` is true below REVIEW_BELOW (or when no confidence could be learnt)."""
    if clusters.empty:  # no name split: its columns carry no strings to read
        return pd.DataFrame(columns=PLACEMENT_COLUMNS)
    names = clusters["cluster"].str.rsplit("#", n=1).str[0]
    known = identity.reindex(clusters.index)
    known_persons = known.groupby(names.to_numpy()).nunique()
    placed = known.isna().to_numpy() & (names.map(known_persons).fillna(0) > 0).to_numpy()
    rows = clusters.index[placed]
    person = anchored_persons(clusters["cluster"], known)[rows]
    frame = pd.DataFrame({
        "name": names[rows], "person": person, "margin": clusters.loc[rows, "margin"],
        "known_persons": names[rows].map(known_persons).astype(int),
        "commonness": names[rows].map(commonness).astype(float)}, index=rows)
    frame = frame.join(coauthor_support(mentions, person, known.dropna()))
    confidence = model.apply(frame)
    table = mentions.loc[rows, ["paper", "role", "position"]].assign(
        name=names[rows], to=np.where(person == NEW, "new", "known"),
        confidence=confidence.round(4), review=~(confidence >= REVIEW_BELOW),
        nearest=clusters.loc[rows, "nearest"], margin=clusters.loc[rows, "margin"].round(4))
    final = assignments.set_index(["paper", "role", "position"])[["person", "status"]]
    keys = pd.MultiIndex.from_frame(table[["paper", "role", "position"]])
    table["person"] = final["person"].reindex(keys).to_numpy()
    table["status"] = final["status"].reindex(keys).to_numpy()
    return table[PLACEMENT_COLUMNS].sort_values(["paper", "role", "position"]).reset_index(
        drop=True)
