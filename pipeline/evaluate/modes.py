"""Every evaluation mode in one report (`anthology-resolve evaluate`, `make eval`).

- cross-fitted (`run.evaluate`): models learnt on one fold of names, scored on the other;
- thin curation: the same, the models learning from 100%, 50%, 10% and 0% of the training
  fold's curated names;
- ablation: the cross-fitted figure with each kind of evidence removed in turn
  (`evidence.EVIDENCE_KINDS`);
- name variants (`variants.py`): merges of name strings proposed blind, against the
  registry's variant lists, ids and ORCIDs, with a strings-only baseline;
- as a user (`as_user.py`): the real `resolve` on stripped copies, two-fold and with no
  curation at all;
- incremental assignment (`assignment.py`): hidden curated mentions placed among the known
  persons of their name, newest 30% and random 30%.
Nothing that scores a name has learnt from that name's curation.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.anthology.atomic import remove_stale_staging_dirs, staging_dir
from pipeline.anthology.curation import curation_of, fold_of
from pipeline.anthology.snapshot import Snapshot
from pipeline.evaluate import as_user
from pipeline.evaluate.run import EvalSettings, evaluate
from pipeline.evaluate.variants import evaluate_variants, evaluate_variants_as_user
from pipeline.resolve.evidence_kinds import EVIDENCE_KINDS

log = logging.getLogger(__name__)

CURVE = (1.0, 0.5, 0.1, 0.0)


def evaluate_every_mode(snapshot: Snapshot, settings: EvalSettings, work_parent: Path,
                        cache: Path, curve: bool = True, user: bool = True,
                        ablation: bool = True, variants: bool = True,
                        assignment: bool = True, show_progress: bool = False,
                        workers: int = 0) -> dict[str, Any]:
    """`workers`: processes for the cross-fitted modes' stages that go name by name (the
    as-a-user runs of `resolve` take one per core, at most 4)."""
    report = evaluate(snapshot, settings, show_progress=show_progress, assignment=assignment,
                      workers=workers)
    if curve:
        report["thin_curation"] = {}
        for fraction in CURVE:
            if fraction == settings.train_fraction:
                scores = report["pipeline"]
            else:
                log.info("cross-fitted, learning from %.0f%% of the curation", 100 * fraction)
                scores = evaluate(snapshot, replace(settings, train_fraction=fraction),
                                  workers=workers)["pipeline"]
            report["thin_curation"][str(fraction)] = scores
    if ablation:
        report["ablation"] = {}
        for kind in EVIDENCE_KINDS:
            log.info("cross-fitted, without %s", kind)
            report["ablation"][kind] = evaluate(
                snapshot, replace(settings, without=(*settings.without, kind)),
                workers=workers)["pipeline"]
    if variants:
        log.info("name variants, blind")
        report["variants"] = evaluate_variants(snapshot, settings.seed)
        if user:
            log.info("name variants, as a user: resolve on a copy without them")
            with work_dir(work_parent, "variants-as-user") as work:
                report["variants"]["as_user"] = evaluate_variants_as_user(
                    snapshot, work, cache, settings.seed)
    if user:
        report["as_user"] = _as_user(snapshot, settings, work_parent, cache)
    return report


def _as_user(snapshot: Snapshot, settings: EvalSettings, work_parent: Path, cache: Path
             ) -> dict[str, Any]:
    authors = snapshot.mentions[snapshot.mentions["role"] == "author"]
    gold = curation_of(authors, snapshot.registry)
    # resolve runs with the evaluation's split settings and its own default name gate.
    options = ["--resolution", str(settings.resolution), "--seed", str(settings.seed)]
    options += ["--calibrate"] if settings.calibrate else []
    options += ["--merge-clusters"] if settings.merge_clusters else []
    with work_dir(work_parent, "as-user") as work:
        folds = []
        for k in range(settings.folds):
            slugs = [s for s in gold.blocks if fold_of(s, settings.folds) == k]
            log.info("as a user, fold %d: %d names stripped, resolve on the copy", k,
                     len(slugs))
            folds.append(as_user.evaluate_stripped(snapshot, gold, slugs, work / f"fold-{k}",
                                                   cache, options))
            shutil.rmtree(work / f"fold-{k}" / "anthology")
        log.info("as a user, no curation: all %d names stripped", len(gold.blocks))
        floor = as_user.evaluate_stripped(snapshot, gold, list(gold.blocks),
                                          work / "no-curation", cache, options)
    return {"two_fold": as_user.report(folds, gold),
            "no_curation": as_user.report([floor], gold)}


@contextmanager
def work_dir(work_parent: Path, name: str) -> Iterator[Path]:
    """A new directory for stripped copies and their resolutions, removed when the block
    ends however it ends, after removing those that killed evaluations left (an hour old; a
    copy of the snapshot is a few hundred MB)."""
    work_parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging_dirs(work_parent / name)
    with staging_dir(work_parent / name) as work:
        yield work
