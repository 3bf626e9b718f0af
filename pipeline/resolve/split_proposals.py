"""The `splits` of `proposals.json`: per name split into 2+ clusters, what a curator reads.

Per name: the name as the Anthology shows it, its ambiguity score and its clusters. Per
cluster: its person and status (`persons.py`), one `confidence` (`placement.py` says what it
estimates), the evidence that holds it together (top coauthors, venues, years, affiliations,
topic terms), and its papers. Per paper: title, year, venue, role, the name as written, a
link to the Anthology, whether a curated id or ORCID pins the mention (`pinned`), how well it
fits its cluster (`fit`), and its `nearest` other cluster with the `margin`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from pipeline.anthology.names import canonical_name
from pipeline.anthology.snapshot import Snapshot
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.stable_ids import name_of_cluster

TOP = 5
ANTHOLOGY_URL = "https://aclanthology.org/{}/"
VOLUME_URL = "https://aclanthology.org/volumes/{}/"
# Topic terms a reader can use: words of 3+ letters (the text model also keeps numbers and
# word pieces, which say nothing to a person).
READABLE_TERM = re.compile(r"[^\W\d_]{3,}(?: [^\W\d_]{3,})*")
GENERIC_TERMS = frozenset({"using", "based", "paper", "approach", "propose", "proposed",
                           "results", "show", "new", "use", "used", "work", "study", "method",
                           "methods", "present", "presents", "task", "tasks"})


def paper_link(paper: str, role: str = "author") -> str:
    """The paper's page in the ACL Anthology, or for an editor the volume's.

    >>> paper_link("2020.acl-main.1"), paper_link("2020.acl-main", "editor")
    ('https://aclanthology.org/2020.acl-main.1/', 'https://aclanthology.org/volumes/2020.acl-main/')
    """
    return (VOLUME_URL if role == "editor" else ANTHOLOGY_URL).format(paper)


def _top(counter: Counter[str], n: int = TOP) -> list[dict[str, Any]]:
    return [{"value": k, "count": c}
            for k, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def display_name(first: Iterable[object], last: Iterable[object]) -> str:
    """The name string the Anthology would show for mentions with these first and last
    names (a missing part, None or NaN, counts as empty).

    >>> display_name(["T.", "Tomasz", float("nan")], ["Zielinski", "Zielinski", "Zielinski"])
    'Tomasz Zielinski'
    """
    first_name, last_name = canonical_name(Counter(
        (f if isinstance(f, str) else "", n if isinstance(n, str) else "")
        for f, n in zip(first, last)))
    return f"{first_name} {last_name}".strip()


def _paper_details(snapshot: Snapshot, paper_ids: set[str]) -> pd.DataFrame:
    """Title, year and booktitle per item: papers by paper id, volumes (editors) by volume."""
    papers = snapshot.papers
    papers = papers[papers["paper"].isin(paper_ids)][["paper", "title", "volume_title"]]
    volumes = snapshot.volumes
    volumes = volumes[volumes["volume"].isin(paper_ids)]
    volumes = pd.DataFrame({"paper": volumes["volume"], "title": volumes["title"],
                            "volume_title": volumes["title"]})
    return pd.concat([papers, volumes]).drop_duplicates("paper").set_index("paper")


def _venue_label(venues: str, acronyms: dict[str, str]) -> str:
    return " / ".join(acronyms.get(v, v.upper()) for v in str(venues).split("|") if v)


def pinned_by(ids: pd.Series, orcids: pd.Series, catch_all: frozenset[str]) -> pd.Series:
    """Per mention: "id" where a specific (not catch-all) id pins it to a person, else
    "orcid" where an ORCID does, else None."""
    explicit = ids.notna() & ~ids.isin(catch_all)
    pinned = pd.Series([None] * len(ids), index=ids.index, dtype=object)
    pinned[orcids.notna()] = "orcid"
    pinned[explicit] = "id"
    return pinned


def split_proposals(table: pd.DataFrame, assignments: pd.DataFrame, ambiguity: pd.Series,
                    context: EvidenceContext | None, snapshot: Snapshot
                    ) -> list[dict[str, Any]]:
    """See the module docstring; names sorted by slug, clusters by size. From a
    resolution's cluster table, assignments, ambiguity scores and evidence context."""
    clusters_per_name = table["name"].value_counts()
    split_names = sorted(clusters_per_name.index[clusters_per_name > 1])
    assignments = assignments.assign(name=name_of_cluster(assignments["cluster"]))
    assignments = assignments[assignments["name"].isin(split_names)]
    mentions = snapshot.mentions
    assignments = assignments.merge(
        mentions[["paper", "role", "position", "year", "venues", "affiliation", "id", "orcid"]],
        on=["paper", "role", "position"], how="left", validate="one_to_one")
    assignments["pinned"] = pinned_by(assignments["id"], assignments["orcid"],
                                    snapshot.registry.catch_all_ids())
    paper_ids = set(assignments["paper"])
    details = _paper_details(snapshot, paper_ids)
    coauthor_names = snapshot.names_on(paper_ids)
    acronyms = snapshot.venue_acronyms()
    text_row = {paper: row for row, paper in enumerate(snapshot.papers["paper"].tolist())}
    info_of = table.set_index("cluster")[["person", "status"]].to_dict("index")
    papers_of = _papers(assignments, details, acronyms)
    # Plain arrays sliced by each group's positions: pandas per group cost most of the time.
    paper = assignments["paper"].to_numpy(dtype=object)
    year = assignments["year"].to_numpy(dtype=np.float64, na_value=np.nan)
    fixed_confidence = "cluster_confidence" in assignments
    confidence_values = assignments[
        "cluster_confidence" if fixed_confidence else "confidence"].to_numpy(dtype=np.float64)
    pinned = assignments["pinned"].notna().to_numpy()
    venues = assignments["venues"].to_numpy(dtype=object)
    affiliation = assignments["affiliation"].to_numpy(dtype=object)
    cluster_of = assignments["cluster"].to_numpy(dtype=object)
    first = assignments["first"].to_numpy(dtype=object)
    last = assignments["last"].to_numpy(dtype=object)
    by_cluster = assignments.groupby("cluster", sort=True).indices
    out = []
    for slug, name_rows in sorted(assignments.groupby("name").indices.items()):
        clusters: list[dict[str, Any]] = []
        for cluster in sorted(set(cluster_of[name_rows])):
            members = by_cluster[cluster]
            info = info_of[cluster]
            coauthors: Counter[str] = Counter()
            for paper_id in paper[members]:
                for other_slug, written in coauthor_names.get(paper_id, []):
                    if other_slug != slug:
                        coauthors[written] += 1
            years = year[members][~np.isnan(year[members])]
            confidence = (confidence_values[members[0]] if fixed_confidence
                          else confidence_values[members].sum() / len(members))
            clusters.append({
                "cluster": cluster,
                # Clusters of a name left unchanged have no person of their own.
                "person": info["person"] if isinstance(info["person"], str) else None,
                "status": info["status"],
                "confidence": round(float(confidence), 4),
                "size": len(members),
                "pinned": int(pinned[members].sum()),
                "papers": papers_of[str(cluster)],
                "evidence": {
                    "coauthors": _top(coauthors),
                    "venues": _top(Counter(_venue_label(v, acronyms) for vs in venues[members]
                                           for v in str(vs).split("|") if v)),
                    "years": [int(years.min()), int(years.max())] if len(years) else [],
                    "affiliations": _top(Counter(a for a in affiliation[members]
                                                 if isinstance(a, str))),
                    "topic_terms": _topic_terms(context, paper[members], text_row),
                },
            })
        clusters.sort(key=lambda c: (-c["size"], c["cluster"]))
        out.append({"name": str(slug), "display": display_name(first[name_rows],
                                                                last[name_rows]),
                    "ambiguity": round(float(ambiguity.get(slug, 0.0)), 4),
                    "clusters": clusters})
    return out


def _papers(assignments: pd.DataFrame, details: pd.DataFrame, acronyms: dict[str, str]
            ) -> dict[str, list[dict[str, Any]]]:
    """Per cluster: one record per mention, newest first (built for all clusters at once:
    per-cluster sorting and lookups took most of the time of writing the proposals)."""
    ordered = assignments.assign(year_key=assignments["year"].fillna(0)).sort_values(
        ["cluster", "year_key", "paper", "role", "position"],
        ascending=[True, False, True, True, True], kind="stable")
    keys = pd.Index(ordered["paper"])
    titles = details["title"].reindex(keys).fillna("").astype(str).tolist()
    booktitles = details["volume_title"].reindex(keys).fillna("").astype(str).tolist()
    has_placement = "nearest" in ordered
    columns = ["paper", "year", "venues", "role", "position", "first", "last", "pinned", "id",
               "orcid", "confidence", "cluster", *(["nearest", "margin"] if has_placement
                                                   else [])]
    # Plain Python values per column (missing ones None, but for the scores, which are
    # never missing), zipped: a DataFrame's records took twice as long.
    values = [ordered[c].tolist() if c in ("confidence", "margin")
              else ordered[c].astype(object).where(ordered[c].notna(), None).tolist()
              for c in columns]
    out: dict[str, list[dict[str, Any]]] = {}
    for title, booktitle, row in zip(titles, booktitles, zip(*values)):
        (paper, year, venues, role, position, first, last, pinned, curated, orcid, fit,
         cluster) = row[:12]
        paper, role = str(paper), str(role)
        pinned = pinned if isinstance(pinned, str) else None
        record: dict[str, Any] = {
            "paper": paper, "title": title,
            "year": int(year) if year is not None else None,
            "venue": _venue_label(str(venues), acronyms) if venues is not None else "",
            "booktitle": booktitle,
            "role": role, "position": int(position),
            "as": f"{first or ''} {last or ''}".strip(),
            "link": paper_link(paper, role),
            "pinned": pinned,
            "curated_id": str(curated) if pinned == "id" else None,
            "orcid": str(orcid) if orcid is not None else None,
            "fit": round(float(fit), 4),
        }
        if has_placement:
            nearest, margin = row[12:]
            record["nearest"] = str(nearest) or None
            record["margin"] = round(float(margin), 4)
        out.setdefault(str(cluster), []).append(record)
    return out


def _topic_terms(context: EvidenceContext | None, paper_ids: Iterable[str],
                 text_row: dict[str, int]) -> list[str]:
    """The heaviest readable TF-IDF terms of the cluster's papers (`text_row`: each paper's
    row in the text matrix)."""
    if context is None:
        return []
    positions = np.array([text_row[p] for p in sorted(set(paper_ids)) if p in text_row],
                         dtype=np.intp)
    if len(positions) == 0:
        return []
    # Summed over the terms the papers use (a sort of the whole vocabulary per cluster
    # took a third of writing the proposals); ties go to the lower term index, as before.
    # The rows' entries are read from the CSR arrays directly, in the order slicing the
    # matrix gives (scipy's slicing cost more than the rest of this function).
    matrix = context.paper_text
    starts, ends = matrix.indptr[positions], matrix.indptr[positions + 1]
    entries = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    columns, inverse = np.unique(matrix.indices[entries], return_inverse=True)
    weights = np.bincount(inverse, weights=matrix.data[entries], minlength=len(columns))
    order = np.argsort(-weights, kind="stable")
    terms: list[str] = []
    for i in order[:200]:
        if weights[i] <= 0 or len(terms) == TOP:
            break
        term = str(context.terms[columns[i]])
        if READABLE_TERM.fullmatch(term) and term not in GENERIC_TERMS:
            terms.append(term)
    return terms
