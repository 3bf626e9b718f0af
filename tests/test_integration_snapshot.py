"""The reader and registry on the full shared snapshot (Nov 2025, legacy registry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.anthology.registry import load_registry, write_registry
from pipeline.anthology.snapshot import find_data_dir, read_snapshot
from pipeline.anthology.stats import snapshot_stats
from pipeline.errors import ProblemLog

pytestmark = pytest.mark.integration


@pytest.mark.shared_snapshot
def test_counts_match_the_snapshot_readme(real_anthology: Path, real_cache: Path) -> None:
    snapshot = read_snapshot(real_anthology, cache_dir=real_cache)
    stats = dict(snapshot_stats(snapshot))
    assert stats["papers"] == 108_962
    assert stats["papers incl. front matter"] == 111_953
    assert stats["author mentions"] == 388_948
    assert stats["editor mentions"] == 10_208
    assert stats["distinct author name strings (first, last)"] == 109_911
    assert stats["persons in the registry (legacy)"] == 3_687
    assert stats["canonical names with 2+ ids"] == 100
    # 73 say "May refer to several people", 17 "May refer to multiple people"
    assert stats["registry persons that are catch-alls"] == 90
    assert stats["mentions with an ORCID"] == 14_311
    assert stats["distinct ORCIDs"] == 7_964
    assert stats["... of which invalid (read as none)"] == 6
    # The README: three older findings files predate some curation.
    unresolved = snapshot.mentions[snapshot.mentions["person"].isna()]
    assert set(unresolved["file"]) <= {"2023.findings.xml", "2024.findings.xml",
                                       "2025.findings.xml"}
    assert stats["... of which without an id"] == len(unresolved) > 0


def test_real_name_variants_round_trip_byte_identical(real_anthology: Path, tmp_path: Path
                                                      ) -> None:
    data_dir = find_data_dir(real_anthology)
    registry = load_registry(data_dir, ProblemLog())
    out = write_registry(registry, tmp_path / "name_variants.yaml")
    assert out.read_bytes() == (data_dir / "yaml" / "name_variants.yaml").read_bytes()


def test_cached_read_equals_fresh_read(real_anthology: Path, real_cache: Path) -> None:
    cached = read_snapshot(real_anthology, cache_dir=real_cache)
    again = read_snapshot(real_anthology, cache_dir=real_cache)
    assert cached.mentions.equals(again.mentions) and cached.papers.equals(again.papers)


def test_id_patcher_on_a_real_volume_file(real_anthology: Path, tmp_path: Path) -> None:
    import re

    from pipeline.anthology.volumes import MENTION_FIELDS, parse_volume_file
    from pipeline.anthology.xml_patch import add_person_ids

    source = find_data_dir(real_anthology) / "xml" / "2023.findings.xml"
    original = source.read_text(encoding="utf-8")
    rows = parse_volume_file(source).mentions
    id_index = MENTION_FIELDS.index("id")
    without_id = [(r[0], r[2], r[3]) for r in rows if r[id_index] is None]
    wanted = {key: f"test-person-{i}" for i, key in enumerate(without_id[::50])}
    result = add_person_ids(original, wanted)
    assert result.added == len(wanted) > 100 and not result.missing and not result.conflicts
    inserted = re.compile(r' id="test-person-[0-9]+"')
    assert inserted.sub("", result.text) == original
    patched = tmp_path / source.name
    patched.write_text(result.text, encoding="utf-8")
    after = {(r[0], r[2], r[3]): r[id_index] for r in parse_volume_file(patched).mentions}
    assert all(after[key] == value for key, value in wanted.items())
