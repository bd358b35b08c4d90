"""The id normaliser (``custrel._ids``): text ids factorised as packed integers, typed first."""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrel import _ids
from custrel.errors import InvalidInputError

# alphabets of each packing: Latin-1 (8 bits a character), the BMP (16 bits), beyond (numpy)
_ALPHABETS = {
    "ascii": "AB01-_z",
    "latin1": "aé\xffb ",
    "bmp": "aЖ中\uffffb",
    "astral": "a😀b",
}


def _texts(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=1, max_size=max_size)


@settings(deadline=None, max_examples=150)
@given(
    data=st.data(),
    alphabet=st.sampled_from(sorted(_ALPHABETS)),
    prefix=st.sampled_from(["", "CUST-000", "ÿÿÿÿÿÿÿÿÿ"]),
    max_size=st.sampled_from([1, 3, 8, 9, 17, 40]),
    form=st.sampled_from(["list", "unicode", "object"]),
)
def test_text_ids_get_numpys_sorted_labels_and_codes(
    data: st.DataObject, alphabet: str, prefix: str, max_size: int, form: str
) -> None:
    pool = data.draw(
        st.lists(_texts(_ALPHABETS[alphabet], max_size), min_size=1, max_size=40), label="pool"
    )
    picks = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=300))
    items = [prefix + pool[i] for i in picks]
    given_ids: Any = {
        "list": items,
        "unicode": np.array(items),
        "object": np.array(items, dtype=object),
    }[form]
    before = given_ids.copy()
    codes, labels, gone = _ids.normalize_ids(given_ids)
    expected = np.unique(np.array(items))
    assert gone is None
    assert labels.tolist() == expected.tolist()  # sorted as numpy sorts text
    assert labels.dtype.kind == "U"
    assert codes.dtype == np.int64
    assert labels[codes].tolist() == items  # each row's own id
    if form != "list":
        assert np.array_equal(given_ids, before)  # not changed


def test_short_and_prefixed_text_is_sorted_as_integers_not_by_numpy_unique() -> None:
    rng = np.random.default_rng(1)
    for fmt in ("C{:07d}", "CUST-{:09d}", "Kunde-é{:05d}", "顧客{:06d}"):
        ids = np.array([fmt.format(i) for i in rng.integers(0, 5000, 20_000)])
        with mock.patch.object(np, "unique", side_effect=AssertionError("np.unique")):
            codes, labels, _ = _ids.normalize_ids(ids)
        assert labels.tolist() == sorted(set(ids.tolist()))
        assert np.array_equal(labels[codes], ids)


@pytest.mark.parametrize("shared_heads", [False, True])
def test_long_varied_text_sorts_its_leading_word_and_word_by_word_where_that_ties(
    shared_heads: bool,
) -> None:
    # 24 random characters: three words varying over far more than 64 bits together. Random
    # heads tell the ids apart (one sort); 5 shared heads leave the rest to decide (lexsort)
    rng = np.random.default_rng(2)
    chars = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    heads = ["".join(rng.choice(chars, 8)) for _ in range(5)]
    pool = [
        (heads[i % 5] if shared_heads else "".join(rng.choice(chars, 8)))
        + "".join(rng.choice(chars, 16))
        for i in range(300)
    ]
    ids = [pool[i] for i in rng.integers(0, 300, 3000)]
    with mock.patch.object(np, "lexsort", wraps=np.lexsort) as lexsort:
        codes, labels, _ = _ids.normalize_ids(ids)
    assert lexsort.call_count == (1 if shared_heads else 0)
    if shared_heads:  # only the rows that tie on their head and differ after
        assert len(lexsort.call_args.args[0][-1]) == len(ids)  # here: all of them
    assert labels.tolist() == sorted(set(ids))
    assert labels[codes].tolist() == ids


def test_only_rows_tied_on_their_leading_words_are_sorted_again() -> None:
    # hexadecimal ids of 16 digits: 8 characters (one word) hold 32 bits; heads collide
    rng = np.random.default_rng(3)
    heads = [f"{h:08x}" for h in rng.integers(0, 2**32, 2000)]
    heads[:40] = heads[40:80]  # 40 heads shared by two different ids
    pool = [h + f"{int(t):08x}" for h, t in zip(heads, rng.integers(0, 2**32, 2000), strict=True)]
    ids = [pool[i] for i in rng.integers(0, 2000, 20_000)]
    with mock.patch.object(np, "lexsort", wraps=np.lexsort) as lexsort:
        codes, labels, _ = _ids.normalize_ids(ids)
    sorted_rows = len(lexsort.call_args.args[0][-1])
    assert 0 < sorted_rows < len(ids) // 10  # the rows of the 40 shared heads (about 800)
    assert labels.tolist() == sorted(set(ids))
    assert labels[codes].tolist() == ids


def test_words_that_vary_little_become_one_key_in_their_order() -> None:
    words = np.array([[7, 1, 2**63], [7, 0, 2**63 + 5], [7, 1, 2**63 + 1]], dtype=np.uint64)
    key, used = _ids._leading_key(words)
    assert used == 3
    assert key.dtype == np.uint32  # 0 + 1 + 3 bits
    assert np.argsort(key).tolist() == np.lexsort(words.T[::-1]).tolist()
    key, used = _ids._leading_key(np.array([[0, 0], [2**40, 2**30]], dtype=np.uint64))
    assert used == 1  # 41 + 31 bits: the second word does not fit
    assert key.tolist() == [0, 2**40]
    key, used = _ids._leading_key(np.array([[0, 0], [2**30, 2**20]], dtype=np.uint64))
    assert used == 2  # 31 + 21 bits
    assert key.dtype == np.uint64
    key, used = _ids._leading_key(np.array([[0, 5], [2**64 - 1, 0]], dtype=np.uint64))
    assert used == 1  # a first word of 64 bits alone
    assert key.tolist() == [0, 2**64 - 1]


def test_text_with_a_nul_inside_is_refused_at_its_row() -> None:
    ids = np.array(["a", "b", "a\x00b", "c"])
    with pytest.raises(InvalidInputError, match=r"customer_id has an id with a NUL .* at row 2"):
        _ids.normalize_ids(ids)


@pytest.mark.parametrize("form", ["list", "object"])
def test_empty_text_is_missing_at_its_row_and_skipped_on_request(form: str) -> None:
    items = ["b", "a", "", "b"]
    given_ids: Any = items if form == "list" else np.array(items, dtype=object)
    with pytest.raises(InvalidInputError, match="row 2"):
        _ids.normalize_ids(given_ids)
    codes, labels, gone = _ids.normalize_ids(given_ids, missing="skip")
    assert labels.tolist() == ["a", "b"]
    assert codes.tolist() == [1, 0, -1, 1]
    assert gone is not None
    assert gone.tolist() == [False, False, True, False]


def test_floats_and_mixed_objects_keep_their_missing_rules() -> None:
    with pytest.raises(InvalidInputError, match="finite"):
        _ids.normalize_ids(np.array([1.0, float("inf")], dtype=object))
    codes, labels, gone = _ids.normalize_ids(
        np.array([2.0, float("nan"), 1.0], dtype=object), missing="skip"
    )
    assert labels.tolist() == [1.0, 2.0]
    assert codes.tolist() == [1, -1, 0]
    assert gone is not None
    assert gone.tolist() == [False, True, False]
    codes, labels, gone = _ids.normalize_ids(["x", None, "y"], missing="skip")
    assert labels.tolist() == ["x", "y"]
    assert codes.tolist() == [0, -1, 1]
    assert gone is not None
    assert gone.tolist() == [False, True, False]


@settings(deadline=None, max_examples=120)
@given(
    data=st.data(),
    alphabet=st.sampled_from(["ab", "0123456789abcdef", "aé\xff", "aЖ中"]),
    head_length=st.integers(0, 12),
)
def test_ids_sharing_heads_of_any_length_get_numpys_codes(
    data: st.DataObject, alphabet: str, head_length: int
) -> None:
    """Heads tie the leading words; tails of any length decide (the re-sort of tied groups)."""
    heads = data.draw(
        st.lists(
            st.text(alphabet, min_size=head_length, max_size=head_length), min_size=1, max_size=4
        )
    )
    tails = data.draw(st.lists(_texts(alphabet, 24), min_size=1, max_size=30))
    pool = [heads[i % len(heads)] + t for i, t in enumerate(tails)]
    picks = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=400))
    ids = np.array([pool[i] for i in picks])
    codes, labels, _ = _ids.normalize_ids(ids)
    expected_labels, expected_codes = np.unique(ids, return_inverse=True)
    assert labels.tolist() == expected_labels.tolist()
    assert codes.tolist() == expected_codes.reshape(-1).tolist()
