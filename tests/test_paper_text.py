from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import stop_before_writing

from pipeline.resolve import paper_text


def _papers(first_title: str) -> pd.DataFrame:
    titles = [first_title, "graph models", "parsing trees", "models trees", "neural tagging",
              "speech lexicon", "neural speech", "tagging lexicon"]
    return pd.DataFrame({"paper": [f"P{i}" for i in range(8)], "title": titles,
                         "abstract": [None] * 8})


def test_the_cache_gives_the_vectors_fitted_on_these_papers(tmp_path: Path) -> None:
    papers = _papers("graph graph parsing")
    stored = paper_text.paper_text(papers, tmp_path)
    loaded = paper_text.paper_text(papers, tmp_path)
    fitted = paper_text.fit_paper_text(paper_text._texts(papers))
    assert (loaded.vectors != fitted.vectors).nnz == 0
    assert (stored.vectors != loaded.vectors).nnz == 0
    assert loaded.terms.tolist() == fitted.terms.tolist()


def test_a_stop_before_the_terms_file_leaves_the_old_cache_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same words with other counts: the same vocabulary, other vectors. Stopped after
    # writing the new vectors but before the terms file, the old terms were read with the
    # new vectors (paper-text-v2).
    before, after = _papers("graph graph parsing"), _papers("graph parsing parsing")
    paper_text.paper_text(before, tmp_path)
    stop_before_writing(monkeypatch, paper_text, "terms.json")
    with pytest.raises(KeyboardInterrupt):
        paper_text.paper_text(after, tmp_path)
    monkeypatch.undo()
    loaded = paper_text.paper_text(before, tmp_path)
    fitted = paper_text.fit_paper_text(paper_text._texts(before))
    assert np.allclose(loaded.vectors.toarray(), fitted.vectors.toarray())
    assert not np.allclose(
        fitted.vectors.toarray(),
        paper_text.fit_paper_text(paper_text._texts(after)).vectors.toarray())


def test_a_terms_file_naming_another_vectors_file_is_not_trusted(tmp_path: Path) -> None:
    # The same vocabulary and shape, other vectors: before, any file the terms file named
    # was loaded.
    before, after = _papers("graph graph parsing"), _papers("graph parsing parsing")
    paper_text.paper_text(before, tmp_path / "cache")
    paper_text.paper_text(after, tmp_path / "other")
    directory = tmp_path / "cache" / paper_text.CACHE_VERSION
    other = next((tmp_path / "other" / paper_text.CACHE_VERSION).glob("vectors-*.npz"))
    shutil.copy(other, directory / "other.npz")
    terms = json.loads((directory / "terms.json").read_text())
    (directory / "terms.json").write_text(json.dumps({**terms, "vectors": "other.npz"}))
    loaded = paper_text.paper_text(before, tmp_path / "cache")
    fitted = paper_text.fit_paper_text(paper_text._texts(before))
    assert np.allclose(loaded.vectors.toarray(), fitted.vectors.toarray())


@pytest.mark.parametrize("stored", [[1, 2], {"digest": "x"}, {"terms": "not a list"}])
def test_a_terms_file_of_another_shape_means_fitting_again(tmp_path: Path,
                                                           stored: object) -> None:
    papers = _papers("graph graph parsing")
    paper_text.paper_text(papers, tmp_path)
    (tmp_path / paper_text.CACHE_VERSION / "terms.json").write_text(json.dumps(stored))
    loaded = paper_text.paper_text(papers, tmp_path)
    fitted = paper_text.fit_paper_text(paper_text._texts(papers))
    assert (loaded.vectors != fitted.vectors).nnz == 0


def _vectorised_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = paper_text.TextModel.vectors

    def recording(self: paper_text.TextModel, texts: np.ndarray) -> object:
        seen.extend(texts.tolist())
        return original(self, texts)

    monkeypatch.setattr(paper_text.TextModel, "vectors", recording)
    return seen


def test_a_kept_model_reuses_the_cached_vectors_of_unchanged_papers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fitted_on = _papers("graph graph parsing")
    model = paper_text.paper_text(fitted_on, tmp_path).model
    # Tonight: paper 0's words changed, paper 8 is new, the others are as fitted.
    tonight = pd.concat([_papers("speech graph models"), pd.DataFrame(
        {"paper": ["P8"], "title": ["neural parsing lexicon"], "abstract": [None]})],
        ignore_index=True)
    rows = np.array([0, 2, 3, 5, 8])
    seen = _vectorised_texts(monkeypatch)
    reused = paper_text.papers_in_model(tonight, rows, model, cache_dir=tmp_path).vectors
    assert seen == ["speech graph models ", "neural parsing lexicon "]
    monkeypatch.undo()
    fresh = paper_text.papers_in_model(tonight, rows, model).vectors
    assert (reused != fresh).nnz == 0
    assert reused.has_canonical_format and fresh.has_canonical_format


def test_a_cache_of_another_fit_is_not_reused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    model = paper_text.paper_text(_papers("graph graph parsing"), tmp_path).model
    other = paper_text.paper_text(_papers("speech tagging lexicon"), tmp_path)  # fitted since
    assert not np.array_equal(other.idf, model.idf)
    seen = _vectorised_texts(monkeypatch)
    paper_text.papers_in_model(_papers("graph graph parsing"), np.array([1, 2]), model,
                               cache_dir=tmp_path)
    assert seen == ["graph models ", "parsing trees "]


def test_a_terms_file_from_before_the_paper_hashes_still_serves_the_full_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = _papers("graph graph parsing")
    model = paper_text.paper_text(papers, tmp_path).model
    terms_path = tmp_path / paper_text.CACHE_VERSION / "terms.json"
    stored = json.loads(terms_path.read_text())
    del stored["papers"], stored["hashes"]
    terms_path.write_text(json.dumps(stored))
    monkeypatch.setattr(paper_text, "fit_paper_text", None)  # a refit would fail
    assert (paper_text.paper_text(papers, tmp_path).vectors != model.vectors(
        paper_text._texts(papers))).nnz == 0
    monkeypatch.undo()
    seen = _vectorised_texts(monkeypatch)
    paper_text.papers_in_model(papers, np.array([1]), model, cache_dir=tmp_path)
    assert seen == ["graph models "]


@pytest.mark.parametrize("kind", ["vectors", "hashes"])
def test_a_cached_file_changed_since_it_was_written_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Vectors of the same shape but other numbers (a helper swapped rows) were used as
    they were: other clusters, or NaN and a crash, or an out-of-range index and a
    segmentation fault; a hashes array under the vectors' name raised TypeError."""
    papers = _papers("graph graph parsing")
    model = paper_text.paper_text(papers, tmp_path).model
    directory = tmp_path / paper_text.CACHE_VERSION
    target = next(directory.glob(f"{kind}-*"))
    if kind == "vectors":
        other = next(directory.glob("hashes-*"))
        shutil.copy(other, target)  # an array where an archive belongs
    else:
        hashes = np.load(target)
        np.save(target.with_suffix(""), hashes[::-1].copy())  # same shape, rows swapped
    loaded = paper_text.paper_text(papers, tmp_path)
    fitted = paper_text.fit_paper_text(paper_text._texts(papers))
    assert (loaded.vectors != fitted.vectors).nnz == 0
    seen = _vectorised_texts(monkeypatch)
    paper_text.papers_in_model(papers, np.array([1, 2]), model, cache_dir=tmp_path)
    assert seen == ([] if kind == "vectors" else ["graph models ", "parsing trees "])


def test_a_terms_file_with_a_key_of_no_known_use_is_not_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = _papers("graph graph parsing")
    paper_text.paper_text(papers, tmp_path)
    terms = tmp_path / paper_text.CACHE_VERSION / "terms.json"
    terms.write_text(json.dumps({**json.loads(terms.read_text()), "junk": [1, 2]}))
    fits: list[int] = []
    original = paper_text.fit_paper_text
    monkeypatch.setattr(paper_text, "fit_paper_text",
                        lambda texts: fits.append(len(texts)) or original(texts))
    paper_text.paper_text(papers, tmp_path)
    assert fits == [8]
