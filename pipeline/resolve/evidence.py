"""Pairwise evidence that two mentions of one name are the same person.

`EvidenceContext` is built once per snapshot from the mention and paper tables (names only:
it never reads ids or ORCIDs, so blinded evaluation sees what a new paper would show). For a
block (the mentions of one name) `pair_features` returns one row of features per mention pair:

- shared coauthors, weighted by how rare each coauthor name is (inverse document frequency);
- coauthor-of-coauthor overlap: cosine of the mentions' two-hop name vectors through the
  name-name coauthorship graph (the name layer of the heterogeneous graph);
- affiliation similarity (TF-IDF of character n-grams), and whether both mentions have one;
- title and abstract similarity (TF-IDF of words);
- venue overlap and distance in years;
- a prior of the name: how common it is (`ambiguity.name_commonness`): the more common its
  given and family names, the likelier it is shared. (The block's size was tried as a second
  prior and lowered multi-identity B3 F1 from 0.845 to 0.825, so it is not used.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.resolve.authorship import Authorship
from pipeline.resolve.evidence_kinds import EVIDENCE_KINDS, FEATURE_NAMES
from pipeline.resolve.paper_text import PaperText, paper_text


def without_evidence(features: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """`features` with the columns of the given evidence kinds set to zero: a constant
    column tells a model nothing, so this removes the kinds from what it can learn and use."""
    if not kinds:
        return features
    unknown = sorted(set(kinds) - set(EVIDENCE_KINDS))
    if unknown:
        raise ValueError(f"unknown evidence kind(s): {', '.join(unknown)} "
                         f"(known: {', '.join(EVIDENCE_KINDS)})")
    out = features.copy()
    for kind in kinds:
        for name in EVIDENCE_KINDS[kind]:
            out[:, FEATURE_NAMES.index(name)] = 0.0
    return out


@dataclass(frozen=True)
class MentionVectors:
    """Per-mention sparse vectors (rows aligned with `rows`, mention row positions)."""

    rows: np.ndarray
    coauthor: sp.csr_matrix
    weighted_coauthor: sp.csr_matrix
    two_hop: sp.csr_matrix
    text: sp.csr_matrix


@dataclass
class EvidenceContext:
    """Snapshot-wide lookups that pair features need, indexed by mention row position."""

    authorship: Authorship  # mention -> paper/name, paper x name incidence, coauthorship
    mention_year: np.ndarray  # year (or -1)
    mention_affiliation: np.ndarray  # affiliation code (-1 if none)
    venue_incidence: sp.csr_matrix  # mention x venue, ones
    slug_idf: np.ndarray
    paper_text: sp.csr_matrix  # paper x term TF-IDF, rows L2-normalised
    affiliation_vectors: sp.csr_matrix  # affiliation x char-ngram TF-IDF, L2-normalised
    terms: np.ndarray  # the text model's vocabulary (column names of paper_text)
    term_idf: np.ndarray  # its inverse document frequencies
    affiliation_model: TfidfVectorizer | None  # None: no mention in focus had one

    @classmethod
    def build(cls, mentions: pd.DataFrame, papers: pd.DataFrame, authorship: Authorship,
              focus: np.ndarray | None = None, cache_dir: Path | None = None,
              text: PaperText | None = None, affiliation_model: TfidfVectorizer | None = None,
              also: np.ndarray | None = None) -> EvidenceContext:
        """`mentions`: the mention rows to work on; `papers`: the paper table;
        `authorship`: their shared authorship matrices.

        `focus` (mention row positions): the mentions that will be compared; only they need
        affiliation vectors (the vectorizer learns from every mention's affiliation:
        `fitted_affiliation_model`). The text model covers every paper (`paper_text.py`,
        cached in `cache_dir`) unless `text` is given. `affiliation_model`: a fitted
        affiliation vectorizer to reuse (the nightly job keeps it) instead of fitting one.
        `also` (mention row positions): more mentions that need affiliation vectors (pooled
        with the focus: a person's mentions under its other names); the focus's codes and
        vectors are the same to the bit with or without them.
        """
        n_papers = len(papers)
        docs_per_slug = np.asarray(authorship.incidence.sum(axis=0)).ravel()
        slug_idf = np.log((1 + n_papers) / (1 + docs_per_slug)) + 1.0
        text_model = text if text is not None else paper_text(papers, cache_dir)

        affiliations = mentions["affiliation"]
        extra = None
        if focus is not None:  # only the mentions being compared need affiliation vectors
            in_focus = np.zeros(len(mentions), dtype=bool)
            in_focus[focus] = True
            if also is not None and len(also):
                extra = np.zeros(len(mentions), dtype=bool)
                extra[also] = True
                extra &= ~in_focus & affiliations.notna().to_numpy()
            affiliations = affiliations.where(in_focus)
        aff_cat = pd.Categorical(affiliations.where(affiliations.notna(), None))
        mention_affiliation = np.array(aff_cat.codes, dtype=np.int64)  # written below
        aff_texts = [str(x).lower() for x in aff_cat.categories]
        if affiliation_model is not None and aff_texts:
            affiliation_vectors = normalize(affiliation_model.transform(aff_texts)).tocsr()
        elif affiliation_model is not None:  # a kept model, and no mention with one tonight
            affiliation_vectors = sp.csr_matrix(
                (0, len(affiliation_model.get_feature_names_out())), dtype=np.float32)
        elif aff_texts:
            affiliation_model = fitted_affiliation_model(mentions["affiliation"])
            affiliation_vectors = normalize(affiliation_model.transform(aff_texts)).tocsr()
        else:
            affiliation_vectors = sp.csr_matrix((0, 1), dtype=np.float32)
        if extra is not None and extra.any() and affiliation_model is not None:
            # Appended after the focus's own strings, so that their codes and vectors (and
            # every product of them) stay as without `also`.
            strings = mentions["affiliation"].to_numpy(dtype=object)[extra]
            known = pd.Index(aff_cat.categories).get_indexer(strings)
            new_strings = pd.unique(strings[known < 0])
            new_codes = len(aff_texts) + pd.Index(new_strings).get_indexer(strings)
            mention_affiliation[np.flatnonzero(extra)] = np.where(known >= 0, known, new_codes)
            if len(new_strings):
                affiliation_vectors = sp.vstack([affiliation_vectors, normalize(
                    affiliation_model.transform([str(x).lower() for x in new_strings]))
                ]).tocsr()

        years = mentions["year"]
        mention_year = years.fillna(-1).astype(np.int64).to_numpy()
        venue_sets = {v: frozenset(v.split("|")) if v else frozenset()
                      for v in mentions["venues"].unique()}
        return cls(authorship, mention_year, mention_affiliation,
                   _incidence(mentions["venues"], venue_sets), slug_idf,
                   text_model.vectors, affiliation_vectors, text_model.terms, text_model.idf,
                   affiliation_model)

    def mention_vectors(self, rows: np.ndarray, representative: np.ndarray | None = None
                        ) -> MentionVectors:
        """Sparse evidence vectors of the mentions at `rows`, computed in one batch.

        Each mention's own name is removed from its coauthor and two-hop vectors (a name is
        not its own coauthor); this is what the per-block similarities are built from.
        `representative` (per name slug, the slug standing for its person as a coauthor,
        `coauthor_identity.CoauthorIdentity`): the names of one person count as one coauthor,
        in the two-hop vectors too (a coauthor's coauthors under all its names), and the
        mention's own person is removed instead of its name.
        """
        authorship = self.authorship
        papers = authorship.mention_paper[rows]
        valid = papers >= 0
        own = authorship.mention_slug[rows]
        coauthor = _without_own(
            _scale_rows(authorship.incidence[np.where(valid, papers, 0)], valid), own)
        coauthorship = authorship.coauthorship
        if representative is not None:
            coauthor, own, coauthorship = _as_persons(coauthor, own, coauthorship,
                                                      representative)
        # Two-hop vectors hold tens of millions of entries: changed in place, not copied.
        # coauthor @ (coauthorship + 3 I) = coauthor @ coauthorship + 3 coauthor (whole
        # numbers, so the same; a row's entries may come in another order) in one product,
        # a quarter of the time the product and the sum took.
        two_hop = _without_own((coauthor @ _plus_diagonal(coauthorship, 3.0)).tocsr(), own)
        np.log1p(two_hop.data, out=two_hop.data)
        two_hop.data *= self.slug_idf[two_hop.indices].astype(two_hop.dtype)
        two_hop.eliminate_zeros()
        two_hop = normalize(two_hop).tocsr()
        text = _scale_rows(self.paper_text[np.where(valid, papers, 0)], valid)
        return MentionVectors(
            rows=np.asarray(rows), coauthor=coauthor,
            weighted_coauthor=_scale_columns(coauthor, self.slug_idf), two_hop=two_hop,
            text=text)

    def similarities(self, vectors: MentionVectors, start: int, stop: int,
                     left: np.ndarray | None = None, right: np.ndarray | None = None
                     ) -> dict[str, np.ndarray]:
        """Dense matrices of each feature (but the name prior) for `vectors[start:stop]`:
        entry (a, b) compares the `left[a]`-th and the `right[b]`-th of them (default: all,
        a square matrix). Each entry is computed as in the square matrix, to the bit.

        Callers batch several small blocks into one slice and cut each block's square out
        of the result: one sparse product per batch instead of per name.
        """
        def pick(matrix: Any, index: np.ndarray | None) -> Any:
            """Rows `index` of the slice (the slice itself, not a copy, for all of them)."""
            part = matrix[start:stop]
            return part if index is None else part[index]

        left_rows, right_rows = pick(vectors.rows, left), pick(vectors.rows, right)
        coauthor_right = pick(vectors.coauthor, right)
        shared_idf = (pick(vectors.weighted_coauthor, left) @ coauthor_right.T).toarray()
        shared_count = (pick(vectors.coauthor, left) @ coauthor_right.T).toarray()
        two_hop_cos = (pick(vectors.two_hop, left) @ pick(vectors.two_hop, right).T).toarray()
        text_cos = (pick(vectors.text, left) @ pick(vectors.text, right).T).toarray()

        shape = (len(left_rows), len(right_rows))
        left_codes = self.mention_affiliation[left_rows]
        right_codes = self.mention_affiliation[right_rows]
        left_has, right_has = left_codes >= 0, right_codes >= 0
        if left_has.any() and right_has.any():
            left_aff = self.affiliation_vectors[np.where(left_has, left_codes, 0)]
            right_aff = self.affiliation_vectors[np.where(right_has, right_codes, 0)]
            aff_cos = (left_aff @ right_aff.T).toarray()
            both = np.outer(left_has, right_has)
            aff_cos = np.where(both, aff_cos, 0.0)
        else:
            both = np.zeros(shape, dtype=bool)
            aff_cos = np.zeros(shape)

        left_venues = self.venue_incidence[left_rows]
        right_venues = self.venue_incidence[right_rows]
        if left_venues.nnz and right_venues.nnz:
            inter = (left_venues @ right_venues.T).toarray()
            union = (np.diff(left_venues.indptr).astype(np.float64)[:, None]
                     + np.diff(right_venues.indptr).astype(np.float64)[None, :] - inter)
            venue_j = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        else:
            venue_j = np.zeros(shape)

        left_years = self.mention_year[left_rows].astype(float)
        right_years = self.mention_year[right_rows].astype(float)
        gap = np.abs(left_years[:, None] - right_years[None, :])
        gap = np.where((left_years[:, None] < 0) | (right_years[None, :] < 0), 10.0, gap)
        return {
            "shared_coauthors_idf": shared_idf,
            "shared_coauthor_count": shared_count,
            "two_hop_cosine": two_hop_cos,
            "affiliation_cosine": aff_cos,
            "both_affiliations": both.astype(float),
            "text_cosine": text_cos,
            "venue_jaccard": venue_j,
            "year_gap": np.minimum(gap, 30.0),
        }


def fitted_affiliation_model(affiliations: pd.Series) -> TfidfVectorizer:
    """The affiliation vectorizer (character 3- and 4-grams, TF-IDF), fitted on every
    affiliation string of the snapshot, not only on the compared mentions': fitted on those,
    one variant candidate more or less changed every affiliation vector, and through the
    models learnt on them, clusters of unrelated names."""
    texts = sorted({str(x).lower() for x in affiliations.dropna().unique()})
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True,
                           dtype=np.float32).fit(texts)


def _incidence(values: pd.Series, sets: dict[str, frozenset[str]]) -> sp.csr_matrix:
    """Row i holds a one in the column of each member of `sets[values[i]]`."""
    columns = {member: k for k, member in enumerate(sorted(set().union(*sets.values())))}
    by_value = sp.csr_matrix(
        (np.ones(sum(len(members) for members in sets.values())),
         ([row for row, members in enumerate(sets.values()) for _ in members],
          [columns[member] for members in sets.values() for member in members])),
        shape=(len(sets), len(columns)))
    rows = pd.Index(list(sets)).get_indexer(pd.Index(values))  # a loop took 0.5 s
    if (rows < 0).any():
        raise KeyError(f"no set given for {values[rows < 0].iloc[0]!r}")
    return by_value[rows].tocsr()


def _without_own(matrix: sp.csr_matrix, own: np.ndarray) -> sp.csr_matrix:
    """`matrix` (changed in place) without the entry of each row i in column `own[i]`."""
    row_of_entry = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    matrix.data[matrix.indices == own[row_of_entry]] = 0
    matrix.eliminate_zeros()
    return matrix


def _as_persons(coauthor: sp.csr_matrix, own: np.ndarray, coauthorship: sp.csr_matrix,
                representative: np.ndarray
                ) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """The coauthor vectors, each row's own name and the name-name coauthorship graph with
    every name's column (and row) added into its person's (`representative`): each row
    without its own person, the graph without loops."""
    n = len(representative)
    onto = sp.csr_matrix((np.ones(n), (np.arange(n), representative)), shape=(n, n))
    own = representative[own]
    coauthor = _without_own((coauthor @ onto).tocsr(), own)
    coauthor.data[:] = 1.0
    graph = (onto.T @ coauthorship @ onto).tocsr()
    graph.setdiag(0)
    graph.eliminate_zeros()
    return coauthor, own, graph


def _plus_diagonal(matrix: sp.csr_matrix, value: float) -> sp.csr_matrix:
    """A square `matrix` plus `value` times the identity."""
    return sp.csr_matrix(matrix + value * sp.identity(matrix.shape[0], format="csr"))


def _scale_rows(matrix: sp.csr_matrix, factors: np.ndarray) -> sp.csr_matrix:
    """Each row times its factor (a cheap diagonal product), zeros dropped."""
    out = sp.csr_matrix(matrix, copy=True)
    out.data = out.data * np.repeat(factors.astype(out.dtype), np.diff(out.indptr))
    out.eliminate_zeros()
    return out


def _scale_columns(matrix: sp.csr_matrix, factors: np.ndarray) -> sp.csr_matrix:
    """Each column times its factor, zeros dropped."""
    out = sp.csr_matrix(matrix, copy=True)
    out.data = out.data * factors[out.indices].astype(out.dtype)
    out.eliminate_zeros()
    return out


def pair_matrix(similarities: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray,
                commonness: float) -> np.ndarray:
    """Feature rows (in FEATURE_NAMES order) for the pairs (i[k], j[k]), model-ready."""
    columns = []
    for name in FEATURE_NAMES:
        if name == "name_commonness":
            columns.append(np.full(len(i), commonness))
            continue
        values = similarities[name][i, j]
        if name in ("shared_coauthors_idf", "shared_coauthor_count"):
            values = np.log1p(values)
        columns.append(values)
    return np.column_stack(columns).astype(np.float64)
