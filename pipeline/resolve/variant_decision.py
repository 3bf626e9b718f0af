"""Which candidate name strings are one person: the graph decides, the strings set the prior.

A candidate (two name slugs that may be one person, `variant_candidates.py`) is compared
person by person: each slug's mentions are grouped into *units*, the persons they are
attributed to (`person_units`: a resolved cluster's person, a registry person, or the name
itself), and every pair of units across the two slugs is scored

    log-odds(one person) = evidence + prior

- evidence: the log likelihood ratio of the variant model (`variant_model.VariantModel`,
  cluster models averaged over draws) on the two units' pooled evidence (coauthors,
  coauthors of coauthors, affiliations, title and abstract words, venues, years, how many
  of the two have no coauthor at all, the year from which both are in use; not their sizes:
  `variant_model.VARIANT_IGNORED_FEATURES`), learnt from synthetic homonyms whose names are
  cut at random into two parts of random size (one person under two strings), and for the
  pairs the strings alone vouch for (`confident_pairs`) from such pairs too, cross-fitted;
  never from curation;
- prior, written in the code: `KIND_PRIOR` by how the strings differ (the same letters say
  much more than a shared initial), less the commonness of the more common string
  (`variant_candidates.NameCounts`: log of the number of people expected to have a name it
  may stand for, an initial standing for every name with that letter), as the pair model's
  prior does for one name: "Y. Liu" / "Yang Liu" needs far more evidence than
  "Benhamadou" / "Ben Hamadou".

A pair is a `merge` when the log-odds reach `MERGE_LOGIT` and the graph evidence alone is
positive too (the strings never suffice: a merge needs the graph's support), when the two
units share an ORCID (`SAME_ORCID_PRIOR`: the person's own identifier), or when one name is
the only spelling-out of the other's initials and a path joins them in the graph
(`merge_decisions`); a `similar`
link (the registry's field for "possibly the same person") from `SIMILAR_LOGIT`. Never
merged (cannot-link): units on one paper, with different explicit ids, or with different
ORCIDs. Merges are taken best first; a unit joins
at most one person of each other name, every two names of a merged person must be a candidate
pair, and a merge that would break either rule or put a cannot-link pair into one person
becomes a `similar` link instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.anthology.columns import isin
from pipeline.anthology.curation import UnionFind
from pipeline.resolve.cluster_merge import CLUSTER_FEATURES, PooledBlock, PooledGroups
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.variant_candidates import Candidate, VariantKind
from pipeline.resolve.variant_model import ConfidentPairs, VariantModel

# Log-odds that two strings differing this way are one person, for a rare name, before any
# evidence: the same letters almost always are; a reordering usually is; an initial or a
# dropped middle name fits many people; a nickname (Bill / William) is a given name of its
# own for many (Kay, Tony), so a little less; one edit in a given name (Siqi / Siyi) rarely
# is. (Set before measuring, not fitted.)
KIND_PRIOR: dict[VariantKind, float] = {
    "spelling": 3.0, "order": 1.0, "abbreviation": 0.0, "nickname": -1.0, "typo": -3.0,
}
MERGE_LOGIT = float(np.log(0.95 / 0.05))  # a merge must be at least 95% likely
SIMILAR_LOGIT = 0.0  # a `similar` link: more likely one person than two
MIN_MERGE_EVIDENCE = 0.0  # the graph's own evidence a merge needs, beside the log-odds
# The prior (the kind's less the commonness) a name's only spelling-out of its initials needs
# to merge without positive evidence: the name is expected to be one person's, not several.
SOLE_EXPANSION_MIN_PRIOR = 0.0
# Two units with an ORCID in common are one person by the ORCID's own word (their mentions
# may still be on one paper, or carry other ids: those stay cannot-links). Large enough to
# merge whatever the graph says, and to be taken before any other merge of the two units.
SAME_ORCID_PRIOR = 20.0
MAX_POOLED_MENTIONS = 30
# The pairs the variant model learns from as real variants (`confident_pairs`): initials,
# dropped or short given names of names rare enough that the strings alone make them one
# person at odds of e^7 (about 1,100) to 1: a round figure, not fitted (README, "Name
# variants", says what was looked at before choosing it).
CONFIDENT_KINDS: tuple[VariantKind, ...] = ("abbreviation",)
CONFIDENT_MIN_PRIOR = 7.0


@dataclass(frozen=True)
class VariantLink:
    """A scored pair of units of two candidate names."""

    first: str  # unit labels
    second: str
    first_name: str  # slugs
    second_name: str
    kind: VariantKind
    evidence: float
    prior: float
    decision: str  # "merge" or "similar"
    features: dict[str, float] = field(default_factory=dict)
    # Merged by the sole-expansion rule alone (`merge_decisions`): the others' decisions do
    # not depend on which names spell out an initial.
    by_sole_expansion: bool = False

    @property
    def logit(self) -> float:
        return self.evidence + self.prior

    @property
    def confidence(self) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logit)))


@dataclass(frozen=True)
class _UnitFacts:
    papers: frozenset[object]
    ids: frozenset[object]
    orcids: frozenset[object]


class _Units:
    """The mentions of each unit, and what cannot-link them (papers, ids, ORCIDs) as sparse
    unit x value indicator matrices, so every candidate pair is checked at once."""

    def __init__(self, mentions: pd.DataFrame, units: pd.Series, wanted: set[str],
                 catch_all: frozenset[str], unit_orcid: dict[str, str]) -> None:
        positions = np.flatnonzero(isin(units, wanted))
        # Rows taken before converting: a whole Arrow-backed column to objects costs more.
        chosen = mentions[["id", "orcid", "paper"]].iloc[positions]
        codes, self.names = pd.factorize(units.iloc[positions].to_numpy(), sort=True)
        self.number = {str(unit): k for k, unit in enumerate(self.names)}
        order = np.argsort(codes, kind="stable")
        self.rows, self.membership = _sampled(positions[order], codes[order])
        ids = chosen["id"].to_numpy(dtype=object)
        ids = np.array([x if isinstance(x, str) and x not in catch_all else None for x in ids],
                       dtype=object)
        orcids = chosen["orcid"].to_numpy(dtype=object)
        extra = [(k, unit_orcid[str(u)]) for k, u in enumerate(self.names)
                 if str(u) in unit_orcid]
        self.papers = self._indicator(codes, chosen["paper"].to_numpy(dtype=object))
        self.ids = self._indicator(codes, ids)
        self.orcids = self._indicator(
            np.concatenate([codes, np.array([k for k, _ in extra], dtype=np.int64)]),
            np.concatenate([orcids, np.array([o for _, o in extra], dtype=object)]))

    def _indicator(self, codes: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
        present = np.array([isinstance(v, str) for v in values], dtype=bool)
        columns, _ = pd.factorize(values[present])
        matrix = sp.csr_matrix((np.ones(int(present.sum())), (codes[present], columns)),
                               shape=(len(self.names), max(1, int(columns.max(initial=-1)) + 1)))
        matrix.data[:] = 1.0
        return matrix

    def cannot_link(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Per pair: on one paper, or both with ids (ORCIDs) and none shared."""
        def has(matrix: sp.csr_matrix) -> np.ndarray:
            return np.asarray(np.diff(matrix.indptr) > 0)

        has_id, has_orcid = has(self.ids), has(self.orcids)
        return np.asarray(_shared(self.papers, ii, jj)
                          | (has_id[ii] & has_id[jj] & ~_shared(self.ids, ii, jj))
                          | (has_orcid[ii] & has_orcid[jj] & ~_shared(self.orcids, ii, jj)))

    def share_orcid(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Per pair: the two units have an ORCID in common."""
        return _shared(self.orcids, ii, jj)

    def facts(self, unit: str) -> _UnitFacts:
        k = self.number[unit]
        return _UnitFacts(*(frozenset(m.indices[m.indptr[k]:m.indptr[k + 1]].tolist())
                            for m in (self.papers, self.ids, self.orcids)))


def _shared(matrix: sp.csr_matrix, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
    """Per pair of rows: they have a column (a value) in common."""
    return np.asarray(matrix[ii].multiply(matrix[jj]).sum(axis=1)).ravel() > 0


def _sampled(rows: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_POOLED_MENTIONS rows of each unit (sorted by it), evenly spread over its
    rows (in snapshot order, so over its years): pooled evidence of a prolific person needs
    no more, and all of them made pooling the slowest step."""
    starts = np.flatnonzero(np.r_[True, membership[1:] != membership[:-1]])
    sizes = np.diff(np.r_[starts, len(membership)])
    if sizes.max(initial=0) <= MAX_POOLED_MENTIONS:
        return rows, membership
    keep = np.ones(len(rows), dtype=bool)
    for start, size in zip(starts[sizes > MAX_POOLED_MENTIONS], sizes[sizes > MAX_POOLED_MENTIONS]):
        keep[start:start + size] = False
        chosen = np.linspace(0, size - 1, MAX_POOLED_MENTIONS).round().astype(np.int64)
        keep[start + chosen] = True
    return rows[keep], membership[keep]


def _cannot_link(a: _UnitFacts, b: _UnitFacts) -> bool:
    return bool(a.papers & b.papers) or bool(a.ids and b.ids and not a.ids & b.ids) or bool(
        a.orcids and b.orcids and not a.orcids & b.orcids)


@dataclass(frozen=True)
class UnitPairs:
    """Every pair of units of candidate names that may be one person, with its pooled
    features (`CLUSTER_FEATURES`)."""

    pairs: list[tuple[str, str, Candidate]]  # (unit, unit, the candidate of their names)
    features: np.ndarray
    same_orcid: np.ndarray  # the two units share an ORCID


def unit_pairs(mentions: pd.DataFrame, units: pd.Series, candidates: list[Candidate],
               context: EvidenceContext, catch_all: frozenset[str] = frozenset(),
               unit_orcid: dict[str, str] | None = None,
               representative: np.ndarray | None = None) -> UnitPairs:
    """The pairs of units across each candidate's two names, but for cannot-links and units
    already one person. `representative`: coauthors read as persons
    (`coauthor_identity.CoauthorIdentity`)."""
    involved = {c.first for c in candidates} | {c.second for c in candidates}
    rows = np.flatnonzero(isin(mentions["slug"], involved))
    in_names = pd.Series(units.iloc[rows].to_numpy(), index=mentions["slug"].iloc[rows].to_numpy()
                         ).drop_duplicates().sort_values()
    units_of: dict[str, list[str]] = {}
    for slug, unit in zip(in_names.index.tolist(), in_names.tolist()):
        units_of.setdefault(str(slug), []).append(str(unit))
    pairs: list[tuple[str, str, Candidate]] = []
    for candidate in candidates:
        first, second = units_of.get(candidate.first, []), units_of.get(candidate.second, [])
        if set(first) & set(second):
            continue  # already one person, at least in part
        pairs.extend((u, v, candidate) for u in first for v in second)
    nothing = UnitPairs([], np.zeros((0, len(CLUSTER_FEATURES))), np.zeros(0, dtype=bool))
    if not pairs:
        return nothing
    wanted = {u for u, _, _ in pairs} | {v for _, v, _ in pairs}
    table = _Units(mentions, units, wanted, catch_all, unit_orcid or {})
    ii = np.array([table.number[u] for u, _, _ in pairs])
    jj = np.array([table.number[v] for _, v, _ in pairs])
    allowed = ~table.cannot_link(ii, jj)
    pairs = [pair for pair, ok in zip(pairs, allowed) if ok]
    ii, jj = ii[allowed], jj[allowed]
    if not pairs:
        return nothing
    groups = PooledGroups.pool(PooledBlock.of(context, table.rows, representative),
                               table.membership)
    return UnitPairs(pairs, groups.pair_features(ii, jj), table.share_orcid(ii, jj))


def score_links(mentions: pd.DataFrame, units: pd.Series, candidates: list[Candidate],
                context: EvidenceContext, model: VariantModel,
                catch_all: frozenset[str] = frozenset(),
                unit_orcid: dict[str, str] | None = None,
                representative: np.ndarray | None = None) -> list[VariantLink]:
    """Every scored pair of units of the candidate names strong enough for a link, each
    with its own decision, before the links are checked against each other.
    `representative`: coauthors read as persons (`coauthor_identity.CoauthorIdentity`)."""
    scored = unit_pairs(mentions, units, candidates, context, catch_all, unit_orcid,
                        representative)
    pairs, features, same_orcid = scored.pairs, scored.features, scored.same_orcid
    if not pairs:
        return []
    evidence = model.evidence(features, [(c.first, c.second) for _, _, c in pairs])
    priors = np.array([KIND_PRIOR[c.kind] - c.commonness for _, _, c in pairs]) + np.where(
        same_orcid, SAME_ORCID_PRIOR, 0.0)
    logits = evidence + priors
    merge = merge_decisions(evidence, priors, same_orcid,
                            np.array([c.sole_expansion for _, _, c in pairs], dtype=bool),
                            graph_path(features))
    by_sole_expansion = merge & ~merge_decisions(evidence, priors, same_orcid)
    keep = merge | (logits >= SIMILAR_LOGIT)
    links = []
    for k in np.flatnonzero(keep):
        u, v, candidate = pairs[k]
        links.append(VariantLink(
            u, v, candidate.first, candidate.second, candidate.kind, round(float(evidence[k]), 4),
            round(float(priors[k]), 4), "merge" if merge[k] else "similar",
            {name: round(float(x), 4) for name, x in zip(CLUSTER_FEATURES, features[k])},
            bool(by_sole_expansion[k])))
    return links


def confident_pairs(mentions: pd.DataFrame, units: pd.Series, candidates: list[Candidate],
                    context: EvidenceContext, catch_all: frozenset[str] = frozenset(),
                    unit_orcid: dict[str, str] | None = None) -> ConfidentPairs:
    """The candidates the strings alone call one person (`CONFIDENT_KINDS`, a prior of at
    least `CONFIDENT_MIN_PRIOR`), where each name is one unit, with their pooled features:
    real variants for the variant model to learn from (`variant_model.py`)."""
    chosen = [c for c in candidates if c.kind in CONFIDENT_KINDS
              and KIND_PRIOR[c.kind] - c.commonness >= CONFIDENT_MIN_PRIOR]
    scored = unit_pairs(mentions, units, chosen, context, catch_all, unit_orcid)
    per_candidate = Counter((c.first, c.second) for _, _, c in scored.pairs)
    single = [per_candidate[(c.first, c.second)] == 1 for _, _, c in scored.pairs]
    return ConfidentPairs(
        tuple((c.first, c.second) for (_, _, c), one in zip(scored.pairs, single) if one),
        scored.features[np.array(single, dtype=bool)])


def merge_decisions(evidence: np.ndarray, priors: np.ndarray, same_orcid: np.ndarray,
                    sole_expansion: np.ndarray | None = None,
                    linked: np.ndarray | None = None) -> np.ndarray:
    """Per scored pair: a merge? The log-odds must reach MERGE_LOGIT and the graph evidence
    alone must be positive (the strings never merge two names alone), unless the two share
    an ORCID (its prior included in `priors`).

    Or the pair is the only spelling-out of an initialled name (`sole_expansion`: "D.
    Moldovan" / "Dan Moldovan", no other Moldovan with a D): then a path in the graph between
    the two (`linked`, see `graph_path`), a prior calling the name one person's and evidence
    that does not make two people 95% likely suffice. The evidence model learnt one person
    from a career cut at random, whose halves share coauthors; initials are mostly on papers
    of the 1970s-90s, whose coauthors the spelt-out name's later papers seldom share, so its
    evidence reads that gap as "two people" (it is negative for most such pairs the curation
    confirms)."""
    merge = (evidence + priors >= MERGE_LOGIT) & ((evidence > MIN_MERGE_EVIDENCE) | same_orcid)
    if sole_expansion is not None and linked is not None:
        merge |= (sole_expansion & linked & (priors >= SOLE_EXPANSION_MIN_PRIOR)
                  & (evidence >= -MERGE_LOGIT))
    return np.asarray(merge)


def graph_path(features: np.ndarray) -> np.ndarray:
    """Per pair of units: a path joins them in the heterogeneous graph, through a shared
    coauthor, a coauthor of a coauthor, or a venue both published in."""
    column = {name: k for k, name in enumerate(CLUSTER_FEATURES)}
    return np.asarray((features[:, column["shared_coauthor_count"]] > 0)
                      | (features[:, column["two_hop_cosine"]] > 0)
                      | (features[:, column["venue_jaccard"]] > 0))


def settle_links(links: list[VariantLink], mentions: pd.DataFrame, units: pd.Series,
                 candidates: list[Candidate], catch_all: frozenset[str] = frozenset(),
                 unit_orcid: dict[str, str] | None = None) -> list[VariantLink]:
    """The scored links, best first, with the merges that contradict a better one turned
    into `similar` links (`_consistent`). `candidates`: every candidate pair of names."""
    if not links:
        return []
    links = sorted(links, key=lambda link: (-link.logit, link.first, link.second))
    wanted = {u for link in links for u in (link.first, link.second)}
    table = _Units(mentions, units, wanted, catch_all, unit_orcid or {})
    compatible = {(c.first, c.second) for c in candidates}
    return _consistent(links, table, compatible)


def _consistent(links: list[VariantLink], table: _Units,
                compatible: set[tuple[str, str]]) -> list[VariantLink]:
    """Merges best first. A merged person may not hold a cannot-link pair, a unit joins at
    most one unit of each other name, and every two names of a merged person must be a
    candidate pair themselves: without that, a short name ("Minh Nguyen") joined to several
    longer ones would chain them all into one person. A merge refused for any of these
    becomes a `similar` link."""
    union = UnionFind()
    members: dict[object, list[str]] = {}
    names: dict[object, set[str]] = {}
    joined: set[tuple[str, str]] = set()  # (unit, other name) already merged
    out = []

    def fits(left: set[str], right: set[str]) -> bool:
        return all(a == b or (min(a, b), max(a, b)) in compatible
                   for a in left for b in right)

    for link in links:
        if link.decision == "merge":
            a, b = union.find(link.first), union.find(link.second)
            if a == b:
                continue  # already one person through other merges
            taken = (link.first, link.second_name) in joined or (
                link.second, link.first_name) in joined
            group_a, group_b = members.get(a, [link.first]), members.get(b, [link.second])
            names_a = names.get(a, {link.first_name})
            names_b = names.get(b, {link.second_name})
            if not taken and fits(names_a, names_b) and not any(
                    _cannot_link(table.facts(x), table.facts(y))
                    for x in group_a for y in group_b):
                union.union(a, b)
                root = union.find(a)
                members[root] = group_a + group_b
                names[root] = names_a | names_b
                joined.update({(link.first, link.second_name), (link.second, link.first_name)})
                out.append(link)
                continue
            link = VariantLink(**{**link.__dict__, "decision": "similar"})
        out.append(link)
    return out


def merged_persons(links: list[VariantLink]) -> list[list[str]]:
    """The units merge links join into one person each, sorted."""
    union = UnionFind()
    for link in links:
        if link.decision == "merge":
            union.union(link.first, link.second)
    groups: dict[object, set[str]] = {}
    for link in links:
        if link.decision == "merge":
            groups.setdefault(union.find(link.first), set()).update((link.first, link.second))
    return sorted(sorted(group) for group in groups.values())
