"""`prepare`: a snapshot unpacked beside its target and renamed into place."""

from __future__ import annotations

import os
import tarfile
import time
from pathlib import Path

from builder import two_wei_zhangs

from pipeline.anthology import atomic
from pipeline.anthology.prepare import prepare_snapshot


def _tarball(tmp_path: Path) -> Path:
    source = two_wei_zhangs(tmp_path / "source")
    tarball = tmp_path / "snapshot.tar.xz"
    with tarfile.open(tarball, "w:xz") as archive:
        archive.add(source, arcname="data")
    return tarball


def test_half_unpacked_snapshots_a_killed_run_left_are_removed_once_old(
        tmp_path: Path) -> None:
    target = tmp_path / "data" / "anthology"
    target.parent.mkdir()
    left = []
    for hours_ago in (2.0, 0.5):  # the younger may be a concurrent run's
        staging = atomic.make_staging_dir(target)
        (staging / "new" / "data").mkdir(parents=True)
        then = time.time() - hours_ago * 3600
        os.utime(staging, (then, then))
        left.append(staging)
    data_dir = prepare_snapshot(target, _tarball(tmp_path), repository=None)
    assert data_dir == target / "data" and (data_dir / "xml").is_dir()
    assert [p.exists() for p in left] == [False, True]


def test_they_are_removed_when_the_snapshot_is_there_already(tmp_path: Path) -> None:
    target = tmp_path / "data" / "anthology"
    target.parent.mkdir()
    tarball = _tarball(tmp_path)
    prepare_snapshot(target, tarball, repository=None)
    staging = atomic.make_staging_dir(target)
    (staging / "new" / "data").mkdir(parents=True)
    os.utime(staging, (time.time() - 7200,) * 2)
    assert prepare_snapshot(target, tarball, repository=None) == target / "data"
    assert not staging.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["anthology"]
