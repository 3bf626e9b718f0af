from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import stop_before_writing

from pipeline.anthology import snapshot as snapshot_module
from pipeline.anthology import table_cache
from pipeline.anthology.snapshot import (
    SnapshotNotFoundError,
    find_data_dir,
    read_snapshot,
    read_tables,
)


def test_reads_mini_snapshot(mini_dir: Path) -> None:
    snapshot = read_snapshot(mini_dir)
    assert len(snapshot.papers) == 6 and int(snapshot.papers["is_frontmatter"].sum()) == 1
    assert len(snapshot.volumes) == 3
    assert len(snapshot.mentions) == 14
    assert snapshot.mentions["slug"].tolist()[2] == "yang-liu"
    assert snapshot.papers.loc[snapshot.papers["paper"] == "W99-0307", "year"].isna().all()


def test_repository_checkout_layout_is_accepted(tmp_path: Path, mini_dir: Path) -> None:
    (tmp_path / "repo").mkdir()
    mini_dir.rename(tmp_path / "repo" / "data")
    assert find_data_dir(tmp_path / "repo") == tmp_path / "repo" / "data"
    with pytest.raises(SnapshotNotFoundError, match="no Anthology data"):
        find_data_dir(tmp_path)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    original = snapshot_module.parse_volume_file

    def counting(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return original(path)

    monkeypatch.setattr(snapshot_module, "parse_volume_file", counting)
    return parsed


def test_cache_reuses_unchanged_files(mini_dir: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    parsed = _count_parses(monkeypatch)
    first, _ = read_tables(mini_dir, cache, workers=1)
    assert sorted(parsed) == ["2099.tiny.xml", "P99.xml", "W99.xml"]
    parsed.clear()
    second, _ = read_tables(mini_dir, cache, workers=1)
    assert parsed == []
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_changed_file_invalidates_only_its_own_part(mini_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    p99 = mini_dir / "xml" / "P99.xml"
    p99.write_text(p99.read_text().replace("Old-Style Identifiers", "Renamed Title"))
    parsed = _count_parses(monkeypatch)
    cached, _ = read_tables(mini_dir, cache, workers=1)
    assert parsed == ["P99.xml"]
    fresh, _ = read_tables(mini_dir, None, workers=1)
    for name in fresh:
        pd.testing.assert_frame_equal(cached[name], fresh[name])
    assert "Renamed Title" in cached["papers"]["title"].tolist()


def test_removed_file_drops_its_rows(mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    (mini_dir / "xml" / "W99.xml").unlink()
    tables, _ = read_tables(mini_dir, cache, workers=1)
    assert "W99.xml" not in set(tables["mentions"]["file"])


def test_parallel_parse_equals_serial(mini_dir: Path) -> None:
    for i in range(10):  # enough files for the worker pool to be used
        (mini_dir / "xml" / f"P{i:02d}.xml").write_text(
            (mini_dir / "xml" / "P99.xml").read_text().replace('id="P99"', f'id="P{i:02d}"'))
    serial, _ = read_tables(mini_dir, None, workers=1)
    parallel, _ = read_tables(mini_dir, None, workers=2)
    for name in serial:
        pd.testing.assert_frame_equal(serial[name], parallel[name])


_PARSE_PARENT = os.getpid()
_parse_files = snapshot_module._parse_files


def _parse_files_but_a_worker_is_killed(paths: list[str]) -> Any:
    if any(path.endswith("P05.xml") for path in paths) and os.getpid() != _PARSE_PARENT:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel does when memory runs out
    return _parse_files(paths)


def test_a_killed_parse_worker_s_files_are_parsed_here(
        mini_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(10):
        (mini_dir / "xml" / f"P{i:02d}.xml").write_text(
            (mini_dir / "xml" / "P99.xml").read_text().replace('id="P99"', f'id="P{i:02d}"'))
    serial, _ = read_tables(mini_dir, None, workers=1)
    monkeypatch.setattr(snapshot_module, "_parse_files", _parse_files_but_a_worker_is_killed)
    parallel, _ = read_tables(mini_dir, None, workers=2)
    for name in serial:
        pd.testing.assert_frame_equal(serial[name], parallel[name])


def test_parse_warnings_survive_the_cache(mini_dir: Path, tmp_path: Path) -> None:
    p99 = mini_dir / "xml" / "P99.xml"
    p99.write_text(p99.read_text().replace("<author><first>Steve</first><last>Abney</last>",
                                           "<author><first>Solo</first><last/>"))
    _, first = read_tables(mini_dir, tmp_path / "cache", workers=1)
    _, second = read_tables(mini_dir, tmp_path / "cache", workers=1)
    assert first == second and [p.message for p in first] == [
        "author 0 of P99-1012 has <first> but no <last>"]


def test_a_stop_between_the_tables_and_the_manifest_loses_no_rows(
        mini_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stopped after the new tables were written but before their manifest, the old
    # manifest must not be read with the new tables: W99.xml, removed for the stopped run
    # and then restored, came back with no rows (tables-v2).
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    w99 = mini_dir / "xml" / "W99.xml"
    kept = w99.read_bytes()
    w99.unlink()
    stop_before_writing(monkeypatch, table_cache, "manifest.json")
    with pytest.raises(KeyboardInterrupt):
        read_tables(mini_dir, cache, workers=1)
    monkeypatch.undo()
    w99.write_bytes(kept)
    cached, _ = read_tables(mini_dir, cache, workers=1)
    fresh, _ = read_tables(mini_dir, None, workers=1)
    assert "W99.xml" in set(cached["mentions"]["file"])
    for name in fresh:
        pd.testing.assert_frame_equal(cached[name], fresh[name])


def test_the_cache_keeps_only_the_tables_its_manifest_lists(
        mini_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    (mini_dir / "xml" / "W99.xml").unlink()
    read_tables(mini_dir, cache, workers=1)
    manifest = table_cache.TableCache(cache).load_manifest()
    files = sorted(p.name for p in (cache / table_cache.CACHE_VERSION).iterdir())
    assert files == sorted(["manifest.json", *manifest["tables"].values()])


def _swap_papers_for_mentions(manifest: dict[str, object]) -> dict[str, object]:
    tables = dict(manifest["tables"])  # type: ignore[call-overload]
    tables["papers"] = tables["mentions"]
    return {**manifest, "tables": tables}


@pytest.mark.parametrize("rewrite", [
    lambda manifest: [manifest],
    lambda manifest: {"tables": manifest["tables"]},
    lambda manifest: {**manifest, "problems": {"W99.xml": [["W99.xml", "x", "m"]]}},
    _swap_papers_for_mentions,
    lambda manifest: {**manifest, "tables": {**manifest["tables"],
                                             "volumes": "../volumes.parquet"}},
    lambda manifest: {**manifest, "junk": [1, 2]},
], ids=["a list", "keys missing", "problems of another shape", "papers naming mentions",
        "a path outside", "a key of no known use"])
def test_a_manifest_of_another_shape_means_parsing_again(
        mini_dir: Path, tmp_path: Path, rewrite: Callable[[dict[str, Any]], object]) -> None:
    # Before, the first three crashed (KeyError, AttributeError) and the fourth loaded the
    # mentions table as papers.
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    path = cache / table_cache.CACHE_VERSION / "manifest.json"
    path.write_text(json.dumps(rewrite(json.loads(path.read_text()))))
    assert table_cache.TableCache(cache).load_manifest() == {
        "files": {}, "problems": {}, "tables": {}}
    cached, _ = read_tables(mini_dir, cache, workers=1)
    fresh, _ = read_tables(mini_dir, None, workers=1)
    for name in fresh:
        pd.testing.assert_frame_equal(cached[name], fresh[name])


@pytest.mark.parametrize("table", ["mentions", "papers"])
def test_a_cached_table_changed_since_it_was_written_means_parsing_again(
        mini_dir: Path, tmp_path: Path, table: str) -> None:
    """A table file whose content is no longer the one its name was made from (rows
    removed, or another table copied over it) was read as if it were: rows went missing,
    or a papers table came back as the mentions table with null columns."""
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    directory = cache / table_cache.CACHE_VERSION
    manifest = json.loads((directory / "manifest.json").read_text())
    target = directory / manifest["tables"][table]
    if table == "mentions":
        import pyarrow.parquet as pq

        fewer = pq.read_table(target).slice(0, 1)
        pq.write_table(fewer, target)
    else:
        shutil.copy(directory / manifest["tables"]["mentions"], target)
    cached, _ = read_tables(mini_dir, cache, workers=1)
    fresh, _ = read_tables(mini_dir, None, workers=1)
    for name in fresh:
        pd.testing.assert_frame_equal(cached[name], fresh[name])


def test_a_cache_that_cannot_be_written_still_gives_the_tables(
        mini_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The cache only saves time: a table file that cannot be replaced (here a directory
    in its place) is a warning, not a failed run."""
    cache = tmp_path / "cache"
    read_tables(mini_dir, cache, workers=1)
    directory = cache / table_cache.CACHE_VERSION
    manifest = json.loads((directory / "manifest.json").read_text())
    volumes = directory / manifest["tables"]["volumes"]
    volumes.unlink()
    volumes.mkdir()
    (volumes / "x").write_text("in the way")
    cached, _ = read_tables(mini_dir, cache, workers=1)
    fresh, _ = read_tables(mini_dir, None, workers=1)
    for name in fresh:
        pd.testing.assert_frame_equal(cached[name], fresh[name])
    assert "could not cache the parsed tables" in caplog.text


def test_a_volume_file_with_editors_and_no_papers_is_read(tmp_path: Path) -> None:
    # Its editors read no paper (no front matter either): their content hash took the hash
    # of "paper -1" of an empty paper table and failed (IndexError) on every read.
    root = tmp_path / "anthology"
    (root / "xml").mkdir(parents=True)
    (root / "yaml").mkdir()
    (root / "yaml" / "name_variants.yaml").write_text("", encoding="utf-8")
    (root / "xml" / "2021.ed.xml").write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<collection id=\"2021.ed\">"
        "<volume id=\"main\" type=\"proceedings\"><meta><booktitle>Proceedings</booktitle>"
        "<year>2021</year><venue>ed</venue><editor><first>Ann</first><last>Lee</last>"
        "</editor></meta></volume></collection>\n", encoding="utf-8")
    for cache in (None, tmp_path / "cache"):
        read = read_snapshot(root, cache_dir=cache)
        assert read.mentions[["slug", "role"]].values.tolist() == [["ann-lee", "editor"]]
        assert read.papers.empty
