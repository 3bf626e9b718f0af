"""Cluster confidence: the reliability table (`evaluate/calibration.py`) and the calibration
`resolve` learns from blind splits of curated names (`resolve/confidence_calibration.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.evaluate.calibration import cluster_reliability
from pipeline.resolve.confidence_calibration import (
    ConfidenceCalibration,
    ConfidenceMap,
    judge_clusters,
)


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


def _judged(names: list[str], confidence: list[float], right: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"name": names, "confidence": confidence, "right": right},
                        index=[f"{n}#{i}" for i, n in enumerate(names)])


def test_the_confidence_map_learns_the_share_right_and_keeps_order() -> None:
    # Raw 0.3 clusters were right 3 times in 4, raw 0.9 ones always: a monotone map says so.
    judged = _judged(["n"] * 80, [0.3] * 40 + [0.9] * 40, [True, True, True, False] * 10
                     + [True] * 40)
    confidence_map = ConfidenceMap.fit(judged)
    assert np.allclose(confidence_map(np.array([0.3, 0.9])), [0.75, 1.0])
    assert np.all(np.diff(confidence_map(np.linspace(0, 1, 11))) >= 0)


def test_too_few_judged_clusters_keep_the_raw_confidence() -> None:
    judged = _judged(["n"] * 10, [0.3] * 10, [True] * 5 + [False] * 5)
    assert ConfidenceMap.fit(judged).regression is None
    assert np.allclose(ConfidenceMap.fit(judged)(np.array([0.3, 0.8])), [0.3, 0.8])


def test_a_curated_name_is_calibrated_only_by_the_other_fold() -> None:
    # Fold 0's clusters at raw 0.5 were right 3 times in 4, fold 1's once in 4: each fold is
    # mapped by what the other fold says, a name outside the curation by both together.
    names = ["a"] * 60 + ["b"] * 60
    judged = _judged(names, [0.5] * 120, [True, True, True, False] * 15
                     + [True, False, False, False] * 15)
    calibration = ConfidenceCalibration.fit(judged, {"a": 0, "b": 1})
    slugs = pd.Series(["a", "b", "c"])
    calibrated = calibration.apply(slugs, pd.Series([0.5, 0.5, 0.5]))
    assert np.allclose(calibrated.tolist(), [0.25, 0.75, 0.5])


def test_judged_clusters_carry_their_name_and_raw_confidence() -> None:
    judged = judge_clusters(pd.Series(["x-y#0", "x-y#1"]), pd.Series([0.4, 0.6]),
                            pd.Series(["p", "p"]))
    assert judged["name"].tolist() == ["x-y", "x-y"]
    assert judged["confidence"].tolist() == [0.4, 0.6]
    assert judged["right"].tolist() == [False, False]  # one person cut in two
