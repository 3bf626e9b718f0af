"""The nightly job's state directory: what one night leaves for the next.

    STATE/.anthology-resolve-output   marker: this directory is the tool's own
    STATE/cache/                      parsed tables and paper words (`snapshot.py`)
    STATE/run/                        the last night's results, replaced in one rename:
        assignments.csv proposals.json placements.csv ambiguity.csv   (as `resolve` writes)
        fingerprints.pickle per name slug: what its split read (`fingerprints.py`)
        links.pickle        scored name-variant links, before settling
        models.pickle       what `resolve` learnt (`carryover.LearntModels`)
        manifest.json       input digests, settings, code digest, how the night ran, and the
                            digest of every file above (a mismatch: the state is not used)
    STATE/report.md, STATE/report.json   the last night's change report

An interrupted night leaves `run/` as the night before left it (`write_dir_atomically`);
a state that cannot be read is reported and a full run rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.anthology.output_dir import (
    MARKER,
    OutputDirError,
    check_writable_parent,
    mark,
    write_dir_atomically,
)
from pipeline.errors import InputError

# The models' modules import scikit-learn and igraph (seconds): an unchanged night, which
# only reads the manifest, must not wait for them, so they are imported where used.
if TYPE_CHECKING:
    from pipeline.resolve.carryover import LearntModels
    from pipeline.resolve.variant_decision import VariantLink

log = logging.getLogger(__name__)

STATE_VERSION = "nightly-state-v1"
RESOLUTION_FILES = ("assignments.csv", "proposals.json", "placements.csv", "ambiguity.csv")
STATE_FILES = ("fingerprints.pickle", "links.pickle", "models.pickle")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Previous:
    """The last night's results, read back."""

    manifest: dict[str, Any]
    assignments: pd.DataFrame
    placements: pd.DataFrame
    proposals: dict[str, Any]
    fingerprints: dict[str, str]
    links: list[VariantLink]
    models: LearntModels | None  # None: unreadable or stale, so the night learns again


def check_state_dir(state: Path, data_dir: Path) -> None:
    """The state directory must be new, empty or the tool's own, and apart from the data."""
    target, data = state.resolve(), data_dir.resolve()
    if target == data or data in target.parents or target in data.parents:
        raise OutputDirError(f"--state {state} overlaps the data directory {data_dir}; "
                             "choose a separate directory")
    if state.exists():
        if not state.is_dir():
            raise OutputDirError(f"--state {state} exists and is not a directory")
        if any(state.iterdir()) and not (state / MARKER).is_file():
            raise OutputDirError(f"--state {state} is not empty and was not written by "
                                 f"anthology-resolve (no {MARKER} in it); name an empty or "
                                 "new directory")
    check_writable_parent(state)


class NightlyState:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cache_dir = directory / "cache"
        self.run_dir = directory / "run"

    def manifest(self) -> dict[str, Any] | None:
        try:
            manifest = json.loads((self.run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("version") != STATE_VERSION:
            return None
        return manifest

    def intact(self, manifest: dict[str, Any]) -> bool:
        """Every result file is there with the digest its manifest recorded (logged if not)."""
        files = manifest.get("files", {})
        for name in (*RESOLUTION_FILES, *STATE_FILES):
            path = self.run_dir / name
            if not path.is_file() or files.get(name) != file_sha256(path):
                log.warning("%s does not match its manifest; this night runs in full", path)
                return False
        return True

    def load(self) -> Previous | None:
        """The last night's results, or None (logged) when there are none or they do not
        match their manifest."""
        from pipeline.resolve.carryover import LearntModels, StaleModelsError
        from pipeline.resolve.variant_decision import VariantLink

        # Pickle runs code as it loads: only the tool's own state (marker checked) is read.
        manifest = self.manifest()
        if manifest is None:
            if self.run_dir.exists():
                log.warning("the state in %s cannot be read; this night runs in full",
                            self.run_dir)
            return None
        if not self.intact(manifest):
            return None
        try:
            assignments = _read_assignments(self.run_dir / "assignments.csv")
            placements = _read_placements(self.run_dir / "placements.csv")
            proposals = json.loads((self.run_dir / "proposals.json").read_text("utf-8"))
            fingerprints = pickle.loads((self.run_dir / "fingerprints.pickle").read_bytes())
            links = pickle.loads((self.run_dir / "links.pickle").read_bytes())
            if not isinstance(fingerprints, dict) or not all(
                    isinstance(link, VariantLink) for link in links):
                raise TypeError("fingerprints or links of an unexpected type")
        except (InputError, OSError, ValueError, TypeError, KeyError,
                pickle.UnpicklingError, AttributeError, EOFError) as error:
            log.warning("the state in %s cannot be read (%s); this night runs in full",
                        self.run_dir, error)
            return None
        try:
            models: LearntModels | None = LearntModels.load(self.run_dir / "models.pickle")
        except StaleModelsError as error:
            log.warning("%s; this night learns its models again", error)
            models = None
        return Previous(manifest, assignments, placements, proposals, fingerprints, links,
                        models)

    def save(self, texts: dict[str, str], fingerprints: pd.Series, links: list[VariantLink],
             models: LearntModels, manifest: dict[str, Any]) -> None:
        """Replace `run/` in one rename with these results (manifest written last)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        mark(self.directory)

        def fill(directory: Path) -> None:
            for name, text in texts.items():
                (directory / name).write_text(text, encoding="utf-8")
            (directory / "fingerprints.pickle").write_bytes(pickle.dumps(
                {str(k): str(v) for k, v in sorted(fingerprints.items())}))
            (directory / "links.pickle").write_bytes(pickle.dumps(
                sorted(links, key=lambda x: (x.first, x.second))))
            models.save(directory / "models.pickle")
            digests = {name: file_sha256(directory / name)
                       for name in (*RESOLUTION_FILES, *STATE_FILES)}
            (directory / "manifest.json").write_text(json.dumps(
                {**manifest, "version": STATE_VERSION, "files": digests}, sort_keys=True,
                indent=2) + "\n", encoding="utf-8")

        write_dir_atomically(self.run_dir, fill)


def _read_assignments(path: Path) -> pd.DataFrame:
    from pipeline.export.entries import read_assignments

    table = read_assignments(path)
    table["confidence"] = pd.to_numeric(table["confidence"].replace("", None))
    for column in ("first", "person"):
        table[column] = table[column].replace("", None)
    return table


def _read_placements(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["position"] = table["position"].astype(int)
    for column in ("confidence", "margin"):
        table[column] = pd.to_numeric(table[column].replace("", None))
    table["review"] = table["review"] == "True"
    for column in ("person", "nearest"):
        table[column] = table[column].replace("", None)
    return table
