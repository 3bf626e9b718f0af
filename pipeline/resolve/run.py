"""The main job (`anthology-resolve resolve`): load, build graph, score names, split, export.

1. Load the snapshot (`anthology/snapshot.py`) and build the heterogeneous graph (`graph.py`).
2. Score every name for ambiguity (`ambiguity.py`); the model learns from the curated names.
3. Candidates: names with 2+ mentions and an ambiguity score of at least `min_ambiguity`
   (0 by default: every such name; the score then only ranks names for review),
   names the registry knows to be shared (2+ persons or a catch-all), and names whose
   curation forces a split (two ids or ORCIDs, twice on one paper).
4. Learn the pair model's evidence from synthetic homonyms (`synthetic.py`; the name-variant
   model learns from its own draw, without pairs of strings that may be one person's); with
   `calibrate`, refit its prior on the curated names (`anthology/curation.py`). Drop the
   candidates the model's bound keeps whole; split the rest (`clustering.py`, `split.py`)
   under the hard constraints of their ids, ORCIDs and papers, then (optionally) merge
   clusters on pooled evidence (`cluster_merge.py`).
   Split the curated names once more with their ids and ORCIDs hidden, and learn from
   those blind clusters what cluster confidence means (`confidence_calibration.py`).
5. Match each cluster to a registry person (`persons.py`: its explicit ids, else its ORCIDs,
   else the one registry person of the name left unmatched), propose a new id for a confident
   cluster, or leave it to the name's catch-all.
6. Name variants (`variants.py`): pairs of names that may be one person, from their strings,
   decided person by person on the graph; merges and `similar` links are proposed.
7. Every mention without a specific id in a name with known persons gets a placement
   confidence, learnt by hiding the newest 30% of the curated mentions of the curated
   names and placing them among the rest (`assignment.py`); those below
   `settings.REVIEW_BELOW` are for review. The split proposals of `proposals.json` are
   drawn up (`split_proposals.py`). On a large snapshot, 7 runs in another process while
   this one works out 6.
8. The command line then writes `assignments.csv`, `proposals.json`, `placements.csv` and
   the ranking `ambiguity.csv` (`outputs.py`).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from pipeline.anthology.blinding import blind
from pipeline.anthology.columns import isin
from pipeline.anthology.curation import curated_identities, curation_of, fold_of
from pipeline.anthology.person_units import person_units
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import AnthologyResolveError
from pipeline.parallel import Background, Pending, worker_count
from pipeline.resolve.ambiguity import AmbiguityModel, name_commonness, name_features
from pipeline.resolve.assignment import (
    PlacementConfidence,
    learn_placement_confidence,
    placements_of,
)
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.carryover import Carryover, LearntModels, splice
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
from pipeline.resolve.graph import build_graph
from pipeline.resolve.pair_evidence import BlockEvidence, PairEvidence
from pipeline.resolve.pair_model import PairModel
from pipeline.resolve.paper_text import TextModel, papers_in_model
from pipeline.resolve.persons import assign_persons
from pipeline.resolve.settings import REVIEW_BELOW, ResolveSettings
from pipeline.resolve.split_proposals import split_proposals
from pipeline.resolve.stable_ids import name_of_cluster, previous_persons, relabel
from pipeline.resolve.synthetic import synthetic_draws
from pipeline.resolve.variant_candidates import Candidate
from pipeline.resolve.variant_model import VARIANT_DRAWS, variant_seeds
from pipeline.resolve.variants import (
    KeptLinks,
    VariantProposals,
    name_candidates,
    person_rows,
    propose_variants,
)
from pipeline.resolve.variants import candidate_rows as variant_rows

log = logging.getLogger(__name__)
__all__ = ["Resolution", "ResolveSettings", "resolve", "start_name_candidates"]
R = TypeVar("R")
CALIBRATION_FOLDS = 2  # curated names calibrate each other's cluster confidence across folds


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
    conflicts: list[str] = field(default_factory=list)  # contradictions in the curation
    variants: VariantProposals | None = None
    # Mentions without a specific id placed among known persons (`assignment.py`).
    placements: pd.DataFrame | None = None
    learnt: LearntModels | None = None  # what the run learnt (or reused), for the next
    pair_evidence: PairEvidence | None = None  # of the names split, with `mention_keys`
    splits: list[dict[str, Any]] = field(default_factory=list)  # `split_proposals.py`
    # What was wrong with what the run kept from the last night (the night's report lists
    # it among the problems in last night's state).
    carryover_notes: list[str] = field(default_factory=list)


# From this many mentions on, the name-string candidates are worth a process of their own
# (on the shared snapshot's 390k mentions they take about 4 s).
BACKGROUND_MENTIONS = 20_000


def candidate_names(names: pd.DataFrame, ambiguity: pd.Series, min_ambiguity: float
                    ) -> list[str]:
    """Names with 2+ mentions that the ambiguity score ranks at least `min_ambiguity`, or
    that the curation or the registry says must or may be split (`names` from
    `name_features` plus `constrained`)."""
    eligible = names["mentions"] >= 2
    possible = (ambiguity.reindex(names.index) >= min_ambiguity) | names["constrained"] | (
        names["registry_persons"] >= 2) | (names["catch_all"] > 0)
    return sorted(names.index[eligible & possible].tolist())


def constrained_names(mentions: pd.DataFrame, catch_all: frozenset[str]) -> pd.Series:
    """Per slug: its mentions must be split by a hard constraint: two different explicit
    (non-catch-all) ids or ORCIDs, or the name twice on one paper."""
    ids = mentions["id"].where(~mentions["id"].isin(catch_all))
    several_ids = ids.groupby(mentions["slug"]).nunique() >= 2
    several_orcids = mentions["orcid"].groupby(mentions["slug"]).nunique() >= 2
    twice = mentions.duplicated(["slug", "paper", "role"], keep=False)
    on_one_paper = twice.groupby(mentions["slug"]).any()
    return (several_ids | several_orcids | on_one_paper).rename("constrained")


def several_persons_names(mentions: pd.DataFrame) -> pd.Series:
    """Per slug: its mentions are attributed today to two or more persons (an explicit id
    points some of them to a person of another name). Resolving such a name can move the
    others to that person where they cluster with it, however rare the name is."""
    return (mentions["person"].groupby(mentions["slug"]).nunique() >= 2).rename(
        "several_persons")


def background_workers(snapshot: Snapshot, workers: int) -> int:
    """What `Background` is given for a task beside this process's own work: the workers
    `workers` asks for on a large snapshot (BACKGROUND_MENTIONS), else 1 (run it here)."""
    return worker_count(workers) if len(snapshot.mentions) >= BACKGROUND_MENTIONS else 1


def in_background(task: Callable[[], R], snapshot: Snapshot, workers: int) -> Background[R]:
    """`task` in another process on a large snapshot (BACKGROUND_MENTIONS), else here."""
    return Background(task, background_workers(snapshot, workers))


def start_name_candidates(snapshot: Snapshot, workers: int) -> Background[list[Candidate]]:
    """The candidate pairs of name strings, found in another process on a large snapshot
    (they need only the names) while the caller goes on: hand the result to `resolve`."""
    mentions, registry = snapshot.mentions, snapshot.registry
    return in_background(lambda: name_candidates(mentions, registry), snapshot, workers)


def resolve(snapshot: Snapshot, settings: ResolveSettings, show_progress: bool = False,
            carry: Carryover | None = None, mention_keys: np.ndarray | None = None,
            workers: int = 0,
            started_candidates: Pending[list[Candidate]] | None = None
            ) -> Resolution:
    """Resolve the snapshot (see the module docstring). `carry`: the previous run of the
    nightly job (`carryover.py`): person ids are kept stable against its assignments; with
    its models nothing is learnt again, and with its changed names only they are split,
    predicting only the pairs its kept evidence lacks. `mention_keys`: a fingerprint per
    mention row (the nightly job's); with them the resolution keeps the pair evidence of
    the names it split (`Resolution.pair_evidence`) for the next night. `workers`: processes
    for the stages that go name by name (0: one per core, at most 4; `parallel.py`); the
    output is the same with any number. `started_candidates`: the name-string candidates of
    this snapshot (`start_name_candidates`), started earlier by the caller (else here)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    workers = worker_count(workers)

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        log.debug("%s: %.2f s, peak RSS %d MB", stage, now - clock,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        clock = now

    mentions = snapshot.mentions
    registry = snapshot.registry
    registry_orcids = {pid: p.orcid for pid, p in registry.persons.items() if p.orcid}
    catch_all = registry.catch_all_ids()
    # Candidate pairs of name strings need only the names: on a large snapshot they are
    # found in another process while this one builds the models.
    pending_candidates = (started_candidates or start_name_candidates(snapshot, workers)) \
        if settings.variants else None
    learnt = carry.models if carry is not None else None
    changed = carry.changed if carry is not None and learnt is not None else None
    authorship = Authorship.build(mentions, snapshot.papers)
    lap("authorship")

    commonness = name_commonness(mentions)
    names = name_features(mentions, registry, authorship, commonness)
    curation = curation_of(mentions, registry)
    if learnt is None:
        shared = pd.Series({slug: slug in curation.multi_identity for slug in curation.blocks})
        ambiguity_model = AmbiguityModel.fit(names.loc[curation.blocks], shared)
    else:
        ambiguity_model = learnt.ambiguity
    ambiguity = ambiguity_model.score(names)
    unknown = sorted(set(settings.names) - set(names.index))
    if unknown:
        raise AnthologyResolveError(
            f"--name {', '.join(unknown)}: no author or editor of the snapshot has this name "
            "slug (slugs are lower case with hyphens, e.g. yang-liu)")
    # Which names must be split matters only for the names this run may split.
    relevant = mentions if changed is None else mentions[isin(mentions["slug"], changed)]
    names["constrained"] = constrained_names(relevant, catch_all).reindex(
        names.index, fill_value=False)
    candidates = list(settings.names) or candidate_names(names, ambiguity,
                                                         settings.min_ambiguity)
    if changed is not None:
        candidates = [slug for slug in candidates if slug in changed]
    lap("ambiguity")

    # The pair model learns from synthetic homonyms (and, to calibrate, from the curated
    # names); the text and affiliation vocabularies are fitted on their mentions and those
    # of every candidate name. Training pairs need features only among curated mentions.
    # A night that reuses its models learns nothing: no synthetic or curated blocks.
    learning = learnt is None
    curated_rows = block_rows_of(mentions, curation.blocks) if learning else {}
    # The pair model's draw, then the variant model's (`variant_model.variant_seeds`).
    variant_draws = VARIANT_DRAWS if settings.variants else 0
    draws = synthetic_draws(mentions, commonness, authorship,
                            distinct_strings=(False, *(True,) * variant_draws),
                            seeds=(settings.seed, *variant_seeds(settings.seed)[:variant_draws])
                            ) if learning else []
    synthetic = draws[0] if draws else None
    variant_synthetic = draws[1:]
    candidate_rows = block_rows_of(mentions, candidates)
    variant_candidates = pending_candidates.result() if pending_candidates is not None else []
    if settings.names:
        variant_candidates = [c for c in variant_candidates if c.first in settings.names
                              or c.second in settings.names]
    kept_links = KeptLinks(list(carry.links), changed) \
        if changed is not None and carry is not None else None
    to_score = variant_candidates if kept_links is None else kept_links.to_score(
        variant_candidates)
    # The graph's counts are reported (a night that reuses its models skips them); on a
    # large snapshot the graph is built in another process, on the core the stages below
    # leave idle (forked here: no thread runs yet, and the name candidates are done).
    graph_counts = None if learnt is not None else in_background(
        lambda: build_graph(mentions, snapshot.papers, snapshot.volumes, registry,
                            authorship).counts(), snapshot, workers)
    lap("variant candidates")
    scored_rows = variant_rows(mentions, to_score)
    focus = np.concatenate([*candidate_rows.values(), *curated_rows.values(),
                            *(synthetic.rows.values() if synthetic is not None else []),
                            *(rows for draw in variant_synthetic for rows in draw.rows.values()),
                            scored_rows, np.zeros(0, dtype=np.int64)])
    # The persons of the variant candidates pool their evidence over all their mentions.
    also = person_rows(mentions, scored_rows, catch_all)
    if learnt is None:
        context = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=focus,
                                        cache_dir=snapshot.cache_dir, also=also)
    else:
        paper_rows = np.unique(authorship.mention_paper[np.concatenate([focus, also])])
        context = EvidenceContext.build(
            mentions, snapshot.papers, authorship, focus=focus,
            text=papers_in_model(snapshot.papers, paper_rows[paper_rows >= 0], learnt.text,
                                 workers, snapshot.cache_dir),
            affiliation_model=learnt.affiliations, also=also)
    lap("evidence context")
    if learnt is not None:
        evidence_model, pair_model = learnt.evidence, learnt.pair
    else:
        assert synthetic is not None
        evidence_model = pair_model = learn_evidence(context, synthetic, commonness,
                                                     settings.seed, workers=workers)
    if settings.calibrate and learning:
        labelled = curation.labelled.to_numpy()
        training = BlockFeatures.compute(
            context, {slug: rows[labelled[rows]] for slug, rows in curated_rows.items()},
            commonness)
        pair_model = pair_model.calibrated(
            *training_data(training, curation.identity, curation.blocks))
    several_persons = several_persons_names(relevant).reindex(names.index, fill_value=False)
    must = names.index[names["constrained"] | several_persons
                       | (names["registry_persons"] >= 2) | (names["catch_all"] > 0)]
    splittable = commonness.index[commonness >= pair_model.rarest_splittable(
        settings.resolution)]
    chosen = list(settings.names) or sorted(
        set(candidates) & (set(must.tolist()) | set(splittable.tolist())))
    if changed is not None:
        chosen = [slug for slug in chosen if slug in changed]
    if settings.names:
        log.info("resolving the %d name(s) given by --name", len(chosen))
    else:
        several = names.index[names["mentions"] >= 2]
        log.info("resolving %d of the %d %snames with 2+ mentions: of the %d that the "
                 "ambiguity score, the curation or the registry selects, %d are kept whole "
                 "(the name is so rare that every pair of its mentions joins)", len(chosen),
                 len(several) if changed is None else int(several.isin(changed).sum()),
                 "" if changed is None else "changed ", len(candidates),
                 len(candidates) - len(chosen))
    lap("pair model")

    # Calibrated log-odds do not come from `BlockLogits`, so they keep no evidence.
    kept_evidence = carry.evidence if learnt is not None and carry is not None \
        and mention_keys is not None and not settings.calibrate else None
    carryover_notes = []
    if kept_evidence is not None and not kept_evidence.within(*evidence_model.evidence_range()):
        carryover_notes.append("the kept pair evidence lies outside the range of the stored "
                               "evidence model; every pair of the names split tonight was "
                               "predicted again")
        log.warning("%s", carryover_notes[-1])
        kept_evidence = None
    # Curated names are also split blind, to calibrate cluster confidence; their pair
    # features are computed once, with those of the names to resolve. Pairs whose evidence
    # is kept need none.
    block_rows = block_rows_of(mentions, sorted(set(chosen) | set(curated_rows)))
    features = BlockFeatures.compute(
        context, block_rows, commonness, show_progress, workers,
        None if kept_evidence is None or mention_keys is None else {
            slug: kept_evidence.new_mentions(slug, mention_keys[rows])
            for slug, rows in block_rows.items()})
    lap("evidence")

    cluster_model = ClusterModel()
    merger = None
    if settings.merge_clusters:
        if synthetic is None:
            raise AnthologyResolveError("--merge-clusters learns a cluster model on every "
                                        "run: it cannot reuse learnt models")
        cluster_model = ClusterModel.fit(context, synthetic, seed=settings.seed)
        merger = ClusterMerger(context, commonness, cluster_model)
        lap("cluster model")

    logits = BlockLogits(  # shared by the split and the blind one
        evidence_model, features, None if kept_evidence is None or mention_keys is None else
        lambda slug: kept_evidence.known(slug, mention_keys[features.rows[slug]]))
    logits.prefetch([*([] if settings.calibrate else chosen),
                     *(curated_rows if learning else [])])
    clusters = cluster_blocks(mentions, features, chosen, lambda _: pair_model,
                              catch_all,
                              settings.resolution, settings.seed, show_progress, merger,
                              None if settings.calibrate else logits,
                              registry_orcids=registry_orcids, workers=workers)
    if kept_evidence is not None:
        total = sum(len(features.features[slug]) for slug in chosen)
        log.info("pair evidence: %d of %d pairs predicted, the others kept from the last "
                 "night", logits.predicted_pairs, total)
    conflicts = list(clusters.attrs.get("conflicts", []))
    for conflict in conflicts:
        log.warning("curation conflict: %s", conflict)
    if carry is not None:
        clusters = relabel(clusters, mentions.loc[clusters.index], carry.assignments,
                           carry.issued.labels)
    lap("split")

    if learnt is None:
        blind_clusters = cluster_blocks(blind(mentions, curation.blocks), features,
                                        curation.blocks, lambda _: evidence_model,
                                        catch_all, settings.resolution,
                                        settings.seed, show_progress, merger, logits,
                                        workers=workers,
                                        progress_label="Splitting curated names blind")
        calibration = ConfidenceCalibration.fit(
            judge_clusters(blind_clusters["cluster"], blind_clusters["cluster_confidence"],
                           curation.identity),
            {slug: fold_of(slug, CALIBRATION_FOLDS) for slug in curation.blocks})
    else:
        calibration = learnt.calibration
    clusters["cluster_confidence"] = calibration.apply(
        mentions.loc[clusters.index, "slug"], clusters["cluster_confidence"])
    # A cluster whose every mention a curated id or ORCID pins is that person by curation.
    identity = curated_identities(mentions, registry)
    pinned = identity.notna().loc[clusters.index]
    all_pinned = pinned.groupby(clusters["cluster"]).transform("all").astype(bool)
    clusters.loc[all_pinned, "cluster_confidence"] = 1.0
    if learnt is None:
        log.info("cluster confidence calibrated on %d clusters of %d curated names split "
                 "blind (%.0f%% of them one whole person)", calibration.overall.clusters,
                 len(curation.blocks), 100 * calibration.judged["right"].mean()
                 if len(calibration.judged) else 0.0)
    lap("confidence calibration")

    assignments, cluster_table = assign_persons(
        mentions, clusters, registry, settings.min_person_mentions,
        settings.min_person_confidence,
        # Last night's persons, and earlier nights' for labels that had none last night.
        {**carry.issued.persons, **previous_persons(carry.assignments)}
        if carry is not None else None,
        carry.issued if carry is not None else None)
    lap("match persons")

    # The placements and the split proposals need nothing of the name variants: on a large
    # snapshot they are worked out in another process (with one worker: the variants hold
    # the other core) while this one decides the variants; else here, with every worker.
    side_processes = background_workers(snapshot, workers) if settings.variants else 1
    side_workers = 1 if side_processes > 1 else workers

    def placements_and_splits() -> tuple[PlacementConfidence, pd.DataFrame,
                                         list[dict[str, Any]]]:
        model = learnt.placement if learnt is not None else learn_placement_confidence(
            mentions, curation, logits, commonness, settings.resolution, settings.seed,
            CALIBRATION_FOLDS, side_workers)
        return (model, placements_of(mentions, identity, assignments, clusters, commonness,
                                     model),
                split_proposals(cluster_table, assignments, ambiguity, context, snapshot))

    side = Background(placements_and_splits, side_processes)
    if side_processes <= 1:
        lap("placements and split proposals")
    variants = None
    if settings.variants:
        resolved = assignments
        if changed is not None and carry is not None:  # the unchanged names as they were
            resolved = splice(carry.assignments.assign(
                name=name_of_cluster(carry.assignments["cluster"])), assignments.assign(
                name=name_of_cluster(assignments["cluster"])), changed, "name")
        variants = propose_variants(
            mentions, person_units(mentions, resolved, catch_all), variant_candidates,
            context, variant_synthetic, settings.seed, catch_all,
            registry_orcids,
            model=learnt.variants if learnt is not None else None,
            kept=kept_links)
        log.info("name variants: %d candidate pairs, %d merges into %d persons, %d similar "
                 "links", len(variant_candidates),
                 sum(1 for link in variants.links if link.decision == "merge"),
                 len(variants.persons),
                 sum(1 for link in variants.links if link.decision == "similar"))
        lap("name variants")
    placement_model, placements, splits = side.result()
    log.info("placed %d mentions without a specific id among the known persons of their "
             "names (%d with a known person); %d below confidence %.2f are for review",
             len(placements), int((placements["to"] == "known").sum()),
             int(placements["review"].sum()), REVIEW_BELOW)
    if side_processes > 1:
        lap("placements and split proposals")
    pair_evidence = None if mention_keys is None else PairEvidence({
        slug: BlockEvidence(mention_keys[features.rows[slug]], evidence) for slug in chosen
        if (evidence := logits.evidence(slug)) is not None})
    learnt = learnt or LearntModels(
        ambiguity=ambiguity_model, evidence=evidence_model, pair=pair_model,
        calibration=calibration, placement=placement_model,
        variants=variants.learnt if variants is not None else None,
        text=TextModel(context.terms, context.term_idf),
        affiliations=context.affiliation_model)
    return Resolution(
        assignments=assignments, clusters=cluster_table, ambiguity=ambiguity,
        name_features=names, resolved_names=chosen,
        models={"pair_model": pair_model.describe(),
                "cluster_model": cluster_model.describe(),
                "ambiguity_model": {"training_blocks": ambiguity_model.training_blocks,
                                    "kind": "logistic regression"
                                    if ambiguity_model.model is not None else "fallback rule"},
                "graph": graph_counts.result() if graph_counts is not None else {},
                "cluster_confidence": calibration.describe()},
        timings=timings, context=context, features=features, pair_model=pair_model,
        conflicts=conflicts, variants=variants, placements=placements,
        learnt=learnt, pair_evidence=pair_evidence, splits=splits,
        carryover_notes=carryover_notes)
