"""Benchmarks (`make bench`): speed and memory of each stage against a reference in the same run.

Every measurement runs in a fresh subprocess (so peak memory is its own), is repeated, and the
median wall time is reported. Peak memory is the highest sampled (every 50 ms) sum of the
proportional set size (PSS, from /proc) of the process and all its descendants: pages shared
between the parent and its parse workers count once. (Adding the children's maximum RSS
instead double-counts: a short helper forked by a library reports the parent's whole RSS.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.anthology.atomic import atomic_write_text
from pipeline.garbage import collect_garbage_as_a_run_needs

Case = Callable[[Path, Path], None]


def _bare_lxml_parse(data_dir: Path, cache: Path) -> None:
    from lxml import etree

    for path in sorted((data_dir / "xml").glob("*.xml")):
        etree.parse(str(path))


def _parse_tables(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_tables

    read_tables(data_dir, cache_dir=None)


def _parse_tables_one_process(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_tables

    read_tables(data_dir, cache_dir=None, workers=1)


def _cold_cache(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_tables

    shutil.rmtree(cache, ignore_errors=True)
    read_tables(data_dir, cache_dir=cache)


def _warm_cache(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_tables

    read_tables(data_dir, cache_dir=cache)


def _read_snapshot_warm(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_snapshot

    read_snapshot(data_dir, cache_dir=cache)


def _resolve_end_to_end(data_dir: Path, cache: Path) -> None:
    """What `make resolve` does after start-up: read (cache warm), resolve, write outputs."""
    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.outputs import write_outputs
    from pipeline.resolve.run import ResolveSettings, resolve

    snapshot = read_snapshot(data_dir, cache_dir=cache)
    resolution = resolve(snapshot, ResolveSettings())
    write_outputs(resolution, cache / "resolve-out")


def _resolve_command(data_dir: Path, cache: Path) -> None:
    """`anthology-resolve resolve` as `make resolve` runs it, cache warm: the whole process,
    with the start-up (imports) and the end that `resolve_warm_cache` leaves out."""
    subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", "resolve", "--anthology",
                    str(data_dir), "--cache", str(cache), "--out",
                    str(cache / "resolve-command-out")], check=True, capture_output=True)


def _resolve_cold(data_dir: Path, cache: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    _resolve_end_to_end(data_dir, cache)


def _name_variants(data_dir: Path, cache: Path) -> None:
    """Name variants alone on the whole snapshot (every name its own person, or the registry's):
    read (cache warm), candidates, the evidence they need, decisions."""
    from pipeline.anthology.person_units import person_units
    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.resolve.variants import find_variants

    snapshot = read_snapshot(data_dir, cache_dir=cache)
    mentions = snapshot.mentions
    catch_all = snapshot.registry.catch_all_ids()
    find_variants(mentions, snapshot.papers, person_units(mentions, None, catch_all), seed=42,
                  cache_dir=cache, catch_all=catch_all)


def _resolution_of(cache: Path) -> Path:
    """The resolution `resolve_warm_cache` wrote earlier in this run (the order of CASES)."""
    resolution = cache / "resolve-out"
    if not (resolution / "proposals.json").is_file():
        raise RuntimeError("review_pages and gephi_graphs need a resolution: run the case "
                           "resolve_warm_cache before them")
    return resolution


def _review_pages(data_dir: Path, cache: Path) -> None:
    """What `make review` does after resolving: read, render every page (the command, in a
    child process: the benchmark lies below the command line)."""
    _command("review", data_dir, cache, cache / "review-out")


def _gephi_graphs(data_dir: Path, cache: Path) -> None:
    """What `make graphs` does after resolving: read, lay out and write every graph."""
    _command("graphs", data_dir, cache, cache / "graphs-out")


def _command(name: str, data_dir: Path, cache: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", name, "--anthology",
                    str(data_dir), "--cache", str(cache), "--resolution",
                    str(_resolution_of(cache)), "--out", str(out), "--force"], check=True)


# The volume the nightly cases add: the example, one of the largest.
NIGHTLY_VOLUME = "2024.acl.xml"


def _nightly_paths(data_dir: Path, cache: Path) -> tuple[Path, Path, Path]:
    """The snapshot less NIGHTLY_VOLUME (symbolic links), the state of a night on it, and
    the state of the next night, with the volume back."""
    base = cache / "nightly"
    return base / "without" / "data", base / "state-without", base / "state-with"


def _prepare_nightly(data_dir: Path, cache: Path) -> None:
    """Two nights, not timed: the snapshot without the volume, then with it."""
    without, state_without, state_with = _nightly_paths(data_dir, cache)
    if (state_with / "run" / "manifest.json").is_file():
        return
    if not (data_dir / "xml" / NIGHTLY_VOLUME).is_file():
        raise RuntimeError(f"the nightly cases add {NIGHTLY_VOLUME}, which {data_dir} lacks")
    (without / "xml").mkdir(parents=True, exist_ok=True)
    for path in sorted((data_dir / "xml").glob("*.xml")):
        if path.name != NIGHTLY_VOLUME:
            (without / "xml" / path.name).symlink_to(path.resolve())
    for sub in ("yaml", "json"):
        if (data_dir / sub).is_dir():
            (without / sub).symlink_to((data_dir / sub).resolve())
    _nightly_command(without, state_without)
    _copy_state(state_without, state_with)
    _nightly_command(data_dir, state_with)


def _copy_state(source: Path, target: Path) -> None:
    """Hard links: a night replaces its files by renaming, it never writes into them."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=os.link)


def _nightly_command(data_dir: Path, state: Path) -> None:
    subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", "nightly", "--anthology",
                    str(data_dir), "--state", str(state)], check=True, capture_output=True)


def _night_was(state: Path, mode: str) -> None:
    """A bench night that ran another way than the case means measures something else."""
    ran = json.loads((state / "report.json").read_text(encoding="utf-8"))["run"]
    if ran["mode"] != mode:
        raise RuntimeError(f"the night in {state} ran {ran['mode']} ({ran['reason']}), "
                           f"not {mode}: the measurement would not be of this case")


def _nightly_unchanged(data_dir: Path, cache: Path) -> None:
    """`anthology-resolve nightly` on the snapshot its state has seen (the whole process)."""
    state = _nightly_paths(data_dir, cache)[2]
    _nightly_command(data_dir, state)
    _night_was(state, "unchanged")


def _nightly_add_volume(data_dir: Path, cache: Path) -> None:
    """`anthology-resolve nightly` when NIGHTLY_VOLUME arrived since the last night (the
    whole process; a hard-linked copy of that night's state, made in a few milliseconds)."""
    _, state_without, _ = _nightly_paths(data_dir, cache)
    tonight = cache / "nightly" / "state-tonight"
    _copy_state(state_without, tonight)
    _nightly_command(data_dir, tonight)
    _night_was(tonight, "incremental")


def _evaluate(data_dir: Path, cache: Path) -> None:
    from pipeline.anthology.snapshot import read_snapshot
    from pipeline.evaluate.run import EvalSettings, evaluate

    evaluate(read_snapshot(data_dir, cache_dir=cache), EvalSettings())


CASES: dict[str, Case] = {
    "bare_lxml_parse": _bare_lxml_parse,
    "parse_tables": _parse_tables,
    "parse_tables_1_process": _parse_tables_one_process,
    "tables_cold_cache": _cold_cache,
    "tables_warm_cache": _warm_cache,
    "read_snapshot_warm": _read_snapshot_warm,
    "resolve_cold_cache": _resolve_cold,
    "resolve_warm_cache": _resolve_end_to_end,
    "resolve_command": _resolve_command,
    "name_variants": _name_variants,
    "review_pages": _review_pages,
    "gephi_graphs": _gephi_graphs,
    "evaluate": _evaluate,
    "nightly_unchanged": _nightly_unchanged,
    "nightly_add_volume": _nightly_add_volume,
}
# Run once before a case is measured, not timed.
PREPARE: dict[str, Case] = {"nightly_unchanged": _prepare_nightly,
                            "nightly_add_volume": _prepare_nightly,
                            "resolve_command": _resolve_command}  # warms the caches


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


class _PeakSampler(threading.Thread):
    """Samples the PSS of this process tree until stopped; `peak_mb` is the maximum."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = sum(_pss_kb(pid) for pid in _descendants(os.getpid()))
            self.peak_kb = max(self.peak_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_kb / 1024


def _run_one(name: str, data_dir: Path, cache: Path, memory: bool) -> dict[str, float]:
    """Child process: run one case once; report wall time, or (memory=True) peak memory.

    The package is imported before the clock starts: library import time is not parsing.
    Memory is sampled in a separate run, so sampling never slows a timed run.
    """
    import pipeline.anthology.snapshot  # noqa: F401
    import pipeline.evaluate.run  # noqa: F401
    import pipeline.resolve.outputs  # noqa: F401
    import pipeline.resolve.run  # noqa: F401

    sampler = _PeakSampler() if memory else None
    if sampler is not None:
        sampler.start()
    start = time.perf_counter()
    CASES[name](data_dir, cache)
    seconds = time.perf_counter() - start
    peak = sampler.stop() if sampler is not None else 0.0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": max(peak, own)}


def _child(name: str, data_dir: Path, cache: Path, memory: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "pipeline.bench", "--one", name, "--data", str(data_dir),
               "--cache", str(cache)] + (["--memory"] if memory else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(name: str, data_dir: Path, cache: Path, repeat: int) -> dict[str, Any]:
    runs = [_child(name, data_dir, cache, memory=False) for _ in range(repeat)]
    memory = _child(name, data_dir, cache, memory=True)
    return {
        "case": name,
        "repeat": repeat,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "min_seconds": min(r["seconds"] for r in runs),
        "peak_mb": memory["peak_mb"],
    }


def run_benchmarks(data_dir: Path, out_dir: Path, repeat: int, cases: list[str]) -> dict[str, Any]:
    from pipeline.progress import console

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        cache = Path(tmp)
        results = {}
        for name in cases:
            if name in PREPARE:
                console.print(f"bench: preparing {name}", highlight=False)
                PREPARE[name](data_dir, cache)
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
    parser.add_argument("--memory", action="store_true", help="sample peak memory")
    args = parser.parse_args(argv)
    collect_garbage_as_a_run_needs()
    print(json.dumps(_run_one(args.one, args.data, args.cache, args.memory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
