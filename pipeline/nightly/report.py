"""The change report of one night: what a curator should look at, as markdown and JSON.

Sections: how the night ran (unchanged, incremental or full, and why); new ambiguous names
(resolved tonight, not last night); new assignments (mentions not in last night's results,
with their person and confidence, and whether a curator should check them); clusters that
changed (mentions gained or lost); proposals that flipped (a mention now given to another
person); name-variant links added, dropped or decided otherwise; the snapshot's problems;
and what was wrong with last night's state (a damaged ledger, say) and what the night did.
Both files are deterministic (no clock in them): the same two nights give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from pipeline.resolve.settings import REVIEW_BELOW
from pipeline.resolve.stable_ids import name_of_cluster

KEY = ["paper", "role", "position"]
MARKDOWN_ROWS = 100  # per section; report.json has them all
HEADER = "# anthology-resolve nightly report"


def empty_assignments() -> pd.DataFrame:
    """No rows (a night that resolved nothing)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in
                         [*KEY, "first", "last", "person", "status", "cluster", "confidence",
                          "name", "review"]})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = json.loads(frame.to_json(orient="records", force_ascii=False))
    return [dict(record) for record in records]


def new_assignments(before: pd.DataFrame, now: pd.DataFrame, placements: pd.DataFrame
                    ) -> pd.DataFrame:
    """Mentions of resolved names that were not in last night's assignments; `why`: a name
    resolved last night too (so a new mention: a new paper, or a name changed on a paper)
    or a name resolved for the first time (all its mentions are new here)."""
    known = pd.MultiIndex.from_frame(before[KEY])
    fresh = now[~pd.MultiIndex.from_frame(now[KEY]).isin(known)]
    placed = placements.set_index(KEY)[["confidence", "review"]].rename(
        columns={"confidence": "placement_confidence"})
    table = fresh.assign(name=name_of_cluster(fresh["cluster"])).join(placed, on=KEY)
    resolved_before = set(name_of_cluster(before["cluster"]))
    # A mention of a name with no known person is not placed: its fit to its cluster says
    # whether a curator should look.
    unplaced = table["placement_confidence"].isna()
    fit = pd.to_numeric(table["confidence"], errors="coerce")
    table["review"] = table["review"].where(~unplaced, ~(fit >= REVIEW_BELOW)).astype(bool)
    table["why"] = table["name"].map(
        lambda name: "new mention" if name in resolved_before else "newly resolved name")
    return table[[*KEY, "name", "first", "last", "person", "status", "cluster", "confidence",
                  "placement_confidence", "review", "why"]].sort_values(KEY).reset_index(
        drop=True)


def flipped(before: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Mentions in both nights whose person changed."""
    both = before[[*KEY, "person"]].merge(now[[*KEY, "person", "cluster"]], on=KEY,
                                          suffixes=("_before", "_now"))
    old = both["person_before"].fillna("")
    new = both["person_now"].fillna("")
    table = both[old != new].assign(name=lambda f: name_of_cluster(f["cluster"]))
    return table[[*KEY, "name", "person_before", "person_now"]].rename(
        columns={"person_before": "before", "person_now": "now"}).sort_values(KEY).reset_index(
        drop=True)


def _memberships(assignments: pd.DataFrame) -> pd.DataFrame:
    """(paper, role, position, cluster) of each mention, as text and numbers, once each."""
    return pd.DataFrame({
        "paper": assignments["paper"].astype(str).to_numpy(dtype=object),
        "role": assignments["role"].astype(str).to_numpy(dtype=object),
        "position": assignments["position"].astype(int).to_numpy(),
        "cluster": assignments["cluster"].astype(str).to_numpy(dtype=object),
    }).drop_duplicates()


def changed_clusters(before: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Clusters whose mentions differ between the nights (new and dissolved ones too)."""
    # One merge, not a set per cluster: a night compares 140k mentions.
    both = _memberships(before).merge(_memberships(now), how="outer", indicator=True)
    side = both["_merge"].astype(str)
    counts = pd.DataFrame({
        "before": (side != "right_only").groupby(both["cluster"]).sum(),
        "now": (side != "left_only").groupby(both["cluster"]).sum(),
        "gained": (side == "right_only").groupby(both["cluster"]).sum(),
        "lost": (side == "left_only").groupby(both["cluster"]).sum(),
    })
    counts = counts[(counts["gained"] > 0) | (counts["lost"] > 0)].sort_index()
    rows = [{"name": cluster.rsplit("#", 1)[0], "cluster": cluster, "before": before,
             "now": now_, "gained": gained, "lost": lost}
            for cluster, before, now_, gained, lost in zip(
                counts.index, *(counts[c].to_numpy(dtype=int).tolist()
                                for c in ("before", "now", "gained", "lost")))]
    return pd.DataFrame(rows, columns=["name", "cluster", "before", "now", "gained", "lost"])


def _link_key(link: dict[str, Any]) -> tuple[str, str]:
    return str(link["from"]), str(link["to"])


def _all_links(variants: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    links = {_link_key(link): {**link, "decision": "merge"}
             for merge in variants.get("merges", []) for link in merge["links"]}
    links.update({_link_key(link): {**link, "decision": "similar"}
                  for link in variants.get("similar", [])})
    return links


def variant_changes(before: dict[str, Any], now: dict[str, Any]) -> dict[str, list[Any]]:
    """Links that appeared, disappeared or changed decision (merge / similar)."""
    old, new = _all_links(before), _all_links(now)

    def brief(link: dict[str, Any]) -> dict[str, Any]:
        return {"from": link["from"], "to": link["to"], "names": link["names"],
                "decision": link["decision"], "confidence": link["confidence"]}

    return {
        "added": [brief(new[k]) for k in sorted(set(new) - set(old))],
        "dropped": [brief(old[k]) for k in sorted(set(old) - set(new))],
        "decided_otherwise": [{**brief(new[k]), "before": old[k]["decision"]}
                              for k in sorted(set(old) & set(new))
                              if old[k]["decision"] != new[k]["decision"]],
    }


def build_report(run: dict[str, Any], before: pd.DataFrame | None, now: pd.DataFrame,
                 placements: pd.DataFrame, variants_before: dict[str, Any] | None,
                 variants_now: dict[str, Any], resolved_before: Iterable[str],
                 problems: list[str], state_notes: Iterable[str] | None = ()
                 ) -> dict[str, Any]:
    """The report as a JSON-ready mapping. `run`: how the night ran (mode, reason, counts);
    `before`/`now`: last night's and tonight's assignments; `problems`: the snapshot's;
    `state_notes`: what was wrong with last night's state and what the night did about it
    (None: the state was not examined)."""
    previous = before if before is not None else now.iloc[0:0]
    resolved_now = set(name_of_cluster(now["cluster"]))
    resolved_then = set(resolved_before)
    gone = int((~pd.MultiIndex.from_frame(previous[KEY]).isin(
        pd.MultiIndex.from_frame(now[KEY]))).sum()) if len(previous) else 0
    return {
        "run": run,
        "new_ambiguous_names": sorted(resolved_now - resolved_then) if before is not None
        else [],
        "no_longer_resolved": sorted(resolved_then - resolved_now),
        # mentions in last night's results and not in tonight's (their proposal is gone)
        "mentions_dropped": gone,
        "new_assignments": _records(new_assignments(previous, now, placements))
        if before is not None else [],
        "changed_clusters": _records(changed_clusters(previous, now))
        if before is not None else [],
        "flipped": _records(flipped(previous, now)),
        "variant_links": variant_changes(variants_before or {}, variants_now)
        if variants_before is not None else {"added": [], "dropped": [],
                                             "decided_otherwise": []},
        # False when last night's proposals could not be read: nothing was compared.
        "variant_links_compared": variants_before is not None,
        "problems": problems,
        "state_notes": list(state_notes) if state_notes is not None else None,
    }


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True,
                      allow_nan=False) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["None.", ""]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |"
              for row in rows[:MARKDOWN_ROWS]]
    if len(rows) > MARKDOWN_ROWS:
        lines.append(f"\n... and {len(rows) - MARKDOWN_ROWS:,} more in report.json")
    return [*lines, ""]


def report_markdown(report: dict[str, Any]) -> str:
    run = report["run"]
    # New mentions (what arrived) before the old mentions of names resolved for the first time.
    new = sorted(report["new_assignments"], key=lambda row: row.get("why") != "new mention")
    to_check = [row for row in new if row.get("review")]
    links = report["variant_links"]
    state_notes = report.get("state_notes", [])
    files = (f"{run['files']:,} (first night: nothing to compare with)"
             if run.get("first_night") else
             f"{run['files']:,} (not compared: last night's list of input files could not be "
             "read)" if run.get("files_compared") is False else
             f"{run['files']:,} ({len(run['changed_files']):,} added, changed or removed since "
             "the last night)")
    variant_line = (
        f"- name-variant links added {len(links['added']):,}, dropped "
        f"{len(links['dropped']):,}, decided otherwise {len(links['decided_otherwise']):,}"
        if report.get("variant_links_compared", True) else
        "- name-variant links: not compared (first night: nothing to compare with)"
        if run.get("first_night") else
        "- name-variant links: not compared (last night's proposals could not be read)")
    lines = [
        HEADER, "",
        f"**{run['mode']}**: {run['reason']}.", "",
        f"- input files: {files}",
        f"- names recomputed: {run['recomputed']:,} of {run['names']:,} "
        f"({run['changed_names']:,} with changed inputs)",
        f"- new ambiguous names: {len(report['new_ambiguous_names']):,}; no longer resolved: "
        f"{len(report['no_longer_resolved']):,} "
        f"({report.get('mentions_dropped', 0):,} mentions lose last night's proposal)",
        f"- new assignments: {len(new):,} ({len(to_check):,} for review)",
        f"- clusters changed: {len(report['changed_clusters']):,}; mentions given to another "
        f"person: {len(report['flipped']):,}",
        variant_line,
        f"- problems in the snapshot: {len(report['problems']):,}",
        f"- problems in last night's state: {_count(state_notes)}", "",
    ]
    if run["changed_files"]:
        lines += ["## Changed files", "", *[f"- `{f}`" for f in
                                           run["changed_files"][:MARKDOWN_ROWS]], ""]
    lines += ["## Problems in last night's state", "",
              *([f"- {n}" for n in state_notes] if state_notes else
                ["None." if state_notes is not None else "Not examined."]), ""]
    lines += ["## New ambiguous names", "",
              ", ".join(f"`{n}`" for n in report["new_ambiguous_names"]) or "None.", ""]
    lines += ["## New assignments for review", "",
              f"A placement confidence below {REVIEW_BELOW} (or none learnt) or, for a name "
              f"with no known person, a fit to its cluster below {REVIEW_BELOW}.", "",
              *_table(to_check, ["paper", "role", "position", "first", "last", "person",
                                 "status", "placement_confidence", "why"])]
    lines += ["## All new assignments", "",
              *_table(new, ["paper", "role", "position", "first", "last", "person", "status",
                            "confidence", "placement_confidence", "why"])]
    lines += ["## Clusters that changed", "",
              *_table(report["changed_clusters"], ["cluster", "before", "now", "gained",
                                                   "lost"])]
    lines += ["## Proposals that flipped", "",
              *_table(report["flipped"], ["paper", "role", "position", "name", "before",
                                          "now"])]
    for kind in ("added", "dropped", "decided_otherwise"):
        lines += [f"## Name-variant links {kind.replace('_', ' ')}", "",
                  *_table(links[kind], ["from", "to", "decision", "confidence"])]
    lines += ["## Problems in the snapshot", "",
              *([f"- {p}" for p in report["problems"][:MARKDOWN_ROWS]] or ["None."]), ""]
    return "\n".join(lines)


def _count(notes: list[str] | None) -> str:
    return f"{len(notes):,}" if notes is not None else "not examined"
