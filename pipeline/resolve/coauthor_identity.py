"""Coauthors as persons: the name strings of one person count as one coauthor.

The variant decision compares two persons by their coauthors, and a coauthor is a name
string: a coauthor written "Rebecca F. Bruce" on one paper and "Rebecca Bruce" on another
is two coauthors, so two strings of one person who wrote with her under both share none.
Once a first round of merges has joined a coauthor's strings into one person, a second
round reads them as one coauthor (`variants.propose_variants`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.resolve.authorship import Authorship


@dataclass(frozen=True)
class CoauthorIdentity:
    """Per name slug (a column of the authorship matrices, `Authorship.slugs`): the slug
    that stands for its person as a coauthor, the first of the person's slugs in that order
    (the slug itself when its person has no other)."""

    representative: np.ndarray

    @classmethod
    def of(cls, authorship: Authorship, units: pd.Series, persons: list[list[str]]
           ) -> CoauthorIdentity:
        """Names are one coauthor when every mention of each is attributed to one and the
        same person: `units` (per mention row, `person_units`), joined into one by the
        merges `persons`. A name whose mentions are several persons (Yang Liu) stays a
        coauthor of its own.

        >>> import pandas as pd
        >>> from pipeline.resolve.authorship import Authorship
        >>> mentions = pd.DataFrame({"paper": ["a", "b", "c", "c", "d"], "role": "author",
        ...     "position": [0, 0, 0, 1, 0],
        ...     "slug": ["r-bruce", "rebecca-bruce", "yang-liu", "y-liu", "yang-liu"]})
        >>> papers = pd.DataFrame({"paper": ["a", "b", "c", "d"]})
        >>> authorship = Authorship.build(mentions, papers)
        >>> units = pd.Series(["r-bruce", "rebecca-bruce", "yang-liu/1", "y-liu", "yang-liu/2"])
        >>> identity = CoauthorIdentity.of(authorship, units, [["r-bruce", "rebecca-bruce"],
        ...                                                     ["y-liu", "yang-liu/1"]])
        >>> dict(zip(authorship.slugs, authorship.slugs[identity.representative]))
        {'r-bruce': 'r-bruce', 'rebecca-bruce': 'r-bruce', 'y-liu': 'y-liu', 'yang-liu': 'yang-liu'}
        """
        group = {unit: f"\0{k}" for k, members in enumerate(persons) for unit in members}
        person = [group.get(unit, unit) for unit in units.tolist()]
        pairs = pd.DataFrame({"slug": authorship.mention_slug, "person": person}
                             ).drop_duplicates()
        alone = pairs[~pairs["slug"].duplicated(keep=False)]  # names of one person only
        shared = alone[alone["person"].duplicated(keep=False)]  # persons of 2+ such names
        representative = np.arange(len(authorship.slugs))
        if len(shared):
            first = shared.groupby("person")["slug"].transform("min")
            representative[shared["slug"].to_numpy()] = first.to_numpy()
        return cls(representative)

    def joined(self) -> np.ndarray:
        """Per slug: whether another slug stands for the same person."""
        counts = np.bincount(self.representative, minlength=len(self.representative))
        return np.asarray(counts[self.representative] > 1)

    def moved(self, before: CoauthorIdentity) -> np.ndarray:
        """Per slug: whether it stands for another person than `before` said."""
        return np.asarray(self.representative != before.representative)


def near(authorship: Authorship, slugs: np.ndarray, hops: int = 2) -> np.ndarray:
    """Per slug: whether the name is one of `slugs` (a mask) or within `hops` shared papers
    of one. Two hops reach every name whose coauthor and coauthor-of-coauthor vectors read
    any of `slugs`, which an identity change there may change; one hop, those whose
    coauthor vectors do."""
    reached = slugs.astype(bool)
    incidence = authorship.incidence
    for _ in range(hops):
        papers = incidence @ reached.astype(np.float64) > 0
        reached = reached | (incidence.T @ papers.astype(np.float64) > 0)
    return np.asarray(reached)
