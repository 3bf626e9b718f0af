"""Read and write the current registries: `json/people.json` and its predecessor `yaml/people.yaml`.

Both map a verified person id to `{names, comment, degree, disable_name_matching, orcid,
similar}`. The writers reproduce what the official library writes:
- people.json (acl-anthology 1.3): persons sorted by id, empty fields left out, msgspec's
  two-space JSON with each name collapsed onto one line (the library's `collapse_names`);
- people.yaml (acl-anthology 1.0-1.2): PyYAML `dump` with sorted keys and flow-style names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml
from acl_anthology.utils.ids import is_verified_person_id
from acl_anthology.utils.json import collapse_names

from pipeline.anthology.orcids import orcid_key
from pipeline.anthology.registry.model import Name, Person, Registry, RegistryError, RegistryFormat
from pipeline.errors import InputError, Problem, ProblemLog

ENTRY_KEYS = ("names", "comment", "degree", "disable_name_matching", "orcid", "similar")


def _entry_lines(text: str, fmt: RegistryFormat) -> dict[str, int]:
    """Line of each top-level id, for error messages (ids are unique keys)."""
    pattern = re.compile(r'^  "([^"]+)": \{' if fmt == "people-json" else r"^([^\s#][^:]*):",
                         re.MULTILINE)
    lines: dict[str, int] = {}
    # Newlines counted from the previous match on, not from the start: from the start, the
    # 11k entries of a people.json took 5 s.
    line, counted_to = 1, 0
    for match in pattern.finditer(text):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        lines.setdefault(match.group(1).strip("'\""), line)
    return lines


def _load(path: Path, fmt: RegistryFormat, text: str) -> Any:
    """The parsed file. A file that cannot be parsed is reported alone (`InputError`): every
    later problem would only follow from it."""
    try:
        if fmt == "people-json":
            return json.loads(text, object_pairs_hook=_no_duplicate_keys)
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except json.JSONDecodeError as exc:
        problem = Problem(str(path), exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except _DuplicateKeyError as exc:
        line = _line_of_second(text, exc.key)
        problem = Problem(str(path), line, "duplicate key: the JSON reader would keep only the "
                          "last entry", exc.key)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = Problem(str(path), mark.line + 1 if mark else None, f"malformed YAML: {exc}")
    raise InputError([problem])


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _line_of_second(text: str, key: str) -> int | None:
    """Line of the second occurrence of `"key":` in the text."""
    needle = json.dumps(key) + ":"
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    return text.count("\n", 0, second) + 1 if second >= 0 else None


def read_people(path: Path, fmt: RegistryFormat, problems: ProblemLog) -> Registry:
    """Read people.json or people.yaml; every problem names the entry and its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from exc
    data = _load(path, fmt, text)
    if data is None and fmt != "people-json":
        return Registry(fmt, path, {})  # an empty YAML file: no person yet
    if not isinstance(data, dict):
        problems.error(path, 1, "the registry must map person ids to entries")
        return Registry(fmt, path, {})
    lines = _entry_lines(text, fmt)
    persons: dict[str, Person] = {}
    by_orcid: dict[str, str] = {}
    for pid, entry in data.items():
        line = lines.get(str(pid))
        person = _entry_to_person(pid, entry, path, line, problems)
        if person is None:
            continue
        if person.orcid is not None:
            if person.orcid in by_orcid:
                problems.error(path, line, f"ORCID already assigned to {by_orcid[person.orcid]!r}",
                               person.orcid)
            by_orcid.setdefault(person.orcid, pid)
        persons[pid] = person
    for pid, person in persons.items():
        for other in person.similar:
            if other not in persons:
                problems.warning(path, person.line, f"`similar` names unknown id {other!r}", pid)
    return Registry(fmt, path, persons, loaded=dict(persons))


def _entry_to_person(pid: Any, entry: Any, path: Path, line: int | None,
                     problems: ProblemLog) -> Person | None:
    if not isinstance(pid, str) or not is_verified_person_id(pid):
        problems.error(path, line, "invalid person id", repr(pid))
        return None
    if not isinstance(entry, dict):
        problems.error(path, line, f"entry {pid!r} must be a mapping", repr(entry)[:80])
        return None
    names_value = entry.get("names")
    if not isinstance(names_value, list) or not names_value:
        problems.error(path, line, f"entry {pid!r} lists no names", repr(names_value)[:80])
        return None
    names: list[Name] = []
    for value in names_value:
        if (not isinstance(value, dict) or not isinstance(value.get("last"), str)
                or not value["last"].strip()
                or not isinstance(value.get("first", ""), str | None)
                or not isinstance(value.get("script", ""), str | None)
                or set(value) - {"first", "last", "script"}):
            problems.error(path, line, f"entry {pid!r} has a malformed name", repr(value))
            return None
        names.append(Name(value.get("first") or "", value["last"], value.get("script")))
    orcid = entry.get("orcid")
    if orcid is not None:
        # Read as the library reads it (`convert_orcid`: upper case, a URL's path).
        key = orcid_key(orcid) if isinstance(orcid, str) else None
        if key is None:
            problems.error(path, line, f"entry {pid!r} has an invalid ORCID", repr(orcid))
        orcid = key
    unknown = set(entry) - set(ENTRY_KEYS)
    if unknown:
        # The official library only warns about unknown keys.
        problems.warning(path, line, f"entry {pid!r} has unknown keys {sorted(unknown)}")
    for key in ("comment", "degree"):
        if not isinstance(entry.get(key), str | None):
            # Read as text everywhere (a list here crashed every command: helper-47).
            problems.error(path, line, f"entry {pid!r}: `{key}` must be text",
                           repr(entry[key])[:80])
            return None
    similar = entry.get("similar", [])
    if not isinstance(similar, list) or not all(isinstance(s, str) for s in similar):
        problems.error(path, line, f"entry {pid!r}: `similar` must be a list of ids",
                       repr(similar))
        similar = []
    return Person(
        id=pid,
        names=tuple(names),
        orcid=orcid,
        comment=entry.get("comment"),
        degree=entry.get("degree"),
        similar=tuple(similar),
        disable_name_matching=bool(entry.get("disable_name_matching", False)),
        extra=tuple((k, entry[k]) for k in sorted(unknown)),
        line=line,
    )


def _entry_dict(person: Person) -> dict[str, Any]:
    attrib: dict[str, Any] = {
        "names": [n.to_dict() for n in person.names],
        "comment": person.comment,
        "degree": person.degree,
        "disable_name_matching": person.disable_name_matching,
        "orcid": person.orcid,
        "similar": list(person.similar),
    }
    return {k: v for k, v in attrib.items() if v}


class _FlowName(dict[str, str]):
    """A name mapping that PyYAML writes in flow style, as acl-anthology 1.x did."""


def _represent_flow_name(dumper: yaml.representer.BaseRepresenter, value: _FlowName
                         ) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", sorted(value.items()),
                                    flow_style=True)


class _PeopleDumper(yaml.CDumper):
    pass


_PeopleDumper.add_representer(_FlowName, _represent_flow_name)


def render_people(registry: Registry) -> bytes:
    """The registry file as the official library writes it, in the registry's format."""
    persons = sorted(registry.persons.values(), key=lambda p: p.id)
    if registry.format == "people-json":
        data = {p.id: _entry_dict(p) for p in persons}
        return bytes(collapse_names(msgspec.json.format(msgspec.json.encode(data)))) + b"\n"
    if registry.format == "people-yaml":
        yaml_data = {}
        for p in persons:
            entry = _entry_dict(p)
            entry["names"] = [_FlowName(n) for n in entry["names"]]
            yaml_data[p.id] = entry
        text: str = yaml.dump(yaml_data, allow_unicode=True, Dumper=_PeopleDumper)
        return text.encode("utf-8")
    raise RegistryError(f"render_people cannot write the {registry.format} format")
