"""The garbage collector's setting for a whole run (the command line's process and the bench's
child processes, which time what a command does).

A run builds large structures that live until it ends (the tables, the registry, the
models). At CPython's default thresholds each phase that builds them set off full
collections that walked every one of them again and found next to nothing: 10 full
passes, 1.3 s of one core, in a night (`make bench` figures in the README). Collecting young
objects every GC_YOUNG_THRESHOLD new ones instead of every 700 leaves the full passes to the
rare times they pay; garbage cycles still go, a little later.
"""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 100_000


def collect_garbage_as_a_run_needs() -> None:
    """Young collections every GC_YOUNG_THRESHOLD new objects (older generations as they
    were)."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
