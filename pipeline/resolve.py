"""The main job (`anthology-resolve resolve`): load, build graph, score names, split, export.

1. Load the snapshot (`snapshot.py`) and build the heterogeneous graph (`graph.py`).
2. Score every name for ambiguity (`ambiguity.py`); the model learns from the curated names.
3. Choose the names to resolve: 2+ mentions and an ambiguity score of at least
   `min_ambiguity`, or a name the registry already knows to be shared (2+ persons or a
   catch-all).
4. Learn the pair model from all curated names; split each chosen name (`clustering.py`,
   `split.py`) under the hard constraints of its ids, ORCIDs and papers.
5. Match each cluster to a registry person (its explicit ids, else its ORCIDs, else the one
   registry person of the name left unmatched) or propose a new id (`person_ids.py`).
6. Write `assignments.csv`, `proposals.json` and the ranking `ambiguity.csv` (`outputs.py`).
"""

from __future__ import annotations

import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .ambiguity import AmbiguityModel, name_commonness, name_features
from .authorship import Authorship
from .clustering import BlockFeatures, block_rows_of, cluster_blocks, training_data
from .evidence import EvidenceContext
from .gold import gold_standard
from .graph import HeterogeneousGraph, build_graph
from .pair_model import PairModel
from .person_ids import propose_id
from .snapshot import Snapshot
from .split import DEFAULT_RESOLUTION, DEFAULT_SEED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolveSettings:
    resolution: float = DEFAULT_RESOLUTION
    seed: int = DEFAULT_SEED
    min_ambiguity: float = 0.5
    names: tuple[str, ...] = ()  # resolve exactly these slugs instead of choosing


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
    gold = gold_standard(mentions, registry)
    shared = pd.Series({slug: slug in gold.multi_identity for slug in gold.blocks})
    ambiguity_model = AmbiguityModel.fit(names.loc[gold.blocks], shared)
    ambiguity = ambiguity_model.score(names)
    chosen = list(settings.names) or choose_names(names, ambiguity, settings.min_ambiguity)
    lap("ambiguity")
    log.info("resolving %d names (of %d with 2+ mentions)", len(chosen),
             int((names["mentions"] >= 2).sum()))

    commonness = name_commonness(mentions)
    block_rows = block_rows_of(mentions, chosen)
    gold_rows = block_rows_of(mentions, gold.blocks)
    # The text and affiliation vocabularies are fitted on every mention of the chosen and the
    # curated names; pair features themselves are pairwise, so the training pairs need
    # features only among the curated mentions (a third of the work).
    curated = gold.identity.notna().to_numpy()
    training_rows = {slug: rows[curated[rows]] for slug, rows in gold_rows.items()}
    focus = np.concatenate([*block_rows.values(), *gold_rows.values(), np.zeros(0, int)])
    context = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=focus)
    features = BlockFeatures.compute(context, block_rows, commonness, show_progress)
    training = BlockFeatures.compute(context, training_rows, commonness)
    lap("evidence")

    x, y, b = training_data(training, gold.identity, gold.blocks)
    pair_model = PairModel.fit(x, y, b, seed=settings.seed)
    lap("pair model")

    catch_all = frozenset(pid for pid, p in registry.persons.items() if p.is_catch_all)
    clusters = cluster_blocks(mentions, features, chosen, lambda _: pair_model, catch_all,
                              settings.resolution, settings.seed, show_progress)
    conflicts = list(clusters.attrs.get("conflicts", []))
    for conflict in conflicts:
        log.warning("curation conflict: %s", conflict)
    lap("split")

    assignments, cluster_table = _assign_persons(mentions, clusters, snapshot)
    lap("match persons")
    return Resolution(
        assignments=assignments, clusters=cluster_table, ambiguity=ambiguity,
        name_features=names, resolved_names=chosen,
        models={"pair_model": pair_model.describe(),
                "ambiguity_model": {"training_blocks": ambiguity_model.training_blocks,
                                    "kind": "logistic regression"
                                    if ambiguity_model.model is not None else "fallback rule"},
                "graph": graph.counts()},
        timings=timings, context=context, features=features, pair_model=pair_model,
        graph=graph, conflicts=conflicts)


def _registry_persons_by_slug(snapshot: Snapshot) -> dict[str, list[str]]:
    by_slug: dict[str, list[str]] = {}
    for pid, person in snapshot.registry.persons.items():
        if person.is_catch_all:
            continue
        for slug in sorted({n.slug for n in person.names}):
            by_slug.setdefault(slug, []).append(pid)
    return by_slug


def _assign_persons(mentions: pd.DataFrame, clusters: pd.DataFrame, snapshot: Snapshot
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match clusters to registry persons or propose ids; build the assignments table."""
    registry = snapshot.registry
    catch_all = {pid for pid, p in registry.persons.items() if p.is_catch_all}
    by_orcid = {p.orcid: pid for pid, p in registry.persons.items() if p.orcid}
    by_slug = _registry_persons_by_slug(snapshot)
    taken = set(registry.persons)
    frame = mentions.loc[clusters.index].assign(cluster=clusters["cluster"],
                                                confidence=clusters["confidence"])
    frame["name"] = frame["cluster"].str.rsplit("#", n=1).str[0]
    rows: list[dict[str, Any]] = []
    person_of: dict[str, str] = {}
    explicit = frame["id"].where(~frame["id"].isin(catch_all))
    by_cluster = {
        cluster: (Counter(ids.dropna()), Counter(by_orcid[o] for o in orcids.dropna()
                                                 if o in by_orcid),
                  affiliations.dropna().value_counts(), sorted(orcids.dropna()))
        for cluster, ids, orcids, affiliations in (
            (c, explicit.loc[g.index], g["orcid"], g["affiliation"])
            for c, g in frame.groupby("cluster", sort=True))
    }
    for slug, group in frame.groupby("name", sort=True):
        sizes = group["cluster"].value_counts()
        order = sorted(sizes.index, key=lambda c: (-int(sizes[c]), c))
        matched: dict[str, tuple[str, str]] = {}
        # First the clusters that carry evidence of who they are: explicit ids, ORCIDs.
        for cluster in order:
            ids, known, _, _ = by_cluster[cluster]
            evidence = ids or known
            if evidence:
                matched[cluster] = (min(evidence, key=lambda k: (-evidence[k], k)), "existing")
        # Then the largest remaining cluster takes the name's one remaining registry person.
        used = {person for person, _ in matched.values()}
        free = [pid for pid in by_slug.get(str(slug), []) if pid not in used]
        for cluster in order:
            if cluster in matched:
                continue
            if len(free) == 1:
                matched[cluster] = (free.pop(), "existing")
                continue
            _, _, affiliations, orcids = by_cluster[cluster]
            top_affiliation = str(affiliations.index[0]) if len(affiliations) else None
            person = propose_id(str(slug), taken, top_affiliation,
                                orcids[0] if orcids else None)
            taken.add(person)
            # The slug itself is the id the Anthology already gives an unlisted name.
            matched[cluster] = (person, "implicit" if person == slug else "new")
        for cluster in order:
            person, status = matched[cluster]
            person_of[str(cluster)] = person
            rows.append({"name": slug, "cluster": cluster, "person": person, "status": status,
                         "mentions": int(sizes[cluster])})
    assignments = pd.DataFrame({
        "paper": frame["paper"], "role": frame["role"], "position": frame["position"],
        "first": frame["first"], "last": frame["last"],
        "person": frame["cluster"].map(person_of), "cluster": frame["cluster"],
        "confidence": frame["confidence"].round(4),
    })
    assignments = assignments.sort_values(["paper", "role", "position"], kind="stable")
    return assignments.reset_index(drop=True), pd.DataFrame(rows)
