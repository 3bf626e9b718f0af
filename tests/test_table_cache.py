"""The cache of parsed tables read in a thread (`TableCacheReading`), as the nightly job
reads it while it imports the resolver."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.anthology import snapshot
from pipeline.anthology.atomic import NotItsContent, write_content_named
from pipeline.anthology.snapshot import read_tables
from pipeline.anthology.table_cache import NotThisTable, TableCache, TableCacheReading


def _cached(mini_dir: Path, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    return cache


def test_reading_in_a_thread_gives_what_the_cache_holds(mini_dir: Path,
                                                        tmp_path: Path) -> None:
    cache = _cached(mini_dir, tmp_path)
    plain = TableCache(cache)
    reading = TableCacheReading(cache)
    manifest = reading.load_manifest()
    assert manifest == plain.load_manifest() and manifest["tables"]
    read = reading.load_tables(manifest)
    expected = plain.load_tables(plain.load_manifest())
    assert read.keys() == expected.keys()
    assert all(read[name].equals(expected[name]) for name in expected)


def test_read_tables_takes_a_cache_being_read(mini_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cached(mini_dir, tmp_path)
    parsed: list[Path] = []
    monkeypatch.setattr(snapshot, "parse_xml_files",
                        lambda paths, **_: parsed.extend(paths) or pytest.fail("parsed"))
    tables, _ = read_tables(mini_dir, cache, workers=1, table_cache=TableCacheReading(cache))
    monkeypatch.undo()
    fresh, _ = read_tables(mini_dir, None, workers=1)
    assert not parsed
    for name in fresh:
        pd.testing.assert_frame_equal(tables[name], fresh[name])


def test_what_the_thread_could_not_read_is_raised_to_the_caller(
        mini_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = _cached(mini_dir, tmp_path)
    papers = next((cache / "tables-v5").glob("papers-*.parquet"))
    papers.write_bytes(papers.read_bytes()[:-10] + b"0123456789")
    reading = TableCacheReading(cache)
    with pytest.raises(NotItsContent):
        reading.load_tables(reading.load_manifest())
    # read_tables takes it as any unreadable cache: a warning, and every file parsed again
    tables, _ = read_tables(mini_dir, cache, workers=1, table_cache=TableCacheReading(cache))
    fresh, _ = read_tables(mini_dir, None, workers=1)
    assert "cannot be read" in caplog.text
    for name in fresh:
        pd.testing.assert_frame_equal(tables[name], fresh[name])


def test_an_empty_or_missing_cache_reads_as_empty(tmp_path: Path) -> None:
    reading = TableCacheReading(tmp_path / "nothing-here")
    assert reading.load_manifest() == {"files": {}, "problems": {}, "tables": {}}


def test_read_tables_refuses_the_cache_of_another_directory(mini_dir: Path,
                                                            tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not the one in"):
        read_tables(mini_dir, tmp_path / "cache", workers=1,
                    table_cache=TableCacheReading(tmp_path / "elsewhere"))


def test_the_thread_imports_nothing(mini_dir: Path, tmp_path: Path) -> None:
    """The night imports the resolver while the thread reads: a module the reading imported
    on first use could deadlock against the caller's imports. In a fresh interpreter: this
    one has imported everything already."""
    cache = _cached(mini_dir, tmp_path)
    # os._exit: an interpreter that exits right after reading parquet is sometimes aborted
    # in pyarrow's teardown ("terminate called without an active exception", apache/arrow
    # #34314; here 3 runs in 25 on a busy machine, reading in the main thread as well).
    script = textwrap.dedent(f"""
        import os
        import sys
        from pathlib import Path
        from pipeline.anthology.table_cache import TableCacheReading
        before = set(sys.modules)
        reading = TableCacheReading(Path({str(cache)!r}))
        reading.wait()
        assert reading.load_tables(reading.load_manifest())
        print(sorted(set(sys.modules) - before), flush=True)
        os._exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_a_failed_read_keeps_nothing_of_what_it_read(mini_dir: Path, tmp_path: Path) -> None:
    # helper-39: the thread's frames, kept with the error, held the whole file read (2 GB of
    # a bogus table) until the night ended.
    cache = _cached(mini_dir, tmp_path)
    papers = next((cache / "tables-v5").glob("papers-*.parquet"))
    papers.write_bytes(papers.read_bytes() + b"more")
    reading = TableCacheReading(cache)
    manifest = reading.load_manifest()
    with pytest.raises(NotItsContent) as raised:
        reading.load_tables(manifest)
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(raised.value.__traceback__)]
    assert "read_content_named" not in frames and "_read" not in frames
    with pytest.raises(NotItsContent) as again:  # handed over once, then read again
        reading.load_tables(manifest)
    assert again.value is not raised.value


def _named_in_manifest(cache: Path, name: str, content: bytes) -> None:
    """`content` as the cache's `name` table, its manifest rewritten to name it (as a hand
    edit or a writer's bug would)."""
    directory = cache / "tables-v5"
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"][name] = write_content_named(directory, name, ".parquet", content)
    manifest_path.write_text(json.dumps(manifest))


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("damage", ["another table", "a column missing"])
def test_a_table_file_of_other_columns_is_not_read_as_the_table(
        mini_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str) -> None:
    # helper-39: the volumes table named as the papers one failed the night on an index
    # error; a mentions table without `content_hash` was read with nulls there, silently.
    cache = _cached(mini_dir, tmp_path)
    tables = TableCache(cache).load_tables(TableCache(cache).load_manifest())
    if damage == "another table":
        _named_in_manifest(cache, "papers", _parquet(tables["volumes"]))
    else:
        _named_in_manifest(cache, "mentions", _parquet(tables["mentions"].drop_columns(
            ["content_hash"])))
    with pytest.raises(NotThisTable):
        TableCache(cache).load_tables(TableCache(cache).load_manifest())
    read, _ = read_tables(mini_dir, cache, workers=1, table_cache=TableCacheReading(cache))
    fresh, _ = read_tables(mini_dir, None, workers=1)
    assert "columns are not those of the" in caplog.text
    for name in fresh:
        pd.testing.assert_frame_equal(read[name], fresh[name])
