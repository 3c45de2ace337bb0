"""squall.util: Configurable, ObjectDict, GzipDecompressor and helpers."""

from __future__ import annotations

import errno
import gzip
import pickle
import re

import pytest

from squall.util import (
    ArgReplacer,
    Configurable,
    GzipDecompressor,
    ObjectDict,
    TimeoutError,
    errno_from_exception,
    import_object,
    raise_exc_info,
    re_unescape,
    timedelta_to_seconds,
)


class Base(Configurable):
    @classmethod
    def configurable_base(cls):
        return Base

    @classmethod
    def configurable_default(cls):
        return ImplA

    def initialize(self, value=None, extra=None):
        self.value = value
        self.extra = extra


class ImplA(Base):
    pass


class ImplB(Base):
    def initialize(self, value=None, extra=None, b_only=None):
        super().initialize(value, extra)
        self.b_only = b_only


class OtherBase(Configurable):
    @classmethod
    def configurable_base(cls):
        return OtherBase

    @classmethod
    def configurable_default(cls):
        return OtherImpl


class OtherImpl(OtherBase):
    pass


@pytest.fixture
def restore_config():
    saved = Base._save_configuration(), OtherBase._save_configuration()
    yield
    Base._restore_configuration(saved[0])
    OtherBase._restore_configuration(saved[1])


def test_configurable_default_and_configure(restore_config):
    obj = Base(value=1)
    assert type(obj) is ImplA and obj.value == 1
    Base.configure(ImplB, extra="configured")
    obj = Base(value=2, b_only=3)
    assert type(obj) is ImplB
    assert (obj.value, obj.extra, obj.b_only) == (2, "configured", 3)
    # Constructing a subclass directly ignores the configuration's kwargs.
    direct = ImplA(value=4)
    assert type(direct) is ImplA and direct.extra is None
    Base.configure(f"{ImplA.__module__}.ImplA")
    assert type(Base()) is ImplA
    # Families are independent.
    assert type(OtherBase()) is OtherImpl
    assert Base.configured_class() is ImplA


def test_configure_rejects_unrelated_class(restore_config):
    with pytest.raises(ValueError):
        Base.configure(OtherImpl)


def test_configure_none_restores_default(restore_config):
    Base.configure(ImplB)
    Base.configure(None)
    assert type(Base()) is ImplA


def test_object_dict():
    d = ObjectDict(a=1)
    assert d.a == 1
    d.b = 2
    assert d["b"] == 2
    with pytest.raises(AttributeError):
        d.missing  # noqa: B018
    assert pickle.loads(pickle.dumps(d)) == d


def test_gzip_decompressor_with_max_length():
    payload = b"squall " * 10_000
    compressed = gzip.compress(payload)
    d = GzipDecompressor()
    out = d.decompress(compressed, 1000)
    assert len(out) == 1000
    assert d.unconsumed_tail  # the rest waits to be passed back in
    chunks = [out]
    while d.unconsumed_tail:
        chunks.append(d.decompress(d.unconsumed_tail, 1000))
    chunks.append(d.flush())
    assert b"".join(chunks) == payload
    assert d.eof


def test_gzip_decompressor_rejects_garbage():
    import zlib

    with pytest.raises(zlib.error):
        GzipDecompressor().decompress(b"not gzip at all", 1000)


def test_gzip_decompressor_concatenated_members_and_flush_rules():
    data = gzip.compress(b"hello") + gzip.compress(b" world")
    d = GzipDecompressor()
    out = b""
    while True:
        out += d.decompress(data, 3)  # the budget ends inside and between members
        data = d.unconsumed_tail
        if not data:
            break
    assert (out, d.flush()) == (b"hello world", b"")
    unfinished = GzipDecompressor()
    assert unfinished.decompress(gzip.compress(b"hello world"), 5) == b"hello"
    with pytest.raises(ValueError, match="unconsumed_tail must be passed"):
        unfinished.flush()
    # Without max_length everything expands at once: deprecated, as in Tornado 6.6.
    with pytest.warns(DeprecationWarning, match="without max_length"):
        assert GzipDecompressor().decompress(gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"


def test_import_object():
    assert import_object("os.path") is __import__("os").path
    assert import_object("os") is __import__("os")
    assert import_object("squall.util.ObjectDict") is ObjectDict
    with pytest.raises(ImportError):
        import_object("squall.util.nothing_here")
    with pytest.raises(ImportError):
        import_object("no_such_module_xyz")


def test_raise_exc_info():
    try:
        raise KeyError("k")
    except KeyError:
        import sys

        info = sys.exc_info()
    with pytest.raises(KeyError):
        raise_exc_info(info)
    with pytest.raises(TypeError):
        raise_exc_info((None, None, None))


def test_errno_from_exception():
    assert errno_from_exception(OSError(errno.EPIPE, "pipe")) == errno.EPIPE
    assert errno_from_exception(Exception(5)) == 5
    assert errno_from_exception(Exception()) is None


def test_re_unescape_round_trips():
    for s in ["a.b*c", "/path/(x)?", "plain", "dollar$^"]:
        assert re_unescape(re.escape(s)) == s
    with pytest.raises(ValueError):
        re_unescape(r"\d")


def test_timedelta_and_timeout_error():
    import datetime

    assert timedelta_to_seconds(datetime.timedelta(minutes=1)) == 60
    assert TimeoutError is __import__("builtins").TimeoutError


def test_arg_replacer():
    def f(a, callback=None, *, other=None):
        pass

    r = ArgReplacer(f, "callback")
    assert r.get_old_value((1, "cb"), {}) == "cb"
    assert r.get_old_value((1,), {"callback": "kw"}) == "kw"
    assert r.get_old_value((1,), {}, default="d") == "d"
    old, args, kwargs = r.replace("new", (1, "cb"), {})
    assert (old, list(args), kwargs) == ("cb", [1, "new"], {})
    old, args, kwargs = r.replace("new", (1,), {})
    assert (old, kwargs) == (None, {"callback": "new"})
    missing = ArgReplacer(f, "nope")
    assert missing.arg_pos is None


@pytest.mark.parametrize("tail", [b"\0", b"garbage", b"\x1f\x00"])
def test_gzip_decompressor_refuses_trailing_bytes_and_truncation(tail):
    import zlib

    d = GzipDecompressor()
    with pytest.raises(zlib.error):
        d.decompress(gzip.compress(b"hello") + tail, 1024)
        d.flush()
    truncated = GzipDecompressor()
    assert truncated.decompress(gzip.compress(b"hello")[:-1], 1024) == b"hello"
    with pytest.raises(zlib.error, match="incomplete"):
        truncated.flush()
