"""Export and migration on small generated snapshots; the attribute editor's property."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builder import two_wei_zhangs
from conftest import MINI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.anthology.registry import Person, load_registry
from pipeline.anthology.registry.legacy import render_legacy
from pipeline.anthology.xml_patch import edit_mention_attributes
from pipeline.cli import main
from pipeline.errors import ProblemLog


def test_export_dry_run_writes_nothing_and_in_place_adds_only_ids(tmp_path: Path) -> None:
    root = two_wei_zhangs(tmp_path / "anthology")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    out = tmp_path / "resolution"
    base = ["-q", "--anthology", str(root), "--no-cache"]
    assert main(["-q", "resolve", *base[1:], "--name", "wei-zhang", "--out", str(out)]) == 0
    assert main(["-q", "export", *base[1:], "--resolution", str(out), "--dry-run"]) == 0
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert main(["-q", "export", *base[1:], "--resolution", str(out), "--in-place"]) == 0
    registry = (root / "yaml" / "name_variants.yaml").read_text()
    assert "id: wei-zhang-stanford" in registry
    for path, old in before.items():
        if path.suffix == ".xml":
            new = path.read_text()
            assert re.sub(r' id="[a-z0-9-]+"', "", new) == re.sub(
                r' id="[a-z0-9-]+"', "", old.decode())
    assert (out / "pr-summary-legacy.md").read_text().count("wei-zhang") >= 2


def test_a_dry_run_prints_the_whole_summary_not_a_pointer_to_a_file_it_does_not_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.export import pr_summary

    root = two_wei_zhangs(tmp_path / "anthology")
    out = tmp_path / "resolution"
    base = ["--anthology", str(root), "--no-cache"]
    assert main(["-q", "resolve", *base, "--name", "wei-zhang", "--out", str(out)]) == 0
    monkeypatch.setattr(pr_summary, "BODY_LIMIT", 700)  # a pull request's body would be cut
    capsys.readouterr()
    assert main(["-q", "export", *base, "--resolution", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "-full.md" not in printed and "wei-zhang-stanford" in printed
    assert not list(out.glob("pr-summary*"))


def test_new_legacy_entries_go_next_to_their_namesakes(mini_dir: Path) -> None:
    registry = load_registry(mini_dir, ProblemLog())
    first = next(iter(registry.persons.values()))
    registry.add_person(Person(id=f"{first.id}-new", names=(first.canonical,)))
    text = render_legacy(registry)
    lines = text.splitlines()
    at = lines.index(f"  id: {first.id}-new")
    assert lines[at - 1] == f"- canonical: {{first: {first.canonical.first}, last: " \
                            f"{first.canonical.last}}}"
    original = (mini_dir / "yaml" / "name_variants.yaml").read_text()
    assert text.replace(f"- canonical: {{first: {first.canonical.first}, last: "
                        f"{first.canonical.last}}}\n  id: {first.id}-new\n", "", 1) == original


ids = st.from_regex(r"[a-z][a-z0-9-]{1,10}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["id", "orcid"]),
                                  st.one_of(st.none(), ids)), max_size=6))
def test_property_only_the_named_attributes_change(changes: list[tuple[int, str, str | None]]
                                                   ) -> None:
    text = (MINI / "xml" / "2099.tiny.xml").read_text(encoding="utf-8")
    edits: dict[tuple[str, str, int], list[tuple[str, str | None, str | None]]] = {}
    for position, name, new in changes:
        key = ("2099.tiny-long.2", "author", position % 2)
        if any(c[0] == name for c in edits.get(key, [])):
            continue
        edits.setdefault(key, []).append((name, None, new))
    result = edit_mention_attributes(text, edits)
    strip = re.compile(r""" (id|orcid)="[^"]*\"""")
    assert strip.sub("", result.text) == strip.sub("", text)
    assert result.added <= sum(len(c) for c in edits.values())


def test_pr_summary_fits_a_pull_request_and_keeps_everything_in_the_full_file() -> None:
    from collections import Counter

    from pipeline.anthology.changeset import Changeset
    from pipeline.export.entries import ExportPlan, PersonChange
    from pipeline.export.pr_summary import BODY_LIMIT, render_summary

    plan = ExportPlan(Changeset(), "legacy", counts=Counter({"names changed": 3000}))
    for k in range(3000):
        plan.by_name[f"name-{k:04d}"] = [
            PersonChange(f"name-{k:04d}-a", "new", 3, 1, [f"Name{k} Person"]),
            PersonChange(f"name-{k:04d}", "catch-all", 1, 0, [f"Name{k} Person"])]
    import pandas as pd

    from pipeline.anthology.registry import Name
    from pipeline.export.variant_merges import MergeDecision

    plan.merges = [MergeDecision(f"merged-{k:04d}", "new", pd.Index([k]),
                                 (Name("Ann", f"Merged{k}"), Name("A.", f"Merged{k}")), 0.97)
                   for k in range(2000)]
    plan.notes = [f"variant merge {k} not applied" for k in range(500)]
    summary = render_summary(plan, {}, "pr-summary-legacy-full.md")
    assert summary.truncated and len(summary.body) <= BODY_LIMIT
    # Every part keeps a share of the body: names, merges and notes all show.
    for shown in ("name-0000-a", "`merged-0000`", "variant merge 0 not applied"):
        assert shown in summary.body
    assert all(f"merged-{k:04d}" in summary.full for k in range(2000))
    assert "pr-summary-legacy-full.md" in summary.body.rstrip().splitlines()[-1]
    assert all(f"name-{k:04d}-a" in summary.full for k in range(3000))
    assert summary.body.count("<details>") == summary.body.count("</details>") > 100
    small = ExportPlan(Changeset(), "legacy", by_name=dict(list(plan.by_name.items())[:3]))
    short = render_summary(small, {})
    assert not short.truncated and short.body == short.full


def test_pr_summary_heads_a_name_as_shown_and_links_papers() -> None:
    from pipeline.anthology.changeset import Changeset
    from pipeline.export.entries import ExportPlan, PersonChange
    from pipeline.export.pr_summary import display_names, evidence_of, render_summary

    paper = {"paper": "2023.acl-long.1", "title": "Parsing [things] well", "year": 2023,
             "link": "https://aclanthology.org/2023.acl-long.1/"}
    proposals = {"splits": [{"name": "yang-liu", "display": "Yang Liu", "clusters": [
        {"person": "yang-liu-icsi", "status": "existing", "papers": [paper],
         "evidence": {"years": [2005, 2023], "coauthors": [{"value": "Ann Lee", "count": 3}]}}]}]}
    plan = ExportPlan(Changeset(), "legacy", by_name={"yang-liu": [
        PersonChange("yang-liu-icsi", "existing", 3, 1, ["洋 刘", "Yang Liu"]),
        PersonChange("yang-liu-2", "new", 2, 2, ["Yang Liu"])]})
    body = render_summary(plan, evidence_of(proposals), display=display_names(proposals)).body
    assert "<b>Yang Liu</b> (<code>yang-liu</code>)" in body
    assert "[Parsing (things) well](https://aclanthology.org/2023.acl-long.1/)" in body
    # Without proposals the heading still prefers a Latin-script name string.
    assert "<b>Yang Liu</b>" in render_summary(plan, {}).body


def test_pr_summary_lists_names_with_nothing_to_decide_once() -> None:
    from pipeline.anthology.changeset import Changeset
    from pipeline.export.entries import ExportPlan, PersonChange
    from pipeline.export.pr_summary import render_summary

    plan = ExportPlan(Changeset(), "legacy", by_name={
        "ann-lee": [PersonChange("ann-lee-mit", "existing", 3, 2, ["Ann Lee"]),
                    PersonChange("ann-lee-ucl", "existing", 2, 1, ["Ann Lee"])],
        "bo-li": [PersonChange("bo-li-2", "new", 2, 2, ["Bo Li"]),
                  PersonChange("bo-li", "existing", 4, 0, ["Bo Li"])]})
    body = render_summary(plan, {}).body
    assert "nothing to decide (1 names): `ann-lee`" in body
    assert "<code>ann-lee</code>" not in body and "<code>bo-li</code>" in body


def test_a_bad_assignments_file_is_refused_with_every_problem_and_its_line(
        tmp_path: Path) -> None:
    from pipeline.errors import InputError
    from pipeline.export.entries import read_assignments

    path = tmp_path / "assignments.csv"
    path.write_text("paper,role,position,first,last,person,status,cluster,confidence\n"
                    "2020.a-1.1,author,0,Wei,Zhang,wei-zhang,new,wei-zhang#0,0.5\n"
                    "2020.a-1.2,author,0,Wei,Zhang,wei-zhang,maybe,wei-zhang#0,0.5\n"
                    "2020.a-1.3,author,0,Wei,Zhang,wei-zhang,new,wei-zhang#0,notanumber\n"
                    "2020.a-1.4,writer,x,Wei,Zhang,wei-zhang,new,wei-zhang#0,1.0000\n")
    with pytest.raises(InputError) as caught:
        read_assignments(path)
    found = {(p.line, p.message.split(" ")[0]) for p in caught.value.problems}
    assert found == {(3, "status"), (4, "confidence"), (5, "position"), (5, "role")}
    assert all(p.source == str(path) for p in caught.value.problems)


def test_a_new_person_takes_the_one_orcid_its_mentions_carry() -> None:
    import numpy as np
    import pandas as pd

    from pipeline.export.entries import _new_person

    rows = pd.DataFrame({"first": ["Xiaobo"] * 3, "last": ["Liang"] * 3,
                         "year": [2022, 2025, 2025], "paper": ["a", "b", "c"],
                         "affiliation": [np.nan] * 3,
                         "orcid": [np.nan, "0000-0002-1825-0097", "0000-0002-1825-0097"]})
    assert _new_person("xiaobo-liang", rows, False, set()).orcid == "0000-0002-1825-0097"
    assert _new_person("xiaobo-liang", rows, False, {"0000-0002-1825-0097"}).orcid is None
    two = rows.assign(orcid=[np.nan, "0000-0002-1825-0097", "0000-0001-5109-3700"])
    assert _new_person("xiaobo-liang", two, False, set()).orcid is None
