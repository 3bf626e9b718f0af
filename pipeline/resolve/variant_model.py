"""The name-variant model: how much the graph says two persons of two names are one.

Gradient-boosted trees (`cluster_merge.ClusterModel`) learn the log likelihood ratio from
synthetic homonyms cut at random (one person's papers under two strings), never from
curation. For pairs with little evidence, one model's answer moves by up to 2.4 log-odds
between two draws of synthetic homonyms with the same features (README, "Name variants"),
so which merges a run proposes depended on the draw. The model is the mean of
`VARIANT_DRAWS` such models, each learnt from its own draw (`variant_seeds`): measured on
the shared snapshot, that halves how many proposed pairs change from one draw to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.resolve.cluster_merge import ClusterModel
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
SEED_STEP = 1000  # draw k is seeded `seed + k * SEED_STEP`


def variant_seeds(seed: int) -> tuple[int, ...]:
    """The seed of each draw of synthetic homonyms the variant model learns from; the first
    is `seed` itself."""
    return tuple(seed + k * SEED_STEP for k in range(VARIANT_DRAWS))


@dataclass(frozen=True)
class VariantModel:
    """The mean evidence of cluster models learnt from several draws of synthetic homonyms."""

    models: tuple[ClusterModel, ...]

    @classmethod
    def fit(cls, context: EvidenceContext, draws: Sequence[SyntheticBlocks], seed: int
            ) -> VariantModel:
        """One model per draw (`draws[k]` drawn with `variant_seeds(seed)[k]`), its names
        cut at random with the same seed."""
        if not draws:
            raise ValueError("the variant model needs at least one draw of synthetic homonyms")
        return cls(tuple(ClusterModel.fit(context, draw, seed=draw_seed, cut="random",
                                          ignored=VARIANT_IGNORED_FEATURES)
                         for draw, draw_seed in zip(draws, variant_seeds(seed))))

    def evidence(self, features: np.ndarray) -> np.ndarray:
        """Log likelihood ratio of "one person", the mean over the models."""
        return np.asarray(np.mean([model.evidence(features) for model in self.models], axis=0),
                          dtype=np.float64)

    def describe(self) -> dict[str, object]:
        return {**self.models[0].describe(), "models": len(self.models),
                "training_pairs": sum(model.training_pairs for model in self.models)}
