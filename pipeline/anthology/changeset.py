"""A set of changes to an Anthology data directory, and the three ways to apply it.

A `Changeset` is what the exporter and the migration produce: the registry to write (in its
format's own layout), registry files to delete, and per volume file the attribute edits of its
`<author>`/`<editor>` elements. Everything is rendered in memory first, so a problem (an
element no longer where the tables say, a value a curator changed meanwhile) stops the run
before any file is touched. Then:

- `dry_run`: a unified diff of every changed file, nothing written;
- `in_place`: one change of the data directory, all or nothing (`write`): every new file is
  staged first, then renamed into place registry first, and any failure puts the old files
  back;
- `out`: a full copy of the data directory with the changes, built beside the target and
  renamed into place, so the target is either the old copy or the complete new one. What
  `out` may name is checked first (`output_dir.py`).
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.anthology.output_dir import write_dir_atomically
from pipeline.anthology.registry import REGISTRY_FILES, Registry
from pipeline.anthology.transaction import replace_files
from pipeline.anthology.volumes import MentionKey
from pipeline.anthology.xml_patch import AttributeChange, edit_mention_attributes
from pipeline.errors import AnthologyResolveError

ApplyMode = Literal["dry-run", "in-place", "out"]


class ChangesetError(AnthologyResolveError):
    """The changes no longer fit the data directory they were planned for."""


@dataclass
class Changeset:
    registry: Registry | None = None  # written to its format's file when set
    delete: list[str] = field(default_factory=list)  # registry files to remove (relative)
    xml_edits: dict[str, dict[MentionKey, list[AttributeChange]]] = field(default_factory=dict)

    def edit(self, file: str, key: MentionKey, change: AttributeChange) -> None:
        """Add a change; a second change of the same attribute composes with the first."""
        changes = self.xml_edits.setdefault(file, {}).setdefault(key, [])
        for i, (name, expected, _) in enumerate(changes):
            if name == change[0]:
                changes[i] = (name, expected, change[2])
                return
        changes.append(change)


@dataclass
class RenderedChanges:
    """New content per relative path (None: delete), and the old content for diffs."""

    new: dict[str, bytes | None]
    old: dict[str, bytes | None]


def render(changeset: Changeset, data_dir: Path) -> RenderedChanges:
    """Every changed file's new bytes; raises before anything is written if an edit fails."""
    new: dict[str, bytes | None] = {}
    old: dict[str, bytes | None] = {}
    problems: list[str] = []
    for file, edits in sorted(changeset.xml_edits.items()):
        relative = f"xml/{file}"
        original = (data_dir / relative).read_bytes()
        result = edit_mention_attributes(original.decode("utf-8"), edits)
        problems.extend(f"{data_dir / relative}: {c}" for c in result.conflicts)
        problems.extend(f"{data_dir / relative}: no {role} {position} in {item}"
                        for item, role, position in result.missing)
        patched = result.text.encode("utf-8")
        if patched != original:
            new[relative], old[relative] = patched, original
    if problems:
        raise ChangesetError(f"{len(problems)} edit(s) do not fit the data (was it changed "
                             "since it was read?):\n" + "\n".join(problems[:50]))
    if changeset.registry is not None:
        from pipeline.anthology.registry import write_registry_bytes

        relative = REGISTRY_FILES[changeset.registry.format]
        path = data_dir / relative
        data = write_registry_bytes(changeset.registry)
        before = path.read_bytes() if path.is_file() else None
        if data != before:
            new[relative], old[relative] = data, before
    for relative in changeset.delete:
        path = data_dir / relative
        if path.is_file():
            new[relative], old[relative] = None, path.read_bytes()
    return RenderedChanges(new=new, old=old)


def unified_diff(changes: RenderedChanges) -> str:
    parts: list[str] = []
    for relative in sorted(changes.new):
        before = (changes.old[relative] or b"").decode("utf-8").splitlines(keepends=True)
        after = (changes.new[relative] or b"").decode("utf-8").splitlines(keepends=True)
        parts.extend(difflib.unified_diff(
            before, after, fromfile=f"a/{relative}" if changes.old[relative] is not None
            else "/dev/null", tofile=f"b/{relative}" if changes.new[relative] is not None
            else "/dev/null"))
    return "".join(parts)


def _commit_order(relative: str, data: bytes | None) -> tuple[int, str]:
    """Registry files first (new entries before the XML ids that need them), then volume
    files, and deletions last, so an interruption leaves ids only for entries that exist."""
    if data is None:
        return (2, relative)
    return (0 if not relative.startswith("xml/") else 1, relative)


def write(changes: RenderedChanges, data_dir: Path) -> None:
    """Apply rendered changes to `data_dir` as one change, all or nothing
    (`transaction.replace_files`), registry files first."""
    order = sorted(changes.new, key=lambda r: _commit_order(r, changes.new[r]))
    replace_files(data_dir, changes.new, order)


def write_copy(changes: RenderedChanges, data_dir: Path, out_dir: Path) -> None:
    """A complete copy of `data_dir` with the changes, replacing `out_dir` in one rename.

    `out_dir` must have passed `output_dir.check_replaceable_dir`: absent, empty, or an
    earlier output of this tool. The copy carries the marker that makes it recognisable.
    """
    def fill(copy: Path) -> None:
        shutil.copytree(data_dir, copy, symlinks=True, dirs_exist_ok=True)
        write(changes, copy)

    write_dir_atomically(out_dir, fill)


def apply(changeset: Changeset, data_dir: Path, mode: ApplyMode, out_dir: Path | None = None
          ) -> RenderedChanges:
    """Render, then write as `mode` says; returns what changed (for reports and diffs)."""
    changes = render(changeset, data_dir)
    if mode == "in-place":
        write(changes, data_dir)
    elif mode == "out":
        if out_dir is None:
            raise ValueError("mode 'out' needs out_dir")
        write_copy(changes, data_dir, out_dir)
    return changes
