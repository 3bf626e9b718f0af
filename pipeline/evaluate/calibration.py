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

BIN_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0000001)


def cluster_reliability(cluster: pd.Series, confidence: pd.Series, gold: pd.Series
                        ) -> dict[str, Any]:
    """`cluster` and `confidence` per split mention; `gold` the identity per gold mention
    (same index). Only clusters holding gold mentions are judged."""
    frame = pd.DataFrame({"cluster": cluster, "confidence": confidence,
                          "gold": gold.reindex(cluster.index)}).dropna(subset=["gold"])
    if frame.empty:
        return {"clusters": 0, "bins": [], "brier": None}
    frame["name"] = frame["cluster"].str.rsplit("#", n=1).str[0]
    spread = frame.groupby(["name", "gold"])["cluster"].nunique()
    rows = []
    for _, members in frame.groupby("cluster", sort=True):
        identities = members["gold"].unique()
        whole = len(identities) == 1 and spread[(members["name"].iloc[0], identities[0])] == 1
        rows.append((float(members["confidence"].iloc[0]), whole))
    table = pd.DataFrame(rows, columns=["confidence", "right"])
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
