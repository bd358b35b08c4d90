"""Writing a report's per-customer table: CSV, Parquet and the JSON sidecar (private).

The CSV is a plain table anyone can open: the header on line 1, RFC 4180
quoting through the standard :mod:`csv` module, UTF-8, no comment lines, so
``pandas.read_csv``, ``polars.read_csv`` and a spreadsheet load it with their
default options. What a reader needs to interpret it (the notes, the
parameters, the summary tables, the column dictionary, the custrel version
and the input file's SHA-256) goes to a sidecar ``<file>.json``.

Formula neutralisation (OWASP, "CSV injection"): a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a
formula by a spreadsheet, so it gets one leading apostrophe ``'``. A text
cell that already starts with ``'`` gets one more, so the rule is exactly
reversible: remove one leading ``'`` from every text cell that starts with it.
Numbers are written as numbers and never changed; no character is dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from custrel.errors import InvalidInputError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from custrel.report import CustomerReport

__all__: list[str] = []

#: First characters that make a spreadsheet read a text cell as a formula (OWASP), plus the
#: apostrophe itself so that the escaping is reversible.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")

#: Format tag and version of the sidecar JSON.
SIDECAR_FORMAT = "custrel-report-sidecar/1"


def neutralize(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet would run as a formula.

    Examples
    --------
    >>> [neutralize(s) for s in ["=1+1", "@x", "-5", "'a", "Store #5"]]
    ["'=1+1", "'@x", "'-5", "''a", 'Store #5']
    """
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def unneutralize(text: str) -> str:
    """Undo :func:`neutralize`: drop one leading ``'``.

    Examples
    --------
    >>> unneutralize(neutralize("=HYPERLINK(1)")), unneutralize("''a")
    ('=HYPERLINK(1)', "'a")
    """
    return text[1:] if text.startswith("'") else text


def _column_kind(arr: npt.NDArray[Any]) -> str:
    kind = arr.dtype.kind
    if kind == "M":
        return "datetime"
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "number"
    return "text"


def _cells(arr: npt.NDArray[Any], *, neutralize_text: bool) -> list[Any]:
    """One column as CSV cell values: numbers stay numbers, NaN is an empty cell."""
    kind = _column_kind(arr)
    if kind == "datetime":
        s = arr.astype("datetime64[s]")
        midnight = bool((s == s.astype("datetime64[D]")).all())
        shown = s.astype("datetime64[D]") if midnight else s
        return ["" if np.isnat(x) else str(x) for x in shown]
    if kind == "number":
        # repr is the shortest text that reads back as the same float
        return [repr(x) if x == x else "" for x in arr.tolist()]
    if kind in ("integer", "boolean"):
        return list(arr.tolist())
    values = [str(x) for x in arr.tolist()]
    if neutralize_text:
        values = [neutralize(x) for x in values]
    return values


def csv_text(columns: Mapping[str, npt.NDArray[Any]], *, neutralize: bool = True) -> str:
    """The columns as RFC 4180 CSV text (header on line 1, CRLF line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    names = list(columns)
    writer.writerow(names)
    lists = [_cells(np.asarray(columns[n]), neutralize_text=neutralize) for n in names]
    writer.writerows(zip(*lists, strict=True))
    return buf.getvalue()


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for _ in range(1 << 40):  # bounded: a file of up to 2**60 bytes
            block = fh.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def sidecar(report: CustomerReport, *, neutralized: bool = True) -> dict[str, Any]:
    """The report's notes, parameters, tables and column dictionary as JSON-ready data."""
    from custrel import __version__
    from custrel.report import COLUMN_DESCRIPTIONS

    columns = [
        {
            "name": name,
            "type": _column_kind(np.asarray(arr)),
            "description": COLUMN_DESCRIPTIONS.get(name, ""),
        }
        for name, arr in report.columns.items()
    ]
    return {
        "format": SIDECAR_FORMAT,
        "custrel_version": __version__,
        "rows": report.n_customers,
        "parameters": _plain(report.parameters),
        "csv": {
            "header_line": 1,
            "quoting": "RFC 4180",
            "encoding": "utf-8",
            "empty_cell": "a value that was not computed (NaN)",
            "formula_neutralization": (
                "text cells starting with = + - @ tab CR or ' got one leading ' "
                "(remove one leading ' to recover the text)"
                if neutralized
                else "off (--no-neutralize): text cells are written as they are"
            ),
        },
        "columns": columns,
        "notes": list(report.notes),
        "tables": [t.to_dict() for t in report.tables],
        "figures": sorted(report.figures),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(x) for x in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def is_parquet(path: str) -> bool:
    """True when ``path`` names a Parquet file (by its suffix)."""
    return path.lower().endswith((".parquet", ".pq"))


def need_pyarrow() -> Any:
    """Import pyarrow.parquet, or raise a one-line MissingDependencyError."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError(
            "writing Parquet needs pyarrow: pip install pyarrow, or write CSV (--out x.csv)"
        ) from None
    return pq


def check_output_path(path: str, flag: str, *, directory: bool = False) -> str:
    """Check, before any work starts, that ``path`` can be written; returns it.

    The parent folder must exist and be writable; a file path must not be a
    folder; a folder path (``directory=True``) may not exist yet (it is made)
    but must not be a file.
    """
    p = os.fspath(path)
    if not p:
        raise InvalidInputError(f"{flag} needs a path, got an empty string")
    target = os.path.abspath(p)
    parent = os.path.dirname(target.rstrip(os.sep)) or os.sep
    if directory:
        if os.path.exists(target) and not os.path.isdir(target):
            raise InvalidInputError(f"{flag} {p!r} is a file, not a folder")
        if os.path.isdir(target):
            parent = target
    elif os.path.isdir(target):
        raise InvalidInputError(f"{flag} {p!r} is a folder; give a file name")
    if not os.path.isdir(parent):
        raise InvalidInputError(
            f"{flag} {p!r}: the folder {os.path.dirname(p) or parent!r} does not exist"
        )
    if not os.access(parent, os.W_OK):
        raise InvalidInputError(f"{flag} {p!r}: the folder {parent!r} is not writable")
    return p


def save(report: CustomerReport, path: str, *, neutralize: bool = True) -> tuple[str, str]:
    """Write the table (CSV or Parquet by suffix) and its ``.json`` sidecar."""
    check_output_path(path, "path")
    meta = sidecar(report, neutralized=neutralize and not is_parquet(path))
    if is_parquet(path):
        pq = need_pyarrow()
        import pyarrow as pa

        arrays = {}
        for name, arr in report.columns.items():
            a = np.asarray(arr)
            if a.dtype.kind == "M":
                arrays[name] = pa.array(a.astype("datetime64[s]"))
            elif a.dtype.kind in "US" or a.dtype == object:
                arrays[name] = pa.array([str(x) for x in a.tolist()], type=pa.string())
            else:
                arrays[name] = pa.array(a)
        table = pa.table(arrays)
        table = table.replace_schema_metadata({b"custrel": json.dumps(meta).encode("utf-8")})
        pq.write_table(table, path)
        meta["parquet"] = {"metadata_key": "custrel", "neutralization": "none (typed columns)"}
        meta.pop("csv")
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(csv_text(report.columns, neutralize=neutralize))
    side = path + ".json"
    with open(side, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2, ensure_ascii=False, allow_nan=False)
        fh.write("\n")
    return path, side
