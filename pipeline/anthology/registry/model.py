"""The person registry: one `Person` model over the three formats the Anthology has used.

- `legacy`: `yaml/name_variants.yaml`, a list of `{canonical, variants, id, comment, ...}`;
- `people-yaml`: `yaml/people.yaml` (acl-anthology 1.0-1.2), a mapping id -> entry;
- `people-json`: `json/people.json` (acl-anthology 1.3+), the same mapping as JSON.

This module holds the model only. Readers and writers of each format live in `legacy.py` and
`current.py`, format detection in `files.py`, and who a mention is under each format's rules in
`rules.py`; all of them import this module and none of them is imported by it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pipeline.anthology.names import full_name, name_slug
from pipeline.errors import AnthologyResolveError

RegistryFormat = Literal["legacy", "people-yaml", "people-json"]
REGISTRY_FILES: dict[RegistryFormat, str] = {
    "people-json": "json/people.json",
    "people-yaml": "yaml/people.yaml",
    "legacy": "yaml/name_variants.yaml",
}
CATCH_ALL_COMMENT = "May refer to several people"  # what new catch-all entries say
# Both phrasings the registry uses for a catch-all ("several people": 73 entries, "multiple
# people": 17 in the 2025-11 snapshot), with or without quotes and a trailing full stop.
CATCH_ALL_PATTERN = re.compile(r"""["']?may refer to (several|multiple) (people|persons)\b""",
                               re.IGNORECASE)
UNVERIFIED_SUFFIX = "/unverified"


def unverified_id(slug: str) -> str:
    """The id the current formats give a name no verified person takes: `<slug>/unverified`."""
    return f"{slug}{UNVERIFIED_SUFFIX}"


@dataclass(frozen=True, order=True)
class Name:
    """A name string as written on papers: first ("" for a mononym) and last."""

    first: str
    last: str
    script: str | None = field(default=None, compare=False)

    @property
    def slug(self) -> str:
        return name_slug(self.first, self.last)

    def __str__(self) -> str:
        return full_name(self.first, self.last)

    def to_dict(self) -> dict[str, str]:
        """The registry's mapping form: `first` omitted for mononyms, `script` when set."""
        d = {"first": self.first, "last": self.last} if self.first else {"last": self.last}
        if self.script is not None:
            d["script"] = self.script
        return d


@dataclass(frozen=True)
class Person:
    """One registry entry. `names[0]` is the canonical name.

    `has_explicit_id` is False for legacy entries that define no `id` (their id is the slug of
    the canonical name). `extra` keeps keys the format does not define (e.g. legacy
    `institution`), so writers can keep them. `line` is where the entry starts in its file.
    """

    id: str
    names: tuple[Name, ...]
    orcid: str | None = None
    comment: str | None = None
    degree: str | None = None
    similar: tuple[str, ...] = ()
    disable_name_matching: bool = False
    has_explicit_id: bool = True
    extra: tuple[tuple[str, Any], ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def canonical(self) -> Name:
        return self.names[0]

    @property
    def is_catch_all(self) -> bool:
        """A placeholder for "several people" under one name, not a real person."""
        return CATCH_ALL_PATTERN.match((self.comment or "").strip()) is not None

    def with_changes(self, **changes: Any) -> Person:
        return replace(self, **changes)


class RegistryError(AnthologyResolveError):
    """The registry cannot be read or written."""


@dataclass
class Registry:
    """All persons of one registry file, in file order, and what is needed to rewrite it."""

    format: RegistryFormat
    path: Path
    persons: dict[str, Person]
    # Legacy only: original text of each entry and of the file's head, for byte-exact rewrites.
    source_head: str = ""
    source_entries: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, Person] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids_by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._verified_by_slug: dict[str, list[str]] = defaultdict(list)
        for pid, person in self.persons.items():
            self._index(pid, person)

    def _index(self, pid: str, person: Person) -> None:
        for name in person.names:
            key = (name.first, name.last)
            if pid not in self._ids_by_name[key]:
                self._ids_by_name[key].append(pid)
            if pid not in self._verified_by_slug[name.slug]:
                self._verified_by_slug[name.slug].append(pid)

    def ids_for_name(self, first: str, last: str) -> list[str]:
        """Ids of every person listing exactly this name (legacy matching)."""
        return list(self._ids_by_name.get((first, last), []))

    def catch_all_ids(self) -> frozenset[str]:
        """Ids of the catch-all entries ("may refer to several people")."""
        return frozenset(pid for pid, p in self.persons.items() if p.is_catch_all)

    def ids_for_slug(self, slug: str) -> list[str]:
        """Ids of every registry person with a name of this slug (current matching)."""
        return list(self._verified_by_slug.get(slug, []))

    def ambiguous_names(self) -> dict[str, list[str]]:
        """Names that match two or more persons under this format's matching rule.

        Legacy matches exact name strings (key "first last"); the current formats match
        name slugs (key: the slug).
        """
        if self.format == "legacy":
            return {full_name(*k): v for k, v in self._ids_by_name.items() if len(v) > 1}
        return {slug: ids for slug, ids in self._verified_by_slug.items() if len(ids) > 1}

    def copy(self) -> Registry:
        """An independent copy to change (persons are immutable, so a shallow copy is)."""
        return replace(self, persons=dict(self.persons))

    def replace_person(self, person: Person) -> None:
        """Replace the entry with the same id (e.g. with more names), keeping its place."""
        old = self.persons[person.id]
        for name in old.names:
            self._ids_by_name[(name.first, name.last)].remove(person.id)
            if person.id in self._verified_by_slug[name.slug]:
                self._verified_by_slug[name.slug].remove(person.id)
        self.persons[person.id] = person
        self._index(person.id, person)

    def add_person(self, person: Person) -> None:
        if person.id in self.persons:
            raise RegistryError(f"person id {person.id!r} already exists in {self.path}")
        self.persons[person.id] = person
        self._index(person.id, person)
