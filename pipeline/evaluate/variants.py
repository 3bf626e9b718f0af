"""Blind evaluation of name variants (a section of `anthology-resolve evaluate`).

Gold: the name strings the registry lists for one person (its canonical name and variants,
through the persons the snapshot's mentions resolve to), the strings used with one explicit
id, and the strings that share one ORCID. Pairs are of name slugs (strings with one slug are
already one author page), both used in the snapshot.

Blind: the finder sees the mention table without ids, ORCIDs and registry (every name is its
own person), so nothing it decides can come from the curation it is scored on.

Scored on the persons the proposed merges make (every pair of slugs inside one) and on the
merge links themselves: a pair is confirmed when gold lists it, an error when the curation
knows the two strings as different persons (both carry identities, none shared), and unknown
otherwise (reported, with a seeded sample of 20 for a human to judge). Precision =
confirmed / (confirmed + errors); recall = confirmed / gold pairs. The baseline links
candidates on the strings alone (`string_baseline`); it is scored by its links, since its
transitive closure chains one-letter differences into a single giant "person".
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz.distance import Indel

from pipeline.anthology.person_units import person_units
from pipeline.anthology.registry import Registry
from pipeline.anthology.snapshot import Snapshot, read_snapshot
from pipeline.evaluate import as_user
from pipeline.resolve.variant_candidates import KIND_ORDER, Candidate
from pipeline.resolve.variants import find_variants

log = logging.getLogger(__name__)

SAMPLE = 20
# The string-only baseline merges candidates this similar (normalised Indel similarity of
# the folded full names), as a Levenshtein-style variant script would.
BASELINE_SIMILARITY = 0.9


def mention_identities(mentions: pd.DataFrame, registry: Registry) -> pd.Series:
    """Who the curation says each mention is (None where it does not say): its explicit
    non-catch-all id, else the registry person of its ORCID (or the ORCID itself), else the
    registry person its name resolves to."""
    catch_all = registry.catch_all_ids()
    by_orcid = {p.orcid: pid for pid, p in registry.persons.items() if p.orcid}
    known = set(registry.persons) - catch_all
    identity: list[str | None] = []
    for pid, orcid, person in zip(mentions["id"].to_numpy(dtype=object),
                                  mentions["orcid"].to_numpy(dtype=object),
                                  mentions["person"].to_numpy(dtype=object)):
        if isinstance(pid, str) and pid not in catch_all:
            identity.append(pid)
        elif isinstance(orcid, str):
            identity.append(by_orcid.get(orcid, f"orcid:{orcid}"))
        elif isinstance(person, str) and person in known:
            identity.append(person)
        else:
            identity.append(None)
    return pd.Series(identity, index=mentions.index, dtype=object)


@dataclass(frozen=True)
class VariantGold:
    identities: dict[str, frozenset[str]]  # slug -> the identities its mentions carry
    pairs: frozenset[tuple[str, str]]  # sorted slug pairs of one identity

    @classmethod
    def of(cls, mentions: pd.DataFrame, registry: Registry) -> VariantGold:
        identity = mention_identities(mentions, registry)
        known = identity.notna()
        by_slug: dict[str, set[str]] = defaultdict(set)
        slugs_of: dict[str, set[str]] = defaultdict(set)
        for slug, who in zip(mentions["slug"][known], identity[known]):
            by_slug[slug].add(who)
            slugs_of[who].add(slug)
        pairs = {pair for slugs in slugs_of.values()
                 for pair in itertools.combinations(sorted(slugs), 2)}
        return cls({s: frozenset(ids) for s, ids in by_slug.items()}, frozenset(pairs))

    def judge(self, a: str, b: str) -> str:
        pair = (a, b) if a < b else (b, a)
        if pair in self.pairs:
            return "confirmed"
        if self.identities.get(a) and self.identities.get(b):
            return "error"
        return "unknown"


def string_baseline(candidates: list[Candidate], names: dict[str, str]
                    ) -> list[tuple[str, str]]:
    """Links from strings alone, as a Levenshtein-style variant script would propose them:
    candidates that differ only in spelling or order, or whose folded full names are at
    least BASELINE_SIMILARITY similar (normalised Indel similarity)."""
    return [(c.first, c.second) for c in candidates
            if c.kind in ("spelling", "order")
            or Indel.normalized_similarity(names[c.first], names[c.second])
            >= BASELINE_SIMILARITY]


def pairs_within(persons: list[list[str]]) -> list[tuple[str, str]]:
    return [pair for members in persons for pair in itertools.combinations(sorted(members), 2)]


def score_pairs(pairs: list[tuple[str, str]], gold: VariantGold, seed: int) -> dict[str, Any]:
    """Proposed slug pairs judged against gold: precision over the pairs gold confirms or
    refutes, recall over every gold pair; unknown pairs counted, with a seeded sample."""
    verdicts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for a, b in sorted({(a, b) if a < b else (b, a) for a, b in pairs}):
        verdicts[gold.judge(a, b)].append((a, b))
    confirmed, errors = len(verdicts["confirmed"]), len(verdicts["error"])
    unknown = verdicts["unknown"]
    rng = np.random.default_rng(seed)
    sample = [unknown[i] for i in sorted(rng.choice(len(unknown), min(SAMPLE, len(unknown)),
                                                    replace=False))] if unknown else []
    return {
        "proposed_pairs": confirmed + errors + len(unknown),
        "confirmed": confirmed, "errors": errors, "unknown": len(unknown),
        "precision": round(confirmed / (confirmed + errors), 4) if confirmed + errors else 0.0,
        "recall": round(confirmed / len(gold.pairs), 4) if gold.pairs else 0.0,
        "error_examples": [list(p) for p in verdicts["error"][:SAMPLE]],
        "unknown_sample": [list(p) for p in sample],
    }


def without_variants(registry: Registry) -> Registry:
    """The registry with every person's variant names and ORCID hidden: each person keeps its
    canonical name only."""
    hidden = registry.copy()
    for person in registry.persons.values():
        hidden.replace_person(person.with_changes(names=person.names[:1], orcid=None))
    return hidden


def evaluate_variants_as_user(snapshot: Snapshot, work: Path, cache: Path, seed: int
                              ) -> dict[str, Any]:
    """The real `resolve` on a copy without the variant lists, ORCIDs and the ids of every
    name of a gold pair; scored from the merges of its `proposals.json`."""
    if snapshot.registry.format != "legacy":
        return {"skipped": "the as-a-user variant evaluation needs a legacy registry"}
    gold = VariantGold.of(snapshot.mentions, snapshot.registry)
    slugs = sorted({slug for pair in gold.pairs for slug in pair})
    copy = as_user.strip_curation(snapshot, slugs, work / "anthology",
                                  without_variants(snapshot.registry))
    seconds = as_user.run_resolve(copy, work / "resolution", cache, ["--seed", str(seed)])
    merges = json.loads((work / "resolution" / "proposals.json").read_text(encoding="utf-8"))[
        "variants"]["merges"]
    assignments = as_user.read_resolution(work / "resolution")
    stripped = read_snapshot(copy, cache_dir=cache)
    units = person_units(stripped.mentions, assignments, stripped.registry.catch_all_ids())
    names_of: dict[str, set[str]] = defaultdict(set)
    for unit, slug in zip(units.tolist(), stripped.mentions["slug"].tolist()):
        names_of[unit].add(slug)
    persons = [sorted(set().union(*(names_of[str(u)] for u in merge["persons"])))
               for merge in merges]
    links = [tuple(link["names"]) for merge in merges for link in merge.get("links", [])]
    return {
        "persons": score_pairs(pairs_within(persons), gold, seed),
        "links": score_pairs([(str(a), str(b)) for a, b in links], gold, seed),
        "resolve_seconds": round(seconds, 1),
    }


def evaluate_variants(snapshot: Snapshot, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    mentions = snapshot.mentions
    gold = VariantGold.of(mentions, snapshot.registry)
    blinded = mentions.assign(id=None, orcid=None, person=mentions["slug"])
    names = blinded.drop_duplicates("slug")
    display = dict(zip(names["slug"], (names["first"].fillna("") + " " + names["last"]).str
                       .strip().str.lower()))
    candidates, proposals = find_variants(blinded, snapshot.papers,
                                          blinded["slug"].astype(str), seed,
                                          snapshot.cache_dir)
    candidate_set = {(c.first, c.second) for c in candidates}
    log.info("variants: %d gold pairs, %d candidates (%d of the gold pairs)", len(gold.pairs),
             len(candidates), len(gold.pairs & candidate_set))
    links, persons = proposals.links, proposals.persons
    by_kind = {kind: sum(1 for c in candidates if c.kind == kind)
               for kind in KIND_ORDER}
    merge_links = [(link.first_name, link.second_name) for link in links
                   if link.decision == "merge"]
    return {
        "gold_pairs": len(gold.pairs),
        "candidates": len(candidates), "candidates_by_kind": by_kind,
        "candidate_recall": round(len(gold.pairs & candidate_set) / len(gold.pairs), 4)
        if gold.pairs else 0.0,
        "persons": score_pairs(pairs_within(persons), gold, seed),
        "links": score_pairs(merge_links, gold, seed),
        "similar_links": sum(1 for link in links if link.decision == "similar"),
        "baseline_strings_only": score_pairs(string_baseline(candidates, display), gold, seed),
        "seconds": round(time.perf_counter() - started, 1),
    }
