from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.anthology import atomic


def _targets(tmp_path: Path) -> dict[Path, bytes]:
    for name in ("a.csv", "b.json"):
        (tmp_path / name).write_bytes(b"old")
    return {tmp_path / "a.csv": b"new a", tmp_path / "b.json": b"new b"}


def test_a_signal_during_the_renames_waits_until_every_file_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = _targets(tmp_path)
    renamed: list[str] = []
    real_replace = os.replace

    def replace_then_interrupt(source: str, target: Path) -> None:
        real_replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace_then_interrupt)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            atomic.atomic_write_files(targets)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert renamed == ["a.csv", "b.json"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.csv": b"new a", "b.json": b"new b"}


def test_a_failure_before_the_renames_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = _targets(tmp_path)
    real_stage = atomic._stage
    staged: list[Path] = []

    def stage_one_then_fail(path: Path, data: bytes, temps: dict[Path, str]) -> None:
        if staged:
            raise OSError(28, "No space left on device")
        staged.append(path)
        real_stage(path, data, temps)

    monkeypatch.setattr(atomic, "_stage", stage_one_then_fail)
    with pytest.raises(OSError, match="No space"):
        atomic.atomic_write_files(targets)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.csv": b"old", "b.json": b"old"}


def test_a_rename_that_fails_puts_back_the_files_already_renamed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second of three renames fails: the first target gets its old version back, a
    target that did not exist before is not left behind, and no temporary file stays."""
    targets = {**_targets(tmp_path), tmp_path / "c.csv": b"new c"}
    real_replace = os.replace
    calls: list[str] = []

    def fail_on_the_second(source: str, target: Path) -> None:
        calls.append(Path(target).name)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", fail_on_the_second)
    with pytest.raises(PermissionError):
        atomic.atomic_write_files(targets)
    assert calls[:2] == ["a.csv", "b.json"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.csv": b"old", "b.json": b"old"}


def test_a_rename_that_fails_after_a_new_file_removes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b.json").write_bytes(b"old")
    real_replace = os.replace

    def fail_on_b(source: str, target: Path) -> None:
        if Path(target).name == "b.json":
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", fail_on_b)
    with pytest.raises(PermissionError):
        atomic.atomic_write_files({tmp_path / "new.csv": b"new", tmp_path / "b.json": b"b"})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"b.json": b"old"}


def test_a_directory_in_the_way_stops_the_write_before_anything_changes(
        tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    (tmp_path / "b.json").unlink()
    (tmp_path / "b.json").mkdir()
    (tmp_path / "b.json" / "x").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError, match="b.json"):
        atomic.atomic_write_files(targets)
    assert (tmp_path / "a.csv").read_bytes() == b"old"
    assert (tmp_path / "b.json" / "x").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]


def test_handlers_are_restored(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    atomic.atomic_write_files(_targets(tmp_path))
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
                     calls: int = 1) -> None:
    """`module.name(...)` does its work, then Ctrl-C arrives (after its `calls`-th call)."""
    real = getattr(module, name)
    made: list[object] = []

    def then_interrupt(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        made.append(result)
        if len(made) == calls:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(module, name, then_interrupt)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_an_interrupt_just_after_a_temporary_file_is_made_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, the file was made outside the block that removes it: a Ctrl-C landing in
    # between left `.a.csv.*.tmp` behind.
    targets = _targets(tmp_path)
    _interrupt_after(monkeypatch, atomic.tempfile, "mkstemp")
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write_files(targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]
    assert (tmp_path / "a.csv").read_bytes() == b"old"


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_temporary_files_a_killed_run_left_are_removed_once_stale(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    stale, fresh, other = (tmp_path / ".a.csv.k1ll3d.tmp", tmp_path / ".a.csv.wr1t1ng.tmp",
                           tmp_path / ".c.csv.k1ll3d.tmp")
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
        _age(path, atomic.STALE_TEMP_SECONDS + 60)
    _age(fresh, 10)  # another run may be writing it right now
    atomic.atomic_write_files(targets)
    assert not stale.exists() and fresh.exists() and other.exists()


def test_stale_temporary_files_of_content_named_files_are_removed(tmp_path: Path) -> None:
    kept = atomic.write_content_named(tmp_path, "mentions", ".parquet", b"rows")
    stale = tmp_path / ".mentions-0123456789abcdef0123.parquet.k1ll3d.tmp"
    stale.write_bytes(b"partial")
    _age(stale, atomic.STALE_TEMP_SECONDS + 60)
    atomic.remove_content_named(tmp_path, ["mentions"], ".parquet", [kept])
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept]


@pytest.mark.parametrize("name, expected", [
    ("mentions-0123456789abcdef0123.parquet", True),
    ("papers-0123456789abcdef0123.parquet", False),
    ("mentions-0123456789abcdef012.parquet", False),
    ("../mentions-0123456789abcdef0123.parquet", False),
    ("mentions-0123456789abcdef0123.parquet.tmp", False),
])
def test_content_names_are_recognised_exactly(name: str, expected: bool) -> None:
    assert atomic.is_content_named(name, "mentions", ".parquet") is expected
