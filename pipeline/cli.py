"""`anthology-resolve`: the command line. Each subcommand is one stage of the pipeline."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from pipeline.anthology.output_dir import replaceable_dir_path
from pipeline.errors import AnthologyResolveError, InputError
from pipeline.garbage import collect_garbage_as_a_run_needs
from pipeline.parallel import worker_count
from pipeline.progress import console
from pipeline.resolve.evidence_kinds import EVIDENCE_KINDS

if TYPE_CHECKING:
    from pipeline.anthology.snapshot import Snapshot
    from pipeline.resolve.settings import ResolveSettings

log = logging.getLogger("pipeline")

DEFAULT_ANTHOLOGY = Path("data/anthology")
DEFAULT_CACHE = Path(".cache")


def _worker_count(text: str) -> int:
    """`--workers`: 0 (one per core) or a number of processes."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be 0 (one process per core, at most 4) or a number of processes, not {text!r}")
    return value


def _add_snapshot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anthology", type=Path, default=DEFAULT_ANTHOLOGY, metavar="DIR",
        help="Anthology data: a directory holding xml/ and yaml/ (or json/), or a repository "
             "checkout holding data/ (default: %(default)s)")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
        help="where parsed tables are cached as parquet, keyed by each file's content hash "
             "(default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true",
                        help="parse every volume file and write no cache")
    parser.add_argument("--workers", type=_worker_count, default=0, metavar="N",
                        help="processes for parsing and, in resolve and evaluate, for the "
                             "stages that go name by name (pair features, the split), in "
                             "graphs for the name graphs (the same output with "
                             "any number; at most one per core; default 0: one per core, at "
                             "most 4)")


def _read(args: argparse.Namespace) -> Snapshot:
    from pipeline.anthology.snapshot import read_snapshot

    snapshot = read_snapshot(args.anthology, cache_dir=None if args.no_cache else args.cache,
                             workers=args.workers, show_progress=not args.quiet)
    count = len(snapshot.problems.warnings)
    if count and args.command != "stats":  # stats lists them
        log.info("%d warning(s) while reading %s, e.g. %s (`anthology-resolve stats "
                 "--all-warnings` lists them)", count, snapshot.data_dir,
                 snapshot.problems.warnings[0])
    return snapshot


def cmd_stats(args: argparse.Namespace) -> int:
    from pipeline.anthology.stats import snapshot_stats

    snapshot = _read(args)
    table = Table(title=f"Anthology snapshot {snapshot.data_dir}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, count in snapshot_stats(snapshot):
        table.add_row(label, f"{count:,}")
    console.print(table)
    warnings = snapshot.problems.warnings
    if warnings:
        console.print(f"{len(warnings)} warning(s):")
        shown = warnings if args.all_warnings else warnings[:20]
        for problem in shown:
            console.print(f"  {problem}", markup=False, highlight=False)
        if len(shown) < len(warnings):
            console.print(f"  ... {len(warnings) - len(shown)} more (--all-warnings lists all)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from pipeline.anthology.prepare import prepare_snapshot

    data_dir = prepare_snapshot(args.anthology, args.tarball,
                                None if args.no_clone else args.repository)
    log.info("Anthology data ready at %s", data_dir)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pipeline.anthology.snapshot import find_data_dir
    from pipeline.bench import CASES, format_report, run_benchmarks

    cases = args.cases or list(CASES)
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise AnthologyResolveError(f"unknown bench case(s) {unknown}; known: {sorted(CASES)}")
    report = run_benchmarks(find_data_dir(args.anthology), args.out, args.repeat, cases)
    console.print(format_report(report), markup=False, highlight=False)
    log.info("wrote %s", args.out / "bench.json")
    return 0


def _resolve_settings(args: argparse.Namespace) -> ResolveSettings:
    from pipeline.resolve.settings import ResolveSettings

    return ResolveSettings(
        resolution=args.resolution, seed=args.seed, min_ambiguity=args.min_ambiguity,
        names=tuple(args.name),
        min_person_mentions=getattr(args, "min_person_mentions", 2),
        min_person_confidence=getattr(args, "min_person_confidence", 0.5),
        calibrate=args.calibrate, merge_clusters=args.merge_clusters,
        variants=not getattr(args, "no_variants", False))


def cmd_resolve(args: argparse.Namespace) -> int:
    import time

    from pipeline.resolve.files import RESOLUTION_FILES

    started = time.perf_counter()
    _check_files_out(args, RESOLUTION_FILES)
    from pipeline.resolve.outputs import write_outputs
    from pipeline.resolve.run import resolve

    snapshot = _read(args)
    settings = _resolve_settings(args)
    resolution = resolve(snapshot, settings, show_progress=not args.quiet,
                         workers=args.workers)
    written = write_outputs(resolution, args.out)
    table = resolution.clusters
    changed = table[table["status"] != "unchanged"]
    status = changed["status"].value_counts()
    left = int(changed.loc[changed["status"] == "unresolved", "mentions"].sum())
    console.print(
        f"resolved {len(resolution.resolved_names):,} names "
        f"({len(resolution.assignments):,} mentions): {changed['name'].nunique():,} split "
        f"into {int(status.get('existing', 0)):,} registry persons, "
        f"{int(status.get('new', 0)):,} new persons and {int(status.get('unresolved', 0)):,} "
        f"clusters left to a catch-all ({left:,} mentions); {time.perf_counter() - started:.1f} s "
        f"(stages: {resolution.timings})", highlight=False)
    log.info("graph: %s", ", ".join(f"{v:,} {k}" for k, v in
                                    resolution.models["graph"].items()))
    if resolution.conflicts:
        log.warning("%d contradictions in the curation were found and read as the log says",
                    len(resolution.conflicts))
    for path in written:
        log.info("wrote %s", path)
    return 0


def _checked_proposals(args: argparse.Namespace) -> dict[str, Any]:
    """After checking --out (before any work): RESOLUTION/proposals.json, its shape checked."""
    from pipeline.errors import InputError, Problem
    from pipeline.export.variant_merges import read_proposals
    from pipeline.resolve.proposals_format import check_proposals

    _check_apply_target(args, {"resolution directory": args.resolution})
    path = args.resolution / "proposals.json"
    if not path.is_file():
        raise InputError([Problem(str(path), None, "no proposals here: run `anthology-resolve "
                                  "resolve --out DIR` first and pass --resolution DIR")])
    proposals = read_proposals(path)
    check_proposals(proposals, path)
    return proposals


def cmd_review(args: argparse.Namespace) -> int:
    from pipeline.anthology.output_dir import write_dir_atomically
    from pipeline.review.site import build_site

    proposals = _checked_proposals(args)
    snapshot = _read(args)
    pages = write_dir_atomically(args.out, lambda staging: build_site(proposals, snapshot,
                                                                       staging))
    log.info("wrote %d review pages to %s; open %s in a browser", len(pages), args.out,
             args.out / "index.html")
    return 0


def cmd_graphs(args: argparse.Namespace) -> int:
    from pipeline.anthology.output_dir import write_dir_atomically
    from pipeline.export.entries import read_assignments
    from pipeline.gephi.files import write_graphs

    proposals = _checked_proposals(args)
    assignments = read_assignments(args.resolution / "assignments.csv")
    snapshot = _read(args)
    written = write_dir_atomically(args.out, lambda staging: write_graphs(
        proposals, assignments, snapshot, staging, show_progress=not args.quiet,
        workers=args.workers))
    log.info("wrote %d graphs (GEXF 1.3 and GraphML each) to %s; %s lists them",
             len(written), args.out, args.out / "index.md")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from pipeline.anthology.atomic import atomic_write_text
    from pipeline.evaluate.modes import evaluate_every_mode
    from pipeline.evaluate.run import EvalSettings

    _check_files_out(args, ["evaluation.json"])
    snapshot = _read(args)
    settings = EvalSettings(resolution=args.resolution, seed=args.seed,
                            min_ambiguity=args.min_ambiguity,
                            train_fraction=args.train_fraction,
                            calibrate=args.calibrate,
                            merge_clusters=args.merge_clusters,
                            without=tuple(args.without))
    report = evaluate_every_mode(snapshot, settings, args.out, args.cache,
                                 curve=not args.no_curve, user=not args.no_as_user,
                                 ablation=not args.no_ablation,
                                 variants=not args.no_variants,
                                 assignment=not args.no_assignment,
                                 show_progress=not args.quiet, workers=args.workers)
    _print_eval(report)
    path = args.out / "evaluation.json"
    atomic_write_text(path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s", path)
    return 0


def _print_eval(report: dict[str, Any]) -> None:
    gold = report["gold"]
    console.print(f"gold: {gold['mentions']:,} mentions in {gold['blocks']:,} blocks, "
                  f"{gold['multi_identity_blocks']} with 2+ identities "
                  f"({gold['multi_identity_mentions']:,} mentions); "
                  f"names split: {report['names_split']:,}")
    table = Table(title="Blind evaluation (micro over gold mentions)")
    for column in ("method", "blocks", "B3 P", "B3 R", "B3 F1", "pair P", "pair R",
                   "pair F1"):
        table.add_column(column, justify="left" if column in ("method", "blocks") else "right")
    rows = [("pipeline", report["pipeline"])] + list(report["baselines"].items())
    for name, totals in rows:
        for kind in ("multi", "single"):
            t = totals[kind]
            table.add_row(name, kind, *(f"{t[k]:.3f}" for k in (
                "b3_precision", "b3_recall", "b3_f1", "pair_precision", "pair_recall",
                "pair_f1")))
    console.print(table)
    worst = Table(title="Worst blocks")
    for column in ("block", "multi", "gold mentions", "gold ids", "clusters", "B3 F1",
                   "what went wrong"):
        worst.add_column(column)
    for row in report["worst_blocks"]:
        worst.add_row(row["block"], "yes" if row["multi_identity"] else "no",
                      str(row["gold_mentions"]), str(row["gold_identities"]),
                      str(row["predicted_clusters"]), f"{row['b3_f1']:.3f}",
                      row["what_went_wrong"])
    console.print(worst)
    if "thin_curation" in report:
        curve = Table(title="Thin curation: cross-fitted, models learning from a share of "
                            "the training fold's curated names")
        for column in ("learnt from", "multi B3 F1", "single B3 F1"):
            curve.add_column(column, justify="right")
        for fraction, totals in report["thin_curation"].items():
            curve.add_row(f"{float(fraction):.0%}", f"{totals['multi']['b3_f1']:.3f}",
                          f"{totals['single']['b3_f1']:.3f}")
        console.print(curve)
    if "ablation" in report:
        ablation = Table(title="Ablation: cross-fitted, one kind of evidence removed")
        for column in ("without", "multi B3 F1", "change", "single B3 F1"):
            ablation.add_column(column, justify="left" if column == "without" else "right")
        full = report["pipeline"]["multi"]["b3_f1"]
        for kind, totals in report["ablation"].items():
            multi = totals["multi"]["b3_f1"]
            ablation.add_row(kind, f"{multi:.3f}", f"{multi - full:+.3f}",
                             f"{totals['single']['b3_f1']:.3f}")
        console.print(ablation)
    if "variants" in report:
        _print_variant_eval(report["variants"])
    if "assignment" in report:
        _print_assignment_eval(report["assignment"])
    if "as_user" in report:
        user = Table(title="As a user: `resolve` on copies without the evaluated curation")
        for column in ("mode", "scored by", "multi B3 P", "multi B3 R", "multi B3 F1",
                       "single B3 F1", "gate recall"):
            user.add_column(column, justify="left" if column in ("mode", "scored by")
                            else "right")
        for mode, result in report["as_user"].items():
            for column in ("person", "cluster"):
                multi, single = result[column]["multi"], result[column]["single"]
                user.add_row(mode, column, f"{multi['b3_precision']:.3f}",
                             f"{multi['b3_recall']:.3f}", f"{multi['b3_f1']:.3f}",
                             f"{single['b3_f1']:.3f}", f"{result['gate_recall']:.3f}")
        console.print(user)


def _print_assignment_eval(assignment: dict[str, Any]) -> None:
    table = Table(title=f"Incremental assignment: {assignment['hidden_share']:.0%} of each "
                        "gold name's mentions hidden and placed among its known persons; "
                        f"review below confidence {assignment['review_below']}")
    for column in ("hidden", "blocks", "mentions", "accuracy", "to review",
                   "accuracy of the rest", "baseline accuracy"):
        table.add_column(column, justify="left" if column in ("hidden", "blocks")
                         else "right")
    for way in ("newest", "random"):
        for blocks in ("all", "multi"):
            row = assignment[way][blocks]
            rest = row["accuracy_not_reviewed"]
            table.add_row(way, blocks, f"{row['hidden_mentions']:,}", f"{row['accuracy']:.3f}",
                          f"{row['sent_to_review']:.1%}",
                          "-" if rest is None else f"{rest:.3f}",
                          f"{row['baseline_accuracy']:.3f}")
    console.print(table)


def _print_variant_eval(variants: dict[str, Any]) -> None:
    table = Table(title=f"Name variants, blind: {variants['gold_pairs']:,} gold pairs; "
                        f"{variants['candidates']:,} candidates hold "
                        f"{variants['candidate_recall']:.1%} of them")
    for column in ("method", "scored by", "proposed pairs", "confirmed", "errors", "unknown",
                   "precision", "recall"):
        table.add_column(column, justify="left" if column in ("method", "scored by")
                         else "right")
    rows = [("pipeline", "persons", variants["persons"]),
            ("pipeline", "links", variants["links"]),
            ("strings only", "links", variants["baseline_strings_only"])]
    user = variants.get("as_user", {})
    rows += [("as a user", by, user[by]) for by in ("persons", "links") if by in user]
    for method, by, row in rows:
        table.add_row(method, by, f"{row['proposed_pairs']:,}", f"{row['confirmed']:,}",
                      f"{row['errors']:,}", f"{row['unknown']:,}", f"{row['precision']:.3f}",
                      f"{row['recall']:.3f}")
    console.print(table)


def _add_apply_options(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true",
                      help="print a unified diff of every file that would change; write nothing")
    mode.add_argument("--in-place", action="store_true",
                      help="change the files of --anthology as one change: all staged "
                           "first, registry before XML, old files restored on any failure")
    mode.add_argument("--out", type=replaceable_dir_path, metavar="DIR",
                      help="write a complete patched copy of the data directory to DIR. DIR "
                           "must be new or empty (or an earlier --out of this tool, with "
                           "--force), and must not be, hold or lie inside an input")
    parser.add_argument("--force", action="store_true",
                        help="let --out replace an earlier output of this tool (recognised by "
                             "its marker file) as a whole, including anything added to it")


def _check_apply_target(args: argparse.Namespace, inputs: dict[str, Path]) -> Path:
    """The data directory, after checking (before any work) that --out may be written."""
    from pipeline.anthology.output_dir import check_replaceable_dir
    from pipeline.anthology.snapshot import find_data_dir

    data_dir = find_data_dir(args.anthology)
    if args.out is not None:
        check_replaceable_dir(args.out, {"data directory": data_dir,
                                         "Anthology directory": args.anthology, **inputs},
                              args.force)
    return data_dir


def _check_files_out(args: argparse.Namespace, file_names: Sequence[str]) -> None:
    from pipeline.anthology.output_dir import check_files_dir
    from pipeline.anthology.snapshot import find_data_dir

    check_files_dir(args.out, find_data_dir(args.anthology), file_names)


def _apply(args: argparse.Namespace, changeset: Any, data_dir: Path) -> None:
    from pipeline.anthology.changeset import ApplyMode, apply, unified_diff

    mode: ApplyMode = "dry-run" if args.dry_run else "in-place" if args.in_place else "out"
    changes = apply(changeset, data_dir, mode, args.out)
    if mode == "dry-run":
        sys.stdout.write(unified_diff(changes))
        log.info("dry run: %d files would change; nothing written", len(changes.new))
    else:
        where = data_dir if mode == "in-place" else args.out
        log.info("changed %d files in %s", len(changes.new), where)


def cmd_migrate(args: argparse.Namespace) -> int:
    from pipeline.export.migrate import plan_migration

    _check_apply_target(args, {})
    snapshot = _read(args)
    migration = plan_migration(snapshot)
    for note in migration.notes:
        log.info("%s", note)
    _apply(args, migration.changeset, snapshot.data_dir)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.anthology.atomic import atomic_write_files
    from pipeline.export.decisions import apply_decisions, moved_persons, read_decisions
    from pipeline.export.entries import plan_export, read_assignments
    from pipeline.export.pr_summary import (
        display_names,
        evidence_after_decisions,
        evidence_of,
        render_summary,
    )
    from pipeline.export.variant_merges import follow_renames, merges_of, read_proposals
    from pipeline.resolve.proposals_format import check_proposals

    data_dir = _check_apply_target(args, {"resolution directory": args.resolution})
    if args.summary is not None:
        from pipeline.anthology.output_dir import check_summary_file
        from pipeline.export.pr_summary import SUMMARY_HEADER

        protected = {"data directory": data_dir, "Anthology directory": args.anthology}
        if args.out is not None:
            protected["--out directory"] = args.out
        check_summary_file(args.summary, protected, [
            args.resolution / "assignments.csv", args.resolution / "proposals.json"],
            SUMMARY_HEADER)
    source = args.resolution / "assignments.csv"
    assignments = read_assignments(source)
    decisions = read_decisions(args.decisions) if args.decisions is not None else None
    proposals_path = args.resolution / "proposals.json"
    proposals = read_proposals(proposals_path)  # read once: merges and evidence
    if proposals:
        check_proposals(proposals, proposals_path, need_splits=False)
    snapshot = _read(args)
    merges = [] if args.no_variants else merges_of(proposals, proposals_path)
    renaming_notes: list[str] = []
    evidence = evidence_of(proposals)
    if decisions is not None:
        decided = apply_decisions(assignments, decisions, snapshot, args.decisions)
        moved = moved_persons(assignments, decided)
        merges, renaming_notes = follow_renames(merges, moved)
        evidence = evidence_after_decisions(evidence, moved)
        assignments = decided
        log.info("%d decisions from %s applied (%d mentions)", len(decisions),
                 args.decisions, sum(len(d["mentions"]) for d in decisions))
    plan = plan_export(snapshot, assignments, source, args.format, merges)
    plan.notes.extend(renaming_notes)
    path = args.summary or args.resolution / f"pr-summary-{plan.format}.md"
    full_path = path.with_name(f"{path.stem}-full.md")
    if args.summary is not None:
        check_summary_file(full_path, protected, [
            args.resolution / "assignments.csv", args.resolution / "proposals.json"],
            SUMMARY_HEADER)
    summary = render_summary(plan, evidence, full_path.name,
                             display_names(proposals))
    _apply(args, plan.changeset, snapshot.data_dir)
    if args.dry_run:  # all of it: no file is written for the rest
        sys.stdout.write("\n" + summary.full)
    else:
        # Both, always, so neither is left stale beside the other.
        atomic_write_files({path: summary.body.encode("utf-8"),
                            full_path: summary.full.encode("utf-8")})
        log.info("wrote the pull-request summary to %s (%d characters)", path,
                 len(summary.body))
        if summary.truncated:
            log.info("it was shortened to fit a pull-request description; the full summary "
                     "is in %s", full_path)
    return 0


def _add_person_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-person-mentions", type=int, default=2, metavar="N",
                        help="a cluster without an id or ORCID becomes a new person only "
                             "with at least N mentions (default: %(default)s); smaller ones "
                             "stay with the name's catch-all")
    parser.add_argument("--min-person-confidence", type=float, default=0.5, metavar="P",
                        help="... and a mean same-person probability of at least P "
                             "(default: %(default)s)")


# What `add_subparsers()` returns (generic only to the type checker); each
# `_add_*_command` adds one subcommand to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anthology-resolve",
        description="Graph-based resolution of author identities in the ACL Anthology.",
    )
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars, only warnings and errors in the log")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (
            _add_prepare_command,
            _add_stats_command,
            _add_bench_command,
            _add_resolve_command,
            _add_export_command,
            _add_review_command,
            _add_migrate_command,
            _add_graphs_command,
            _add_evaluate_command,
            _add_nightly_command,
    ):
        add_command(sub)
    return parser


def _add_prepare_command(sub: Subcommands) -> None:
    prepare = sub.add_parser(
        "prepare", help="make a snapshot available (unpack the tarball or clone)",
        description="Ensure --anthology holds Anthology data: keep it if present, else unpack "
                    "--tarball, else shallow-clone --repository.")
    prepare.add_argument("--anthology", type=Path, default=DEFAULT_ANTHOLOGY, metavar="DIR",
                         help="where the snapshot lives or is unpacked (default: %(default)s)")
    prepare.add_argument("--tarball", type=Path, metavar="FILE",
                         help="snapshot tarball (.tar.xz of the repository's data/)")
    prepare.add_argument("--repository", default="https://github.com/acl-org/acl-anthology.git",
                         metavar="URL", help="git repository to clone when there is no tarball")
    prepare.add_argument("--no-clone", action="store_true", help="never clone")
    prepare.set_defaults(func=cmd_prepare)


def _add_stats_command(sub: Subcommands) -> None:
    stats = sub.add_parser(
        "stats", help="count volumes, papers, mentions, registry persons, ambiguous names",
        description="Read a snapshot and print its counts, then the warnings found while "
                    "reading (e.g. ambiguous names used without an id).")
    _add_snapshot_options(stats)
    stats.add_argument("--all-warnings", action="store_true", help="list every warning")
    stats.set_defaults(func=cmd_stats)


def _add_bench_command(sub: Subcommands) -> None:
    bench = sub.add_parser(
        "bench", help="measure speed and memory of each stage against a bare lxml parse",
        description="Run each benchmark case in a fresh process --repeat times; report the "
                    "median wall time, its ratio to a bare lxml parse of the same files "
                    "measured in the same run, and peak memory. Writes OUT/bench.json.")
    bench.add_argument("--anthology", type=Path, default=DEFAULT_ANTHOLOGY, metavar="DIR",
                       help="Anthology data directory (default: %(default)s)")
    bench.add_argument("--out", type=Path, default=Path("out/bench"), metavar="DIR",
                       help="where bench.json is written (default: %(default)s)")
    bench.add_argument("--repeat", type=int, default=3, metavar="N",
                       help="runs per case; the median is reported (default: %(default)s)")
    bench.add_argument("--cases", nargs="*", metavar="CASE",
                       help="cases to run (default: all)")
    bench.set_defaults(func=cmd_bench)


def _add_resolve_command(sub: Subcommands) -> None:
    resolve = sub.add_parser(
        "resolve", help="split ambiguous names into persons; write assignments and proposals",
        description="Score every name for ambiguity, split the chosen names into person "
                    "clusters (Leiden, seeded), match clusters to registry persons or propose "
                    "ids; find name strings that are one person (name variants) and decide "
                    "them on the graph; write OUT/assignments.csv and OUT/proposals.json.")
    _add_snapshot_options(resolve)
    _add_split_options(resolve)
    resolve.add_argument("--no-variants", action="store_true",
                         help="do not look for name variants (by default every pair of "
                              "names is considered; with --name, only pairs touching the "
                              "given names)")
    resolve.add_argument("--out", type=Path, default=Path("out"), metavar="DIR",
                         help="output directory (default: %(default)s)")
    resolve.add_argument("--name", action="append", default=[], metavar="SLUG",
                         help="resolve only this name (repeatable), e.g. --name yang-liu")
    _add_person_options(resolve)
    resolve.set_defaults(func=cmd_resolve)


def _add_export_command(sub: Subcommands) -> None:
    export = sub.add_parser(
        "export", help="write registry entries and <author id> patches for a resolution",
        description="Read RESOLUTION/assignments.csv (from `resolve`), add registry entries "
                    "for new persons (and catch-alls where the rules need one), and add "
                    "id=\"...\" to exactly the <author>/<editor> elements that need one, "
                    "apply the name-variant merges of RESOLUTION/proposals.json (the merged "
                    "names listed by one person), "
                    "without changing any specific id already in the XML (a catch-all id is "
                    "replaced where the resolution names a person) or any other byte. With "
                    "--decisions, a curator's decisions from a review page override the "
                    "resolution for the mentions they list. Writes a pull-request summary "
                    "(RESOLUTION/pr-summary-FORMAT.md) unless --dry-run.")
    _add_snapshot_options(export)
    export.add_argument("--resolution", type=Path, default=Path("out"), metavar="DIR",
                        help="directory of a `resolve` run (default: %(default)s)")
    export.add_argument("--no-variants", action="store_true",
                        help="do not apply the name-variant merges of "
                             "RESOLUTION/proposals.json")
    export.add_argument("--decisions", type=Path, metavar="FILE",
                        help="a decisions file downloaded from a review page "
                             "(`anthology-resolve review`): which person each listed "
                             "mention is; it overrides the resolution for those mentions")
    export.add_argument("--format", choices=["legacy", "current"], default=None,
                        help="registry format to write (default: the snapshot's own; "
                             "`current` on a legacy snapshot migrates it first)")
    export.add_argument("--summary", type=Path, metavar="FILE",
                        help="where the pull-request summary goes (default: "
                             "RESOLUTION/pr-summary-FORMAT.md); never inside the data or "
                             "--out, and an existing FILE only if it is an earlier summary")
    _add_apply_options(export)
    export.set_defaults(func=cmd_export)


def _add_resolution_reader_options(parser: argparse.ArgumentParser, default_out: Path,
                                   out_help: str) -> None:
    """Options of a command that reads a resolution and replaces OUT as a whole."""
    _add_snapshot_options(parser)
    parser.add_argument("--resolution", type=Path, default=Path("out"), metavar="DIR",
                        help="directory of a `resolve` run (default: %(default)s)")
    parser.add_argument("--out", type=replaceable_dir_path, default=default_out,
                        metavar="DIR", help=f"{out_help} (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT if it holds an earlier output of anthology-resolve")


def _add_review_command(sub: Subcommands) -> None:
    review = sub.add_parser(
        "review", help="write review pages a curator opens in a browser (no server needed)",
        description="Read RESOLUTION/proposals.json (from `resolve`) and the snapshot; write "
                    "a static site into OUT: index.html ranks the split names by how much a "
                    "curator's decision is needed, names/<slug>.html shows a name's papers "
                    "grouped by proposed person with their evidence, where papers can be "
                    "moved to another or a new person and the page writes the registry "
                    "entries and a decisions file for `export --decisions`; variants.html "
                    "lists the name-variant merges. OUT is replaced as a whole, so it must be "
                    "absent, empty or an earlier review site (with --force).")
    _add_resolution_reader_options(review, Path("out/review"), "where the site is written")
    review.set_defaults(func=cmd_review)


def _add_migrate_command(sub: Subcommands) -> None:
    migrate = sub.add_parser(
        "migrate", help="convert a legacy snapshot to the current people.json format",
        description="Convert yaml/name_variants.yaml to json/people.json and set the XML ids "
                    "the current rules need, as the Anthology's own migration did: registry "
                    "persons with papers become verified, catch-alls become unverified, "
                    "ORCIDs without an id become verified persons, invalid ids and ORCIDs are "
                    "repaired or removed (each is logged).")
    _add_snapshot_options(migrate)
    _add_apply_options(migrate)
    migrate.set_defaults(func=cmd_migrate)


def _add_graphs_command(sub: Subcommands) -> None:
    graphs = sub.add_parser(
        "graphs", help="write Gephi graphs (GEXF 1.3 and GraphML) of a resolution",
        description="Read RESOLUTION/proposals.json and assignments.csv (from `resolve`) and "
                    "the snapshot; write into OUT, per split name, its mentions coloured by "
                    "proposed person and linked to their coauthors (names/<slug>.gexf); the "
                    "resolved person-coauthor network (coauthors.gexf); the name-variant "
                    "links (variants.gexf); each also as GraphML, with colours, sizes and a "
                    "layout set, and index.md listing them. OUT is replaced as a whole, so "
                    "it must be absent, empty or an earlier output (with --force).")
    _add_resolution_reader_options(graphs, Path("graphs/resolution"),
                                   "where the graphs are written")
    graphs.set_defaults(func=cmd_graphs)


def _add_evaluate_command(sub: Subcommands) -> None:
    evaluate = sub.add_parser(
        "evaluate", help="blind evaluation against the snapshot's own curation",
        description="Strip ids and ORCIDs from every mention of each curated name, resolve "
                    "the names (models cross-fitted over two folds of names), and score "
                    "B-cubed and pairwise F1 against the curation, with two baselines; then "
                    "the same with thinner curation, and as a user: the real `resolve` on "
                    "copies of the snapshot without the evaluated names' ids and ORCIDs. "
                    "Writes OUT/evaluation.json.")
    _add_snapshot_options(evaluate)
    _add_split_options(evaluate)
    evaluate.add_argument("--out", type=Path, default=Path("out/eval"), metavar="DIR",
                          help="where evaluation.json is written; stripped copies of the "
                               "snapshot are made (and removed) under it "
                               "(default: %(default)s)")
    evaluate.add_argument("--train-fraction", type=float, default=1.0, metavar="F",
                          help="share of the training fold's curated names the models may "
                               "learn from (default: %(default)s)")
    evaluate.add_argument("--no-curve", action="store_true",
                          help="skip the thin-curation curve (100/50/10/0%% of the curation)")
    evaluate.add_argument("--no-ablation", action="store_true",
                          help="skip the ablation (the cross-fitted figure with each kind "
                               "of evidence removed in turn)")
    evaluate.add_argument("--no-variants", action="store_true",
                          help="skip the name-variant evaluation")
    evaluate.add_argument("--no-assignment", action="store_true",
                          help="skip the incremental-assignment evaluation (hidden curated "
                               "mentions placed among the known persons of their name)")
    evaluate.add_argument("--without", action="append", default=[], metavar="KIND",
                          choices=list(EVIDENCE_KINDS),
                          help="remove a kind of evidence from every mode; repeatable "
                               "(choices: %(choices)s)")
    evaluate.add_argument("--no-as-user", action="store_true",
                          help="skip the as-a-user modes (real `resolve` on stripped copies: "
                               "two-fold, and no curation at all)")
    evaluate.set_defaults(func=cmd_evaluate)


def _add_split_options(parser: argparse.ArgumentParser) -> None:
    from pipeline.resolve.settings import (
        DEFAULT_MIN_AMBIGUITY,
        DEFAULT_RESOLUTION,
        DEFAULT_SEED,
    )

    parser.add_argument("--resolution", type=float, default=DEFAULT_RESOLUTION,
                        help="Leiden CPM resolution on pair log-odds: two groups of mentions "
                             "join when their mean log-odds exceed it (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed of Leiden and of the learnt models (default: %(default)s)")
    parser.add_argument("--calibrate", action="store_true",
                        help="refit the pair model's prior (scale, weight of commonness, "
                             "intercept) on the snapshot's curated names instead of keeping "
                             "the prior written in the code (measured worse: see README)")
    parser.add_argument("--merge-clusters", action="store_true",
                        help="after the split, merge clusters of a name whose pooled evidence "
                             "says they are one person (experimental: see README)")
    parser.add_argument("--min-ambiguity", type=float, default=DEFAULT_MIN_AMBIGUITY,
                        metavar="SCORE",
                        help="only names whose ambiguity score (0-1) reaches this are split; "
                             "the rest stay one person. The default, 0, considers every name "
                             "with 2+ mentions (names the registry or curation marks are "
                             "always split; names so rare the pair model's prior keeps them "
                             "whole are skipped) (default: %(default)s)")


def _add_nightly_command(sub: Subcommands) -> None:
    nightly = sub.add_parser(
        "nightly", help="resolve again, recomputing only what changed since the last night; "
                        "write a change report",
        description="Run the main job as the nightly CI job does. The state directory keeps "
                    "the last night's parsed tables, models, results and name fingerprints. "
                    "Unchanged input: nothing is recomputed. Otherwise only the names whose "
                    "mentions, papers, coauthors or registry entries changed are split again, "
                    "with the models learnt before (a full run when there is no usable state, "
                    "with --full, or when code, settings or registry format changed). Results "
                    "go to STATE/run/ (assignments.csv, proposals.json, placements.csv, "
                    "ambiguity.csv: the files `resolve` writes, for export, review and "
                    "graphs), the change report to STATE/report.md and STATE/report.json. "
                    "Exit status: 0 whatever was found, 2 on bad input (the report lists "
                    "the problems) or a state directory that is not the tool's own.")
    nightly.add_argument(
        "--anthology", type=Path, default=DEFAULT_ANTHOLOGY, metavar="DIR",
        help="Anthology data: a directory holding xml/ and yaml/ (or json/), or a repository "
             "checkout holding data/ (default: %(default)s)")
    nightly.add_argument("--state", type=Path, default=Path("state"), metavar="DIR",
                         help="the job's state, kept between nights: new, empty or written "
                              "by an earlier night (default: %(default)s)")
    nightly.add_argument("--full", action="store_true",
                         help="learn the models again and split every name (person ids "
                              "still kept stable against the last night)")
    nightly.add_argument("--workers", type=_worker_count, default=0, metavar="N",
                         help="processes for parsing and for the stages that go name by "
                              "name (the same output with any number; at most one per core; "
                              "default 0: one per core, at most 4)")
    _add_split_options(nightly)
    nightly.add_argument("--no-variants", action="store_true",
                         help="do not look for name variants")
    _add_person_options(nightly)
    nightly.set_defaults(func=cmd_nightly, name=[])


def cmd_nightly(args: argparse.Namespace) -> int:
    from pipeline.nightly.run import run_nightly

    # Bad input, or a bug: a `failed` report says why, and the error goes on up.
    report, written = run_nightly(args.anthology, args.state, _resolve_settings(args),
                                  full=args.full, workers=args.workers,
                                  show_progress=not args.quiet)
    run = report["run"]
    new = report["new_assignments"]
    console.print(
        f"{run['mode']} night ({run['reason']}): {run['recomputed']:,} names recomputed; "
        f"{len(report['new_ambiguous_names']):,} new ambiguous names, {len(new):,} new "
        f"assignments ({sum(1 for row in new if row.get('review')):,} for review), "
        f"{len(report['changed_clusters']):,} clusters changed, {len(report['flipped']):,} "
        "mentions given to another person", highlight=False)
    for path in written:
        log.info("wrote %s", path)
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a CI timeout, `kill`)."""


# The stop signals that arrived during this run, in order.
_stop_signals: list[int] = []


def _interrupt_on_stop_signals() -> None:
    """SIGTERM unwinds like Ctrl-C, so in-place runs roll back. Each is also noted: Python
    drops an exception raised where it runs a garbage collector's callback, and a Ctrl-C
    landing there (helper-37: 2 in 10 at the end of a night) let the run exit 0."""
    def on_sigterm(signum: int, frame: object) -> None:
        _stop_signals.append(signum)
        raise _Terminated(f"signal {signum}")

    def on_sigint(signum: int, frame: object) -> None:
        _stop_signals.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored
        signal.signal(signal.SIGINT, on_sigint)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False)],
    )
    _stop_signals.clear()
    _interrupt_on_stop_signals()
    requested = getattr(args, "workers", 0)
    if requested and worker_count(requested) < requested:
        log.info("--workers %d: %d used (at most one per core)", requested,
                 worker_count(requested))
    try:
        code: int = args.func(args)
    except InputError as exc:
        console.print(f"[red]error:[/red] {len(exc.problems)} problem(s) in the input:")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
        return 2
    except AnthologyResolveError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    except OSError as exc:  # a full disk, a file we may not write, a path that vanished
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        console.print(f"[red]error:[/red] {escape(where or 'input/output')}: "
                      f"{escape(str(exc.strerror or exc))}; nothing was left half-written",
                      highlight=False)
        return 2
    except KeyboardInterrupt as exc:
        return _stopped(signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT)
    if _stop_signals:  # raised where Python dropped it: the run went on to its end
        return _stopped(_stop_signals[0])
    return code


def _stopped(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (SIGINT 2, SIGTERM 15)."""
    console.print(f"[red]{'terminated' if signum == signal.SIGTERM else 'interrupted'}"
                  "[/red]; each output is either complete or as it was before the run")
    return 128 + signum


def run() -> NoReturn:
    """The command's entry point: the garbage collector set as a run needs (`garbage.py`),
    `main`, then the process ends without freeing its objects one by one, which after a full
    `resolve` took 0.4-0.5 s (every output is written and closed by then; forked helpers end
    with this process, `parallel.die_with_parent`)."""
    collect_garbage_as_a_run_needs()
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
