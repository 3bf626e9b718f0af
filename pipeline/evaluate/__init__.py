"""Scoring against the curation: blinding, metrics, baselines and the blind evaluation
(`run.py`)."""
