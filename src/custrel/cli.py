r"""The ``custrel`` command.

``custrel demo`` runs the customer report on the sample bundled with the
package; ``custrel report FILE ...`` runs it on a CSV file of your own::

    custrel demo
    custrel report orders.csv --customer-col customer --date-col date \\
        --amount-col total --out report.csv

Progress goes to stderr, results to stdout. A bad file or argument prints one
line ``custrel: error: ...`` and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from custrel import __version__, datasets
from custrel.errors import CustrelError
from custrel.models import TransactionLog
from custrel.report import CustomerReport, customer_report

__all__ = ["main"]


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custrel",
        description="Customer-relationship analytics: value, tiers, segments, lifecycle and "
        "lifetime value per customer.",
    )
    parser.add_argument("--version", action="version", version=f"custrel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the customer report on the bundled sample data")
    _common(demo)

    rep = sub.add_parser("report", help="run the customer report on your own CSV file")
    rep.add_argument("file", help="CSV file with a header row, one transaction per row")
    rep.add_argument("--customer-col", required=True, help="header of the customer id column")
    rep.add_argument("--date-col", required=True, help="header of the date (or time) column")
    rep.add_argument("--amount-col", required=True, help="header of the amount column")
    rep.add_argument(
        "--date-format",
        default=None,
        help="strptime format of non-ISO dates, e.g. %%Y%%m%%d or %%d/%%m/%%Y",
    )
    rep.add_argument("--delimiter", default=",", help="field separator (default ',')")
    _common(rep)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="write the per-customer report to this CSV file")
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


def _observation_end(value: str | None, log: TransactionLog) -> object:
    if value is None:
        return None
    if log.time_kind == "numeric":
        try:
            return float(value)
        except ValueError:
            raise CustrelError(
                f"--observation-end must be a number for numeric times, got {value!r}"
            ) from None
    return value


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    progress = _Progress(err, quiet=args.quiet)
    if args.command == "demo":
        progress("loading the bundled sample")
        log = datasets.load_sample()
        source = "the bundled sample (custrel.datasets.load_sample())"
    else:
        progress(f"reading {args.file}")
        log = TransactionLog.from_csv(
            args.file,
            customer_col=args.customer_col,
            time_col=args.date_col,
            amount_col=args.amount_col,
            date_format=args.date_format,
            delimiter=args.delimiter,
        )
        source = args.file
    report: CustomerReport = customer_report(
        log,
        observation_end=_observation_end(args.observation_end, log),
        plots_dir=args.plots,
        progress=progress,
    )
    print(f"custrel {__version__}: customer report of {source}\n", file=out)
    print(report.format(top=args.top), file=out, end="")
    if args.out:
        report.to_csv(args.out)
        progress(f"wrote {report.n_customers:,} customer rows to {args.out}")
    progress("done")
    return 0


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
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, sys.stdout, sys.stderr)
    except CustrelError as exc:
        print(f"custrel: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"custrel: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("custrel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
