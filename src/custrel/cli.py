r"""The ``custrel`` command.

``custrel demo`` runs the customer report on the sample bundled with the
package; ``custrel report FILE ...`` runs it on a CSV file of your own::

    custrel demo --html report.html
    custrel report orders.csv --customer-col customer --date-col date \\
        --amount-col total --out report.csv --html report.html

Progress goes to stderr, results to stdout. A bad file or argument prints one
line ``custrel: error: ...`` and exits with status 2, never a traceback or a
raw warning: messages name the flag (``--date-format``) and the file's line
(the header is line 1). Output paths are checked before any work starts.

This module imports only the standard library at the top, so
``custrel --version`` answers without loading the numerical code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from custrel.models import TransactionLog
    from custrel.report import CustomerReport

__all__ = ["main"]

#: How ``TransactionLog.from_csv`` arguments are called on the command line (its messages use these).
VOCABULARY = {
    "path": "FILE",
    "customer_col": "--customer-col",
    "time_col": "--date-col",
    "amount_col": "--amount-col",
    "date_format": "--date-format",
    "delimiter": "--delimiter",
    "encoding": "--encoding",
    "decimal": "--decimal",
    "thousands": "--thousands",
    "order_col": "--order-col",
    "quantity_col": "--quantity-col",
    "price_col": "--price-col",
    "cancel_prefix": "--cancel-prefix",
    "cancel_col": "--cancel-col",
    "missing_customer": "--missing-customer",
    "timezone": "--utc",
    "observation_end": "--observation-end",
}

#: Intake flags -> keyword of ``TransactionLog.from_csv`` (passed only when given).
_INTAKE = {
    "encoding": "encoding",
    "decimal": "decimal",
    "thousands": "thousands",
    "order_col": "order_col",
    "quantity_col": "quantity_col",
    "price_col": "price_col",
    "cancel_prefix": "cancel_prefix",
    "cancel_col": "cancel_col",
    "missing_customer": "missing_customer",
}


def _version() -> str:
    from custrel import __version__

    return f"custrel {__version__}"


class _VersionAction(argparse.Action):
    """``--version`` that reads the version only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        print(_version())
        parser.exit()


class _Progress:
    """Prints timed progress lines on stderr (unless quiet)."""

    def __init__(self, stream: TextIO, *, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:6.2f}s] {message}", file=self.stream, flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error format of the rest of the command."""

    def error(self, message: str) -> Any:
        self.exit(2, f"custrel: error: {message} (see {self.prog} --help)\n")


class _Failure(Exception):
    """A command-line problem (a flag's value, an output path): one line, status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="custrel",
        description="Customer-relationship analytics: value, tiers, segments, lifecycle and "
        "lifetime value per customer.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    demo = sub.add_parser("demo", help="run the customer report on the bundled sample data")
    _common(demo)

    rep = sub.add_parser("report", help="run the customer report on your own CSV file")
    rep.add_argument("file", help="CSV file with a header row (line 1), one transaction per row")
    rep.add_argument("--customer-col", required=True, help="header of the customer id column")
    rep.add_argument("--date-col", required=True, help="header of the date (or time) column")
    rep.add_argument(
        "--amount-col",
        default=None,
        help="header of the amount column (or give --quantity-col and --price-col)",
    )
    rep.add_argument(
        "--date-format",
        default=None,
        help="strptime format of non-ISO dates, e.g. %%Y%%m%%d or %%d/%%m/%%Y",
    )
    rep.add_argument("--delimiter", default=",", help="field separator (default ',')")
    rep.add_argument(
        "--encoding", default=None, help="text encoding, e.g. cp1252 or latin-1 (default UTF-8)"
    )
    rep.add_argument("--decimal", default=None, help="decimal mark of amounts, e.g. ','")
    rep.add_argument("--thousands", default=None, help="thousands separator of amounts, e.g. '.'")
    rep.add_argument(
        "--order-col",
        default=None,
        help="header of the order (invoice) column: lines of one order are one purchase",
    )
    rep.add_argument("--quantity-col", default=None, help="header of the quantity column")
    rep.add_argument(
        "--price-col", default=None, help="header of the unit price column (amount = qty x price)"
    )
    rep.add_argument(
        "--cancel-prefix",
        default=None,
        help="order ids (--order-col) starting with this mark cancellations, e.g. C as in the "
        "Online Retail data: their amounts count as returns",
    )
    rep.add_argument(
        "--cancel-col",
        default=None,
        help="header of a yes/no column flagging cancellations or returns (1/0, true/false, "
        "yes/no, x): flagged amounts count as returns",
    )
    rep.add_argument(
        "--missing-customer",
        choices=("error", "skip"),
        default=None,
        help="rows without a customer id: an error naming the line (default) or skipped "
        "(the report counts them)",
    )
    rep.add_argument(
        "--utc",
        action="store_true",
        help="convert times with an offset (+01:00) to UTC (default: keep the local calendar "
        "date and time as written)",
    )
    _common(rep)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        default=None,
        help="write the per-customer table to this file: CSV, or Parquet for a .parquet name; "
        "notes and parameters go to FILE.json next to it",
    )
    p.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="write the report as one self-contained HTML page (needs the plot extra)",
    )
    p.add_argument(
        "--no-neutralize",
        dest="neutralize",
        action="store_false",
        help="write text cells starting with = + - @ tab or CR as they are (by default they "
        "get a leading ' so spreadsheets do not run them as formulas)",
    )
    p.add_argument(
        "--observation-end",
        default=None,
        help="end of the observation window (a date, or a number for numeric times)",
    )
    p.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="write the report's figures as PNG files into DIR (needs the plot extra)",
    )
    p.add_argument("--top", type=int, default=10, help="customers to print (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path can be written, and its extras are installed: checked before any work."""
    import importlib.util

    from custrel._output import check_output_path, is_parquet, need_pyarrow

    if args.top < 0:
        raise _Failure(f"--top must be 0 or more, got {args.top}")
    if args.out is not None:
        check_output_path(args.out, "--out")
        if is_parquet(args.out):
            need_pyarrow()
    if args.html is not None:
        check_output_path(args.html, "--html")
    if args.plots is not None:
        check_output_path(args.plots, "--plots", directory=True)
    if (args.html or args.plots) and importlib.util.find_spec("matplotlib") is None:
        raise _Failure(
            "--html and --plots draw figures, which need the 'plot' extra: "
            "pip install 'custrel[plot]'"
        )


def _observation_end(value: str | None, log: TransactionLog) -> object:
    """The --observation-end value in the log's time kind, or a message naming the flag."""
    if value is None:
        return None
    from custrel.errors import CustrelError

    if log.time_kind == "numeric":
        try:
            return float(value)
        except ValueError:
            raise _Failure(
                f"--observation-end must be a number (the file's times are numbers), got {value!r}"
            ) from None
    try:
        log.to_time_float(value, "--observation-end")
    except CustrelError:
        raise _Failure(
            f"--observation-end must be a date like 2024-06-30 (the file's times are dates), "
            f"got {value!r}"
        ) from None
    return value


def _read_log(args: argparse.Namespace) -> TransactionLog:
    import inspect

    from custrel.models import TransactionLog

    supported = inspect.signature(TransactionLog.from_csv).parameters
    kwargs: dict[str, Any] = {
        "customer_col": args.customer_col,
        "time_col": args.date_col,
        "date_format": args.date_format,
        "delimiter": args.delimiter,
    }
    if args.amount_col is None and not (args.quantity_col and args.price_col):
        raise _Failure("give --amount-col, or --quantity-col and --price-col")
    kwargs["amount_col"] = args.amount_col
    for dest, name in _INTAKE.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if name not in supported:  # pragma: no cover - an intake option this build lacks
            raise _Failure(f"--{dest.replace('_', '-')} is not supported by this custrel")
        kwargs[name] = value
    if args.utc:
        kwargs["timezone"] = "utc"
    if "vocabulary" in supported:
        kwargs["vocabulary"] = VOCABULARY
    log: TransactionLog = TransactionLog.from_csv(args.file, **kwargs)
    return log


def _file_line(args: argparse.Namespace, log: TransactionLog, row: int) -> int | None:
    """The file line (header = line 1) holding the time of ``log`` row ``row``.

    The log's rows need not be the file's (rows skipped, invoice lines merged
    into orders), so the line is found by the value: the date column is read
    again with the standard library, and the first line whose time equals the
    culprit's is returned. Only runs on the error path.
    """
    import csv

    import numpy as np

    from custrel.models._times import parse_times

    target = log.time[row]
    numeric = log.time_kind == "numeric"
    encoding = args.encoding or "utf-8-sig"
    try:
        with open(args.file, encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=args.delimiter)
            header = next(reader, [])
            if args.date_col not in header:
                return None
            col = header.index(args.date_col)
            year = None if numeric else str(np.datetime64(target, "Y"))
            start = reader.line_num + 1
            for fields in reader:
                line, start = start, reader.line_num + 1
                if col >= len(fields):
                    continue
                text = fields[col].strip()
                if numeric:
                    try:
                        if float(text) == float(target):
                            return line
                    except ValueError:
                        continue
                elif year is not None and year in text:
                    try:
                        got = parse_times(
                            np.array([text]),
                            date_format=args.date_format,
                            timezone="utc" if args.utc else "local",
                        )[0]
                    except Exception:  # a line that does not parse is not it
                        continue
                    if np.datetime64(got, "D") == np.datetime64(target, "D"):
                        return line
    except (OSError, csv.Error):
        return None
    return None


def _run(args: argparse.Namespace, out: TextIO, err: TextIO, caught: list[Any]) -> int:
    _check_outputs(args)
    progress = _Progress(err, quiet=args.quiet)
    from custrel import __version__, datasets
    from custrel.errors import InvalidInputError
    from custrel.report import customer_report, span_problem

    parameters: dict[str, Any] = {}
    if args.command == "demo":
        progress("loading the bundled sample")
        log = datasets.load_sample()
        source = "the bundled sample (custrel.datasets.load_sample())"
        parameters["input"] = {"path": "custrel.datasets.load_sample()"}
    else:
        progress(f"reading {args.file}")
        log = _read_log(args)
        source = args.file
        from custrel._output import file_sha256

        parameters["input"] = {
            "path": os.path.abspath(args.file),
            "sha256": file_sha256(args.file),
            "bytes": os.path.getsize(args.file),
        }
        parameters["intake"] = {
            "customer_col": args.customer_col,
            "date_col": args.date_col,
            "amount_col": args.amount_col,
            "date_format": args.date_format,
            "delimiter": args.delimiter,
            **{dest: getattr(args, dest) for dest in _INTAKE if getattr(args, dest) is not None},
            "timezone": "utc" if args.utc else "local",
        }
    end = _observation_end(args.observation_end, log)
    problem = span_problem(log, end)
    if problem is not None:
        if args.command == "report":
            line = _file_line(args, log, problem.row)
            where = f"line {line} of {args.file}" if line is not None else f"row {problem.row}"
        else:
            where = f"row {problem.row} of the sample"
        raise InvalidInputError(
            f"{args.date_col if args.command == 'report' else 'time'} "
            f"{problem.text!r} at {where}: {problem.message}"
        )
    report: CustomerReport = customer_report(
        log,
        observation_end=end,
        plots_dir=args.plots,
        figures=args.html is not None,
        progress=progress,
    )
    report = _with_extras(report, parameters, caught)
    print(f"custrel {__version__}: customer report of {source}\n", file=out)
    print(report.format(top=args.top), file=out, end="")
    if args.out:
        table, side = report.save(args.out, neutralize=args.neutralize)
        progress(f"wrote {report.n_customers:,} customer rows to {table} (notes: {side})")
    if args.html:
        with open(args.html, "w", encoding="utf-8") as fh:
            fh.write(report.to_html(title=f"custrel customer report: {os.path.basename(source)}"))
        progress(f"wrote the HTML report to {args.html}")
    progress("done")
    return 0


def _with_extras(
    report: CustomerReport, parameters: dict[str, Any], caught: list[Any]
) -> CustomerReport:
    """Add the command line's parameters and any warning raised so far to the report."""
    import attrs

    notes = list(report.notes)
    short = list(report.short_notes)
    for w in caught:
        text = f"warning: {' '.join(str(w.message).split())}"
        if text not in notes:
            notes.append(text)
            short.append(text if len(text) <= 160 else text[:159] + "…")
    caught.clear()
    return attrs.evolve(
        report,
        notes=tuple(notes),
        short_notes=tuple(short),
        parameters={**report.parameters, **parameters},
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``custrel`` command; returns the exit status.

    Examples
    --------
    A file that does not exist gives one error line on stderr and status 2:

    >>> from custrel.cli import main
    >>> main(["report", "no-such-file.csv", "--customer-col", "c", "--date-col", "d",
    ...       "--amount-col", "a", "--quiet"])
    2
    """
    import warnings

    parser = _parser()
    args = parser.parse_args(argv)
    from custrel.errors import CustrelError

    # The command is the process: recording warnings here (not inside the library's
    # report, which may run in threads) turns them into notes instead of raw output.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _run(args, sys.stdout, sys.stderr, caught)
        except (CustrelError, _Failure, OSError, UnicodeError) as exc:
            print(f"custrel: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except MemoryError:
            print(
                "custrel: error: out of memory; check the file for a mistyped date or id, "
                "or end the window earlier with --observation-end",
                file=sys.stderr,
            )
            return 2
        except KeyboardInterrupt:
            print("custrel: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            if os.environ.get("CUSTREL_DEBUG"):
                raise
            print(
                f"custrel: error: unexpected {type(exc).__name__}: {_one_line(exc)} (a bug in "
                "custrel; please report it, CUSTREL_DEBUG=1 shows the traceback)",
                file=sys.stderr,
            )
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
