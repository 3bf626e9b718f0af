"""Atomic file writes: write a temporary file beside the target, then rename it into place.

A crash or an error mid-write never leaves a half-written output behind.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (same directory, fsync, rename)."""
    atomic_write_files({path: data})


def atomic_write_files(contents: dict[Path, bytes]) -> None:
    """Replace each path with its data, all or none as far as signals go: every file is
    written beside its target first, then all are renamed into place with Ctrl-C and
    SIGTERM held back until the last rename (outputs read together, like `assignments.csv`
    and `proposals.json`, are never left half old and half new by an interrupt)."""
    staged: dict[Path, str] = {}
    try:
        for path, data in contents.items():
            staged[path] = _stage(path, data)
        with signals_deferred():
            for path, tmp_name in list(staged.items()):
                os.replace(tmp_name, path)
                del staged[path]
    finally:
        for tmp_name in staged.values():
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass


def _stage(path: Path, data: bytes) -> str:
    """`data` in a synced temporary file beside `path` with `path`'s mode; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp_name, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp_name, 0o644)
    except BaseException:
        os.unlink(tmp_name)
        raise
    return tmp_name


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
    if not (directory / name).is_file():
        atomic_write_bytes(directory / name, data)
    return name


def remove_content_named(directory: Path, stems: Iterable[str], suffix: str,
                         keep: Iterable[str]) -> None:
    """Remove the files `write_content_named` made for `stems` that are not in `keep` (the
    ones the current manifest lists)."""
    kept = set(keep)
    for stem in stems:
        for path in directory.glob(f"{stem}-*{suffix}"):
            if path.name not in kept:
                path.unlink(missing_ok=True)
