"""What each name's split depends on, as one fingerprint per name slug.

A name's block reads its own mentions (paper, position, the name as written, id, ORCID,
affiliation, year, venues, the registry person the mention resolves to), the papers they are
on (title, abstract, year, venues and every coauthor; for a volume editor, the volume's front
matter: its title and every editor) and the registry entries carrying the name. A night
recomputes a name when this fingerprint changed; a new paper changes the fingerprint of each
of its authors, a registry edit that of each name of the person edited.

Snapshot-wide statistics (how rare a coauthor's name is, the coauthor-of-coauthor graph) are
not in it: they move a little with every volume, and following them would recompute every
name every night. A full run (`nightly --full`, or any change of code or settings) catches up.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from pipeline.anthology.content_hashes import COLUMN as CONTENT_HASH
from pipeline.anthology.content_hashes import row_hashes
from pipeline.anthology.registry import Registry
from pipeline.anthology.snapshot import Snapshot

# Filled in after parsing, so not in the mentions' content hashes: the venues (of the
# mention's volume, so of its paper too), the ORCID that identifies someone, the registry
# person.
AFTER_PARSING = [CONTENT_HASH, "venues", "orcid", "person"]


def _registry_hashes(registry: Registry) -> pd.Series:
    """Per slug: a hash of every registry entry carrying a name of that slug."""
    entries: dict[str, list[str]] = {}
    for pid, person in sorted(registry.persons.items()):
        for slug in sorted({name.slug for name in person.names}):
            # Where the entry sits in its file is not part of it: a line added above it
            # would otherwise change every later entry's names.
            entries.setdefault(slug, []).append(f"{pid}\x1f{replace(person, line=None)!r}")
    if not entries:
        return pd.Series(dtype="uint64")
    texts = pd.Series({slug: "\x1e".join(items) for slug, items in entries.items()})
    return pd.Series(row_hashes(texts), index=texts.index)


def mention_fingerprints(snapshot: Snapshot) -> np.ndarray:
    """Per mention row: a uint64 hash of the mention and of the paper it is on (title,
    abstract, year, venues, every coauthor). Two mentions whose fingerprints did not change
    since the last night have the same pair features, up to the snapshot-wide statistics."""
    return row_hashes(snapshot.mentions[AFTER_PARSING])


def name_fingerprints(snapshot: Snapshot, mention_hashes: np.ndarray | None = None
                      ) -> pd.Series:
    """Per name slug (sorted): a 16-hex-digit fingerprint of everything its split reads.
    `mention_hashes`: `mention_fingerprints(snapshot)`, if already computed."""
    mentions = snapshot.mentions
    if mention_hashes is None:
        mention_hashes = mention_fingerprints(snapshot)
    # A sum is the same whatever the order of the mentions; uint64 arithmetic wraps around.
    # Factorized as Arrow strings (a fifth of the time), then indexed as Python strings
    # (union and lookup a third of the time).
    codes, slugs = pd.factorize(mentions["slug"], sort=True)
    slug_index = pd.Index(np.asarray(slugs, dtype=object))
    registry = _registry_hashes(snapshot.registry)
    index = slug_index.union(registry.index)
    sums = np.zeros(len(index), dtype=np.uint64)
    np.add.at(sums, index.get_indexer(slug_index)[codes], mention_hashes.astype(np.uint64))
    np.add.at(sums, index.get_indexer(registry.index), registry.to_numpy(dtype=np.uint64))
    return pd.Series([f"{int(value):016x}" for value in sums], index=index, dtype=object)


def changed_names(before: dict[str, str], now: pd.Series) -> frozenset[str]:
    """Slugs whose fingerprint differs, that are new, or that are gone."""
    now_map = dict(zip(map(str, now.index.tolist()), map(str, now.tolist())))
    return frozenset([slug for slug, value in now_map.items() if before.get(slug) != value]
                     + [slug for slug in before if slug not in now_map])
