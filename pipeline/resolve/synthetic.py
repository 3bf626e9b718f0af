"""Training pairs the snapshot gives without any curation: synthetic homonyms.

A rare name (say "Wojciech Kryściński") is almost surely one person, and two rare names that
share a family name are surely two people who look alike on paper (same language, often the
same field). Merging the mentions of two such names into one block makes an ambiguous name
whose truth is known: pairs within one name are the same person, pairs across are not. For
the name-variant model (`distinct_strings`), two strings that may be one person's (Viet Lai
/ Viet Dac Lai, a variant by `variant_candidates.variant_kind`) are never paired: they would
teach it that two names sharing ten coauthors are two people (the pair model keeps its
draw: without those pairs the split measured no better; see README). The pair model learns what
the evidence says from these blocks; how common a name is enters only as a prior
(`pair_model.py`), since synthetic blocks say nothing about it.

Everything is seeded and sorted, so the same snapshot gives the same pairs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.anthology.names import name_slug
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.variant_candidates import NameTokens, variant_kind

# A name is "rare" when fewer than this many people are expected to share it by chance
# (exp(commonness), see ambiguity.name_commonness).
RARE_EXPECTED_PEOPLE = 0.05
MAX_MENTIONS_PER_NAME = 10  # sampled down: a prolific author must not dominate
MAX_BLOCKS = 2000


@dataclass(frozen=True)
class SyntheticBlocks:
    """Blocks keyed "name-a+name-b"; `rows` are mention row positions, `name` which of the
    two names each row has (0 or 1)."""

    rows: dict[str, np.ndarray]
    name: dict[str, np.ndarray]

    def labels(self, key: str) -> np.ndarray:
        """Same-person label of each upper-triangle pair of the block."""
        side = self.name[key]
        ii, jj = np.triu_indices(len(side), 1)
        same: np.ndarray = side[ii] == side[jj]
        return same


def synthetic_blocks(mentions: pd.DataFrame, commonness: pd.Series, authorship: Authorship,
                     exclude: set[str] | frozenset[str] = frozenset(), seed: int = 0,
                     max_blocks: int = MAX_BLOCKS, distinct_strings: bool = False
                     ) -> SyntheticBlocks:
    """Pairs of rare author names with one family name and no shared paper, merged.

    `exclude`: names never used (e.g. the names being evaluated). `distinct_strings`: never
    pair two strings that may be one person's (for the name-variant model).
    """
    return synthetic_draws(mentions, commonness, authorship, exclude, seed, max_blocks,
                           (distinct_strings,))[0]


def synthetic_draws(mentions: pd.DataFrame, commonness: pd.Series, authorship: Authorship,
                    exclude: set[str] | frozenset[str] = frozenset(), seed: int = 0,
                    max_blocks: int = MAX_BLOCKS,
                    distinct_strings: tuple[bool, ...] = (False, True),
                    seeds: tuple[int, ...] | None = None) -> list[SyntheticBlocks]:
    """`synthetic_blocks` once per value of `distinct_strings`, each the same as a call of its
    own (a fresh generator of `seeds[k]`, by default `seed`, each), sharing the work all
    draws need."""
    if seeds is None:
        seeds = (seed,) * len(distinct_strings)
    if len(seeds) != len(distinct_strings):
        raise ValueError("one seed per draw")
    # Names by their integer code in `authorship.slugs` (sorted, so code order is slug
    # order): hashing and sorting strings cost most of this function's time.
    assert len(authorship.mention_slug) == len(mentions), "authorship of other mentions"
    nothing = [SyntheticBlocks({}, {}) for _ in distinct_strings]
    names = authorship.slugs
    codes = authorship.mention_slug
    authors = mentions["role"].to_numpy() == "author"
    rare = np.zeros(len(names), dtype=bool)
    rare_found = names.get_indexer(commonness.index[
        commonness.to_numpy() < np.log(RARE_EXPECTED_PEOPLE)])
    rare[rare_found[rare_found >= 0]] = True
    excluded = names.get_indexer(pd.Index(sorted(exclude)))
    rare[excluded[excluded >= 0]] = False
    eligible = rare & (np.bincount(codes[authors], minlength=len(names)) >= 2)
    if not eligible.any():
        return nothing
    chosen = np.flatnonzero(authors & eligible[codes])
    chosen_codes, first_rows = np.unique(codes[chosen], return_index=True)
    first_mention = chosen[first_rows]  # each eligible name's first author mention
    name_of = dict(zip(names[chosen_codes].tolist(),
                       zip(mentions["first"].to_numpy(dtype=object)[first_mention].tolist(),
                           mentions["last"].to_numpy(dtype=object)[first_mention].tolist())))
    families: dict[str, list[str]] = {}
    for slug, (_, last) in name_of.items():
        families.setdefault(name_slug(None, last), []).append(slug)
    by_family = [sorted(group) for _, group in sorted(families.items()) if len(group) >= 2]
    candidates = np.zeros(len(names), dtype=bool)
    candidates[names.get_indexer(pd.Index([s for group in by_family for s in group]))] = True
    if not candidates.any():
        return nothing
    positions = np.flatnonzero(authors & candidates[codes])
    order = positions[np.argsort(codes[positions], kind="stable")]
    boundaries = np.flatnonzero(codes[order][1:] != codes[order][:-1]) + 1
    slug_of = names.tolist()
    rows_of = {str(slug_of[codes[rows[0]]]): rows for rows in np.split(order, boundaries)}
    paper_sets = {slug: set(authorship.mention_paper[rows].tolist())
                  for slug, rows in rows_of.items()}
    tokens: dict[str, NameTokens] = {}  # only of names drawn: most are never asked for

    def tokens_of(slug: str) -> NameTokens:
        if slug not in tokens:
            first, last = name_of[slug]
            tokens[slug] = NameTokens.of(first if isinstance(first, str) else "", last)
        return tokens[slug]

    @functools.cache  # a small family's pairs recur across draws
    def may_be_one_person(first: str, second: str) -> bool:
        return variant_kind(tokens_of(first), tokens_of(second)) is not None

    draws = []
    for distinct, draw_seed in zip(distinct_strings, seeds):
        rng = np.random.default_rng(draw_seed)
        pairs: list[tuple[str, str]] = []
        for group in by_family:
            permuted = [group[i] for i in rng.permutation(len(group))]
            for a, b in zip(permuted[::2], permuted[1::2]):
                first, second = sorted((a, b))
                if not paper_sets[first] & paper_sets[second] and not (
                        distinct and may_be_one_person(first, second)):
                    pairs.append((first, second))
        if len(pairs) > max_blocks:
            pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), max_blocks,
                                                         replace=False))]
        rows: dict[str, np.ndarray] = {}
        name: dict[str, np.ndarray] = {}
        for first, second in pairs:
            parts = [_sample(rows_of[s], rng) for s in (first, second)]
            key = f"{first}+{second}"
            rows[key] = np.concatenate(parts).astype(np.int64)
            name[key] = np.repeat([0, 1], [len(p) for p in parts])
        draws.append(SyntheticBlocks(rows, name))
    return draws


def _sample(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(rows) <= MAX_MENTIONS_PER_NAME:
        return np.asarray(rows)
    return np.sort(rng.choice(rows, MAX_MENTIONS_PER_NAME, replace=False))
