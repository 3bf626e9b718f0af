"""The name-variant model: how much the graph says two persons of two names are one.

Gradient-boosted trees (`cluster_merge.ClusterModel`) learn the log likelihood ratio from
synthetic homonyms cut at random (one person's papers under two strings), never from
curation. For pairs with little evidence, one model's answer moves by up to 2.4 log-odds
between two draws of synthetic homonyms with the same features (README, "Name variants"),
so which merges a run proposes depended on the draw. The model is the mean of
`VARIANT_DRAWS` such models, each learnt from its own draw (`variant_seeds`): measured on
the shared snapshot, that halves how many proposed pairs change from one draw to another.

A career cut at random is not quite what a real variant looks like: a string one decade's
or one venue's metadata used (initials on 1980s papers) shares fewer coauthors with the
rest than a random part of a career does (63% of the pairs below share one, 77% of the
random cuts), and the graph evidence of one in five such gold pairs was negative. The
pairs the strings alone vouch for (`variant_decision.confident_pairs`: initials or a
dropped name of a name so rare that it is one person's at odds of e^7 to 1; nothing from
curation) are real variants, and they are scored by models that learnt from them too: half
the weight of the "one person" class from such pairs (`CONFIDENT_SHARE`). Cross-fitted: in
two folds by a hash of their names, each of those models learns from one fold, and a pair
is scored by the models that did not learn from it, so its evidence is the graph's, not its
own label. Every other pair keeps the synthetic models: on them the confident models raised
the evidence of unrelated names too (Yu Zhou / Zhou Yu, README).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.resolve.cluster_merge import ClusterModel, TrainingPairs
from pipeline.resolve.evidence import EvidenceContext
from pipeline.resolve.synthetic import SyntheticBlocks

# The variant model does not read the two persons' sizes. In its synthetic homonyms a part's
# size says how much of one career it holds, and the model learnt from that how much a part
# of that size shares with the rest of a career (one paper of a long career mostly shares a
# coauthor with the others). A variant string's mentions are no random part of a career: a
# string one venue's or one decade's metadata used, often on a single paper, shares far
# fewer (README, "Name variants"), so that expectation read their missing coauthors as
# "two people".
VARIANT_IGNORED_FEATURES = ("smaller_size", "larger_size")
VARIANT_DRAWS = 5
CONFIDENT_MODELS = 4  # learnt from the first four draws, two from each fold
SEED_STEP = 1000  # draw k is seeded `seed + k * SEED_STEP`
FOLDS = 2
CONFIDENT_SHARE = 0.5  # of the "one person" class's weight, from confident pairs
# Fewer confident pairs are not used: a handful would carry half the class's weight.
MIN_CONFIDENT_PAIRS = 100


def variant_seeds(seed: int) -> tuple[int, ...]:
    """The seed of each draw of synthetic homonyms the variant model learns from; the first
    is `seed` itself."""
    return tuple(seed + k * SEED_STEP for k in range(VARIANT_DRAWS))


def pair_fold(first: str, second: str) -> int:
    """The fold of a pair of name slugs (a hash, the same in every run)."""
    return zlib.crc32(f"{first}+{second}".encode()) % FOLDS


@dataclass(frozen=True)
class ConfidentPairs:
    """Pairs of name slugs the strings alone call one person, with their pooled features."""

    names: tuple[tuple[str, str], ...]
    features: np.ndarray

    def fold(self, fold: int) -> np.ndarray:
        """The features of the pairs in `fold`."""
        chosen = np.array([pair_fold(*pair) == fold for pair in self.names], dtype=bool)
        return np.asarray(self.features[chosen])


@dataclass(frozen=True)
class VariantModel:
    """The mean evidence of cluster models learnt from several draws of synthetic homonyms;
    for confident pairs, of those learnt from confident pairs too (model k from the pairs of
    fold k % FOLDS) that did not learn from the pair."""

    models: tuple[ClusterModel, ...]
    confident_models: tuple[ClusterModel, ...] = ()
    confident: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def fit(cls, context: EvidenceContext, draws: Sequence[SyntheticBlocks], seed: int,
            confident: ConfidentPairs | None = None) -> VariantModel:
        """One model per draw (`draws[k]` drawn with `variant_seeds(seed)[k]`), its names
        cut at random with the same seed; with `confident` pairs, CONFIDENT_MODELS more."""
        if not draws:
            raise ValueError("the variant model needs at least one draw of synthetic homonyms")
        models, confident_models = [], []
        for k, (draw, draw_seed) in enumerate(zip(draws, variant_seeds(seed))):
            pairs = TrainingPairs.of(context, draw, draw_seed, cut="random")
            models.append(ClusterModel.learn(pairs, draw_seed, VARIANT_IGNORED_FEATURES))
            if (confident is not None and len(confident.names) >= MIN_CONFIDENT_PAIRS
                    and k < CONFIDENT_MODELS):
                confident_models.append(ClusterModel.learn(
                    pairs.with_positives(confident.fold(k % FOLDS), CONFIDENT_SHARE),
                    draw_seed, VARIANT_IGNORED_FEATURES))
        return cls(tuple(models), tuple(confident_models),
                   frozenset(confident.names) if confident_models and confident else frozenset())

    def evidence(self, features: np.ndarray, names: Sequence[tuple[str, str]] | None = None
                 ) -> np.ndarray:
        """Log likelihood ratio of "one person", the mean over the models; `names`, the
        slug pairs of the rows, tell the confident pairs."""
        evidence = np.mean([model.evidence(features) for model in self.models], axis=0)
        if names is None or not self.confident_models:
            return np.asarray(evidence, dtype=np.float64)
        chosen = np.flatnonzero([tuple(pair) in self.confident for pair in names])
        if not len(chosen):
            return np.asarray(evidence, dtype=np.float64)
        fold = np.array([pair_fold(*names[int(k)]) for k in chosen])
        each = np.array([model.evidence(features[chosen]) for model in self.confident_models])
        learnt_from = np.arange(len(self.confident_models)) % FOLDS
        may_score = learnt_from[:, None] != fold[None, :]
        scored = may_score.any(axis=0)  # not so with fewer models than folds: left as it is
        evidence[chosen[scored]] = ((each * may_score).sum(axis=0)[scored]
                                    / may_score.sum(axis=0)[scored])
        return np.asarray(evidence, dtype=np.float64)

    def describe(self) -> dict[str, object]:
        return {**self.models[0].describe(), "models": len(self.models),
                "training_pairs": sum(model.training_pairs for model in self.models),
                "confident_models": len(self.confident_models),
                "confident_pairs": len(self.confident)}
