r"""The one id normaliser (private): customers, candidates, groups and states.

The log builders (``from_arrays``, ``from_records``, ``from_frame``,
``from_csv``, ``concat``) turn ids into integer codes into sorted distinct
labels here, and ``_validate.id_array`` / ``_validate.group_codes`` wrap it
for per-entity ids and group labels, so the same rules hold everywhere:

* distinct ids stay distinct and keep their type: ``1`` and ``"1"`` are two
  customers (unless the caller asks to coerce them with ``id_type``);
* missing ids (``None``, NaN, ``pd.NA``, ``NaT``, polars nulls, an empty
  string) are refused naming the position, or skipped when the caller chose
  ``missing="skip"``;
* bytes ids are refused (decode them: ``b"a"`` and ``"a"`` would otherwise be
  two customers that print alike), as are ids containing a NUL character
  (numpy drops trailing NULs, so ``"a\\x00"`` would silently become ``"a"``),
  booleans, complex numbers, dates and durations;
* text ids are held in a fixed-width numpy array only when the longest is at
  most :data:`WIDE_ID` characters; longer ids are kept as Python strings (an
  object array), so one very long id does not make every id that wide.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from custrel._voice import PLAIN, Voice
from custrel.errors import EmptyInputError, InvalidInputError, InvalidTypeError

__all__: list[str] = []

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
IdType = Literal["keep", "auto", "str", "int"]
Missing = Literal["error", "skip"]

#: Longest text id (in characters) held in a fixed-width numpy array.
WIDE_ID = 256
#: The order in which id kinds sort when one column mixes them.
_KIND_ORDER = {"int": 0, "float": 1, "str": 2}


def _missing_hint(voice: Voice) -> str:
    return f"{voice.pass_('missing_customer', 'skip')} to leave such rows out"


def _missing_error(
    name: str, what: str, row: int, voice: Voice, skippable: bool = True
) -> InvalidInputError:
    hint = f"; {_missing_hint(voice)}" if skippable else ""
    return InvalidInputError(f"{name} is missing ({what}) at {voice.at(row)}{hint}")


def as_id_array(values: Any, name: str = "customer_id") -> npt.NDArray[Any]:
    """Ids as a 1-D numpy array, without ever widening text through numpy's string dtype."""
    if isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InvalidTypeError(
            f"{name} must be a sequence of ids (a list, array or column), "
            f"got {type(values).__name__} {values!r:.60}"
        )
    elif hasattr(values, "to_numpy") and hasattr(values, "dtype"):
        arr = values.to_numpy()  # pandas / polars series: missing values come as objects
    else:
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)  # no np.asarray: [1, "1"] must not become ["1", "1"]
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def normalize_ids(
    values: Any,
    name: str = "customer_id",
    *,
    id_type: IdType = "keep",
    missing: Missing = "error",
    voice: Voice = PLAIN,
    skippable: bool = True,
) -> tuple[IntArray, npt.NDArray[Any], BoolArray | None]:
    """Codes into the sorted distinct ids, and the mask of rows kept.

    Returns ``(codes, labels, missing_rows)``: ``codes`` has one entry per row
    (``-1`` for a skipped missing id), ``missing_rows`` is ``None`` when no id
    was missing, else the boolean mask of the skipped rows.
    """
    arr = as_id_array(values, name)
    n = len(arr)
    gone: BoolArray | None = None
    if arr.dtype.kind == "O":
        items = arr.tolist()  # numpy scalars become Python ones
        kinds = set(map(type, items))
        if kinds in ({str}, {int}, {float}):
            # one simple type: typed first, so the missing ones (empty text, nan) are found
            # by the typed array's test below, not by a Python test of every row
            arr = _typed_objects(items, kinds, name, voice)
        else:
            gone = _missing_mask(arr, name, missing, voice, skippable)
            if gone is not None:  # the rows left once the missing ones are skipped
                items = arr[~gone].tolist()
                kinds = set(map(type, items))
            arr = _typed_objects(items, kinds, name, voice)
    kind = arr.dtype.kind
    if kind == "b":
        raise InvalidTypeError(f"{name} must be integers or text, got booleans")
    if kind == "c":
        raise InvalidTypeError(f"{name} must be integers or text, got complex numbers")
    if kind in "mM":
        raise InvalidTypeError(
            f"{name} must be integers or text, got {arr.dtype}; convert them to text first"
        )
    if kind == "S":
        raise InvalidTypeError(
            f"{name} holds bytes ({arr[0]!r} at {voice.at(0)}); decode them to text first "
            "(for example [x.decode('utf-8') for x in ids])"
        )
    if kind not in "iufUO":
        raise InvalidTypeError(f"{name} must be integers or text, got dtype {arr.dtype}")
    if gone is None:
        gone = _missing_mask(arr, name, missing, voice, skippable)
        kept = arr if gone is None else arr[~gone]
    else:
        kept = arr
    kept = _coerce(kept, id_type, name, voice, gone)
    codes, labels = _codes(kept, name, voice)
    if gone is None:
        return codes, labels, None
    full = np.full(n, -1, dtype=np.int64)
    full[~gone] = codes
    return full, labels, gone


def _typed_objects(items: list[Any], kinds: set[type], name: str, voice: Voice) -> npt.NDArray[Any]:
    """Ids (Python objects, of the types ``kinds``) as a typed array where all have one simple type."""
    if kinds == {str}:
        return _text_ids(items, name, voice)
    if kinds == {int}:
        try:
            return np.asarray(items, dtype=np.int64)
        except OverflowError:
            pass  # ids beyond 64 bits stay Python ints
    elif kinds == {float}:
        return np.asarray(items, dtype=np.float64)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _text_ids(items: list[str], name: str, voice: Voice) -> npt.NDArray[Any]:
    """Python strings as a fixed-width array when short enough, else as objects."""
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    longest = int(lengths.max()) if len(items) else 0
    if longest > WIDE_ID:
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out
    arr = np.asarray(items, dtype=f"U{max(longest, 1)}")
    cut = np.char.str_len(arr) != lengths  # numpy dropped trailing NULs
    if cut.any():
        row = int(np.flatnonzero(cut)[0])
        raise _nul_error(name, items[row], row, voice)
    return arr


def _nul_error(name: str, value: Any, row: int, voice: Voice) -> InvalidInputError:
    return InvalidInputError(
        f"{name} has an id with a NUL character ({value!r:.60}) at {voice.at(row)}; "
        "ids must be text without NUL characters"
    )


def _missing_mask(
    arr: npt.NDArray[Any], name: str, missing: Missing, voice: Voice, skippable: bool = True
) -> BoolArray | None:
    kind = arr.dtype.kind
    what = "nan"
    if kind == "f":
        mask = np.isnan(arr)
        inf = np.isinf(arr)
        if inf.any():
            row = int(np.flatnonzero(inf)[0])
            raise InvalidInputError(
                f"{name} must be finite, got {float(arr[row])!r} at {voice.at(row)}"
            )
    elif kind == "U":
        mask = np.char.str_len(arr) == 0
        what = "empty"
    elif kind == "O":
        flags = [_missing_word(x) for x in arr.tolist()]
        mask = np.fromiter((f is not None for f in flags), dtype=bool, count=len(flags))
        if mask.any():
            what = str(flags[int(np.flatnonzero(mask)[0])])
    else:
        return None
    if not mask.any():
        return None
    if missing == "error":
        row = int(np.flatnonzero(mask)[0])
        raise _missing_error(name, what, row, voice, skippable)
    if mask.all():
        raise EmptyInputError(
            f"every {name} is missing ({len(arr)} rows); no customer is left to analyse"
        )
    out: BoolArray = mask
    return out


def missing_name(item: Any) -> str | None:
    """How a missing value reads (``None``, ``nan``, ``<NA>``, ``NaT``), else None.

    The one test of "missing" for single values: ids here, times in
    :mod:`custrel.models._times`.
    """
    if item is None:
        return "None"
    if isinstance(item, float | np.floating) and item != item:
        return "nan"
    kind = type(item).__name__
    if kind in ("NAType", "NaTType"):
        return str(item)
    if isinstance(item, np.datetime64) and np.isnat(item):
        return "NaT"
    return None


def _missing_word(item: Any) -> str | None:
    """:func:`missing_name`, with an empty text also missing (an id cannot be empty)."""
    if isinstance(item, str):
        return "empty" if item == "" else None
    return missing_name(item)


def _coerce(
    arr: npt.NDArray[Any], id_type: IdType, name: str, voice: Voice, gone: BoolArray | None
) -> npt.NDArray[Any]:
    """Apply an explicit ``id_type`` coercion (``"str"`` or ``"int"``)."""
    if id_type in ("keep", "auto"):
        return arr
    if id_type == "str":
        if arr.dtype.kind == "U":
            return arr
        if arr.dtype.kind in "iu":
            return arr.astype(str)
        return _text_ids([str(x) for x in arr.tolist()], name, voice)
    # id_type == "int"
    if arr.dtype.kind in "iu":
        return arr
    items = arr.tolist()
    out = np.empty(len(items), dtype=np.int64)
    for i, item in enumerate(items):
        try:
            number = int(item.strip()) if isinstance(item, str) else int(item)
            if isinstance(item, float) and number != item:
                raise ValueError
            out[i] = number
        except (TypeError, ValueError, OverflowError):
            row = i if gone is None else int(np.flatnonzero(~gone)[i])
            raise InvalidInputError(
                f"{name} has {item!r:.60} at {voice.at(row)}, which is not an integer; "
                f"{voice.arg('id_type')} 'int' needs integer ids"
            ) from None
    return out


def _codes(arr: npt.NDArray[Any], name: str, voice: Voice) -> tuple[IntArray, npt.NDArray[Any]]:
    kind = arr.dtype.kind
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64), arr
    if kind in "iu":
        return _int_codes(arr)
    if kind == "f":
        return factorize_by_sort(arr)
    if kind == "U":
        if arr.dtype.itemsize // 4 > WIDE_ID:  # a wide numpy array: factorise Python strings
            return _object_codes(_text_ids(arr.tolist(), name, voice), name, voice)
        packed = _packed_text_codes(arr)
        if packed is None:
            labels, inverse = np.unique(arr, return_inverse=True)
            codes = inverse.astype(np.int64).reshape(-1)
        else:
            codes, labels = packed
        inner = _inner_nul(labels)
        if inner.any():
            bad = int(np.flatnonzero(inner)[0])
            row = int(np.flatnonzero(codes == bad)[0])
            raise _nul_error(name, labels[bad].item(), row, voice)
        return codes, labels
    return _object_codes(arr, name, voice)


def _packed_text_codes(arr: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any]] | None:
    """Codes and sorted labels of fixed-width text, its characters packed into integers.

    ``numpy.unique`` compares the texts as 32-bit code points: 5M ids of 8
    characters took 2.0 s, 14 characters 3.8 s. Where every character is
    below 256 (or 65,536), 8 (or 4) of them fit in a 64-bit word, most
    significant first, so the words compare as the texts do (numpy pads
    with NUL, the smallest character, and keeps no trailing NUL). Words that
    together vary over at most 64 bits (ids sharing a prefix, short ids)
    become one integer key, sorted once; otherwise the leading words that fit
    are sorted, and only the rows that tie on them and differ after are
    sorted again, by the rest of their words.
    Returns ``None`` for other text (``numpy.unique`` then).
    """
    n, width = arr.shape[0], arr.dtype.itemsize // 4
    if n == 0 or width == 0:
        return None
    points = np.ascontiguousarray(arr).view(np.uint32).reshape(n, width)
    top = int(points.max())
    char: type[np.unsignedinteger[Any]]
    if top < 1 << 8:
        char, per_word = np.uint8, 8
    elif top < 1 << 16:
        char, per_word = np.uint16, 4
    else:
        return None
    n_words = -(-width // per_word)
    # each word's characters last to first, so that the word read as a little-endian uint64
    # has the first in its most significant bits (no byte swap of every word after)
    words = np.zeros((n, n_words), dtype="<u8")
    chars = words.view(np.dtype(char).newbyteorder("<")).reshape(n, n_words, per_word)
    full, left = divmod(width, per_word)  # every point fits: checked above
    if full:
        chars[:, :full, ::-1] = points[:, : full * per_word].reshape(n, full, per_word)
    if left:
        chars[:, full, per_word - 1 : per_word - 1 - left : -1] = points[:, full * per_word :]
    del chars
    key, used = _leading_key(words)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    if used < words.shape[1]:
        # rows tied on the leading words are mostly the same text; the groups of those that
        # are not (hexadecimal ids: 8 characters hold 32 bits of chance) are sorted by the
        # rest of their words, in place, and the rest tells their texts apart
        rest = words[order, used:]
        differ = np.any(rest[1:] != rest[:-1], axis=1)
        split = differ & ~new[1:]
        if bool(split.any()):
            group = np.cumsum(new) - 1  # each sorted row's group of equal leading words
            mixed = np.zeros(int(group[-1]) + 1, dtype=bool)
            mixed[group[1:][split]] = True
            sub = np.flatnonzero(mixed[group])  # whole groups, in sorted order
            within = np.lexsort((*rest[sub].T[::-1], group[sub]))  # group, then first word
            order[sub] = order[sub][within]
            again = rest[sub][within]
            # neighbours within those groups: do their texts differ, now in order?
            inside = (sub[1:] - sub[:-1] == 1) & (group[sub[1:]] == group[sub[:-1]])
            differ[sub[1:][inside] - 1] = np.any(again[1:] != again[:-1], axis=1)[inside]
        new[1:] |= differ
    codes = np.empty(n, dtype=np.int64)
    codes[order] = np.cumsum(new, dtype=np.int64) - 1
    return codes, arr[order[new]]


def _leading_key(words: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[Any], int]:
    """The leading words as one unsigned key in their order, and how many it holds.

    Each word is taken less its smallest value, in as many bits as its span
    needs, for as long as they fit in 64 bits (the first word always does):
    ids sharing a prefix, or short ones, need one key; a key of at most 32
    bits is sorted as such.
    """
    lo, hi = words.min(axis=0), words.max(axis=0)
    bits = [int(b - a).bit_length() for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    used, total = 0, 0
    while used < len(bits) and total + bits[used] <= 64:
        total += bits[used]
        used += 1
    key: npt.NDArray[Any] | None = None
    for j in range(used):
        if not bits[j]:
            continue  # the same in every row
        part = words[:, j] - lo[j]
        if key is None:
            key = part
        else:
            key <<= np.uint64(bits[j])
            key |= part
    if key is None:
        return np.zeros(words.shape[0], dtype=np.uint32), used
    return (key.astype(np.uint32) if total <= 32 else key), used


def _inner_nul(labels: npt.NDArray[Any]) -> BoolArray:
    """Per text, whether a NUL character sits before another character (numpy keeps those)."""
    width = labels.dtype.itemsize // 4
    if width < 2 or len(labels) == 0:
        return np.zeros(len(labels), dtype=bool)
    points = labels.view(np.uint32).reshape(len(labels), width)
    zero = points == 0
    inner: BoolArray = np.any(zero[:, :-1] & ~zero[:, 1:], axis=1)
    return inner


def _int_codes(arr: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any]]:
    """Integer ids: a presence table when dense, else one sort."""
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        return factorize_by_sort(arr)
    lo, hi = int(arr.min()), int(arr.max())
    span = hi - lo + 1
    if span <= 4 * len(arr) + 1024:
        # dense ids: a presence table instead of a sort
        idx = arr.astype(np.int64) if lo == 0 else np.subtract(arr, lo, dtype=np.int64)
        present = np.zeros(span, dtype=bool)
        present[idx] = True
        if present.all():  # ids lo..hi all used: the shifted ids are the codes
            return idx, np.arange(lo, hi + 1, dtype=np.int64)
        codes_of = np.cumsum(present, dtype=np.int64) - 1
        return np.take(codes_of, idx), np.flatnonzero(present).astype(np.int64) + lo
    return factorize_by_sort(arr.astype(np.int64, copy=False))


def factorize_by_sort(arr: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any]]:
    """Codes into the sorted unique values by one argsort (no hashing, no searchsorted)."""
    order = np.argsort(arr, kind="stable")
    ordered = arr[order]
    new = np.empty(len(arr), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    labels = ordered[new]
    codes = np.empty(len(arr), dtype=np.int64)
    codes[order] = np.cumsum(new, dtype=np.int64) - 1
    return codes, labels


def id_key(item: Any) -> tuple[str, Any]:
    """A key under which two ids are equal only if they are equal and of one kind (1 is not "1")."""
    plain = item.item() if isinstance(item, np.generic) else item
    return (_kind_of(plain), plain)


def _kind_of(item: Any) -> str:
    if isinstance(item, bool | np.bool_):
        return "bool"
    if isinstance(item, int | np.integer):
        return "int"
    if isinstance(item, float | np.floating):
        return "float"
    return type(item).__name__


def _object_codes(
    arr: npt.NDArray[Any], name: str, voice: Voice
) -> tuple[IntArray, npt.NDArray[Any]]:
    """Factorise Python objects by a dict keyed on (kind, value): 1 and "1" stay apart."""
    index: dict[tuple[str, Hashable], int] = {}
    codes = np.empty(len(arr), dtype=np.int64)
    for row, item in enumerate(arr.tolist()):
        kind = _kind_of(item)
        if kind in ("bool", "bytes", "complex"):
            what = {"bool": "a boolean", "bytes": "bytes", "complex": "a complex number"}[kind]
            hint = "; decode them to text first" if kind == "bytes" else ""
            raise InvalidTypeError(
                f"{name} holds {what} ({item!r:.60}) at {voice.at(row)}; "
                f"ids must be integers or text{hint}"
            )
        if kind == "str" and "\x00" in item:
            raise _nul_error(name, item, row, voice)
        if kind == "float" and not np.isfinite(item):  # nan was refused as missing first
            raise InvalidInputError(f"{name} must be finite, got {item!r} at {voice.at(row)}")
        try:
            codes[row] = index.setdefault((kind, item), len(index))
        except TypeError:
            raise InvalidTypeError(
                f"{name} holds an unhashable {type(item).__name__} ({item!r:.60}) at "
                f"{voice.at(row)}; ids must be integers or text"
            ) from None
    keys = list(index)
    try:
        order = sorted(range(len(keys)), key=lambda i: (_KIND_ORDER.get(keys[i][0], 3), keys[i]))
    except TypeError:
        kinds = sorted({k for k, _ in keys})
        raise InvalidTypeError(
            f"{name} mixes ids that cannot be ordered ({', '.join(kinds)}); "
            "ids must be integers or text"
        ) from None
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(keys), dtype=np.int64)
    labels = np.empty(len(keys), dtype=object)
    labels[:] = [keys[i][1] for i in order]
    simple = {k for k, _ in keys}
    if simple == {"str"} and max(map(len, labels.tolist())) <= WIDE_ID:
        labels = np.asarray(labels.tolist(), dtype=str)
    return np.take(rank, codes), labels


def _factorize(values: Any, name: str = "customer_id") -> tuple[IntArray, npt.NDArray[Any]]:
    """Integer codes and sorted unique labels; missing ids are refused (other modules' entry)."""
    codes, labels, _ = normalize_ids(values, name)
    return codes, labels
