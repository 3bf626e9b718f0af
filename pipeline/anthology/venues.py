"""Venues of volumes in snapshots whose XML has no `<venue>` elements.

Until 2020 the Anthology kept venues outside the XML: `yaml/venues_letters.yaml` maps the
letter of an old-style collection id (`P` in `P19`) to a venue acronym, and
`yaml/venues_joint_map.yaml` adds venues for particular volumes (`W18-50: [INLG, SIGDIAL]`).
Venue slugs are the acronyms slugified (`ACL` -> `acl`, `*SEMEVAL` -> `semeval`), the form
`<venue>` elements use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from slugify import slugify

from pipeline.errors import ProblemLog

log = logging.getLogger(__name__)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LETTERS_FILE = "yaml/venues_letters.yaml"
JOINT_MAP_FILE = "yaml/venues_joint_map.yaml"


def _read_mapping(path: Path, problems: ProblemLog) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.error(path, mark.line + 1 if mark is not None else None,
                       f"cannot be parsed as YAML: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.error(path, 1, "expected a mapping", type(data).__name__)
        return {}
    return {str(k): v for k, v in data.items()}


def _acronyms(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items if item is not None]


def venues_from_yaml(data_dir: Path, volume_ids: pd.Series, problems: ProblemLog
                     ) -> pd.Series | None:
    """Venue slugs ("a|b", sorted) per volume id from the yaml files, or None without them."""
    letters_path, joint_path = data_dir / LETTERS_FILE, data_dir / JOINT_MAP_FILE
    if not letters_path.is_file() and not joint_path.is_file():
        return None
    letters = _read_mapping(letters_path, problems) if letters_path.is_file() else {}
    joint = _read_mapping(joint_path, problems) if joint_path.is_file() else {}

    def venues_of(volume_id: str) -> str:
        acronyms: list[str] = []
        # Old-style ids: a letter, two digits, a dash (P19-1); new-style ids have no letter map.
        if len(volume_id) > 3 and volume_id[1:3].isdigit() and volume_id[3:4] == "-":
            acronyms += _acronyms(letters.get(volume_id[0]))
        acronyms += _acronyms(joint.get(volume_id))
        return "|".join(sorted({slugify(a) for a in acronyms if slugify(a)}))

    return volume_ids.map(venues_of)


def add_venues(tables: dict[str, pd.DataFrame], data_dir: Path, problems: ProblemLog) -> None:
    """Fill the `venues` columns from the yaml files when no volume names a `<venue>`."""
    volumes = tables["volumes"]
    if (volumes["venues"].fillna("") != "").any():
        return
    by_volume = venues_from_yaml(data_dir, volumes["volume"], problems)
    if by_volume is None or not (by_volume != "").any():
        problems.warning(data_dir, None, "no venue information: no <venue> elements in the "
                         f"XML and no {LETTERS_FILE} or {JOINT_MAP_FILE}; venue evidence is "
                         "not used")
        return
    venue_of = dict(zip(volumes["volume"], by_volume))
    log.info("venues of %d volumes read from %s and %s", int((by_volume != "").sum()),
             LETTERS_FILE, JOINT_MAP_FILE)
    volumes["venues"] = by_volume.to_numpy()
    for name in ("papers", "mentions"):
        table = tables[name]
        table["venues"] = table["volume"].map(venue_of).fillna("").to_numpy()


VENUES_DIR = "yaml/venues"


def venue_acronyms(data_dir: Path) -> dict[str, str]:
    """Venue slug -> acronym as people write it (`acl` -> `ACL`), from `yaml/venues/*.yaml`
    (one file per venue, named by its slug); empty where the snapshot has none. A file that
    cannot be read only loses its acronym: this is for display."""
    acronyms: dict[str, str] = {}
    for path in sorted((data_dir / VENUES_DIR).glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("acronym"), str):
            acronyms[path.stem] = data["acronym"]
    return acronyms
