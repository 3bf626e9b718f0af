"""The parquet cache of parsed tables (`TableCache`), and reading it in a thread while the
caller does other work (`TableCacheReading`).

Light to import beside pandas and pyarrow: the nightly job starts the reading before it
imports the resolver, whose imports take a core for a second or two.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Literal

import msgspec
import pyarrow as pa

# `pq.read_table` imports the dataset module (and pandas with it) on first use: imported
# here, a reading thread imports nothing while the caller imports (two threads importing
# modules that import each other can deadlock).
import pyarrow.dataset  # noqa: F401
import pyarrow.parquet as pq

from pipeline.anthology.atomic import (
    atomic_write_bytes,
    is_content_named,
    read_content_named,
    remove_content_named,
    write_content_named,
)
from pipeline.anthology.content_hashes import COLUMN as CONTENT_HASH

# v2: empty names get no row; problems name files relative to the data directory.
# v3: table files named by their content, listed in the manifest.
# v4: mentions and papers carry the `content_hash` of each row (`content_hashes.py`).
# v5: names whose slug is empty or longer than 200 characters get no row, as empty names;
#     every kind of whitespace in a name is one space; ids with control characters are
#     errors.
CACHE_VERSION = "tables-v5"
TABLE_NAMES = ("mentions", "papers", "volumes")
SCHEMAS = {
    "mentions": pa.schema([
        ("paper", pa.string()), ("volume", pa.string()), ("file", pa.string()),
        ("role", pa.string()), ("position", pa.int32()), ("first", pa.string()),
        ("last", pa.string()), ("id", pa.string()), ("orcid", pa.string()),
        ("affiliation", pa.string()), ("variant_first", pa.string()),
        ("variant_last", pa.string()), ("variant_script", pa.string()),
        ("year", pa.int32()), ("venues", pa.string()), ("slug", pa.string()),
        (CONTENT_HASH, pa.uint64()),
    ]),
    "papers": pa.schema([
        ("paper", pa.string()), ("volume", pa.string()), ("file", pa.string()),
        ("is_frontmatter", pa.bool_()), ("title", pa.string()), ("abstract", pa.string()),
        ("year", pa.int32()), ("venues", pa.string()), ("volume_title", pa.string()),
        ("authors", pa.list_(pa.string())), (CONTENT_HASH, pa.uint64()),
    ]),
    "volumes": pa.schema([
        ("volume", pa.string()), ("file", pa.string()), ("type", pa.string()),
        ("title", pa.string()), ("year", pa.int32()), ("venues", pa.string()),
        ("has_frontmatter", pa.bool_()),
    ]),
}


class TableCache:
    """Parquet cache of the parsed tables, keyed by each input file's content hash.

    Each table file is named by its content and the manifest names the files it goes with,
    so the manifest's one atomic write switches the cache over: a run stopped while storing
    leaves the old manifest with the old tables, never the old manifest with new tables."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / CACHE_VERSION

    def _manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def load_manifest(self) -> dict[str, Any]:
        """The stored manifest, or an empty one when it is missing, of another shape, or
        names table files that are not there (the tables are then parsed again)."""
        empty: dict[str, Any] = {"files": {}, "problems": {}, "tables": {}}
        try:
            manifest = msgspec.json.decode(self._manifest_path().read_bytes(),
                                           type=_Manifest)
        except (OSError, msgspec.DecodeError):
            return empty
        tables = manifest.tables
        if set(tables) != set(TABLE_NAMES) or not all(
                is_content_named(tables[n], n, ".parquet")
                and (self.directory / tables[n]).is_file() for n in TABLE_NAMES):
            return empty
        plain: dict[str, Any] = msgspec.to_builtins(manifest)
        return plain

    def load_tables(self, manifest: dict[str, Any]) -> dict[str, pa.Table]:
        """The tables the manifest names, each checked against its content name first
        (NotItsContent otherwise: a table changed since would be read silently, with rows
        missing or columns filled with nulls) and then against its table's columns
        (NotThisTable: a manifest edited to name another table's file, or one without a
        column, would be read as the wrong table or with a column of nulls)."""
        tables = {}
        for name in TABLE_NAMES:
            path = self.directory / manifest["tables"][name]
            table = pq.read_table(pa.BufferReader(read_content_named(path)))
            if not table.schema.equals(SCHEMAS[name]):
                raise NotThisTable(f"{path}: its columns are not those of the {name} table")
            tables[name] = table
        return tables

    def store(self, tables: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        names = {}
        for name, table in tables.items():
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            names[name] = write_content_named(self.directory, name, ".parquet",
                                              sink.getvalue().to_pybytes())
        atomic_write_bytes(self._manifest_path(), json.dumps(
            {**manifest, "tables": names}, sort_keys=True).encode("utf-8"))
        remove_content_named(self.directory, TABLE_NAMES, ".parquet", names.values())


class NotThisTable(Exception):
    """A cached table file whose columns are not those of the table the manifest says."""


class TableCacheReading(TableCache):
    """A `TableCache` whose manifest and tables are read in a thread from the moment it is
    made: reading, checking and decoding the files release the GIL, so they go on beside
    the caller's work on the other core. `load_manifest` and `load_tables` (for that
    manifest) wait for the thread and give what it read, or raise what it raised.

    Call `wait()` before forking: a process forked while the thread reads could inherit a
    lock the thread holds, and wait on it for ever."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._manifest: dict[str, Any] | None = None
        self._tables: dict[str, pa.Table] | None = None
        self._error: BaseException | None = None
        self.failure: str | None = None  # why the tables could not be read, once handed over
        self._thread = threading.Thread(target=self._read, name="table-cache-reading",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self._manifest = super().load_manifest()
            if self._manifest["tables"]:
                self._tables = super().load_tables(self._manifest)
        except BaseException as error:  # raised in the caller's thread, by `load_tables`
            # Without its traceback: the frames would keep what was read (the whole file,
            # when its content was not the one named) for as long as the error is kept.
            self._error = error.with_traceback(None)

    def wait(self) -> None:
        """Until the thread has read the cache (or failed to)."""
        self._thread.join()

    def load_manifest(self) -> dict[str, Any]:
        self.wait()
        if self._manifest is None:  # the manifest itself could not be read
            assert self._error is not None
            raise self._error
        return self._manifest

    def load_tables(self, manifest: dict[str, Any]) -> dict[str, pa.Table]:
        """What the thread read (or raised) for `manifest`, handed over once; read again
        after that, or for another manifest."""
        self.wait()
        tables, error = self._tables, self._error
        if manifest is not self._manifest or (tables is None and error is None):
            return super().load_tables(manifest)
        self._tables = self._error = None  # the caller holds them as long as it needs them
        if error is not None:
            self.failure = f"{type(error).__name__}: {error}"
            raise error
        assert tables is not None
        return tables


class _Manifest(msgspec.Struct, forbid_unknown_fields=True):
    """What `TableCache.store` writes: each volume file's digest, its problems (as
    `snapshot._problem_to_json` lists them) and the table files."""

    files: dict[str, str]
    problems: dict[str, list[tuple[str, int | None, str, str, Literal["error", "warning"]]]]
    tables: dict[str, str]
