"""Hiding the curation from the pipeline: the evaluated names lose their ids and ORCIDs."""

from __future__ import annotations

import pandas as pd


def blind(mentions: pd.DataFrame, blocks: list[str]) -> pd.DataFrame:
    """A copy whose mentions of the given names carry no id and no ORCID."""
    hidden = mentions["slug"].isin(blocks)
    out = mentions.copy()
    out["id"] = out["id"].where(~hidden, None)
    out["orcid"] = out["orcid"].where(~hidden, None)
    return out
