"""How well cluster confidence (`resolve/placement.py`) is calibrated: a reliability table.

A predicted cluster counts as right when its gold-labelled mentions are all one gold
person and that person has no gold mention of the name outside it (one person, all of it).
Clusters are binned by confidence; per bin: how many, their mean confidence, the share that
are right. A calibrated confidence has the two close in every bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.resolve.confidence_calibration import judge_clusters

BIN_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0000001)


def cluster_reliability(cluster: pd.Series, confidence: pd.Series, gold: pd.Series
                        ) -> dict[str, Any]:
    """`cluster` and `confidence` per split mention; `gold` the identity per gold mention
    (same index). Only clusters holding gold mentions are judged."""
    return reliability_table(judge_clusters(cluster, confidence, gold))


def reliability_table(judged: pd.DataFrame) -> dict[str, Any]:
    """The table of clusters judged by `judge_clusters` (columns confidence, right)."""
    if judged.empty:
        return {"clusters": 0, "bins": [], "brier": None}
    table = judged[["confidence", "right"]]
    bins = []
    for low, high in zip(BIN_EDGES[:-1], BIN_EDGES[1:]):
        chosen = table[(table["confidence"] >= low) & (table["confidence"] < high)]
        if len(chosen):
            bins.append({"range": [low, round(min(high, 1.0), 1)], "clusters": len(chosen),
                         "mean_confidence": round(float(chosen["confidence"].mean()), 3),
                         "share_right": round(float(chosen["right"].mean()), 3)})
    brier = float(np.mean((table["confidence"] - table["right"].astype(float)) ** 2))
    return {"clusters": len(table), "share_right": round(float(table["right"].mean()), 3),
            "mean_confidence": round(float(table["confidence"].mean()), 3),
            "brier": round(brier, 4), "bins": bins}
