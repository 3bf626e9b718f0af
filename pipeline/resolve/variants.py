"""Name variants: persons whose papers are under several name strings, found and proposed.

1. `candidate_index.candidate_pairs`: pairs of name slugs that may be one person, from
   blocking keys on the strings alone (`variant_candidates`);
2. `variant_decision.score_links`, then `settle_links`: each pair of persons of the two
   names scored on the graph (pooled coauthors, coauthors of coauthors, venues, years,
   topic, affiliations) by a model learnt from synthetic homonyms, plus a prior from the
   strings, and the merges checked against each other, best first;
3. a second round: the pairs whose coauthors the first round's merges joined into one
   person are scored again reading coauthors as persons (`coauthor_identity`);
4. `VariantProposals`: the merges as persons (groups of units) with a canonical name, and
   the `similar` links, ready for `proposals.json` and the exporters.

`resolve` runs this after splitting, on the persons it produced; `evaluate` runs it on a
blinded table (every name its own person). Both call `propose_variants`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.columns import isin
from pipeline.anthology.names import canonical_name
from pipeline.anthology.registry import Registry
from pipeline.resolve.ambiguity import name_commonness
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.candidate_index import CandidateIndex, KeptSearch, KeptSearchError
from pipeline.resolve.coauthor_identity import CoauthorIdentity, near
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.synthetic import SyntheticBlocks, synthetic_draws
from pipeline.resolve.variant_candidates import Candidate
from pipeline.resolve.variant_decision import (
    VariantLink,
    confident_pairs,
    merged_persons,
    score_links,
    settle_links,
)
from pipeline.resolve.variant_model import VARIANT_DRAWS, VariantModel, variant_seeds

log = logging.getLogger(__name__)


def name_candidates(mentions: pd.DataFrame, registry: Registry | None = None
                    ) -> list[Candidate]:
    """Candidate pairs among every name slug of the table (its first spelling in table order
    stands for the slug); the `registry`'s names only tell which spellings-out of initials
    are the only ones (`CandidateIndex.candidates`)."""
    return CandidateIndex.build(_spellings(mentions)).candidates(_known_names(registry))


def kept_name_candidates(mentions: pd.DataFrame, registry: Registry | None,
                         kept: bytes | None) -> tuple[list[Candidate], bytes]:
    """`name_candidates`, found by updating `kept` (an earlier run's search, from
    `KeptSearch.to_bytes`) where it reads, and the search to keep for the next run."""
    search = None
    if kept is not None:
        try:
            search = KeptSearch.from_bytes(kept).updated(_spellings(mentions))
        except KeptSearchError as error:
            log.warning("the kept search of name variants cannot be used (%s); every name "
                        "is compared again", error)
    if search is None:
        search = KeptSearch.of(CandidateIndex.build(_spellings(mentions)))
    return search.candidates(_known_names(registry)), search.to_bytes()


def _spellings(mentions: pd.DataFrame) -> Iterator[tuple[str, str, str]]:
    names = mentions.drop_duplicates("slug")
    return zip(names["slug"].tolist(), names["first"].fillna("").tolist(),
               names["last"].tolist())


def _known_names(registry: Registry | None) -> list[tuple[str | None, str]]:
    return [] if registry is None else [(name.first, name.last)
                                        for person in registry.persons.values()
                                        for name in person.names]


def candidate_rows(mentions: pd.DataFrame, candidates: list[Candidate]) -> np.ndarray:
    """Row positions of the mentions of every candidate name (for the evidence context)."""
    slugs = {s for c in candidates for s in (c.first, c.second)}
    return np.flatnonzero(isin(mentions["slug"], slugs))


def person_rows(mentions: pd.DataFrame, rows: np.ndarray, catch_all: frozenset[str]
                ) -> np.ndarray:
    """Row positions of the other mentions of the persons that the mentions at `rows` are
    today (a registry person's mentions under its other names): a person's pooled evidence
    needs them all, whichever of its names the candidates touch."""
    persons = pd.unique(mentions["person"].to_numpy(dtype=object)[rows])
    persons = [p for p in persons if isinstance(p, str) and p not in catch_all]
    return np.setdiff1d(np.flatnonzero(isin(mentions["person"], persons)), rows)


@dataclass(frozen=True)
class KeptLinks:
    """Scored links of an earlier run, and the names whose pairs must be scored again."""

    links: list[VariantLink]
    changed: frozenset[str]

    def to_score(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidate pairs to score again: those touching a changed name, and those
        whose decision rests on other names too: a sole spelling-out of initials now, or a
        kept link merged as one (a name that arrived or left may change which it is)."""
        was_sole = {(link.first_name, link.second_name) for link in self.links
                    if link.by_sole_expansion}
        return [c for c in candidates
                if c.first in self.changed or c.second in self.changed or c.sole_expansion
                or (c.first, c.second) in was_sole]


@dataclass(frozen=True)
class VariantProposals:
    links: list[VariantLink]
    persons: list[list[str]]  # units merged into one person each
    names: dict[str, Counter[tuple[str, str]]]  # unit -> its name strings and counts
    model: dict[str, object]
    scored: list[VariantLink] = field(default_factory=list)  # before settling (`links`)
    learnt: VariantModel | None = None

    def merges(self) -> list[dict[str, Any]]:
        """One entry per merged person: its units, names, canonical name and links."""
        by_unit: dict[str, list[VariantLink]] = {}
        for link in self.links:
            if link.decision == "merge":
                by_unit.setdefault(link.first, []).append(link)
        out = []
        for units in self.persons:
            names: Counter[tuple[str, str]] = Counter()
            for unit in units:
                names.update(self.names.get(unit, Counter()))
            first, last = canonical_name(names)
            links = sorted((link for unit in units for link in by_unit.get(unit, [])),
                           key=lambda link: (link.first, link.second))
            out.append({
                "persons": units,
                "canonical": _name(first, last),
                "names": [{**_name(*name), "mentions": count} for name, count in
                          sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))],
                "links": [_link(link) for link in links],
            })
        return out

    def similar(self) -> list[dict[str, Any]]:
        return [_link(link) for link in sorted(self.links, key=lambda link: (
            link.first, link.second)) if link.decision == "similar"]


def _name(first: str, last: str) -> dict[str, str]:
    return {"first": first, "last": last} if first else {"last": last}


def _link(link: VariantLink) -> dict[str, Any]:
    return {"from": link.first, "to": link.second, "names": [link.first_name, link.second_name],
            "kind": link.kind, "confidence": round(link.confidence, 4),
            "evidence": round(link.evidence, 4), "prior": round(link.prior, 4),
            "sole_expansion": link.by_sole_expansion and link.decision == "merge",
            "features": link.features}


def pairs_to_score_again(identity: CoauthorIdentity, mentions: pd.DataFrame,
                         units: pd.Series, candidates: list[Candidate],
                         context: EvidenceContext, catch_all: frozenset[str],
                         unit_orcid: dict[str, str] | None, kept: KeptLinks | None,
                         scored_tonight: list[Candidate]) -> list[Candidate]:
    """The candidate pairs whose evidence reading coauthors as persons (`identity`) may
    differ from what they were scored with: in a full run, those within two papers of a name
    that another name now stands for (their coauthor or coauthor-of-coauthor vectors read
    it); in a night, those its first round scored (`scored_tonight`; none in a full run)
    and those one paper from a name that stands for another person than in last night's
    links (settled again on tonight's persons). Two papers from the hundred-odd names a
    night moves reach a third of all names (12,311 pairs, 2.2 s to score on the bench's
    night; one paper, 3,964 pairs and 1.3 s): a night leaves the coauthor-of-coauthor
    change to the next full run."""
    authorship = context.authorship
    if kept is None:
        moved, hops = identity.joined(), 2
    else:
        present = set(units.unique().tolist())
        before = [link for link in kept.links if link.first in present and link.second in present]
        moved = identity.moved(CoauthorIdentity.of(authorship, units, merged_persons(
            settle_links(before, mentions, units, candidates, catch_all, unit_orcid))))
        hops = 1
    if not moved.any() and not scored_tonight:
        return []
    reached = set(authorship.slugs[near(authorship, moved, hops)].tolist())
    tonight = {(c.first, c.second) for c in scored_tonight}
    return [c for c in candidates if c.first in reached or c.second in reached
            or (c.first, c.second) in tonight]


def find_variants(mentions: pd.DataFrame, papers: pd.DataFrame, units: pd.Series, seed: int,
                  cache_dir: Path | None = None, catch_all: frozenset[str] = frozenset()
                  ) -> tuple[list[Candidate], VariantProposals]:
    """Name variants on their own (outside `resolve`, which shares its evidence context):
    candidates, the evidence they need, decisions."""
    candidates = name_candidates(mentions)
    authorship = Authorship.build(mentions, papers)
    draws = synthetic_draws(mentions, name_commonness(mentions), authorship,
                            distinct_strings=(True,) * VARIANT_DRAWS, seeds=variant_seeds(seed))
    focus = np.concatenate([candidate_rows(mentions, candidates),
                            *(rows for draw in draws for rows in draw.rows.values())])
    context = EvidenceContext.build(mentions, papers, authorship, focus=focus,
                                    cache_dir=cache_dir)
    return candidates, propose_variants(mentions, units, candidates, context, draws, seed,
                                        catch_all)


def propose_variants(mentions: pd.DataFrame, units: pd.Series, candidates: list[Candidate],
                     context: EvidenceContext, synthetic: list[SyntheticBlocks], seed: int,
                     catch_all: frozenset[str] = frozenset(),
                     unit_orcid: dict[str, str] | None = None,
                     model: VariantModel | None = None,
                     kept: KeptLinks | None = None) -> VariantProposals:
    """Merges and `similar` links among the persons (`units`) of candidate names.

    `model`: a variant model learnt before (else it is learnt from `synthetic`, the draws of
    `variant_model.variant_seeds(seed)`). `kept`: the nightly job's scored links of an
    earlier run; only the candidate pairs touching its `changed` names are scored again, the
    others keep their earlier scores.
    """
    if model is None and not synthetic:
        raise ValueError("propose_variants needs synthetic blocks or a learnt model")
    to_score = candidates if kept is None else kept.to_score(candidates)
    if model is None:
        model = VariantModel.fit(context, synthetic, seed, confident_pairs(
            mentions, units, to_score, context, catch_all, unit_orcid))
    scored = score_links(mentions, units, to_score, context, model, catch_all, unit_orcid)
    if kept is not None:
        rest = {(c.first, c.second) for c in candidates} - {(c.first, c.second) for c in to_score}
        scored += [link for link in kept.links if (link.first_name, link.second_name) in rest]
    links = settle_links(scored, mentions, units, candidates, catch_all, unit_orcid)
    # Second round: coauthors read as the persons the first round found.
    identity = CoauthorIdentity.of(context.authorship, units, merged_persons(links))
    again = pairs_to_score_again(identity, mentions, units, candidates, context, catch_all,
                                 unit_orcid, kept, to_score if kept is not None else [])
    log.info("name variants, second round: %d candidate pairs scored again with coauthors "
             "read as persons (%d names share their person with another)", len(again),
             int(identity.joined().sum()))
    if again:
        pairs = {(c.first, c.second) for c in again}
        scored = [link for link in scored if (link.first_name, link.second_name) not in pairs]
        scored += score_links(mentions, units, again, context, model, catch_all, unit_orcid,
                              identity.representative)
        links = settle_links(scored, mentions, units, candidates, catch_all, unit_orcid)
    persons = merged_persons(links)
    linked = {u for link in links for u in (link.first, link.second)}
    rows = np.flatnonzero(isin(units, linked))
    # Each unit's strings in the order they first appear (as the proposals list them).
    names: dict[str, Counter[tuple[str, str]]] = {}
    for unit, first_name, last_name in zip(
            units.iloc[rows].tolist(), mentions["first"].iloc[rows].fillna("").tolist(),
            mentions["last"].iloc[rows].tolist()):
        names.setdefault(str(unit), Counter())[(str(first_name), str(last_name))] += 1
    return VariantProposals(links, persons, names, {
        **model.describe(), "kind": "gradient-boosted trees on synthetic homonyms cut at "
        f"random, the mean of {len(model.models)} learnt from as many draws; the pairs the "
        f"strings vouch for, of {len(model.confident_models)} that learnt from them too "
        "(cross-fitted)",
        "candidates": len(candidates)}, scored, model)
