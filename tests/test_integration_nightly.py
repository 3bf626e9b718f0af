"""Two nights on the full shared snapshot, as the nightly workflow runs them (`make nightly`,
`make nightly-artifacts`): the first night without 2024.acl.xml, the second with it, a third
with nothing new. Once on the legacy registry, once on a copy migrated to people.json (the
format the Anthology has had since 2026)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.anthology.snapshot import find_data_dir
from pipeline.cli import main
from pipeline.resolve.issued_ids import IssuedIds

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
VOLUME = "2024.acl.xml"
KEY = ["paper", "role", "position"]


@dataclass
class Nights:
    data_dir: Path
    state: Path
    reports: list[dict[str, Any]]
    markdown: list[str]
    assignments: list[pd.DataFrame]
    run_files: list[dict[str, bytes]]
    seconds: list[float]


def _make(target: str, anthology: Path, state: Path, **variables: str) -> float:
    settings = [f"ANTHOLOGY={anthology}", f"STATE={state}",
                *(f"{k}={v}" for k, v in variables.items())]
    started = time.perf_counter()
    subprocess.run(["make", "-s", target, *settings], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - started


def _run_nights(data_dir: Path, state: Path) -> Nights:
    """Night 1 without VOLUME, night 2 with it, night 3 unchanged."""
    aside = data_dir.parent / f"{VOLUME}.aside"
    shutil.move(data_dir / "xml" / VOLUME, aside)
    nights = Nights(data_dir, state, [], [], [], [], [])
    for night in range(3):
        if night == 1:
            shutil.move(aside, data_dir / "xml" / VOLUME)
        nights.seconds.append(_make("nightly", data_dir, state))
        nights.reports.append(json.loads((state / "report.json").read_text()))
        nights.markdown.append((state / "report.md").read_text())
        nights.assignments.append(pd.read_csv(state / "run" / "assignments.csv", dtype=str,
                                              keep_default_na=False))
        nights.run_files.append({p.name: p.read_bytes() for p in (state / "run").iterdir()})
    return nights


@pytest.fixture(scope="module")
def legacy(real_anthology: Path, tmp_path_factory: pytest.TempPathFactory) -> Nights:
    """The shared snapshot: its volume files linked, its registry copied."""
    source = find_data_dir(real_anthology)
    root = tmp_path_factory.mktemp("legacy-nights")
    data_dir = root / "data"
    (data_dir / "xml").mkdir(parents=True)
    for path in sorted((source / "xml").glob("*.xml")):
        (data_dir / "xml" / path.name).symlink_to(path.resolve())
    shutil.copytree(source / "yaml", data_dir / "yaml")
    return _run_nights(data_dir, root / "state")


@pytest.fixture(scope="module")
def current(real_anthology: Path, real_cache: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Nights:
    """The shared snapshot migrated to people.json (`anthology-resolve migrate`)."""
    root = tmp_path_factory.mktemp("current-nights")
    assert main(["-q", "migrate", "--anthology", str(real_anthology), "--cache",
                 str(real_cache), "--out", str(root / "migrated")]) == 0
    return _run_nights(find_data_dir(root / "migrated"), root / "state")


def _check_two_nights(nights: Nights) -> None:
    first, second, third = nights.reports
    assert first["run"]["mode"] == "full"
    assert second["run"]["mode"] == "incremental"
    assert second["run"]["changed_files"] == [f"xml/{VOLUME}"]
    assert third["run"]["mode"] == "unchanged"
    assert nights.run_files[2] == nights.run_files[1]  # an unchanged night writes nothing

    new = pd.DataFrame(second["new_assignments"])
    mentions = new[new["why"] == "new mention"]
    assert len(mentions) > 100 and mentions["paper"].str.startswith("2024.acl-").all()
    assert set(new.loc[new["why"] != "new mention", "name"]) <= set(
        second["new_ambiguous_names"])
    assert second["new_ambiguous_names"] and second["changed_clusters"]
    # Names the new volume does not touch keep every row as it was.
    before, after = nights.assignments[0], nights.assignments[1]
    names_before = before["cluster"].str.rsplit("#", n=1).str[0]
    touched = set(new["name"]) | {c["name"] for c in second["changed_clusters"]} | set(
        second["no_longer_resolved"])
    untouched = before[~names_before.isin(touched)]
    kept = untouched.merge(after, on=KEY, how="left", suffixes=("", "_now"))
    for column in ("person", "status", "cluster", "confidence"):
        assert (kept[column] == kept[f"{column}_now"]).all(), column
    # A cluster that keeps its label keeps its proposed person.
    both = before.merge(after, on=KEY, suffixes=("_before", "_now"))
    same_new = both[(both["status_before"] == "new") & (both["status_now"] == "new")
                    & (both["cluster_before"] == both["cluster_now"])]
    assert len(same_new) > 1000
    assert (same_new["person_before"] == same_new["person_now"]).all()
    # The ledger holds every label and new person's id of both nights (none is given again).
    ledger = IssuedIds.from_json(nights.run_files[1]["issued.json"].decode())
    for night in (before, after):
        given = IssuedIds.of(night.replace("", None))
        assert given.persons and given.ids() <= ledger.ids()
        assert all(numbers <= ledger.labels[name] for name, numbers in given.labels.items())
    assert ledger.members == {**IssuedIds.of(before.replace("", None)).members,
                              **IssuedIds.of(after.replace("", None)).members}


def test_two_nights_on_the_legacy_registry(legacy: Nights) -> None:
    _check_two_nights(legacy)
    manifest = json.loads(legacy.run_files[1]["manifest.json"])
    assert manifest["registry_format"] == "legacy"
    assert "xml/2024.acl.xml" in legacy.markdown[1]
    assert "| 2024.acl-long." in legacy.markdown[1]


def test_two_nights_on_a_migrated_copy(current: Nights) -> None:
    _check_two_nights(current)
    manifest = json.loads(current.run_files[1]["manifest.json"])
    assert manifest["registry_format"] == "people-json"
    unresolved = current.assignments[1].query("status == 'unresolved'")["person"]
    assert len(unresolved) and unresolved.str.endswith("/unverified").all()


def test_the_night_s_artifacts(current: Nights, tmp_path: Path) -> None:
    """What the workflow uploads besides the report: review pages, graphs, the export."""
    out = tmp_path / "nightly"
    _make("nightly-artifacts", current.data_dir, current.state, NIGHTLY_OUT=str(out))
    assert (out / "review" / "index.html").is_file()
    assert list((out / "graphs").glob("*.gexf"))
    assert (out / "export" / "json" / "people.json").is_file() or \
        (out / "export" / "data" / "json" / "people.json").is_file()
    assert (out / "pr-summary.md").read_text().strip()
