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
import pickle
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, Protocol, TypeVar

from threadpoolctl import threadpool_limits

from pipeline.garbage import cyclic_gc_paused

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
log = logging.getLogger(__name__)

# More workers than this gain little on the stages that use them (each is a fraction of a run)
# and each holds its own copy of the pages it writes.
MAX_WORKERS = 4

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

    Every worker is forked before this yields, and worker k does tasks k, k + workers, ...
    (callers cut the work into parts of about equal cost). A task's exception is raised where
    its result is taken, and the workers are stopped. If a worker is killed (say by the
    kernel when memory ran out), the tasks it left without a result are done here, with a
    warning."""
    if workers <= 1 or count <= 1:
        yield (task(number) for number in range(count))
        return
    # Objects the parent holds stay out of the children's garbage collections, which would
    # otherwise write to (and so copy) every page they live on.
    gc.freeze()
    try:
        with _ForkedWorkers(task, count, min(workers, count)) as forked:
            yield forked.results()
    finally:
        gc.unfreeze()


class _ForkedWorkers(Generic[R]):
    """The processes of one `forked_map`, each sending its results through a pipe of its own.

    Not a `concurrent.futures` process pool: its workers share one result pipe, and a worker
    killed half-way through writing a result there left the pool waiting for the rest of the
    message for ever (this process holds that pipe's write end). Here only the worker holds
    the write end of its pipe, so its death reads as the end of the pipe."""

    def __init__(self, task: Callable[[int], R], count: int, workers: int) -> None:
        self._task = task
        self._count = count
        self._workers = workers
        self._processes: list[BaseProcess] = []
        self._pipes: list[Connection] = []
        context = multiprocessing.get_context("fork")
        parent = os.getpid()
        try:
            for worker in range(workers):
                receiving, sending = context.Pipe(duplex=False)
                self._pipes.append(receiving)
                process = context.Process(
                    target=_work_through, daemon=True,
                    args=(task, range(worker, count, workers), sending, parent))
                # Listed before it starts: a stop signal let through as the fork ends must
                # still find it to stop.
                self._processes.append(process)
                start_forked(process)
                sending.close()
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> _ForkedWorkers[R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop every worker still running (the results are no longer wanted) and close the
        pipes."""
        started = [process for process in self._processes if process.pid is not None]
        for process in started:
            if process.is_alive():
                process.kill()
        for process in started:
            process.join()
            process.close()  # its file descriptor, not left to the garbage collector
        for pipe in self._pipes:
            pipe.close()

    def results(self) -> Iterator[R]:
        """The results in task order; while waiting for one, whatever any worker sent is
        read and kept, so that no worker waits on a full pipe for this process."""
        received: dict[int, tuple[bool, Any]] = {}
        waiting = {pipe: worker for worker, pipe in enumerate(self._pipes)}
        remaining = [len(range(worker, self._count, self._workers))
                     for worker in range(self._workers)]
        for number in range(self._count):
            while number not in received and self._pipes[number % self._workers] in waiting:
                for pipe in connection_wait(list(waiting)):
                    assert isinstance(pipe, Connection)
                    worker = waiting[pipe]
                    try:
                        message = pipe.recv_bytes()
                    except (EOFError, OSError):  # OSError: it died while sending
                        del waiting[pipe]
                        self._processes[worker].join()
                        log.warning("worker process %d of %d ended without all its results "
                                    "(%s); doing the rest of its share of the stage in this "
                                    "process instead", worker + 1, self._workers,
                                    _ending(self._processes[worker]))
                        continue
                    with cyclic_gc_paused():  # see `Background.result`
                        done_number, done, value = pickle.loads(message)
                    received[done_number] = (done, value)
                    remaining[worker] -= 1
                    if remaining[worker] == 0 or not done:  # a failed worker stops there
                        del waiting[pipe]
            if number not in received:
                yield self._task(number)
                continue
            done, value = received.pop(number)
            if not done:
                raise value
            yield value


def _work_through(task: Callable[[int], Any], numbers: range, sending: Connection,
                  parent: int) -> None:
    """A forked worker: `task(number)` for each of `numbers`, each result sent as it is done;
    after a failed task, nothing more."""
    start_worker(parent)
    for number in numbers:
        done, value = _outcome(partial(task, number), f"worker process {os.getpid()}")
        try:
            message = pickle.dumps((number, done, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # the result or the exception would not pickle
            done, value = False, RuntimeError(
                f"task {number} failed in a worker process: {value!r} ({error})")
            message = pickle.dumps((number, done, value))
        sending.send_bytes(message)
        if not done:
            break
    sending.close()


class Pending(Protocol[R_co]):
    """A result being computed (a `Background`, or something holding one)."""

    def result(self) -> R_co: ...


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
        start_forked(process)
        sending.close()
        self._receiving = receiving
        self._process = process
        self._finalizer = weakref.finalize(self, _stop, process, receiving)

    def result(self) -> R:
        if self._value is None:
            try:
                # Unpickled, a large result is many objects at once: with the collector on,
                # they set off collections that walk this process's heap (state of the
                # night: 0.43 s against 0.16 s).
                with cyclic_gc_paused():
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


def _outcome(task: Callable[[], R], where: str | None = None) -> tuple[bool, Any]:
    """(True, result) or (False, the exception); `where`: the forked process it ran in, for
    a note on the exception with the traceback there (the parent raises it)."""
    try:
        return True, task()
    except Exception as error:  # handed to the caller by Background.result
        if where is not None:
            error.add_note(f"in {where}:\n" + "".join(
                traceback.format_exception(error)).rstrip())
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
    outcome = _outcome(task, "the background process")
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
        # share > 0: costs that are all zero make one range, not one per position.
        if share > 0 and filled >= share and position + 1 < len(costs):
            chunks.append(range(start, position + 1))
            start, filled = position + 1, 0.0
    chunks.append(range(start, len(costs)))
    return chunks


# Held back while a process is forked (`start_forked`).
_STOPPING_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def start_forked(process: BaseProcess) -> None:
    """`process.start()` (a fork whose target begins with `start_worker`) with Ctrl-C and
    SIGTERM held back until it is done. One that arrived during the fork was raised in an
    after-fork hook (logging's), where Python drops it: the run went on to exit 0 (a helper,
    6 SIGTERMs in 6); in the child it came before `start_worker` set its handlers.

    Blocking covers this thread and the child. Another thread of the process (Arrow's,
    once a table is read) may still take the signal, and Python then runs the handler here
    at its next chance, in the hook: so for the length of the fork the handlers only note
    the signal, and it is raised again once the fork is done."""
    _libc()  # looked up here once, not by every child
    noted: list[int] = []
    in_main_thread = threading.current_thread() is threading.main_thread()
    handlers = {number: signal.signal(number, lambda signum, frame: noted.append(signum))
                for number in _STOPPING_SIGNALS} if in_main_thread else {}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING_SIGNALS)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for number, handler in handlers.items():  # None: set outside Python; the default
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
    for noted_signal in noted:
        signal.raise_signal(noted_signal)


def start_worker(parent: int) -> None:
    """Start-up of every forked worker (of `forked_map` and of `Background`)."""
    # Only the parent answers Ctrl-C (it then stops the workers); a worker keeps the
    # default SIGTERM. Inheriting the command line's handler, which raises
    # KeyboardInterrupt, a worker stopped while sending its result tried to send the
    # exception down the same pipe and hung the run (seen in 1 of 5 Ctrl-Cs).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING_SIGNALS)  # see `start_forked`
    die_with_parent(parent)
    # One BLAS thread per worker: the workers already use every core, and BLAS threads
    # competing with the other workers for them spin instead of working (measured: two
    # workers split names no faster than one).
    threadpool_limits(1, user_api="blas")


@cache
def _libc() -> ctypes.CDLL | None:
    """The C library on Linux (finding it runs `ldconfig`), else None."""
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(parent: int) -> None:
    """Worker start-up: end when the parent ends, even by SIGKILL (Linux `PR_SET_PDEATHSIG`);
    otherwise a killed run leaves its workers blocked on a pipe for ever."""
    libc = _libc()
    if libc is not None:
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
