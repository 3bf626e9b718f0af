"""The cache of parsed tables read in a thread (`TableCacheReading`), as the nightly job
reads it while it imports the resolver."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from pipeline.anthology import snapshot
from pipeline.anthology.atomic import NotItsContent
from pipeline.anthology.snapshot import read_tables
from pipeline.anthology.table_cache import TableCache, TableCacheReading


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
    papers = next((cache / "tables-v4").glob("papers-*.parquet"))
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
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from pipeline.anthology.table_cache import TableCacheReading
        before = set(sys.modules)
        reading = TableCacheReading(Path({str(cache)!r}))
        reading.wait()
        assert reading.load_tables(reading.load_manifest())
        print(sorted(set(sys.modules) - before))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
