"""The words of every paper (title and abstract) as TF-IDF vectors, cached between runs.

One model over all papers of the snapshot, so a paper's vector never depends on which names
a run looks at. Fitting it is the slowest step of a warm run (about 10 s for 110k papers),
so the result is stored under the cache directory, keyed by a hash of the paper ids, titles
and abstracts, and loaded (well under a second) while they are unchanged. With or without
the cache the matrix is the same, so outputs are too.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.anthology.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_VERSION = "paper-text-v1"


@dataclass(frozen=True)
class PaperText:
    vectors: sp.csr_matrix  # paper x term, rows L2-normalised (zero where no words)
    terms: np.ndarray  # column names


def _texts(papers: pd.DataFrame) -> np.ndarray:
    return (papers["title"].fillna("") + " " + papers["abstract"].fillna("")).to_numpy()


def _digest(papers: pd.DataFrame, texts: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for paper, text in zip(papers["paper"].tolist(), texts.tolist()):
        digest.update(f"{paper}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def fit_paper_text(texts: np.ndarray) -> PaperText:
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2,
                                 max_df=0.5, dtype=np.float32)
    try:
        vectors = sp.csr_matrix(vectorizer.fit_transform(texts))
        terms = np.asarray(vectorizer.get_feature_names_out(), dtype=object)
    except ValueError:  # no term survives min_df/max_df (tiny inputs)
        vectors = sp.csr_matrix((len(texts), 1), dtype=np.float32)
        terms = np.array(["?"], dtype=object)
    return PaperText(normalize(vectors).tocsr(), terms)


def paper_text(papers: pd.DataFrame, cache_dir: Path | None) -> PaperText:
    """TF-IDF vectors of every paper, from the cache when the papers are unchanged."""
    texts = _texts(papers)
    if cache_dir is None:
        return fit_paper_text(texts)
    directory = cache_dir / CACHE_VERSION
    digest = _digest(papers, texts)
    matrix_path, terms_path = directory / "vectors.npz", directory / "terms.json"
    try:
        stored = json.loads(terms_path.read_text(encoding="utf-8"))
        if stored["digest"] == digest:
            vectors = sp.load_npz(matrix_path).tocsr()
            if vectors.shape == (len(papers), len(stored["terms"])):
                return PaperText(vectors, np.asarray(stored["terms"], dtype=object))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # nothing to reuse, or unreadable: fit again
    model = fit_paper_text(texts)
    buffer = io.BytesIO()
    sp.save_npz(buffer, model.vectors)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # The terms (with the digest) go last: a crash in between leaves no match.
        atomic_write_bytes(matrix_path, buffer.getvalue())
        atomic_write_bytes(terms_path, json.dumps(
            {"digest": digest, "terms": model.terms.tolist()}).encode("utf-8"))
        log.debug("cached paper text vectors in %s", directory)
    except OSError as error:
        log.warning("could not cache paper text vectors in %s: %s", directory, error)
    return model
