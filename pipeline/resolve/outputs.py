"""Write what `resolve` produced: `assignments.csv`, `proposals.json`, a run summary.

`proposals.json` holds `splits` (per name split into 2+ clusters: its clusters, persons and
evidence) and `variants` (persons of several names to merge, and `similar` links).

Both files are sorted and byte-for-byte deterministic for the same input and settings, and
written atomically.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.atomic import atomic_write_text
from pipeline.anthology.snapshot import Snapshot
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.run import Resolution

ASSIGNMENT_COLUMNS = ["paper", "role", "position", "first", "last", "person", "status", "cluster",
                      "confidence"]
TOP = 5


def assignments_csv(resolution: Resolution) -> str:
    buffer = io.StringIO()
    resolution.assignments[ASSIGNMENT_COLUMNS].to_csv(buffer, index=False, float_format="%.4f",
                                                      lineterminator="\n")
    return buffer.getvalue()


def _top(counter: Counter[str], n: int = TOP) -> list[dict[str, Any]]:
    return [{"value": k, "count": c}
            for k, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def proposals(resolution: Resolution, snapshot: Snapshot) -> list[dict[str, Any]]:
    """Per name split into 2+ clusters: its clusters, ids, confidence and evidence."""
    table = resolution.clusters
    split_names = sorted(table.groupby("name").filter(lambda g: len(g) > 1)["name"].unique())
    assignments = resolution.assignments
    assignments = assignments.assign(name=assignments["cluster"].str.rsplit("#", n=1).str[0])
    assignments = assignments[assignments["name"].isin(split_names)]
    mentions = snapshot.mentions
    assignments = assignments.merge(
        mentions[["paper", "role", "position", "year", "venues", "affiliation"]],
        on=["paper", "role", "position"], how="left", validate="one_to_one")
    relevant = mentions[mentions["paper"].isin(set(assignments["paper"]))]
    given = relevant["first"].where(relevant["first"] == "", relevant["first"] + " ")
    coauthor_names: dict[str, list[tuple[str, str]]] = {}
    for paper, slug, name in zip(relevant["paper"], relevant["slug"], given + relevant["last"]):
        coauthor_names.setdefault(paper, []).append((slug, name))
    papers = snapshot.papers.set_index("paper")
    context = resolution.context
    info_of = table.set_index("cluster")
    out = []
    for slug, rows in assignments.groupby("name", sort=True):
        clusters: list[dict[str, Any]] = []
        for cluster, members in rows.groupby("cluster", sort=True):
            info = info_of.loc[cluster]
            coauthors: Counter[str] = Counter()
            for paper in members["paper"]:
                for other_slug, display in coauthor_names.get(paper, []):
                    if other_slug != slug:
                        coauthors[display] += 1
            years = members["year"].dropna()
            clusters.append({
                "cluster": cluster,
                "person": info["person"],
                "status": info["status"],
                "confidence": round(float(members["confidence"].mean()), 4),
                "papers": sorted(set(members["paper"])),
                "evidence": {
                    "coauthors": _top(coauthors),
                    "venues": _top(Counter(v for vs in members["venues"] for v in
                                           str(vs).split("|") if v)),
                    "years": [int(years.min()), int(years.max())] if len(years) else [],
                    "affiliations": _top(Counter(members["affiliation"].dropna())),
                    "topic_terms": _topic_terms(context, members["paper"], papers),
                },
            })
        clusters.sort(key=lambda c: (-len(c["papers"]), c["cluster"]))
        out.append({"name": str(slug),
                    "ambiguity": round(float(resolution.ambiguity.get(slug, 0.0)), 4),
                    "clusters": clusters})
    return out


def variant_proposals(resolution: Resolution) -> dict[str, Any]:
    """Persons to merge across names (each with its canonical name, name strings and the
    links that join it) and `similar` links, from `variants.py`."""
    variants = resolution.variants
    if variants is None:
        return {"merges": [], "similar": [], "model": {}}
    return {"merges": variants.merges(), "similar": variants.similar(),
            "model": variants.model}


def _topic_terms(context: EvidenceContext | None, paper_ids: pd.Series, papers: pd.DataFrame
                 ) -> list[str]:
    """The heaviest TF-IDF terms of the cluster's papers."""
    if context is None:
        return []
    positions = papers.index.get_indexer(pd.Index(sorted(set(paper_ids))))
    positions = positions[positions >= 0]
    if len(positions) == 0:
        return []
    weights = np.asarray(context.paper_text[positions].sum(axis=0)).ravel()
    if not weights.any():
        return []
    best = np.argsort(-weights, kind="stable")[:TOP]
    return [str(context.terms[i]) for i in best if weights[i] > 0]


def ambiguity_csv(resolution: Resolution) -> str:
    """Every name with 2+ mentions ranked by ambiguity score (then slug), with its features."""
    table = resolution.name_features.assign(score=resolution.ambiguity.round(4))
    table = table[table["mentions"] >= 2]
    table = table.rename_axis("name").reset_index()
    table = table.sort_values(["score", "name"], ascending=[False, True], kind="stable")
    columns = ["name", "score", "mentions", "commonness", "components", "years", "venues",
               "registry_persons", "catch_all"]
    buffer = io.StringIO()
    table[columns].to_csv(buffer, index=False, float_format="%.4f", lineterminator="\n")
    return buffer.getvalue()


def write_outputs(resolution: Resolution, snapshot: Snapshot, out_dir: Path) -> list[Path]:
    """Write the outputs; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / "assignments.csv"
    atomic_write_text(path, assignments_csv(resolution))
    written.append(path)
    path = out_dir / "ambiguity.csv"
    atomic_write_text(path, ambiguity_csv(resolution))
    written.append(path)
    path = out_dir / "proposals.json"
    document = {"splits": proposals(resolution, snapshot),
                "variants": variant_proposals(resolution)}
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False,
                                       sort_keys=True) + "\n")
    written.append(path)
    return written
