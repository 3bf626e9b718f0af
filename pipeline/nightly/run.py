"""One night (`anthology-resolve nightly`): resolve the snapshot again, recomputing only what
changed since the last night, and report what changed.

1. Hash every input file (`inputs.py`). Same files, same code and settings as the last
   night: nothing to do, and the report says so. This path imports nothing heavy.
2. Otherwise `night.resolve_night`: read the snapshot (parsed tables cached in the state, so
   only changed files are parsed), fingerprint every name, split the changed ones (or all),
   and replace the state's results (two renames; see `state.py`).
3. Write the change report (`report.py`) to STATE/report.md and STATE/report.json; on bad
   input, a report of the errors (the last night's results are kept).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.anthology.atomic import atomic_write_files
from pipeline.anthology.data_dir import find_data_dir
from pipeline.anthology.transaction import recover
from pipeline.errors import AnthologyResolveError, InputError
from pipeline.nightly.inputs import changed_files, code_digest, input_digests
from pipeline.nightly.report import build_report, empty_assignments, report_json, report_markdown
from pipeline.nightly.state import (
    NightlyState,
    check_state_dir,
)

if TYPE_CHECKING:
    from pipeline.resolve.settings import ResolveSettings

log = logging.getLogger(__name__)


def _write_report(state: NightlyState, report: dict[str, Any]) -> list[Path]:
    contents = {state.directory / "report.json": report_json(report).encode("utf-8"),
                state.directory / "report.md": report_markdown(report).encode("utf-8")}
    atomic_write_files(contents)
    return list(contents)


def _quiet_run(mode: str, reason: str, manifest: dict[str, Any]) -> dict[str, Any]:
    return {"mode": mode, "reason": reason, "files": len(manifest.get("inputs", {})),
            "changed_files": [], "names": manifest.get("names", 0), "changed_names": 0,
            "recomputed": 0}


def run_nightly(anthology: Path, state_dir: Path, settings: ResolveSettings,
                full: bool = False, workers: int = 0, show_progress: bool = False
                ) -> tuple[dict[str, Any], list[Path]]:
    """Run one night; returns the report and the paths written. A night that fails on bad
    input or a bug leaves a `failed` report (`write_error_report`, under the state's lock,
    so that it never replaces the report of a night that started since) and raises."""
    data_dir = find_data_dir(anthology)
    check_state_dir(state_dir, data_dir)
    state = NightlyState(state_dir)
    with state.locked():
        try:
            recover(data_dir)
            return _night(anthology, data_dir, state, settings, full, workers, show_progress)
        except Exception as error:
            # A state directory or data that is not usable as such gets nothing written.
            if isinstance(error, InputError) or not isinstance(error, AnthologyResolveError):
                for path in write_error_report(data_dir, state, error):
                    log.info("wrote %s", path)
            raise


def _night(anthology: Path, data_dir: Path, state: NightlyState, settings: ResolveSettings,
           full: bool, workers: int, show_progress: bool
           ) -> tuple[dict[str, Any], list[Path]]:
    inputs = input_digests(data_dir)
    # As JSON reads it back (a tuple becomes a list), to compare with the stored one.
    config = json.loads(json.dumps({"settings": asdict(settings), "code": code_digest()}))
    # Quietly: a state that cannot be used is reported once, by the night that loads it.
    manifest = state.manifest(warn=False)
    if not full and manifest is not None and manifest.get("inputs") == inputs \
            and manifest.get("config") == config and state.intact(manifest):
        log.info("the snapshot, code and settings are as the last night left them: nothing "
                 "to recompute (results in %s)", state.run_dir)
        report = build_report(
            _quiet_run("unchanged", "same input files, code and settings", manifest),
            None, empty_assignments(), empty_assignments(), {}, {}, [],
            manifest.get("problems", []))
        return report, _write_report(state, report)

    from pipeline.anthology.table_cache import TableCacheReading

    # The parsed tables are read in a thread while the resolver's modules are imported
    # (a second or more on one core, which left the other idle).
    tables = TableCacheReading(state.cache_dir)
    from pipeline.nightly.night import resolve_night

    report = resolve_night(anthology, state, settings, inputs, config, manifest, full,
                           workers, show_progress, tables)
    return report, [state.run_dir, *_write_report(state, report)]


def write_error_report(data_dir: Path, state: NightlyState, error: BaseException
                       ) -> list[Path]:
    """A report saying why the night failed (the input's errors with file and line, or the
    internal error), so no earlier night's report is taken for tonight's; the results of the
    last night stay as they were. The caller holds the state's lock."""
    manifest = state.manifest() or {}
    if isinstance(error, InputError):
        reason = f"{len(error.problems)} error(s) in the input"
        problems = [str(p) for p in error.problems]
    else:
        reason = f"the night stopped on an error ({type(error).__name__}: {error})"
        problems = []
    run = _quiet_run("failed", f"{reason}; the results of the last night are kept", manifest)
    try:
        inputs = input_digests(data_dir)
        run.update(changed_files=changed_files(manifest.get("inputs", {}), inputs),
                   files=len(inputs))
    except OSError:
        pass
    report = build_report(run, None, empty_assignments(), empty_assignments(), {}, {}, [],
                          problems, state_notes=None)
    return _write_report(state, report)
