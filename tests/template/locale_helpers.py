"""Helpers for locale tests: restore squall.locale's global state and
write gettext catalogs without msgfmt."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall import locale

MO_MAGIC = 0x950412DE
MO_HEADER = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo catalog (the format gettext reads): ``messages`` maps a
    msgid (``"ctx\\x04id"`` for a context, ``"one\\0many"`` for plurals)
    to its translation (plural forms joined by NUL)."""
    entries = sorted({"": MO_HEADER, **messages}.items())
    ids = [key.encode() for key, _ in entries]
    strs = [value.encode() for _, value in entries]
    count = len(entries)
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + count * 8
    data_start = strs_table + count * 8
    data = b""
    id_offsets = []
    for item in ids:
        id_offsets.append((len(item), data_start + len(data)))
        data += item + b"\0"
    str_offsets = []
    for item in strs:
        str_offsets.append((len(item), data_start + len(data)))
        data += item + b"\0"
    out = struct.pack("<7I", MO_MAGIC, 0, count, ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", *pair) for pair in id_offsets)
    out += b"".join(struct.pack("<2I", *pair) for pair in str_offsets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + data)


@pytest.fixture
def clean_locale() -> Iterator[None]:
    saved = (
        locale._translations,
        locale._supported_locales,
        locale._use_gettext,
        locale._default_locale,
    )
    yield
    (
        locale._translations,
        locale._supported_locales,
        locale._use_gettext,
        locale._default_locale,
    ) = saved
    locale.Locale._cache.clear()


ES_CSV = (
    '"Sign in","Iniciar sesión"\n'
    '"Username","Nombre de usuario"\n'
    '"Password","Contraseña"\n'
    '"%(n)d person liked this","A %(n)d persona le gustó esto",singular\n'
    '"%(n)d people liked this","A %(n)d personas les gustó esto",plural\n'
    '"Monday","lunes"\n"May","mayo"\n"%(weekday)s, %(month_name)s %(day)s","%(weekday)s %(day)s de %(month_name)s"\n'
    '"%(commas)s and %(last)s","%(commas)s y %(last)s"\n'
)
