"""ORCIDs as the official library stores them, and which ones count as identity.

An ORCID identifies one person only if it is valid: the XML holds a few with a bad checksum,
some placeholders shared by strangers (`0000-0000-0000-0000` on Zhai Yu and Shuo Lei in the
Nov 2025 snapshot). Those are read as no ORCID, with a warning naming the file, unless the
registry gives that very string to a person: then it pins its mentions as the registry says.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import pandas as pd
from acl_anthology.utils.attrs import convert_orcid
from acl_anthology.utils.ids import is_valid_orcid

from pipeline.anthology.volumes import mention_lines
from pipeline.errors import ProblemLog

ORCID_PATTERN = re.compile(r"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]")


def orcid_key(value: object) -> str | None:
    """An ORCID as the library stores it (upper case, no URL) if it has the shape of one,
    whatever its checksum; else None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    orcid = convert_orcid(value)
    return orcid if orcid is not None and ORCID_PATTERN.fullmatch(orcid) else None


def clean_orcid(value: object) -> str | None:
    """The ORCID as the library stores it (upper case, no URL), or None if invalid."""
    orcid = orcid_key(value)
    return orcid if orcid is not None and is_valid_orcid(orcid) else None


def usable_orcids(mentions: pd.DataFrame, registry_held: Collection[str],
                  problems: ProblemLog, xml_dir: Path | None = None) -> pd.Series:
    """The `orcid` column of `mentions` with each ORCID in the library's form, and those that
    identify nobody (invalid, and not held by a registry person) left out with a warning
    naming the mention, its file in `xml_dir` and its line."""
    raw = mentions["orcid"]
    present = raw.notna().to_numpy()
    if not present.any():
        return raw
    values = raw.astype(object).to_numpy(copy=True)
    invalid: list[int] = []
    for row in present.nonzero()[0]:
        text = values[row]
        orcid = clean_orcid(text)
        if orcid is None and (key := orcid_key(text)) in registry_held:
            orcid = key
        if orcid is None:
            invalid.append(int(row))
        values[row] = orcid
    _warn_of_invalid(mentions, invalid, problems, xml_dir)
    return pd.Series(values, index=mentions.index, name="orcid", dtype=object)


def _warn_of_invalid(mentions: pd.DataFrame, rows: list[int], problems: ProblemLog,
                     xml_dir: Path | None) -> None:
    """One warning per mention whose ORCID identifies nobody, with its file and line (the
    lines looked up in the few files that have one)."""
    chosen = mentions.iloc[rows]
    written = chosen["orcid"].tolist()
    for i, (paper, role, position), path, line in mention_lines(chosen, xml_dir):
        problems.warning(path, line, f"{role} {position} of {paper}: not a valid ORCID "
                         "(format or checksum); read as none", str(written[i]))
