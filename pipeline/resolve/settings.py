"""The settings of a `resolve` run (light to import: the command line builds them before it
loads the pipeline)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RESOLUTION = 0.0  # Leiden CPM resolution on pair log-odds
DEFAULT_SEED = 42
# No gate: every name with 2+ mentions is considered (a gate at 0.5 skipped 47% of the
# multi-identity names in the as-a-user evaluation; see README).
DEFAULT_MIN_AMBIGUITY = 0.0
# Placements with a confidence below this go to a curator (a policy, set before measuring:
# a curator checks what is more than one time in ten wrong).
REVIEW_BELOW = 0.9


@dataclass(frozen=True)
class ResolveSettings:
    resolution: float = DEFAULT_RESOLUTION
    seed: int = DEFAULT_SEED
    min_ambiguity: float = DEFAULT_MIN_AMBIGUITY  # names scored lower are not split
    names: tuple[str, ...] = ()  # resolve exactly these slugs instead of choosing
    # A cluster without an id or ORCID becomes a new person only with this much evidence;
    # otherwise its mentions stay with the name's catch-all.
    min_person_mentions: int = 2
    min_person_confidence: float = 0.5
    calibrate: bool = False  # refit the pair model's prior on the snapshot's curation
    merge_clusters: bool = False  # the cluster-level merge after the split
    variants: bool = True  # propose name variants (merges of persons across names)

    def __post_init__(self) -> None:
        # `--name x --name x` is one name (each was split twice and the run crashed).
        object.__setattr__(self, "names", tuple(dict.fromkeys(self.names)))
