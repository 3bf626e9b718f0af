"""Atomic file writes: write a temporary file beside the target, then rename it into place.

A crash or an error mid-write never leaves a half-written output behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (same directory, fsync, rename)."""
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
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


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
