"""A hash of each parsed row's content, taken when its volume file is parsed and cached with
the row (`content_hash` of the mention and paper tables).

The nightly job's fingerprints (`nightly/fingerprints.py`) start from these, so a night
hashes the rows of the files it parses, not the whole snapshot's (about 1 s of every night on
the shared snapshot). A mention's hash covers its fields as written and the paper it reads
(title, abstract, year, every coauthor; for a volume editor, the volume's front matter):
that paper is always in the mention's own volume file. What is filled in after parsing
(venues from the venue files, usable ORCIDs, registry persons) is not in it: the
fingerprints add those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.anthology.paper_rows import paper_rows

COLUMN = "content_hash"
MENTION_FIELDS = ["paper", "role", "position", "first", "last", "id", "orcid", "affiliation",
                  "variant_first", "variant_last", "variant_script", "year"]
PAPER_FIELDS = ["paper", "title", "abstract", "year"]


def row_hashes(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """A uint64 per row of `frame`. Each column is hashed as it is typed (a missing value
    hashes apart from any string); turning them into strings first took twice as long."""
    hashes: np.ndarray = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
    return hashes


def _frame(table: pa.Table, fields: list[str]) -> pd.DataFrame:
    # Typed as the snapshot's tables are (`snapshot._to_pandas`).
    mapper = {pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    frame: pd.DataFrame = table.select(fields).to_pandas(types_mapper=mapper)
    return frame


def content_hashes(mentions: pa.Table, papers: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The `content_hash` of each mention and each paper of the same volume files."""
    paper_frame = _frame(papers, PAPER_FIELDS)
    # Coauthors in any order: where each one stands is in the mentions' own fields.
    paper_frame["authors"] = [
        "|".join(sorted(names)) for names in papers.column("authors").to_pylist()]
    paper_hashes = row_hashes(paper_frame)
    mention_frame = _frame(mentions, MENTION_FIELDS)
    position = _paper_in_own_file(mentions, papers)
    on_paper = np.zeros(len(position), dtype=np.uint64)  # 0: no paper (editors, no front matter)
    on_paper[position >= 0] = paper_hashes[position[position >= 0]]
    mention_frame["on_paper"] = on_paper
    return row_hashes(mention_frame), paper_hashes


def _paper_in_own_file(mentions: pa.Table, papers: pa.Table) -> np.ndarray:
    """`paper_rows` within each file, and before the check that each volume is in one file
    (`snapshot.read_snapshot`): a paper id twice reads its first row."""
    def keyed(table: pa.Table) -> pd.DataFrame:
        paper = table.column("paper").to_pandas()
        return pd.DataFrame({"paper": table.column("file").to_pandas() + "/" + paper})

    keyed_papers = keyed(papers)
    first = ~keyed_papers["paper"].duplicated().to_numpy()
    rows = np.flatnonzero(first)
    found = paper_rows(keyed(mentions), keyed_papers[first])
    position = np.full(len(found), -1, dtype=np.int64)
    position[found >= 0] = rows[found[found >= 0]]
    return position
