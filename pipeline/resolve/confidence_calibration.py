"""Cluster confidence as a probability, learnt from the snapshot's own curated names split blind.

The raw confidence of `placement.py` (cohesion x separation) ranks clusters but is no
probability: in the cross-fitted evaluation, clusters with raw confidence near 0.3 were one
whole person 72% of the time. So `resolve` splits every curated name a second time with its
ids and ORCIDs hidden, judges each blind cluster that holds curated mentions (`judge_clusters`:
right when those mentions are one person and all of that person's curated mentions of the
name), and fits a monotone map from raw confidence to the share of clusters that were right
(isotonic regression, every cluster weighted equally).

Cross-fitted like the evaluation: a curated name's clusters are calibrated by the map learnt
on the other fold's names (`anthology.curation.fold_of`), so its confidence never learnt from
its own curation; every other name uses the map learnt on all curated names. With fewer than
`MIN_JUDGED_CLUSTERS` judged clusters a map is the identity (raw confidence is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

MIN_JUDGED_CLUSTERS = 50


def judge_clusters(cluster: pd.Series, confidence: pd.Series, gold: pd.Series
                   ) -> pd.DataFrame:
    """One row per predicted cluster holding gold mentions, sorted by cluster label: its
    `name` (the part of "slug#k" before '#'), raw `confidence` and whether it is `right`
    (its gold mentions are one person, and that person has no gold mention of the name in
    another cluster). `cluster` and `confidence` are per mention; `gold` the identity per
    gold mention (same index, None or missing elsewhere)."""
    frame = pd.DataFrame({"cluster": cluster, "confidence": confidence,
                          "gold": gold.reindex(cluster.index)}).dropna(subset=["gold"])
    if frame.empty:
        return pd.DataFrame({"name": pd.Series(dtype=object),
                             "confidence": pd.Series(dtype=float),
                             "right": pd.Series(dtype=bool)})
    frame["name"] = frame["cluster"].str.rsplit("#", n=1).str[0]
    spread = frame.groupby(["name", "gold"])["cluster"].nunique()
    rows = []
    for label, members in frame.groupby("cluster", sort=True):
        identities = members["gold"].unique()
        name = members["name"].iloc[0]
        whole = len(identities) == 1 and spread[(name, identities[0])] == 1
        rows.append((label, name, float(members["confidence"].iloc[0]), bool(whole)))
    return pd.DataFrame(rows, columns=["cluster", "name", "confidence", "right"]
                        ).set_index("cluster")


@dataclass(frozen=True)
class ConfidenceMap:
    """A monotone map from raw to calibrated confidence; None: the identity."""

    regression: IsotonicRegression | None
    clusters: int  # judged clusters it was fitted on

    @classmethod
    def fit(cls, judged: pd.DataFrame) -> ConfidenceMap:
        if len(judged) < MIN_JUDGED_CLUSTERS or judged["right"].nunique() < 2:
            return cls(None, len(judged))
        regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        regression.fit(judged["confidence"].to_numpy(dtype=float),
                       judged["right"].to_numpy(dtype=float))
        return cls(regression, len(judged))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.regression is None or len(raw) == 0:
            return raw
        return np.asarray(self.regression.predict(raw), dtype=float)


@dataclass(frozen=True)
class ConfidenceCalibration:
    """The map for names outside the curation (`overall`) and one per fold of curated names,
    each learnt without that fold."""

    overall: ConfidenceMap
    by_fold: dict[int, ConfidenceMap]
    fold_of_name: dict[str, int]
    judged: pd.DataFrame = field(repr=False)

    @classmethod
    def fit(cls, judged: pd.DataFrame, fold_of_name: dict[str, int]) -> ConfidenceCalibration:
        """`judged` from `judge_clusters` on blind splits of the names in `fold_of_name`."""
        folds = judged["name"].map(fold_of_name)
        by_fold = {k: ConfidenceMap.fit(judged[folds != k])
                   for k in sorted(set(fold_of_name.values()))}
        return cls(ConfidenceMap.fit(judged), by_fold, dict(fold_of_name), judged)

    def apply(self, names: pd.Series, raw: pd.Series) -> pd.Series:
        """Calibrated confidence per mention (`names`: its slug; `raw`: same index)."""
        calibrated = raw.astype(float).copy()
        folds = names.map(self.fold_of_name)
        for fold, confidence_map in [(None, self.overall), *self.by_fold.items()]:
            chosen = folds.isna() if fold is None else folds == fold
            if chosen.any():
                calibrated[chosen] = confidence_map(raw[chosen].to_numpy(dtype=float))
        return calibrated

    def describe(self) -> dict[str, Any]:
        return {"kind": "isotonic map from raw confidence, fitted on blind splits of the "
                        "curated names, cross-fitted over "
                        f"{len(self.by_fold)} folds of names",
                "judged_clusters": self.overall.clusters,
                "share_right": round(float(self.judged["right"].mean()), 4)
                if len(self.judged) else None,
                "identity": self.overall.regression is None}
