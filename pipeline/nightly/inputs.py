"""What a night's results depend on besides the names: the input files, this code and the
libraries whose models it stores. Light to import: an unchanged night needs nothing else."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from pipeline.anthology.data_dir import file_digest

LIBRARIES = ("scikit-learn", "leidenalg", "igraph", "pandas", "numpy", "nicknames")


def input_digests(data_dir: Path) -> dict[str, str]:
    """Content hash of every file a run reads: volume files and the registry and venue
    files, by path relative to the data directory."""
    files = sorted((data_dir / "xml").glob("*.xml"))
    for sub in ("yaml", "json"):
        if (data_dir / sub).is_dir():
            files += sorted(p for p in (data_dir / sub).rglob("*") if p.is_file())
    return {p.relative_to(data_dir).as_posix(): file_digest(p) for p in files}


def code_digest() -> str:
    """This package's source and the versions of the libraries whose models it stores."""
    digest = hashlib.blake2b(digest_size=16)
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    for library in LIBRARIES:
        try:
            digest.update(f"{library}={importlib.metadata.version(library)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{library}=?".encode())
    return digest.hexdigest()


def changed_files(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """Files added, removed or changed (paths relative to the data directory)."""
    return sorted(f for f in set(before) | set(now) if before.get(f) != now.get(f))
