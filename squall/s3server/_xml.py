"""S3's XML: the documents we send and the few we accept.

Responses are built as text from (tag, value) trees: S3's documents are
flat and small, and writing them directly keeps element order exactly as
S3 documents it. Request documents (DeleteObjects, CompleteMultipartUpload,
CreateBucketConfiguration) are parsed with the standard library after
refusing any DTD, which closes entity-expansion and external-entity tricks.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Sequence
from typing import Union
from xml.sax.saxutils import escape

from squall.s3server._errors import S3Error

__all__ = ["Node", "document", "error_document", "iso8601", "parse_request_xml"]

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

# A node is (tag, text) or (tag, [children]); None values are left out.
Node = tuple[str, Union[str, int, bool, Sequence["Node"], None]]


def iso8601(timestamp: float) -> str:
    """S3's timestamp form in XML: ``2009-10-12T17:50:30.000Z``."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# Characters XML 1.0 cannot carry at all, not even as references (§2.2).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def _render(node: Node, out: list[str]) -> None:
    tag, value = node
    if value is None:
        return
    if isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    elif isinstance(value, (str, int)):
        out.append(f"<{tag}>{_text(str(value))}</{tag}>")
    else:
        out.append(f"<{tag}>")
        for child in value:
            _render(child, out)
        out.append(f"</{tag}>")


def document(root: str, children: Iterable[Node]) -> bytes:
    """A response document in S3's namespace."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<{root} xmlns="{S3_NAMESPACE}">']
    for child in children:
        _render(child, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def error_document(error: S3Error, resource: str, request_id: str) -> bytes:
    """S3's error body: Code and Message first, then what the code adds."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', "<Error>"]
    children: list[Node] = [("Code", error.code), ("Message", error.message)]
    children += list(error.fields.items())
    children += [("Resource", resource), ("RequestId", request_id), ("HostId", request_id)]
    for child in children:
        _render(child, out)
    out.append("</Error>")
    return "".join(out).encode("utf-8")


def _local(tag: str) -> str:
    """A tag without its namespace: clients send S3's namespace, or none."""
    return tag.rpartition("}")[2]


def parse_request_xml(body: bytes, root: str) -> ElementTree.Element:
    """Parse a request document whose root element must be ``root``.

    Any DTD is refused: S3 documents never need one, and refusing it
    closes entity expansion ("billion laughs") and external entities.
    """
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise S3Error("MalformedXML")
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise S3Error("MalformedXML") from None
    if _local(element.tag) != root:
        raise S3Error("MalformedXML")
    return element


def children(element: ElementTree.Element, tag: str) -> list[ElementTree.Element]:
    """The direct children named ``tag``, namespace or not."""
    return [child for child in element if _local(child.tag) == tag]


def child_text(element: ElementTree.Element, tag: str) -> str | None:
    """The text of the first direct child named ``tag`` (None when absent)."""
    for child in element:
        if _local(child.tag) == tag:
            return child.text or ""
    return None
