"""squall's own request checks (squall._http1._requests), called directly."""

from __future__ import annotations

import pytest

from squall._http1 import _requests as rules


def test_valid_hosts_are_remembered_but_the_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(rules, "_valid_hosts", set())
    for i in range(rules._VALID_HOSTS_MAX + 50):
        rules.check_request("GET", b"/", "HTTP/1.1", {"Host": [f"host{i}.example:80"]})
    assert len(rules._valid_hosts) == rules._VALID_HOSTS_MAX
    # A host seen before and one never seen both pass; a bad one still fails
    # however full the memory is, and is never remembered.
    rules.check_request("GET", b"/", "HTTP/1.1", {"Host": ["host1.example:80"]})
    rules.check_request("GET", b"/", "HTTP/1.1", {"Host": ["fresh.example"]})
    for bad in ("a b", "x/y", "[::1", "evil\x00.example"):
        with pytest.raises(rules.Reject) as caught:
            rules.check_request("GET", b"/", "HTTP/1.1", {"Host": [bad]})
        assert caught.value.status == 400
        assert bad not in rules._valid_hosts


@pytest.mark.parametrize(
    ("version", "status"), [("0.9", 400), ("2.0", 505), ("1.2", 505), ("3.0", 505)]
)
def test_versions_other_than_1_0_and_1_1_are_refused(version: str, status: int) -> None:
    with pytest.raises(rules.Reject) as caught:
        rules.find_request_line(b"GET", b"/", version, b"GET / HTTP/x\r\n", b"")
    assert caught.value.status == status


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_the_request_line_must_appear_verbatim(version: str) -> None:
    line = f"GET /a HTTP/{version}\r\n".encode()
    packet = line + b"Host: x\r\n\r\n"
    assert rules.find_request_line(b"GET", b"/a", version, packet, b"") == len(line)
    # Split across packets: found across the end of the previous one.
    assert rules.find_request_line(b"GET", b"/a", version, line[5:], line[:5]) == len(line) - 5
    doubled = line.replace(b" ", b"  ", 1)
    with pytest.raises(rules.Reject) as caught:
        rules.find_request_line(b"GET", b"/a", version, doubled, b"")
    assert caught.value.status == 400


def test_a_line_before_the_start_does_not_count() -> None:
    line = b"GET /a HTTP/1.1\r\n"
    packet = line + b"Host: x\r\n\r\n" + b"GET  /a HTTP/1.1\r\nHost: x\r\n\r\n"
    with pytest.raises(rules.Reject):
        rules.find_request_line(b"GET", b"/a", "1.1", packet, b"", start=len(line) + 11)
    # A line wholly inside the previous packets counts (llhttp may report
    # the first header, and so the line's check, one packet late).
    tail = line + b"Host: x\r\n"
    assert rules.find_request_line(b"GET", b"/a", "1.1", b"X: y\r\n", tail) == len(line) - len(tail)
