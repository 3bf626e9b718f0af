"""A curator's decisions from a review page (`anthology-resolve review`), read by
`export --decisions FILE`: which person each listed mention is.

The file is JSON, written by the review page's "Download decisions" button:

    {"format": "anthology-resolve decisions", "version": 1,
     "decisions": [{"name": "yang-liu", "person": "yang-liu-icsi",
                    "mentions": [{"paper": "2023.acl-long.1", "role": "author",
                                  "position": 2}, ...]}, ...]}

`person` is a registry id (an existing person), a new valid id (a new person), or the
catch-all the resolution already gives that name (leave the mentions unattributed). The
decisions replace the resolution's person for exactly the listed mentions, which must be
mentions the resolution covers; everything else in `assignments.csv` stands. Any problem is
an error naming the file and the decision, and nothing is exported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.anthology.registry import UNVERIFIED_SUFFIX, Registry
from pipeline.errors import InputError, Problem

FORMAT = "anthology-resolve decisions"
VERSION = 1
NEW_ID = re.compile(r"[a-z0-9][-a-z0-9]+")


def _problem(path: Path, where: str, message: str, value: Any = None) -> Problem:
    return Problem(str(path), None, f"{where}: {message}",
                   "" if value is None else json.dumps(value, ensure_ascii=False)[:200])


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """The decisions of a file, their shape checked; errors name the file and the place."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError([Problem(str(path), None, f"cannot read: {exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise InputError([Problem(str(path), exc.lineno, f"not valid JSON: {exc.msg}")]
                         ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError([Problem(str(path), 1, f'not a decisions file (needs "format": '
                                  f'"{FORMAT}")')])
    if document.get("version") != VERSION:
        raise InputError([_problem(path, "version", f"only version {VERSION} is known",
                                   document.get("version"))])
    decisions = document.get("decisions")
    if not isinstance(decisions, list):
        raise InputError([_problem(path, "decisions", "must be a list", decisions)])
    problems: list[Problem] = []
    for k, decision in enumerate(decisions):
        where = f"decisions[{k}]"
        if not isinstance(decision, dict):
            problems.append(_problem(path, where, "must be an object", decision))
            continue
        for key in ("name", "person"):
            if not isinstance(decision.get(key), str) or not decision[key]:
                problems.append(_problem(path, f"{where}.{key}", "must be a non-empty string",
                                         decision.get(key)))
        mentions = decision.get("mentions")
        if not isinstance(mentions, list) or not mentions:
            problems.append(_problem(path, f"{where}.mentions", "must be a non-empty list",
                                     mentions))
            continue
        for j, mention in enumerate(mentions):
            if not (isinstance(mention, dict) and isinstance(mention.get("paper"), str)
                    and mention.get("role") in ("author", "editor")
                    and isinstance(mention.get("position"), int)
                    and not isinstance(mention.get("position"), bool)
                    and mention["position"] >= 0):
                problems.append(_problem(
                    path, f"{where}.mentions[{j}]", "needs paper (text), role (author or "
                    "editor) and position (a number from 0)", mention))
    if problems:
        raise InputError(problems[:100])
    return decisions


def apply_decisions(assignments: pd.DataFrame, decisions: list[dict[str, Any]],
                    registry: Registry, path: Path) -> pd.DataFrame:
    """`assignments` with the decided mentions moved to their persons (see the module
    docstring); the status follows from the person."""
    keys = pd.MultiIndex.from_frame(assignments[["paper", "role", "position"]])
    catch_alls = set(registry.catch_all_ids()) | set(
        assignments.loc[assignments["status"] == "unresolved", "person"])
    person_of = assignments["person"].to_numpy(dtype=object, copy=True)
    status_of = assignments["status"].to_numpy(dtype=object, copy=True)
    seen: dict[tuple[str, str, int], str] = {}
    problems: list[Problem] = []
    for k, decision in enumerate(decisions):
        where = f"decisions[{k}]"
        person, name = decision["person"], decision["name"]
        if person in registry.persons and person not in catch_alls:
            status = "existing"
        elif person in catch_alls or person == f"{name}{UNVERIFIED_SUFFIX}":
            status = "unresolved"
        elif NEW_ID.fullmatch(person):
            status = "new"
        else:
            problems.append(_problem(path, f"{where}.person", "not a registry id and not a "
                                     "valid new id (lower case letters, digits, hyphens)",
                                     person))
            continue
        wanted = [(m["paper"], m["role"], m["position"]) for m in decision["mentions"]]
        rows = keys.get_indexer(pd.MultiIndex.from_tuples(wanted))
        for j, (key, row) in enumerate(zip(wanted, rows)):
            place = f"{where}.mentions[{j}]"
            if row < 0:
                problems.append(_problem(path, place, "not a mention of the resolution "
                                         "(assignments.csv)", decision["mentions"][j]))
            elif key in seen:
                problems.append(_problem(path, place, f"decided twice (also {seen[key]})",
                                         decision["mentions"][j]))
            elif str(assignments["cluster"].iloc[row]).rsplit("#", 1)[0] != name:
                problems.append(_problem(path, place, f"is not a mention of {name}",
                                         decision["mentions"][j]))
            else:
                seen[key] = place
                person_of[row] = person
                status_of[row] = status
    if problems:
        raise InputError(problems[:100])
    return assignments.assign(person=person_of, status=status_of)
