"""Scoring against the curation: metrics, baselines and the blind evaluation
(`run.py`)."""
