"""Shared fixtures: the committed mini snapshot, copies of it, and the real shared snapshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"


@pytest.fixture
def mini_dir(tmp_path: Path) -> Path:
    """A writable copy of the hand-made mini snapshot (legacy registry)."""
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target


def stop_before_writing(monkeypatch: pytest.MonkeyPatch, module: ModuleType, file_name: str
                        ) -> None:
    """`module`'s `atomic_write_bytes` stops the run (as Ctrl-C would) instead of writing
    `file_name`; other files are written."""
    original = module.atomic_write_bytes

    def stopping(path: Path, data: bytes) -> None:
        if path.name == file_name:
            raise KeyboardInterrupt
        original(path, data)

    monkeypatch.setattr(module, "atomic_write_bytes", stopping)


def _real_snapshot() -> Path | None:
    candidates = [os.environ.get("ANTHOLOGY", ""), "data/anthology"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data" / "xml").is_dir():
            return Path(candidate)
        if candidate and (Path(candidate) / "xml").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_anthology() -> Path:
    """The full shared snapshot (unpacked by `make data`). Missing in CI is a failure."""
    path = _real_snapshot()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("the shared Anthology snapshot is missing; `make data` unpacks it")
        pytest.skip("no Anthology snapshot under data/anthology (run `make data`)")
    return path


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")
