"""core.jsonin.row_id: the one reading of a row id a client sent; anything else answers like a missing row."""

from __future__ import annotations

import pytest

from core.jsonin import MAX_INT, row_id


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("42", 42), (MAX_INT, MAX_INT), (str(MAX_INT), MAX_INT)])
def test_positive_integers_and_their_digits_are_ids(value: object, expected: int) -> None:
    assert row_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        "-1",
        "+1",
        " 1",
        "1 ",
        "1e3",
        "0x10",
        "١٢",
        "²",
        True,
        False,
        None,
        1.0,
        "1.0",
        MAX_INT + 1,
        str(MAX_INT + 1),
        "9" * 40,
        [],
        {},
    ],
)
def test_anything_else_is_no_id(value: object) -> None:
    assert row_id(value) is None
