"""Benchmarks (`make bench`): speed and memory of each stage against a reference in the same run.

Every measurement runs in a fresh subprocess (so peak memory is its own), is repeated, and the
median wall time is reported. Peak memory is the process's maximum RSS plus the largest
worker's (an upper bound of what was resident at once).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text

Case = Callable[[Path, Path], None]


def _bare_lxml_parse(data_dir: Path, cache: Path) -> None:
    from lxml import etree

    for path in sorted((data_dir / "xml").glob("*.xml")):
        etree.parse(str(path))


def _parse_tables(data_dir: Path, cache: Path) -> None:
    from .snapshot import read_tables

    read_tables(data_dir, cache_dir=None)


def _parse_tables_one_process(data_dir: Path, cache: Path) -> None:
    from .snapshot import read_tables

    read_tables(data_dir, cache_dir=None, workers=1)


def _cold_cache(data_dir: Path, cache: Path) -> None:
    from .snapshot import read_tables

    shutil.rmtree(cache, ignore_errors=True)
    read_tables(data_dir, cache_dir=cache)


def _warm_cache(data_dir: Path, cache: Path) -> None:
    from .snapshot import read_tables

    read_tables(data_dir, cache_dir=cache)


def _read_snapshot_warm(data_dir: Path, cache: Path) -> None:
    from .snapshot import read_snapshot

    read_snapshot(data_dir, cache_dir=cache)


CASES: dict[str, Case] = {
    "bare_lxml_parse": _bare_lxml_parse,
    "parse_tables": _parse_tables,
    "parse_tables_1_process": _parse_tables_one_process,
    "tables_cold_cache": _cold_cache,
    "tables_warm_cache": _warm_cache,
    "read_snapshot_warm": _read_snapshot_warm,
}


def _run_one(name: str, data_dir: Path, cache: Path) -> dict[str, float]:
    """Child process: run one case once, report wall time and peak RSS.

    The package is imported before the clock starts: library import time is not parsing.
    """
    from . import snapshot  # noqa: F401

    start = time.perf_counter()
    CASES[name](data_dir, cache)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": own + children, "own_peak_mb": own}


def measure(name: str, data_dir: Path, cache: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.bench", "--one", name, "--data", str(data_dir),
             "--cache", str(cache)],
            check=True, capture_output=True, text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "case": name,
        "repeat": repeat,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "min_seconds": min(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def run_benchmarks(data_dir: Path, out_dir: Path, repeat: int, cases: list[str]) -> dict[str, Any]:
    from .progress import console

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        cache = Path(tmp)
        results = {}
        for name in cases:
            console.print(f"bench: {name} x{repeat}", highlight=False)
            results[name] = measure(name, data_dir, cache, repeat)
    reference = results.get("bare_lxml_parse", {}).get("median_seconds")
    for result in results.values():
        if reference:
            result["ratio_to_bare_lxml_parse"] = result["median_seconds"] / reference
    report = {"data_dir": str(data_dir), "cores": _cores(), "results": results}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "bench.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def format_report(report: dict[str, Any]) -> str:
    lines = ["| case | median s | ratio to bare lxml parse | peak MB |", "|---|---|---|---|"]
    for name, r in report["results"].items():
        ratio = r.get("ratio_to_bare_lxml_parse")
        ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
        lines.append(f"| {name} | {r['median_seconds']:.2f} | {ratio_text} | "
                     f"{r['peak_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process (`python -m pipeline.bench --one CASE`)."""
    parser = argparse.ArgumentParser(description="run one benchmark case (internal)")
    parser.add_argument("--one", required=True, choices=sorted(CASES))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(_run_one(args.one, args.data, args.cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
