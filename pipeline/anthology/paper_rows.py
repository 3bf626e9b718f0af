"""Which paper each mention reads: the row of its paper in the paper table."""

from __future__ import annotations

import numpy as np
import pandas as pd


def paper_rows(mentions: pd.DataFrame, papers: pd.DataFrame) -> np.ndarray:
    """Row in `papers` of the paper each mention reads (-1: none). Volume editors sit on the
    volume id; their paper is the volume's front matter, if it has one."""
    paper_index = pd.Index(papers["paper"])
    mention_paper = paper_index.get_indexer(pd.Index(mentions["paper"]))
    frontmatter = paper_index.get_indexer(pd.Index(mentions["paper"] + ".0"))
    return np.asarray(np.where(mention_paper >= 0, mention_paper, frontmatter))
