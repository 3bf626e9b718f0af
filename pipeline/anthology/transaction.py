"""Changing files of a data directory as one change: all of them or none.

1. Stage: every new content is written and fsynced beside its target
   (`.NAME.anthology-resolve-new`), so each later rename is atomic. A failure here (full disk,
   read-only folder, file size limit) removes the staged files; nothing else was touched.
2. Journal: `.anthology-resolve-journal.json` in the data directory lists every target and
   whether it existed. It is locked (`flock`) while the run works.
3. Commit: targets are replaced in the caller's order, each old file first kept as a hard link
   (`.NAME.anthology-resolve-old`). Any failure or Ctrl-C/SIGTERM rolls every target back.
4. Done: the journal is removed (the commit point), then the backups.

A run killed outright (SIGKILL, power loss) leaves the journal behind; the next run on the
directory (`recover`, called whenever a snapshot is read) rolls the change back from it, so
the directory ends byte-identical to before. Leftover files without a journal are from a run
that was either not yet committing (staged files) or already done (backups): both are removed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import AnthologyResolveError

log = logging.getLogger(__name__)

STAGED_SUFFIX = ".anthology-resolve-new"
BACKUP_SUFFIX = ".anthology-resolve-old"
JOURNAL = ".anthology-resolve-journal.json"


class TransactionError(AnthologyResolveError):
    """The data directory cannot be changed safely now."""


def sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}{suffix}")


def _write_file(path: Path, data: bytes) -> None:
    """Write and fsync a new file (fails if it exists: a stale one is never reused)."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc  # name the file


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@contextmanager
def _locked_journal(data_dir: Path, create: bool) -> Iterator[int | None]:
    """The journal's file descriptor, locked; None when there is no journal (create=False)."""
    path = data_dir / JOURNAL
    flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        yield None
        return
    except FileExistsError as exc:
        raise TransactionError(f"{path} exists: another run is changing {data_dir}, or one "
                               "was interrupted (read the snapshot once to roll it back)"
                               ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TransactionError(f"another run is changing {data_dir} right now") from exc
        yield fd
    finally:
        os.close(fd)


def replace_files(data_dir: Path, new: dict[str, bytes | None], order: list[str]) -> None:
    """Give each relative path its new content (None: delete it), all or nothing."""
    recover(data_dir)
    staged: dict[str, Path] = {}
    try:
        for relative in order:
            target = data_dir / relative
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise TransactionError(f"{target} is not a regular file")
            data = new[relative]
            if data is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            staged[relative] = sidecar(target, STAGED_SUFFIX)
            _write_file(staged[relative], data)
            os.chmod(staged[relative],
                     target.stat().st_mode & 0o777 if target.exists() else 0o644)
    except BaseException:
        _remove(staged.values())
        raise
    entries = [{"path": r, "existed": (data_dir / r).exists()} for r in order]
    try:
        with _locked_journal(data_dir, create=True) as fd:
            assert fd is not None
            os.write(fd, json.dumps({"files": entries}).encode("utf-8"))
            os.fsync(fd)
            _commit(data_dir, order, new, staged)
            os.unlink(data_dir / JOURNAL)  # the commit point
    except TransactionError:
        _remove(staged.values())
        raise
    except BaseException:
        _roll_back(data_dir, entries)
        _remove(staged.values())
        _remove([data_dir / JOURNAL])
        raise
    _remove(sidecar(data_dir / r, BACKUP_SUFFIX) for r in order)


def _commit(data_dir: Path, order: list[str], new: dict[str, bytes | None],
            staged: dict[str, Path]) -> None:
    for relative in order:
        target = data_dir / relative
        if target.exists():
            os.link(target, sidecar(target, BACKUP_SUFFIX))
        if new[relative] is None:
            os.unlink(target)
        else:
            os.replace(staged[relative], target)
            del staged[relative]


def _roll_back(data_dir: Path, entries: list[dict[str, object]]) -> list[str]:
    """Put back every target of a journal; returns the paths restored."""
    restored = []
    for entry in reversed(entries):
        relative = str(entry["path"])
        target = data_dir / relative
        backup = sidecar(target, BACKUP_SUFFIX)
        if entry["existed"]:
            if not backup.exists():
                continue  # never touched
            if target.exists() and os.path.samefile(backup, target):
                os.unlink(backup)  # never replaced (rename() between links does nothing)
                continue
            os.replace(backup, target)
            restored.append(relative)
        elif target.exists():
            os.unlink(target)
            restored.append(relative)
    return restored


def recover(data_dir: Path) -> None:
    """Undo an in-place run that was killed before it finished; tidy up after one that did."""
    with _locked_journal(data_dir, create=False) as fd:
        if fd is not None:
            try:
                entries = json.loads(os.read(fd, 1 << 24) or b"{}").get("files", [])
            except ValueError:
                entries = []  # killed while writing the journal: nothing was committed
            restored = _roll_back(data_dir, entries)
            log.warning("%s: an in-place run was interrupted; rolled back %d file(s): %s",
                        data_dir, len(restored), ", ".join(restored) or "none had changed")
            os.unlink(data_dir / JOURNAL)
    leftovers = [p for suffix in (STAGED_SUFFIX, BACKUP_SUFFIX)
                 for p in data_dir.rglob(f".*{suffix}")]
    if leftovers:
        log.warning("%s: removing %d file(s) an interrupted run left behind", data_dir,
                    len(leftovers))
        _remove(leftovers)
