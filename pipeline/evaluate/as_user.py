"""Evaluation as a user runs the tool: strip the curation from a copy, run `resolve`, score.

- two-fold end to end: names are split into two folds (the same hash as the cross-fitted
  evaluation); for each fold a copy of the snapshot loses the ids and ORCIDs of every mention
  of that fold's names (`strip_curation`), the real `anthology-resolve resolve` runs on the
  copy in a fresh process, and that fold is scored from its `assignments.csv`;
- no curation (the floor): every evaluated name is stripped at once, so nothing about any of
  them can be learnt.

Two clusterings are scored: the `person` column (what the Anthology would show after export:
mentions left to a catch-all are one "person") and the `cluster` column. Mentions of names
`resolve` did not split keep, respectively, the person the stripped snapshot gives them and one
cluster per name. `gate_recall` is the share of multi-identity names that `resolve` split
(wrote to `assignments.csv`): a name the pair model's bound shows cannot split is not
written, and is one cluster either way.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.changeset import Changeset, apply
from pipeline.anthology.curation import Curation
from pipeline.anthology.registry import Registry
from pipeline.anthology.snapshot import Snapshot, read_snapshot
from pipeline.evaluate.metrics import Scores, score_clustering
from pipeline.evaluate.totals import totals

log = logging.getLogger(__name__)

KEY = ["paper", "role", "position"]


def strip_curation(snapshot: Snapshot, slugs: list[str], out_dir: Path,
                   registry: Registry | None = None) -> Path:
    """A full copy of the data directory without ids and ORCIDs on any mention of `slugs`
    (and with `registry` in place of the snapshot's, when given)."""
    mentions = snapshot.mentions
    chosen = mentions[mentions["slug"].isin(set(slugs))
                      & (mentions["id"].notna() | mentions["xml_orcid"].notna())]
    changeset = Changeset(registry=registry)
    for file, paper, role, position, pid, orcid in zip(
            chosen["file"], chosen["paper"], chosen["role"], chosen["position"], chosen["id"],
            chosen["xml_orcid"]):
        key = (str(paper), str(role), int(position))
        if isinstance(pid, str):
            changeset.edit(str(file), key, ("id", pid, None))
        if isinstance(orcid, str):
            changeset.edit(str(file), key, ("orcid", orcid, None))
    apply(changeset, snapshot.data_dir, "out", out_dir)
    return out_dir


def run_resolve(anthology: Path, out: Path, cache: Path, options: list[str]) -> float:
    """The real command in a fresh process, as a user runs it with `options` (the
    evaluation's own split settings); returns its wall time."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", "resolve", "--anthology",
                    str(anthology), "--cache", str(cache), "--out", str(out), *options],
                   check=True)
    return time.perf_counter() - started


def predictions(stripped: Snapshot, assignments: pd.DataFrame, index: pd.Index,
                authors: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Predicted person and cluster of the mentions at `index` of `authors`."""
    keys = pd.MultiIndex.from_frame(authors.loc[index, KEY])
    resolved = assignments.set_index(KEY)
    today = stripped.mentions.set_index(KEY)["person"]
    person = resolved["person"].reindex(keys)
    person = person.where(person.notna(), today.reindex(keys))
    # A mention the Anthology cannot attribute (legacy: an ambiguous name without an id)
    # lands on no page; all such mentions of a name count as one unresolved group.
    slugs = authors.loc[index, "slug"].to_numpy(dtype=object)
    person = pd.Series(np.where(person.isna().to_numpy(), slugs + "/unresolved",
                                person.to_numpy(dtype=object)), index=keys)
    cluster = resolved["cluster"].reindex(keys)
    cluster = cluster.where(cluster.notna(), authors.loc[index, "slug"].to_numpy())
    return (pd.Series(person.to_numpy(dtype=object), index=index),
            pd.Series(cluster.to_numpy(dtype=object), index=index))


def read_resolution(directory: Path) -> pd.DataFrame:
    """The `assignments.csv` a `resolve` run wrote in `directory` (empty cells: missing)."""
    return pd.read_csv(directory / "assignments.csv", dtype={
        "paper": str, "role": str, "position": int, "person": object, "status": object,
        "cluster": object}, keep_default_na=False, na_values=[""])


def evaluate_stripped(snapshot: Snapshot, gold: Curation, slugs: list[str], work: Path,
                      cache: Path, options: list[str]) -> dict[str, Any]:
    """Strip `slugs`, run resolve, score those names; returns per-block scores and facts."""
    copy = strip_curation(snapshot, slugs, work / "anthology")
    seconds = run_resolve(copy, work / "resolution", cache, options)
    assignments = read_resolution(work / "resolution")
    stripped = read_snapshot(copy, cache_dir=cache)
    authors = snapshot.mentions[snapshot.mentions["role"] == "author"]
    evaluated = gold.identity.notna() & authors["slug"].isin(set(slugs))
    labels = gold.identity[evaluated]
    person, cluster = predictions(stripped, assignments, labels.index, authors)
    block = authors["slug"]
    split_names = set(assignments["cluster"].str.rsplit("#", n=1).str[0])
    multi = [s for s in slugs if s in gold.multi_identity]
    return {
        "person": score_clustering(labels, person, block),
        "cluster": score_clustering(labels, cluster, block),
        "names_split": len(split_names & set(slugs)),
        "multi_identity_names": len(multi),
        "multi_identity_names_split": len(split_names & set(multi)),
        "resolve_seconds": round(seconds, 1),
    }


def report(parts: list[dict[str, Any]], gold: Curation) -> dict[str, Any]:
    """Scores of several stripped runs combined (each scores its own names)."""
    combined: dict[str, Any] = {}
    for column in ("person", "cluster"):
        per_block: dict[str, Scores] = {}
        for part in parts:
            per_block.update(part[column])
        combined[column] = totals(per_block, gold)
    multi = sum(p["multi_identity_names"] for p in parts)
    split = sum(p["multi_identity_names_split"] for p in parts)
    combined["gate_recall"] = round(split / multi, 4) if multi else 1.0
    combined["names_split"] = sum(p["names_split"] for p in parts)
    combined["resolve_seconds"] = [p["resolve_seconds"] for p in parts]
    return combined
