"""Cluster-level evidence: after the pairwise split, merge clusters of one name whose pooled
evidence says they are one person, to a fixed point.

A person who changes job often has no two papers with a shared coauthor across the move, so
the pairwise split cuts them in two; pooled, the two clusters still share coauthors of
coauthors, topics, venues, and follow each other in time. Per pair of clusters the features
are those of a mention pair computed on pooled vectors, plus the years both are active and
the clusters' sizes (`CLUSTER_FEATURES`). A gradient-boosted model learns them from synthetic
homonyms split in time: the early and late papers of one rare name are one person (a career
seen in two halves), parts of two rare names with one family name are two.

The merge is greedy: the pair with the highest log-odds joins while that exceeds the
threshold (0: more likely one person than two), never across a cannot-link (same paper,
different ids or ORCIDs); then the pooled features of the new cluster are recomputed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import normalize

from pipeline.resolve.evidence import EvidenceContext, MentionVectors
from pipeline.resolve.pair_model import FALLBACK_INTERCEPT, FALLBACK_WEIGHTS, one_thread
from pipeline.resolve.synthetic import SyntheticBlocks
from pipeline.resolve.tree_binning import one_pass_binning
from pipeline.resolve.tree_prediction import predict_positive

CLUSTER_FEATURES = (
    "shared_coauthors_idf", "shared_coauthor_count", "two_hop_cosine", "affiliation_cosine",
    "both_affiliations", "text_cosine", "venue_jaccard", "year_gap", "years_both_active",
    "smaller_size", "larger_size", "coauthorless_groups", "later_first_year",
)
MIN_TRAINING_PAIRS = 200


@dataclass(frozen=True)
class PooledBlock:
    """One block's mention vectors and facts, ready to be pooled over any grouping."""

    vectors: MentionVectors
    years: np.ndarray
    affiliation: sp.csr_matrix  # mention x char-ngram, zero rows where none
    has_affiliation: np.ndarray
    venues: sp.csr_matrix  # mention x venue indicator

    @classmethod
    def of(cls, context: EvidenceContext, rows: np.ndarray,
           representative: np.ndarray | None = None) -> PooledBlock:
        """`representative`: coauthors read as persons (`EvidenceContext.mention_vectors`)."""
        vectors = context.mention_vectors(rows, representative)
        codes = context.mention_affiliation[rows]
        has = codes >= 0
        width = context.affiliation_vectors.shape[1]
        if has.any():
            affiliation = sp.csr_matrix(context.affiliation_vectors[np.where(has, codes, 0)])
            affiliation = sp.diags(has.astype(float)) @ affiliation
        else:
            affiliation = sp.csr_matrix((len(rows), width))
        return cls(vectors, context.mention_year[rows], sp.csr_matrix(affiliation), has,
                   context.venue_incidence[rows])

    def features(self, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of every pair of groups (upper triangle) and the pairs' group numbers."""
        groups = PooledGroups.pool(self, membership)
        ii, jj = np.triu_indices(len(groups.sizes), 1)
        return groups.pair_features(ii, jj), ii, jj


@dataclass(frozen=True)
class PooledGroups:
    """The evidence of groups of mentions, pooled: one row per group in every matrix."""

    coauthor: sp.csr_matrix  # 1 where the group has the coauthor
    weighted_coauthor: sp.csr_matrix  # the same, times the coauthor's idf
    two_hop: sp.csr_matrix  # L2-normalised, as are text and affiliation
    text: sp.csr_matrix
    affiliation: sp.csr_matrix
    has_affiliation: np.ndarray
    venues: sp.csr_matrix  # 1 where the group has the venue
    sizes: np.ndarray
    first_year: np.ndarray  # inf / -inf where no mention has a year
    last_year: np.ndarray

    @classmethod
    def pool(cls, block: PooledBlock, membership: np.ndarray) -> PooledGroups:
        """Group `membership[i]` holds mention i of the block."""
        k = int(membership.max()) + 1
        n = len(membership)
        pool = sp.csr_matrix((np.ones(n), (membership, np.arange(n))), shape=(k, n))
        coauthor = _binary(pool @ block.vectors.coauthor)
        idf = np.asarray(block.vectors.weighted_coauthor.max(axis=0).todense()).ravel()
        weighted = (_binary(pool @ block.vectors.weighted_coauthor) @ sp.diags(idf)).tocsr()
        known = block.years >= 0
        first = np.full(k, np.inf)
        last = np.full(k, -np.inf)
        np.minimum.at(first, membership[known], block.years[known].astype(float))
        np.maximum.at(last, membership[known], block.years[known].astype(float))
        return cls(coauthor, weighted, normalize(pool @ block.vectors.two_hop).tocsr(),
                   normalize(pool @ block.vectors.text).tocsr(),
                   normalize(pool @ block.affiliation).tocsr(),
                   (pool @ block.has_affiliation.astype(float)) > 0,
                   _binary(pool @ block.venues), np.asarray(pool.sum(axis=1)).ravel(),
                   first, last)

    def pair_features(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """CLUSTER_FEATURES of the group pairs (ii[k], jj[k])."""
        shared_idf = _row_dots(self.weighted_coauthor, self.coauthor, ii, jj)
        shared_count = _row_dots(self.coauthor, self.coauthor, ii, jj)
        inter = _row_dots(self.venues, self.venues, ii, jj)
        venue_sizes = np.asarray(self.venues.sum(axis=1)).ravel()
        union = venue_sizes[ii] + venue_sizes[jj] - inter
        venue_j = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        both = self.has_affiliation[ii] & self.has_affiliation[jj]
        aff_cos = np.where(both, _row_dots(self.affiliation, self.affiliation, ii, jj), 0.0)
        overlap = (np.minimum(self.last_year[ii], self.last_year[jj])
                   - np.maximum(self.first_year[ii], self.first_year[jj]))
        valid = np.isfinite(overlap)
        gap = np.where(valid, np.maximum(-overlap, 0.0), 10.0)
        both_active = np.where(valid, np.maximum(overlap + 1, 0.0), 0.0)
        sizes = self.sizes
        # How many of the two have no coauthor at all (single-author papers only): then no
        # shared coauthor says nothing, where disjoint coauthors say "two people".
        coauthorless = np.diff(self.coauthor.indptr) == 0
        # The year from which both are in use: papers of the 1980s carry far less evidence
        # (fewer coauthors, no abstracts) than those of the 2020s, for one person or two.
        first_known = np.where(np.isfinite(self.first_year), self.first_year, np.nan)
        later_first = np.nan_to_num(np.fmax(first_known[ii], first_known[jj]), nan=0.0)
        columns = [
            np.log1p(shared_idf), np.log1p(shared_count),
            _row_dots(self.two_hop, self.two_hop, ii, jj), aff_cos, both.astype(float),
            _row_dots(self.text, self.text, ii, jj), venue_j, np.minimum(gap, 30.0),
            np.minimum(both_active, 30.0), np.log(np.minimum(sizes[ii], sizes[jj])),
            np.log(np.maximum(sizes[ii], sizes[jj])),
            coauthorless[ii].astype(float) + coauthorless[jj], later_first,
        ]
        return np.column_stack(columns).astype(np.float64)


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix)
    out.data = np.where(out.data > 0, 1.0, 0.0)
    out.eliminate_zeros()
    return out


def _row_dots(left: sp.csr_matrix, right: sp.csr_matrix, ii: np.ndarray, jj: np.ndarray
              ) -> np.ndarray:
    """Dot product of row ii[k] of `left` with row jj[k] of `right`, for every k."""
    if len(ii) == 0:
        return np.zeros(0)
    return np.asarray(left[ii].multiply(right[jj]).sum(axis=1), dtype=np.float64).ravel()


@dataclass(frozen=True)
class TrainingPairs:
    """Pairs of groups of mentions, labelled one person (`same`) or two, with weights."""

    features: np.ndarray
    same: np.ndarray
    weight: np.ndarray
    blocks: int  # the synthetic blocks (times cuts) they come from

    @classmethod
    def of(cls, context: EvidenceContext, synthetic: SyntheticBlocks, seed: int = 0,
           cut: Literal["time", "random", "both"] = "time") -> TrainingPairs:
        """Synthetic homonyms, each name cut in two: by time (a career seen in two halves),
        at random into parts of random size (one person's papers under two name strings,
        some years apart or not), or both ways (`variant_decision.py`)."""
        rng = np.random.default_rng(seed)
        cuts = ("time", "random") if cut == "both" else (cut,)
        all_rows, memberships, ii, jj = [], [], [], []
        upper_i, upper_j = np.triu_indices(4, 1)
        for number, ((key, rows), how) in enumerate(itertools.product(synthetic.rows.items(),
                                                                       cuts)):
            side = synthetic.name[key]
            years = context.mention_year[rows]
            membership = np.zeros(len(rows), dtype=np.int64)
            for name in (0, 1):
                members = np.flatnonzero(side == name)
                if how == "time":
                    order = members[np.argsort(years[members], kind="stable")]
                    half = (len(order) + 1) // 2
                else:
                    order = rng.permutation(members)
                    half = int(rng.integers(1, len(order))) if len(order) > 1 else 1
                membership[order[:half]] = 2 * name
                membership[order[half:]] = 2 * name + 1
            all_rows.append(rows)
            memberships.append(membership + 4 * number)
            ii.append(upper_i + 4 * number)
            jj.append(upper_j + 4 * number)
        if not all_rows:
            return cls(np.zeros((0, len(CLUSTER_FEATURES))), np.zeros(0, dtype=bool),
                       np.zeros(0), 0)
        # Every block's four parts pooled at once: one sparse pass instead of one per block.
        groups = PooledGroups.pool(PooledBlock.of(context, np.concatenate(all_rows)),
                                   np.concatenate(memberships))
        first, second = np.concatenate(ii), np.concatenate(jj)
        same = (first % 4) // 2 == (second % 4) // 2
        # Each block weighs the same, and within it the two classes.
        return cls(groups.pair_features(first, second), same,
                   np.where(same, 1.0 / 2, 1.0 / 4), len(all_rows))

    def with_positives(self, positives: np.ndarray, share: float) -> TrainingPairs:
        """These pairs and `positives`, one person each, taking `share` of that class's
        weight (each block's one-person pairs weigh 1 in all)."""
        if not len(positives) or not self.blocks:
            return self
        return TrainingPairs(
            np.vstack([self.features, positives]),
            np.concatenate([self.same, np.ones(len(positives), dtype=bool)]),
            np.concatenate([np.where(self.same, self.weight * (1 - share), self.weight),
                            np.full(len(positives), share * self.blocks / len(positives))]),
            self.blocks)


# Hand-set log likelihood ratios on pooled features: the pair rule's weights
# (`pair_model.FALLBACK_WEIGHTS`), plus a penalty per year both clusters are active with
# different affiliations (two jobs at once is unlikely; one lab, two namesakes is not).
CONFLICT_PER_YEAR = -0.5


def _read_columns(features: np.ndarray, ignored: tuple[str, ...]) -> np.ndarray:
    """The columns of `features` a classifier learnt without `ignored` reads (no copy when
    nothing is ignored: the split's cluster merge calls this at every step)."""
    if not ignored:
        return features
    return features[:, [k for k, name in enumerate(CLUSTER_FEATURES) if name not in ignored]]


@dataclass
class ClusterModel:
    """Log likelihood ratio that two clusters of one name are one person: a classifier
    learnt from synthetic homonyms, else (`hand_set`) the hand-set rule, else never merge."""

    classifier: HistGradientBoostingClassifier | None = None
    training_pairs: int = 0
    hand_set: bool = False
    ignored: tuple[str, ...] = ()  # CLUSTER_FEATURES the classifier does not read

    @classmethod
    def fit(cls, context: EvidenceContext, synthetic: SyntheticBlocks, seed: int = 0,
            cut: Literal["time", "random", "both"] = "time", ignored: tuple[str, ...] = ()
            ) -> ClusterModel:
        """Learn from synthetic homonyms (`TrainingPairs.of`). `ignored`: features left out
        of the classifier (`variants.py` says why)."""
        return cls.learn(TrainingPairs.of(context, synthetic, seed, cut), seed, ignored)

    @classmethod
    def learn(cls, pairs: TrainingPairs, seed: int = 0, ignored: tuple[str, ...] = ()
              ) -> ClusterModel:
        """A classifier of `pairs`, or the hand-set rule when they are too few."""
        if len(pairs.same) < MIN_TRAINING_PAIRS:
            return cls(hand_set=True)
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
        with one_thread(), one_pass_binning():
            classifier.fit(_read_columns(pairs.features, ignored), pairs.same,
                           sample_weight=pairs.weight)
        return cls(classifier, len(pairs.same), ignored=ignored)

    def evidence(self, features: np.ndarray) -> np.ndarray:
        if self.classifier is None:
            weights = np.array([FALLBACK_WEIGHTS[n] for n in CLUSTER_FEATURES[:8]])
            column = {n: i for i, n in enumerate(CLUSTER_FEATURES)}
            conflict = (features[:, column["both_affiliations"]]
                        * (features[:, column["affiliation_cosine"]] < 0.5)
                        * features[:, column["years_both_active"]])
            return np.asarray(features[:, :8] @ weights + FALLBACK_INTERCEPT
                              + CONFLICT_PER_YEAR * conflict, dtype=np.float64)
        probability = np.clip(predict_positive(
            self.classifier, _read_columns(features, self.ignored)), 1e-6, 1 - 1e-6)
        return np.asarray(np.log(probability / (1 - probability)), dtype=np.float64)

    def merge(self, block: PooledBlock, membership: np.ndarray, cannot: np.ndarray,
              prior: float, threshold: float = 0.0) -> np.ndarray:
        """Greedy merges to a fixed point; `prior` is the name's prior log-odds."""
        membership = membership.copy()
        if self.classifier is None and not self.hand_set:
            return membership
        while int(membership.max()) >= 1:
            x, ii, jj = block.features(membership)
            k = int(membership.max()) + 1
            indicator = np.zeros((k, len(membership)))
            indicator[membership, np.arange(len(membership))] = 1.0
            blocked = (indicator @ cannot.astype(float) @ indicator.T) > 0
            logits = self.evidence(x) + prior
            logits[blocked[ii, jj]] = -np.inf
            best = int(np.argmax(logits))
            if not logits[best] > threshold:
                break
            keep, gone = int(ii[best]), int(jj[best])
            membership[membership == gone] = keep
            membership[membership > gone] -= 1
        return membership

    def describe(self) -> dict[str, object]:
        if self.ignored:
            return {**self._description(), "features_ignored": list(self.ignored)}
        return self._description()

    def _description(self) -> dict[str, object]:
        kind = ("gradient-boosted trees on synthetic homonyms cut in time"
                if self.classifier is not None else "hand-set rule" if self.hand_set
                else "none")
        return {"kind": kind, "training_pairs": self.training_pairs}
