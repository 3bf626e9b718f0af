"""Invariants of splitting on small made-up snapshots and matrices, with fixed seeds."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from builder import Author, Paper, Volume, common_name_fillers, write_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.anthology.snapshot import Snapshot, read_snapshot
from pipeline.resolve import cluster_merge, variant_model
from pipeline.resolve.ambiguity import name_commonness
from pipeline.resolve.authorship import Authorship
from pipeline.resolve.cluster_merge import CLUSTER_FEATURES, ClusterModel, TrainingPairs
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.evidence_kinds import FEATURE_NAMES
from pipeline.resolve.outputs import assignments_csv
from pipeline.resolve.pair_model import EVIDENCE_COLUMNS, EXTREMES_MARGIN, PairModel
from pipeline.resolve.run import ResolveSettings, resolve
from pipeline.resolve.split import Constraints, cannot_link, split_block
from pipeline.resolve.synthetic import SyntheticBlocks, synthetic_blocks, synthetic_draws
from pipeline.resolve.tree_prediction import raw_extreme
from pipeline.resolve.variant_model import (
    CONFIDENT_MODELS,
    VARIANT_DRAWS,
    VARIANT_IGNORED_FEATURES,
    ConfidentPairs,
    VariantModel,
    pair_fold,
    variant_seeds,
)


def _people(prefix: str, n: int) -> list[Author]:
    return [Author(f"{prefix}{chr(97 + i)}name", f"{prefix}family{i}") for i in range(n)]


def _job_move_and_lab(root: Path) -> Path:
    """Wei Zhang A: 2010-2014 at Tsinghua with coauthors P, then 2015-2019 at Tsinghua with
    coauthors Q, on the same topics; P and Q share a senior colleague (a coauthor-of-coauthor
    path). Wei Zhang
    B and C: one lab, same years, one at Stanford and one at Amazon. The snapshot is too
    small for synthetic homonyms, so the hand-set evidence rule and the prior decide."""
    p, q, lab = _people("p", 3), _people("q", 3), _people("l", 4)
    senior = Author("Senior", "Colleague")
    volumes = []
    topics = ["dependency parsing of treebanks", "treebank annotation guidelines",
              "syntactic structure and dependency grammar"]
    for year in range(2010, 2020):
        group = p if year < 2015 else q
        papers = [
            Paper(f"Parsing study {year}",
                  [Author("Wei", "Zhang", affiliation="Tsinghua University"), group[year % 3],
                   group[(year + 1) % 3]], topics[year % 3]),
            Paper(f"Senior work {year}", [senior, group[year % 3]], "semantic role labelling"),
        ]
        if year >= 2016:
            papers += [
                Paper(f"Speech at Stanford {year}",
                      [Author("Wei", "Zhang", affiliation="Stanford University"), lab[0],
                       lab[1]], "acoustic models speech recognition"),
                Paper(f"Retrieval at Amazon {year}",
                      [Author("Wei", "Zhang", affiliation="Amazon"), lab[2], lab[3]],
                      "product search retrieval ranking"),
            ]
        volumes.append(Volume(f"{year}.tiny", "main", year, "tiny", papers))
    volumes.append(common_name_fillers("Wei", "Zhang"))
    return write_snapshot(root, volumes)


@pytest.fixture(scope="module")
def job_move(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    root = _job_move_and_lab(tmp_path_factory.mktemp("move") / "anthology")
    snapshot = read_snapshot(root)
    result = resolve(snapshot, ResolveSettings(names=("wei-zhang",), merge_clusters=True))
    return result.assignments, assignments_csv(result)


def test_one_person_across_a_job_move_stays_one(job_move: tuple[pd.DataFrame, str]) -> None:
    # The pairwise split cuts this person at the move; the cluster-level merge rejoins it.
    assignments, _ = job_move
    tsinghua = assignments[assignments["paper"].str.startswith(tuple(
        f"{y}.tiny-main.1" for y in range(2010, 2020)))]
    assert len(tsinghua) == 10 and tsinghua["cluster"].nunique() == 1


def test_namesakes_in_one_lab_with_other_affiliations_stay_apart(
        job_move: tuple[pd.DataFrame, str]) -> None:
    assignments, _ = job_move
    by_paper = assignments.set_index("paper")["cluster"]
    stanford = {by_paper[f"{y}.tiny-main.3"] for y in range(2016, 2020)}
    amazon = {by_paper[f"{y}.tiny-main.4"] for y in range(2016, 2020)}
    tsinghua = by_paper["2017.tiny-main.1"]
    assert stanford.isdisjoint(amazon)
    assert tsinghua not in stanford | amazon


def test_resolution_is_byte_identical_across_runs(tmp_path: Path,
                                                  job_move: tuple[pd.DataFrame, str]) -> None:
    root = _job_move_and_lab(tmp_path / "anthology")
    again = resolve(read_snapshot(root), ResolveSettings(names=("wei-zhang",),
                                                         merge_clusters=True))
    assert assignments_csv(again) == job_move[1]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 10_000), share=st.floats(0.0, 1.0))
def test_constraints_never_break(n: int, seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(share * 4 - 2, 3, size=(n, n))
    logits = (logits + logits.T) / 2
    papers = rng.integers(0, max(1, n - 2), size=n)
    ids = np.array([rng.choice(["a", "b", None]) for _ in range(n)], dtype=object)
    orcids = np.array([rng.choice(["0000-0001", None, None]) for _ in range(n)], dtype=object)
    constraints = Constraints(papers, ids, orcids)
    result = split_block(logits, constraints, seed=42)
    same = result.membership[:, None] == result.membership[None, :]
    cannot = cannot_link(constraints)
    linked_by_id = np.array([[isinstance(ids[i], str) and ids[i] == ids[j] for j in range(n)]
                             for i in range(n)])
    # An id outranks a clash (reported as a conflict); otherwise no cannot-link is joined.
    assert not (cannot & same & ~linked_by_id).any()
    assert same[linked_by_id].all()


def test_all_positive_evidence_gives_one_cluster_like_leiden() -> None:
    rng = np.random.default_rng(3)
    logits = np.abs(rng.normal(2, 1, size=(7, 7))) + 0.1
    logits = (logits + logits.T) / 2
    result = split_block(logits, Constraints.none(7))
    assert (result.membership == 0).all()


@functools.cache
def _random_model(seed: int) -> PairModel:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(600, len(FEATURE_NAMES)))
    x[:, FEATURE_NAMES.index("year_gap")] *= 30
    same = x[:, 0] + x[:, 2] + rng.normal(0, 0.3, 600) > 1.0
    return PairModel.fit_evidence(x, same, np.arange(600) // 10, seed=seed)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 5), commonness=st.floats(-8, 3))
def test_lowest_logit_bounds_every_pair(seed: int, commonness: float) -> None:
    for model in (PairModel(), _random_model(seed)):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 1, size=(400, len(FEATURE_NAMES)))
        x[:, FEATURE_NAMES.index("year_gap")] *= 30
        x[:, FEATURE_NAMES.index("shared_coauthors_idf")] *= 3
        x[:, FEATURE_NAMES.index("name_commonness")] = commonness
        assert model.logits(x).min() >= model.lowest_logit(commonness) - 1e-9
        rarest = model.rarest_splittable(0.0)
        assert model.lowest_logit(rarest - 0.01) >= 0.0 - 1e-9


@pytest.mark.parametrize("intercept", [45.3, 45.7, 51.1, 63.9, 100.3])
def test_a_name_below_the_bound_in_float64_is_below_it_in_the_float32_pair_features(
        intercept: float) -> None:
    # The split reads commonness from float32 pair features: rounded up past the bound,
    # a skipped name could have had a pair below the threshold (found by a helper).
    model = PairModel(calibration=(1.0, -1.0, intercept))
    rarest = model.rarest_splittable(0.0)
    below = [np.nextafter(rarest, -np.inf), rarest - 1e-9, rarest - 1e-7]
    assert all(model.lowest_logit(float(np.float32(c))) >= 0.0 for c in below)


def test_the_extreme_of_a_refitted_classifier_is_read_again() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURE_NAMES)))
    noisy = rng.random(400) > 0.5
    model = PairModel.fit_evidence(x, noisy, np.arange(400) // 10)
    assert model.classifier is not None
    before = model.evidence_extreme()
    model.classifier.fit(x[:, EVIDENCE_COLUMNS], x[:, 0] > 0.5)  # in place
    assert model.evidence_extreme() != before
    assert model.evidence_extreme() == raw_extreme(model.classifier) - EXTREMES_MARGIN


GIVEN_NAMES = ["Alma", "Boris", "Clara", "Dmitri", "Elena", "Farid"]  # no two one edit apart


def _six_rare_names_of_one_family(tmp_path: Path) -> Snapshot:
    volumes = []
    for year in range(2000, 2006):
        papers = [Paper(f"P{year}-{k}", [Author(GIVEN_NAMES[k], "Sharedfamily"),
                                         Author(f"Co{k}", f"Author{k}{year % 2}")])
                  for k in range(6)]
        volumes.append(Volume(f"{year}.syn", "main", year, "syn", papers))
    return read_snapshot(write_snapshot(tmp_path / "a", volumes))


def test_synthetic_homonyms_pair_rare_names_of_one_family(tmp_path: Path) -> None:
    snapshot = _six_rare_names_of_one_family(tmp_path)
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    commonness = name_commonness(mentions) - 10  # every name counts as rare here
    blocks = synthetic_blocks(mentions, commonness, authorship, seed=1)
    again = synthetic_blocks(mentions, commonness, authorship, seed=1)
    assert blocks.rows.keys() == again.rows.keys() and len(blocks.rows) == 3
    for key, rows in blocks.rows.items():
        first, second = key.split("+")
        assert first.endswith("sharedfamily") and second.endswith("sharedfamily")
        names = mentions["slug"].to_numpy()[rows]
        assert set(names) == {first, second}
        labels = blocks.labels(key)
        ii, jj = np.triu_indices(len(rows), 1)
        assert (labels == (names[ii] == names[jj])).all()


def test_the_variant_model_does_not_read_the_persons_sizes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its synthetic homonyms' part sizes taught how much a part of a career shares with the
    # rest; a variant string's few mentions are no random part of one (`variants.py`).
    snapshot = _six_rare_names_of_one_family(tmp_path)
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    blocks = synthetic_blocks(mentions, name_commonness(mentions) - 10, authorship, seed=1)
    context = EvidenceContext.build(mentions, snapshot.papers, authorship,
                                    focus=np.arange(len(mentions)))
    monkeypatch.setattr(cluster_merge, "MIN_TRAINING_PAIRS", 1)  # a model of a tiny snapshot
    model = ClusterModel.fit(context, blocks, seed=1, cut="random",
                             ignored=VARIANT_IGNORED_FEATURES)
    assert model.classifier is not None
    assert model.classifier.n_features_in_ == len(CLUSTER_FEATURES) - 2
    rng = np.random.default_rng(0)
    features = rng.random((50, len(CLUSTER_FEATURES)))
    resized = features.copy()
    for name in ("smaller_size", "larger_size"):
        resized[:, CLUSTER_FEATURES.index(name)] = rng.integers(1, 200, 50)
    assert np.array_equal(model.evidence(features), model.evidence(resized))
    assert model.describe()["features_ignored"] == ["smaller_size", "larger_size"]


def _variant_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> tuple[EvidenceContext, list[SyntheticBlocks], tuple[int, ...]]:
    """The evidence and the variant model's draws of six rare names of one family."""
    snapshot = _six_rare_names_of_one_family(tmp_path)
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    seeds = variant_seeds(1)
    draws = synthetic_draws(mentions, name_commonness(mentions) - 10, authorship,
                            distinct_strings=(True,) * len(seeds), seeds=seeds)
    context = EvidenceContext.build(mentions, snapshot.papers, authorship,
                                    focus=np.arange(len(mentions)))
    monkeypatch.setattr(cluster_merge, "MIN_TRAINING_PAIRS", 1)  # a model of a tiny snapshot
    return context, draws, seeds


def test_the_variant_model_is_the_mean_of_models_learnt_from_several_draws(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, draws, seeds = _variant_draws(tmp_path, monkeypatch)
    model = VariantModel.fit(context, draws, seed=1)
    assert len(model.models) == VARIANT_DRAWS == len(set(seeds)) > 1
    features = np.random.default_rng(0).random((20, len(CLUSTER_FEATURES)))
    alone = [ClusterModel.fit(context, draw, seed=draw_seed, cut="random",
                              ignored=VARIANT_IGNORED_FEATURES).evidence(features)
             for draw, draw_seed in zip(draws, seeds)]
    assert np.allclose(model.evidence(features), np.mean(alone, axis=0))
    assert len({tuple(sorted(draw.rows)) for draw in draws}) > 1  # each its own draw
    assert model.describe()["models"] == VARIANT_DRAWS


def test_confident_pairs_are_scored_only_by_the_models_that_did_not_learn_from_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Real variants the strings vouch for teach the models, cross-fitted: a pair's evidence
    # must not come from its own label; every other pair keeps the synthetic models.
    context, draws, seeds = _variant_draws(tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    names = [(f"a-{k}", f"b-{k}") for k in range(40)]
    folds = [pair_fold(*pair) for pair in names]
    assert set(folds) == {0, 1}
    confident = ConfidentPairs(tuple(names), rng.random((40, len(CLUSTER_FEATURES))))
    plain = VariantModel.fit(context, draws, seed=1)
    # Too few to carry half the one-person class's weight.
    assert VariantModel.fit(context, draws, seed=1, confident=confident).confident_models == ()
    monkeypatch.setattr(variant_model, "MIN_CONFIDENT_PAIRS", 40)
    model = VariantModel.fit(context, draws, seed=1, confident=confident)
    assert len(model.confident_models) == CONFIDENT_MODELS and model.confident == set(names)
    features = rng.random((3, len(CLUSTER_FEATURES)))
    assert np.allclose(model.evidence(features), plain.evidence(features))  # no names given
    assert np.allclose(model.evidence(features, [("not", "confident")] * 3),
                       plain.evidence(features))
    # Which models score which pair: models that answer their own number.
    by_fold = {fold: next(pair for pair, f in zip(names, folds) if f == fold)
               for fold in (0, 1)}
    numbered = VariantModel(tuple(_Constant(value=10.0 + k) for k in range(5)),
                            tuple(_Constant(value=float(k)) for k in range(CONFIDENT_MODELS)),
                            frozenset(names))
    evidence = numbered.evidence(features, [by_fold[0], by_fold[1], ("not", "confident")])
    # Models 0 and 2 learnt from fold 0, models 1 and 3 from fold 1.
    assert evidence.tolist() == [2.0, 1.0, 12.0]
    # With one model, learnt from fold 0, a pair of fold 0 keeps the synthetic models' answer.
    alone = VariantModel(numbered.models, numbered.confident_models[:1], frozenset(names))
    assert alone.evidence(features[:2], [by_fold[0], by_fold[1]]).tolist() == [12.0, 0.0]
    assert model.describe()["confident_pairs"] == 40


@dataclasses.dataclass
class _Constant(ClusterModel):
    value: float = 0.0

    def evidence(self, features: np.ndarray) -> np.ndarray:
        return np.full(len(features), self.value)


def test_pairs_known_to_be_one_person_take_their_share_of_the_class_weight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, draws, _ = _variant_draws(tmp_path, monkeypatch)
    blocks = draws[0]
    assert blocks.rows
    fitted: dict[str, np.ndarray] = {}

    def remember(self: object, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray
                 ) -> None:
        fitted.update(x=x, y=y, weight=sample_weight)
        raise StopIteration

    monkeypatch.setattr(cluster_merge.HistGradientBoostingClassifier, "fit", remember)
    positives = np.ones((7, len(CLUSTER_FEATURES)))
    with pytest.raises(StopIteration):
        ClusterModel.learn(TrainingPairs.of(context, blocks, seed=1, cut="random")
                           .with_positives(positives, 0.25), seed=1)
    y, weight = fitted["y"], fitted["weight"]
    added = np.zeros(len(y), dtype=bool)
    added[-7:] = True
    assert y[added].all() and np.allclose(fitted["x"][added], 1.0)
    # Per block, the one-person class weighs 1 and the two-person class 1, as before.
    assert np.isclose(weight[~y].sum(), len(blocks.rows))
    assert np.isclose(weight[y].sum(), len(blocks.rows))
    assert np.isclose(weight[added].sum(), 0.25 * len(blocks.rows))


def test_the_pooled_features_say_who_has_no_coauthor_and_from_when_both_are_in_use() -> None:
    # A person known only from single-author papers shares no coauthor with anyone: the
    # variant model must be able to tell that from coauthors that differ; and papers of
    # the 1980s carry less evidence than those of the 2020s.
    coauthor = sp.csr_matrix(np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    empty = sp.csr_matrix((4, 3))
    groups = cluster_merge.PooledGroups(
        coauthor=coauthor, weighted_coauthor=coauthor, two_hop=empty, text=empty,
        affiliation=empty, has_affiliation=np.zeros(4, dtype=bool), venues=empty,
        sizes=np.array([2.0, 1.0, 1.0, 3.0]), first_year=np.array([1985.0, 2003.0, np.inf, 1999.0]),
        last_year=np.array([1990.0, 2004.0, -np.inf, 2010.0]))
    ii, jj = np.array([0, 0, 1, 1]), np.array([3, 1, 2, 3])
    features = groups.pair_features(ii, jj)
    column = CLUSTER_FEATURES.index("coauthorless_groups")
    assert features[:, column].tolist() == [0.0, 1.0, 2.0, 1.0]
    assert features[:, CLUSTER_FEATURES.index("shared_coauthor_count")].tolist() == [
        np.log1p(1.0), 0.0, 0.0, 0.0]
    # The year from which both are in use; a group without a known year does not count.
    assert features[:, CLUSTER_FEATURES.index("later_first_year")].tolist() == [
        1999.0, 2003.0, 2003.0, 2003.0]


def test_synthetic_homonyms_never_pair_two_strings_of_one_person(tmp_path: Path) -> None:
    """Viet Lai and Viet Dac Lai may be one person: for the name-variant model they are no
    synthetic homonym (as a negative pair, they taught it that ten shared coauthors mean two
    people); the pair model keeps its draw."""
    volumes = []
    for year in range(2000, 2004):
        papers = [Paper(f"P{year}-{k}", [Author(first, "Lai"), Author(f"Co{k}", "Author")])
                  for k, first in enumerate(["Viet", "Viet Dac", "Minh", "Quang"])]
        volumes.append(Volume(f"{year}.syn", "main", year, "syn", papers))
    snapshot = read_snapshot(write_snapshot(tmp_path / "a", volumes))
    mentions = snapshot.mentions
    authorship = Authorship.build(mentions, snapshot.papers)
    commonness = name_commonness(mentions) - 10  # every name counts as rare here
    paired: dict[bool, set[frozenset[str]]] = {True: set(), False: set()}
    for seed in range(12):
        for distinct in (True, False):
            blocks = synthetic_blocks(mentions, commonness, authorship, seed=seed,
                                      distinct_strings=distinct)
            paired[distinct].update(frozenset(key.split("+")) for key in blocks.rows)
    variants = frozenset({"viet-lai", "viet-dac-lai"})
    assert variants not in paired[True] and variants in paired[False]
    # The draws taken at once (as `resolve` takes them: the pair model's, then the variant
    # model's, each with its seed) are each the draw of a call of its own, also where a draw
    # is sampled down to `max_blocks`.
    for seed in range(12):
        for max_blocks in (1, 100):
            kinds, seeds = (False, True, True), (seed, seed, seed + 1000)
            together = synthetic_draws(mentions, commonness, authorship, seeds=seeds,
                                       max_blocks=max_blocks, distinct_strings=kinds)
            for distinct, draw_seed, draw in zip(kinds, seeds, together):
                alone = synthetic_blocks(mentions, commonness, authorship, seed=draw_seed,
                                         max_blocks=max_blocks, distinct_strings=distinct)
                assert draw.rows.keys() == alone.rows.keys()
                for key, rows in alone.rows.items():
                    assert np.array_equal(draw.rows[key], rows)
                    assert np.array_equal(draw.name[key], alone.name[key])
    assert frozenset({"minh-lai", "quang-lai"}) in paired[True]  # other pairs still are


def test_without_evidence_zeroes_only_the_kinds_removed() -> None:
    from pipeline.resolve.evidence import without_evidence
    from pipeline.resolve.evidence_kinds import EVIDENCE_KINDS

    features = np.arange(2 * len(FEATURE_NAMES), dtype=float).reshape(2, -1) + 1.0
    ablated = without_evidence(features, ("coauthors", "years"))
    removed = {FEATURE_NAMES.index(n) for k in ("coauthors", "years") for n in EVIDENCE_KINDS[k]}
    for column in range(len(FEATURE_NAMES)):
        expected = 0.0 if column in removed else features[:, column]
        assert np.all(ablated[:, column] == expected)
    assert features.min() > 0  # the input is not changed
    with pytest.raises(ValueError, match="unknown evidence kind"):
        without_evidence(features, ("telepathy",))
