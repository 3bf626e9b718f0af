"""The official acl-anthology library as the judge of exported data (tests only)."""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

from acl_anthology import Anthology

# Messages of collection load failures that concern persons; any other failure is a defect of
# the snapshot itself (e.g. a bibkey starting with "-"), unrelated to what we export.
PERSON_ERRORS = ("orcid", "person", "'_id'", "namespec")


def build_person_index(data_dir: Path) -> tuple[Anthology, dict[str, str]]:
    """Load every collection the library can parse and build its person index.

    Returns the Anthology and the collections left out with why; the caller asserts that
    none of them failed over person data.
    """
    skipped: dict[str, str] = {}
    with warnings.catch_warnings():
        # The snapshot's schema.rnc predates the library's; the library warns about that.
        warnings.simplefilter("ignore")
        anthology = Anthology(datadir=data_dir)
        for cid, collection in list(anthology.collections.items()):
            try:
                collection.load()
            except Exception as exc:  # noqa: BLE001 - the library raises plain ValueErrors
                skipped[cid] = f"{type(exc).__name__}: {exc}"
        for cid in skipped:
            del anthology.collections[cid]
        anthology.people.build()
    return anthology, skipped


def person_failures(skipped: dict[str, str]) -> dict[str, str]:
    return {cid: why for cid, why in skipped.items()
            if any(word in why.lower() for word in PERSON_ERRORS)}


def items_by_person(anthology: Anthology) -> dict[str, set[str]]:
    """Anthology ids of the papers (and volumes) each person owns, by person id."""
    from acl_anthology.utils.ids import build_id_from_tuple

    owned: dict[str, set[str]] = defaultdict(set)
    for pid, person in anthology.people.items():
        for item in person.item_ids:
            owned[pid].add(build_id_from_tuple(item))
    return owned
