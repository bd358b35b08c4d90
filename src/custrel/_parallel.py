"""Threads for the per-customer reductions: the thread-count control and the shared pool (private).

One mechanism for every function that takes ``threads=``:

- :func:`resolve_threads` reads the keyword, else the environment variable
  ``CUSTREL_THREADS`` (an integer >= 1; 1 is the single-threaded path), else
  the machine's usable cores.
- :func:`code_ranges` splits the customer codes ``0..k-1`` into contiguous
  ranges holding about equal numbers of rows; each range is reduced by one
  task on its own rows (selected in input order), so a customer's sum runs
  over the same values in the same order as on one thread, and the
  per-range results concatenate, in code order, into the whole.
- :func:`run_ordered` runs the tasks on one module-level
  :class:`~concurrent.futures.ThreadPoolExecutor`, created on first use and
  reused, and returns their results in task order (in-line for one task).

Why threads over customer-code ranges: numpy releases the GIL in ufunc
loops, comparisons, ``flatnonzero``/``take`` and ``sort``, which do most of
the work, while ``bincount`` and ``ufunc.at`` hold it; by customer range
those two stay exactly what one thread computes (``bincount`` adds each
customer's values in row order), so the threaded summary equals the
single-threaded one to the last bit, with no merge arithmetic at all.
Measurements are in ``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from custrel.errors import InvalidInputError, InvalidTypeError

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
#: Rows sampled (evenly spaced) to place the range boundaries.
_SAMPLE = 1 << 16

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
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="custrel")
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
