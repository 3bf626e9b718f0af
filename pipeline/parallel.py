"""Work spread over the machine's cores by forked processes that inherit what the parent built.

The stages that go name by name (pair features, the split) read large inputs the parent has
already built: the evidence vectors, the pair log-odds of every name. A forked child shares
them copy-on-write and sends back only its results, where a fresh process would have to be
sent them first. Results come back in the order of the tasks, so a run writes the same bytes
with any number of workers.

Forking is safe only while the parent runs no other thread: `forked_map` forks all its
workers before it yields, so callers start progress bars (which draw from a thread) inside
the `with` block, never around it. The tasks must not call scikit-learn's OpenMP code,
which can hang in the forked child of a process that used it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
import os
import signal
import sys
import traceback
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from threadpoolctl import threadpool_limits

R = TypeVar("R")
log = logging.getLogger(__name__)

# More workers than this gain little on the stages that use them (each is a fraction of a run)
# and each holds its own copy of the pages it writes.
MAX_WORKERS = 4

_task: Callable[[int], Any] | None = None  # what the forked workers run (set before forking)


def worker_count(requested: int = 0) -> int:
    """`requested` processes but at most one per core, or with 0 one per core (at most
    MAX_WORKERS); 1 where processes cannot be forked (there every task runs here)."""
    cores = os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(requested, cores)) if requested > 0 else min(MAX_WORKERS, cores)


@contextmanager
def forked_map(task: Callable[[int], R], count: int, workers: int) -> Iterator[Iterator[R]]:
    """Yield the results of `task(0)`, ..., `task(count - 1)`, in that order, computed by
    `workers` forked processes (in this process when `workers` or `count` is 1 or less).

    Every worker is forked before this yields; a task's exception is raised where its result
    is taken, and the tasks not yet started are cancelled. If a worker is killed (say by the
    kernel when memory ran out), the tasks without a result are done here, with a warning."""
    global _task
    if workers <= 1 or count <= 1:
        yield (task(number) for number in range(count))
        return
    if _task is not None:
        raise RuntimeError("forked_map cannot be nested")
    _task = task
    # Objects the parent holds stay out of the children's garbage collections, which would
    # otherwise write to (and so copy) every page they live on.
    gc.freeze()
    pool = ProcessPoolExecutor(min(workers, count), mp_context=multiprocessing.get_context(
        "fork"), initializer=start_worker, initargs=(os.getpid(),))
    try:
        # With the fork start method every worker is started at the first submit.
        futures = [pool.submit(_run_task, number) for number in range(count)]
        _task = None
        yield results_or_here(futures, task)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        _task = None
        pool.shutdown(wait=True)
        gc.unfreeze()


def results_or_here(futures: list[Future[R]], task: Callable[[int], R]) -> Iterator[R]:
    """The results of `futures` (`task(0)`, `task(1)`, ... submitted to a process pool), in
    order; once a worker was killed (the pool is broken), `task(k)` is done here for each
    future without a result, with one warning. A pool broken by an error of its own (a
    result that would not unpickle: the error is its cause) is raised as it is."""
    warned = False
    for number, future in enumerate(futures):
        try:
            yield future.result()
        except BrokenProcessPool as broken:
            if broken.__cause__ is not None:
                raise
            if not warned:
                log.warning("a worker process ended without its results (killed, perhaps "
                            "for want of memory); doing the rest of its stage in this "
                            "process instead")
                warned = True
            yield task(number)


class Background(Generic[R]):
    """One task running in a forked process while this one goes on; `result()` waits for it.

    The child sends its result (or its exception, with the child's traceback as a note)
    through a pipe, with what it logged: `result()` logs that here, so the task's messages
    come where and in the order they would without the fork (not onto a progress bar this
    process is drawing). If this object is dropped first (the caller failed), the child is
    killed. If the child ends without a result (killed, say by the kernel when memory ran
    out), the task is run again here, with a warning."""

    def __init__(self, task: Callable[[], R], workers: int) -> None:
        """With `workers` 1 or less, `task` runs here and now."""
        self._records: list[logging.LogRecord] = []
        if workers <= 1:
            self._value: tuple[bool, Any] | None = _outcome(task)
            return
        self._value = None
        self._task = task
        receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
        parent = os.getpid()
        process = multiprocessing.get_context("fork").Process(
            target=_background_child, args=(task, sending, parent), daemon=True)
        process.start()
        sending.close()
        self._receiving = receiving
        self._process = process
        self._finalizer = weakref.finalize(self, _stop, process, receiving)

    def result(self) -> R:
        if self._value is None:
            try:
                done, value, self._records = self._receiving.recv()
                self._value = (done, value)
            except (EOFError, OSError):  # OSError: it died while sending (half a message)
                self._finalizer()
                log.warning("the background process ended without its result (%s); doing "
                            "its work in this process instead", _ending(self._process))
                self._value = _outcome(self._task)
            finally:
                self._finalizer()
            for record in self._records:
                logging.getLogger(record.name).handle(record)
        done, value = self._value
        if not done:
            raise value
        result: R = value
        return result


def _ending(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (", perhaps for want of memory"
                                      if -code == signal.SIGKILL else "")
    return f"exit code {code}"


def _outcome(task: Callable[[], R]) -> tuple[bool, Any]:
    try:
        return True, task()
    except Exception as error:  # handed to the caller by Background.result
        return False, error


class _Kept(logging.Handler):
    """Keeps the records a forked child logs, ready to be sent to the parent."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The message as it reads here: its arguments or traceback may not pickle.
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _background_child(task: Callable[[], Any], sending: Connection, parent: int) -> None:
    start_worker(parent)
    kept = _Kept()
    logging.getLogger().handlers = [kept]  # this process's own copy of the configuration
    outcome = _outcome(task)
    if not outcome[0]:
        outcome[1].add_note("in the background process:\n" + "".join(
            traceback.format_exception(outcome[1])).rstrip())
    try:
        sending.send((*outcome, kept.records))
    except Exception as error:  # the exception itself would not pickle
        sending.send((False, RuntimeError(f"background task failed: {outcome[1]!r} "
                                          f"({error})"), kept.records))
    sending.close()


def _stop(process: BaseProcess, receiving: Connection) -> None:
    if process.is_alive():
        process.kill()
    process.join()
    receiving.close()


def contiguous_chunks(costs: list[float], parts: int) -> list[range]:
    """Cut positions 0..len(costs)-1 into about `parts` (at most `parts` + 1) consecutive
    ranges of about equal total cost (a task that costs more than its share is a range of
    its own)."""
    total = float(sum(costs))
    if not costs:
        return []
    share = total / max(parts, 1)
    chunks: list[range] = []
    start, filled = 0, 0.0
    for position, cost in enumerate(costs):
        filled += cost
        if filled >= share and position + 1 < len(costs):
            chunks.append(range(start, position + 1))
            start, filled = position + 1, 0.0
    chunks.append(range(start, len(costs)))
    return chunks


def _run_task(number: int) -> Any:
    assert _task is not None, "forked_map's task is set before its workers are forked"
    return _task(number)


def start_worker(parent: int) -> None:
    """Start-up of every forked worker (an initializer of any process pool of ours)."""
    die_with_parent(parent)
    # Only the parent answers Ctrl-C (it then waits for the running tasks and stops the
    # workers); a worker keeps the default SIGTERM. Inheriting the command line's handler,
    # which raises KeyboardInterrupt, a worker stopped while sending its result tried to
    # send the exception down the same pipe and hung the run (seen in 1 of 5 Ctrl-Cs).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One BLAS thread per worker: the workers already use every core, and BLAS threads
    # competing with the other workers for them spin instead of working (measured: two
    # workers split names no faster than one).
    threadpool_limits(1, user_api="blas")


def die_with_parent(parent: int) -> None:
    """Worker start-up: end when the parent ends, even by SIGKILL (Linux `PR_SET_PDEATHSIG`);
    otherwise a killed run leaves its workers blocked on a pipe for ever."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
