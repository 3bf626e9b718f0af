"""The main job (`anthology-resolve resolve`): load, build graph, score names, split, export.

1. Load the snapshot (`anthology/snapshot.py`) and build the heterogeneous graph (`graph.py`).
2. Score every name for ambiguity (`ambiguity.py`); the model learns from the curated names.
3. Choose the names to resolve: 2+ mentions and an ambiguity score of at least
   `min_ambiguity`, or a name the registry already knows to be shared (2+ persons or a
   catch-all).
4. Learn the pair model from all curated names (`anthology/curation.py`); split each chosen
   name (`clustering.py`, `split.py`) under the hard constraints of its ids, ORCIDs and papers.
5. Match each cluster to a registry person (`persons.py`: its explicit ids, else its ORCIDs,
   else the one registry person of the name left unmatched), propose a new id for a confident
   cluster, or leave it to the name's catch-all.
6. The command line then writes `assignments.csv`, `proposals.json` and the ranking
   `ambiguity.csv` (`outputs.py`).
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.anthology.curation import curation_of
from pipeline.anthology.snapshot import Snapshot
from pipeline.errors import AnthologyResolveError
from pipeline.resolve.ambiguity import AmbiguityModel, name_features
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.clustering import (
    BlockFeatures,
    block_rows_of,
    cluster_blocks,
    prepare_evidence,
    training_data,
)
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.graph import HeterogeneousGraph, build_graph
from pipeline.resolve.pair_model import PairModel
from pipeline.resolve.persons import assign_persons
from pipeline.resolve.split import DEFAULT_RESOLUTION, DEFAULT_SEED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolveSettings:
    resolution: float = DEFAULT_RESOLUTION
    seed: int = DEFAULT_SEED
    min_ambiguity: float = 0.5
    names: tuple[str, ...] = ()  # resolve exactly these slugs instead of choosing
    # A cluster without an id or ORCID becomes a new person only with this much evidence;
    # otherwise its mentions stay with the name's catch-all.
    min_person_mentions: int = 2
    min_person_confidence: float = 0.5


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


def choose_names(features: pd.DataFrame, ambiguity: pd.Series, min_ambiguity: float
                 ) -> list[str]:
    """Names with 2+ mentions that score high enough or that the registry knows are shared."""
    eligible = features["mentions"] >= 2
    known_shared = (features["registry_persons"] >= 2) | (features["catch_all"] > 0)
    chosen = eligible & ((ambiguity.reindex(features.index) >= min_ambiguity) | known_shared)
    return sorted(features.index[chosen])


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
    chosen = list(settings.names) or choose_names(names, ambiguity, settings.min_ambiguity)
    lap("ambiguity")
    log.info("resolving %d names (of %d with 2+ mentions)", len(chosen),
             int((names["mentions"] >= 2).sum()))

    # The text and affiliation vocabularies are fitted on every mention of the chosen and the
    # curated names; pair features themselves are pairwise, so the training pairs need
    # features only among the curated mentions (a third of the work).
    curated_rows = block_rows_of(mentions, curation.blocks)
    evidence = prepare_evidence(mentions, snapshot.papers, authorship, chosen,
                                also_fit_on=list(curated_rows.values()),
                                show_progress=show_progress)
    labelled = curation.labelled.to_numpy()
    training_rows = {slug: rows[labelled[rows]] for slug, rows in curated_rows.items()}
    training = BlockFeatures.compute(evidence.context, training_rows, evidence.commonness)
    features = evidence.features
    lap("evidence")

    x, y, b = training_data(training, curation.identity, curation.blocks)
    pair_model = PairModel.fit(x, y, b, seed=settings.seed)
    lap("pair model")

    catch_all = frozenset(pid for pid, p in registry.persons.items() if p.is_catch_all)
    clusters = cluster_blocks(mentions, features, chosen, lambda _: pair_model, catch_all,
                              settings.resolution, settings.seed, show_progress)
    conflicts = list(clusters.attrs.get("conflicts", []))
    for conflict in conflicts:
        log.warning("curation conflict: %s", conflict)
    lap("split")

    assignments, cluster_table = assign_persons(
        mentions, clusters, registry, settings.min_person_mentions,
        settings.min_person_confidence)
    lap("match persons")
    return Resolution(
        assignments=assignments, clusters=cluster_table, ambiguity=ambiguity,
        name_features=names, resolved_names=chosen,
        models={"pair_model": pair_model.describe(),
                "ambiguity_model": {"training_blocks": ambiguity_model.training_blocks,
                                    "kind": "logistic regression"
                                    if ambiguity_model.model is not None else "fallback rule"},
                "graph": graph.counts()},
        timings=timings, context=evidence.context, features=features, pair_model=pair_model,
        graph=graph, conflicts=conflicts)
