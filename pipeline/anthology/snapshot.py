"""Read an Anthology data directory (`xml/*.xml` plus the person registry) into a `Snapshot`.

Stages: find the data directory, hash every volume file, parse the files whose hash is not in
the parquet cache (`table_cache.py`; in worker processes), then load the registry. The cache
keeps one table of each kind with a `file` column; a changed file replaces only its own rows.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.anthology.atomic import NotItsContent
from pipeline.anthology.content_hashes import COLUMN as CONTENT_HASH
from pipeline.anthology.content_hashes import content_hashes
from pipeline.anthology.data_dir import SnapshotNotFoundError, file_digest, find_data_dir
from pipeline.anthology.names import full_name, name_slug
from pipeline.anthology.orcids import orcid_key, usable_orcids
from pipeline.anthology.registry import Registry, load_registry, resolve_mentions
from pipeline.anthology.table_cache import SCHEMAS, TABLE_NAMES, NotThisTable, TableCache
from pipeline.anthology.transaction import recover
from pipeline.anthology.venues import add_venues, venue_acronyms
from pipeline.anthology.volumes import (
    MENTION_FIELDS,
    PAPER_FIELDS,
    VOLUME_FIELDS,
    parse_volume_file,
)
from pipeline.errors import Problem, ProblemLog
from pipeline.garbage import cyclic_gc_paused
from pipeline.parallel import forked_map, worker_count
from pipeline.progress import progress_bar

log = logging.getLogger(__name__)
# find_data_dir, file_digest and SnapshotNotFoundError live in data_dir.py (light to import).
__all__ = ["Snapshot", "SnapshotNotFoundError", "file_digest", "find_data_dir", "read_snapshot"]

_FIELDS = {"mentions": MENTION_FIELDS, "papers": PAPER_FIELDS, "volumes": VOLUME_FIELDS}


@dataclass(frozen=True)
class Snapshot:
    """One Anthology snapshot as tables.

    `mentions`: one row per `<author>`/`<editor>`, in file and document order; `paper` is the
    full Anthology id (volume editors carry the volume id), `position` is 0-based within its
    role, `slug` is the Anthology's name slug, `orcid` an ORCID that identifies someone
    (`orcids.usable_orcids`), `xml_orcid` the attribute as the file has it. `papers`: one row
    per paper and front matter. Both carry the `content_hash` of each row as parsed
    (`content_hashes.py`).
    `volumes`: one row per volume. `problems`: what reading found (warnings; errors raise).
    """

    data_dir: Path
    mentions: pd.DataFrame
    papers: pd.DataFrame
    volumes: pd.DataFrame
    registry: Registry
    problems: ProblemLog
    cache_dir: Path | None = None  # where derived data may be cached (None: nowhere)

    def names_on(self, papers: set[str]) -> dict[str, list[tuple[str, str]]]:
        """Per paper (or volume, for editors): its authors and editors in document order, as
        (name slug, name as written)."""
        rows = self.mentions[self.mentions["paper"].isin(papers)]
        by_paper: dict[str, list[tuple[str, str]]] = {}
        for paper, slug, first, last in zip(rows["paper"].tolist(), rows["slug"].tolist(),
                                            rows["first"].tolist(), rows["last"].tolist()):
            by_paper.setdefault(str(paper), []).append(
                (str(slug), full_name(first if isinstance(first, str) else "",
                                      last if isinstance(last, str) else "")))
        return by_paper

    def venue_acronyms(self) -> dict[str, str]:
        """Venue slug -> acronym (`acl` -> `ACL`), for display."""
        return venue_acronyms(self.data_dir)


def _parse_files(paths: list[str]) -> tuple[dict[str, pa.Table], list[Problem]]:
    """Worker: parse a batch of volume files into Arrow tables (with name slugs)."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_NAMES}
    files: dict[str, list[str]] = {name: [] for name in TABLE_NAMES}
    problems: list[Problem] = []
    # Millions of small objects are created and kept: the cyclic collector would re-scan them
    # again and again (measured: it more than doubled parse time), and they form no cycles.
    with cyclic_gc_paused():
        for path in paths:
            tables = parse_volume_file(Path(path))
            problems.extend(tables.problems.problems)
            for name, parsed in (("mentions", tables.mentions), ("papers", tables.papers),
                                 ("volumes", tables.volumes)):
                rows[name].extend(parsed)
                files[name].extend([Path(path).name] * len(parsed))
        arrow = {name: _to_arrow(name, rows[name], files[name]) for name in TABLE_NAMES}
        hashes = dict(zip(("mentions", "papers"),
                          content_hashes(arrow["mentions"], arrow["papers"])))
        for name, values in hashes.items():
            arrow[name] = arrow[name].append_column(SCHEMAS[name].field(CONTENT_HASH),
                                                    pa.array(values, type=pa.uint64()))
    return arrow, problems


def _to_arrow(name: str, rows: list[tuple[Any, ...]], files: list[str]) -> pa.Table:
    fields = _FIELDS[name]
    columns = dict(zip(fields, zip(*rows))) if rows else {f: () for f in fields}
    data: dict[str, Any] = {"file": files, **{f: list(v) for f, v in columns.items()}}
    if name == "mentions":
        data["slug"] = [name_slug(first, last)
                        for first, last in zip(columns["first"], columns["last"])]
    schema = pa.schema([f for f in SCHEMAS[name] if f.name != CONTENT_HASH])
    return pa.table({f.name: data[f.name] for f in schema}, schema=schema)


def _batches(paths: list[Path], n_batches: int) -> list[list[str]]:
    """Split into contiguous batches of about equal bytes, keeping file order."""
    sizes = [p.stat().st_size for p in paths]
    target = max(1, sum(sizes) // max(1, n_batches))
    batches: list[list[str]] = [[]]
    filled = 0
    for path, size in zip(paths, sizes):
        if filled >= target:
            batches.append([])
            filled = 0
        batches[-1].append(str(path))
        filled += size
    return [b for b in batches if b]


def parse_xml_files(
    paths: list[Path], workers: int = 0, show_progress: bool = False
) -> tuple[dict[str, pa.Table], list[Problem]]:
    """Parse volume files (in `workers` processes; 0 = one per core, at most 4) into Arrow
    tables."""
    if not paths:
        return {n: SCHEMAS[n].empty_table() for n in TABLE_NAMES}, []
    workers = worker_count(workers)
    if workers == 1 or len(paths) < 8:
        return _parse_files([str(p) for p in paths])
    batches = _batches(paths, workers * 8)
    parts: list[dict[str, pa.Table]] = []
    problems: list[Problem] = []
    with forked_map(lambda number: _parse_files(batches[number]), len(batches),
                    workers) as parsed, progress_bar(
            "Parsing volume files", total=len(paths), enabled=show_progress) as advance:
        for batch, (tables, batch_problems) in zip(batches, parsed):
            parts.append(tables)
            problems.extend(batch_problems)
            advance(len(batch))
    return {n: pa.concat_tables([p[n] for p in parts]) for n in TABLE_NAMES}, problems


def _problem_to_json(p: Problem) -> list[Any]:
    # Only the file name is kept: a cache shared by two copies of a snapshot must name the
    # files of the copy being read.
    return [Path(p.source).name, p.line, p.message, p.value, p.severity]


def _problem_from_json(item: list[Any], xml_dir: Path) -> Problem:
    return Problem(str(xml_dir / item[0]), item[1], item[2], item[3], item[4])


def list_volume_files(data_dir: Path) -> list[Path]:
    """The volume files of `xml/`; anything named `*.xml` that is not a readable regular file
    (a directory, a broken link, a symlink loop) is an error naming it."""
    problems = ProblemLog()
    paths = sorted((data_dir / "xml").glob("*.xml"))
    for path in paths:
        try:
            if not path.is_file():
                problems.error(path, None, "named like a volume file but is not a regular "
                               "file (a directory?)")
            elif not os.access(path, os.R_OK):
                problems.error(path, None, "volume file is not readable")
        except OSError as exc:  # ELOOP and friends
            problems.error(path, None, f"cannot be read: {exc.strerror}")
    problems.raise_if_errors()
    if not paths:
        raise SnapshotNotFoundError(f"{data_dir / 'xml'}: no volume files (*.xml)")
    return paths


def read_tables(
    data_dir: Path,
    cache_dir: Path | None = None,
    workers: int = 0,
    show_progress: bool = False,
    digests: Mapping[str, str] | None = None,
    defer_caching: Callable[[Callable[[], None]], None] | None = None,
    table_cache: TableCache | None = None,
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Parse (or load from cache) the mention, paper and volume tables of a data directory.
    `digests`: the `file_digest` of volume files (by file name) the caller has just taken.
    `defer_caching`: given the task that caches what was parsed, instead of running it here
    (for a caller that runs it in another process later; not run, the cache stays as it was
    and the files are parsed again next time). `table_cache`: the cache of parsed tables in
    `cache_dir`, if the caller has one already (a `TableCacheReading` that started early)."""
    xml_paths = list_volume_files(data_dir)
    xml_dir = data_dir / "xml"
    if cache_dir is None:
        arrow, problems = parse_xml_files(xml_paths, workers, show_progress)
        return _to_pandas(arrow), problems
    known = digests or {}
    digests = {p.name: known.get(p.name) or file_digest(p) for p in xml_paths}
    cache = TableCache(cache_dir)
    if table_cache is not None:
        if table_cache.directory != cache.directory:
            raise ValueError(f"the table cache {table_cache.directory} is not the one in "
                             f"{cache_dir}")
        cache = table_cache
    manifest = cache.load_manifest()
    cached_files: dict[str, str] = manifest["files"]
    stale = [p for p in xml_paths if cached_files.get(p.name) != digests[p.name]]
    reusable = sorted(set(cached_files) & set(digests) - {p.name for p in stale})
    previous = _load_cached_tables(cache, manifest) if reusable else None
    if previous is None:  # nothing to reuse, or a cache that cannot be read: parse it all
        stale, reusable = xml_paths, []
    elif not stale and set(cached_files) == set(digests):
        log.info("loaded parsed tables from cache %s", cache.directory)
        problems = [_problem_from_json(x, xml_dir)
                    for items in manifest["problems"].values() for x in items]
        return _to_pandas(previous), problems

    log.info("parsing %d of %d volume files", len(stale), len(xml_paths))
    fresh, fresh_problems = parse_xml_files(stale, workers=workers, show_progress=show_progress)
    if previous is not None:
        arrow = {n: _splice_by_file(previous[n], fresh[n], reusable, xml_paths)
                 for n in TABLE_NAMES}
    else:
        arrow = fresh
    problems_by_file: dict[str, list[list[Any]]] = {
        f: items for f, items in manifest["problems"].items() if f in reusable}
    for problem in fresh_problems:
        problems_by_file.setdefault(Path(problem.source).name, []).append(
            _problem_to_json(problem))
    caching = functools.partial(_store, cache, arrow,
                                {"files": digests, "problems": problems_by_file})
    if defer_caching is None:
        caching()
    else:
        defer_caching(caching)
    problems = [_problem_from_json(x, xml_dir) for items in problems_by_file.values()
                for x in items]
    return _to_pandas(arrow), problems


def _store(cache: TableCache, tables: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
    try:
        cache.store(tables, manifest)
        log.info("cached parsed tables in %s", cache.directory)
    except OSError as error:  # the cache only saves time: the tables are read
        log.warning("could not cache the parsed tables in %s: %s", cache.directory, error)


def _load_cached_tables(cache: TableCache, manifest: dict[str, Any]
                        ) -> dict[str, pa.Table] | None:
    """The cached tables, or None (with a warning) when they cannot be read."""
    try:
        return cache.load_tables(manifest)
    except (OSError, pa.ArrowException, NotItsContent, NotThisTable) as exc:
        log.warning("the table cache in %s cannot be read (%s); parsing again and "
                    "rebuilding it", cache.directory, exc)
        return None


def _splice_by_file(previous: pa.Table, fresh: pa.Table, reusable: list[str],
                    xml_paths: list[Path]) -> pa.Table:
    """The cached rows of the `reusable` files and the `fresh` rows of the re-parsed ones,
    in file order (stable: each file's rows keep their order). Built from slices of the two
    tables, not copied row by row: a night re-parses a file or two, and copying the paper
    table (with its abstracts) into a new order took most of reading the snapshot."""
    names = pa.array([p.name for p in xml_paths])
    previous_rank = pa.compute.index_in(previous["file"], value_set=names).to_numpy(
        zero_copy_only=False)
    kept = pa.compute.is_in(previous["file"], value_set=pa.array(reusable)).to_numpy(
        zero_copy_only=False)
    fresh_rank = pa.compute.index_in(fresh["file"], value_set=names).to_numpy(
        zero_copy_only=False)
    rank = np.concatenate([np.where(kept, np.nan_to_num(previous_rank, nan=-1), -1),
                           np.nan_to_num(fresh_rank, nan=-1)]).astype(np.int64)
    rows = np.flatnonzero(rank >= 0)
    order = rows[np.argsort(rank[rows], kind="stable")]
    combined = pa.concat_tables([previous, fresh])
    if len(order) == 0:
        return combined.slice(0, 0)
    # Runs of consecutive rows become one slice each.
    starts = np.flatnonzero(np.diff(order, prepend=order[0] - 2) != 1)
    ends = np.append(starts[1:], len(order))
    return pa.concat_tables([combined.slice(int(order[a]), int(b - a))
                             for a, b in zip(starts, ends)])


def _to_pandas(arrow: dict[str, pa.Table]) -> dict[str, pd.DataFrame]:
    mapper = {pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    return {n: t.to_pandas(types_mapper=mapper) for n, t in arrow.items()}


def read_snapshot(
    path: Path,
    cache_dir: Path | None = None,
    workers: int = 0,
    show_progress: bool = False,
    digests: Mapping[str, str] | None = None,
    defer_caching: Callable[[Callable[[], None]], None] | None = None,
    table_cache: TableCache | None = None,
) -> Snapshot:
    """Read a snapshot: volume tables plus the person registry, problems collected.
    `digests`, `defer_caching`, `table_cache`: as `read_tables` takes them.

    Raises `InputError` listing every error (malformed XML, empty names, bad registry entries)
    found in one pass; warnings stay in `Snapshot.problems`.
    """
    data_dir = find_data_dir(path)
    recover(data_dir)
    tables, problems = read_tables(data_dir, cache_dir, workers, show_progress, digests,
                                   defer_caching, table_cache)
    log_ = ProblemLog(list(problems))
    duplicates = ProblemLog()
    _check_one_file_per_volume(tables["volumes"], data_dir / "xml", duplicates)
    _check_each_paper_once(tables["papers"], data_dir / "xml", duplicates)
    if duplicates.errors:  # what follows assumes each volume (and paper) once
        log_.extend(duplicates)
        log_.raise_if_errors()
    add_venues(tables, data_dir, log_)
    registry = load_registry(data_dir, log_)
    mentions = tables["mentions"]
    held = {key for person in registry.persons.values()
            if (key := orcid_key(person.orcid)) is not None}
    # `orcid` is identity, `xml_orcid` the attribute as written (what an XML edit expects).
    mentions["xml_orcid"] = mentions["orcid"]
    mentions["orcid"] = usable_orcids(mentions, held, log_, data_dir / "xml")
    mentions["person"] = resolve_mentions(registry, mentions, log_, data_dir / "xml")
    log_.raise_if_errors()
    return Snapshot(data_dir, mentions, tables["papers"], tables["volumes"], registry, log_,
                    cache_dir)


def _check_each_paper_once(papers: pd.DataFrame, xml_dir: Path, problems: ProblemLog) -> None:
    """A paper id twice in one volume (`<paper id="2">` copied and not renumbered): which
    paper its authors are on cannot be told."""
    twice = papers[papers["paper"].duplicated(keep=False)]
    counts = twice.groupby(["file", "paper"], sort=True).size()
    for (file, paper), count in zip(counts.index.tolist(), counts.tolist()):
        problems.error(xml_dir / str(file), None,
                       f"paper {paper} appears {count} times: each paper id once per volume",
                       str(paper))


def _check_one_file_per_volume(volumes: pd.DataFrame, xml_dir: Path, problems: ProblemLog
                               ) -> None:
    """Two files holding the same volume (e.g. `P19.xml` and a backup `P19 copy.xml`)."""
    files = volumes.groupby("volume", sort=True)["file"].unique()
    for volume, names in files[files.map(len) > 1].items():
        listed = sorted(str(n) for n in names)
        problems.error(xml_dir / listed[0], None,
                       f"volume {volume} is also in {', '.join(listed[1:])}: one collection, "
                       "one file (remove the copy)", str(volume))
