"""The nightly job's state directory: what one night leaves for the next.

    STATE/.anthology-resolve-state    marker: this directory is a state of the nightly job
    STATE/.lock                       held while a night runs (a second one is refused)
    STATE/cache/                      parsed tables and paper words (`snapshot.py`)
    STATE/run/                        the last night's results, replaced by two renames:
        assignments.csv proposals.json placements.csv ambiguity.csv   (as `resolve` writes)
        fingerprints.pickle per name slug: what its split read (`fingerprints.py`)
        links.pickle        scored name-variant links, before settling
        models.pickle       what `resolve` learnt (`carryover.LearntModels`)
        pair_evidence.npz   pair evidence of the names split (`resolve/pair_evidence.py`)
        candidate_search.pickle  the search for name-variant candidates
                            (`resolve/candidate_index.py`), which the next night updates
        issued.json         every label and new person's id given out on any night
                            (`resolve/issued_ids.py`): a retired one goes to no other
                            group of papers
        manifest.json       input digests, settings, code digest, how the night ran, and the
                            digest of every file above (a mismatch: the state is not used,
                            unless only in pair_evidence.npz, candidate_search.pickle or
                            issued.json, which only save work and guard ids: the night
                            predicts every pair or compares every name again, or reads the
                            ledger as it is or rebuilds it)
    STATE/report.md, STATE/report.json   the last night's change report

`run/` is replaced by two renames (`write_dir_atomically`): an interrupted night leaves the
last night's `run/`, or, killed between the two renames, a complete one that the next night
puts back. A state that cannot be read whole is reported and a full night rebuilds it,
keeping the labels and ids of last night's assignments if those still read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pandas as pd

from pipeline.anthology.atomic import atomic_write_bytes, remove_staging_dirs, staging_dirs
from pipeline.anthology.output_dir import (
    OutputDirError,
    check_writable_parent,
    path_relation,
    write_dir_atomically,
)
from pipeline.errors import InputError
from pipeline.resolve.files import RESOLUTION_FILES
from pipeline.resolve.issued_ids import IssuedIds, LedgerError

# The models' modules import scikit-learn and igraph (seconds): an unchanged night, which
# only reads the manifest, must not wait for them, so they are imported where used.
if TYPE_CHECKING:
    from pipeline.resolve.carryover import LearntModels
    from pipeline.resolve.pair_evidence import PairEvidence
    from pipeline.resolve.variant_decision import VariantLink

log = logging.getLogger(__name__)

STATE_VERSION = "nightly-state-v1"
MAX_LEDGER_BYTES = 256 << 20
MAX_SEARCH_BYTES = 1 << 30  # the shared snapshot's kept candidate search: 33 MB
CANDIDATE_SEARCH = "candidate_search.pickle"
STATE_FILES = ("fingerprints.pickle", "links.pickle", "models.pickle", "pair_evidence.npz",
               CANDIDATE_SEARCH, "issued.json")
# Files a night can do without: the kept pair evidence and candidate search only save
# work, and the ledger is rebuilt from the assignments (`NightlyState._issued`).
OPTIONAL_STATE_FILES = ("pair_evidence.npz", CANDIDATE_SEARCH, "issued.json")
SEARCH_LOST = ("every name was compared for name-variant candidates again (slower; the "
               "same candidates)")
EVIDENCE_LOST = ("this night predicts every pair of the names it splits again, on tonight's "
                 "graph (kept evidence is last night's), so some clusters changed and "
                 "proposals flipped below may come from that rather than from the snapshot; "
                 "it keeps no pair evidence for the names it does not split")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Previous:
    """The last night's results, read back. `complete` is False when only its assignments
    could be used (the rest missing or not matching the manifest): the night then runs in
    full but still keeps its clusters' labels and ids."""

    manifest: dict[str, Any]
    assignments: pd.DataFrame
    placements: pd.DataFrame
    proposals: dict[str, Any]
    fingerprints: dict[str, str]
    links: list[VariantLink]
    models: LearntModels | None  # None: unreadable or stale, so the night learns again
    evidence: PairEvidence | None = None  # None: every pair is predicted again
    complete: bool = True
    issued: IssuedIds = IssuedIds()  # labels and ids given out so far, tonight's excepted
    evidence_intact: bool = True  # pair_evidence.npz matches the manifest
    # What was wrong with the state and what the night did about it, for the report.
    notes: tuple[str, ...] = ()


STATE_MARKER = ".anthology-resolve-state"
STATE_MARKER_TEXT = "The nightly job's state (anthology-resolve nightly --state).\n"


def check_state_dir(state: Path, data_dir: Path) -> None:
    """The state directory must be new, empty or a state of the nightly job (its own marker:
    an output directory of another command is refused, and so is the state's own `run/`),
    apart from the data, with no symbolic link where the job writes."""
    if path_relation(state.resolve(), data_dir.resolve()) is not None:
        raise OutputDirError(f"--state {state} overlaps the data directory {data_dir}; "
                             "choose a separate directory")
    if state.is_symlink():
        raise OutputDirError(f"--state {state} is a symbolic link; name a real directory")
    if state.exists():
        if not state.is_dir():
            raise OutputDirError(f"--state {state} exists and is not a directory")
        if any(state.iterdir()) and not (state / STATE_MARKER).is_file():
            raise OutputDirError(f"--state {state} is not empty and is not a state of "
                                 f"anthology-resolve nightly (no {STATE_MARKER} in it); name "
                                 "an empty or new directory, or an earlier night's --state")
        for inner in ("cache", "run", "report.md", "report.json"):
            if (state / inner).is_symlink():
                raise OutputDirError(f"--state {state}: {inner} is a symbolic link; the "
                                     "state must hold its own files")
    check_writable_parent(state, option="--state")


class NightlyState:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cache_dir = directory / "cache"
        self.run_dir = directory / "run"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state for one night; a second night on it at the same time is refused
        (the later one to finish would silently replace the other's results)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        marker = self.directory / STATE_MARKER
        if not marker.is_file():
            marker.write_text(STATE_MARKER_TEXT, encoding="utf-8")
        with open(self.directory / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputDirError(f"--state {self.directory}: another night is running "
                                     "on this state; try again when it has finished"
                                     ) from None
            try:
                self._recover_run()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recover_run(self) -> None:
        """A night killed between the two renames of its save left no `run/`: put back the
        newest complete one (the new results if their manifest was written, else the old).
        Then remove what killed nights left (the lock is held: no night is writing)."""
        if not self.run_dir.exists():
            # Staging directories of this version first, then those of earlier versions
            # (named `.run.<random>`, with no marker).
            ours = staging_dirs(self.run_dir)
            earlier = sorted((p for p in self.directory.glob(".run.*") if p not in ours),
                             reverse=True)
            for staging in [*ours, *earlier]:
                candidate = next((c for c in (staging / "new", staging / "old")
                                  if (c / "manifest.json").is_file()), None)
                if candidate is not None:
                    os.replace(candidate, self.run_dir)
                    log.warning("put back %s, left by an interrupted night", self.run_dir)
                    break
        remove_staging_dirs(staging_dirs(self.run_dir))

    def manifest(self, warn: bool = True) -> dict[str, Any] | None:
        """The last night's manifest, or None when missing, unreadable or not of the shape
        this version writes (logged unless not `warn`)."""
        try:
            manifest = json.loads((self.run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("version") != STATE_VERSION:
            return None
        shapes = {"inputs": dict, "files": dict, "config": dict, "names": int,
                  "problems": list, "registry_format": str, "mode": str}
        if not all(isinstance(manifest.get(key), kind) for key, kind in shapes.items()):
            if warn:
                log.warning("%s is not a manifest this version wrote; this night runs in "
                            "full", self.run_dir / "manifest.json")
            return None
        return manifest

    def intact(self, manifest: dict[str, Any]) -> bool:
        """Every result file is there with the digest its manifest recorded."""
        return not self.faults(manifest)

    def faults(self, manifest: dict[str, Any]) -> list[tuple[str, str]]:
        """(file name, what is wrong with it) for each result file missing or not matching
        the digest its manifest recorded."""
        files = manifest.get("files", {})
        found = []
        for name in (*RESOLUTION_FILES, *STATE_FILES):
            path = self.run_dir / name
            if name not in files and not path.exists():
                found.append((name, f"{self.run_dir} has no {name}: an earlier version of "
                                    "the tool wrote it"))
            elif not path.exists() and not path.is_symlink():
                found.append((name, f"{path} is missing"))
            elif not path.is_file():
                found.append((name, f"{path} does not match its manifest"))
            else:
                try:
                    if files.get(name) != file_sha256(path):
                        found.append((name, f"{path} does not match its manifest"))
                except OSError as error:  # unreadable: a file the night can do without stays so
                    found.append((name, f"{path} cannot be read ({error.strerror})"))
        return found

    def load(self) -> Previous | None:
        """The last night's results, or None (logged) when there are none or they do not
        match their manifest; all but the kept pair evidence, which `with_evidence` reads
        (the night reads the rest in another process: the evidence is slower to pass
        between processes than to read)."""
        from pipeline.resolve.carryover import LearntModels, StaleModelsError
        from pipeline.resolve.proposals_format import check_proposals
        from pipeline.resolve.variant_decision import VariantLink

        # Pickle runs code as it loads: only the tool's own state (marker checked) is read.
        manifest = self.manifest()
        faults = dict(self.faults(manifest)) if manifest is not None else {}
        required = [fault for name, fault in faults.items() if name not in OPTIONAL_STATE_FILES]
        if manifest is None or required:
            notes = required
            if self.run_dir.exists():
                notes.append(f"the state in {self.run_dir} cannot be read whole; this night "
                             "runs in full")
            for note in notes:
                log.warning("%s", note)
            return self._assignments_only(tuple(notes), faults.get("issued.json"))
        notes = []
        if "pair_evidence.npz" in faults:
            notes.append(f"{faults['pair_evidence.npz']}; {EVIDENCE_LOST}")
        if CANDIDATE_SEARCH in faults:
            notes.append(f"{faults[CANDIDATE_SEARCH]}; {SEARCH_LOST}")
        for note in notes:
            log.warning("%s", note)
        try:
            assignments = _read_assignments(self.run_dir / "assignments.csv")
            placements = _read_placements(self.run_dir / "placements.csv")
            # msgspec: the same objects as the standard library's, in two thirds of the time
            # (0.25 s against 0.39 s for the shared snapshot's 22 MB).
            path = self.run_dir / "proposals.json"
            proposals = msgspec.json.decode(path.read_bytes())
            # Its splits go into tonight's file, its links into the report (0.1 s).
            check_proposals(proposals, path)
            fingerprints = pickle.loads((self.run_dir / "fingerprints.pickle").read_bytes())
            links = pickle.loads((self.run_dir / "links.pickle").read_bytes())
            if not isinstance(fingerprints, dict) or not all(
                    isinstance(link, VariantLink) for link in links):
                raise TypeError("fingerprints or links of an unexpected type")
        # RecursionError: JSON nested deeper than the decoder goes.
        except (InputError, OSError, ValueError, TypeError, KeyError, IndexError, ImportError,
                pickle.UnpicklingError, AttributeError, EOFError, RecursionError) as error:
            note = f"the state in {self.run_dir} cannot be read ({error}); this night runs " \
                "in full"
            log.warning("%s", note)
            return self._assignments_only((*notes, note))
        try:
            models: LearntModels | None = LearntModels.load(self.run_dir / "models.pickle")
        except StaleModelsError as error:
            log.warning("%s; this night learns its models again", error)
            models = None
        issued, ledger_note = self._issued(assignments, faults.get("issued.json"))
        return Previous(manifest, assignments, placements, proposals, fingerprints, links,
                        models, issued=issued,
                        evidence_intact="pair_evidence.npz" not in faults,
                        notes=(*notes, *ledger_note))

    def with_evidence(self, previous: Previous | None) -> Previous | None:
        """`previous` (read whole by `load`) with the kept pair evidence read, if it reads."""
        from pipeline.resolve.pair_evidence import PairEvidence

        if previous is None or not previous.complete or not previous.evidence_intact:
            return previous
        try:
            evidence: PairEvidence | None = PairEvidence.load(
                self.run_dir / "pair_evidence.npz")
        except ValueError as error:
            note = f"{error}; {EVIDENCE_LOST}"
            log.warning("%s", note)
            return replace(previous, notes=(*previous.notes, note))
        return replace(previous, evidence=evidence)

    def kept_candidate_search(self, config: dict[str, Any]) -> bytes | None:
        """The search for name-variant candidates last night kept, if this code with these
        settings (`config`, as the manifest records it) kept it and it matches its manifest;
        else None (logged if it does not match): the names are compared afresh."""
        manifest = self.manifest(warn=False)  # an unusable state is reported by `load`
        if manifest is None or manifest.get("config") != config:
            return None
        path = self.run_dir / CANDIDATE_SEARCH
        try:
            data = path.read_bytes() if path.is_file() and path.stat().st_size <= \
                MAX_SEARCH_BYTES else None
        except OSError:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != manifest["files"].get(
                CANDIDATE_SEARCH):
            log.info("%s is missing, unreadable, larger than %d bytes or does not match its "
                     "manifest; every name is compared for name-variant candidates again",
                     path, MAX_SEARCH_BYTES)
            return None
        return data

    def _assignments_only(self, notes: tuple[str, ...], ledger_fault: str | None = None
                          ) -> Previous | None:
        """Last night's assignments alone, when they still read as a valid file: enough to
        keep cluster labels and ids through a full night. `notes`: why (for the report);
        `ledger_fault`: what is wrong with the ledger's file, if anything."""
        try:
            assignments = _read_assignments(self.run_dir / "assignments.csv")
        except (InputError, OSError, ValueError) as error:
            if self.run_dir.exists():
                log.warning("no earlier assignments to keep ids against (%s)", error)
            return None
        log.warning("keeping cluster labels and ids against %s", self.run_dir /
                    "assignments.csv")
        issued, ledger_note = self._issued(assignments, ledger_fault)
        return Previous({}, assignments, pd.DataFrame(), {}, {}, [], None, complete=False,
                        issued=issued, notes=(*notes, *ledger_note))

    def _issued(self, assignments: pd.DataFrame, mismatch: str | None = None
                ) -> tuple[IssuedIds, tuple[str, ...]]:
        """The ledger of labels and ids given out, last night's assignments included. Read
        even from a state that is not used whole, or that does not match its digest
        (`mismatch` says so): it only keeps labels and ids from being given again; one that
        cannot be read is rebuilt from the assignments. Logged, and said in the note
        returned."""
        path = self.run_dir / "issued.json"
        last_night = IssuedIds.of(assignments)
        text = None
        try:
            if not path.is_file():  # a pipe would hang the night, a device fill the memory
                raise LedgerError("missing, or not a regular file")
            if path.stat().st_size > MAX_LEDGER_BYTES:  # the shared snapshot's: about 1 MB
                raise LedgerError(f"larger than {MAX_LEDGER_BYTES:,} bytes")
            text = path.read_bytes()
            issued = IssuedIds.from_json(text.decode("utf-8")).union(last_night)
        except (OSError, UnicodeDecodeError, LedgerError) as error:
            note = (f"{path} cannot be read ({error}): it is rebuilt from last night's "
                    "assignments, so labels and ids retired on any earlier night, last night "
                    f"included, may be given again{self._keep_damaged(text)}")
            log.warning("%s", note)
            return last_night, (note,)
        if mismatch is None:
            return issued, ()
        note = f"{mismatch}; it is read as it is (it only keeps labels and ids from being " \
            "given again)"
        log.warning("%s", note)
        return issued, (note,)

    def _keep_damaged(self, ledger: bytes | None) -> str:
        """A ledger read but not understood is kept beside the state (tonight replaces
        `run/`), under a name no earlier copy has, for a maintainer to repair; says where."""
        if ledger is None:
            return ""
        number = 0
        while (copy := self.directory / f"issued.damaged-{number}.json").exists() or \
                copy.is_symlink():
            number += 1
        atomic_write_bytes(copy, ledger)
        return f" (a copy of it is kept as {copy})"

    def save(self, texts: dict[str, str], fingerprints: pd.Series, links: list[VariantLink],
             models: LearntModels, evidence: PairEvidence, candidate_search: bytes,
             issued: IssuedIds, manifest: dict[str, Any]) -> None:
        """Replace `run/` with these results (manifest written last; `write_dir_atomically`:
        the new directory is filled beside it, then the two swap by two renames).
        `candidate_search`: `KeptSearch.to_bytes`, or no bytes when the night found no
        name variants."""
        self.directory.mkdir(parents=True, exist_ok=True)

        def fill(directory: Path) -> None:
            for name, text in texts.items():
                (directory / name).write_text(text, encoding="utf-8")
            (directory / "fingerprints.pickle").write_bytes(pickle.dumps(
                dict(sorted(zip(map(str, fingerprints.index.tolist()),
                                map(str, fingerprints.tolist()))))))
            (directory / "links.pickle").write_bytes(pickle.dumps(
                sorted(links, key=lambda x: (x.first, x.second))))
            models.save(directory / "models.pickle")
            (directory / "pair_evidence.npz").write_bytes(evidence.to_bytes())
            (directory / CANDIDATE_SEARCH).write_bytes(candidate_search)
            (directory / "issued.json").write_text(issued.to_json(), encoding="utf-8")
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
