"""The nightly CI workflow (.github/workflows/nightly.yml): linted with actionlint and zizmor,
actions pinned by commit, and every command a Makefile target the tests exercise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")


def _workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def _actionlint(path: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: `make install` sets up the test tools")
    done = subprocess.run([node, str(ROOT / "tests" / "actionlint.cjs"), str(path)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    problems: list[dict[str, Any]] = json.loads(done.stdout)
    return problems


def _zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "zizmor"), "--offline",
                           "--no-progress", str(path)], capture_output=True, text=True)


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    assert _actionlint(WORKFLOW) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runz-on:", 1))
    assert any("runs-on" in p["message"] for p in _actionlint(broken))


def test_zizmor_finds_nothing(tmp_path: Path) -> None:
    done = _zizmor(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4",
                               WORKFLOW.read_text()))
    flagged = _zizmor(unpinned)
    assert flagged.returncode != 0 and "unpinned" in flagged.stdout + flagged.stderr


def test_it_runs_nightly_and_on_demand_with_actions_pinned_by_commit() -> None:
    document = _workflow()
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    uses = [step["uses"] for step in _steps() if "uses" in step]
    assert uses and all(PINNED.fullmatch(u) for u in uses), uses
    for step in _steps():
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_every_command_is_a_makefile_target_and_the_results_are_kept() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))
    commands = [step["run"].strip() for step in _steps() if "run" in step]
    assert commands
    for command in commands:
        words = command.split()
        assert words[0] == "make" and len(words) == 2 and words[1] in targets, command
    run = {c.split()[1] for c in commands}
    assert {"install", "nightly", "nightly-artifacts", "test-newest"} <= run
    uploads = [s for s in _steps() if str(s.get("uses", "")).startswith(
        "actions/upload-artifact@")]
    paths = uploads[0]["with"]["path"]
    for kept in ("state/report.md", "state/report.json", "state/run/assignments.csv",
                 "out/nightly/"):
        assert kept in paths
    caches = {str(s.get("uses", "")).split("@")[0] for s in _steps()}
    assert {"actions/cache/restore", "actions/cache/save"} <= caches


def test_the_newest_snapshot_checks_are_the_tests_less_the_shared_snapshots_figures() -> None:
    done = subprocess.run(["make", "-n", "test-newest"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert "not shared_snapshot" in done.stdout
