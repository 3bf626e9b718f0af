"""Deciding who is who: the heterogeneous graph, name ambiguity, pair evidence, the pair model,
the Leiden split and matching clusters to persons (`run.py` is the main job). Never writes
Anthology files and never imports `export`, `evaluate` or the command line."""
