"""Which person each cluster is: a registry person, a new one, or the name's catch-all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.registry import Registry, unverified_id
from pipeline.resolve.issued_ids import IssuedIds, Reclaimer, mention_keys


def _registry_persons_by_slug(registry: Registry, catch_alls: bool = False
                              ) -> dict[str, list[str]]:
    """Registry persons (or, with `catch_alls`, only catch-alls) by the slugs of their names."""
    by_slug: dict[str, list[str]] = {}
    for pid, person in registry.persons.items():
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


def _present(clusters: np.ndarray, values: pd.Series) -> list[tuple[Any, Any]]:
    """(cluster, value) of the rows whose value is not missing, in row order."""
    rows = np.flatnonzero(values.notna().to_numpy())
    return list(zip(clusters[rows].tolist(), values.to_numpy(dtype=object)[rows].tolist()))


def _cluster_facts(frame: pd.DataFrame, catch_all: set[str],
                   by_orcid: dict[str, str]) -> dict[str, _ClusterFacts]:
    explicit = frame["id"].where(~frame["id"].isin(catch_all))
    ordered = frame.assign(explicit=explicit, year_key=frame["year"].fillna(0).astype(int))
    ordered = ordered.sort_values(["year_key", "paper", "role", "position"], kind="stable")
    # Column by column rather than group by group: a run over every name has ~15k clusters.
    by_cluster = ordered["cluster"].to_numpy(dtype=object)
    order = np.argsort(by_cluster, kind="stable")
    labels, starts, sizes = np.unique(by_cluster[order], return_index=True,
                                      return_counts=True)
    values = ordered["confidence"].to_numpy(dtype=np.float64)[order]
    # Summed slice by slice as Series.mean sums a group, so the means are the same bits.
    confidence = {label: float(values[start:start + size].sum() / size)
                  for label, start, size in zip(labels, starts, sizes)}
    first = ordered.drop_duplicates("cluster").set_index("cluster")
    first_year = dict(zip(first.index, first["year_key"].astype(int)))
    first_paper = dict(zip(first.index, first["paper"].astype(str)))
    affiliated = ordered.dropna(subset=["affiliation"]).drop_duplicates("cluster")
    earliest_affiliation = dict(zip(affiliated["cluster"], affiliated["affiliation"]))
    ids: dict[str, Counter[str]] = {}
    # Only the rows that hold a value are read (iterating string columns is slow).
    cluster_of_row = ordered["cluster"].to_numpy(dtype=object)
    for cluster, pid in _present(cluster_of_row, ordered["explicit"]):
        if isinstance(pid, str):
            ids.setdefault(cluster, Counter())[pid] += 1
    known: dict[str, Counter[str]] = {}
    orcids: dict[str, list[str]] = {}
    for cluster, orcid in _present(cluster_of_row, ordered["orcid"]):
        if isinstance(orcid, str):
            orcids.setdefault(cluster, []).append(orcid)
            if orcid in by_orcid:
                known.setdefault(cluster, Counter())[by_orcid[orcid]] += 1
    facts = {}
    for cluster, size in zip(labels, sizes):
        key = str(cluster)
        affiliation = earliest_affiliation.get(cluster)
        facts[key] = _ClusterFacts(
            size=int(size), confidence=float(confidence[cluster]),
            first_seen=(int(first_year[cluster]), first_paper[cluster]),
            ids=ids.get(cluster, Counter()), known=known.get(cluster, Counter()),
            earliest_affiliation=str(affiliation) if affiliation is not None else None,
            orcids=sorted(orcids.get(cluster, [])))
    return facts


def assign_persons(mentions: pd.DataFrame, clusters: pd.DataFrame, registry: Registry,
                   min_person_mentions: int, min_person_confidence: float,
                   kept_ids: dict[str, str] | None = None,
                   issued: IssuedIds | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match clusters to registry persons, propose ids, leave the uncertain to a catch-all.

    Per name: clusters whose mentions carry ids or ORCIDs are those registry persons; the
    largest remaining cluster takes the name's one remaining registry person, unless its
    mentions carry an ORCID other than that person's. Other clusters
    become new persons when they are confident enough (`min_person_mentions` and
    `min_person_confidence`); the rest stay unresolved, assigned to the name's catch-all:
    its existing catch-all entry or a new one (legacy registry, whose catch-alls take the bare
    slug as id) or `<slug>/unverified` (current formats). A name with no confident cluster
    (or one cluster only) keeps how the Anthology resolves it today. New ids are proposed in
    order of each cluster's first paper, with the affiliation of that paper, so a newer paper
    does not rename a cluster that already has an id. `kept_ids` (cluster label -> person):
    an earlier run's persons (`stable_ids.py`); a cluster of that label that is again a new
    person keeps its proposed id, no other cluster is given one of those, and the name's one
    remaining registry person stays with the cluster that had it. `issued`: labels and ids
    given out on earlier nights (`issued_ids.py`); a cluster gets one of those ids only from
    `kept_ids` or by holding most of the mentions it last had.
    """
    legacy = registry.format == "legacy"
    catch_all = set(registry.catch_all_ids())
    by_orcid = {p.orcid: pid for pid, p in registry.persons.items() if p.orcid}
    by_slug = _registry_persons_by_slug(registry)
    catch_alls_by_slug = _registry_persons_by_slug(registry, catch_alls=True)
    taken = set(registry.persons)
    kept_ids = kept_ids or {}
    # Registry ids among these are in taken anyway.
    reserved = taken | set(kept_ids.values()) | (issued.ids() if issued else set())
    placement = [c for c in ("nearest", "margin", "cluster_confidence") if c in clusters]
    frame = mentions.loc[clusters.index].assign(cluster=clusters["cluster"],
                                                confidence=clusters["confidence"],
                                                **{c: clusters[c] for c in placement})
    facts = _cluster_facts(frame, catch_all, by_orcid)
    reclaimer = Reclaimer(issued) if issued is not None and issued.members else None
    keys_of: dict[str, list[str]] = {}
    if reclaimer is not None:
        for cluster, key in zip(frame["cluster"].astype(str).tolist(), mention_keys(frame)):
            keys_of.setdefault(cluster, []).append(key)
    # An id the label of a present cluster had is that cluster's to take back.
    held_by_label = {kept_ids[c] for c in facts if c in kept_ids}
    rows: list[dict[str, Any]] = []
    person_of: dict[str, str] = {}  # cluster -> person; unresolved clusters keep today's
    clusters_of: dict[str, list[str]] = {}
    for cluster in facts:
        clusters_of.setdefault(cluster.rsplit("#", 1)[0], []).append(cluster)
    for slug in sorted(clusters_of):
        by_size = sorted(clusters_of[slug], key=lambda c: (-facts[c].size, c))
        by_age = sorted(by_size, key=lambda c: (facts[c].first_seen, c))
        matched: dict[str, tuple[str, str]] = {}
        for cluster in by_size:
            evidence = facts[cluster].ids or facts[cluster].known
            if evidence:
                matched[cluster] = (min(evidence, key=lambda k: (-evidence[k], k)), "existing")
        used = {person for person, _ in matched.values()}
        free = [pid for pid in by_slug.get(slug, []) if pid not in used]
        if len(free) == 1:
            # Never a cluster with an ORCID other than the one the registry gives the person.
            held = registry.persons[free[0]].orcid
            remaining = [c for c in by_size if c not in matched
                         and (not held or set(facts[c].orcids) <= {held})]
            # The cluster that had this person in an earlier run keeps it, even when
            # another one has grown larger since.
            before = [c for c in remaining if kept_ids.get(c) == free[0]]
            if remaining:
                matched[(before or remaining)[0]] = (free[0], "existing")
        confident = [c for c in by_age if c not in matched
                     and facts[c].size >= min_person_mentions
                     and facts[c].confidence >= min_person_confidence]
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
                    catch = propose_id(slug, reserved)
                    taken.add(catch)
                    reserved.add(catch)
            for cluster in confident:
                facts_ = facts[cluster]
                person = kept_ids.get(cluster, "")
                if (not person or person in taken) and reclaimer is not None:
                    person = next((p for p in reclaimer.candidates(keys_of[cluster], slug)
                                   if p not in taken and p not in held_by_label), "")
                if not person or person in taken:
                    person = propose_id(slug, reserved, facts_.earliest_affiliation,
                                        facts_.orcids[0] if facts_.orcids else None)
                taken.add(person)
                reserved.add(person)
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
    mapped = frame["cluster"].map(person_of).astype(object)
    persons = mapped.where(mapped.notna(), frame["person"])
    assignments = pd.DataFrame({
        "paper": frame["paper"], "role": frame["role"], "position": frame["position"],
        "first": frame["first"], "last": frame["last"],
        "person": persons,
        "status": frame["cluster"].map({r["cluster"]: r["status"] for r in rows}),
        "cluster": frame["cluster"],
        "confidence": frame["confidence"].round(4),
        **{c: frame[c] for c in placement},
    })
    assignments = assignments.sort_values(["paper", "role", "position"], kind="stable")
    return assignments.reset_index(drop=True), pd.DataFrame(
        rows, columns=["name", "cluster", "person", "status", "mentions", "confidence"])
