"""Blind evaluation against the snapshot's own curation (`anthology-resolve evaluate`).

1. Gold: the curation's identities of author mentions, from explicit (non-catch-all) ids
   and ORCIDs (`anthology/curation.py`); blocks are name slugs with 2+ gold mentions.
2. Blind (`anthology/blinding.py`): ids and ORCIDs of every mention of those names are
   removed before anything else runs; the registry is not consulted for them.
3. The pipeline runs on the blinded mentions. Its two learnt parts (the pair model and the
   name ambiguity model) are cross-fitted: blocks are split into two folds, and each fold is
   resolved by models learnt on the other fold's gold only.
4. B-cubed and pairwise scores over the gold mentions, micro-averaged, separately for blocks
   with 2+ gold identities ("multi") and with one ("single"), for the pipeline and for the
   two baselines, plus the blocks that lost most; and how well cluster confidence is
   calibrated, raw and as `resolve` calibrates it (cross-fitted).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline.anthology.blinding import blind
from pipeline.anthology.curation import Curation, curation_of, fold_of
from pipeline.anthology.snapshot import Snapshot
from pipeline.evaluate import baselines
from pipeline.evaluate.assignment import evaluate_assignment
from pipeline.evaluate.calibration import reliability_table
from pipeline.evaluate.metrics import Scores, score_clustering
from pipeline.evaluate.totals import totals
from pipeline.parallel import worker_count
from pipeline.resolve.ambiguity import AmbiguityModel, name_commonness, name_features
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.cluster_merge import ClusterModel
from pipeline.resolve.clustering import (
    BlockLogits,
    ClusterMerger,
    cluster_blocks,
    learn_evidence,
    prepare_evidence,
    training_data,
)
from pipeline.resolve.confidence_calibration import ConfidenceCalibration, judge_clusters
from pipeline.resolve.pair_model import PairModel
from pipeline.resolve.synthetic import synthetic_blocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    resolution: float = 0.0
    seed: int = 42
    min_ambiguity: float = 0.0  # names scoring below stay one cluster
    folds: int = 2
    # Share of the training fold's curated names the models may learn from (the
    # thin-curation curve); the rest of their curation is ignored.
    train_fraction: float = 1.0
    calibrate: bool = False  # refit the pair model's prior on the training fold's curation
    merge_clusters: bool = False  # the cluster-level merge after the pairwise split
    without: tuple[str, ...] = ()  # evidence kinds removed (the ablation; evidence.py)


def _kept_for_training(slug: str, fraction: float, seed: int) -> bool:
    """A seeded, stable subsample of names: `fraction` of them, chosen by a hash."""
    if fraction >= 1.0:
        return True
    digest = hashlib.blake2b(f"{seed}:{slug}".encode(), digest_size=4).hexdigest()
    return int(digest, 16) / 0xFFFFFFFF < fraction


def evaluate(snapshot: Snapshot, settings: EvalSettings, show_progress: bool = False,
             assignment: bool = False, workers: int = 0) -> dict[str, Any]:
    """Run the blind evaluation; returns the report (JSON-ready). With `assignment`, also
    the evaluation of placing hidden mentions among known persons (`assignment.py`).
    `workers`: processes for the stages that go name by name (0: one per core, at most 4;
    the same report with any number)."""
    started = time.perf_counter()
    workers = worker_count(workers)
    authors = snapshot.mentions[snapshot.mentions["role"] == "author"]
    gold = curation_of(authors, snapshot.registry)
    blinded = blind(authors, gold.blocks)
    evaluated = gold.labelled
    log.info("gold: %d mentions in %d blocks, %d with 2+ identities", int(evaluated.sum()),
             len(gold.blocks), len(gold.multi_identity))

    authorship = Authorship.build(blinded, snapshot.papers)
    # Synthetic homonyms never use an evaluated name, curated or not.
    synthetic = synthetic_blocks(blinded, name_commonness(blinded), authorship,
                                 exclude=set(gold.blocks), seed=settings.seed)
    evidence = prepare_evidence(blinded, snapshot.papers, authorship, gold.blocks,
                                also_fit_on=list(synthetic.rows.values()),
                                show_progress=show_progress, cache_dir=snapshot.cache_dir,
                                workers=workers)
    features = evidence.features.without(settings.without)
    evidence_model = learn_evidence(evidence.context, synthetic, evidence.commonness,
                                    settings.seed, settings.without, workers)

    fold = {slug: fold_of(slug, settings.folds) for slug in gold.blocks}
    pair_models: dict[int, PairModel] = {}
    ambiguity_models: dict[int, AmbiguityModel] = {}
    names = name_features(blinded, None, authorship)
    shared = pd.Series({slug: slug in gold.multi_identity for slug in gold.blocks})
    for k in range(settings.folds):
        train = [slug for slug in gold.blocks if fold[slug] != k
                 and _kept_for_training(slug, settings.train_fraction, settings.seed)]
        pair_models[k] = evidence_model.calibrated(*training_data(
            features, gold.identity, train)) if settings.calibrate else evidence_model
        ambiguity_models[k] = AmbiguityModel.fit(names.loc[train], shared.loc[train])
    ambiguity = pd.concat([
        ambiguity_models[k].score(names.loc[[s for s in gold.blocks if fold[s] == k]])
        for k in range(settings.folds)
    ])
    to_split = [s for s in gold.blocks if ambiguity[s] >= settings.min_ambiguity]
    merger = None
    if settings.merge_clusters:
        merger = ClusterMerger(evidence.context, evidence.commonness,
                               ClusterModel.fit(evidence.context, synthetic, settings.seed))
    # Without --calibrate every fold uses the evidence model: its log-odds serve again below.
    logits = BlockLogits(evidence_model, features)
    logits.prefetch(gold.blocks)
    clusters = cluster_blocks(blinded, features, to_split, lambda s: pair_models[fold[s]],
                              frozenset(), settings.resolution, settings.seed, show_progress,
                              merger, None if settings.calibrate else logits,
                              workers=workers)
    predicted = pd.Series(blinded["slug"], dtype=object).loc[evaluated[evaluated].index]
    predicted.update(clusters["cluster"].reindex(predicted.index).dropna())

    gold_labels = gold.identity[evaluated]
    block = authors["slug"]
    pipeline_scores = score_clustering(gold_labels, predicted, block)
    gold_index = gold_labels.index
    baseline_scores = {
        "one_cluster_per_name": score_clustering(
            gold_labels, baselines.one_cluster_per_name(authors, gold_index), block),
        "coauthor_components": score_clustering(
            gold_labels, baselines.coauthor_components(authors, gold_index), block),
    }
    worst = _worst_blocks(pipeline_scores, gold, gold_labels, predicted, block)
    placing = {}
    if assignment:
        log.info("incremental assignment: hiding curated mentions of every gold name")
        placing["assignment"] = evaluate_assignment(authors, gold, logits, evidence.commonness,
                                                    settings.resolution, settings.seed, workers)
    return {
        "settings": settings.__dict__,
        "gold": {"mentions": int(evaluated.sum()), "blocks": len(gold.blocks),
                 "multi_identity_blocks": len(gold.multi_identity),
                 "multi_identity_mentions": int(block[evaluated].isin(
                     gold.multi_identity).sum())},
        "names_split": len(to_split),
        "pair_models": {str(k): m.describe() for k, m in pair_models.items()},
        "pipeline": totals(pipeline_scores, gold),
        "baselines": {name: totals(s, gold) for name, s in baseline_scores.items()},
        "worst_blocks": worst,
        "cluster_confidence": _confidence_reliability(clusters, gold_labels, fold),
        **placing,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _confidence_reliability(clusters: pd.DataFrame, gold_labels: pd.Series,
                            fold: dict[str, int]) -> dict[str, Any]:
    """Reliability of the raw cluster confidence, and of the calibrated one `resolve` shows:
    each fold's clusters mapped by the calibration learnt on the other folds' clusters."""
    judged = judge_clusters(clusters["cluster"], clusters["cluster_confidence"], gold_labels)
    calibration = ConfidenceCalibration.fit(judged, fold)
    calibrated = judged.assign(confidence=calibration.apply(
        judged["name"], judged["confidence"]).to_numpy())
    return {"raw": reliability_table(judged),
            "calibrated": reliability_table(calibrated)}


def _worst_blocks(per_block: dict[str, Scores], gold: Curation, gold_labels: pd.Series,
                  predicted: pd.Series, block: pd.Series, top: int = 20) -> list[dict[str, Any]]:
    """Blocks that lost the most B-cubed mass, with what went wrong."""
    rows = []
    for slug, s in per_block.items():
        lost_precision = s.mentions - s.b3_precision_sum
        lost_recall = s.mentions - s.b3_recall_sum
        in_block = block.loc[gold_labels.index] == slug
        rows.append({
            "block": slug,
            "multi_identity": slug in gold.multi_identity,
            "gold_mentions": s.mentions,
            "gold_identities": int(gold_labels[in_block].nunique()),
            "predicted_clusters": int(predicted[in_block.to_numpy()].nunique()),
            "b3_f1": round(s.b3_f1, 4),
            "lost": round(lost_precision + lost_recall, 2),
            "what_went_wrong": _diagnosis(lost_precision, lost_recall),
        })
    rows.sort(key=lambda r: (-float(str(r["lost"])), str(r["block"])))
    return rows[:top]


def _diagnosis(lost_precision: float, lost_recall: float) -> str:
    if lost_precision < 1e-9 and lost_recall < 1e-9:
        return "perfect"
    if lost_precision > 2 * lost_recall:
        return "merged different people"
    if lost_recall > 2 * lost_precision:
        return "split one person"
    return "both merged and split"
