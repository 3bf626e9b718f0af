"""The person registry: the model (`model.py`), its three file formats (`legacy.py`,
`current.py`, chosen by `files.py`) and who each mention is under the format's rules
(`rules.py`). The submodules import `model` and never this package, so there is no cycle."""

from pipeline.anthology.registry.files import (
    detect_format,
    load_registry,
    write_registry,
    write_registry_bytes,
)
from pipeline.anthology.registry.model import (
    CATCH_ALL_COMMENT,
    REGISTRY_FILES,
    UNVERIFIED_SUFFIX,
    Name,
    Person,
    Registry,
    RegistryError,
    RegistryFormat,
    unverified_id,
)
from pipeline.anthology.registry.rules import resolve_mentions

__all__ = [
    "CATCH_ALL_COMMENT", "REGISTRY_FILES", "UNVERIFIED_SUFFIX", "Name", "Person", "Registry",
    "RegistryError", "RegistryFormat", "detect_format", "load_registry", "resolve_mentions",
    "unverified_id", "write_registry", "write_registry_bytes",
]
