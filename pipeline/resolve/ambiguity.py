"""How likely a name string covers more than one person: features and a ranking of all names.

Per name (slug):
- `commonness`: log of the expected number of people sharing the name if given and family
  names combined at random: log(#names with this given name * #names with this family name /
  #names). "Yang Liu" scores high, "Iryna Gurevych" very low;
- `components_per_mention`: its mentions linked by shared coauthors fall apart into this many
  connected components per mention (one person's papers tend to hang together);
- `mentions`, `years` (span), `venues`: how much there is;
- `catch_all`: the registry already says "May refer to several people";
- `registry_persons`: how many registry persons use the name; `unverified`: none does.

The score is a logistic regression on these features, learnt from the curated blocks (gold:
does a block hold 2+ identities?). Without enough curation a fixed rule ranks by commonness and
fragmentation instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.anthology.names import name_slug
from pipeline.anthology.registry import Registry
from pipeline.resolve.authorship import Authorship

SCORE_FEATURES = ("commonness", "log_mentions", "components_per_mention", "log_components",
                  "years", "log_venues", "catch_all", "registry_persons", "unverified")


def name_commonness(mentions: pd.DataFrame) -> pd.Series:
    """Per slug: log expected number of people sharing the name (see module docstring)."""
    names = mentions.drop_duplicates("slug")[["slug", "first", "last"]]
    given_counts = _same_slug_counts(names["first"])
    family_counts = _same_slug_counts(names["last"])
    values = np.log(given_counts * family_counts / len(names))
    return pd.Series(values, index=names["slug"].to_numpy(), name="commonness")


def _same_slug_counts(parts: pd.Series) -> np.ndarray:
    """For each name part, how many of `parts` have its slug ("" for none); each distinct
    part is slugged once."""
    codes, distinct = pd.factorize(parts)
    slugs = np.array([name_slug(None, part) if part else "" for part in distinct.tolist()]
                     + [""],
                     dtype=object)
    slug_codes, _ = pd.factorize(slugs[codes])
    counts: np.ndarray = np.bincount(slug_codes)[slug_codes].astype(float)
    return counts


def name_features(mentions: pd.DataFrame, registry: Registry | None,
                  authorship: Authorship, commonness: pd.Series | None = None
                  ) -> pd.DataFrame:
    """One row per slug with the features in SCORE_FEATURES (plus raw counts).
    `commonness`: `name_commonness(mentions)`, if the caller has it already."""
    grouped = mentions.groupby("slug")
    years = grouped["year"]
    features = pd.DataFrame({
        "mentions": grouped.size(),
        "years": (years.max() - years.min()).astype(float).fillna(0.0),
        "venues": grouped["venues"].nunique(),
    })
    if commonness is None:
        commonness = name_commonness(mentions)
    features["commonness"] = commonness.reindex(features.index)
    features["components"] = authorship.coauthor_components().reindex(features.index)
    features["components_per_mention"] = features["components"] / features["mentions"]
    features["log_components"] = np.log(features["components"])
    features["log_mentions"] = np.log(features["mentions"])
    features["log_venues"] = np.log1p(features["venues"])
    persons_named: Counter[str] = Counter()
    catch_all_named: set[str] = set()
    if registry is not None:
        for person in registry.persons.values():
            slugs = {name.slug for name in person.names}
            persons_named.update(slugs)
            if person.is_catch_all:
                catch_all_named.update(slugs)
    registry_persons = pd.Series(persons_named, dtype=float).reindex(features.index,
                                                                    fill_value=0.0)
    features["catch_all"] = features.index.isin(list(catch_all_named)).astype(float)
    features["registry_persons"] = registry_persons
    features["unverified"] = (registry_persons == 0).astype(float)
    return features


@dataclass
class AmbiguityModel:
    """Scores names; `model` is None for the fallback rule."""

    model: object | None = None
    training_blocks: int = 0

    @classmethod
    def fit(cls, features: pd.DataFrame, shared: pd.Series) -> AmbiguityModel:
        """Learn from curated blocks: `shared` is True where a block holds 2+ identities."""
        labels = shared.reindex(features.index).dropna().astype(bool)
        if len(labels) < 50 or labels.nunique() < 2:
            return cls(None, len(labels))
        x = features.loc[labels.index, list(SCORE_FEATURES)].to_numpy(float)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(x, labels.to_numpy())
        return cls(model, len(labels))

    def score(self, features: pd.DataFrame) -> pd.Series:
        x = features[list(SCORE_FEATURES)].to_numpy(float)
        if self.model is None:
            logit = (1.0 * features["commonness"] + 3.0 * features["components_per_mention"]
                     + 0.5 * features["log_components"] + 2.0 * features["catch_all"] - 1.0)
            values = 1 / (1 + np.exp(-logit.to_numpy(float)))
        else:
            values = self.model.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
        return pd.Series(values, index=features.index, name="ambiguity")
