"""Where a snapshot's data is, and the content hash of one of its files (light to import:
the nightly job checks its inputs with these before it loads anything heavy)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.errors import AnthologyResolveError


class SnapshotNotFoundError(AnthologyResolveError):
    """The given path holds no Anthology data directory."""


def find_data_dir(path: Path) -> Path:
    """The directory holding `xml/`: `path` itself or `path/data` (a repository checkout)."""
    for candidate in (path, path / "data"):
        if (candidate / "xml").is_dir():
            return candidate
    raise SnapshotNotFoundError(
        f"{path}: no Anthology data here (expected {path}/xml/ or {path}/data/xml/). "
        "Run `make data` or pass --anthology pointing at an acl-anthology checkout."
    )


def file_digest(path: Path) -> str:
    """Content hash of one input file (BLAKE2b, 128 bits)."""
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
