"""From mentions to person clusters, name by name: pair features, the pair model, Leiden.

This is the shared core of `resolve` and `evaluate`:
0. `prepare_evidence`: the steps both take before splitting (name commonness, each name's
   mention rows, the evidence context, the pair features of every name to split);
1. `BlockFeatures.compute`: for every name (slug) to work on, the pair features of all its
   mention pairs (upper triangle), from the evidence context (a night: of the pairs with a
   new mention only);
2. `training_data`: gold pairs of curated blocks, for the pair model;
3. `cluster_blocks`: pair log-odds from a model, constraints from ids/ORCIDs/papers, then
   `split.split_block` per name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.anthology.columns import isin
from pipeline.parallel import contiguous_chunks, forked_map
from pipeline.progress import progress_bar
from pipeline.resolve.ambiguity import name_commonness
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.cluster_merge import ClusterModel, PooledBlock
from pipeline.resolve.evidence import (
    EvidenceContext,
    MentionVectors,
    pair_matrix,
    without_evidence,
)
from pipeline.resolve.evidence_kinds import FEATURE_NAMES
from pipeline.resolve.pair_model import COMMONNESS_COLUMN, PairModel
from pipeline.resolve.placement import placement_of
from pipeline.resolve.split import Constraints, cannot_link, confidence_of, split_block
from pipeline.resolve.synthetic import SyntheticBlocks


@dataclass
class BlockFeatures:
    """Upper-triangle pair features of each block, keyed by slug."""

    rows: dict[str, np.ndarray]  # mention row positions of each block
    features: dict[str, np.ndarray]  # (n*(n-1)/2) x n_features, float32

    @classmethod
    def compute(cls, context: EvidenceContext, block_rows: dict[str, np.ndarray],
                commonness: pd.Series, show_progress: bool = False, workers: int = 1,
                new: Mapping[str, np.ndarray] | None = None) -> BlockFeatures:
        """`workers`: processes that compute them (`parallel.py`; the same features with any
        number: every feature of a pair depends only on its two mentions). `new`: per slug,
        which of its mentions (block order) are new; only the pairs with a new mention get
        features, the others NaN but for the name prior (the nightly job keeps their
        evidence). A slug not in `new` gets every pair's."""
        features: dict[str, np.ndarray] = {
            slug: np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
            for slug, rows in block_rows.items() if len(rows) < 2
        }
        multi = {slug: rows for slug, rows in block_rows.items() if len(rows) > 1}
        if not multi:
            return cls(dict(block_rows), features)
        rows = np.concatenate(list(multi.values()))
        batches = list(_batches(multi, BATCH_ROWS if new is None else NEW_BATCH_ROWS))
        costs = [float(stop - start) ** 2 for _, (start, stop) in batches]
        if sum(len(r) * (len(r) - 1) // 2 for r in multi.values()) < MIN_FORKED_WORK:
            workers = 1  # not worth a fork
        # In one process too, a few chunks: the progress bar moves with each.
        chunks = contiguous_chunks(costs, CHUNKS_PER_WORKER * max(workers, 1))

        def chunk_features(number: int) -> dict[str, np.ndarray]:
            chosen = batches[chunks[number].start:chunks[number].stop]
            offset = chosen[0][1][0]
            vectors = context.mention_vectors(rows[offset:chosen[-1][1][1]])
            out: dict[str, np.ndarray] = {}
            for batch, (start, stop) in chosen:
                fresh = np.concatenate([new[slug] if new is not None and slug in new
                                        else np.ones(b - a, dtype=bool) for slug, (a, b) in batch])
                if fresh.all():
                    similarities = context.similarities(vectors, start - offset, stop - offset)
                    for slug, (a, b) in batch:
                        ii, jj = np.triu_indices(b - a, 1)
                        out[slug] = pair_matrix(
                            similarities, ii + a - start, jj + a - start,
                            float(commonness.get(slug, 0.0))).astype(np.float32)
                else:
                    out.update(_pairs_with_new(context, vectors, batch, start, offset, fresh,
                                               commonness))
            return out

        with forked_map(chunk_features, len(chunks), workers) as results, progress_bar(
                "Pair evidence", total=len(block_rows), enabled=show_progress) as advance:
            advance(len(features))
            for part in results:
                features.update(part)
                advance(len(part))
        return cls(dict(block_rows), {slug: features[slug] for slug in block_rows})

    def without(self, kinds: tuple[str, ...]) -> BlockFeatures:
        """A copy whose features lack the given evidence kinds (the ablation)."""
        if not kinds:
            return self
        return BlockFeatures(self.rows, {slug: without_evidence(x, kinds)
                                         for slug, x in self.features.items()})


def _pairs_with_new(context: EvidenceContext, vectors: MentionVectors,
                    batch: list[tuple[str, tuple[int, int]]], start: int, offset: int,
                    fresh: np.ndarray, commonness: pd.Series) -> dict[str, np.ndarray]:
    """`BlockFeatures.compute` for a batch of which only the `fresh` mentions are new: the
    features of each pair with a new mention, the others NaN but for the name prior. One
    product of every mention with the new ones: a pair (i, j) whose new mention is i reads
    the entry (j, i), equal to (i, j) since every feature is symmetric (the sums run over
    the same terms; tested equal to the square matrices' to the bit)."""
    width = len(FEATURE_NAMES)
    prior_column = FEATURE_NAMES.index("name_commonness")
    new_positions = np.flatnonzero(fresh)
    slot = np.full(len(fresh), -1)
    slot[new_positions] = np.arange(len(new_positions))
    local = (start - offset, start - offset + len(fresh))
    with_new = context.similarities(vectors, *local, right=new_positions) \
        if len(new_positions) else {}
    out: dict[str, np.ndarray] = {}
    for slug, (a, b) in batch:
        ii, jj = np.triu_indices(b - a, 1)
        ii, jj = ii + a - start, jj + a - start
        prior = float(commonness.get(slug, 0.0))
        features = np.full((len(ii), width), np.nan, dtype=np.float32)
        features[:, prior_column] = prior
        # The new mention of each such pair gives the column, the other the row.
        wanted = fresh[ii] | fresh[jj]
        new_one = np.where(fresh[jj], jj, ii)[wanted]
        other = np.where(fresh[jj], ii, jj)[wanted]
        if wanted.any():
            features[wanted] = pair_matrix(with_new, other, slot[new_one],
                                           prior).astype(np.float32)
        out[slug] = features
    return out


# Small names are batched: one sparse product per batch of about this many mentions.
# Larger batches waste work on cross-name pairs (measured: 100 beats 50 and 250).
BATCH_ROWS = 100
# Where only the pairs with a new mention are wanted, a batch's products have a column per
# new mention only: larger batches cost little more and save the products' fixed cost.
NEW_BATCH_ROWS = 1000

# Below this much work (pairs) a stage runs in one process: forking and sending the results
# back cost more than they save.
MIN_FORKED_WORK = 200_000.0
# What splitting a name costs besides its pairs, in pairs (measured on the shared snapshot:
# about 0.2 ms a name for the constraints, Leiden and the placement; 0.5 us a pair).
PER_NAME_WORK = 400.0
# Work is cut into this many chunks per worker, so that one slow chunk does not leave the
# other workers idle at the end.
CHUNKS_PER_WORKER = 8


def _batches(blocks: dict[str, np.ndarray], batch_rows: int = BATCH_ROWS
             ) -> Iterator[tuple[list[tuple[str, tuple[int, int]]], tuple[int, int]]]:
    """Consecutive blocks grouped until a batch holds about BATCH_ROWS mentions."""
    batch: list[tuple[str, tuple[int, int]]] = []
    position = batch_start = 0
    for slug, rows in blocks.items():
        if batch and position + len(rows) - batch_start > batch_rows:
            yield batch, (batch_start, position)
            batch, batch_start = [], position
        batch.append((slug, (position, position + len(rows))))
        position += len(rows)
    if batch:
        yield batch, (batch_start, position)


def synthetic_training_data(blocks: BlockFeatures, synthetic: SyntheticBlocks
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, same-person labels and block numbers of every synthetic pair."""
    xs, ys, bs = [], [], []
    for number, key in enumerate(synthetic.rows):
        labels = synthetic.labels(key)
        xs.append(blocks.features[key].astype(np.float64))
        ys.append(labels)
        bs.append(np.full(len(labels), number))
    if not xs:
        return np.zeros((0, len(FEATURE_NAMES))), np.zeros(0, dtype=bool), np.zeros(0, int)
    return np.vstack(xs), np.concatenate(ys).astype(bool), np.concatenate(bs)


def learn_evidence(context: EvidenceContext, synthetic: SyntheticBlocks,
                   commonness: pd.Series, seed: int, without: tuple[str, ...] = (),
                   workers: int = 1) -> PairModel:
    """The pair model's evidence, learnt from the synthetic homonyms' pair features
    (less the evidence kinds in `without`); `workers` compute the features."""
    features = BlockFeatures.compute(context, synthetic.rows, commonness,
                                     workers=workers).without(without)
    return PairModel.fit_evidence(*synthetic_training_data(features, synthetic), seed=seed)


def training_data(blocks: BlockFeatures, gold: pd.Series, slugs: list[str]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, same-person labels and block numbers of the gold pairs in `slugs`."""
    xs, ys, bs = [], [], []
    labels = gold.to_numpy(dtype=object)
    for number, slug in enumerate(slugs):
        rows = blocks.rows[slug]
        n = len(rows)
        if n < 2:
            continue
        ii, jj = np.triu_indices(n, 1)
        block_labels = labels[rows]
        known = np.array([isinstance(x, str) for x in block_labels])
        keep = known[ii] & known[jj]
        if not keep.any():
            continue
        xs.append(blocks.features[slug][keep].astype(np.float64))
        ys.append(block_labels[ii[keep]] == block_labels[jj[keep]])
        bs.append(np.full(int(keep.sum()), number))
    if not xs:
        width = len(next(iter(blocks.features.values()), np.zeros((0, 0))).T)
        return np.zeros((0, width)), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    return np.vstack(xs), np.concatenate(ys).astype(bool), np.concatenate(bs)


@dataclass(frozen=True)
class ConstraintColumns:
    """The mention columns constraints are made of, as plain arrays (cheap to slice)."""

    paper: np.ndarray
    person_id: np.ndarray  # explicit id, None where absent or a catch-all
    orcid: np.ndarray

    @classmethod
    def of(cls, mentions: pd.DataFrame, catch_all: frozenset[str],
           registry_orcids: Mapping[str, str] | None = None) -> ConstraintColumns:
        """`registry_orcids` (person id -> the registry's ORCID of it): a mention with such
        an id and no ORCID of its own takes that ORCID, so that no mention with another
        ORCID joins it; and a mention with that ORCID and no id takes that person's id, so
        that no mention with another id joins it."""
        implied = registry_orcids or {}
        holders: dict[str, list[str]] = {}
        for pid, orcid in implied.items():
            holders.setdefault(orcid, []).append(pid)
        owner = {orcid: pids[0] for orcid, pids in holders.items() if len(pids) == 1}
        # Column by column, with Python only on the rows an implied value may fill
        # (a loop over every row took 0.3 s, three times a run).
        n = len(mentions)
        has_orcid = mentions["orcid"].notna().to_numpy()
        orcid_column = np.full(n, None, dtype=object)
        orcid_column[has_orcid] = mentions["orcid"].to_numpy(dtype=object)[has_orcid]
        has_id = mentions["id"].notna().to_numpy() & ~isin(mentions["id"], catch_all)
        ids = np.full(n, None, dtype=object)
        ids[has_id] = mentions["id"].to_numpy(dtype=object)[has_id]
        if owner:
            by_orcid = np.flatnonzero(~has_id & has_orcid)
            ids[by_orcid] = [owner.get(o) for o in orcid_column[by_orcid].tolist()]
        orcids = orcid_column.copy()
        if implied:
            by_id = np.flatnonzero(~has_orcid & (ids != None))  # noqa: E711 (elementwise)
            orcids[by_id] = [implied.get(i) for i in ids[by_id].tolist()]
        return cls(mentions["paper"].to_numpy(dtype=object), ids, orcids)

    def block(self, rows: np.ndarray) -> Constraints:
        return Constraints(self.paper[rows], self.person_id[rows], self.orcid[rows])


def symmetric_matrix(pair_values: np.ndarray, n: int) -> np.ndarray:
    """The n x n matrix of values given for the pairs (i < j) in `np.triu_indices` order."""
    matrix = np.zeros((n, n))
    if n > 1:
        ii, jj = np.triu_indices(n, 1)
        matrix[ii, jj] = pair_values
        matrix[jj, ii] = pair_values
    return matrix


def logit_matrix(model: PairModel, features: np.ndarray, n: int) -> np.ndarray:
    if n < 2:
        return np.zeros((n, n))
    return symmetric_matrix(model.logits(features.astype(np.float64)), n)


# Pairs predicted per model call by `BlockLogits.prefetch` (bounds its memory: ~100 MB).
PREFETCH_PAIRS = 1_000_000


class BlockLogits:
    """Pair log-odds matrices of blocks under one pair model, each computed once (splitting
    the same names again, e.g. with other constraints, needs no new predictions).

    `known`: per slug, evidence already known for some of its pairs (NaN where not, as
    `PairEvidence.known` gives it; the nightly job's kept pairs): only the others are
    predicted. `evidence(slug)` gives a block's evidence, to be kept for the next night."""

    def __init__(self, model: PairModel, blocks: BlockFeatures,
                 known: Callable[[str], np.ndarray] | None = None) -> None:
        self.model = model
        self.blocks = blocks
        self.known = known
        self.predicted_pairs = 0
        self._evidence: dict[str, np.ndarray] = {}
        self._matrices: dict[str, np.ndarray] = {}

    def prefetch(self, slugs: Iterable[str]) -> None:
        """Compute the matrices of `slugs` with few model calls: each call has a fixed cost
        that, paid per name, outweighs the prediction itself when thousands of names are
        split. Row by row the predictions are the same as one block at a time."""
        todo = [slug for slug in dict.fromkeys(slugs)
                if slug not in self._matrices and len(self.blocks.rows[slug]) > 1]
        start = 0
        while start < len(todo):
            chunk: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            pairs = 0
            while start < len(todo) and (not chunk or pairs < PREFETCH_PAIRS):
                slug = todo[start]
                evidence, missing = self._known(slug)
                chunk[slug] = (evidence, missing)
                pairs += int(missing.sum())
                start += 1
            wanted = [self.blocks.features[slug][missing]
                      for slug, (_, missing) in chunk.items()]
            values = self.model.evidence(np.vstack(wanted).astype(np.float64)) \
                if pairs else np.zeros(0)
            self.predicted_pairs += pairs
            offset = 0
            for slug, (evidence, missing) in chunk.items():
                count = int(missing.sum())
                evidence[missing] = values[offset:offset + count]
                offset += count
                self._keep(slug, evidence)

    def _known(self, slug: str) -> tuple[np.ndarray, np.ndarray]:
        """The block's evidence as far as known (NaN elsewhere) and where it is missing."""
        pairs = len(self.blocks.features[slug])
        evidence = self.known(slug) if self.known is not None else np.full(pairs, np.nan)
        return evidence, np.isnan(evidence)

    def _keep(self, slug: str, evidence: np.ndarray) -> None:
        self._evidence[slug] = evidence
        commonness = self.blocks.features[slug][:, COMMONNESS_COLUMN].astype(np.float64)
        self._matrices[slug] = symmetric_matrix(self.model.logits_from(evidence, commonness),
                                                len(self.blocks.rows[slug]))

    def evidence(self, slug: str) -> np.ndarray | None:
        """The block's pair evidence, if its matrix was computed."""
        return self._evidence.get(slug)

    def __call__(self, slug: str) -> np.ndarray:
        if slug not in self._matrices:
            if len(self.blocks.rows[slug]) < 2:
                return np.zeros((len(self.blocks.rows[slug]),) * 2)
            self.prefetch([slug])
        return self._matrices[slug]


@dataclass(frozen=True)
class ClusterMerger:
    """What the cluster-level merge needs: the evidence context, name commonness and the
    cluster model (learnt from synthetic homonyms only, so never from curation)."""

    context: EvidenceContext
    commonness: pd.Series
    model: ClusterModel


def cluster_blocks(
    mentions: pd.DataFrame,
    blocks: BlockFeatures,
    slugs: list[str],
    model_for: Callable[[str], PairModel],
    catch_all: frozenset[str],
    resolution: float,
    seed: int,
    show_progress: bool = False,
    merger: ClusterMerger | None = None,
    logits_of: Callable[[str], np.ndarray] | None = None,
    registry_orcids: Mapping[str, str] | None = None,
    workers: int = 1,
    progress_label: str = "Splitting names",
) -> pd.DataFrame:
    """Cluster label ("slug#k") and confidence for every mention of the given names, with
    its nearest other cluster, margin and cluster confidence (`placement.py`); with a
    `merger`, clusters are then merged on their pooled evidence (`cluster_merge.py`).
    `logits_of`: the pair log-odds of a block, when already known (`BlockLogits`) under
    the model `model_for` gives; `registry_orcids`: see `ConstraintColumns.of`. `workers`:
    processes that split the names (`parallel.py`; the same output with any number)."""
    columns = ConstraintColumns.of(mentions, catch_all, registry_orcids)

    def split_names(names: range) -> _SplitRows:
        out = _SplitRows()
        for slug in slugs[names.start:names.stop]:
            rows = blocks.rows[slug]
            logits = (logits_of(slug) if logits_of is not None
                      else logit_matrix(model_for(slug), blocks.features[slug], len(rows)))
            constraints = columns.block(rows)
            cannot = cannot_link(constraints)
            result = split_block(logits, constraints, resolution=resolution, seed=seed,
                                 cannot=cannot)
            if merger is not None and result.membership.max(initial=0) >= 1:
                prior = model_for(slug).prior(float(merger.commonness.get(slug, 0.0)))
                membership = merger.model.merge(
                    PooledBlock.of(merger.context, rows), result.membership, cannot, prior)
                result = replace(result, membership=membership,
                                 confidence=confidence_of(logits, membership))
            papers = columns.paper[rows]
            out.conflicts.extend(
                f"{slug}: {c.describe(str(papers[c.first]), str(papers[c.second]))}"
                for c in result.conflicts)
            out.index.extend(rows.tolist())
            out.clusters.extend(f"{slug}#{k}" for k in result.membership.tolist())
            out.confidence.extend(result.confidence.tolist())
            placement = placement_of(logits, result.membership, cannot)
            out.nearest.extend(f"{slug}#{k}" if k >= 0 else ""
                               for k in placement.nearest.tolist())
            out.margin.extend(placement.margin.tolist())
            out.cluster_confidence.extend(placement.cluster_confidence.tolist())
        return out

    # Work per name grows with its pairs; small runs are not worth a fork. Workers must not
    # predict (scikit-learn's OpenMP code can hang in a fork): only log-odds computed here
    # before forking, and no cluster model, let them run.
    costs = [float(len(blocks.rows[slug])) ** 2 + PER_NAME_WORK for slug in slugs]
    if sum(costs) < MIN_FORKED_WORK or merger is not None \
            or not isinstance(logits_of, BlockLogits):
        workers = 1
    else:
        logits_of.prefetch(slugs)
    # In one process, a chunk per name, so that the progress bar moves with each.
    chunks = contiguous_chunks(costs, CHUNKS_PER_WORKER * workers) if workers > 1 \
        else [range(k, k + 1) for k in range(len(slugs))]
    split = _SplitRows()
    with forked_map(lambda number: split_names(chunks[number]), len(chunks),
                    workers) as results, progress_bar(
            progress_label, total=len(slugs), enabled=show_progress) as advance:
        for chunk, part in zip(chunks, results):
            split.extend(part)
            advance(len(chunk))
    table = pd.DataFrame({"cluster": split.clusters, "confidence": split.confidence,
                          "nearest": split.nearest, "margin": split.margin,
                          "cluster_confidence": split.cluster_confidence},
                         index=mentions.index[np.array(split.index, dtype=np.int64)])
    table.attrs["conflicts"] = split.conflicts
    return table


@dataclass
class _SplitRows:
    """What splitting a run of names gives, one entry per mention (conflicts per name)."""

    index: list[int] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    nearest: list[str] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    cluster_confidence: list[float] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def extend(self, other: _SplitRows) -> None:
        for name in ("index", "clusters", "confidence", "nearest", "margin",
                     "cluster_confidence", "conflicts"):
            getattr(self, name).extend(getattr(other, name))


def block_rows_of(mentions: pd.DataFrame, slugs: list[str]) -> dict[str, np.ndarray]:
    """Mention row positions of each given slug (in table order)."""
    unique = list(dict.fromkeys(slugs))
    codes = pd.Index(unique).get_indexer(pd.Index(mentions["slug"]))
    rows = np.flatnonzero(codes >= 0)
    by_slug = rows[np.argsort(codes[rows], kind="stable")]
    counts = np.bincount(codes[rows], minlength=len(unique))
    return dict(zip(unique, np.split(by_slug, np.cumsum(counts)[:-1])))


@dataclass
class PreparedEvidence:
    """What splitting needs for a set of names: rows, commonness, context and pair features."""

    commonness: pd.Series
    block_rows: dict[str, np.ndarray]
    context: EvidenceContext
    features: BlockFeatures


def prepare_evidence(mentions: pd.DataFrame, papers: pd.DataFrame, authorship: Authorship,
                     slugs: list[str], also_fit_on: list[np.ndarray] | None = None,
                     show_progress: bool = False, cache_dir: Path | None = None,
                     workers: int = 1) -> PreparedEvidence:
    """Pair features of every name in `slugs`.

    The affiliation vocabulary is fitted on the mentions of `slugs` and the extra rows of
    `also_fit_on` (e.g. the curated names a model will learn from); the text model covers
    every paper (cached in `cache_dir`).
    """
    commonness = name_commonness(mentions)
    block_rows = block_rows_of(mentions, slugs)
    focus = np.concatenate([*block_rows.values(), *(also_fit_on or []),
                            np.zeros(0, dtype=np.int64)])
    context = EvidenceContext.build(mentions, papers, authorship, focus=focus,
                                    cache_dir=cache_dir)
    features = BlockFeatures.compute(context, block_rows, commonness, show_progress, workers)
    return PreparedEvidence(commonness, block_rows, context, features)
