"""The pair features, by name, and the kinds of evidence they make up.

Kept apart from `evidence.py` (which needs scikit-learn) so the command line can list the
kinds without loading the models.
"""

FEATURE_NAMES = (
    "shared_coauthors_idf", "shared_coauthor_count", "two_hop_cosine", "affiliation_cosine",
    "both_affiliations", "text_cosine", "venue_jaccard", "year_gap", "name_commonness",
)

# The kinds of evidence an ablation removes one at a time, and the features each is made of.
EVIDENCE_KINDS: dict[str, tuple[str, ...]] = {
    "coauthors": ("shared_coauthors_idf", "shared_coauthor_count"),
    "coauthor_of_coauthor": ("two_hop_cosine",),
    "affiliation": ("affiliation_cosine", "both_affiliations"),
    "title_abstract": ("text_cosine",),
    "venue": ("venue_jaccard",),
    "years": ("year_gap",),
    "name_commonness": ("name_commonness",),
}
