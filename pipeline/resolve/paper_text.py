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
import zipfile
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.anthology.atomic import (
    NotItsContent,
    atomic_write_bytes,
    is_content_named,
    read_content_named,
    remove_content_named,
    write_content_named,
)
from pipeline.parallel import contiguous_chunks, forked_map

log = logging.getLogger(__name__)

CACHE_VERSION = "paper-text-v3"  # v2: the terms' inverse document frequencies are kept
# v3: the vectors' file is named by its content, and the terms file names it.
# From this many papers on, `papers_in_model` shares them out among forked workers.
MIN_FORKED_PAPERS = 2000


@dataclass(frozen=True)
class TextModel:
    """A fitted text model: its vocabulary and inverse document frequencies. The nightly job
    keeps it, so new papers get vectors in the same space without refitting on all papers."""

    terms: np.ndarray
    idf: np.ndarray

    def vectors(self, texts: np.ndarray) -> sp.csr_matrix:
        """Rows L2-normalised, exactly as fitting on a corpus with this vocabulary and
        these frequencies would give."""
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, dtype=np.float32,
                                     vocabulary=self.terms.tolist())
        vectorizer.idf_ = self.idf
        return normalize(sp.csr_matrix(vectorizer.transform(texts))).tocsr()


@dataclass(frozen=True)
class PaperText:
    vectors: sp.csr_matrix  # paper x term, rows L2-normalised (zero where no words)
    terms: np.ndarray  # column names
    idf: np.ndarray  # per term

    @property
    def model(self) -> TextModel:
        return TextModel(self.terms, self.idf)


class _StoredTerms(msgspec.Struct, forbid_unknown_fields=True):
    """`terms.json`: the papers' digest, the fitted model and the vectors' file."""

    digest: str
    terms: list[str]
    idf: list[float]
    vectors: str
    # Since session 19 (older files lack them): the papers fitted, in the vectors' row
    # order, and the file of their words' hashes (`papers_in_model` reuses their vectors).
    papers: list[str] | None = None
    hashes: str | None = None


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
        idf = np.asarray(vectorizer.idf_, dtype=np.float64)
    except ValueError:  # no term survives min_df/max_df (tiny inputs)
        vectors = sp.csr_matrix((len(texts), 1), dtype=np.float32)
        terms = np.array(["?"], dtype=object)
        idf = np.ones(1)
    return PaperText(normalize(vectors).tocsr(), terms, idf)


def papers_in_model(papers: pd.DataFrame, rows: np.ndarray, model: TextModel,
                    workers: int = 1, cache_dir: Path | None = None) -> PaperText:
    """Vectors of the papers at `rows` in a kept model's space; every other row is zero.
    What the nightly job uses: only the papers of the names it recomputes need words.
    `workers`: forked processes that share the papers out (a paper's vector depends on its
    own words only, so the result is the same with any number). `cache_dir`: where
    `paper_text` keeps the vectors of its last fit; when that fit is `model`, the papers it
    saw with the same words take their vectors from it (the same numbers: a vector depends
    only on the paper's words and the model) and only the others are vectorised."""
    # Only the columns read below: a take of every column cost 0.06-0.2 s, twice.
    chosen = papers[["paper", "title", "abstract"]].iloc[rows]
    texts = _texts(chosen)
    fitted = _cached_fit(cache_dir, model) if cache_dir is not None else None
    if fitted is not None:
        positions = fitted.lookup(chosen, texts)
        known = positions >= 0
        rows_known, rows_new = rows[known], rows[~known]
        reused = fitted.vectors[positions[known]].tocoo()
        texts = texts[~known]
    else:
        rows_known, rows_new = rows[:0], rows
        reused = sp.coo_matrix((0, len(model.terms)), dtype=np.float32)
    fresh = _vectorised(texts, model, workers)
    vectors = sp.csr_matrix(
        (np.concatenate([reused.data, fresh.data]),
         (np.concatenate([rows_known[reused.row], rows_new[fresh.row]]),
          np.concatenate([reused.col, fresh.col]))),
        shape=(len(papers), len(model.terms)), dtype=np.float32)
    return PaperText(vectors, model.terms, model.idf)


def _vectorised(texts: np.ndarray, model: TextModel, workers: int) -> sp.coo_matrix:
    """`model.vectors(texts)`, shared out among forked workers when there are many."""
    if len(texts) == 0:
        return sp.coo_matrix((0, len(model.terms)), dtype=np.float32)
    # Chunks of about equal text: recent papers have abstracts, old ones mostly do not.
    parts = contiguous_chunks([float(len(text)) for text in texts], workers) \
        if len(texts) >= MIN_FORKED_PAPERS else [range(len(texts))]
    with forked_map(lambda number: model.vectors(texts[parts[number].start:parts[number].stop]),
                    len(parts), workers) as results:
        return sp.vstack(list(results), format="csr").tocoo()


def _text_hashes(texts: np.ndarray) -> np.ndarray:
    """128 bits (two uint64) of each paper's words (BLAKE2b: five times faster here than
    pandas' hash_array)."""
    digests = b"".join(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
                       for text in texts.tolist())
    return np.frombuffer(digests, dtype=np.uint64).reshape(len(texts), 2)


@dataclass(frozen=True)
class _CachedFit:
    vectors: sp.csr_matrix
    papers: pd.Index  # the papers fitted, in the vectors' row order
    hashes: np.ndarray  # `_text_hashes` of their words

    def lookup(self, papers: pd.DataFrame, texts: np.ndarray) -> np.ndarray:
        """Per paper, its row in the cached vectors, or -1 where it was not fitted with
        these words."""
        positions = self.papers.get_indexer(pd.Index(papers["paper"].to_numpy(dtype=object)))
        found = positions >= 0
        same = np.zeros(len(positions), dtype=bool)
        same[found] = (self.hashes[positions[found]] == _text_hashes(texts[found])).all(axis=1)
        return np.where(same, positions, -1).astype(np.int64)


def _cached_fit(cache_dir: Path, model: TextModel) -> _CachedFit | None:
    """The vectors of the last fit `paper_text` cached, with its papers and their words'
    hashes, if that fit is `model` (the same terms and frequencies), else None."""
    directory = cache_dir / CACHE_VERSION
    try:
        stored = msgspec.json.decode((directory / "terms.json").read_bytes(), type=_StoredTerms)
        if stored.hashes is None or stored.papers is None or not (
                is_content_named(stored.vectors, "vectors", ".npz")
                and is_content_named(stored.hashes, "hashes", ".npy")
                and stored.terms == model.terms.tolist()
                and np.array_equal(np.asarray(stored.idf, dtype=np.float64), model.idf)):
            return None
        vectors = sp.load_npz(io.BytesIO(read_content_named(directory / stored.vectors))
                              ).tocsr()
        hashes = np.load(io.BytesIO(read_content_named(directory / stored.hashes)),
                         allow_pickle=False)
    # TypeError: a file of another kind, e.g. an array where an archive was expected.
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, NotItsContent):
        return None
    if hashes.shape != (vectors.shape[0], 2) or hashes.dtype != np.uint64 \
            or len(stored.papers) != vectors.shape[0] or vectors.shape[1] != len(model.terms):
        return None
    return _CachedFit(vectors, pd.Index(stored.papers, dtype=object), hashes)


def paper_text(papers: pd.DataFrame, cache_dir: Path | None) -> PaperText:
    """TF-IDF vectors of every paper, from the cache when the papers are unchanged."""
    texts = _texts(papers)
    if cache_dir is None:
        return fit_paper_text(texts)
    directory = cache_dir / CACHE_VERSION
    digest = _digest(papers, texts)
    terms_path = directory / "terms.json"
    try:
        stored = msgspec.json.decode(terms_path.read_bytes(), type=_StoredTerms)
        if (stored.digest == digest and len(stored.idf) == len(stored.terms)
                and is_content_named(stored.vectors, "vectors", ".npz")):
            vectors = sp.load_npz(io.BytesIO(read_content_named(
                directory / stored.vectors))).tocsr()
            if vectors.shape == (len(papers), len(stored.terms)):
                return PaperText(vectors, np.asarray(stored.terms, dtype=object),
                                 np.asarray(stored.idf, dtype=np.float64))
    # msgspec's, NumPy's and zipfile's errors for files of another shape or truncated ones;
    # NotItsContent for a file changed since it was written
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, NotItsContent):
        pass  # nothing to reuse, or unreadable: fit again
    model = fit_paper_text(texts)
    buffer = io.BytesIO()
    # Uncompressed: loading took 0.16 s compressed, 0.04 s not (39 MB instead of 26 MB).
    sp.save_npz(buffer, model.vectors, compressed=False)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # The vectors are named by their content and the terms file (with the papers'
        # digest) names them: its one atomic write switches the cache over.
        vectors_name = write_content_named(directory, "vectors", ".npz", buffer.getvalue())
        hashes = io.BytesIO()
        np.save(hashes, _text_hashes(texts), allow_pickle=False)
        hashes_name = write_content_named(directory, "hashes", ".npy", hashes.getvalue())
        atomic_write_bytes(terms_path, json.dumps(
            {"digest": digest, "terms": model.terms.tolist(), "idf": model.idf.tolist(),
             "vectors": vectors_name, "papers": papers["paper"].astype(str).tolist(),
             "hashes": hashes_name}).encode("utf-8"))
        remove_content_named(directory, ["vectors"], ".npz", [vectors_name])
        remove_content_named(directory, ["hashes"], ".npy", [hashes_name])
        log.debug("cached paper text vectors in %s", directory)
    except OSError as error:
        log.warning("could not cache paper text vectors in %s: %s", directory, error)
    return model
