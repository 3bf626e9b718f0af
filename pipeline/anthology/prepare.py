"""Make an Anthology snapshot available under a directory: keep it, unpack a tarball, or clone.

Order of preference: an existing data directory; the tarball (`.tar.xz` of the repository's
`data/`); a shallow git clone of the public acl-org/acl-anthology repository. Unpacking goes to
a temporary sibling directory that is renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from pipeline.anthology.atomic import remove_stale_staging_dirs, staging_dir
from pipeline.anthology.snapshot import SnapshotNotFoundError, find_data_dir
from pipeline.errors import AnthologyResolveError

log = logging.getLogger(__name__)

ANTHOLOGY_REPOSITORY = "https://github.com/acl-org/acl-anthology.git"


class PrepareError(AnthologyResolveError):
    """No snapshot could be found, unpacked or cloned."""


def _unpack(tarball: Path, target: Path) -> None:
    def extract(into: Path) -> None:
        with tarfile.open(tarball) as archive:
            archive.extractall(into, filter="data")

    _build_beside(target, extract)


def _clone(repository: str, target: Path) -> None:
    def clone(into: Path) -> None:
        subprocess.run(["git", "clone", "--depth", "1", "--quiet", repository, str(into)],
                       check=True, timeout=1800)

    _build_beside(target, clone)


def _build_beside(target: Path, build: Callable[[Path], None]) -> None:
    """`build` a snapshot into `new` in a staging directory beside `target`, check it, and
    rename it into place; the staging directory is removed whatever happens."""
    with staging_dir(target) as staging:
        (staging / "new").mkdir()
        build(staging / "new")
        find_data_dir(staging / "new")
        (staging / "new").rename(target)


def prepare_snapshot(target: Path, tarball: Path | None,
                     repository: str | None = ANTHOLOGY_REPOSITORY) -> Path:
    """Return the data directory under `target`, unpacking or cloning it first if missing."""
    remove_stale_staging_dirs(target.absolute())  # half-unpacked or half-cloned snapshots
    try:
        return find_data_dir(target)
    except SnapshotNotFoundError:
        pass
    if target.exists() and any(target.iterdir()):
        raise PrepareError(f"{target} exists but holds no Anthology data (no xml/ or data/xml/)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rmdir()
    if tarball is not None and tarball.is_file():
        log.info("unpacking %s into %s", tarball, target)
        _unpack(tarball, target)
        return find_data_dir(target)
    if repository and shutil.which("git"):
        log.info("no tarball at %s; cloning %s into %s", tarball, repository, target)
        try:
            _clone(repository, target)
            return find_data_dir(target)
        except (subprocess.SubprocessError, OSError, SnapshotNotFoundError) as exc:
            log.warning("clone failed: %s", exc)
    raise PrepareError(
        f"no Anthology snapshot at {target}, no tarball at {tarball}, and cloning "
        f"{repository} failed. Point ANTHOLOGY=<dir> at an acl-anthology checkout (or its "
        "data/ directory), or ANTHOLOGY_TARBALL=<file.tar.xz> at a snapshot tarball."
    )
