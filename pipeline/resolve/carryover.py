"""What one run of `resolve` hands to the next: the models it learnt and what it decided.

The nightly job (`pipeline/nightly/`) keeps a `LearntModels` in its state, so a night that
only adds papers learns nothing again: it splits only the names whose inputs changed, with
the models of the run that learnt them, and keeps everyone else's clusters as they were.
`Carryover` is what it passes into `resolve` for that; `splice` puts the recomputed names'
rows in place of their earlier ones.

The models are stored with pickle: the state directory is the job's own output, restored from
its own cache, never something downloaded (pickle runs code when it loads).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.anthology.atomic import atomic_write_bytes
from pipeline.resolve.ambiguity import AmbiguityModel
from pipeline.resolve.assignment import PlacementConfidence
from pipeline.resolve.confidence_calibration import ConfidenceCalibration
from pipeline.resolve.issued_ids import IssuedIds
from pipeline.resolve.pair_evidence import PairEvidence
from pipeline.resolve.pair_model import PairModel
from pipeline.resolve.paper_text import TextModel
from pipeline.resolve.variant_decision import VariantLink
from pipeline.resolve.variant_model import VariantModel

MODELS_VERSION = "learnt-models-v2"


class StaleModelsError(Exception):
    """Stored models written by another version of this code, or unreadable."""


@dataclass(frozen=True)
class LearntModels:
    """Everything `resolve` learns from a snapshot before it splits names."""

    ambiguity: AmbiguityModel
    evidence: PairModel  # the pair model's evidence, learnt from synthetic homonyms
    pair: PairModel  # what splits: `evidence`, or it refitted on the curation (--calibrate)
    calibration: ConfidenceCalibration  # raw cluster confidence -> probability
    placement: PlacementConfidence
    variants: VariantModel | None  # None: the run looked for no name variants
    text: TextModel  # words of titles and abstracts
    affiliations: TfidfVectorizer | None  # character n-grams of affiliations

    def save(self, path: Path) -> None:
        """Each distinct model pickled on its own: pickled together, models that share parts
        (the placement model, learnt in this process, shares some with the calibration;
        learnt in another process it shares none) gave other bytes for equal models."""
        names = [field.name for field in fields(self)]
        distinct: list[Any] = []
        positions = []
        for value in (getattr(self, name) for name in names):
            position = next((k for k, seen in enumerate(distinct) if seen is value), None)
            if position is None:
                distinct.append(value)
                position = len(distinct) - 1
            positions.append(position)
        blobs = [pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) for value in distinct]
        atomic_write_bytes(path, pickle.dumps((MODELS_VERSION, names, positions, blobs),
                                              protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: Path) -> LearntModels:
        try:
            stored = pickle.loads(path.read_bytes())
            version = stored[0] if isinstance(stored, tuple) and stored else None
            if version != MODELS_VERSION:
                raise StaleModelsError(f"{path}: written by another version ({version})")
            _, names, positions, blobs = stored
            values = [pickle.loads(blob) for blob in blobs]
            models = cls(**{name: values[k] for name, k in zip(names, positions)})
        except StaleModelsError:
            raise
        except Exception as error:  # any unpickling failure means: learn again
            raise StaleModelsError(f"{path}: cannot be read ({error})") from error
        return models


@dataclass(frozen=True)
class Carryover:
    """The previous run, as `resolve` uses it.

    `assignments`: its assignments (person ids are kept stable against them). With `models`,
    nothing is learnt again; with `changed` as well, only those names are split again and
    the others keep their rows in `assignments`; `links` are the previous scored name-variant
    links, kept for pairs of unchanged names; `evidence` the pair evidence the previous run
    kept (used only with its `models`); `issued` the labels and ids given out on any earlier
    night, never given to another cluster (`issued_ids.py`).
    """

    assignments: pd.DataFrame
    models: LearntModels | None = None
    changed: frozenset[str] | None = None
    links: tuple[VariantLink, ...] = ()
    evidence: PairEvidence | None = None
    issued: IssuedIds = IssuedIds()


def splice(previous: pd.DataFrame, current: pd.DataFrame, changed: frozenset[str],
           name_column: str) -> pd.DataFrame:
    """`previous` without the rows of `changed` names, plus `current` (the recomputed rows
    of those names); `name_column` holds each row's name slug."""
    kept = previous[~previous[name_column].isin(changed)]
    if {"paper", "role", "position"} <= set(kept.columns) and len(current):
        # A mention is in one name only; the recomputed rows win over any earlier one.
        keys = ["paper", "role", "position"]
        recomputed = pd.MultiIndex.from_frame(current[keys])
        kept = kept[~pd.MultiIndex.from_frame(kept[keys]).isin(recomputed)]
    if not len(kept):
        return current.reset_index(drop=True)
    if not len(current):
        return kept.reset_index(drop=True)
    return pd.concat([kept, current], ignore_index=True)
