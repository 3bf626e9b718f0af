from __future__ import annotations

import os
import signal
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

    def stage_one_then_fail(path: Path, data: bytes) -> str:
        if staged:
            raise OSError(28, "No space left on device")
        staged.append(path)
        return real_stage(path, data)

    monkeypatch.setattr(atomic, "_stage", stage_one_then_fail)
    with pytest.raises(OSError, match="No space"):
        atomic.atomic_write_files(targets)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.csv": b"old", "b.json": b"old"}


def test_handlers_are_restored(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    atomic.atomic_write_files(_targets(tmp_path))
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
