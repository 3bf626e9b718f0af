"""Atomic file writes: write a temporary file beside the target, then rename it into place.

A crash or an error mid-write never leaves a half-written output behind.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# A temporary file of ours this old was left by a killed run (SIGKILL, power loss): no write
# takes this long, so removing it cannot race a run still writing it.
STALE_TEMP_SECONDS = 3600


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (same directory, fsync, rename)."""
    atomic_write_files({path: data})


def atomic_write_files(contents: dict[Path, bytes]) -> None:
    """Replace each path with its data, all or none: every file is written beside its
    target first, then all are renamed into place with Ctrl-C and SIGTERM held back until
    the last rename (outputs read together, like `assignments.csv` and `proposals.json`, are
    never left half old and half new by an interrupt). A rename that fails (a directory in
    the way, permissions) puts back the files already renamed, from hard links to their
    previous versions made just before."""
    for path in contents:
        if path.exists() and not path.is_file():
            raise IsADirectoryError(errno.EISDIR, "not a file", str(path))
    staged: dict[Path, str] = {}
    previous: dict[Path, str | None] = {}  # target -> link to its old version (None: new)
    try:
        for path, data in contents.items():
            _stage(path, data, staged)
        with signals_deferred():
            try:
                for path, tmp_name in list(staged.items()):
                    previous[path] = _keep_previous(path)
                    os.replace(tmp_name, path)
                    del staged[path]
            except BaseException:
                _put_back(previous, set(staged))
                raise
    finally:
        for name in [*staged.values(), *(n for n in previous.values() if n is not None)]:
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass


def _keep_previous(path: Path) -> str | None:
    """A hard link to `path`'s current version under a temporary name (None when there is
    none), so that it can be put back."""
    if not path.exists():
        return None
    name = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.link(path, name)
    except OSError:  # a file system without hard links
        shutil.copy2(path, name)
    return name


def _put_back(previous: dict[Path, str | None], not_renamed: set[Path]) -> None:
    """Undo the renames done so far: each target renamed gets its old version back (or is
    removed, if it had none)."""
    for path, old in previous.items():
        if path in not_renamed:
            continue
        if old is None:
            path.unlink(missing_ok=True)
        else:
            os.replace(old, path)


def _stage(path: Path, data: bytes, staged: dict[Path, str]) -> None:
    """Write `data` to a synced temporary file beside `path` with `path`'s mode, and record
    its name in `staged` (the caller removes what is recorded there if it stops early)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, glob.escape(path.name))
    # Created and recorded with signals held back: an interrupt in between would leave a
    # temporary file nobody removes.
    with signals_deferred():
        fd, staged[path] = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                            dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(staged[path], path.stat().st_mode & 0o777 if path.exists() else 0o644)


def remove_stale_temps(directory: Path, name_pattern: str) -> None:
    """Remove the temporary files `_stage` made for targets matching `name_pattern` (a glob)
    that a killed run left behind (older than STALE_TEMP_SECONDS)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in directory.glob(f".{name_pattern}.*.tmp"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM received inside the block take effect when it ends (handlers are
    only swapped in the main thread, the one Python runs them in)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, _: received.append(number))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if received:
            signal.raise_signal(received[0])


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with UTF-8 `text` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_content_named(directory: Path, stem: str, suffix: str, data: bytes) -> str:
    """Write `data` atomically to `<stem>-<digest><suffix>` in `directory`; return the name.

    A file named by its content never changes, so a manifest written after it (atomically)
    is the single point where a cache switches over: a stop at any moment leaves either the
    old manifest with its own files or the new one with its own."""
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    path = directory / name
    # A file of this name whose content changed since (NotItsContent on reading) is
    # written again, or every later run would find it wrong and start over.
    if not (path.is_file() and path.read_bytes() == data):
        atomic_write_bytes(path, data)
    return name


class NotItsContent(ValueError):
    """A file named by its content whose bytes are no longer that content."""


def read_content_named(path: Path) -> bytes:
    """The bytes of a file `write_content_named` made, checked against its name: a file
    changed since (a disk error, an edit, another file copied over it) raises
    NotItsContent instead of being read as if it were the one named."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest()[:20] != path.name.rsplit("-", 1)[-1][:20]:
        raise NotItsContent(f"{path}: its content is not the one its name was made from")
    return data


def is_content_named(name: str, stem: str, suffix: str) -> bool:
    """Whether `name` is one `write_content_named` gives to `stem`/`suffix` (a manifest that
    names anything else, like another table's file or `../x`, is not ours to trust)."""
    return re.fullmatch(rf"{re.escape(stem)}-[0-9a-f]{{20}}{re.escape(suffix)}", name) is not None


def remove_content_named(directory: Path, stems: Iterable[str], suffix: str,
                         keep: Iterable[str]) -> None:
    """Remove the files `write_content_named` made for `stems` that are not in `keep` (the
    ones the current manifest lists), and their temporary files left by killed runs."""
    kept = set(keep)
    for stem in stems:
        for path in directory.glob(f"{stem}-*{suffix}"):
            if path.name not in kept:
                path.unlink(missing_ok=True)
        remove_stale_temps(directory, f"{stem}-*{suffix}")


STAGING_TAG = "anthology-resolve-staging"
STAGING_MARKER = ".anthology-resolve-staging"  # inside each staging directory
# What `tempfile.mkdtemp` puts after the prefix: eight of [a-z0-9_].
_MKDTEMP_SUFFIX = "[a-z0-9_]{8}"


def make_staging_dir(target: Path) -> Path:
    """A new directory beside `target` to build its next version in
    (`.<name>.anthology-resolve-staging.<random>`, holding only the STAGING_MARKER file),
    made and returned with signals held back so that the caller can always record it
    before an interrupt."""
    with signals_deferred():
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{STAGING_TAG}.",
                                        dir=target.parent))
        try:
            (staging / STAGING_MARKER).touch()
        except BaseException:
            staging.rmdir()
            raise
        return staging


@contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A staging directory beside `target` (`make_staging_dir`) for the block, removed however
    the block ends, even by an interrupt the instant after it was made."""
    staging: Path | None = None
    try:
        with signals_deferred():  # made and recorded, or neither
            staging = make_staging_dir(target)
        yield staging
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _staging_dirs_by_age(target: Path) -> list[tuple[float, Path]]:
    """(mtime, path) of the staging directories `make_staging_dir` made for `target` that
    are still there, newest first: a name it could have given and its marker inside, so
    that no directory of someone else's, however named, is taken for one."""
    shape = re.compile(rf"\.{re.escape(target.name)}\.{STAGING_TAG}\.{_MKDTEMP_SUFFIX}")
    found = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.{STAGING_TAG}.*"):
        try:
            if (shape.fullmatch(path.name) and path.is_dir() and not path.is_symlink()
                    and (path / STAGING_MARKER).is_file()
                    and not (path / STAGING_MARKER).is_symlink()):
                found.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            pass
    return [(mtime, path) for mtime, _, path in sorted(found, reverse=True)]


def staging_dirs(target: Path) -> list[Path]:
    """The staging directories of `target` still there, newest first."""
    return [path for _, path in _staging_dirs_by_age(target)]


def stale_staging_dirs(target: Path) -> list[Path]:
    """The staging directories of `target` that a killed run left behind: older than
    STALE_TEMP_SECONDS (no run of ours builds one that long, so a concurrent run's is never
    among them), newest first."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    return [path for mtime, path in _staging_dirs_by_age(target) if mtime < cutoff]


def remove_staging_dirs(paths: Iterable[Path]) -> None:
    """Remove staging directories (found by `staging_dirs` or `stale_staging_dirs`)."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        log.info("removed %s, left by a killed run", path)


def remove_stale_staging_dirs(target: Path) -> None:
    """Remove the staging directories of `target` that killed runs left."""
    remove_staging_dirs(stale_staging_dirs(target))
