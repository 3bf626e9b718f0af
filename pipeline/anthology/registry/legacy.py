"""Read and write the legacy registry, `yaml/name_variants.yaml`.

Reading uses PyYAML's C loader at the node level, so every entry keeps its line number for
error messages. Writing keeps the original text of every unchanged entry, so reading and
writing an unchanged file gives the same bytes, and a change touches only its own entries.
Changed or new entries are rendered in the file's own style (flow-style names, two-space
indentation).

Rules follow the legacy loader of the official library (acl-anthology 0.5): an entry without
`id` gets the slug of its canonical name as id, and that slug must not be taken already.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from acl_anthology.utils.ids import is_verified_person_id

from pipeline.anthology.orcids import orcid_key
from pipeline.anthology.registry.model import Name, Person, Registry, RegistryError
from pipeline.errors import InputError, Problem, ProblemLog

KNOWN_KEYS = ("canonical", "id", "orcid", "degree", "comment", "similar", "variants")
# Keys seen in the real file that the Anthology's loader ignores; kept, not warned about.
IGNORED_KEYS = ("institution", "note")
_ENTRY_START = re.compile(r"^- ", re.MULTILINE)


def _name_from(value: Any, path: Path, line: int, problems: ProblemLog, what: str) -> Name | None:
    if not isinstance(value, dict) or "last" not in value:
        problems.error(path, line, f"{what} must be a mapping with at least `last`", repr(value))
        return None
    first, last = value.get("first"), value.get("last")
    if first is None:
        first = ""
    if not isinstance(first, str) or not isinstance(last, str) or not last.strip():
        problems.error(path, line, f"{what} has an empty or non-text name part", repr(value))
        return None
    unknown = set(value) - {"first", "last", "script"}
    if unknown:
        problems.error(path, line, f"{what} has unknown keys {sorted(unknown)}", repr(value))
    return Name(first.strip(), last.strip(), value.get("script"))


def _legacy_orcid(value: Any, path: Path, line: int, problems: ProblemLog) -> str | None:
    """The ORCID of an entry; the legacy loader ignores this field, so bad values only warn."""
    if value is None:
        return None
    text = str(value).strip()
    bare = orcid_key(text)  # as the library reads it: upper case, a URL's path
    if bare is None:
        problems.warning(path, line, "invalid ORCID, ignored", text)
        return None
    if bare != text:
        problems.warning(path, line, f"ORCID written as {text!r}; read as {bare}", text)
    return bare


def _entry_to_person(entry: Any, path: Path, line: int, problems: ProblemLog) -> Person | None:
    if not isinstance(entry, dict):
        problems.error(path, line, "entry must be a mapping", repr(entry)[:80])
        return None
    if "canonical" not in entry:
        problems.error(path, line, "entry has no `canonical` name", repr(entry)[:80])
        return None
    canonical = _name_from(entry["canonical"], path, line, problems, "`canonical`")
    variants_value = entry.get("variants", [])
    if not isinstance(variants_value, list):
        problems.error(path, line, "`variants` must be a list", repr(variants_value)[:80])
        variants_value = []
    variants = [_name_from(v, path, line, problems, "variant") for v in variants_value]
    if canonical is None or any(v is None for v in variants):
        return None
    names = (canonical,) + tuple(v for v in variants if v is not None)
    pid = entry.get("id")
    if pid is not None and not isinstance(pid, str):
        problems.error(path, line, "person id must be text", repr(pid))
        return None
    if pid is not None and not is_verified_person_id(pid):
        # The legacy loader accepts any id; the current format would reject this one.
        problems.warning(path, line, "person id is not valid in the current format "
                         "([a-z][-a-z0-9]+)", pid)
    orcid = _legacy_orcid(entry.get("orcid"), path, line, problems)
    similar = entry.get("similar", [])
    if not isinstance(similar, list) or not all(isinstance(s, str) for s in similar):
        problems.error(path, line, "`similar` must be a list of ids", repr(similar))
        similar = []
    for key in ("comment", "degree"):
        if key in entry and not isinstance(entry[key], str):
            problems.error(path, line, f"`{key}` must be text", repr(entry[key]))
    extra = tuple((k, v) for k, v in entry.items() if k not in KNOWN_KEYS)
    for key, _ in extra:
        if key not in IGNORED_KEYS:
            hint = " (did you mean `variants`?)" if key == "variant" else ""
            problems.warning(path, line, f"unknown key `{key}`, ignored by the Anthology{hint}",
                             str(canonical))
    return Person(
        id=pid if pid is not None else canonical.slug,
        names=names,
        orcid=orcid,
        comment=entry.get("comment"),
        degree=entry.get("degree"),
        similar=tuple(similar),
        has_explicit_id=pid is not None,
        extra=extra,
        line=line,
    )


def read_legacy(path: Path, problems: ProblemLog) -> Registry:
    """Read `name_variants.yaml`; every problem is logged with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        # Reported alone: every "id not defined" that would follow comes from this one.
        mark = getattr(exc, "problem_mark", None)
        raise InputError([Problem(str(path), mark.line + 1 if mark else None,
                                  f"malformed YAML: {exc}")]) from exc
    if root is None:
        return Registry("legacy", path, {}, source_head=text)
    if not isinstance(root, yaml.SequenceNode):
        problems.error(path, 1, "name_variants.yaml must be a list of entries")
        return Registry("legacy", path, {})
    constructor = yaml.constructor.SafeConstructor()
    starts = [m.start() for m in _ENTRY_START.finditer(text)]
    if len(starts) != len(root.value):
        raise RegistryError(
            f"{path}: {len(root.value)} entries parsed but {len(starts)} lines start with '- ';"
            " entries must be top-level block items"
        )
    ends = starts[1:] + [len(text)]
    persons: dict[str, Person] = {}
    source_entries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for node, start, end in zip(root.value, starts, ends):
        line = node.start_mark.line + 1
        entry = constructor.construct_document(node)
        person = _entry_to_person(entry, path, line, problems)
        if person is None:
            continue
        if person.id in persons:
            other = first_line[person.id]
            if person.has_explicit_id:
                problems.error(path, line, f"duplicate id (also defined at line {other})",
                               person.id)
            else:
                problems.error(path, line, f"name {person.canonical} is ambiguous but has no "
                               f"id; its slug is already the id at line {other}", person.id)
            continue
        persons[person.id] = person
        first_line[person.id] = line
        source_entries[person.id] = text[start:end]
    _check_registry(path, persons, problems)
    return Registry("legacy", path, persons, source_head=text[: starts[0]] if starts else text,
                    source_entries=source_entries, loaded=dict(persons))


def _check_registry(path: Path, persons: dict[str, Person], problems: ProblemLog) -> None:
    by_orcid: dict[str, str] = {}
    for pid, person in persons.items():
        for other in person.similar:
            if other not in persons:
                problems.warning(path, person.line, f"`similar` names unknown id {other!r}",
                                 pid)
        if person.orcid:
            if person.orcid in by_orcid:
                problems.warning(path, person.line,
                                 f"ORCID also given for {by_orcid[person.orcid]!r}",
                                 person.orcid)
            else:
                by_orcid[person.orcid] = pid


def _flow(value: Any) -> str:
    dumped: str = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                                 sort_keys=False, width=1 << 30)
    return dumped.strip().removesuffix("...").strip()


def _legacy_name(name: Name) -> str:
    return _flow({"first": name.first, "last": name.last} | (
        {"script": name.script} if name.script else {}))


def render_entry(person: Person) -> str:
    """One entry in the file's own style."""
    lines = [f"- canonical: {_legacy_name(person.canonical)}"]
    if person.has_explicit_id:
        lines.append(f"  id: {_flow(person.id)}")
    if person.orcid:
        lines.append(f"  orcid: {_flow(person.orcid)}")
    if person.degree:
        lines.append(f"  degree: {_flow(person.degree)}")
    if person.comment:
        lines.append(f"  comment: {_flow(person.comment)}")
    for key, value in person.extra:
        lines.append(f"  {key}: {_flow(value)}")
    if person.similar:
        lines.append(f"  similar: {_flow(list(person.similar))}")
    if len(person.names) > 1:
        lines.append("  variants:")
        lines.extend(f"  - {_legacy_name(n)}" for n in person.names[1:])
    return "\n".join(lines) + "\n"


def _sort_key(person: Person) -> str:
    return f"{person.canonical.last.casefold()}\t{person.canonical.first.casefold()}"


def _insertion_points(registry: Registry) -> dict[int, list[str]]:
    """Where each new entry goes among the file's entries: after entries of the same
    canonical name if there are any (curators keep one name's persons together), else where
    it agrees best with alphabetical order by last name (the file is only mostly sorted)."""
    existing = [pid for pid in registry.persons if pid in registry.source_entries]
    keys = np.array([_sort_key(registry.persons[pid]) for pid in existing], dtype=str)
    new = sorted((pid for pid in registry.persons if pid not in registry.source_entries),
                 key=lambda pid: (_sort_key(registry.persons[pid]), pid))
    points: dict[int, list[str]] = {}
    for pid in new:
        key = _sort_key(registry.persons[pid])
        same = np.flatnonzero(keys == key)
        if len(same):
            index = int(same[-1]) + 1
        else:
            before = np.concatenate([[0], np.cumsum(keys <= key)])  # agreeing entries before i
            after = np.concatenate([[0], np.cumsum(keys > key)])
            agreement = before + (after[-1] - after)
            index = int(len(agreement) - 1 - np.argmax(agreement[::-1]))
        points.setdefault(index, []).append(pid)
    return points


def render_legacy(registry: Registry) -> str:
    """The whole file: original text for unchanged entries, the file's style for the rest.

    New entries are placed by `_insertion_points`; entries keep their order otherwise.
    """
    parts = [registry.source_head]

    def emit(pid: str) -> None:
        person = registry.persons[pid]
        original = registry.source_entries.get(pid)
        if original is not None and registry.loaded.get(pid) == person:
            parts.append(original)
        else:
            if parts[-1] and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(render_entry(person))

    points = _insertion_points(registry)
    existing = [pid for pid in registry.persons if pid in registry.source_entries]
    for index, pid in enumerate(existing):
        for new_pid in points.get(index, []):
            emit(new_pid)
        emit(pid)
    for new_pid in points.get(len(existing), []):
        emit(new_pid)
    return "".join(parts)
