"""Make the registry and the XML ids say who each mention is, with as few ids as possible.

Exporters and the migration decide a desired person for every mention; this module finds the
smallest set of `id` attributes to add so that the format's own resolution rules
(`resolution.py`) give exactly that person, and the registry changes those ids need (current
format: the name used with an id must be listed for that person). Ids already in the XML are
never changed here. The result is checked by resolving every mention of the snapshot again:
a mention the changes would move elsewhere than desired is an error, not a silent change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pipeline.anthology.registry import Name, Registry, resolve_mentions, unverified_id
from pipeline.errors import AnthologyResolveError, ProblemLog

MAX_ROUNDS = 4  # each round can only add ids; two suffice in practice


class AttributionError(AnthologyResolveError):
    """The wanted attribution cannot be written without changing an existing id."""


@dataclass
class Attribution:
    ids: pd.Series  # the id attribute of every mention after the changes (None: no id)
    added: pd.Series  # bool per mention: an id was added
    resolved: pd.Series  # who each mention now is, under the registry's rules
    errors: set[str]  # what the rules reject in the result (see `resolve_checked`)


def resolve_checked(registry: Registry, mentions: pd.DataFrame, ids: pd.Series
                    ) -> tuple[pd.Series, set[str]]:
    """Who each mention is with these ids, and what the format's rules reject: an id used
    with a name it does not list, an ORCID without an id, a verified person twice on an item."""
    problems = ProblemLog()
    resolved = resolve_mentions(registry, mentions.assign(id=ids), problems)
    errors = {f"{p.message} [{p.value}]" for p in problems.errors}
    if registry.format != "legacy":
        twice = repeated_persons(mentions, resolved, registry, ids, mentions["orcid"])
        errors |= {f"{role} {position} of {paper}: {person} is already on this item"
                   for paper, role, position, person in zip(
                       mentions.loc[twice, "paper"], mentions.loc[twice, "role"],
                       mentions.loc[twice, "position"], resolved[twice])}
    return resolved, errors


def rule_errors(registry: Registry, mentions: pd.DataFrame, ids: pd.Series) -> set[str]:
    return resolve_checked(registry, mentions, ids)[1]


def repeated_persons(mentions: pd.DataFrame, resolved: pd.Series, registry: Registry,
                      old_ids: pd.Series, orcids: pd.Series) -> pd.Series:
    """Mentions that make one verified person appear twice on an item (the library rejects
    that), except the one per item that keeps the person: the one with that explicit id,
    else the one whose name the person lists, else the first."""
    verified = resolved.isin(list(registry.persons))
    frame = mentions.loc[verified, ["paper", "first", "last", "role", "position"]].assign(
        person=resolved[verified])
    twice = frame[frame.duplicated(["paper", "person"], keep=False)]
    repeated = pd.Series(False, index=mentions.index)
    for (_, pid), group in twice.groupby(["paper", "person"], sort=True):
        person = registry.persons[str(pid)]
        rank = [(old_ids[i] != pid, orcids[i] != person.orcid or person.orcid is None,
                 Name(f, la) not in person.names, r != "author", pos)
                for i, f, la, r, pos in zip(group.index, group["first"], group["last"],
                                            group["role"], group["position"])]
        keep = group.index[min(range(len(rank)), key=rank.__getitem__)]
        repeated[group.index.drop(keep)] = True
    return repeated


def check_no_new_errors(before: set[str], after: set[str], what: str) -> None:
    new = sorted(after - before)
    if new:
        raise AttributionError(f"{what} would make the data break the registry's rules in "
                               f"{len(new)} place(s): " + "; ".join(new[:10]))


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a == b) | (a.isna() & b.isna())


def list_name(registry: Registry, pid: str, names: Iterable[Name]) -> None:
    """Add names to a registry person (current formats need every name used with its id)."""
    person = registry.persons[pid]
    missing = tuple(n for n in dict.fromkeys(names) if n not in person.names)
    if missing:
        registry.replace_person(person.with_changes(names=person.names + missing))


def express(mentions: pd.DataFrame, registry: Registry, desired: pd.Series,
            ids: pd.Series, what: str, free: pd.Series | None = None) -> Attribution:
    """Add ids (and, in the current formats, listed names) until `desired` holds everywhere.

    Mentions marked in `free` may end up wherever the rules put them. `registry` is changed
    in place; `ids` is not. `what` names the change in error messages.
    """
    bound = ~free if free is not None else pd.Series(True, index=mentions.index)
    current = registry.format != "legacy"
    ids = ids.copy()
    added = pd.Series(False, index=mentions.index)
    for round_ in range(MAX_ROUNDS + 1):
        resolved, errors = resolve_checked(registry, mentions, ids)
        wrong = ~_same(resolved, desired) & bound
        if not wrong.any():
            return Attribution(ids=ids, added=added, resolved=resolved, errors=errors)
        fixable = wrong & ids.isna() & desired.isin(list(registry.persons))
        if round_ == MAX_ROUNDS or not fixable.any():
            break
        ids[fixable] = desired[fixable]
        added |= fixable
        if current:
            names = mentions.loc[fixable, ["first", "last"]].assign(person=ids)
            for pid, group in names.groupby("person", sort=True):
                list_name(registry, str(pid), (Name(f, la) for f, la in
                                               zip(group["first"], group["last"])))
    rows = mentions.loc[wrong].assign(want=desired[wrong], got=resolved[wrong])
    details = "; ".join(
        f"{r.role} {r.position} of {r.paper} ({r.first} {r.last}, id {r.id}): wanted "
        f"{r.want}, would be {r.got}" for r in rows.head(10).itertuples())
    raise AttributionError(
        f"{what}: {int(wrong.sum())} mentions cannot be attributed as wanted without changing "
        f"an existing id: {details}" + (" ..." if int(wrong.sum()) > 10 else ""))


def separate_repeated(mentions: pd.DataFrame, registry: Registry, resolved: pd.Series,
                      repeated: pd.Series, desired: pd.Series) -> tuple[pd.Series, pd.Series,
                                                                        list[str]]:
    """Name matching put a verified person twice on an item (`repeated_persons`): the kept
    mention keeps the person, the repeated ones become unverified, and the person stops
    matching by name, so its other mentions are bound to it (they will get explicit ids).
    Returns the new desired persons, the mentions bound, and the persons changed."""
    holders = sorted(set(resolved[repeated]))
    for pid in holders:
        registry.replace_person(registry.persons[pid].with_changes(disable_name_matching=True))
    bind = resolved.isin(holders) & ~repeated
    desired = desired.where(~bind, resolved)
    desired = desired.where(~repeated, mentions["slug"].map(unverified_id))
    return desired, bind, holders
