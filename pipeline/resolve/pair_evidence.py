"""Pair evidence one night keeps for the next (the nightly job's state, `pair_evidence.npz`).

For each name a night split: the fingerprint of each of its mentions
(`nightly/fingerprints.py`: the mention and its paper as read) and the evidence model's log
likelihood ratio of every pair of them. The next night, which reuses the same models, predicts
only the pairs with a new or changed mention and keeps the others' evidence; the prior (the
name's commonness) is applied afresh. Like the names a night does not split, the kept pairs do
not follow the snapshot-wide statistics that moved since (how rare a coauthor's name is, the
coauthor-of-coauthor graph); a full night catches up.

Stored as plain arrays in one `.npz`, read without pickle.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "pair-evidence-v1"


@dataclass(frozen=True)
class BlockEvidence:
    """One name: its mentions' fingerprints (block order) and the evidence of each pair
    (i < j, in `np.triu_indices` order)."""

    mentions: np.ndarray  # uint64
    evidence: np.ndarray  # float64, len(mentions) * (len(mentions) - 1) / 2

    def __post_init__(self) -> None:
        n = len(self.mentions)
        if len(self.evidence) != n * (n - 1) // 2:
            raise ValueError(f"{n} mentions need {n * (n - 1) // 2} pair values, "
                             f"not {len(self.evidence)}")


class PairEvidence:
    """The kept evidence of every name, by name slug."""

    def __init__(self, blocks: Mapping[str, BlockEvidence] | None = None) -> None:
        self.blocks = dict(sorted((blocks or {}).items()))

    def pairs(self) -> int:
        return sum(len(block.evidence) for block in self.blocks.values())

    def known(self, slug: str, mentions: np.ndarray) -> np.ndarray:
        """Evidence of the pairs (i < j, `np.triu_indices` order) of `mentions` (fingerprints,
        tonight's block order): the kept value where both mentions were in the name's block,
        NaN where a pair must be predicted (a pair with a `new_mentions` mention)."""
        n = len(mentions)
        out = np.full(n * (n - 1) // 2, np.nan)
        position = self._positions(slug, mentions)
        if position is None:
            return out
        kept = self.blocks[slug]
        ii, jj = np.triu_indices(n, 1)
        first, second = position[ii], position[jj]
        both = (first >= 0) & (second >= 0)
        low = np.minimum(first[both], second[both])
        high = np.maximum(first[both], second[both])
        m = len(kept.mentions)
        out[both] = kept.evidence[low * m - low * (low + 1) // 2 + high - low - 1]
        return out

    def new_mentions(self, slug: str, mentions: np.ndarray) -> np.ndarray:
        """Per mention of `mentions` (as for `known`): True where its pairs' evidence is not
        kept, so that `known` is NaN exactly for the pairs with such a mention."""
        position = self._positions(slug, mentions)
        return np.ones(len(mentions), dtype=bool) if position is None else position < 0

    def _positions(self, slug: str, mentions: np.ndarray) -> np.ndarray | None:
        """Each mention's position in the kept block (-1 if not there), or None when no pair
        of the block can be kept."""
        n = len(mentions)
        kept = self.blocks.get(slug)
        if kept is None or n < 2 or len(kept.mentions) < 2:
            return None
        position_of = {int(key): p for p, key in enumerate(kept.mentions.tolist())}
        if len(position_of) != len(kept.mentions):  # a repeated fingerprint: trust nothing
            return None
        if len(set(mentions.tolist())) != n:  # a repeated fingerprint tonight: likewise
            return None
        return np.array([position_of.get(int(key), -1) for key in mentions.tolist()],
                        dtype=np.int64)

    def updated(self, tonight: PairEvidence, recomputed: frozenset[str] | None
                ) -> PairEvidence:
        """Tonight's evidence, plus this (last night's) for the names not recomputed
        (`recomputed` None: every name was, so nothing of this is kept)."""
        kept = {} if recomputed is None else {
            slug: block for slug, block in self.blocks.items() if slug not in recomputed}
        return PairEvidence({**kept, **tonight.blocks})

    def to_bytes(self) -> bytes:
        """The `.npz` file's bytes (`load` reads them back)."""
        slugs = list(self.blocks)
        sizes = np.array([len(self.blocks[s].mentions) for s in slugs], dtype=np.int64)
        empty = (np.zeros(0, dtype=np.uint64), np.zeros(0))
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(FORMAT), slugs=np.array(slugs, dtype=str),
                 sizes=sizes,
                 mentions=np.concatenate([*(self.blocks[s].mentions for s in slugs),
                                          empty[0]]).astype(np.uint64),
                 evidence=np.concatenate([*(self.blocks[s].evidence for s in slugs),
                                          empty[1]]).astype(np.float64))
        return buffer.getvalue()

    @classmethod
    def load(cls, path: Path) -> PairEvidence:
        """Raises ValueError when the file is not one `to_bytes` wrote."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ValueError(f"{path}: cannot be read ({error.strerror or error})") from error
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ValueError(f"{path}: not an .npz archive")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in
                          ("format", "slugs", "sizes", "mentions", "evidence")}
        except Exception as error:  # whatever a damaged archive raises: predict again
            raise ValueError(f"{path}: cannot be read ({type(error).__name__}: {error})"
                             ) from error
        if arrays["format"].shape != () or str(arrays["format"]) != FORMAT:
            raise ValueError(f"{path}: written by another version ({arrays['format']!s:.40})")
        kinds = {"slugs": "U", "sizes": "i", "mentions": "u", "evidence": "f"}
        if any(arrays[key].ndim != 1 or arrays[key].dtype.kind != kind
               for key, kind in kinds.items()):
            raise ValueError(f"{path}: its arrays are not of the shapes and types written")
        slugs = [str(s) for s in arrays["slugs"]]
        sizes = arrays["sizes"].astype(np.int64)
        mentions = arrays["mentions"].astype(np.uint64)
        evidence = arrays["evidence"].astype(np.float64)
        pair_counts = sizes * (sizes - 1) // 2
        if len(slugs) != len(sizes) or len(set(slugs)) != len(slugs) or (sizes < 0).any() \
                or sizes.sum() != len(mentions) or pair_counts.sum() != len(evidence):
            raise ValueError(f"{path}: its arrays do not fit together")
        if not np.isfinite(evidence).all():
            raise ValueError(f"{path}: holds evidence that is not a finite number")
        mention_ends = np.cumsum(sizes)
        pair_ends = np.cumsum(pair_counts)
        return cls({slug: BlockEvidence(mentions[m_end - size:m_end],
                                        evidence[p_end - count:p_end])
                    for slug, size, m_end, count, p_end in zip(
                        slugs, sizes.tolist(), mention_ends.tolist(), pair_counts.tolist(),
                        pair_ends.tolist())})

    def within(self, low: float, high: float) -> bool:
        """Every kept value lies in [low, high] (the evidence model's range), give or take
        rounding: anything else was not written by that model."""
        slack = 1e-6 * max(1.0, abs(low), abs(high))
        return all(block.evidence.min(initial=low) >= low - slack
                   and block.evidence.max(initial=high) <= high + slack
                   for block in self.blocks.values())
