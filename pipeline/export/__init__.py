"""Turning a resolution into what a maintainer commits: registry entries and `<author id>`
patches (`entries.py`, `attribution.py`), the migration to people.json (`migrate.py`) and the
pull-request summary (`pr_summary.py`)."""
