"""Byte ranges (RFC 9110 §14): the one parser of ``Range`` headers.

Static files and the S3 server both serve parts of stored objects; each
asks this module which parts a request wants and decides for itself what
to do with the answer (206, 416, or the whole object).
"""

from __future__ import annotations

__all__ = ["parse_byte_ranges"]

# Ranges honoured in one request, after Apache's MaxRanges default (200);
# beyond it the header is ignored (RFC 9110 §14.2 allows that) rather than
# letting one request ask for the object many times over.
MAX_RANGES = 200


class _Unusable(ValueError):
    """The header breaks the grammar: ignore it (§14.2)."""


def _bound(text: str) -> int | None:
    """A decimal position, or None where the spec leaves it out."""
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()):
        raise _Unusable(text)
    return int(text)


def parse_byte_ranges(
    header: str, size: int, max_ranges: int = MAX_RANGES
) -> list[tuple[int, int]] | None:
    """The satisfiable ranges of an object of ``size`` bytes, as
    ``[start, end)`` pairs in the order asked.

    None means the header is to be ignored and the whole object served:
    another unit than bytes, a syntax error, a last position before its
    first (§14.1.1 makes the whole set invalid), or more than
    ``max_ranges`` ranges. An empty list means nothing asked for lies in
    the object: the answer is 416 (§15.5.17).
    """
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > max_ranges:
        return None
    ranges: list[tuple[int, int]] = []
    for part in parts:
        first_text, dash, last_text = part.strip().partition("-")
        try:
            first, last = _bound(first_text), _bound(last_text)
        except _Unusable:
            return None
        if not dash:
            return None
        if first is None:
            if last is None:
                return None  # "-": neither bound
            # A suffix: the final `last` bytes; "-0" asks for none of them.
            if last > 0 and size > 0:
                ranges.append((max(0, size - last), size))
            continue
        if last is not None and last < first:
            return None
        if first < size:
            end = size if last is None else min(last + 1, size)
            ranges.append((first, end))
    return ranges
