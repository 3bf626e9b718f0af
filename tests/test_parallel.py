"""Work spread over forked processes (`pipeline/parallel.py`) and the stages that use it: the
same results, in the same order, with any number of workers."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builder import two_wei_zhangs
from hypothesis import example, given
from hypothesis import strategies as st
from test_variants import _variants_snapshot

from pipeline import parallel
from pipeline.anthology import snapshot, table_cache
from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main
from pipeline.parallel import contiguous_chunks, forked_map
from pipeline.resolve import clustering, paper_text, run
from pipeline.resolve.outputs import write_outputs
from pipeline.resolve.run import ResolveSettings, resolve


def _square_and_pid(number: int) -> tuple[int, int]:
    return number * number, os.getpid()


def test_results_come_back_in_task_order_from_forked_workers() -> None:
    with forked_map(_square_and_pid, 20, workers=2) as results:
        got = list(results)
    assert [square for square, _ in got] == [n * n for n in range(20)]
    pids = {pid for _, pid in got}
    assert os.getpid() not in pids and len(pids) <= 2


_PARENT = os.getpid()


def _square_but_a_worker_is_killed(number: int) -> int:
    if number == 5 and os.getpid() != _PARENT:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel does when memory runs out
    return number * number


def test_the_tasks_of_a_killed_worker_are_done_here(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.parallel"):
        with forked_map(_square_but_a_worker_is_killed, 20, workers=2) as results:
            assert list(results) == [n * n for n in range(20)]
    assert caplog.text.count("doing the rest of its share of the stage in this process") == 1
    assert "killed by SIGKILL" in caplog.text


def _sends_half_a_result_then_dies(task: Callable[[int], Any], numbers: range, sending: Any,
                                   parent: int) -> None:
    # Half a message: the length of a large result, then only part of it.
    os.write(sending.fileno(), struct.pack("!i", 1_000_000) + b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_while_sending_a_result_leaves_its_tasks_to_be_done_here(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # With a process pool's shared result pipe, half a message there hung the run for ever.
    monkeypatch.setattr(parallel, "_work_through", _sends_half_a_result_then_dies)
    with caplog.at_level(logging.WARNING, logger="pipeline.parallel"):
        with forked_map(_square_and_pid, 6, workers=2) as results:
            got = list(results)
    assert got == [(n * n, os.getpid()) for n in range(6)]
    assert caplog.text.count("ended without all its results") == 2


def _signal_handlers(number: int) -> tuple[object, object]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_workers_leave_ctrl_c_to_the_parent_and_die_on_sigterm() -> None:
    # The command line turns SIGTERM into KeyboardInterrupt; inherited, that hung a worker
    # stopped while it sent its result (a helper's Ctrl-C, 1 time in 5).
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        with forked_map(_signal_handlers, 4, workers=2) as results:
            handlers = set(results)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handlers == {(signal.SIG_IGN, signal.SIG_DFL)}
    assert parallel.Background(lambda: _signal_handlers(0), workers=2).result() == (
        signal.SIG_IGN, signal.SIG_DFL)


class _Stopped(Exception):
    pass


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped


_signal_while_forking = [False]


def _send_sigterm_while_forking() -> None:
    if _signal_while_forking[0]:
        os.kill(os.getpid(), signal.SIGTERM)


os.register_at_fork(after_in_parent=_send_sigterm_while_forking)


@pytest.mark.parametrize("other_thread", [False, True], ids=["one thread", "two threads"])
@pytest.mark.parametrize("starts", ["forked_map", "background"])
def test_a_sigterm_that_arrives_while_forking_stops_the_run(starts: str, other_thread: bool
                                                           ) -> None:
    # Raised in an after-fork hook, where Python drops it, it was lost: the run went on to
    # exit 0 (a helper's SIGTERM at that moment, 6 times in 6). Holding it back in the
    # forking thread was not enough where the process has another thread (Arrow's, once a
    # table is read): the signal went to that one (this test, 1 run of the suite in 3).
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    waiting = threading.Event()
    thread = threading.Thread(target=waiting.wait)
    if other_thread:
        thread.start()
    _signal_while_forking[0] = True
    try:
        with pytest.raises(_Stopped):
            if starts == "forked_map":
                with forked_map(_square_and_pid, 4, workers=2) as results:
                    list(results)
            else:
                parallel.Background(lambda: _square_and_pid(3), workers=2).result()
    finally:
        _signal_while_forking[0] = False
        signal.signal(signal.SIGTERM, previous)
        waiting.set()
        if other_thread:
            thread.join()


def _handlers_as_problems(paths: list[str]) -> tuple[dict[str, Any], list[Any]]:
    return {name: table_cache.SCHEMAS[name].empty_table() for name in table_cache.TABLE_NAMES}, [
        _signal_handlers(0)]


def test_parse_workers_leave_ctrl_c_to_the_parent_and_die_on_sigterm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The parse pool of a cold cache had the same inherited handler as forked_map's workers.
    paths = []
    for number in range(8):
        paths.append(tmp_path / f"{number}.xml")
        paths[-1].write_text("<collection/>")
    monkeypatch.setattr(snapshot, "_parse_files", _handlers_as_problems)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        _, handlers = snapshot.parse_xml_files(paths, workers=2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert handlers and set(handlers) == {(signal.SIG_IGN, signal.SIG_DFL)}


def _record_forks(monkeypatch: pytest.MonkeyPatch, module: object) -> list[tuple[int, int]]:
    """Make `module` call `forked_map` through a recorder; returns its (count, workers)."""
    calls: list[tuple[int, int]] = []

    def recording(task: Callable[[int], Any], count: int, workers: int
                  ) -> AbstractContextManager[Iterator[Any]]:
        calls.append((count, workers))
        return parallel.forked_map(task, count, workers)

    monkeypatch.setattr(module, "forked_map", recording)
    return calls


def test_paper_vectors_are_the_same_shared_out_among_forked_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["parsing", "translation", "speech", "summaries", "graphs", "tagging", "lexicon"]
    papers = pd.DataFrame({
        "paper": [f"2099.x-{i}" for i in range(60)],
        "title": [" ".join(words[(i + k) % len(words)] for k in range(i % 4 + 1))
                  for i in range(60)],
        "abstract": [None if i % 3 else " ".join(words[: i % len(words) + 1]) * (i % 5 + 1)
                     for i in range(60)]})
    model = paper_text.fit_paper_text(paper_text._texts(papers)).model
    rows = np.arange(3, 57)
    one = paper_text.papers_in_model(papers, rows, model, workers=1).vectors
    monkeypatch.setattr(paper_text, "MIN_FORKED_PAPERS", 0)
    forked = _record_forks(monkeypatch, paper_text)
    two = paper_text.papers_in_model(papers, rows, model, workers=2).vectors
    assert forked and forked[0][0] >= 2 and forked[0][1] == 2
    assert one.nnz > 0 and (one != two).nnz == 0
    assert np.array_equal(one.indptr, two.indptr) and np.array_equal(one.indices, two.indices)


def test_one_worker_runs_every_task_here() -> None:
    with forked_map(_square_and_pid, 5, workers=1) as results:
        got = list(results)
    assert got == [(n * n, os.getpid()) for n in range(5)]


def _fails_on_three(number: int) -> int:
    if number == 3:
        raise ValueError("task three is broken")
    return number


def test_a_failing_task_raises_in_the_parent() -> None:
    with pytest.raises(ValueError, match="task three is broken"):
        with forked_map(_fails_on_three, 8, workers=2) as results:
            list(results)
    # The pool is gone and the next map works.
    with forked_map(_square_and_pid, 3, workers=2) as results:
        assert [square for square, _ in results] == [0, 1, 4]


@example([0.0, 0.0, 0.0], 1)  # all free: found by hypothesis in session 31's CI
@given(st.lists(st.floats(0.0, 1e6), max_size=60), st.integers(1, 12))
def test_chunks_cover_every_position_once_in_order(costs: list[float], parts: int) -> None:
    chunks = contiguous_chunks(costs, parts)
    assert [p for chunk in chunks for p in chunk] == list(range(len(costs)))
    assert all(len(chunk) > 0 for chunk in chunks)
    assert len(chunks) <= parts + 1


def test_a_task_costing_more_than_its_share_is_a_chunk_of_its_own() -> None:
    chunks = contiguous_chunks([1.0, 1.0, 100.0, 1.0, 1.0, 1.0], 4)
    assert range(2, 3) in chunks or range(0, 3) in chunks
    assert [len(c) for c in chunks if 2 in c] in ([1], [3])
    assert len(contiguous_chunks([1.0] * 16, 4)) == 4


def test_worker_counts_stay_within_the_cores() -> None:
    cores = os.cpu_count() or 1
    assert parallel.worker_count(0) == min(parallel.MAX_WORKERS, cores)
    assert parallel.worker_count(1000) == cores
    assert parallel.worker_count(1) == 1


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_worker_count_is_refused_before_anything_runs(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["resolve", "--workers", value, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert "--workers: must be 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _fails() -> int:
    raise ValueError("the background task is broken")


def test_a_background_task_gives_its_result_or_its_exception() -> None:
    assert parallel.Background(lambda: os.getpid(), workers=2).result() != os.getpid()
    assert parallel.Background(lambda: os.getpid(), workers=1).result() == os.getpid()
    with pytest.raises(ValueError, match="background task is broken"):
        parallel.Background(_fails, workers=2).result()


def _logs_and_fails() -> None:
    logging.getLogger("pipeline.test").warning("read %s, but it was damaged", "state.json")
    raise ValueError("the background task is broken")


def test_a_background_task_s_messages_and_traceback_reach_the_parent(
        caplog: pytest.LogCaptureFixture) -> None:
    # Logged here when the result is taken (not written by the child onto whatever this
    # process draws), and the child's traceback kept as a note of its exception.
    job = parallel.Background(_logs_and_fails, workers=2)
    assert job._value is None  # forked
    with caplog.at_level(logging.WARNING, logger="pipeline.test"):
        with pytest.raises(ValueError) as raised:
            job.result()
    assert [r.getMessage() for r in caplog.records] == ["read state.json, but it was damaged"]
    assert "_logs_and_fails" in "".join(getattr(raised.value, "__notes__", []))


def test_a_dropped_background_task_is_stopped() -> None:
    job = parallel.Background(lambda: time.sleep(60), workers=2)
    process = job._process
    del job
    process.join(timeout=10)
    assert not process.is_alive()


def _killed_at_once(task: Callable[[], Any], sending: Any, parent: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _killed_while_sending(task: Callable[[], Any], sending: Any, parent: int) -> None:
    # Half a message: the length of a large result, then only part of it.
    os.write(sending.fileno(), struct.pack("!i", 1_000_000) + b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_background_task_whose_process_dies_while_sending_is_done_here(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_background_child", _killed_while_sending)
    assert parallel.Background(lambda: os.getpid(), workers=2).result() == os.getpid()


class _Unpicklable:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse, ())


def _refuse() -> None:
    if os.getpid() == _PARENT:
        raise RuntimeError("this result does not unpickle here")


def _unpicklable(number: int) -> _Unpicklable:
    return _Unpicklable()


def _collector_on() -> bool:
    return gc.isenabled()


class _CollectorOnWhenUnpickled:
    """Unpickles as whether the cyclic garbage collector ran at that moment."""

    def __reduce__(self) -> tuple[Callable[[], bool], tuple[()]]:
        return _collector_on, ()


def test_results_from_other_processes_unpickle_with_the_collector_paused() -> None:
    # Many objects unpickled at once set off collections that walk the parent's whole heap.
    assert gc.isenabled()
    assert parallel.Background(_CollectorOnWhenUnpickled, workers=2).result() is False
    with forked_map(lambda _: _CollectorOnWhenUnpickled(), 2, 2) as results:
        assert list(results) == [False, False]
    assert gc.isenabled()


def test_a_result_that_does_not_unpickle_raises_its_error() -> None:
    # Not a killed worker: doing the work here would hide the error.
    with pytest.raises(RuntimeError, match="does not unpickle here"):
        with forked_map(_unpicklable, 4, workers=2) as results:
            list(results)


def test_a_background_task_whose_process_is_killed_is_done_here(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # As when the kernel kills the process for want of memory: the work is not lost.
    monkeypatch.setattr(parallel, "_background_child", _killed_at_once)
    job = parallel.Background(lambda: os.getpid(), workers=2)
    with caplog.at_level(logging.WARNING, logger="pipeline.parallel"):
        assert job.result() == os.getpid()
    assert not job._process.is_alive()
    assert "killed by SIGKILL" in caplog.text and "in this process instead" in caplog.text
    with pytest.raises(ValueError, match="background task is broken"):
        parallel.Background(_fails, workers=2).result()


@pytest.mark.parametrize("fixture", ["two-wei-zhangs", "name-variants"])
def test_resolve_writes_the_same_bytes_with_two_workers_as_with_one(
        fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if fixture == "two-wei-zhangs":
        snapshot = read_snapshot(two_wei_zhangs(tmp_path / "anthology"))
        settings = ResolveSettings(names=("wei-zhang", "ingrid-solberg", "alice-nakamura",
                                          "dmitri-petrov"))
    else:
        snapshot = read_snapshot(_variants_snapshot(tmp_path / "anthology"))
        settings = ResolveSettings()
    forked = _record_forks(monkeypatch, clustering)
    backgrounds: list[int] = []

    class RecordingBackground(parallel.Background[Any]):
        def __init__(self, task: Callable[[], Any], workers: int) -> None:
            backgrounds.append(workers)
            super().__init__(task, workers)

    monkeypatch.setattr(run, "Background", RecordingBackground)
    # The fixtures are tiny: fork anyway, and cut the names' features into several batches.
    monkeypatch.setattr(clustering, "MIN_FORKED_WORK", 0.0)
    monkeypatch.setattr(clustering, "BATCH_ROWS", 4)
    monkeypatch.setattr(run, "BACKGROUND_MENTIONS", 0)
    written = {}
    graph_counts = {}
    for workers in (1, 2):
        out = tmp_path / f"workers-{workers}"
        resolution = resolve(snapshot, settings, workers=workers)
        write_outputs(resolution, out)
        assert resolution.learnt is not None  # what the night keeps: the same bytes too
        resolution.learnt.save(out / "models.pickle")
        written[workers] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
        graph_counts[workers] = resolution.models["graph"]
    assert written[1] == written[2]
    assert set(written[1]) >= {"assignments.csv", "proposals.json"}
    # The features and the splits of the names and the blind one were forked; the
    # name-string candidates, the graph's counts, and the placements (their split in one
    # process) with the split proposals were worked out in the background.
    workers_used = [workers for _, workers in forked]
    assert workers_used.count(2) >= 3 and set(workers_used) == {1, 2}
    assert backgrounds == [1, 1, 1, 2, 2, 2]
    assert graph_counts[1] == graph_counts[2] and graph_counts[1]["paper vertices"] > 0
    if fixture == "name-variants":  # the candidates found in the background were used
        assert json.loads(written[2]["proposals.json"])["variants"]["merges"]
    # Every background process killed at once: each task is done again in this process,
    # from what this process holds by then, to the same bytes.
    monkeypatch.setattr(parallel, "_background_child", _killed_at_once)
    out = tmp_path / "killed"
    resolution = resolve(snapshot, settings, workers=2)
    write_outputs(resolution, out)
    assert resolution.learnt is not None
    resolution.learnt.save(out / "models.pickle")
    assert {path.name: path.read_bytes() for path in sorted(out.iterdir())} == written[1]
