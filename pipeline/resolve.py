"""The main job (`anthology-resolve resolve`): load, build graph, score names, split, export.

1. Load the snapshot (`snapshot.py`) and build the heterogeneous graph (`graph.py`).
2. Score every name for ambiguity (`ambiguity.py`); the model learns from the curated names.
3. Choose the names to resolve: 2+ mentions and an ambiguity score of at least
   `min_ambiguity`, or a name the registry already knows to be shared (2+ persons or a
   catch-all).
4. Learn the pair model from all curated names; split each chosen name (`clustering.py`,
   `split.py`) under the hard constraints of its ids, ORCIDs and papers.
5. Match each cluster to a registry person (its explicit ids, else its ORCIDs, else the one
   registry person of the name left unmatched), propose a new id for a confident cluster
   (`person_ids.py`), or leave it to the name's catch-all.
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
from .registry import unverified_id
from .snapshot import Snapshot
from .split import DEFAULT_RESOLUTION, DEFAULT_SEED

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

    assignments, cluster_table = _assign_persons(mentions, clusters, snapshot, settings)
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


def _registry_persons_by_slug(snapshot: Snapshot, catch_alls: bool = False
                              ) -> dict[str, list[str]]:
    """Registry persons (or, with `catch_alls`, only catch-alls) by the slugs of their names."""
    by_slug: dict[str, list[str]] = {}
    for pid, person in snapshot.registry.persons.items():
        if person.is_catch_all != catch_alls:
            continue
        for slug in sorted({n.slug for n in person.names}):
            by_slug.setdefault(slug, []).append(pid)
    return by_slug


@dataclass(frozen=True)
class _ClusterFacts:
    size: int
    confidence: float
    first_seen: tuple[int, str]  # (year, paper) of its earliest mention
    ids: Counter[str]  # explicit non-catch-all ids on its mentions
    known: Counter[str]  # registry persons its ORCIDs belong to
    earliest_affiliation: str | None
    orcids: list[str]


def _cluster_facts(frame: pd.DataFrame, catch_all: set[str],
                   by_orcid: dict[str, str]) -> dict[str, _ClusterFacts]:
    explicit = frame["id"].where(~frame["id"].isin(catch_all))
    ordered = frame.assign(explicit=explicit, year_key=frame["year"].fillna(0).astype(int))
    ordered = ordered.sort_values(["year_key", "paper", "role", "position"], kind="stable")
    facts = {}
    for cluster, group in ordered.groupby("cluster", sort=True):
        affiliations = group["affiliation"].dropna()
        orcids = group["orcid"].dropna()
        facts[str(cluster)] = _ClusterFacts(
            size=len(group), confidence=float(group["confidence"].mean()),
            first_seen=(int(group["year_key"].iloc[0]), str(group["paper"].iloc[0])),
            ids=Counter(group["explicit"].dropna()),
            known=Counter(by_orcid[o] for o in orcids if o in by_orcid),
            earliest_affiliation=str(affiliations.iloc[0]) if len(affiliations) else None,
            orcids=sorted(orcids))
    return facts


def _assign_persons(mentions: pd.DataFrame, clusters: pd.DataFrame, snapshot: Snapshot,
                    settings: ResolveSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match clusters to registry persons, propose ids, leave the uncertain to a catch-all.

    Per name: clusters whose mentions carry ids or ORCIDs are those registry persons; the
    largest remaining cluster takes the name's one remaining registry person. Other clusters
    become new persons when they are confident enough (`settings.min_person_mentions` and
    `min_person_confidence`); the rest stay unresolved, assigned to the name's catch-all:
    its existing catch-all entry or a new one (legacy registry, whose catch-alls take the bare
    slug as id) or `<slug>/unverified` (current formats). A name with no confident cluster
    (or one cluster only) keeps how the Anthology resolves it today. New ids are proposed in
    order of each cluster's first paper, with the affiliation of that paper, so a newer paper
    does not rename a cluster that already has an id.
    """
    registry = snapshot.registry
    legacy = registry.format == "legacy"
    catch_all = {pid for pid, p in registry.persons.items() if p.is_catch_all}
    by_orcid = {p.orcid: pid for pid, p in registry.persons.items() if p.orcid}
    by_slug = _registry_persons_by_slug(snapshot)
    catch_alls_by_slug = _registry_persons_by_slug(snapshot, catch_alls=True)
    taken = set(registry.persons)
    frame = mentions.loc[clusters.index].assign(cluster=clusters["cluster"],
                                                confidence=clusters["confidence"])
    frame["name"] = frame["cluster"].str.rsplit("#", n=1).str[0]
    facts = _cluster_facts(frame, catch_all, by_orcid)
    rows: list[dict[str, Any]] = []
    person_of: dict[str, str] = {}  # cluster -> person; unresolved clusters keep today's
    for name, group in frame.groupby("name", sort=True):
        slug = str(name)
        by_size = sorted(group["cluster"].unique(), key=lambda c: (-facts[c].size, c))
        by_age = sorted(by_size, key=lambda c: (facts[c].first_seen, c))
        matched: dict[str, tuple[str, str]] = {}
        for cluster in by_size:
            evidence = facts[cluster].ids or facts[cluster].known
            if evidence:
                matched[cluster] = (min(evidence, key=lambda k: (-evidence[k], k)), "existing")
        used = {person for person, _ in matched.values()}
        free = [pid for pid in by_slug.get(slug, []) if pid not in used]
        if len(free) == 1:
            remaining = [c for c in by_size if c not in matched]
            if remaining:
                matched[remaining[0]] = (free[0], "existing")
        confident = [c for c in by_age if c not in matched
                     and facts[c].size >= settings.min_person_mentions
                     and facts[c].confidence >= settings.min_person_confidence]
        unresolved = [c for c in by_age if c not in matched and c not in confident]
        if not matched and len(confident) <= 1 and (not confident or not unresolved):
            # No registry person and at most one confident group: nothing to change.
            for cluster in by_size:
                matched[cluster] = ("", "unchanged")
        else:
            catch = ""
            if unresolved:
                if not legacy:
                    catch = unverified_id(slug)
                elif catch_alls_by_slug.get(slug):
                    catch = catch_alls_by_slug[slug][0]
                else:
                    catch = propose_id(slug, taken)
                    taken.add(catch)
            for cluster in confident:
                facts_ = facts[cluster]
                person = propose_id(slug, taken, facts_.earliest_affiliation,
                                    facts_.orcids[0] if facts_.orcids else None)
                taken.add(person)
                matched[cluster] = (person, "new")
            for cluster in unresolved:
                matched[cluster] = (catch, "unresolved")
        for cluster in by_size:
            person, status = matched[cluster]
            if person:
                person_of[cluster] = person
            rows.append({"name": slug, "cluster": cluster, "person": person or None,
                         "status": status, "mentions": facts[cluster].size,
                         "confidence": round(facts[cluster].confidence, 4)})
    # A name left as it is keeps each mention's person of today.
    persons = frame["cluster"].map(person_of).fillna(frame["person"])
    assignments = pd.DataFrame({
        "paper": frame["paper"], "role": frame["role"], "position": frame["position"],
        "first": frame["first"], "last": frame["last"],
        "person": persons,
        "status": frame["cluster"].map({r["cluster"]: r["status"] for r in rows}),
        "cluster": frame["cluster"],
        "confidence": frame["confidence"].round(4),
    })
    assignments = assignments.sort_values(["paper", "role", "position"], kind="stable")
    return assignments.reset_index(drop=True), pd.DataFrame(rows)
