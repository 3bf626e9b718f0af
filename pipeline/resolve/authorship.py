"""Who wrote what, as sparse matrices: computed once per run, shared by every stage.

The graph's authorship and coauthorship layers, the pair evidence and the ambiguity features
all read the same relations; they get them from one `Authorship` instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from pipeline.anthology.paper_rows import paper_rows

# Papers with more authors than this add no coauthorship: a 300-author collaboration says
# little about who works with whom.
MAX_AUTHORS_FOR_COAUTHORSHIP = 25


@dataclass(frozen=True)
class Authorship:
    slugs: pd.Index  # name slugs, sorted: the column order of the matrices
    mention_paper: np.ndarray  # row in the paper table of each mention (-1: volume editor)
    mention_slug: np.ndarray  # position in `slugs` of each mention's name
    incidence: sp.csr_matrix  # paper x slug: 1 where the name is on the paper
    coauthorship: sp.csr_matrix  # slug x slug: shared papers (small papers only), no diagonal

    @classmethod
    def build(cls, mentions: pd.DataFrame, papers: pd.DataFrame) -> Authorship:
        mention_paper = paper_rows(mentions, papers)
        codes, slugs = pd.factorize(mentions["slug"], sort=True)
        known = mention_paper >= 0
        incidence = sp.csr_matrix(
            (np.ones(int(known.sum())), (mention_paper[known], codes[known])),
            shape=(len(papers), len(slugs)))
        incidence.data[:] = 1.0  # a name twice on one paper is still one author
        authors = np.asarray(incidence.sum(axis=1)).ravel()
        small = sp.diags((authors <= MAX_AUTHORS_FOR_COAUTHORSHIP).astype(float)) @ incidence
        coauthorship = (small.T @ small).tocsr()
        coauthorship.setdiag(0)
        coauthorship.eliminate_zeros()
        return cls(pd.Index(slugs), mention_paper.astype(np.int64), codes.astype(np.int64),
                   incidence, coauthorship)

    def coauthor_components(self) -> pd.Series:
        """Per slug: connected components of its mentions linked by a shared coauthor name.

        Mentions and (name, coauthor) pairs form a bipartite graph; its components restricted
        to one name's mentions are that name's coauthor components.
        """
        n = len(self.mention_slug)
        valid = self.mention_paper >= 0
        rows = np.flatnonzero(valid)
        by_mention = self.incidence[self.mention_paper[rows]].tocoo()
        mention = rows[by_mention.row]
        coauthor = by_mention.col
        keep = coauthor != self.mention_slug[mention]
        mention, coauthor = mention[keep], coauthor[keep]
        authors = np.asarray(self.incidence.sum(axis=1)).ravel()
        keep = authors[self.mention_paper[mention]] <= MAX_AUTHORS_FOR_COAUTHORSHIP
        mention, coauthor = mention[keep], coauthor[keep]
        pair_key = self.mention_slug[mention] * len(self.slugs) + coauthor
        pair_node, _ = pd.factorize(pair_key)  # by hashing: half the time of np.unique
        size = n + int(pair_node.max(initial=-1)) + 1
        graph = sp.coo_matrix((np.ones(len(mention)), (mention, n + pair_node)),
                              shape=(size, size))
        _, labels = connected_components(graph, directed=False)
        per_name = pd.DataFrame({"slug": self.mention_slug, "component": labels[:n]})
        counts = per_name.drop_duplicates().groupby("slug").size()
        return pd.Series(counts.to_numpy(), index=self.slugs[counts.index], name="components")
