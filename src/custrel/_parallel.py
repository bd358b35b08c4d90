"""Worker processes and threads for the per-customer reductions: the thread-count control (private).

One mechanism for every function that takes ``threads=``:

- :func:`resolve_threads` reads the keyword, else the environment variable
  ``CUSTREL_THREADS`` (an integer >= 1; 1 is the single-threaded path), else
  the machine's usable cores.
- :func:`code_ranges` splits the customer codes ``0..k-1`` into contiguous
  ranges holding about equal numbers of rows; each range is reduced by one
  task on its own rows (selected in input order), so a customer's sum runs
  over the same values in the same order as on one thread, and the
  per-range results, each written to its own slice, form the whole.
- :func:`plan` decides how: in-line, on threads, or in worker processes
  (:data:`PROCESSES_FOR`, per reduction); :class:`Outputs` holds the
  results the tasks fill; :func:`run` runs the tasks.
- Worker processes (Linux, from :data:`MIN_PROCESS_ROWS` rows): the output
  arrays are allocated in one anonymous shared mapping (``mmap(-1, n)``)
  before ``os.fork``; each child reads the parent's columns copy-on-write
  (nothing is pickled), writes its ranges' slices, and leaves with
  ``os._exit`` (an error, or its warnings, go back through a small shared
  message area; a child stopped by a signal is reported). The parent waits
  for every child and copies the outputs into ordinary arrays, so no result
  keeps shared memory. If ``fork`` fails, the tasks run on threads.
- Threads: :func:`run_ordered` runs tasks on one module-level
  :class:`~concurrent.futures.ThreadPoolExecutor`, created on first use and
  reused, dropped in a forked child; :func:`submit` runs one step beside
  the caller (task parallelism, for a reduction whose steps hold the GIL).
- :class:`Forked`: worker processes forked once that evaluate fixed tasks
  for many inputs (a BTYD fit's likelihood chunks for every parameter
  vector), through a small shared mapping and a pipe per worker.

Why processes: numpy releases the GIL in ufunc loops, comparisons,
``flatnonzero``/``take`` and ``sort``, but ``bincount`` and ``ufunc.at``
hold it (0.67x and 0.41x on 2 threads), and they are most of a plain
summary; processes share no GIL. By customer range, each stays exactly what
one thread computes (``bincount`` adds each customer's values in row order),
so the parallel summary equals the single-threaded one to the last bit,
with no merge arithmetic. Measurements are in ``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import mmap
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt

from custrel.errors import CustrelError, InvalidInputError, InvalidTypeError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__: list[str] = []

T = TypeVar("T")

#: The environment variable that sets the default thread count.
THREADS_ENV = "CUSTREL_THREADS"
#: Below this many rows a summary runs on one thread: starting tasks, selecting
#: each range's rows and concatenating cost more than they save (measured on
#: 2 cores: 200,000 rows take about 20 ms on one thread).
MIN_PARALLEL_ROWS = 200_000
#: Rows a range should hold at least; fewer ranges than threads below it.
MIN_RANGE_ROWS = 100_000
#: Fewest threads worth splitting work that is mostly ``bincount`` / ``ufunc.at``
#: (which hold the GIL): the plain RFM summary of 10M rows ran 1.04x faster on
#: 2 threads than on 1 (0.89x at 30M rows), 1.27x on 4, 1.54x on 8, 1.84x on 16.
MIN_GIL_BOUND_THREADS = 4
#: Fewest rows for which worker processes are forked (below it, threads): the fork, the
#: children's page faults (copy-on-write, first writes to shared memory: about 1 ms per
#: MB on the 2-core test machine) and the copy of the results out of the shared mapping
#: cost tens of milliseconds; at 2M rows processes were 0.47-0.83x as fast as threads.
MIN_PROCESS_ROWS = 4_000_000
#: Fewest workers for which processes are forked (below it, threads). On 2 cores (the
#: 2-core test machine, 10M rows) processes were no faster than threads: each worker's
#: page faults (copy-on-write, first writes to the shared outputs) and the copy of the
#: results out of the shared mapping ate what the GIL-free bincount / ufunc.at gained,
#: while threads already overlap the sorts; with more workers the GIL-bound part, which
#: threads cannot split, dominates (threads: 1.6-2.4x on 16 cores).
MIN_PROCESS_WORKERS = 4
#: Which reductions fork worker processes (where :data:`FORK_AVAILABLE`) rather than
#: use threads; per reduction, by measurement (benchmarks/results/scale.md: engine
#: "custrel" against "custrel-threads" of benchmarks/bench_scale.py).
PROCESSES_FOR: dict[str, bool] = {
    "summarize": True,  # bincount, ufunc.at and one sort of a (customer, period) key
    "summarize_rfm": True,  # bincount and ufunc.at only: the GIL-bound one
    "summarize_rfm_days": True,  # + one sort of a (customer, day) key
    "rfm_summary": True,  # one sort per range, reduceat and bincount
    "btyd_fit": True,  # a BTYD likelihood's chunk sums (btyd._threads.ChunkSums)
    "btyd_predict": True,  # a BTYD prediction's chunks, from 4 workers (btyd._threads)
}
#: Rows sampled (evenly spaced) to place the range boundaries.
_SAMPLE = 1 << 16

#: The names of the shared pool's threads begin with it.
_THREAD_PREFIX = "custrel"

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _forget_pool_after_fork() -> None:
    """In a forked child the pool's threads are gone: start a fresh pool there, never wait on them.

    (A worker forked by multiprocessing, dask or Spark would otherwise queue
    its tasks on threads that do not exist and wait forever.)
    """
    global _lock, _pool, _pool_size  # the child's own pool state
    _lock = threading.Lock()
    _pool = None
    _pool_size = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def usable_cores() -> int:
    """The number of cores this process may run on (at least 1).

    ``os.process_cpu_count()`` where Python has it (3.13+), else the size of
    the process's CPU affinity mask, else ``os.cpu_count()``.
    """
    counter = getattr(os, "process_cpu_count", None)
    n: int | None = counter() if counter is not None else None
    if n is None and hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    if n is None:
        n = os.cpu_count()
    return max(1, n or 1)


def resolve_threads(threads: Any = None) -> int:
    """The thread count to use: ``threads``, else ``CUSTREL_THREADS``, else the usable cores.

    Raises
    ------
    InvalidTypeError
        If ``threads`` is not an integer.
    InvalidInputError
        If ``threads`` is below 1, or ``CUSTREL_THREADS`` is set to anything
        but an integer >= 1 (the message names the variable and its value).
    """
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
            raise InvalidTypeError(
                f"threads must be an integer >= 1 or None, got {type(threads).__name__} {threads!r}"
            )
        if threads < 1:
            raise InvalidInputError(
                f"threads must be >= 1 (1 runs on one thread), got {int(threads)}"
            )
        return int(threads)
    raw = os.environ.get(THREADS_ENV)
    if raw is None or raw.strip() == "":
        return usable_cores()
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputError(
            f"environment variable {THREADS_ENV} must be an integer >= 1 (1 runs on one "
            f"thread), got {raw!r}; unset it to use every core"
        )
    return value


def n_parts(n_rows: int, threads: int, *, gil_bound: bool = False) -> int:
    """How many ranges to split ``n_rows`` rows into for ``threads`` threads (1: in-line).

    ``gil_bound`` work (mostly ``bincount`` / ``ufunc.at``) is split only from
    :data:`MIN_GIL_BOUND_THREADS` threads on.
    """
    if threads <= 1 or n_rows < MIN_PARALLEL_ROWS:
        return 1
    if gil_bound and threads < MIN_GIL_BOUND_THREADS:
        return 1
    return max(1, min(threads, n_rows // MIN_RANGE_ROWS))


def code_ranges(codes: npt.NDArray[np.int64], k: int, parts: int) -> list[tuple[int, int]]:
    """Split the codes ``0..k-1`` into at most ``parts`` contiguous ranges of about equal rows.

    The boundaries are quantiles of an evenly spaced sample of ``codes``
    (one sort of at most 65,536 values), so skewed activity still splits
    evenly; every range is non-empty and together they cover ``0..k``.
    """
    if parts <= 1 or k <= 1:
        return [(0, k)]
    step = max(1, len(codes) // _SAMPLE)
    sample = np.sort(codes[::step])
    cuts = sample[(np.arange(1, parts) * len(sample)) // parts]
    bounds = np.unique(np.concatenate([[0], cuts, [k]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def range_rows(codes: npt.NDArray[np.int64], lo: int, hi: int, k: int) -> npt.NDArray[np.intp]:
    """The rows (in input order) whose code is in ``lo <= code < hi``."""
    if lo <= 0:
        return np.flatnonzero(codes < hi)
    if hi >= k:
        return np.flatnonzero(codes >= lo)
    mask = codes >= lo
    mask &= codes < hi
    return np.flatnonzero(mask)


def take_range(
    codes: npt.NDArray[np.int64], lo: int, hi: int, k: int, *columns: Any
) -> tuple[Any, ...]:
    """The rows of one code range: their codes shifted to start at 0, then each column's rows.

    A column given as None stays None (an optional column the log lacks).
    """
    rows = range_rows(codes, lo, hi, k)
    sub = codes[rows]
    sub -= lo
    return (sub, *(None if c is None else c[rows] for c in columns))


def concat_field(parts: Sequence[Any], name: str) -> Any:
    """One field of the ranges' partial results joined in code order (None when absent)."""
    values = [getattr(p, name) for p in parts]
    return None if values[0] is None else np.concatenate(values)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size  # the one shared pool, created lazily
    from concurrent.futures import ThreadPoolExecutor  # here: 5 ms off `import custrel`

    with _lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_THREAD_PREFIX)
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def run_ordered(fn: Callable[[int], T], n_tasks: int, threads: int) -> Sequence[T]:
    """``[fn(0), ..., fn(n_tasks - 1)]``, on the shared pool when there are several tasks.

    Every task runs to its end before this returns; the first task (in task
    order) that raised re-raises its exception here.
    """
    if n_tasks <= 1 or threads <= 1:
        return [fn(i) for i in range(n_tasks)]
    pool = _executor(min(threads, n_tasks))
    futures = [pool.submit(fn, i) for i in range(n_tasks)]
    errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
    return [f.result() for f in futures]


def on_pool() -> bool:
    """Whether this thread is one of the shared pool's (where nested work must run in-line)."""
    return threading.current_thread().name.startswith(_THREAD_PREFIX)


def may_fork(reduction: str) -> bool:
    """Whether ``reduction`` may run in forked worker processes here.

    Linux (:data:`FORK_AVAILABLE`), its entry of :data:`PROCESSES_FOR`, and not
    from a thread of the shared pool (nested work runs in-line).
    """
    return FORK_AVAILABLE and PROCESSES_FOR[reduction] and not on_pool()


class Aside:
    """Work started by :func:`submit`: :meth:`result` waits for it (and re-raises its error)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._future: Any = None
        self._value: Any = None
        self._error: BaseException | None = None
        if on_pool():
            # already on the pool: a task waiting for another could wait forever
            try:
                self._value = fn()
            except BaseException as err:  # re-raised by result(), as a future would
                self._error = err
        else:
            self._future = _executor(2).submit(fn)

    def result(self) -> Any:
        """The work's value, once it has ended; its exception if it raised."""
        if self._future is not None:
            return self._future.result()
        if self._error is not None:
            raise self._error
        return self._value


def submit(fn: Callable[[], Any]) -> Aside:
    """Run ``fn()`` on a thread of the shared pool while the caller goes on (task parallelism).

    For a reduction whose steps hold the GIL (``ufunc.at``, ``bincount``):
    splitting its rows among threads gains nothing, but running its
    GIL-holding steps beside its GIL-free ones does. Called from a pool
    thread it runs ``fn`` in-line, so nested work never waits on a pool
    that is itself waiting. The caller must call :meth:`Aside.result`
    before it uses what ``fn`` writes, also when it fails itself.
    """
    return Aside(fn)


# --- worker processes over shared memory (Linux) ------------------------------------------------

#: Whether the reductions may run in forked worker processes: Linux only (``fork``
#: shares the inputs copy-on-write without pickling; macOS forks unsafely and
#: Windows cannot). Elsewhere the same tasks run on the thread pool.
FORK_AVAILABLE = sys.platform == "linux" and hasattr(os, "fork")
#: Bytes a worker may send back: an error or its warnings, as JSON (truncated).
_MESSAGE_BYTES = 8192
#: The exit code of a worker whose status someone else collected and that did not finish.
_UNKNOWN = 1 << 16
#: Bytes per piece when the outputs are copied out of the shared mapping on threads.
_COPY_BYTES = 16 << 20
#: Alignment of each output array inside the shared mapping.
_ALIGN = 64


class Plan(NamedTuple):
    """How a reduction runs: ``parts`` code ranges on ``workers`` threads or processes."""

    parts: int
    workers: int
    processes: bool


def plan(
    n_rows: int,
    threads: int,
    *,
    reduction: str = "",
    processes: bool = True,
    gil_bound: bool = False,
    min_parts: int = 1,
) -> Plan:
    """The plan for reducing ``n_rows`` rows with ``threads`` threads.

    ``reduction`` names an entry of :data:`PROCESSES_FOR` (read at each call),
    which decides ``processes`` for it. ``processes`` asks for forked worker
    processes, used where :data:`FORK_AVAILABLE`, from
    :data:`MIN_PROCESS_ROWS` rows and :data:`MIN_PROCESS_WORKERS` workers on;
    otherwise threads, on which ``gil_bound`` work is
    split only from :data:`MIN_GIL_BOUND_THREADS` threads on (processes
    share no GIL). ``min_parts`` splits into at least that many ranges even
    on one worker (to bound the temporaries of one range); with several
    workers the ranges are a multiple of the workers, so each runs as many.
    """
    if reduction:
        processes = PROCESSES_FOR[reduction]
    workers = 1
    if threads > 1 and n_rows >= MIN_PARALLEL_ROWS:
        workers = max(1, min(threads, n_rows // MIN_RANGE_ROWS))
    forked = (
        processes
        and FORK_AVAILABLE
        and n_rows >= MIN_PROCESS_ROWS
        and workers >= MIN_PROCESS_WORKERS
    )
    if gil_bound and not forked and threads < MIN_GIL_BOUND_THREADS:
        workers = 1
    parts = workers
    if min_parts > workers:
        parts = -(-min_parts // workers) * workers  # a multiple of the workers
    return Plan(parts=max(1, parts), workers=workers, processes=forked and workers > 1)


class Outputs:
    """Output arrays that the tasks of a reduction fill, each its own slice.

    With ``shared`` (worker processes) all arrays lie in one anonymous shared
    mapping (``mmap(-1, n)``), created before the workers are forked so that
    their writes reach the parent; :meth:`release` copies them out into
    ordinary arrays and closes the mapping, so no result keeps shared memory
    (which a later ``fork`` would share with its child). Without ``shared``
    they are ordinary arrays, released as they are.
    """

    def __init__(self, fields: dict[str, tuple[Any, int]], *, shared: bool) -> None:
        self._map: mmap.mmap | None = None
        self._arrays: dict[str, npt.NDArray[Any]] = {}
        if not shared:
            for name, (dtype, length) in fields.items():
                self._arrays[name] = np.empty(length, dtype=dtype)
            return
        offsets: dict[str, tuple[int, np.dtype[Any], int]] = {}
        size = 0
        for name, (dtype, length) in fields.items():
            dt = np.dtype(dtype)
            offsets[name] = (size, dt, length)
            size += -(-(dt.itemsize * length) // _ALIGN) * _ALIGN
        self._map = mmap.mmap(-1, max(size, _ALIGN))
        base = np.frombuffer(self._map, dtype=np.uint8)
        for name, (offset, dt, length) in offsets.items():
            self._arrays[name] = base[offset : offset + dt.itemsize * length].view(dt)
        del base

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        return self._arrays[name]

    def release(self, drop: Sequence[str] = (), threads: int = 1) -> dict[str, npt.NDArray[Any]]:
        """The arrays (but those named in ``drop``) as ordinary memory.

        Shared arrays are copied out in pieces of :data:`_COPY_BYTES` on up to
        ``threads`` threads (a copy releases the GIL; 100M rows' summary is
        over 500 MB). Afterwards this object holds nothing; the shared mapping
        is closed (any view of it from :meth:`__getitem__` must be gone).
        """
        arrays, self._arrays = self._arrays, {}
        for name in drop:
            arrays.pop(name, None)
        if self._map is None:
            return arrays
        out = {name: np.empty_like(arr) for name, arr in arrays.items()}
        pieces = [
            (name, lo, min(lo + max(1, _COPY_BYTES // arr.itemsize), len(arr)))
            for name, arr in arrays.items()
            for lo in range(0, len(arr), max(1, _COPY_BYTES // arr.itemsize))
        ]

        def copy(i: int) -> None:
            name, lo, hi = pieces[i]
            np.copyto(out[name][lo:hi], arrays[name][lo:hi])

        if threads > 1:
            run_ordered(copy, len(pieces), threads)
        else:
            for i in range(len(pieces)):
                copy(i)
        arrays.clear()
        self._map.close()  # every view is gone: nothing still points into it
        self._map = None
        return out


def run(fn: Callable[[int], None], how: Plan) -> None:
    """Run ``fn(0), ..., fn(how.parts - 1)``: in-line, on the thread pool or in worker processes.

    The tasks return nothing: each writes its results into its own slice of
    an :class:`Outputs`. In worker processes worker ``w`` (a forked child)
    runs tasks ``w, w + W, w + 2W, ...`` while the parent waits; if ``fork``
    fails, the tasks of the workers that could not start run on the thread
    pool instead. An exception in any task is raised here after every worker
    has ended.
    """
    if how.parts <= 1 or how.workers <= 1:
        for i in range(how.parts):
            fn(i)
        return
    if not how.processes:
        run_ordered(fn, how.parts, how.workers)
        return
    _run_forked(fn, how.parts, min(how.workers, how.parts))


def _run_forked(fn: Callable[[int], None], n_tasks: int, workers: int) -> None:
    """Fork one child per worker; the parent only waits (and runs what could not be forked).

    The parent computes nothing itself: while a child lives, every page the
    parent writes that both share is copied first (copy-on-write), and a
    working parent writes most into its freed, reused heap, so its range ran
    slower than a child's (measured: 12-18k page faults in the parent against
    about 9k in a child, for half of 5M rows each).
    """
    import json  # noqa: F401 - loaded here: a failing child then imports nothing (no lock)

    slots = mmap.mmap(-1, _MESSAGE_BYTES * workers)
    children: dict[int, int] = {}  # pid -> worker
    unstarted: list[int] = []
    try:
        for w in range(workers):
            try:
                with warnings.catch_warnings():
                    # 3.12+ warns that fork() in a threaded process may deadlock the child;
                    # the child runs numpy on inherited arrays only and ends with os._exit
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
                        _child(fn, range(w, n_tasks, workers), slots, w)
            except OSError:  # no fork (process limit, memory): the rest runs on threads
                unstarted = list(range(w, workers))
                break
            children[pid] = w
        if unstarted:
            rest = [i for w in unstarted for i in range(w, n_tasks, workers)]
            run_ordered(lambda j: fn(rest[j]), len(rest), len(unstarted))
    except BaseException:
        for pid in children:  # the parent failed or was interrupted: stop the workers
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        slots.close()
        raise
    try:
        failure = _reap(children, slots)
    finally:
        slots.close()
    if failure is not None:
        raise failure


def _child(fn: Callable[[int], None], tasks: range, slots: mmap.mmap, slot: int) -> NoReturn:
    """A forked worker: run its tasks, leave a message for an error or warnings, ``os._exit``.

    It touches no lock, no thread pool and no stdio buffer: numpy on the
    inherited (copy-on-write) inputs, writes into the shared outputs, then
    ``os._exit`` without interpreter shutdown (no atexit, no flush).
    """
    code = 1
    try:
        message: dict[str, Any] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                for i in tasks:
                    fn(i)
                code = 0
                slots[slot * _MESSAGE_BYTES] = 1  # done, whoever collects the exit status
            except BaseException as exc:  # reported to the parent, which raises
                message["error"] = _describe(type(exc), str(exc))
        if caught:
            message["warnings"] = [_describe(w.category, str(w.message)) for w in caught[:5]]
        if message:  # after the slot's "done" byte
            _put_message(slots, slot * _MESSAGE_BYTES + 1, _MESSAGE_BYTES - 1, message)
    finally:
        os._exit(code)


def _describe(cls: type, text: str) -> list[str]:
    return [cls.__module__, cls.__qualname__, text[:2000]]


def _put_message(buf: mmap.mmap, at: int, room: int, message: dict[str, Any]) -> None:
    """A worker's error or warnings as length-prefixed JSON at ``buf[at:at + room]`` (truncated).

    The caller has imported ``json`` before the fork, so the child takes no import lock.
    """
    import json

    data = json.dumps(message).encode("utf-8", "replace")[: room - 4] if message else b""
    buf[at : at + 4] = len(data).to_bytes(4, "little")
    buf[at + 4 : at + 4 + len(data)] = data


def _get_message(buf: mmap.mmap, at: int) -> dict[str, Any]:
    """What :func:`_put_message` left at ``at`` (an empty dict for none)."""
    size = int.from_bytes(buf[at : at + 4], "little")
    if not size:
        return {}
    raw = bytes(buf[at + 4 : at + 4 + size]).decode("utf-8", "replace")
    import json  # here, not at import time

    try:
        got = json.loads(raw)
    except ValueError:
        return {"error": ["builtins", "Exception", raw]}
    return got if isinstance(got, dict) else {}


def _message(slots: mmap.mmap, slot: int) -> dict[str, Any]:
    return _get_message(slots, slot * _MESSAGE_BYTES + 1)


def _reissue_warnings(messages: Sequence[dict[str, Any]], stacklevel: int) -> None:
    """The workers' warnings, issued again here (their category where it is known)."""
    for message in messages:
        for module, name, text in message.get("warnings", []):
            category = _named_class(module, name, Warning) or RuntimeWarning
            warnings.warn(text, category, stacklevel=stacklevel + 1)


def _named_class(module: str, name: str, base: type[T]) -> type[T] | None:
    """The class ``module.name`` if it is a custrel error/warning, a builtin or numpy's, else None."""
    from custrel import errors

    source: Any = {"custrel.errors": errors, "builtins": builtins}.get(module)
    if source is None and module.startswith("numpy"):
        source = np.exceptions if hasattr(np, "exceptions") else None
    found = getattr(source, name, None) if source is not None else None
    return found if isinstance(found, type) and issubclass(found, base) else None


def _reap(children: dict[int, int], slots: mmap.mmap) -> BaseException | None:
    """Wait for every worker, then re-issue their warnings; the first worker's failure, if any.

    The warnings are issued only once every worker has been waited for (one
    that the caller's filters turn into an exception leaves no child behind).
    """
    ended: list[tuple[int, int, dict[str, Any]]] = []
    for pid, w in children.items():
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped by someone else (SIGCHLD ignored, a handler)
            code = 0 if slots[w * _MESSAGE_BYTES] == 1 else _UNKNOWN
        ended.append((w, code, _message(slots, w)))
    children.clear()
    failures: list[tuple[int, BaseException]] = []
    for w, code, message in sorted(ended, key=lambda e: e[0]):
        if code == 0:
            continue
        if "error" in message:
            module, name, text = message["error"]
            cls = _named_class(module, name, BaseException)
            if cls is not None and issubclass(cls, CustrelError | MemoryError | KeyboardInterrupt):
                failures.append((w, cls(text)))
            else:
                failures.append((w, CustrelError(f"a worker process failed: {name}: {text}")))
        elif code < 0:
            sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            failures.append(
                (
                    w,
                    CustrelError(
                        f"a worker process was stopped by signal {sig}; if the machine ran out "
                        "of memory, use fewer threads (threads=... or CUSTREL_THREADS)"
                    ),
                )
            )
        elif code == _UNKNOWN:
            failures.append(
                (w, CustrelError("a worker process ended before finishing (exit status unknown)"))
            )
        else:
            failures.append((w, CustrelError(f"a worker process exited with status {code}")))
    _reissue_warnings([m for _, _, m in sorted(ended, key=lambda e: e[0])], stacklevel=4)
    return failures[0][1] if failures else None


# --- persistent worker processes for repeated sums (the BTYD likelihoods) ------------------------

#: Floats a task's result may hold (a log-likelihood, its gradient, a packed information matrix).
RESULT_WIDTH = 64
#: Floats of the parameter vector sent to the workers.
THETA_WIDTH = 256
_QUIT = 255
#: numpy's floating-point error kinds and modes, as sent to the workers (one byte each).
_ERR_KINDS = ("divide", "over", "under", "invalid")
_ERR_MODES = ("ignore", "warn", "raise", "call", "print", "log")


class Forked:
    """Worker processes forked once, each evaluating its share of fixed tasks for many inputs.

    ``fns[k](task, theta)`` returns a 1-D float64 array (at most
    :data:`RESULT_WIDTH` values) for task ``task`` of ``n_tasks``; the tasks'
    data are whatever ``fns`` closes over, inherited by the children at the
    fork (copy-on-write, nothing pickled). :meth:`run` sends ``theta``
    through a small shared mapping and a byte per child down a pipe; worker
    ``w`` (the parent is worker 0) evaluates tasks ``w, w + W, ...``, and the
    results come back, per task, in task order: the same values the same
    calls give in one process. An error or warnings in a child are raised or
    re-issued in the parent (as :func:`run` does); a child that dies (a
    signal, memory) is reported as a :class:`~custrel.errors.CustrelError`.
    :meth:`close` (or the end of a ``with`` block) ends the children and
    returns without waiting for their exits, which a thread reaps
    (:func:`wait_for_exits` waits for it); a parent that dies closes their
    pipes, and they end too.

    For work whose many short numpy calls hold the GIL: a likelihood
    evaluated tens of times over the same chunks pays the fork once.
    """

    def __init__(
        self,
        fns: Sequence[Callable[[int, npt.NDArray[np.float64]], npt.NDArray[np.float64]]],
        n_tasks: int,
        workers: int,
    ) -> None:
        import json  # noqa: F401 - loaded before the fork: a failing child imports nothing

        self._fns = list(fns)
        self._n_tasks = n_tasks
        self._workers = max(1, min(workers, n_tasks))
        self._errstate_at = 8 * (THETA_WIDTH + 1)
        self._span_at = self._errstate_at + 8  # the tasks of this run: two int64
        # a byte the parent bumps for each run, and one per worker set to it when done
        self._posted_at = self._span_at + 16
        self._done_at = self._posted_at + 1
        head = self._done_at + -(-workers // 8) * 8
        self._results_at = head
        self._messages_at = head + 8 * (RESULT_WIDTH + 1) * n_tasks
        self._map = mmap.mmap(-1, self._messages_at + _MESSAGE_BYTES * self._workers)
        self._children: dict[int, tuple[int, int, int]] = {}  # pid -> (worker, cmd fd, status fd)
        self._stride = self._workers  # worker w evaluates tasks w, w + stride, ...
        try:
            for w in range(1, self._workers):
                cmd_r, cmd_w = os.pipe()
                st_r, st_w = os.pipe()
                try:
                    with warnings.catch_warnings():
                        # 3.12+ warns that fork() in a threaded process may deadlock the
                        # child; it runs numpy on inherited arrays only and ends with os._exit
                        warnings.simplefilter("ignore", DeprecationWarning)
                        pid = os.fork()
                except OSError:  # no fork (process limit, memory): the parent does it all
                    for fd in (cmd_r, cmd_w, st_r, st_w):
                        os.close(fd)
                    self._end_children()
                    self._stride = 1
                    return
                if pid == 0:  # pragma: no cover - the child; its coverage is not collected
                    os.close(cmd_w)
                    os.close(st_r)
                    for _, fd_cmd, fd_st in self._children.values():  # siblings' pipe ends
                        os.close(fd_cmd)
                        os.close(fd_st)
                    self._serve(w, cmd_r, st_w)
                os.close(cmd_r)
                os.close(st_w)
                self._children[pid] = (w, cmd_w, st_r)
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        """Processes evaluating the tasks (the parent and its children)."""
        return 1 + len(self._children)

    def _tasks(self, w: int, span: tuple[int, int] | None = None) -> range:
        lo, hi = (0, self._n_tasks) if span is None else span
        return range(lo + w, hi, self._stride)

    def _span(self) -> tuple[int, int]:
        lo, hi = np.frombuffer(self._map, np.int64, 2, self._span_at).tolist()
        return int(lo), int(hi)

    def _theta(self) -> npt.NDArray[np.float64]:
        n = int(np.frombuffer(self._map, np.float64, 1, 0)[0])
        return np.frombuffer(self._map, np.float64, n, 8).copy()

    def _errstate(self) -> dict[str, str]:
        """The floating-point error handling the parent had when it called :meth:`run`."""
        at = self._errstate_at
        return {name: _ERR_MODES[self._map[at + j]] for j, name in enumerate(_ERR_KINDS)}

    def _put(self, task: int, values: npt.NDArray[np.float64]) -> None:
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        if vals.shape[0] > RESULT_WIDTH:
            raise CustrelError(f"a task returned {vals.shape[0]} values (at most {RESULT_WIDTH})")
        at = self._results_at + 8 * (RESULT_WIDTH + 1) * task
        row = np.frombuffer(self._map, np.float64, vals.shape[0] + 1, at)
        row[0] = vals.shape[0]
        row[1:] = vals

    def _get(self, task: int) -> npt.NDArray[np.float64]:
        at = self._results_at + 8 * (RESULT_WIDTH + 1) * task
        n = int(np.frombuffer(self._map, np.float64, 1, at)[0])
        return np.frombuffer(self._map, np.float64, n, at + 8).copy()

    def _serve(self, w: int, cmd_r: int, st_w: int) -> NoReturn:  # pragma: no cover - a child
        """A child's loop: wait for a command, evaluate its tasks, report; ``os._exit`` at the end."""
        try:
            handled = self._map[self._posted_at]
            while True:
                _spin_while(self._map, self._posted_at, handled)
                cmd = os.read(cmd_r, 1)
                if not cmd or cmd[0] == _QUIT:
                    break
                handled = self._map[self._posted_at]
                fn = self._fns[cmd[0]]
                message: dict[str, Any] = {}
                status = 0
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        theta = self._theta()
                        with np.errstate(**self._errstate()):  # type: ignore[arg-type]  # the parent's
                            for i in self._tasks(w, self._span()):
                                self._put(i, fn(i, theta))
                    except BaseException as exc:  # reported to the parent, which raises
                        message["error"] = _describe(type(exc), str(exc))
                        status = 1
                if caught:
                    message["warnings"] = [
                        _describe(c.category, str(c.message)) for c in caught[:5]
                    ]
                self._leave_message(w, message)
                self._map[self._done_at + w] = handled
                os.write(st_w, bytes([status]))
        finally:
            os._exit(0)

    def _leave_message(self, w: int, message: dict[str, Any]) -> None:
        # every evaluation rewrites the slot (an empty message clears the last one)
        _put_message(self._map, self._messages_at + w * _MESSAGE_BYTES, _MESSAGE_BYTES, message)

    def _read_message(self, w: int) -> dict[str, Any]:
        return _get_message(self._map, self._messages_at + w * _MESSAGE_BYTES)

    def run(
        self, command: int, theta: Any, span: tuple[int, int] | None = None
    ) -> list[npt.NDArray[np.float64]]:
        """``[fns[command](i, theta) for i in range(lo, hi)]``, the tasks shared by the workers.

        ``span`` is ``(lo, hi)``, by default every task: one set of workers
        serves several sums over different tasks (a fit's sample and its
        whole data), each spread evenly over the workers.
        """
        lo, hi = (0, self._n_tasks) if span is None else span
        if not 0 <= lo <= hi <= self._n_tasks:
            raise CustrelError(f"tasks {lo}..{hi} are not among the {self._n_tasks} tasks")
        th = np.asarray(theta, dtype=np.float64).reshape(-1)
        if th.shape[0] > THETA_WIDTH:
            raise CustrelError(f"{th.shape[0]} parameters (at most {THETA_WIDTH})")
        if not self._children:
            return [
                np.asarray(self._fns[command](i, th.copy()), dtype=np.float64).reshape(-1)
                for i in range(lo, hi)
            ]
        head = np.frombuffer(self._map, np.float64, th.shape[0] + 1, 0)
        head[0] = th.shape[0]
        head[1:] = th
        del head
        np.frombuffer(self._map, np.int64, 2, self._span_at)[:] = (lo, hi)
        err: dict[str, Any] = {**np.geterr()}  # the children run under the caller's errstate
        at = self._errstate_at
        self._map[at : at + len(_ERR_KINDS)] = bytes(
            _ERR_MODES.index(err[name]) for name in _ERR_KINDS
        )
        posted = (self._map[self._posted_at] + 1) % 256
        self._map[self._posted_at] = posted
        for _, cmd_w, _ in self._children.values():
            os.write(cmd_w, bytes([command]))
        failure: BaseException | None = None
        try:
            for i in self._tasks(0, (lo, hi)):
                self._put(i, self._fns[command](i, th.copy()))
        except BaseException as exc:
            failure = exc
        ended: list[tuple[int, int, dict[str, Any]]] = []
        for pid, (w, _, st_r) in list(self._children.items()):
            _spin_while(self._map, self._done_at + w, posted, until=True)
            got = os.read(st_r, 1)
            if not got:  # the child died: no status will come
                ended.append((w, -1, {}))
                self._reap_one(pid)
                continue
            ended.append((w, got[0], self._read_message(w)))
        for _, status, message in sorted(ended):
            if failure is None and status == -1:
                failure = CustrelError(
                    "a worker process ended while evaluating; if the machine ran out of "
                    "memory, use fewer threads (threads=... or CUSTREL_THREADS)"
                )
            if failure is None and "error" in message:
                module, name, text = message["error"]
                cls = _named_class(module, name, BaseException)
                try:  # the child's exception as itself where it is custrel's, builtin or numpy's
                    failure = cls(text) if cls is not None else None
                except TypeError:  # a class that takes other arguments
                    failure = None
                if failure is None:
                    failure = CustrelError(f"a worker process failed: {name}: {text}")
        if failure is not None:
            self._end_children()  # the parent does every task from now on
            raise failure
        _reissue_warnings([m for _, _, m in sorted(ended)], stacklevel=3)
        return [self._get(i) for i in range(lo, hi)]

    def _quit(self, pid: int) -> None:
        _, cmd_w, st_r = self._children.pop(pid)
        # an explicit "quit" too: a process forked elsewhere meanwhile may hold a copy of
        # this pipe's end, so the child might never see it close
        with contextlib.suppress(OSError):
            os.write(cmd_w, bytes([_QUIT]))
        for fd in (cmd_w, st_r):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _reap_one(self, pid: int) -> None:
        self._quit(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def _end_children(self) -> None:
        if not self._map.closed:  # a spinning child sees the quit at once
            self._map[self._posted_at] = (self._map[self._posted_at] + 1) % 256
        # every child is told to quit, then a thread waits for their exits: an exit that
        # unmaps a large inherited heap takes milliseconds (5 ms after a BG/NBD fit of 1M
        # customers, 2 % of it on 2 cores), and the caller has its results already
        pids = list(self._children)
        for pid in pids:
            self._quit(pid)
        if pids:
            _reap_in_background(pids)
        self._stride = 1

    def close(self) -> None:
        """End the children: close their pipes; a thread reaps them (:func:`wait_for_exits`). Idempotent."""
        self._end_children()
        if not self._map.closed:
            self._map.close()

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: How long a worker waiting for the next command, and the parent waiting for a worker's
#: result, watch a byte of the shared mapping before sleeping in a pipe read. Woken
#: from a pipe read, a process takes 0.1 ms or more on a virtual machine (34 commands
#: of a BG/NBD fit of 1M customers: 4 ms of its 0.19 s); between a fit's evaluations the
#: gap is well under this.
SPIN_SECONDS = 0.001


def _spin_while(shared: mmap.mmap, at: int, value: int, *, until: bool = False) -> None:
    """Watch ``shared[at]`` while it equals ``value`` (``until``: while it differs), for at most :data:`SPIN_SECONDS`.

    Only a shortcut: the pipe read that follows is what waits for certain.
    """
    deadline = time.perf_counter() + SPIN_SECONDS
    while (shared[at] == value) != until:
        if time.perf_counter() > deadline:
            return


_reapers: list[threading.Thread] = []
_reapers_lock = threading.Lock()


def _reap_in_background(pids: Sequence[int]) -> None:
    """Wait for the exits of children told to quit, on a daemon thread (``waitpid`` of each)."""

    def reap() -> None:
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    # not named like the pool's threads (on_pool): it runs no custrel work
    reaper = threading.Thread(target=reap, name="exits-of-custrel-workers", daemon=True)
    try:
        reaper.start()
    except RuntimeError:  # no thread to be had: wait here
        reap()
        return
    with _reapers_lock:
        _reapers[:] = [t for t in _reapers if t.is_alive()]
        _reapers.append(reaper)


def wait_for_exits(timeout: float | None = None) -> None:
    """Wait until every worker process :class:`Forked` ended has exited and been reaped."""
    with _reapers_lock:
        pending = list(_reapers)
    for reaper in pending:
        reaper.join(timeout)


def select_range(
    codes: npt.NDArray[np.int64], lo: int, hi: int, k: int
) -> tuple[npt.NDArray[np.intp], int]:
    """The rows (in input order) with ``lo <= code < hi``, and how many rows have a code below ``lo``.

    The second number is where the range's rows start in the rows sorted by
    code: a worker writes a variable-length result (at most one value per
    row) there, in a shared array of one slot per row, without knowing the
    other ranges' sizes.
    """
    n = len(codes)
    if lo <= 0:
        return (np.flatnonzero(codes < hi) if hi < k else np.arange(n)), 0
    mask = codes >= lo
    before = n - int(np.count_nonzero(mask))
    if hi < k:
        mask &= codes < hi
    return np.flatnonzero(mask), before


def split_codes(
    codes: npt.NDArray[np.int64], k: int, how: Plan
) -> tuple[list[tuple[int, int]], Plan]:
    """The code ranges of ``how`` (:func:`code_ranges`), and the plan for as many as there are.

    Few distinct codes can give fewer ranges than planned; the plan shrinks
    to them (never more workers than ranges).
    """
    if how.parts <= 1:
        return [(0, k)], Plan(1, 1, processes=False)
    ranges = code_ranges(codes, k, how.parts)
    parts = len(ranges)
    workers = min(how.workers, parts)
    return ranges, Plan(parts, workers, processes=how.processes and workers > 1)


def concat(parts: Sequence[npt.NDArray[Any]], threads: int = 1) -> npt.NDArray[Any]:
    """``numpy.concatenate(parts)``, copied in pieces of 16 MB on up to ``threads`` threads.

    For results gathered out of the shared mapping (a copy releases the GIL).
    """
    if threads <= 1 or len(parts) <= 1:
        return np.concatenate(parts) if parts else np.empty(0)
    sizes = [len(p) for p in parts]
    out = np.empty(sum(sizes), dtype=np.result_type(*parts) if parts else np.float64)
    starts = np.cumsum([0, *sizes])
    pieces = [
        (j, lo, min(lo + max(1, _COPY_BYTES // out.itemsize), len(p)))
        for j, p in enumerate(parts)
        for lo in range(0, len(p), max(1, _COPY_BYTES // out.itemsize))
    ]

    def copy(i: int) -> None:
        j, lo, hi = pieces[i]
        at = int(starts[j])
        np.copyto(out[at + lo : at + hi], parts[j][lo:hi])

    run_ordered(copy, len(pieces), threads)
    return out
