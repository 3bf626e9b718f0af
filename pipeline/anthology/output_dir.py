"""Where a command may write: checks made before any work starts.

The rule: a run deletes or replaces only what this tool created. A directory this tool fills
as a whole (`export --out`, `migrate --out`) must be absent, empty, or an earlier output of
this tool (recognised by the marker file it writes there), and the last is replaced only with
`--force`. It must not be, contain or lie inside any input (the data directory, the
resolution read by `export`). A directory that only receives named files (`resolve --out`)
must not lie inside the data directory, and must be writable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pipeline.anthology.atomic import (
    remove_staging_dirs,
    signals_deferred,
    staging_dir,
    stale_staging_dirs,
)
from pipeline.errors import AnthologyResolveError

log = logging.getLogger(__name__)

T = TypeVar("T")
MARKER = ".anthology-resolve-output"
MARKER_TEXT = "Written by anthology-resolve; `--force` may replace this directory as a whole.\n"


class OutputDirError(AnthologyResolveError):
    """An output location would overwrite or delete something this tool did not create."""


def path_relation(out: Path, protected: Path) -> str | None:
    if out == protected:
        return "is"
    if out in protected.parents:
        return "contains"
    if protected in out.parents:
        return "lies inside"
    return None


def replaceable_dir_path(value: str) -> Path:
    """An `--out` directory to be replaced as a whole, named so that moving it away does not
    change what the path names: its parent by its real path (`..` and links resolved), its
    own name as given (a link there is refused later); one ending in `..` by its real path,
    since a directory cannot be renamed through `..`. (`rv/names/../../rv` named nothing
    once `rv` was moved aside, and the new output could not be put in its place.)"""
    path = Path(value).absolute()
    return path.resolve() if path.name == ".." else path.parent.resolve() / path.name


def check_replaceable_dir(out: Path, inputs: dict[str, Path], force: bool) -> None:
    """Refuse an `--out` directory that replacing as a whole could lose data with (after
    putting back one a killed run left aside: `recover_killed_output`)."""
    out = replaceable_dir_path(str(out))
    recover_killed_output(out)
    target = out.resolve()
    for label, path in sorted(inputs.items()):
        relation = path_relation(target, path.resolve())
        if relation is not None:
            raise OutputDirError(f"--out {out} {relation} the {label} {path}; choose a "
                                 "separate directory")
    if out.is_symlink():
        raise OutputDirError(f"--out {out} is a symbolic link; name a real directory")
    if out.exists():
        if not out.is_dir():
            raise OutputDirError(f"--out {out} exists and is not a directory")
        if any(out.iterdir()):
            if not (out / MARKER).is_file():
                raise OutputDirError(
                    f"--out {out} is not empty and was not written by anthology-resolve "
                    f"(no {MARKER} in it); name an empty or new directory")
            if not force:
                raise OutputDirError(
                    f"--out {out} holds an earlier output of anthology-resolve; pass --force "
                    "to replace it")
    check_writable_parent(out)


def check_files_dir(out: Path, data_dir: Path, file_names: Sequence[str] = ()) -> None:
    """Refuse a directory for named output files inside the data, or one we cannot write,
    or one where something other than a file stands at one of `file_names` (the files the
    command will replace), so that the run stops before its work, not after."""
    if path_relation(out.resolve(), data_dir.resolve()) in ("is", "lies inside"):
        raise OutputDirError(f"--out {out} lies inside the data directory {data_dir}; "
                             "outputs never go into the snapshot")
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--out {out} exists and is not a directory")
    if out.is_dir():
        _probe(out)
        for name in file_names:
            target = out / name
            if target.exists() and not target.is_file():
                what = "a directory" if target.is_dir() else "not a regular file"
                raise OutputDirError(f"--out {out}: {target} is {what}; remove it or "
                                     "name another directory")
    else:
        check_writable_parent(out)


def check_summary_file(path: Path, inside_of: dict[str, Path], inputs: list[Path],
                       header: str) -> None:
    """Refuse a summary file that would overwrite data, an input, or a file not ours: it may
    not lie inside any of `inside_of`, be one of `inputs`, or be an existing file that does
    not start with `header` (the first line of every summary this tool writes)."""
    target = path.resolve()
    for label, directory in sorted(inside_of.items()):
        if path_relation(target, directory.resolve()) in ("is", "lies inside"):
            raise OutputDirError(f"--summary {path} lies inside the {label} {directory}")
    if any(target == i.resolve() for i in inputs):
        raise OutputDirError(f"--summary {path} is an input of this run")
    if path.is_dir():
        raise OutputDirError(f"--summary {path} is a directory; name a file")
    if path.exists():
        with open(path, encoding="utf-8", errors="replace") as handle:
            if not handle.read(len(header)) == header:
                raise OutputDirError(f"--summary {path} exists and is not a summary written "
                                     "by anthology-resolve; name a new file")
    check_writable_parent(path, option="--summary")


def check_writable_parent(out: Path, option: str = "--out") -> None:
    """The nearest existing ancestor of `out` (the value of `option`) must accept new
    files."""
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputDirError(f"{option} {out}: {parent} is not a directory")
    _probe(parent)


def _probe(directory: Path) -> None:
    """Create and remove a file: the only test that also holds for root and read-only mounts."""
    with signals_deferred():  # an interrupt in between would leave the probe behind
        try:
            fd, name = tempfile.mkstemp(prefix=".anthology-resolve-probe.", dir=directory)
        except OSError as exc:
            raise OutputDirError(f"cannot create files in {directory}: {exc.strerror}") from exc
        os.close(fd)
        os.unlink(name)


def mark(directory: Path) -> None:
    """Leave the marker that makes `directory` recognisably ours."""
    (directory / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def write_dir_atomically(out: Path, fill: Callable[[Path], T]) -> T:
    """Fill a new directory beside `out` (with the marker), then put it in place of `out` in
    one rename. `out` must have passed `check_replaceable_dir`; an interrupted or failed run
    leaves `out` as it was."""
    out = replaceable_dir_path(str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_killed_output(out)
    with staging_dir(out) as staging:
        new = staging / "new"
        new.mkdir()
        result = fill(new)
        mark(new)
        # Between these renames `out` lives in the staging directory, which an interrupt
        # would remove with it.
        with signals_deferred():
            previous = staging / "old"
            if out.exists():
                os.replace(out, previous)
            try:
                os.replace(new, out)
            except BaseException:
                if previous.exists():
                    os.replace(previous, out)
                raise
    return result


def recover_killed_output(out: Path) -> None:
    """Remove the staging directories killed runs left beside `out` (an hour old: a
    concurrent run's are younger). A run killed between its two renames left `out` missing
    and its previous version in `old`: the newest such is put back first, so nothing ever
    written is lost, and this run then replaces it only on the rules it would apply to it
    (`check_replaceable_dir` calls this first)."""
    # Listed once: putting `old` back makes its staging directory look new.
    stale_dirs = stale_staging_dirs(out)
    for stale in stale_dirs:
        previous = stale / "old"
        if (previous.is_dir() and not previous.is_symlink() and not out.exists()
                and not out.is_symlink()):
            os.replace(previous, out)
            log.warning("%s was missing (a run killed while replacing it); put back its "
                        "previous version from %s", out, stale)
    remove_staging_dirs(stale_dirs)
