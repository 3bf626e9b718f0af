"""The Anthology of 2019-10-09 (older XML: no <venue>, empty names), end to end, as a user
runs it: prepare, stats, resolve, export (runs in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.anthology.snapshot import read_snapshot
from pipeline.anthology.stats import snapshot_stats
from pipeline.cli import main
from pipeline.export.attribution import rule_errors

pytestmark = [pytest.mark.integration, pytest.mark.shared_snapshot]

TARBALL = Path(__file__).resolve().parents[2] / "shared" / "anthology" / \
    "anthology-2019-10-09.tar.xz"


@pytest.fixture(scope="module")
def anthology_2019(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not TARBALL.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{TARBALL} is missing")
        pytest.skip(f"no {TARBALL}")
    target = tmp_path_factory.mktemp("a2019") / "anthology"
    assert main(["-q", "prepare", "--anthology", str(target), "--tarball", str(TARBALL),
                 "--no-clone"]) == 0
    return target


def test_stats_reads_it_with_warnings_for_empty_names(anthology_2019: Path) -> None:
    snapshot = read_snapshot(anthology_2019)
    stats = dict(snapshot_stats(snapshot))
    assert stats["volumes"] == 1_735
    assert stats["papers incl. front matter"] == 52_486
    assert stats["author mentions"] == 147_020
    assert stats["persons in the registry (legacy)"] == 3_690
    empty = [p for p in snapshot.problems.warnings if "has an empty name; skipped" in p.message]
    assert len(empty) == 7 and all(p.line is not None for p in empty)
    # Venues come from yaml/venues_letters.yaml and venues_joint_map.yaml.
    venues = snapshot.volumes.set_index("volume")["venues"]
    assert venues["P19-1"] == "acl" and (venues != "").mean() > 0.9
    assert set(snapshot.mentions["venues"]) - {""}


def test_resolve_and_export_on_it(anthology_2019: Path, tmp_path: Path) -> None:
    resolution = tmp_path / "resolution"
    base = ["-q", "--anthology", str(anthology_2019), "--cache", str(tmp_path / "cache")]
    assert main(["-q", "resolve", *base[1:], "--out", str(resolution)]) == 0
    assert (resolution / "assignments.csv").stat().st_size > 0
    exported = tmp_path / "exported"
    assert main(["-q", "export", *base[1:], "--resolution", str(resolution), "--out",
                 str(exported)]) == 0
    before = read_snapshot(anthology_2019)
    after = read_snapshot(exported)
    assert rule_errors(after.registry, after.mentions, after.mentions["id"]) <= rule_errors(
        before.registry, before.mentions, before.mentions["id"])
    assert len(after.mentions) == len(before.mentions)
    assert after.mentions["id"].notna().sum() > before.mentions["id"].notna().sum()
