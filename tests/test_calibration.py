"""The reliability table of cluster confidence (`evaluate/calibration.py`)."""

from __future__ import annotations

import pandas as pd

from pipeline.evaluate.calibration import cluster_reliability


def test_a_cluster_is_right_only_when_it_is_one_whole_gold_person() -> None:
    cluster = pd.Series(["a#0", "a#0", "a#1", "a#2", "a#2", "a#3", "b#0"])
    confidence = pd.Series([0.9, 0.9, 0.3, 0.7, 0.7, 0.1, 0.95])
    gold = pd.Series(["p", "p", "q", "q", "r", "s", None])  # b#0 has no gold mention
    report = cluster_reliability(cluster, confidence, gold.dropna())
    # a#0: all of p, right; a#1: part of q, wrong; a#2: q and r, wrong; a#3: all of s, right.
    assert report["clusters"] == 4 and report["share_right"] == 0.5
    by_range = {tuple(b["range"]): b for b in report["bins"]}
    assert by_range[(0.8, 1.0)]["share_right"] == 1.0
    assert by_range[(0.0, 0.2)]["share_right"] == 1.0
    assert by_range[(0.2, 0.4)]["share_right"] == 0.0
    assert report["brier"] == round((0.1**2 + 0.3**2 + 0.7**2 + 0.9**2) / 4, 4)
