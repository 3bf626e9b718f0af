"""The work of a night that has something to do (`run.py` decides whether there is).

Incremental: with the last night's models, split only the names whose fingerprint changed
(`fingerprints.py`); every other name keeps last night's clusters, ids and scored variant
links. Full (no usable state, `--full`, other code or settings, another registry format, or
more than MAX_CHANGED_SHARE of the names changed): learn and split as `resolve` does. Either
way a cluster keeps its label and proposed id while it keeps most of its mentions
(`resolve/stable_ids.py`). The results replace the state's (`state.py`: two renames).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.anthology.snapshot import Snapshot, read_snapshot
from pipeline.anthology.table_cache import TableCacheReading
from pipeline.nightly.fingerprints import (
    changed_names,
    mention_fingerprints,
    name_fingerprints,
)
from pipeline.nightly.inputs import changed_files
from pipeline.nightly.report import build_report
from pipeline.nightly.state import NightlyState, Previous
from pipeline.parallel import Background, worker_count
from pipeline.resolve.assignment import PLACEMENT_COLUMNS
from pipeline.resolve.carryover import Carryover, splice
from pipeline.resolve.issued_ids import IssuedIds
from pipeline.resolve.outputs import (
    ambiguity_csv,
    assignments_table_csv,
    placements_csv,
    proposals_json,
    variant_proposals,
)
from pipeline.resolve.run import ResolveSettings, in_background, resolve
from pipeline.resolve.stable_ids import name_of_cluster
from pipeline.resolve.variant_candidates import Candidate
from pipeline.resolve.variants import kept_name_candidates

log = logging.getLogger(__name__)

# More names changed than this share: learning again costs little more than the split.
MAX_CHANGED_SHARE = 0.25
# From this many names last night on, last night's state is worth a process of its own
# (on the shared snapshot's 110k names reading it takes about 2 s).
BACKGROUND_NAMES = 20_000
KEY = ["paper", "role", "position"]


@dataclass(frozen=True)
class Plan:
    mode: str  # "incremental" or "full"
    reason: str
    changed: frozenset[str] | None  # names to split again (incremental only)


def plan(previous: Previous | None, config: dict[str, Any], registry_format: str,
         fingerprints: pd.Series, full: bool) -> Plan:
    """Whether tonight can reuse the last night's models and results, and for which names."""
    if full:
        return Plan("full", "--full was given", None)
    if previous is None:
        return Plan("full", "no usable earlier state", None)
    if not previous.complete:
        return Plan("full", "the earlier state could not be read whole (labels and ids are "
                    "kept from its assignments)", None)
    if previous.manifest.get("config") != config:
        return Plan("full", "the code, its libraries or the settings changed", None)
    if previous.models is None:
        return Plan("full", "the stored models could not be used", None)
    if previous.manifest.get("registry_format") != registry_format:
        return Plan("full", f"the registry format changed to {registry_format}", None)
    changed = changed_names(previous.fingerprints, fingerprints)
    share = len(changed) / max(1, len(fingerprints))
    if share > MAX_CHANGED_SHARE:
        return Plan("full", f"{share:.0%} of the names changed", None)
    return Plan("incremental", f"{len(changed):,} name{'s' if len(changed) != 1 else ''} "
                "changed", changed)


@dataclass(frozen=True)
class CandidateSearch:
    """The name-string candidates being found in another process (`result()`, for
    `resolve`), and the search to keep for the next night (`kept()`)."""

    searching: Background[tuple[list[Candidate], bytes]]

    def result(self) -> list[Candidate]:
        return self.searching.result()[0]

    def kept(self) -> bytes:
        return self.searching.result()[1]


def start_candidate_search(snapshot: Snapshot, state: NightlyState, config: dict[str, Any],
                           full: bool, workers: int) -> CandidateSearch:
    """Find the name-string candidates (they need only the names), by updating the search
    last night kept where this code and these settings kept it (`--full`: afresh)."""
    mentions, registry = snapshot.mentions, snapshot.registry

    def search() -> tuple[list[Candidate], bytes]:
        return kept_name_candidates(mentions, registry,
                                    None if full else state.kept_candidate_search(config))

    return CandidateSearch(in_background(search, snapshot, workers))


def _named(assignments: pd.DataFrame) -> pd.DataFrame:
    return assignments.assign(name=name_of_cluster(assignments["cluster"]))


def resolve_night(anthology: Path, state: NightlyState, settings: ResolveSettings,
                  inputs: dict[str, str], config: dict[str, Any],
                  manifest: dict[str, Any] | None, full: bool, workers: int,
                  show_progress: bool, tables: TableCacheReading | None = None
                  ) -> dict[str, Any]:
    """Resolve (all or the changed names), save the state; returns the report. `tables`:
    the state's cache of parsed tables, if it is being read already."""
    if tables is not None:
        tables.wait()  # no thread may be running when the state's process is forked
    # Last night's state is read in another process while this one reads the snapshot; its
    # pair evidence is read here after (slower to pass between processes than to read).
    loading = Background(state.load, worker_count(workers)
                         if (manifest or {}).get("names", 0) >= BACKGROUND_NAMES else 1)
    # The tables of the files parsed tonight are cached while the results are written, when
    # a core is free (beside the state's loading it only slowed the reading down).
    table_caching: list[Callable[[], None]] = []
    snapshot = read_snapshot(anthology, cache_dir=state.cache_dir, workers=workers,
                             show_progress=show_progress, digests={
                                 Path(file).name: digest for file, digest in inputs.items()
                                 if file.startswith("xml/")},
                             defer_caching=table_caching.append, table_cache=tables)
    # Found while the fingerprints are computed.
    candidates = start_candidate_search(snapshot, state, config, full, workers) \
        if settings.variants else None
    mention_keys = mention_fingerprints(snapshot)
    fingerprints = name_fingerprints(snapshot, mention_keys)
    previous = state.with_evidence(loading.result())
    decided = plan(previous, config, snapshot.registry.format, fingerprints, full)
    log.info("%s night: %s", decided.mode, decided.reason)
    carry = None
    if previous is not None:
        incremental = decided.mode == "incremental"
        carry = Carryover(previous.assignments,
                          previous.models if incremental else None,
                          decided.changed, tuple(previous.links) if incremental else (),
                          previous.evidence if incremental else None, previous.issued)
    resolution = resolve(snapshot, settings, show_progress, carry, mention_keys, workers,
                         candidates)

    caching = [in_background(task, snapshot, workers) for task in table_caching]
    assignments = resolution.assignments
    placements = resolution.placements if resolution.placements is not None else \
        pd.DataFrame(columns=PLACEMENT_COLUMNS)
    splits = resolution.splits
    if decided.changed is not None and previous is not None:
        changed = decided.changed
        assignments = splice(_named(previous.assignments), _named(assignments), changed,
                             "name").sort_values(KEY, kind="stable").reset_index(drop=True)
        placements = splice(previous.placements, placements, changed, "name").sort_values(
            KEY, kind="stable").reset_index(drop=True)
        splits = sorted([s for s in previous.proposals["splits"] if s["name"] not in changed]
                        + splits, key=lambda s: str(s["name"]))
    variants = variant_proposals(resolution)
    problems = [str(p) for p in snapshot.problems.problems]
    run = {"mode": decided.mode, "reason": decided.reason, "files": len(inputs),
           "changed_files": changed_files(manifest.get("inputs", {}), inputs)
           if manifest else [], "first_night": manifest is None and previous is None,
           "files_compared": manifest is not None,
           "names": len(fingerprints),
           "changed_names": len(decided.changed) if decided.changed is not None
           else len(fingerprints),
           "recomputed": len(resolution.resolved_names)}
    # What was wrong with last night's state, found as it was read or used.
    state_notes = [*(previous.notes if previous is not None else ()),
                   # Its reasons were logged in the process that read it.
                   *([f"the state in {state.run_dir} could not be read, nor its "
                      "assignments (the log says why): this night ran in full and kept no "
                      "earlier cluster labels or ids"]
                     if previous is None and state.run_dir.exists() else []),
                   *([f"the parsed tables cached in {tables.directory} could not be read "
                      f"({tables.failure}); every volume file was parsed again"]
                     if tables is not None and tables.failure else []),
                   *resolution.carryover_notes]
    # Built in another process while this one writes the results.
    reporting = in_background(lambda: build_report(
        run, previous.assignments if previous is not None else None, assignments, placements,
        previous.proposals.get("variants", {}) if previous is not None and previous.complete
        else None, variants,
        set(name_of_cluster(previous.assignments["cluster"])) if previous is not None
        else set(), problems, state_notes),
        snapshot, workers)
    texts = {
        "assignments.csv": assignments_table_csv(assignments),
        "ambiguity.csv": ambiguity_csv(resolution),
        "placements.csv": placements_csv(placements),
        "proposals.json": proposals_json(splits, variants),
    }
    assert resolution.learnt is not None and resolution.pair_evidence is not None
    evidence = resolution.pair_evidence
    if decided.changed is not None and previous is not None and previous.evidence is not None:
        evidence = previous.evidence.updated(evidence, decided.changed)
    report = reporting.result()  # a report that fails leaves the state as it was
    for cached in caching:
        cached.result()
    state.save(texts, fingerprints,
               resolution.variants.scored if resolution.variants is not None else [],
               resolution.learnt, evidence,
               candidates.kept() if candidates is not None else b"",
               (carry.issued if carry is not None else IssuedIds()).union(
                   IssuedIds.of(assignments)),
               {"inputs": inputs, "config": config, "names": len(fingerprints),
                "registry_format": snapshot.registry.format, "mode": decided.mode,
                "problems": problems})
    log.info("%s night done: %d names recomputed; results in %s", decided.mode,
             len(resolution.resolved_names), state.run_dir)
    return report
