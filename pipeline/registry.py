"""The person registry: one `Person` model over the three formats the Anthology has used.

- `legacy`: `yaml/name_variants.yaml`, a list of `{canonical, variants, id, comment, ...}`;
- `people-yaml`: `yaml/people.yaml` (acl-anthology 1.0-1.2), a mapping id -> entry;
- `people-json`: `json/people.json` (acl-anthology 1.3+), the same mapping as JSON.

The format is detected by which file is present (the newest wins). Readers and writers for
each format live in `registry_legacy.py` and `registry_current.py`; this module holds the
model, format detection, and how a mention resolves to a person under each format's rules.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .errors import AnthologyResolveError, ProblemLog
from .names import full_name, name_slug

log = logging.getLogger(__name__)

RegistryFormat = Literal["legacy", "people-yaml", "people-json"]
REGISTRY_FILES: dict[RegistryFormat, str] = {
    "people-json": "json/people.json",
    "people-yaml": "yaml/people.yaml",
    "legacy": "yaml/name_variants.yaml",
}
CATCH_ALL_COMMENT = "May refer to several people"
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
        return (self.comment or "").strip().startswith(CATCH_ALL_COMMENT)

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

    def resolve_mentions(self, mentions: pd.DataFrame, problems: ProblemLog | None = None,
                         xml_dir: Path | None = None) -> pd.Series:
        """The person id each mention resolves to under this format's rules.

        Unresolvable mentions (an id the registry lacks; legacy: an ambiguous name without an
        id) get None and a problem naming the offending value; pass `problems` to collect them.
        """
        from .resolution import resolve_mentions

        return resolve_mentions(self, mentions, problems, xml_dir)


def detect_format(data_dir: Path) -> RegistryFormat:
    """The newest registry format present in `data_dir`."""
    for fmt, relative in REGISTRY_FILES.items():
        if (data_dir / relative).is_file():
            return fmt
    raise RegistryError(
        f"{data_dir}: no person registry (looked for "
        + ", ".join(REGISTRY_FILES.values()) + ")"
    )


def load_registry(data_dir: Path, problems: ProblemLog) -> Registry:
    """Read the registry of a data directory, in whichever format it has."""
    fmt = detect_format(data_dir)
    present = [f for f, rel in REGISTRY_FILES.items() if (data_dir / rel).is_file()]
    if len(present) > 1:
        problems.warning(data_dir, None, f"several registry files; using {fmt}, ignoring "
                         + ", ".join(REGISTRY_FILES[f] for f in present[1:]))
    path = data_dir / REGISTRY_FILES[fmt]
    if fmt == "legacy":
        from .registry_legacy import read_legacy

        registry = read_legacy(path, problems)
    else:
        from .registry_current import read_people

        registry = read_people(path, fmt, problems)
    log.info("read %d persons from %s (%s format)", len(registry.persons), path, fmt)
    return registry


def write_registry_bytes(registry: Registry) -> bytes:
    """The registry file's content in its own format."""
    if registry.format == "legacy":
        from .registry_legacy import render_legacy

        return render_legacy(registry).encode("utf-8")
    from .registry_current import render_people

    return render_people(registry)


def write_registry(registry: Registry, path: Path | None = None) -> Path:
    """Write the registry in its own format (atomically); returns the path written."""
    from .atomic import atomic_write_bytes

    target = path or registry.path
    atomic_write_bytes(target, write_registry_bytes(registry))
    return target
