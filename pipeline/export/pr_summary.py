"""The pull-request description of an export: per changed name, who is who and why.

A table of counts; then the names where only registry persons get ids, on one line (nothing
to decide there); then per other split name, most mentions in doubt first, a collapsible
`<details>` section where each person gets one line: its id, whether it is new, how many of
the name's mentions it takes, how many ids were added and its cluster confidence (marked
**check** below 0.5), then the evidence `resolve` recorded for its cluster in `proposals.json` (top
coauthors, years, venues, affiliations, two papers linked), which is what tells a reviewer
why the persons are separate; the heading shows the name as the Anthology does. Then the
name-variant merges as a table, and notes. A pull-request body holds 65,536 characters: the
body stops before 60,000 and the full text goes to a file beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from pipeline.export.decisions import renamed
from pipeline.export.entries import ExportPlan, PersonChange

TOP = 3
EXAMPLES = 2  # papers linked per person
CHECK_BELOW = 0.5  # a person whose cluster confidence is lower is marked for checking

SUMMARY_HEADER = "# Author disambiguation"  # first line of every summary


def evidence_of(proposals: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Evidence per person id, from the `splits` of `proposals.json` (`read_proposals`)."""
    evidence: dict[str, dict[str, Any]] = {}
    splits = proposals.get("splits", [])
    for name in splits if isinstance(splits, list) else []:
        for cluster in name.get("clusters", []) if isinstance(name, dict) else []:
            if (isinstance(cluster, dict) and cluster.get("person")
                    and cluster.get("status") != "unresolved"
                    and isinstance(cluster.get("evidence"), dict)):
                papers = cluster.get("papers")
                examples = [p for p in papers if isinstance(p, dict) and p.get("link")
                            ][:EXAMPLES] if isinstance(papers, list) else []
                evidence.setdefault(str(cluster["person"]),
                                    {**cluster["evidence"], "examples": examples,
                                     "confidence": cluster.get("confidence")})
    return evidence


def evidence_after_decisions(evidence: dict[str, dict[str, Any]],
                             moved: dict[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    """`evidence` (per person id) after a curator's decisions (`moved`, from
    `decisions.moved_persons`): a person renamed as a whole takes its evidence to the new id
    (also when two persons swap ids); a person whose mentions all went elsewhere keeps none,
    since its cluster is not the group that id now names."""
    after = {pid: found for pid, found in evidence.items() if pid not in moved}
    for pid, target in sorted(renamed(moved).items()):
        if pid in evidence and (target in moved or target not in evidence):
            after[target] = evidence[pid]
    return after


def display_names(proposals: dict[str, Any]) -> dict[str, str]:
    """The name as the Anthology shows it, per split name slug (`proposals.json`)."""
    splits = proposals.get("splits", [])
    return {str(name["name"]): str(name["display"])
            for name in (splits if isinstance(splits, list) else [])
            if isinstance(name, dict) and name.get("name") and name.get("display")}


def _counted(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{i['value']} ({i['count']})" for i in items[:TOP])


def _evidence_line(evidence: dict[str, Any]) -> str:
    parts = []
    if evidence.get("years"):
        first, last = evidence["years"]
        parts.append(f"{first}" if first == last else f"{first}-{last}")
    for key, label in (("coauthors", "with"), ("venues", "at"), ("affiliations", "affiliation")):
        if evidence.get(key):
            parts.append(f"{label} {_counted(evidence[key])}")
    examples = [f"[{_short(str(p.get('title') or p.get('paper')))}]({p['link']})"
                for p in evidence.get("examples", [])]
    if examples:
        parts.append("e.g. " + ", ".join(examples))
    return "; ".join(parts)


def _short(title: str, limit: int = 60) -> str:
    title = title.replace("[", "(").replace("]", ")")
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


# GitHub's pull-request body holds 65,536 characters; the rest goes to the attached file.
BODY_LIMIT = 60_000


@dataclass(frozen=True)
class Summary:
    body: str  # fits a pull-request description (at most BODY_LIMIT characters)
    full: str  # everything, for the file attached beside it
    truncated: bool


def _name_section(slug: str, people: list[PersonChange], evidence: dict[str, dict[str, Any]],
                  display: str | None) -> list[str]:
    shown = display or min((n for p in people for n in p.names),
                           key=lambda n: (not n.isascii(), n), default=slug)
    persons = sum(p.status != "catch-all" for p in people)
    added = sum(p.ids_added for p in people)
    lines = [f"<details><summary><b>{escape(shown)}</b> (<code>{slug}</code>): {persons} "
             f"person{'s' if persons != 1 else ''}, {added} id{'s' if added != 1 else ''} "
             "added</summary>", ""]
    for person in sorted(people, key=lambda p: (p.status == "catch-all", -p.mentions,
                                                p.person)):
        confidence = evidence.get(person.person, {}).get("confidence")
        sure = ""
        if isinstance(confidence, int | float) and person.status != "catch-all":
            sure = f", confidence {confidence:.2f}" + (
                " **check**" if confidence < CHECK_BELOW else "")
        head = (f"- `{person.person}` ({person.status}): {person.mentions} mention"
                f"{'s' if person.mentions != 1 else ''}, {person.ids_added} id"
                f"{'s' if person.ids_added != 1 else ''} added{sure}")
        why = _evidence_line(evidence.get(person.person, {}))
        if person.status == "catch-all":
            why = "not enough evidence to attribute these to one person"
        lines.append(f"{head}{': ' + why if why else ''}")
    return lines + ["", "</details>", ""]


def _doubt(people: list[PersonChange], evidence: dict[str, dict[str, Any]]) -> float:
    """Expected misplaced mentions: mentions x (1 - cluster confidence), over the persons
    with a confidence (catch-alls count whole: nobody has decided them)."""
    total = 0.0
    for person in people:
        confidence = evidence.get(person.person, {}).get("confidence")
        if person.status == "catch-all":
            total += person.mentions
        elif isinstance(confidence, int | float):
            total += person.mentions * (1.0 - confidence)
    return total


def _merge_rows(plan: ExportPlan) -> list[str]:
    """Merges into registry persons first (they change curated entries), then the rest."""
    ordered = sorted(plan.merges, key=lambda m: (m.status != "existing", m.person))
    return [f"| `{merge.person}` | {merge.status} | "
            f"{escape(' / '.join(str(n) for n in merge.names))} | {len(merge.rows)} | "
            f"{merge.confidence:.3f} |" for merge in ordered]


def render_summary(plan: ExportPlan, evidence: dict[str, dict[str, Any]],
                   full_name: str = "the full summary",
                   display: dict[str, str] | None = None) -> Summary:
    """The summary: a table of counts, then per split name a collapsible section, the
    name-variant merges as a table, and the notes. The body stops before BODY_LIMIT
    characters and points to `full_name`, which holds everything."""
    counts = plan.counts
    head = [f"{SUMMARY_HEADER} ({plan.format} format)", "",
            "| what | count |", "|---|---|",
            f"| names split | {counts['names changed']:,} |",
            f"| new persons | {counts['new persons']:,} |",
            f"| `id` attributes added | {counts['ids added in all']:,} |",
            f"| mentions left to a catch-all | {counts['mentions left to a catch-all']:,} |",
            f"| name-variant merges applied | {counts['variant merges applied']:,} |",
            f"| merges left to a curator | {counts['variant merges left to a curator']:,} |",
            "", "Generated by `anthology-resolve export`; every specific id already in the "
            "XML is unchanged, and catch-all ids are replaced only where the resolution names "
            f"a person ({counts.get('catch-all ids replaced', 0):,} here).", ""]
    display = display or {}
    # Names whose persons are all registry persons only get ids: nothing to decide there.
    settled = sorted(slug for slug, people in plan.by_name.items()
                     if all(p.status == "existing" for p in people))
    # Names a curator most needs to check come first: most mentions in doubt.
    ordered = sorted((slug for slug in plan.by_name if slug not in settled),
                     key=lambda slug: (-_doubt(plan.by_name[slug], evidence), slug))
    names: list[list[str]] = [_name_section(slug, plan.by_name[slug], evidence,
                                            display.get(slug)) for slug in ordered]
    if settled:
        names.insert(0, [f"Ids added for registry persons only, nothing to decide "
                         f"({len(settled):,} names): "
                         + ", ".join(f"`{slug}`" for slug in settled), ""])
    merges = [[row] for row in _merge_rows(plan)]
    notes = [[f"- {note}"] for note in plan.notes]
    count = len(plan.merges)
    parts = [
        (["## Names split", ""], names, []),
        ([f"## Name variants merged ({count:,} person{'s' if count != 1 else ''})", "",
          "| person | status | names | mentions | confidence |", "|---|---|---|---|---|"],
         merges, [""]),
        (["## Notes", ""], notes, [""]),
    ]
    full = list(head)
    for title, items, tail in parts:
        if items:
            full += title + [line for item in items for line in item] + tail
    if len("\n".join(full)) <= BODY_LIMIT:
        text = "\n".join(full)
        return Summary(text, text, False)
    # Each part gets a share of the body, so a long list of names leaves room for the
    # merges and the notes; what does not fit is counted and left to the full file.
    budget = BODY_LIMIT - len("\n".join(head)) - 600
    shares = (0.55, 0.35, 0.10)
    body = list(head)
    left_out = 0
    for (title, items, tail), share in zip(parts, shares):
        if not items:
            continue
        room = int(budget * share) - len("\n".join(title + tail))
        kept = 0
        for item in items:
            size = len("\n".join(item)) + 1
            if size > room:
                break
            room -= size
            kept += 1
        body += title + [line for item in items[:kept] for line in item]
        if kept < len(items):
            body.append(f"*… {len(items) - kept:,} more in {full_name}*")
            left_out += len(items) - kept
        body += tail
    body += ["", f"**Shortened to fit a pull-request description**: {left_out:,} more "
             f"sections and rows are in {full_name}, attached.", ""]
    return Summary("\n".join(body), "\n".join(full), True)
