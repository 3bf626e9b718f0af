"""Which registry file a data directory has, and reading and writing it in its own format."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.anthology.atomic import atomic_write_bytes
from pipeline.anthology.registry.current import read_people, render_people
from pipeline.anthology.registry.legacy import read_legacy, render_legacy
from pipeline.anthology.registry.model import (
    REGISTRY_FILES,
    Registry,
    RegistryError,
    RegistryFormat,
)
from pipeline.errors import ProblemLog

log = logging.getLogger(__name__)


def detect_format(data_dir: Path) -> RegistryFormat:
    """The newest registry format present in `data_dir`."""
    for fmt, relative in REGISTRY_FILES.items():
        if (data_dir / relative).is_file():
            return fmt
    raise RegistryError(
        f"{data_dir}: no person registry (looked for "
        + ", ".join(REGISTRY_FILES.values()) + ")"
    )


def load_registry(data_dir: Path, problems: ProblemLog) -> Registry:
    """Read the registry of a data directory, in whichever format it has."""
    fmt = detect_format(data_dir)
    present = [f for f, rel in REGISTRY_FILES.items() if (data_dir / rel).is_file()]
    if len(present) > 1:
        problems.warning(data_dir, None, f"several registry files; using {fmt}, ignoring "
                         + ", ".join(REGISTRY_FILES[f] for f in present[1:]))
    path = data_dir / REGISTRY_FILES[fmt]
    if fmt == "legacy":
        registry = read_legacy(path, problems)
    else:
        registry = read_people(path, fmt, problems)
    log.info("read %d persons from %s (%s format)", len(registry.persons), path, fmt)
    return registry


def write_registry_bytes(registry: Registry) -> bytes:
    """The registry file's content in its own format."""
    if registry.format == "legacy":
        return render_legacy(registry).encode("utf-8")
    return render_people(registry)


def write_registry(registry: Registry, path: Path | None = None) -> Path:
    """Write the registry in its own format (atomically); returns the path written."""
    target = path or registry.path
    atomic_write_bytes(target, write_registry_bytes(registry))
    return target
