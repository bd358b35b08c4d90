"""Reading delimited text files (private): encoding, fields, numbers, line numbers.

The engines (standard library always; pyarrow or polars when installed) only
split the file into text fields; every value is typed by the same custrel code,
so all engines give identical logs. A fast engine that meets anything unusual
(a ragged row, a blank line, a value it cannot type) hands the file to the
standard-library engine, whose result or message is then the answer: every
engine gives the same message for the same file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from custrel._voice import Voice
from custrel.errors import EmptyInputError, InvalidInputError, MissingDependencyError

__all__: list[str] = []

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Bytes read at a time while checking that a file decodes.
_CHUNK_BYTES = 1 << 20
#: Longest field (in characters) that can be a number or a date.
MAX_NUMBER_TEXT = 64
#: Longest distinct text held in a fixed-width numpy array (longer ones stay Python strings).
WIDE_TEXT = 256
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DELIMITER_GUESSES = (";", "\t", "|", ",")


class Coded(NamedTuple):
    """A text column as integer codes into its distinct (stripped) values."""

    codes: IntArray
    values: npt.NDArray[Any]

    @classmethod
    def make(cls, codes: IntArray, raw: Sequence[str]) -> Coded:
        """Strip the distinct values; values that become equal (``"7"``, ``" 7"``) merge.

        The distinct values keep the order of their first appearance in ``raw``.
        They are a fixed-width numpy array when that is exact and not wasteful
        (no value longer than :data:`WIDE_TEXT` characters, no NUL character
        numpy would drop), else an object array of Python strings.
        """
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        longest = int(lengths.max()) if len(raw) else 0
        if longest <= WIDE_TEXT:
            arr = np.asarray(raw, dtype=f"U{max(longest, 1)}")
            if np.array_equal(np.char.str_len(arr), lengths):
                stripped = np.char.strip(arr)
                if not bool(np.any(np.char.str_len(stripped) != lengths)):
                    return cls(codes, stripped)
                distinct, first, inverse = np.unique(
                    stripped, return_index=True, return_inverse=True
                )
                order = np.argsort(first, kind="stable")
                rank = np.empty(len(order), dtype=np.int64)
                rank[order] = np.arange(len(order), dtype=np.int64)
                remap = rank[inverse.reshape(-1)]
                return cls(np.take(remap, codes), distinct[order])
        index: dict[str, int] = {}
        remap_list = [index.setdefault(s.strip(), len(index)) for s in raw]
        values = np.empty(len(index), dtype=object)
        values[:] = list(index)
        return cls(np.take(np.asarray(remap_list, dtype=np.int64), codes), values)

    def first_row(self, value_index: int) -> int:
        """The first row holding distinct value ``value_index``."""
        return int(np.flatnonzero(self.codes == value_index)[0])


Column = list[str] | FloatArray | IntArray | Coded


# ---------------------------------------------------------------------------
# encoding, binary files and line numbers
# ---------------------------------------------------------------------------


def text_encoding(encoding: str, voice: Voice) -> str:
    """The codec to decode with: UTF-8 (with or without a byte-order mark) by default."""
    if not isinstance(encoding, str):
        raise InvalidInputError(
            f"{voice.arg('encoding')} must be a text encoding name, got {encoding!r}"
        )
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInputError(
            f"{voice.arg('encoding')} {encoding!r} is not a known text encoding "
            "(for example 'utf-8', 'cp1252', 'latin-1', 'utf-16')"
        ) from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def check_text(path: str, codec: str, voice: Voice) -> None:
    """Refuse a binary file or one that does not decode, in one line naming the byte offset."""
    wide = codec.startswith(("utf-16", "utf-32"))
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset = 0
    lines = 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK_BYTES)
            if offset == 0 and not wide and chunk.startswith(_UTF16_BOMS):
                raise InvalidInputError(
                    f"{path!r} is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                    f"{voice.pass_('encoding', 'utf-16')}"
                )
            if not wide:
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise InvalidInputError(
                        f"{path!r} is a binary file, not delimited text (a NUL byte at byte "
                        f"offset {offset + nul}); export the data as CSV first"
                    )
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start
                line = lines + chunk.count(b"\n", 0, max(exc.start, 0))
                bad = chunk[exc.start : exc.start + 1] if exc.start >= 0 else b""
                shown = f"the byte 0x{bad.hex()} " if bad else ""
                word = "UTF-8" if codec == "utf-8-sig" else repr(codec)
                raise InvalidInputError(
                    f"{path!r} is not {word} text: {shown}at byte offset {at} (line {line}) "
                    f"cannot be decoded; {voice.pass_('encoding', 'cp1252')} (or 'latin-1', "
                    "'utf-16') for the file's encoding"
                ) from None
            if not chunk:
                return
            lines += chunk.count(b"\n")
            offset += len(chunk)


class LineMap:
    """Data row index to its file line (header = line 1), found only when a message needs it.

    Blank lines are not rows; a quoted field spanning lines counts from its
    record's first line.
    """

    def __init__(self, path: str, codec: str, delimiter: str) -> None:
        self.path, self.codec, self.delimiter = path, codec, delimiter

    def line(self, index: int) -> int:
        """The file line on which data row ``index`` (0-based) starts."""
        with open(self.path, encoding=self.codec, newline="") as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)
            row = -1
            start = reader.line_num + 1
            for record in reader:
                if record:
                    row += 1
                    if row == index:
                        return start
                start = reader.line_num + 1
        return index + 2  # pragma: no cover - the row exists when a message names it

    def __call__(self, index: int) -> str:
        return f"line {self.line(index)}"


# ---------------------------------------------------------------------------
# the header
# ---------------------------------------------------------------------------


def read_header(path: str, codec: str, delimiter: str) -> list[str]:
    """The header's fields, stripped; EmptyInputError when the file is empty."""
    with open(path, encoding=codec, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for record in reader:
            if record:
                return [h.strip() for h in record]
    raise EmptyInputError(f"{path!r} is empty: it has no header and no rows")


def check_header(
    path: str, header: list[str], wanted: dict[str, str], delimiter: str, voice: Voice
) -> None:
    """Every wanted column is in the header exactly once; a wrong delimiter is named."""
    for arg, name in wanted.items():
        count = header.count(name)
        if count == 1:
            continue
        if count > 1:
            raise InvalidInputError(
                f"column {name!r} ({voice.arg(arg)}) appears {count} times in the header of "
                f"{path!r}; rename the columns so that each name is unique"
            )
        message = (
            f"column {name!r} ({voice.arg(arg)}) is not in the header of {path!r}; "
            f"its columns are {header!r}"
        )
        if len(header) == 1:
            guesses = [d for d in _DELIMITER_GUESSES if d != delimiter and d in header[0]]
            if guesses:
                best = max(guesses, key=header[0].count)
                shown = "a tab" if best == "\t" else repr(best)
                message += (
                    f"; the header reads as one column, so the fields are probably separated "
                    f"by {shown}: {voice.pass_('delimiter', best)}"
                )
        raise InvalidInputError(message)


# ---------------------------------------------------------------------------
# the engines: text fields per column
# ---------------------------------------------------------------------------


class Engine(NamedTuple):
    """What the engine read: columns by header name and the number of data rows."""

    columns: dict[str, Column]
    n_rows: int


def read_columns(
    path: str,
    names: list[str],
    *,
    coded: set[str],
    int_col: str | None,
    numeric: set[str],
    codec: str,
    delimiter: str,
    engine: str,
    last: str | None = None,
) -> Engine:
    """Read the named columns with ``engine`` ("python", "pyarrow" or "polars").

    Columns in ``coded`` come back as :class:`Coded`; ``int_col`` may come back
    as plain int64 when every value is an integer written plainly; columns in
    ``numeric`` may come back as float64 when the engine typed every value.
    Everything else is a list of the raw field texts.
    """
    if engine == "pyarrow":
        return _read_pyarrow(path, names, coded, int_col, numeric, codec, delimiter)
    if engine == "polars":
        return _read_polars(path, names, coded, int_col, numeric, codec, delimiter, last)
    return _read_python(path, names, coded, codec, delimiter)


class EngineFallback(Exception):
    """A fast engine met something only the standard-library engine can judge."""


def pick_engine(engine: str) -> str:
    """The engine ``"auto"`` stands for (the fastest one installed)."""
    if engine != "auto":
        needs = {"pyarrow": "pyarrow", "polars": "polars"}.get(engine)
        if needs is not None:
            try:
                __import__(needs)
            except ImportError:
                raise MissingDependencyError(
                    f"engine {engine!r} needs {needs}; pip install {needs}"
                ) from None
        return engine
    for candidate in ("pyarrow", "polars"):
        try:
            __import__(candidate)
        except ImportError:
            continue
        return candidate
    return "python"


def _read_python(
    path: str, names: list[str], coded: set[str], codec: str, delimiter: str
) -> Engine:
    # Stream the fields into one list per column (keeping every row's list alive
    # instead would make the cyclic garbage collector crawl). Coded columns are
    # coded on the fly, so each distinct value is stripped and parsed once.
    with open(path, newline="", encoding=codec) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = [h.strip() for h in next(reader)]
        width = len(header)
        cols: dict[str, list[Any]] = {n: [] for n in names}
        indexes: dict[str, dict[str, int]] = {n: {} for n in names if n in coded}
        plain = [(cols[n].append, header.index(n)) for n in names if n not in indexes]
        coders = [(cols[n].append, header.index(n), indexes[n]) for n in indexes]
        row_no = 0
        start = reader.line_num + 1
        for row in reader:
            if not row:
                start = reader.line_num + 1
                continue  # blank lines are not rows (as in pyarrow)
            if len(row) != width:
                word = "field" if len(row) == 1 else "fields"
                raise InvalidInputError(
                    f"line {start} of {path!r} has {len(row)} {word}, the header has {width}"
                )
            for append, i in plain:
                append(row[i])
            for append, i, index in coders:
                append(index.setdefault(row[i], len(index)))
            row_no += 1
            start = reader.line_num + 1
    out: dict[str, Column] = {}
    for n in names:
        if n in indexes:
            out[n] = Coded.make(np.asarray(cols[n], dtype=np.int64), list(indexes[n]))
        else:
            out[n] = cols[n]
    return Engine(out, row_no)


def _read_pyarrow(
    path: str,
    names: list[str],
    coded: set[str],
    int_col: str | None,
    numeric: set[str],
    codec: str,
    delimiter: str,
) -> Engine:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(encoding="utf8" if codec == "utf-8-sig" else codec)
    try:
        table = pacsv.read_csv(
            path,
            read_options=read,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=names,
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],  # only empty fields are missing; "nan" is a value to reject
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError):
        raise EngineFallback from None
    out: dict[str, Column] = {}
    for n in names:
        col = table.column(n).combine_chunks()
        if col.null_count:  # an empty field (pyarrow refuses short rows and skips blank lines)
            col = pc.fill_null(col, "")
        if n == int_col:
            ints = _arrow_plain_ints(col)
            if ints is not None:
                out[n] = ints
                continue
        if n in coded:
            enc = pc.dictionary_encode(col)
            out[n] = Coded.make(enc.indices.to_numpy().astype(np.int64), enc.dictionary.to_pylist())
            continue
        if n in numeric and (pc.max(pc.utf8_length(col)).as_py() or 0) <= MAX_NUMBER_TEXT:
            try:
                out[n] = pc.cast(col, pa.float64()).to_numpy()
                continue
            except pa.ArrowInvalid:
                pass  # not all plain numbers: typed as text below
        out[n] = col.to_pylist()
    return Engine(out, table.num_rows)


def _arrow_plain_ints(col: Any) -> IntArray | None:
    """The column as int64 when every value is an integer written plainly, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        ints = pc.cast(col, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not pc.all(pc.equal(pc.cast(ints, pa.string()), col)).as_py():
        return None  # "007" or "+7": the ids stay text
    out: IntArray = ints.to_numpy(zero_copy_only=False)
    return out


def _read_polars(
    path: str,
    names: list[str],
    coded: set[str],
    int_col: str | None,
    numeric: set[str],
    codec: str,
    delimiter: str,
    last: str | None = None,
) -> Engine:
    import polars as pl

    source: Any = path
    if codec != "utf-8-sig":  # polars reads UTF-8 only: hand it the text re-encoded
        with open(path, encoding=codec, newline="") as fh:
            source = io.BytesIO(fh.read().encode("utf-8"))
    try:
        wanted = names if last is None or last in names else [*names, last]
        df = pl.read_csv(source, separator=delimiter, columns=wanted, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        raise EngineFallback from None
    if last is not None and df[last].null_count():
        raise EngineFallback  # polars fills a short row with nulls: let the python engine judge
    out: dict[str, Column] = {}
    for n in names:
        s = df[n]
        if s.null_count():  # an empty field, a short row or a blank line
            raise EngineFallback
        if n == int_col:
            ints = s.str.to_integer(strict=False)
            if ints.null_count() == 0 and bool((ints.cast(pl.String) == s).all()):
                out[n] = ints.to_numpy().astype(np.int64)
                continue
        if n in coded:
            values = s.unique().sort()
            codes = (s.rank("dense") - 1).to_numpy().astype(np.int64)
            out[n] = Coded.make(codes, values.to_list())
            continue
        longest: Any = s.str.len_chars().max()
        if n in numeric and int(longest or 0) <= MAX_NUMBER_TEXT:
            try:
                out[n] = s.cast(pl.Float64, strict=True).to_numpy()
                continue
            except pl.exceptions.PolarsError:
                pass
        out[n] = s.to_list()
    return Engine(out, df.height)


# ---------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------

_GROUPING: dict[tuple[str, str], re.Pattern[str]] = {}


def _grouping(decimal: str, thousands: str) -> re.Pattern[str]:
    key = (decimal, thousands)
    if key not in _GROUPING:
        t, d = re.escape(thousands), re.escape(decimal)
        _GROUPING[key] = re.compile(rf"^[+-]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?$")
    return _GROUPING[key]


def parse_numbers(
    col: Column,
    name: str,
    voice: Voice,
    *,
    decimal: str = ".",
    thousands: str | None = None,
) -> FloatArray:
    """A numeric column as float64; empty, over-long and non-numeric fields are named.

    With ``decimal=","`` (and ``thousands="."``) values are read as European
    exports write them: ``22,6`` and ``1.191,50``. A value that does not fit
    the stated form (``22.6`` with decimal ``","`` and no thousands separator,
    or ``1.19,5``) is refused rather than guessed.
    """
    if isinstance(col, Coded):  # pragma: no cover - numeric columns are never coded
        col = text_values(col)
    if isinstance(col, np.ndarray):
        return col.astype(np.float64)
    longest = max(map(len, col), default=0)
    if longest > MAX_NUMBER_TEXT:
        row = next(i for i, s in enumerate(col) if len(s) > MAX_NUMBER_TEXT)
        raise InvalidInputError(
            f"{name} has a value of {len(col[row]):,} characters at {voice.at(row)}, not a number"
        )
    arr = np.char.strip(np.asarray(col, dtype=f"U{max(longest, 1)}"))
    empty = np.char.str_len(arr) == 0
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise InvalidInputError(f"{name} is missing a value at {voice.at(row)}")
    text = arr
    if thousands is not None or decimal != ".":
        text = _delocalise(arr, name, voice, decimal, thousands)
    try:
        return text.astype(np.float64)
    except ValueError:
        for row, s in enumerate(text.tolist()):
            try:
                float(s)
            except ValueError:
                raise InvalidInputError(
                    f"{name} has a non-numeric value {arr[row].item()!r} at {voice.at(row)}"
                ) from None
        raise  # pragma: no cover


def _form_error(
    name: str, value: str, row: int, voice: Voice, decimal: str, thousands: str | None
) -> InvalidInputError:
    form = f"{voice.arg('decimal')} {decimal!r}"
    if thousands is not None:
        form += f" and {voice.arg('thousands')} {thousands!r}"
    return InvalidInputError(
        f"{name} has {value!r} at {voice.at(row)}, which is not a number written with {form}"
    )


def _delocalise(
    arr: npt.NDArray[Any], name: str, voice: Voice, decimal: str, thousands: str | None
) -> npt.NDArray[Any]:
    text = arr
    if thousands is not None:
        has = np.char.find(text, thousands) >= 0
        if has.any():
            pattern = _grouping(decimal, thousands)
            rows = np.flatnonzero(has)
            distinct, inverse = np.unique(text[rows], return_inverse=True)
            ok = np.fromiter((pattern.match(s) is not None for s in distinct.tolist()), dtype=bool)
            if not ok.all():
                row = int(rows[np.flatnonzero(~ok[inverse.reshape(-1)])[0]])
                raise _form_error(name, arr[row].item(), row, voice, decimal, thousands)
            text = np.char.replace(text, thousands, "")
    if decimal != ".":
        dots = np.char.find(text, ".") >= 0
        if dots.any():
            row = int(np.flatnonzero(dots)[0])
            raise _form_error(name, arr[row].item(), row, voice, decimal, thousands)
        text = np.char.replace(text, decimal, ".")
    return text


def text_values(col: Column) -> list[str]:
    """Any column as its list of field texts (stripped)."""
    if isinstance(col, Coded):
        return [str(x) for x in col.values[col.codes].tolist()]
    if isinstance(col, np.ndarray):
        return [str(x) for x in col.tolist()]
    return [s.strip() for s in col]


def file_path(path: Any, voice: Voice) -> str:
    """The path as a string; a missing file or a folder is refused."""
    try:
        raw = os.fspath(path)
    except TypeError:
        raise InvalidInputError(f"path must be a file path, got {type(path).__name__}") from None
    p: str = os.fsdecode(raw)
    if not os.path.isfile(p):
        raise InvalidInputError(f"path {p!r} does not exist or is not a file")
    return p
