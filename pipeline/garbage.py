"""The garbage collector's setting for a whole run (the command line's process and the bench's
child processes, which time what a command does).

A run builds large structures that live until it ends (the tables, the registry, the
models). At CPython's default thresholds each phase that builds them set off full
collections that walked every one of them again and found next to nothing: 10 full
passes, 1.3 s of one core, in a night (`make bench` figures in the README). Collecting young
objects every GC_YOUNG_THRESHOLD new ones instead of every 700 leaves the full passes to the
rare times they pay; garbage cycles still go, a little later.

Where millions of small objects that form no cycles are made at once (parsing, unpickling
a result from another process, the candidate search), `cyclic_gc_paused` stops the collector
for that stretch: it would otherwise walk the run's large heap again and again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_YOUNG_THRESHOLD = 100_000


def collect_garbage_as_a_run_needs() -> None:
    """Young collections every GC_YOUNG_THRESHOLD new objects (older generations as they
    were)."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (as it was after)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
