"""The one Range parser (RFC 9110 §14), shared by static files and s3server."""

from __future__ import annotations

import pytest

from squall.httputil._ranges import MAX_RANGES, parse_byte_ranges


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, [(0, 1)]),
        ("bytes=2-5", 10, [(2, 6)]),
        ("bytes=5-", 10, [(5, 10)]),
        ("bytes=-3", 10, [(7, 10)]),
        ("bytes=-30", 10, [(0, 10)]),  # a suffix longer than the object: all of it
        ("bytes=8-100", 10, [(8, 10)]),  # a last position past the end is clipped
        ("bytes=0-1, 4-5", 10, [(0, 2), (4, 6)]),
        ("BYTES=1-1", 10, [(1, 2)]),  # range units are case-insensitive
        # Nothing satisfiable: 416.
        ("bytes=10-", 10, []),
        ("bytes=-0", 10, []),
        ("bytes=0-", 0, []),
        ("bytes=-5", 0, []),
        # Ignored: the whole object is served.
        ("items=0-1", 10, None),
        ("bytes", 10, None),
        ("bytes=5-2", 10, None),  # last before first: the set is invalid
        ("bytes=-", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=1", 10, None),
        ("bytes=1 -2", 10, None),  # no whitespace inside a range spec
        ("bytes=٣-٤", 10, None),  # only ASCII digits
    ],
)
def test_parse_byte_ranges(header: str, size: int, expected: object) -> None:
    assert parse_byte_ranges(header, size) == expected


def test_more_ranges_than_allowed_are_ignored() -> None:
    many = "bytes=" + ",".join(["0-0"] * (MAX_RANGES + 1))
    assert parse_byte_ranges(many, 10) is None
    assert parse_byte_ranges("bytes=0-0,2-2", 10, max_ranges=1) is None
    assert parse_byte_ranges("bytes=0-0,2-2", 10, max_ranges=2) == [(0, 1), (2, 3)]
