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

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import normalize

from pipeline.resolve.evidence import EvidenceContext, MentionVectors
from pipeline.resolve.pair_model import FALLBACK_INTERCEPT, FALLBACK_WEIGHTS
from pipeline.resolve.synthetic import SyntheticBlocks

CLUSTER_FEATURES = (
    "shared_coauthors_idf", "shared_coauthor_count", "two_hop_cosine", "affiliation_cosine",
    "both_affiliations", "text_cosine", "venue_jaccard", "year_gap", "years_both_active",
    "smaller_size", "larger_size",
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
    def of(cls, context: EvidenceContext, rows: np.ndarray) -> PooledBlock:
        vectors = context.mention_vectors(rows)
        codes = context.mention_affiliation[rows]
        has = codes >= 0
        width = context.affiliation_vectors.shape[1]
        if has.any():
            affiliation = sp.csr_matrix(context.affiliation_vectors[np.where(has, codes, 0)])
            affiliation = sp.diags(has.astype(float)) @ affiliation
        else:
            affiliation = sp.csr_matrix((len(rows), width))
        venue_sets = [context.mention_venues[i] for i in rows]
        names = sorted({v for vs in venue_sets for v in vs})
        column = {v: i for i, v in enumerate(names)}
        vr = [i for i, vs in enumerate(venue_sets) for _ in vs]
        vc = [column[v] for vs in venue_sets for v in vs]
        venues = sp.csr_matrix((np.ones(len(vr)), (vr, vc)),
                               shape=(len(rows), max(1, len(names))))
        return cls(vectors, context.mention_year[rows], sp.csr_matrix(affiliation), has, venues)

    def features(self, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of every pair of groups (upper triangle) and the pairs' group numbers."""
        k = int(membership.max()) + 1
        n = len(membership)
        pool = sp.csr_matrix((np.ones(n), (membership, np.arange(n))), shape=(k, n))
        coauthor = (pool @ self.vectors.coauthor).tocsr()
        coauthor.data[:] = 1.0
        weighted = (pool @ self.vectors.weighted_coauthor).tocsr()
        weighted.data = np.where(weighted.data > 0, 1.0, 0.0)
        idf = np.asarray(self.vectors.weighted_coauthor.max(axis=0).todense()).ravel()
        weighted = weighted @ sp.diags(idf)
        two_hop = normalize(pool @ self.vectors.two_hop)
        text = normalize(pool @ self.vectors.text)
        affiliation = normalize(pool @ self.affiliation)
        has_affiliation = (pool @ self.has_affiliation.astype(float)) > 0
        venues = (pool @ self.venues).tocsr()
        venues.data[:] = 1.0
        sizes = np.asarray(pool.sum(axis=1)).ravel()
        known = np.where(self.years >= 0, self.years, np.nan)
        first = np.array([np.nanmin(known[membership == g], initial=np.inf) for g in range(k)])
        last = np.array([np.nanmax(known[membership == g], initial=-np.inf) for g in range(k)])

        ii, jj = np.triu_indices(k, 1)
        shared_idf = np.asarray((weighted @ coauthor.T).todense())[ii, jj]
        shared_count = np.asarray((coauthor @ coauthor.T).todense())[ii, jj]
        inter = np.asarray((venues @ venues.T).todense())
        venue_sizes = np.diag(inter)
        union = venue_sizes[:, None] + venue_sizes[None, :] - inter
        venue_j = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)[ii, jj]
        both = has_affiliation[ii] & has_affiliation[jj]
        aff_cos = np.where(both, np.asarray((affiliation @ affiliation.T).todense())[ii, jj],
                           0.0)
        overlap = np.minimum(last[ii], last[jj]) - np.maximum(first[ii], first[jj])
        valid = np.isfinite(overlap)
        gap = np.where(valid, np.maximum(-overlap, 0.0), 10.0)
        both_active = np.where(valid, np.maximum(overlap + 1, 0.0), 0.0)
        columns = [
            np.log1p(shared_idf), np.log1p(shared_count),
            np.asarray((two_hop @ two_hop.T).todense())[ii, jj], aff_cos, both.astype(float),
            np.asarray((text @ text.T).todense())[ii, jj], venue_j, np.minimum(gap, 30.0),
            np.minimum(both_active, 30.0), np.log(np.minimum(sizes[ii], sizes[jj])),
            np.log(np.maximum(sizes[ii], sizes[jj])),
        ]
        return np.column_stack(columns).astype(np.float64), ii, jj


# Hand-set log likelihood ratios on pooled features: the pair rule's weights
# (`pair_model.FALLBACK_WEIGHTS`), plus a penalty per year both clusters are active with
# different affiliations (two jobs at once is unlikely; one lab, two namesakes is not).
CONFLICT_PER_YEAR = -0.5


@dataclass
class ClusterModel:
    """Log likelihood ratio that two clusters of one name are one person: a classifier
    learnt from synthetic homonyms, else (`hand_set`) the hand-set rule, else never merge."""

    classifier: HistGradientBoostingClassifier | None = None
    training_pairs: int = 0
    hand_set: bool = False

    @classmethod
    def fit(cls, context: EvidenceContext, synthetic: SyntheticBlocks, seed: int = 0
            ) -> ClusterModel:
        """Learn from synthetic homonyms, each name cut in two by time."""
        xs, ys, weights = [], [], []
        for key, rows in synthetic.rows.items():
            side = synthetic.name[key]
            years = context.mention_year[rows]
            membership = np.zeros(len(rows), dtype=np.int64)
            for name in (0, 1):
                members = np.flatnonzero(side == name)
                order = members[np.argsort(years[members], kind="stable")]
                half = (len(order) + 1) // 2
                membership[order[:half]] = 2 * name
                membership[order[half:]] = 2 * name + 1
            x, ii, jj = PooledBlock.of(context, rows).features(membership)
            same = (ii // 2) == (jj // 2)
            xs.append(x)
            ys.append(same)
            weights.append(np.where(same, 1.0 / max(1, same.sum()),
                                    1.0 / max(1, (~same).sum())))
        if not xs or sum(len(y) for y in ys) < MIN_TRAINING_PAIRS:
            return cls(hand_set=True)
        x, y = np.vstack(xs), np.concatenate(ys)
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=15, random_state=seed)
        classifier.fit(x, y, sample_weight=np.concatenate(weights))
        return cls(classifier, len(y))

    def evidence(self, features: np.ndarray) -> np.ndarray:
        if self.classifier is None:
            weights = np.array([FALLBACK_WEIGHTS[n] for n in CLUSTER_FEATURES[:8]])
            column = {n: i for i, n in enumerate(CLUSTER_FEATURES)}
            conflict = (features[:, column["both_affiliations"]]
                        * (features[:, column["affiliation_cosine"]] < 0.5)
                        * features[:, column["years_both_active"]])
            return np.asarray(features[:, :8] @ weights + FALLBACK_INTERCEPT
                              + CONFLICT_PER_YEAR * conflict, dtype=np.float64)
        probability = np.clip(self.classifier.predict_proba(features)[:, 1], 1e-6, 1 - 1e-6)
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
        kind = ("gradient-boosted trees on synthetic homonyms cut in time"
                if self.classifier is not None else "hand-set rule" if self.hand_set
                else "none")
        return {"kind": kind, "training_pairs": self.training_pairs}
