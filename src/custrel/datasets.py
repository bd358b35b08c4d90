"""Sample data: the CDNOW file format and the data bundled with the package.

The CDNOW data (Fader & Hardie) are whitespace-separated lines
``customer_id  id_in_master  yyyymmdd  n_cds  dollars`` without a header;
:func:`load_cdnow` reads them into a :class:`~custrel.TransactionLog`
with the number of CDs as the ``volume`` column.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from custrel.errors import EmptyInputError, InvalidInputError
from custrel.models import TransactionLog

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["load_cdnow"]


def load_cdnow(path: str | os.PathLike[str] | Path) -> TransactionLog:
    r"""Read a file in the CDNOW format (``CDNOW_sample.txt``, ``CDNOW_master.txt``).

    Parameters
    ----------
    path : path-like
        The file: whitespace-separated columns per line, customer id,
        (in the sample only) the customer id in the master file, date as
        yyyymmdd, number of CDs and dollar value. A header line is skipped.

    Returns
    -------
    TransactionLog
        Calendar times (one per day), ``amount`` in dollars and ``volume``
        the number of CDs. Customer ids are the file's first column as
        integers. Rows keep the file's order; nothing is dropped, including
        the zero-dollar rows the file contains.

    Raises
    ------
    InvalidInputError
        If a line does not have five numeric fields (naming the line).
    EmptyInputError
        If the file has no lines.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "cd.txt")
    >>> with open(p, "w") as fh:
    ...     _ = fh.write(" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n")
    >>> log = load_cdnow(p)
    >>> log.n_rows, log.customer_labels.tolist(), log.volume.tolist()
    (2, [4], [2.0, 2.0])
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InvalidInputError(f"path {p!r} does not exist or is not a file")
    with open(p, encoding="ascii") as fh:
        lines = [line for line in fh.read().splitlines() if line.strip()]
    if lines and any(ch.isalpha() for ch in lines[0]):
        lines = lines[1:]  # the master file has a header line
    if not lines:
        raise EmptyInputError(f"{p!r} is empty: it has no rows")
    width = len(lines[0].split())
    if width not in (4, 5):
        raise InvalidInputError(
            f"{p!r} has {width} fields per line, expected 5 (sample) or 4 (master)"
        )
    tokens = " ".join(lines).split()
    if len(tokens) != width * len(lines):
        for line_no, line in enumerate(lines):
            if len(line.split()) != width:
                raise InvalidInputError(
                    f"{p!r} data line {line_no} has {len(line.split())} fields, "
                    f"expected {width}: {line!r}"
                )
    table = np.asarray(tokens).reshape(-1, width)
    date_col = width - 3
    try:
        ids = table[:, 0].astype(np.int64)
        dates = table[:, date_col].astype(np.int64)
        cds = table[:, date_col + 1].astype(np.float64)
        dollars = table[:, date_col + 2].astype(np.float64)
    except ValueError as exc:
        raise InvalidInputError(f"{p!r} has a non-numeric field: {exc}") from None
    return TransactionLog.from_arrays(
        customer_id=ids,
        time=dates,
        amount=dollars,
        volume=cds,
        date_format="%Y%m%d",
    )
