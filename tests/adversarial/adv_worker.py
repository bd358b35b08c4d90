"""Run each adversarial call in a worker process with a CPU-time and a memory limit.

The main (pytest) process draws the inputs with Hypothesis and sends small request
dictionaries; the worker rebuilds the valid call from the registry, applies the
perturbation, runs the call and all checks, and answers with a verdict dictionary.

* CPU time: ``setitimer(ITIMER_PROF)`` with SIGPROF left at its default action, so a
  call that runs past the limit (even inside C code) ends the worker; the pool reports
  the input as too slow and starts a fresh worker for the next one.
* Memory: ``RLIMIT_AS`` in the worker (its size at start plus a margin), so a call
  that tries to allocate gigabytes gets a MemoryError (reported as the wrong exception)
  instead of taking the machine down.
* Wall time: the pool also gives up after a generous wall-clock limit (blocked calls).

Settings (environment): ``CUSTREL_ADV_CPU_SECONDS`` (default 5),
``CUSTREL_ADV_MEMORY_MB`` (margin over the worker's start size, default 4096: with less,
polars' allocator cannot start its threads and the worker hangs).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import re
import signal
import time
import traceback
import warnings
from collections import Counter, defaultdict
from typing import Any

CPU_SECONDS = float(os.environ.get("CUSTREL_ADV_CPU_SECONDS", "5"))
MEMORY_MB = int(os.environ.get("CUSTREL_ADV_MEMORY_MB", "4096"))
WALL_FACTOR = 6.0
#: inputs drawn per (entry, family) test, by Hypothesis profile (HYPOTHESIS_PROFILE)
EXAMPLES = {"dev": 2, "ci": 1, "nightly": 25}


def examples_per_test() -> int:
    """How many inputs each (entry, family) test draws under the current profile."""
    if "CUSTREL_ADV_EXAMPLES" in os.environ:
        return int(os.environ["CUSTREL_ADV_EXAMPLES"])
    return EXAMPLES.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 2)


_CHILD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
    "PYTHONWARNINGS": "",
}


# ===================================================================== worker side


def _limit_memory() -> None:
    import resource

    with open("/proc/self/status", encoding="ascii") as fh:
        vm = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
    limit = vm * 1024 + MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _Timer:
    """Arms SIGPROF (default action: terminate) for the duration of one call."""

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        signal.setitimer(signal.ITIMER_PROF, CPU_SECONDS)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        self.seconds = time.perf_counter() - self.start


def run_checked(
    entry: str,
    fn: Any,
    args: dict[str, Any],
    *,
    expect_ok: bool = False,
    check: Any = None,
    repeat: bool = False,
) -> dict[str, Any]:
    """Call ``fn(**args)`` under the limits and run every check on the outcome."""
    import adv_checks as ck

    from custrel import CustrelError, CustrelWarning

    before = {k: ck.snapshot(v) for k, v in args.items()}
    result: Any = None
    error: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _Timer() as timer:
            try:
                result = fn(**args)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                error = exc
    verdict: dict[str, Any] = {"status": "ok", "problems": [], "seconds": timer.seconds}
    problems: list[str] = verdict["problems"]
    leaked = [w for w in caught if not issubclass(w.category, CustrelWarning)]
    if leaked:
        w = leaked[0]
        problems.append(f"leaked {w.category.__name__}: {str(w.message)[:160]}")
    for k, v in args.items():
        if not ck.same(before[k], ck.snapshot(v)):
            problems.append(f"input {k!r} was changed by the call")
    if error is not None:
        verdict["raised"] = type(error).__name__
        verdict["message"] = str(error)[:400]
        if isinstance(error, CustrelError):
            verdict["status"] = "error"
            verdict["error"] = f"{type(error).__name__}: {str(error)[:200]}"
            if not str(error).strip():
                problems.append(f"{type(error).__name__} with an empty message")
            if expect_ok:
                problems.append(f"valid call raised {verdict['error']}")
        else:
            tb = traceback.extract_tb(error.__traceback__)
            where = next(
                (
                    f"{os.path.basename(f.filename)}:{f.lineno}"
                    for f in reversed(tb)
                    if "/custrel/" in f.filename
                ),
                "?",
            )
            problems.append(
                f"raised {type(error).__name__} (not a CustrelError) at {where}: {str(error)[:160]}"
            )
        if check is not None:
            problems.extend(check(None, error))
    else:
        problems.extend(ck.audit(entry, result))
        snap = ck.snapshot(result)
        if repeat:
            more, result = _repeat_check(fn, args, result, snap)
            problems.extend(more)
            snap = ck.snapshot(result)
        for k, v in args.items():
            ck.mutate(v)
            now = ck.snapshot(result)
            if not ck.same(snap, now):
                problems.append(
                    f"result changed after the caller edited {k!r} "
                    f"({ck.first_difference(snap, now)})"
                )
                break
        if check is not None:
            problems.extend(check(result, None))
    if problems:
        verdict["status"] = "fail"
    return verdict


_VALID_PROBLEMS: dict[str, set[str]] = {}


def _names(param: str, message: str) -> bool:
    """Whether an error message names the argument (or its words: T, rng, log, ...)."""
    text = message.lower()
    return param.lower() in text or param.lower().replace("_", " ") in text


def _repeat_check(fn: Any, args: dict[str, Any], result: Any, snap: Any) -> tuple[list[str], Any]:
    """Edit the returned value, call again: the new result must not see the edit.

    Returns the problems and the fresh result (the first one has been edited).
    """
    import adv_checks as ck

    ck.mutate(result)
    if ck.same(snap, ck.snapshot(result)):
        return [], result  # nothing the caller can edit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _Timer():
            try:
                again = fn(**args)
            except Exception as exc:  # the second call must behave like the first
                return [f"a second identical call raised {type(exc).__name__}: {exc}"], result
    now = ck.snapshot(again)
    if not ck.same(snap, now):
        where = ck.first_difference(snap, now)
        problem = (
            f"editing the returned value changed the next call's result ({where}): "
            "the result shares memory with the object"
        )
        return [problem], again
    return [], again


def _handle(req: dict[str, Any], ctx: Any) -> dict[str, Any]:
    import adv_perturb as pt
    import registry

    op = req["op"]
    if op == "meta":
        return registry.describe_params(req["entry"], ctx)
    if op == "repro":
        import adv_reproductions as rp

        case = rp.CASES[req["name"]]
        verdict = run_checked(
            req["name"], case.fn, case.args(), expect_ok=case.expect == "ok", check=case.check
        )
        if case.expect == "raises":
            if "raised" not in verdict:
                verdict["problems"].append("returned a result instead of raising a CustrelError")
            elif case.match and not re.search(case.match, verdict["message"]):
                verdict["problems"].append(
                    f"message does not match {case.match!r}: {verdict['message'][:160]}"
                )
        if verdict["problems"]:
            verdict["status"] = "fail"
        return verdict
    spec = registry.ENTRIES[req["entry"]]
    fn, args = spec.build(ctx)
    if op == "valid":
        return run_checked(req["entry"], fn, args, expect_ok=True, repeat=True)
    if req.get("known") is not None:  # the valid call's problems, from test_valid_call
        _VALID_PROBLEMS[req["entry"]] = set(req["known"])
    if req["entry"] not in _VALID_PROBLEMS:  # problems of the valid call are reported once
        fn0, args0 = spec.build(ctx)
        _VALID_PROBLEMS[req["entry"]] = set(run_checked(req["entry"], fn0, args0)["problems"])
        fn, args = spec.build(ctx)
    param = req["param"]
    kind = req["kind"]
    args[param] = pt.apply(args[param], kind, req["variant"], req["pos"])
    shown = f"{param}={pt.describe(args[param])}"
    if kind == "log":
        shown += f" [{req['variant']}]"
    verdict = run_checked(req["entry"], fn, args, expect_ok=req["family"] == "readonly")
    verdict["input"] = shown
    if verdict["status"] == "error" and not _names(param, verdict.get("message", "")):
        verdict["advisory"] = f"message does not name {param!r}: {verdict['message'][:150]}"
    known = _VALID_PROBLEMS[req["entry"]]
    verdict["problems"] = [p for p in verdict["problems"] if p not in known]
    if verdict["status"] == "fail" and not verdict["problems"]:
        verdict["status"] = "ok"
    return verdict


def _remove_temp_files() -> None:
    """Delete the files this worker wrote for its calls (custrel-adv-*<pid>*)."""
    import glob
    import tempfile

    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"custrel-adv-*{os.getpid()}*")):
        with contextlib.suppress(OSError):
            os.remove(path)


def serve(conn: Any) -> None:
    """Worker loop: answer requests until the pipe closes."""
    import registry

    ctx = registry.Context()
    _limit_memory()
    while True:
        try:
            req = conn.recv()
        except EOFError:
            _remove_temp_files()
            return
        try:
            answer = _handle(req, ctx)
        except MemoryError:
            answer = {"status": "fail", "problems": ["MemoryError while building or checking"]}
        except Exception as exc:
            answer = {
                "status": "harness",
                "problems": [
                    f"harness error: {type(exc).__name__}: {exc}",
                    traceback.format_exc(limit=6),
                ],
            }
        conn.send(answer)


# ======================================================================= pool side


class Pool:
    """One worker process, restarted after a timeout or crash."""

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Any = None
        self.calls: Counter[str] = Counter()
        self.fails: dict[str, list[str]] = defaultdict(list)
        self.advisories: dict[str, list[str]] = defaultdict(list)
        self.valid_problems: dict[str, list[str]] = {}
        self.restarts = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        saved = {k: os.environ.get(k) for k in _CHILD_ENV}
        os.environ.update(_CHILD_ENV)
        try:
            proc = ctx.Process(target=serve, args=(child,), daemon=True)
            proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self._proc, self._conn = proc, parent

    def close(self) -> None:
        if self._proc is not None:
            self._conn.close()
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc = self._conn = None

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
        self._proc = self._conn = None
        self.restarts += 1

    def request(self, req: dict[str, Any], *, startup: float = 120.0) -> dict[str, Any]:
        """Send one request; a dead or silent worker becomes a 'fail' verdict."""
        fresh = self._proc is None or not self._proc.is_alive()
        if fresh:
            if self._proc is not None:
                self._kill()
            self._start()
        wall = CPU_SECONDS * WALL_FACTOR + (startup if fresh or req["op"] == "meta" else 10.0)
        t0 = time.perf_counter()
        self._conn.send(req)
        if self._conn.poll(wall):
            try:
                return self._conn.recv()  # type: ignore[no-any-return]
            except EOFError:
                pass
        elapsed = time.perf_counter() - t0
        if self._proc.is_alive():
            why = f"no answer within {wall:.0f} s wall time (killed)"
        else:
            self._proc.join()
            why = _death(self._proc.exitcode, elapsed)
        self._kill()
        return {"status": "fail", "problems": [why], "seconds": elapsed}


def _death(code: int | None, elapsed: float) -> str:
    if code == -signal.SIGPROF:
        return f"ran over the {CPU_SECONDS:g} s CPU limit (worker stopped after {elapsed:.1f} s)"
    if code is not None and code < 0:
        return f"worker killed by signal {signal.Signals(-code).name} after {elapsed:.1f} s"
    return f"worker exited with code {code} after {elapsed:.1f} s"
