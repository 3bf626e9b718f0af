"""The names of the files `resolve` writes, apart from `outputs.py` (which loads the models:
seconds), so the command line can check `--out` before anything else and the nightly job
can list its results without that import."""

RESOLUTION_FILES = ("assignments.csv", "proposals.json", "placements.csv", "ambiguity.csv")
