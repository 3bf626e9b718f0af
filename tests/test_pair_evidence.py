"""The pair evidence a night keeps for the next (`resolve/pair_evidence.py`) and how the
split's log-odds use it (`clustering.BlockLogits`)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.resolve.clustering import BlockFeatures, BlockLogits, symmetric_matrix
from pipeline.resolve.evidence_kinds import FEATURE_NAMES
from pipeline.resolve.pair_evidence import BlockEvidence, PairEvidence
from pipeline.resolve.pair_model import PairModel


def _keys(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def test_kept_pairs_are_found_whatever_the_order_and_new_mentions_are_unknown() -> None:
    # Last night: mentions 10, 20, 30; pairs (10,20)=1, (10,30)=2, (20,30)=3.
    kept = PairEvidence({"a": BlockEvidence(_keys(10, 20, 30), np.array([1.0, 2.0, 3.0]))})
    # Tonight: 30, 40 (new), 10; pairs (30,40), (30,10), (40,10).
    known = kept.known("a", _keys(30, 40, 10))
    assert np.isnan(known[0]) and known[1] == 2.0 and np.isnan(known[2])
    assert np.isnan(kept.known("b", _keys(10, 20))).all()  # a name not kept


@given(st.integers(2, 9), st.randoms(use_true_random=False), st.integers(0, 4))
def test_known_evidence_is_last_night_s_value_of_that_pair(size: int, rng: random.Random,
                                                            new: int) -> None:
    old = np.array(rng.sample(range(1, 1000), size), dtype=np.uint64)
    values = np.array([rng.uniform(-5, 5) for _ in range(size * (size - 1) // 2)])
    matrix = symmetric_matrix(values, size)
    kept = PairEvidence({"a": BlockEvidence(old, values)})
    # Tonight: some of last night's mentions, in another order, and new ones.
    stayed = rng.sample(range(size), rng.randint(0, size))
    tonight = [int(old[p]) for p in stayed] + list(range(2000, 2000 + new))
    rng.shuffle(tonight)
    position = {int(key): p for p, key in enumerate(old.tolist())}
    known = kept.known("a", np.array(tonight, dtype=np.uint64))
    ii, jj = np.triu_indices(len(tonight), 1)
    for value, i, j in zip(known, ii, jj):
        a, b = position.get(tonight[i]), position.get(tonight[j])
        if a is None or b is None:
            assert np.isnan(value)
        else:
            assert value == matrix[a, b]


def test_it_reads_back_what_it_wrote_and_refuses_anything_else(tmp_path: Path) -> None:
    evidence = PairEvidence({"b": BlockEvidence(_keys(1, 2), np.array([0.5])),
                             "a": BlockEvidence(_keys(3, 4, 5), np.array([1.0, -2.0, 3.0])),
                             "c": BlockEvidence(_keys(), np.zeros(0))})
    path = tmp_path / "pair_evidence.npz"
    path.write_bytes(evidence.to_bytes())
    back = PairEvidence.load(path)
    assert list(back.blocks) == ["a", "b", "c"] and back.pairs() == 4
    for slug, block in evidence.blocks.items():
        assert back.blocks[slug].mentions.tolist() == block.mentions.tolist()
        assert back.blocks[slug].evidence.tolist() == block.evidence.tolist()
    assert back.to_bytes() == evidence.to_bytes()
    path.write_bytes(evidence.to_bytes()[:100])
    with pytest.raises(ValueError, match="pair_evidence.npz"):
        PairEvidence.load(path)
    with pytest.raises(ValueError, match="missing.npz: cannot be read"):
        PairEvidence.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="3 mentions need 3 pair values"):
        BlockEvidence(_keys(1, 2, 3), np.zeros(2))


def _archive(**changes: object) -> bytes:
    good = PairEvidence({"a": BlockEvidence(_keys(3, 4, 5), np.array([1.0, -2.0, 3.0])),
                         "b": BlockEvidence(_keys(1, 2), np.array([0.5]))})
    with np.load(io.BytesIO(good.to_bytes())) as stored:
        arrays = {key: stored[key] for key in stored.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize("content, message", [
    (b"not an archive", "not an .npz archive"),
    (_archive(slugs=np.array(["a", "b"], dtype=object)), "cannot be read"),
    (_archive(sizes=np.array(5)), "shapes and types"),
    (_archive(evidence=np.array([[1.0, -2.0, 3.0, 0.5]])), "shapes and types"),
    (_archive(evidence=np.array(["x"] * 4)), "shapes and types"),
    (_archive(sizes=None), "cannot be read"),
    (_archive(format=np.array("pair-evidence-v0")), "another version"),
    (_archive(slugs=np.array(["a", "a"])), "do not fit together"),
    (_archive(sizes=np.array([6, -1])), "do not fit together"),
    (_archive(evidence=np.array([1.0, np.inf, 3.0, 0.5])), "not a finite number"),
    (_archive(evidence=np.array([1.0, np.nan, 3.0, 0.5])), "not a finite number"),
])
def test_a_damaged_file_is_refused_with_its_name(tmp_path: Path, content: bytes,
                                                  message: str) -> None:
    path = tmp_path / "pair_evidence.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"pair_evidence.npz: .*{message}"):
        PairEvidence.load(path)


def test_values_outside_the_model_s_range_are_not_taken_for_its_own() -> None:
    kept = PairEvidence({"a": BlockEvidence(_keys(1, 2, 3), np.array([-13.8, 0.0, 13.8]))})
    assert kept.within(-13.9, 13.9)
    assert not kept.within(-13.0, 13.9) and not kept.within(-13.9, 13.0)


def test_a_fingerprint_repeated_tonight_trusts_nothing() -> None:
    kept = PairEvidence({"a": BlockEvidence(_keys(10, 20, 30), np.array([1.0, 2.0, 3.0]))})
    assert np.isnan(kept.known("a", _keys(10, 10, 20))).all()


def test_a_night_keeps_the_names_it_did_not_recompute() -> None:
    last = PairEvidence({"a": BlockEvidence(_keys(1, 2), np.array([1.0])),
                         "b": BlockEvidence(_keys(3, 4), np.array([2.0])),
                         "c": BlockEvidence(_keys(5, 6), np.array([3.0]))})
    tonight = PairEvidence({"a": BlockEvidence(_keys(1, 2, 7), np.array([1.0, 0.0, 0.0]))})
    merged = last.updated(tonight, frozenset({"a", "b"}))  # b changed, no longer split
    assert sorted(merged.blocks) == ["a", "c"] and merged.pairs() == 4
    assert sorted(last.updated(tonight, None).blocks) == ["a"]


def _model_and_blocks() -> tuple[PairModel, BlockFeatures]:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURE_NAMES)))
    same = x[:, 0] + 0.3 * rng.random(400) > 0.6
    model = PairModel.fit_evidence(x, same, np.arange(400) // 4)
    n = 6
    features = rng.random((n * (n - 1) // 2, len(FEATURE_NAMES))).astype(np.float32)
    return model, BlockFeatures({"a": np.arange(n)}, {"a": features})


def test_only_the_pairs_not_kept_are_predicted_and_the_log_odds_are_the_same() -> None:
    model, blocks = _model_and_blocks()
    fresh = BlockLogits(model, blocks)
    expected = fresh("a")
    evidence = fresh.evidence("a")
    assert evidence is not None and fresh.predicted_pairs == 15
    partly = evidence.copy()
    partly[[0, 4, 9]] = np.nan
    reusing = BlockLogits(model, blocks, known=lambda slug: partly.copy())
    reusing.prefetch(["a"])
    assert reusing.predicted_pairs == 3
    assert np.array_equal(reusing("a"), expected)
    # Kept evidence is used as it is, not predicted again.
    shifted = evidence + 1.0
    kept = BlockLogits(model, blocks, known=lambda slug: shifted.copy())
    assert np.allclose(kept("a") - expected, symmetric_matrix(np.ones(15), 6))
    assert kept.predicted_pairs == 0


@given(st.integers(0, 9), st.randoms(use_true_random=False), st.integers(0, 4),
       st.booleans())
def test_new_mentions_are_those_of_the_pairs_not_kept(size: int, rng: random.Random, new: int,
                                                      repeat: bool) -> None:
    old = np.array(rng.sample(range(1, 1000), size), dtype=np.uint64)
    kept = PairEvidence({"a": BlockEvidence(old, np.zeros(size * (size - 1) // 2))})
    tonight = [int(old[p]) for p in rng.sample(range(size), rng.randint(0, size))] + list(
        range(2000, 2000 + new))
    if repeat and tonight:
        tonight.append(tonight[0])  # a fingerprint twice: nothing is kept
    rng.shuffle(tonight)
    keys = np.array(tonight, dtype=np.uint64)
    fresh = kept.new_mentions("a", keys)
    ii, jj = np.triu_indices(len(keys), 1)
    assert np.array_equal(fresh[ii] | fresh[jj], np.isnan(kept.known("a", keys)))
    assert kept.new_mentions("b", keys).all()  # a name not kept


def test_features_of_the_pairs_with_a_new_mention_are_those_of_every_pair(
        tmp_path: Path) -> None:
    from builder import two_wei_zhangs

    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.ambiguity import name_commonness
    from pipeline.resolve.authorship import Authorship
    from pipeline.resolve.clustering import block_rows_of
    from pipeline.resolve.evidence import EvidenceContext

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "data"))
    mentions = snapshot.mentions
    slugs = sorted(mentions["slug"].unique())
    rows = block_rows_of(mentions, slugs)
    context = EvidenceContext.build(mentions, snapshot.papers,
                                    Authorship.build(mentions, snapshot.papers),
                                    focus=np.concatenate(list(rows.values())))
    commonness = name_commonness(mentions)
    every = BlockFeatures.compute(context, rows, commonness)
    rng = np.random.default_rng(1)
    # Some names with no new mention, some with all new, most with a few.
    new = {slug: rng.random(len(r)) < [0.0, 1.0, 0.3][k % 3]
           for k, (slug, r) in enumerate(rows.items())}
    some = BlockFeatures.compute(context, rows, commonness, new=new)
    prior = FEATURE_NAMES.index("name_commonness")
    assert any(len(r) > 3 and new[slug].any() and not new[slug].all()
               for slug, r in rows.items())  # the case that matters is there
    for slug, r in rows.items():
        ii, jj = np.triu_indices(len(r), 1)
        wanted = new[slug][ii] | new[slug][jj]
        assert np.array_equal(some.features[slug][wanted], every.features[slug][wanted])
        assert np.isnan(np.delete(some.features[slug][~wanted], prior, axis=1)).all()
        assert np.array_equal(some.features[slug][:, prior], every.features[slug][:, prior])


def test_affiliations_of_mentions_pooled_from_outside_the_focus_change_no_focus_feature(
        tmp_path: Path) -> None:
    # A person's mentions under its other names are pooled with the variant candidates'
    # (`also`): they need affiliation vectors, but the focus's must stay as they were, to
    # the bit (a last-bit change once moved the pair model's bound and 1,193 names).
    from builder import two_wei_zhangs

    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.ambiguity import name_commonness
    from pipeline.resolve.authorship import Authorship
    from pipeline.resolve.clustering import block_rows_of
    from pipeline.resolve.evidence import EvidenceContext

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "data"))
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    stanford = (mentions["affiliation"] == "Stanford University").to_numpy()
    assert stanford.any() and mentions["affiliation"].notna().sum() > stanford.sum()
    rows = {slug: r[~stanford[r]] for slug, r in block_rows_of(
        mentions, sorted(mentions["slug"].unique())).items()}
    focus = np.concatenate(list(rows.values()))
    also = np.flatnonzero(stanford)
    alone = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=focus)
    pooled = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=focus,
                                   also=also)
    assert (alone.mention_affiliation[also] == -1).all()
    assert (pooled.mention_affiliation[also] >= 0).all()  # a string the focus lacks
    assert np.array_equal(alone.mention_affiliation[focus], pooled.mention_affiliation[focus])
    commonness = name_commonness(mentions)
    for slug, features in BlockFeatures.compute(alone, rows, commonness).features.items():
        assert np.array_equal(features, BlockFeatures.compute(
            pooled, {slug: rows[slug]}, commonness).features[slug], equal_nan=True)
    vectors = pooled.affiliation_vectors[pooled.mention_affiliation[also]]
    assert np.allclose((vectors @ vectors.T).diagonal(), 1.0)  # a vector of its own


def test_a_kept_affiliation_model_with_no_affiliation_in_focus(tmp_path: Path) -> None:
    # A night whose changed names have no affiliation at all (helper-37: an author removed
    # from a paper of a small snapshot): transforming no strings failed in scikit-learn.
    from builder import two_wei_zhangs

    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.authorship import Authorship
    from pipeline.resolve.evidence import EvidenceContext

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "data"))
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    fitted = EvidenceContext.build(mentions, snapshot.papers, authorship)
    assert fitted.affiliation_model is not None
    without = np.flatnonzero(mentions["affiliation"].isna().to_numpy())
    also = np.flatnonzero(mentions["affiliation"].notna().to_numpy())
    for pooled in (None, also):
        kept = EvidenceContext.build(mentions, snapshot.papers, authorship, focus=without,
                                     affiliation_model=fitted.affiliation_model, also=pooled)
        assert (kept.mention_affiliation[without] == -1).all()
        assert kept.affiliation_vectors.shape[1] == fitted.affiliation_vectors.shape[1]


def test_which_mentions_are_compared_changes_no_affiliation_feature(tmp_path: Path) -> None:
    # The vectorizer learns from every affiliation of the snapshot: fitted on the compared
    # mentions' only, one variant candidate more or less changed every affiliation vector,
    # the models learnt on them, and the clusters of unrelated names (session 36).
    from builder import two_wei_zhangs

    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.ambiguity import name_commonness
    from pipeline.resolve.authorship import Authorship
    from pipeline.resolve.clustering import block_rows_of
    from pipeline.resolve.evidence import EvidenceContext

    snapshot = read_snapshot(two_wei_zhangs(tmp_path / "data"))
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    rows = block_rows_of(mentions, sorted(mentions["slug"].unique()))
    stanford = (mentions["affiliation"] == "Stanford University").to_numpy()
    narrow = {slug: r[~stanford[r]] for slug, r in rows.items()}
    assert sum(len(r) for r in narrow.values()) < sum(len(r) for r in rows.values())
    assert any(mentions["affiliation"].iloc[r].notna().any() for r in narrow.values())
    few = EvidenceContext.build(mentions, snapshot.papers, authorship,
                                focus=np.concatenate(list(narrow.values())))
    many = EvidenceContext.build(mentions, snapshot.papers, authorship,
                                 focus=np.concatenate(list(rows.values())))
    commonness = name_commonness(mentions)
    column = FEATURE_NAMES.index("affiliation_cosine")
    for slug, features in BlockFeatures.compute(few, narrow, commonness).features.items():
        wide = BlockFeatures.compute(many, {slug: narrow[slug]}, commonness).features[slug]
        assert np.array_equal(features, wide, equal_nan=True)
        assert np.isfinite(features[:, column]).all()
