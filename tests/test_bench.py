"""`make bench` measures what its case names: a nightly case whose night ran another way
(a full night where an incremental one was meant) is an error, not a figure; the
`resolve_command` case runs the command itself, again and again into the same directory."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from builder import two_wei_zhangs

from pipeline import bench
from pipeline.anthology.table_cache import CACHE_VERSION
from pipeline.bench import CASES, PREPARE, _night_was
from pipeline.garbage import GC_YOUNG_THRESHOLD


def _report(state: Path, mode: str, reason: str) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "report.json").write_text(json.dumps({"run": {"mode": mode, "reason": reason}}))


def test_a_night_of_the_mode_its_case_means_passes(tmp_path: Path) -> None:
    _report(tmp_path, "incremental", "4,488 names changed")
    _night_was(tmp_path, "incremental")


def test_a_full_night_where_an_incremental_one_was_meant_stops_the_bench(tmp_path: Path
                                                                       ) -> None:
    _report(tmp_path, "full", "the code, its libraries or the settings changed")
    with pytest.raises(RuntimeError, match="ran full .the code.*not incremental"):
        _night_was(tmp_path, "incremental")


def test_the_resolve_command_case_runs_the_command_as_make_resolve_does(tmp_path: Path
                                                                       ) -> None:
    data_dir = two_wei_zhangs(tmp_path / "anthology")
    cache = tmp_path / "cache"
    PREPARE["resolve_command"](data_dir, cache)
    written = cache / "resolve-command-out" / "assignments.csv"
    first = written.read_bytes()
    CASES["resolve_command"](data_dir, cache)  # a timed repeat replaces its own outputs
    assert written.read_bytes() == first and b"wei-zhang" in first
    assert (cache / CACHE_VERSION / "manifest.json").is_file()  # warm for the timed runs


def test_a_case_runs_with_the_garbage_collection_of_the_command_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The cases time what the command does, and the command collects young objects less
    # often than CPython's default.
    seen: list[int] = []
    monkeypatch.setattr(bench, "_run_one", lambda *args: seen.append(gc.get_threshold()[0])
                        or {})
    before = gc.get_threshold()
    try:
        assert bench.main(["--one", "bare_lxml_parse", "--data", "d", "--cache", "c"]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [GC_YOUNG_THRESHOLD] and json.loads(capsys.readouterr().out) == {}
