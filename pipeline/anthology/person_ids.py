"""Proposed person ids, following the Anthology's conventions.

The slug of the name; when that is taken, a distinguishing suffix from the affiliation
("Tsinghua University" -> "tsinghua"), else the last four ORCID characters, else a number.
A proposed id is valid in both formats (the current one requires `[a-z][-a-z0-9]+`, checked
with the official library) and never collides with an id in `taken`. A slug that cannot start
such an id (empty for a punctuation-only name, or starting with a digit) gets `person-` in
front.
"""

from __future__ import annotations

import re
from collections.abc import Container

from acl_anthology.utils.ids import is_verified_person_id
from slugify import slugify

# Words that do not distinguish one institution from another.
GENERIC_WORDS = frozenset("""
university universitat universite universidad universita universiteit college institute
institut instituto school department dept faculty of the and for de di da der des la le
du del national state research laboratory laboratories lab labs center centre
technology technical sciences science academy inc ltd corporation company group
""".split())
# First words of place names that say nothing alone ("New York University" -> "new-york").
PLACE_PREFIXES = frozenset("new san los las hong saint st santa sao rio".split())
STARTS_AN_ID = re.compile(r"[a-z][-a-z0-9]*")


def affiliation_suffix(affiliation: str | None) -> str | None:
    """The most distinctive word of an affiliation, slugified.

    >>> affiliation_suffix("Tsinghua University")
    'tsinghua'
    >>> affiliation_suffix("University of Edinburgh, School of Informatics")
    'edinburgh'
    >>> affiliation_suffix("University of the Department") is None
    True
    >>> affiliation_suffix("New York University")
    'new-york'
    """
    if not affiliation:
        return None
    first_part = re.split(r"[,;/(]", affiliation)[0]
    words = [w for w in slugify(first_part).split("-") if w and w not in GENERIC_WORDS]
    if not words and first_part != affiliation:
        words = [w for w in slugify(affiliation).split("-") if w and w not in GENERIC_WORDS]
    if not words:
        return None
    if words[0] in PLACE_PREFIXES and len(words) > 1:
        return f"{words[0]}-{words[1]}"
    return words[0]


def propose_id(slug: str, taken: Container[str], affiliation: str | None = None,
               orcid: str | None = None) -> str:
    """A new id for a person named `slug`, not in `taken` (the caller adds it there).

    >>> propose_id("yang-liu", {"yang-liu"}, "Tsinghua University")
    'yang-liu-tsinghua'
    >>> propose_id("yang-liu", {"yang-liu"}, None, "0000-0002-1825-0097")
    'yang-liu-0097'
    >>> propose_id("yang-liu", {"yang-liu", "yang-liu-2"})
    'yang-liu-3'
    >>> propose_id("", {"person"}), propose_id("42", set())
    ('person-2', 'person-42')
    """
    if not STARTS_AN_ID.fullmatch(slug):
        slug = f"person-{slug}".rstrip("-")
    candidates = [slug]
    suffix = affiliation_suffix(affiliation)
    if suffix:
        candidates.append(f"{slug}-{suffix}")
    if orcid:
        candidates.append(f"{slug}-{orcid[-4:].lower()}")
    for candidate in candidates:
        if candidate not in taken and is_verified_person_id(candidate):
            return candidate
    number = 2
    while f"{slug}-{number}" in taken:
        number += 1
    return f"{slug}-{number}"
