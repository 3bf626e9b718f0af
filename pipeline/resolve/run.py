"""The main job (`anthology-resolve resolve`): load, build graph, score names, split, export.

1. Load the snapshot (`anthology/snapshot.py`) and build the heterogeneous graph (`graph.py`).
2. Score every name for ambiguity (`ambiguity.py`); the model learns from the curated names.
3. Candidates: names with 2+ mentions and an ambiguity score of at least `min_ambiguity`,
   names the registry knows to be shared (2+ persons or a catch-all), and names whose
   curation forces a split (two ids or ORCIDs, twice on one paper).
4. Learn the pair model's evidence from synthetic homonyms (`synthetic.py`); with
   `calibrate`, refit its prior on the curated names (`anthology/curation.py`). Drop the
   candidates the model's bound keeps whole; split the rest (`clustering.py`, `split.py`)
   under the hard constraints of their ids, ORCIDs and papers, then (optionally) merge
   clusters on pooled evidence (`cluster_merge.py`).
   Split the curated names once more with their ids and ORCIDs hidden, and learn from
   those blind clusters what cluster confidence means (`confidence_calibration.py`).
   Hide the newest 30% of the curated mentions of those names, place them among the rest,
   and learn what a placement's confidence means (`assignment.py`).
5. Match each cluster to a registry person (`persons.py`: its explicit ids, else its ORCIDs,
   else the one registry person of the name left unmatched), propose a new id for a confident
   cluster, or leave it to the name's catch-all.
6. Name variants (`variants.py`): pairs of names that may be one person, from their strings,
   decided person by person on the graph; merges and `similar` links are proposed.
7. Every mention without a specific id in a name with known persons gets a placement
   confidence; those below `assignment.REVIEW_BELOW` are for review.
8. The command line then writes `assignments.csv`, `proposals.json`, `placements.csv` and
   the ranking `ambiguity.csv` (`outputs.py`).
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.blinding import blind
from pipeline.anthology.curation import curated_identities, curation_of, fold_of
from pipeline.anthology.person_units import person_units
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import AnthologyResolveError
from pipeline.resolve.ambiguity import AmbiguityModel, name_commonness, name_features
from pipeline.resolve.assignment import (
    REVIEW_BELOW,
    learn_placement_confidence,
    placements_of,
)
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.cluster_merge import ClusterModel
from pipeline.resolve.clustering import (
    BlockFeatures,
    BlockLogits,
    ClusterMerger,
    block_rows_of,
    cluster_blocks,
    learn_evidence,
    training_data,
)
from pipeline.resolve.confidence_calibration import ConfidenceCalibration, judge_clusters
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.graph import HeterogeneousGraph, build_graph
from pipeline.resolve.pair_model import PairModel
from pipeline.resolve.persons import assign_persons
from pipeline.resolve.split import DEFAULT_RESOLUTION, DEFAULT_SEED
from pipeline.resolve.synthetic import synthetic_blocks
from pipeline.resolve.variants import VariantProposals, name_candidates, propose_variants
from pipeline.resolve.variants import candidate_rows as variant_rows

log = logging.getLogger(__name__)
CALIBRATION_FOLDS = 2  # curated names calibrate each other's cluster confidence across folds


@dataclass(frozen=True)
class ResolveSettings:
    resolution: float = DEFAULT_RESOLUTION
    seed: int = DEFAULT_SEED
    min_ambiguity: float = 0.5  # names the ambiguity score ranks lower are not split
    names: tuple[str, ...] = ()  # resolve exactly these slugs instead of choosing
    # A cluster without an id or ORCID becomes a new person only with this much evidence;
    # otherwise its mentions stay with the name's catch-all.
    min_person_mentions: int = 2
    min_person_confidence: float = 0.5
    calibrate: bool = False  # refit the pair model's prior on the snapshot's curation
    merge_clusters: bool = False  # the cluster-level merge after the split
    variants: bool = True  # propose name variants (merges of persons across names)


@dataclass
class Resolution:
    """What a run produced: one row per mention of every resolved name, and per-name facts."""

    assignments: pd.DataFrame
    clusters: pd.DataFrame  # one row per cluster: name, cluster, person, status
    ambiguity: pd.Series
    name_features: pd.DataFrame
    resolved_names: list[str]
    models: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    context: EvidenceContext | None = None
    features: BlockFeatures | None = None
    pair_model: PairModel | None = None
    graph: HeterogeneousGraph | None = None
    conflicts: list[str] = field(default_factory=list)  # contradictions in the curation
    variants: VariantProposals | None = None
    # Mentions without a specific id placed among known persons (`assignment.py`).
    placements: pd.DataFrame | None = None


def candidate_names(names: pd.DataFrame, ambiguity: pd.Series, min_ambiguity: float
                    ) -> list[str]:
    """Names with 2+ mentions that the ambiguity score ranks at least `min_ambiguity`, or
    that the curation or the registry says must or may be split (`names` from
    `name_features` plus `constrained`)."""
    eligible = names["mentions"] >= 2
    possible = (ambiguity.reindex(names.index) >= min_ambiguity) | names["constrained"] | (
        names["registry_persons"] >= 2) | (names["catch_all"] > 0)
    return sorted(names.index[eligible & possible])


def constrained_names(mentions: pd.DataFrame, catch_all: frozenset[str]) -> pd.Series:
    """Per slug: its mentions must be split by a hard constraint: two different explicit
    (non-catch-all) ids or ORCIDs, or the name twice on one paper."""
    ids = mentions["id"].where(~mentions["id"].isin(catch_all))
    several_ids = ids.groupby(mentions["slug"]).nunique() >= 2
    several_orcids = mentions["orcid"].groupby(mentions["slug"]).nunique() >= 2
    twice = mentions.duplicated(["slug", "paper", "role"], keep=False)
    on_one_paper = twice.groupby(mentions["slug"]).any()
    return (several_ids | several_orcids | on_one_paper).rename("constrained")


def resolve(snapshot: Snapshot, settings: ResolveSettings, show_progress: bool = False
            ) -> Resolution:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        log.debug("%s: %.2f s, peak RSS %d MB", stage, now - clock,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        clock = now

    mentions = snapshot.mentions
    registry = snapshot.registry
    authorship = Authorship.build(mentions, snapshot.papers)
    graph = build_graph(mentions, snapshot.papers, snapshot.volumes, registry, authorship)
    lap("graph")

    names = name_features(mentions, registry, authorship)
    curation = curation_of(mentions, registry)
    shared = pd.Series({slug: slug in curation.multi_identity for slug in curation.blocks})
    ambiguity_model = AmbiguityModel.fit(names.loc[curation.blocks], shared)
    ambiguity = ambiguity_model.score(names)
    unknown = sorted(set(settings.names) - set(names.index))
    if unknown:
        raise AnthologyResolveError(
            f"--name {', '.join(unknown)}: no author or editor of the snapshot has this name "
            "slug (slugs are lower case with hyphens, e.g. yang-liu)")
    commonness = name_commonness(mentions)
    names["constrained"] = constrained_names(mentions, registry.catch_all_ids()).reindex(
        names.index, fill_value=False)
    candidates = list(settings.names) or candidate_names(names, ambiguity,
                                                         settings.min_ambiguity)
    lap("ambiguity")

    # The pair model learns from synthetic homonyms (and, to calibrate, from the curated
    # names); the text and affiliation vocabularies are fitted on their mentions and those
    # of every candidate name. Training pairs need features only among curated mentions.
    curated_rows = block_rows_of(mentions, curation.blocks)
    synthetic = synthetic_blocks(mentions, commonness, authorship, seed=settings.seed)
    candidate_rows = block_rows_of(mentions, candidates)
    variant_candidates = name_candidates(mentions) if settings.variants else []
    if settings.names:
        variant_candidates = [c for c in variant_candidates if c.first in settings.names
                              or c.second in settings.names]
    lap("variant candidates")
    focus = np.concatenate([*candidate_rows.values(), *curated_rows.values(),
                            *synthetic.rows.values(), variant_rows(mentions, variant_candidates),
                            np.zeros(0, dtype=np.int64)])
    context = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=focus,
                                   cache_dir=snapshot.cache_dir)
    lap("evidence context")
    evidence_model = pair_model = learn_evidence(context, synthetic, commonness, settings.seed)
    if settings.calibrate:
        labelled = curation.labelled.to_numpy()
        training = BlockFeatures.compute(
            context, {slug: rows[labelled[rows]] for slug, rows in curated_rows.items()},
            commonness)
        pair_model = pair_model.calibrated(
            *training_data(training, curation.identity, curation.blocks))
    must = names.index[names["constrained"] | (names["registry_persons"] >= 2)
                       | (names["catch_all"] > 0)]
    splittable = commonness.index[commonness >= pair_model.rarest_splittable(
        settings.resolution)]
    chosen = list(settings.names) or sorted(
        set(candidates) & (set(must) | set(splittable)))
    log.info("resolving %d names of %d with 2+ mentions: %d the ambiguity score, the "
             "curation or the registry selects, less those the prior alone keeps whole",
             len(chosen), int((names["mentions"] >= 2).sum()), len(candidates))
    lap("pair model")

    # Curated names are also split blind, to calibrate cluster confidence; their pair
    # features are computed once, with those of the names to resolve.
    features = BlockFeatures.compute(
        context, block_rows_of(mentions, sorted(set(chosen) | set(curation.blocks))),
        commonness, show_progress)
    lap("evidence")

    cluster_model = ClusterModel()
    merger = None
    if settings.merge_clusters:
        cluster_model = ClusterModel.fit(context, synthetic, seed=settings.seed)
        merger = ClusterMerger(context, commonness, cluster_model)
        lap("cluster model")

    logits = BlockLogits(evidence_model, features)  # shared by the split and the blind one
    clusters = cluster_blocks(mentions, features, chosen, lambda _: pair_model,
                              registry.catch_all_ids(),
                              settings.resolution, settings.seed, show_progress, merger,
                              None if settings.calibrate else logits)
    conflicts = list(clusters.attrs.get("conflicts", []))
    for conflict in conflicts:
        log.warning("curation conflict: %s", conflict)
    lap("split")

    blind_clusters = cluster_blocks(blind(mentions, curation.blocks), features,
                                    curation.blocks, lambda _: evidence_model,
                                    registry.catch_all_ids(), settings.resolution,
                                    settings.seed, show_progress, merger, logits)
    calibration = ConfidenceCalibration.fit(
        judge_clusters(blind_clusters["cluster"], blind_clusters["cluster_confidence"],
                       curation.identity),
        {slug: fold_of(slug, CALIBRATION_FOLDS) for slug in curation.blocks})
    clusters["cluster_confidence"] = calibration.apply(
        mentions.loc[clusters.index, "slug"], clusters["cluster_confidence"])
    # A cluster whose every mention a curated id or ORCID pins is that person by curation.
    identity = curated_identities(mentions, registry)
    pinned = identity.notna().loc[clusters.index]
    all_pinned = pinned.groupby(clusters["cluster"]).transform("all").astype(bool)
    clusters.loc[all_pinned, "cluster_confidence"] = 1.0
    log.info("cluster confidence calibrated on %d clusters of %d curated names split blind "
             "(%.0f%% of them one whole person)", calibration.overall.clusters,
             len(curation.blocks), 100 * calibration.judged["right"].mean()
             if len(calibration.judged) else 0.0)
    lap("confidence calibration")

    placement_model = learn_placement_confidence(mentions, curation, logits, commonness,
                                                 settings.resolution, settings.seed,
                                                 CALIBRATION_FOLDS)
    lap("placement confidence")

    assignments, cluster_table = assign_persons(
        mentions, clusters, registry, settings.min_person_mentions,
        settings.min_person_confidence)
    placements = placements_of(mentions, identity, assignments, clusters, commonness,
                               placement_model)
    log.info("placed %d mentions without a specific id among the known persons of their "
             "names (%d with a known person); %d below confidence %.2f are for review",
             len(placements), int((placements["to"] == "known").sum()),
             int(placements["review"].sum()), REVIEW_BELOW)
    lap("match persons")
    variants = None
    if settings.variants:
        catch_all = registry.catch_all_ids()
        variants = propose_variants(
            mentions, person_units(mentions, assignments, catch_all), variant_candidates,
            context, synthetic, settings.seed, catch_all,
            {pid: p.orcid for pid, p in registry.persons.items() if p.orcid})
        log.info("name variants: %d candidate pairs, %d merges into %d persons, %d similar "
                 "links", len(variant_candidates),
                 sum(1 for link in variants.links if link.decision == "merge"),
                 len(variants.persons),
                 sum(1 for link in variants.links if link.decision == "similar"))
        lap("name variants")
    return Resolution(
        assignments=assignments, clusters=cluster_table, ambiguity=ambiguity,
        name_features=names, resolved_names=chosen,
        models={"pair_model": pair_model.describe(),
                "cluster_model": cluster_model.describe(),
                "ambiguity_model": {"training_blocks": ambiguity_model.training_blocks,
                                    "kind": "logistic regression"
                                    if ambiguity_model.model is not None else "fallback rule"},
                "graph": graph.counts(),
                "cluster_confidence": calibration.describe()},
        timings=timings, context=context, features=features, pair_model=pair_model,
        graph=graph, conflicts=conflicts, variants=variants, placements=placements)
