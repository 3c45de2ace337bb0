"""Templates compiled to Python functions (Tornado 6's ``tornado.template``).

A template is text with ``{{ expression }}`` (autoescaped output),
``{% directive %}`` control statements and ``{# comments #}``. It is parsed
once into a small tree, turned into the source of one Python function
(``_tt_execute``), compiled once, and each ``generate(**kwargs)`` runs that
function with the keyword arguments as its globals::

    Template("<b>{{ name }}</b>").generate(name="a & b")  # b"<b>a &amp; b</b>"

Directives: ``if/elif/else``, ``for``, ``while``, ``try/except/else/finally``
and ``apply``/``block`` bodies closed by ``{% end %}`` (``{% end if %}`` is
accepted and checked against the open block); ``break``, ``continue``,
``set``, ``import``, ``from ... import``, ``raw``, ``module``,
``autoescape``, ``whitespace``, ``comment``, ``extends``, ``include``.
``{{!``, ``{%!`` and ``{#!`` write the delimiter itself.

Templates that extend or include others are compiled into one function:
the inherited layout and included files are inlined, each generated line
ending with a ``# name.html:LINE`` comment. The code object's file name is
``name_html.generated.py`` and its source is registered with ``linecache``,
so tracebacks of runtime errors show the generated line and its template
position; the exception also gets a note naming the template and line.

Errors:

- ``ParseError``: malformed template (message, ``filename``, ``lineno``);
  Python syntax errors in expressions are reported as ParseError too.
- Runtime errors raised by template code propagate unchanged.
- ``Loader`` refuses names that resolve outside its root (``ValueError``);
  a missing file is the usual ``FileNotFoundError``, a missing
  ``DictLoader`` entry a ``KeyError``.
"""

from __future__ import annotations

import datetime
import html
import linecache
import os.path
import posixpath
import re
import types
from collections.abc import Callable, Iterable
from threading import RLock
from typing import Any

from squall import escape
from squall.util import ObjectDict

__all__ = [
    "BaseLoader",
    "DictLoader",
    "Loader",
    "ParseError",
    "Template",
    "filter_whitespace",
]

_DEFAULT_AUTOESCAPE = "xhtml_escape"
_WHITESPACE_MODES = ("all", "single", "oneline")


class ParseError(Exception):
    """A template that cannot be compiled: ``message at filename:lineno``."""

    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        # All three stay in args too, so the error pickles and reprs whole.
        Exception.__init__(self, message, filename, lineno)
        self.lineno, self.filename, self.message = lineno, filename, message

    def __str__(self) -> str:
        return f"{self.message} at {self.filename}:{self.lineno}"


class _UnsetMarker:
    pass


_UNSET: Any = _UnsetMarker()


class _TrustedHTML(str):
    """Markup squall produced itself (UI module output, the XSRF form
    field): written as is even where ``{{ }}`` autoescapes."""

    __slots__ = ()


def filter_whitespace(mode: str, text: str) -> str:
    """Apply whitespace ``mode`` to ``text``.

    ``all``: unchanged. ``single``: each run of spaces and tabs becomes one
    space, each run of whitespace holding a line break one newline.
    ``oneline``: every run of whitespace becomes one space.
    """
    squash = _WHITESPACE_FILTERS.get(mode)
    if squash is None:
        raise Exception(f"invalid whitespace mode {mode}")
    return squash(text)


_BLANKS = re.compile(r"([\t ]+)")
_BLANK_LINES = re.compile(r"(\s*\n\s*)")
_ANY_WHITESPACE = re.compile(r"(\s+)")

# One rewrite per mode; "single" folds blanks first, then line-break runs.
_WHITESPACE_FILTERS: dict[str, Callable[[str], str]] = {
    "all": lambda text: text,
    "single": lambda text: _BLANK_LINES.sub("\n", _BLANKS.sub(" ", text)),
    "oneline": lambda text: _ANY_WHITESPACE.sub(" ", text),
}


# ---------------------------------------------------------------------------
# Values written into the page


def _text(value: Any) -> str:
    """What ``{% raw %}`` writes: str as is, bytes decoded, others str()."""
    if type(value) is str:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _html(value: Any) -> str:
    """What ``{{ }}`` writes with the default autoescape (xhtml_escape)."""
    if type(value) is not str:
        if isinstance(value, _TrustedHTML):
            return value
        value = _text(value)
    return html.escape(value)


def _escaper(function: Callable[[Any], Any]) -> Callable[[Any], str]:
    """``{{ }}`` output through an application-chosen escape function."""

    def escaped(value: Any) -> str:
        if isinstance(value, _TrustedHTML):
            return value
        # The escape function gets UTF-8 bytes, as Tornado's generated
        # code passes them (its xhtml_escape takes either).
        return _text(function(value if isinstance(value, bytes) else _text(value).encode()))

    return escaped


# Names every template sees (Tornado's template namespace).
_DEFAULT_NAMESPACE: dict[str, Any] = {
    # Helpers meant for template authors.
    **{name: getattr(escape, name) for name in ("json_encode", "linkify", "squeeze", "url_escape")},
    "datetime": datetime,
    "escape": escape.xhtml_escape,
    "xhtml_escape": escape.xhtml_escape,
    # Internals the generated code relies on.
    "_tt_join": "".join,
    "_tt_string_types": (str, bytes),
    "_tt_text": _text,
    "_tt_utf8": escape.utf8,
}


# ---------------------------------------------------------------------------
# The parsed tree


class _File:
    """One template's parse result: its body and file-wide settings."""

    def __init__(self, template: Template, autoescape: str | None) -> None:
        self.name = template.name
        self.template = template
        self.autoescape = autoescape
        self.extends: str | None = None
        self.extends_line = 0
        self.body: list[_Node] = []


class _Node:
    def __init__(self, file: _File, line: int) -> None:
        self.file = file
        self.line = line

    def children(self) -> Iterable[_Node]:
        return ()

    def generate(self, writer: _Writer) -> None:
        raise NotImplementedError()


class _Text(_Node):
    def __init__(self, file: _File, line: int, value: str) -> None:
        super().__init__(file, line)
        self.value = value

    def generate(self, writer: _Writer) -> None:
        if self.value:
            writer.write(f"_tt_append({self.value!r})", self)


class _Expression(_Node):
    def __init__(self, file: _File, line: int, code: str, raw: bool = False) -> None:
        super().__init__(file, line)
        self.code = code
        self.raw = raw

    def generate(self, writer: _Writer) -> None:
        autoescape = None if self.raw else self.file.autoescape
        if autoescape is None:
            writer.write(f"_tt_append(_tt_text({self.code}))", self)
        elif autoescape == _DEFAULT_AUTOESCAPE:
            writer.write(f"_tt_append(_tt_html({self.code}))", self)
        else:
            writer.write(f"_tt_append(_tt_escaper({autoescape})({self.code}))", self)


class _Statement(_Node):
    def __init__(self, file: _File, line: int, code: str) -> None:
        super().__init__(file, line)
        self.code = code

    def generate(self, writer: _Writer) -> None:
        writer.write(self.code, self)


class _Clause(_Statement):
    """``else``/``elif``/``except``/``finally``: one level out of its body."""

    def generate(self, writer: _Writer) -> None:
        writer.indent -= 1
        writer.write(self.code + ":", self)
        writer.indent += 1
        writer.write("pass", self)


class _Body(_Node):
    def __init__(self, file: _File, line: int, body: list[_Node]) -> None:
        super().__init__(file, line)
        self.body = body

    def children(self) -> Iterable[_Node]:
        return self.body

    def generate_body(self, writer: _Writer) -> None:
        for node in self.body:
            node.generate(writer)


class _Control(_Body):
    """``if``/``for``/``while``/``try`` and its body."""

    def __init__(self, file: _File, line: int, statement: str, body: list[_Node]) -> None:
        super().__init__(file, line, body)
        self.statement = statement

    def generate(self, writer: _Writer) -> None:
        writer.write(self.statement + ":", self)
        writer.indent += 1
        writer.write("pass", self)
        self.generate_body(writer)
        writer.indent -= 1


class _NamedBlock(_Body):
    """``{% block name %}``: replaced by the most derived template's version."""

    def __init__(self, file: _File, line: int, name: str, body: list[_Node]) -> None:
        super().__init__(file, line, body)
        self.name = name

    def generate(self, writer: _Writer) -> None:
        chosen = writer.named_blocks.get(self.name, self)
        if chosen is self:
            chosen.generate_body(writer)
            return
        # Another template's block, placed here: its lines say so.
        writer.via.append((self.file.name, self.line))
        try:
            chosen.generate_body(writer)
        finally:
            writer.via.pop()


class _Apply(_Body):
    """``{% apply f %}...{% end %}``: the body's output passed through ``f``."""

    def __init__(self, file: _File, line: int, method: str, body: list[_Node]) -> None:
        super().__init__(file, line, body)
        self.method = method

    def generate(self, writer: _Writer) -> None:
        function = f"_tt_apply{writer.next_id()}"
        writer.write(f"def {function}():", self)
        writer.indent += 1
        writer.write("_tt_buffer = []", self)
        writer.write("_tt_append = _tt_buffer.append", self)
        self.generate_body(writer)
        writer.write("return _tt_join(_tt_buffer)", self)
        writer.indent -= 1
        writer.write(f"_tt_append(_tt_text({self.method}({function}())))", self)


class _Include(_Node):
    def __init__(self, file: _File, line: int, name: str) -> None:
        super().__init__(file, line)
        self.name = name

    def load(self) -> Template:
        loader = self.file.template.loader
        if loader is None:
            raise ParseError("{% include %} needs a template loader", self.file.name, self.line)
        return loader.load(self.name, self.file.name)

    def children(self) -> Iterable[_Node]:
        return self.load().file.body

    def generate(self, writer: _Writer) -> None:
        included = self.load()
        writer.enter(included.name, self)
        writer.via.append((self.file.name, self.line))
        try:
            for node in included.file.body:
                node.generate(writer)
        finally:
            writer.via.pop()
        writer.leave()


# ---------------------------------------------------------------------------
# Parsing


class _Reader:
    """The template text, a position and the current line number."""

    def __init__(self, text: str, file: _File, whitespace: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.file = file
        self.whitespace = whitespace

    def error(self, message: str, line: int | None = None) -> ParseError:
        return ParseError(message, self.file.name, self.line if line is None else line)

    def take(self, end: int) -> str:
        chunk = self.text[self.pos : end]
        self.pos = end
        self.line += chunk.count("\n")
        return chunk


# Which block each clause may appear in.
_CLAUSES = {
    "else": ("if", "for", "while", "try"),
    "elif": ("if",),
    "except": ("try",),
    "finally": ("try",),
}
_CONTROL = ("if", "for", "while", "try")
_LOOPS = ("for", "while")
_TAG_END = {"{": "}}", "%": "%}", "#": "#}"}
_TAG_NAME = {"{": "expression }}", "%": "block %}", "#": "comment #}"}


def _parse(reader: _Reader, in_block: str | None = None, in_loop: bool = False) -> list[_Node]:
    """Nodes up to the ``{% end %}`` of ``in_block`` (or the end of text)."""
    body: list[_Node] = []
    file = reader.file
    text = reader.text
    start_line = reader.line
    while True:
        brace = reader.pos
        # Find the next "{{", "{%" or "{#"; in a run like "{{{" the tag
        # starts at the last possible brace.
        while True:
            brace = text.find("{", brace)
            if brace == -1 or brace + 1 == len(text):
                break
            if text[brace + 1] not in "{%#":
                brace += 1
                continue
            while brace + 2 < len(text) and text[brace + 1] == "{" and text[brace + 2] == "{":
                brace += 1
            break
        if brace == -1 or brace + 1 == len(text):
            if in_block is not None:
                raise reader.error(f"Missing {{% end %}} block for {in_block}", start_line)
            _add_text(body, reader, len(text))
            return body
        _add_text(body, reader, brace)
        kind = text[brace + 1]
        if brace + 2 < len(text) and text[brace + 2] == "!":
            # A literal delimiter: "{{!" writes "{{".
            line = reader.line
            reader.take(brace + 3)
            body.append(_Text(file, line, "{" + kind))
            continue
        line = reader.line
        end = text.find(_TAG_END[kind], brace + 2)
        if end == -1:
            raise reader.error(f"Missing end {_TAG_NAME[kind]}")
        contents = reader.take(end + 2)[2:-2].strip()
        if kind == "#":
            continue
        if kind == "{":
            if not contents:
                raise reader.error("Empty expression", line)
            body.append(_Expression(file, line, contents))
            continue
        if not contents:
            raise reader.error("Empty block tag ({% %})", line)
        operator, _, suffix = contents.partition(" ")
        suffix = suffix.strip()
        if operator in _CLAUSES:
            allowed = _CLAUSES[operator]
            if in_block not in allowed:
                raise reader.error(f"{operator} outside {'/'.join(allowed)} block", line)
            body.append(_Clause(file, line, contents))
        elif operator == "end":
            if in_block is None:
                raise reader.error("Extra {% end %} block", line)
            if suffix and suffix.split()[0] != in_block:
                raise reader.error(
                    f"{{% end {suffix} %}} does not close the open {in_block} block", line
                )
            return body
        elif operator in _CONTROL:
            inner = _parse(reader, operator, in_loop or operator in _LOOPS)
            body.append(_Control(file, line, contents, inner))
        elif operator == "block":
            if not suffix:
                raise reader.error("block missing name", line)
            body.append(_NamedBlock(file, line, suffix, _parse(reader, "block", in_loop)))
        elif operator == "apply":
            if not suffix:
                raise reader.error("apply missing method name", line)
            # The body becomes a nested function: a loop outside it cannot
            # be broken from inside.
            body.append(_Apply(file, line, suffix, _parse(reader, "apply", False)))
        elif operator in ("break", "continue"):
            if not in_loop:
                raise reader.error(f"{operator} outside for/while loop", line)
            body.append(_Statement(file, line, operator))
        elif operator in ("set", "raw", "module", "extends", "include"):
            if not suffix:
                raise reader.error(f"{operator} missing statement", line)
            if operator == "set":
                body.append(_Statement(file, line, suffix))
            elif operator == "raw":
                body.append(_Expression(file, line, suffix, raw=True))
            elif operator == "module":
                body.append(_Expression(file, line, "_tt_modules." + suffix, raw=True))
            elif operator == "extends":
                if file.extends is None:
                    file.extends = _unquote(suffix)
                    file.extends_line = line
            else:
                body.append(_Include(file, line, _unquote(suffix)))
        elif operator in ("import", "from"):
            body.append(_Statement(file, line, contents))
        elif operator == "comment":
            pass
        elif operator == "autoescape":
            file.autoescape = None if suffix in ("", "None") else suffix
        elif operator == "whitespace":
            try:
                filter_whitespace(suffix, "")
            except Exception:
                raise reader.error(f"invalid whitespace mode {suffix!r}", line) from None
            reader.whitespace = suffix
        else:
            raise reader.error(f"unknown operator: {operator!r}", line)


def _add_text(body: list[_Node], reader: _Reader, end: int) -> None:
    line = reader.line
    chunk = reader.take(end)
    if chunk:
        body.append(_Text(reader.file, line, filter_whitespace(reader.whitespace, chunk)))


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        return name[1:-1]
    return name


# ---------------------------------------------------------------------------
# Code generation


class _Writer:
    """Python source lines, each tagged with the template line it came from."""

    def __init__(self, named_blocks: dict[str, _NamedBlock]) -> None:
        self.named_blocks = named_blocks
        self.lines: list[str] = []
        self.origins: list[tuple[str, int]] = []
        self.indent = 0
        self._ids = 0
        self._including: list[str] = []
        # The include and block sites the code being written sits in, outermost
        # first; a traceback's source comment names them ("via a.html:3").
        self.via: list[tuple[str, int]] = []

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def write(self, code: str, node: _Node) -> None:
        origin = (node.file.name, node.line)
        prefix = "    " * self.indent
        physical = code.split("\n")
        for i, part in enumerate(physical):
            if i + 1 < len(physical):
                self.lines.append(prefix + part)
            else:  # the comment goes last: earlier lines may be mid-expression
                self.lines.append(f"{prefix}{part}  # {origin[0]}:{origin[1]}{self._via_note()}")
            self.origins.append(origin)

    def _via_note(self) -> str:
        if not self.via:
            return ""
        return " (via " + ", ".join(f"{name}:{line}" for name, line in reversed(self.via)) + ")"

    def enter(self, name: str, node: _Node) -> None:
        if name in self._including or name == node.file.name:
            raise ParseError(f"{name} includes itself", node.file.name, node.line)
        self._including.append(name)

    def leave(self) -> None:
        self._including.pop()


def _find_named_blocks(nodes: Iterable[_Node], found: dict[str, _NamedBlock]) -> None:
    for node in nodes:
        if isinstance(node, _NamedBlock):
            found[node.name] = node
        _find_named_blocks(node.children(), found)


# ---------------------------------------------------------------------------
# Templates


def _pick_whitespace_mode(
    name: str,
    loader: BaseLoader | None,
    compress_whitespace: bool | _UnsetMarker,
    whitespace: str | None,
) -> str:
    """The whitespace mode a template uses, from its arguments and loader."""
    legacy_flag_given = compress_whitespace is not _UNSET
    if legacy_flag_given and whitespace is not None:
        raise Exception("cannot set both whitespace and compress_whitespace")
    if legacy_flag_given:
        # The old boolean maps onto the two historical modes.
        return "single" if compress_whitespace else "all"
    if whitespace is not None:
        return whitespace
    if loader is not None and loader.whitespace:
        return loader.whitespace
    # Markup and scripts tolerate collapsed runs of spaces; other text
    # (plain mail bodies, say) keeps its layout.
    markup_like = name.endswith((".html", ".js"))
    return "single" if markup_like else "all"


class Template:
    """A compiled template.

    ``name`` names it in errors and tracebacks (and picks the default
    whitespace mode: ``single`` for ``.html`` and ``.js``, else ``all``).
    ``autoescape`` is the name of the escape function ``{{ }}`` applies
    (a name looked up in the template's namespace) or None. ``loader``
    resolves ``extends`` and ``include``.
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool | _UnsetMarker = _UNSET,
        autoescape: str | _UnsetMarker | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name = name
        whitespace = _pick_whitespace_mode(name, loader, compress_whitespace, whitespace)
        filter_whitespace(whitespace, "")  # an unknown mode is an error now
        # Precedence: the argument, then the loader's setting, then the module default.
        chosen_escape: str | None = _DEFAULT_AUTOESCAPE
        if autoescape is not _UNSET:
            chosen_escape = autoescape  # type: ignore[assignment]
        elif loader is not None:
            chosen_escape = loader.autoescape
        self.autoescape: str | None = chosen_escape
        self.namespace = loader.namespace if loader is not None else {}
        self.loader = loader
        self.file = _File(self, self.autoescape)
        source = escape.to_unicode(template_string)
        self.file.body = _parse(_Reader(source, self.file, whitespace))
        self._filename = f"{name.replace('.', '_')}.generated.py"
        self.code, self._origins = self._generate_python()
        try:
            module = compile(self.code, self._filename, "exec", dont_inherit=True)
        except SyntaxError as e:
            template_name, line = self._origin(e.lineno or 0)
            raise ParseError(f"{e.msg}", template_name, line) from e
        self._execute_code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
        lines = self.code.splitlines(keepends=True)
        linecache.cache[self._filename] = (len(self.code), None, lines, self._filename)
        self._own_namespace = {
            "__name__": name.replace(".", "_"),
            "__loader__": ObjectDict(get_source=lambda name: self.code),
        }

    def _generate_python(self) -> tuple[str, list[tuple[str, int]]]:
        ancestors = [self.file]
        while ancestors[-1].extends is not None:
            child = ancestors[-1]
            if self.loader is None:
                raise ParseError(
                    "{% extends %} needs a template loader", child.name, child.extends_line
                )
            parent = self.loader.load(child.extends, child.name)  # type: ignore[arg-type]
            if any(parent.file is a for a in ancestors):
                raise ParseError(f"{parent.name} extends itself", child.name, child.extends_line)
            ancestors.append(parent.file)
        named_blocks: dict[str, _NamedBlock] = {}
        for file in reversed(ancestors):  # the most derived definition wins
            _find_named_blocks(file.body, named_blocks)
        writer = _Writer(named_blocks)
        root = _Node(self.file, 0)
        writer.write("def _tt_execute():", root)
        writer.indent += 1
        writer.write("_tt_buffer = []", root)
        writer.write("_tt_append = _tt_buffer.append", root)
        writer.write("_tt_html = _tt_html_g", root)
        writer.write("_tt_text = _tt_text_g", root)
        for node in ancestors[-1].body:
            node.generate(writer)
        writer.write("return _tt_join(_tt_buffer)", root)
        return "\n".join(writer.lines) + "\n", writer.origins

    def _origin(self, generated_line: int) -> tuple[str, int]:
        if 1 <= generated_line <= len(self._origins):
            return self._origins[generated_line - 1]
        return self.name, 0

    def generate(self, **kwargs: Any) -> bytes:
        """Run the template with ``kwargs`` as its variables; UTF-8 bytes."""
        namespace = {**_DEFAULT_NAMESPACE, **self.namespace, **kwargs, **self._own_namespace}
        escape_function = namespace.get("xhtml_escape")
        if escape_function is escape.xhtml_escape:
            namespace["_tt_html_g"] = _html
        else:  # an overridden xhtml_escape is the one {{ }} must use
            namespace["_tt_html_g"] = _escaper(escape_function)  # type: ignore[arg-type]
        namespace["_tt_text_g"] = _text
        namespace["_tt_escaper"] = _escaper
        execute = types.FunctionType(self._execute_code, namespace, "_tt_execute")
        try:
            result: str = execute()
        except Exception as e:
            self._annotate(e)
            raise
        return result.encode("utf-8")

    def _annotate(self, error: BaseException) -> None:
        """Add a note naming the template line that raised (innermost)."""
        if getattr(error, "_tt_annotated", False) or not hasattr(error, "add_note"):
            return
        line = 0
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if line:
            template_name, template_line = self._origin(line)
            error.add_note(f"in template {template_name}, line {template_line}")
            error._tt_annotated = True  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Loaders


class BaseLoader:
    """Loads templates by name and keeps them compiled (until ``reset()``).

    ``autoescape``, ``namespace`` and ``whitespace`` apply to every
    template this loader creates.
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: dict[str, Any] | None = None,
        whitespace: str | None = None,
    ) -> None:
        # Compiling one template may load others (extends, include) from the
        # same thread, so the lock has to be reentrant.
        self.lock = RLock()
        self._loading: set[str] = set()
        self.namespace = {} if not namespace else namespace
        self.whitespace = whitespace
        self.autoescape = autoescape
        self.templates: dict[str, Template] = {}

    def reset(self) -> None:
        """Forget compiled templates: the next ``load`` re-reads them."""
        with self.lock:
            self.templates.clear()

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """The loader's name for ``name`` referenced from ``parent_path``."""
        raise NotImplementedError(f"{type(self).__name__} cannot resolve template names")

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """The compiled template ``name`` (compiled on first use)."""
        key = self.resolve_path(name, parent_path)
        with self.lock:
            template = self.templates.get(key)
            if template is None:
                if key in self._loading:
                    raise ParseError(f"{key} includes or extends itself", parent_path, 0)
                self._loading.add(key)
                try:
                    template = self.templates[key] = self._create_template(key)
                finally:
                    self._loading.discard(key)
            return template

    def _create_template(self, name: str) -> Template:
        raise NotImplementedError()


def _is_relative_reference(name: str, parent_path: str | None) -> bool:
    return bool(parent_path and not parent_path.startswith(("<", "/")) and not name.startswith("/"))


class Loader(BaseLoader):
    """Loads templates from files under ``root_directory``.

    Names are relative to the root; inside a template, ``extends`` and
    ``include`` names are relative to that template's directory. A name
    that would resolve outside the root is refused.
    """

    def __init__(self, root_directory: str, **kwargs: Any) -> None:
        self.root = os.path.abspath(root_directory)
        super().__init__(**kwargs)

    def _inside_root(self, absolute: str) -> str | None:
        """``absolute`` relative to the root, or None when it lies outside."""
        prefix = self.root + os.sep
        return absolute[len(prefix) :] if absolute.startswith(prefix) else None

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if not _is_relative_reference(name, parent_path):
            return name
        assert parent_path is not None
        including_file = os.path.join(self.root, parent_path)
        target = os.path.join(os.path.dirname(including_file), name)
        # A reference that climbs out of the root is left as written, so
        # that loading it fails in _create_template.
        relative = self._inside_root(os.path.abspath(target))
        return name if relative is None else relative

    def _create_template(self, name: str) -> Template:
        full_path = os.path.abspath(os.path.join(self.root, name))
        if self._inside_root(full_path) is None:
            raise ValueError(f"template {name!r} is outside the template root {self.root!r}")
        with open(full_path, "rb") as source_file:
            raw = source_file.read()
        return Template(raw, name=name, loader=self)


class DictLoader(BaseLoader):
    """Loads templates from a dict of ``{name: source}``."""

    def __init__(self, dict: dict[str, str], **kwargs: Any) -> None:
        self.dict = dict
        super().__init__(**kwargs)

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if not _is_relative_reference(name, parent_path):
            return name
        assert parent_path is not None
        # Dict keys are slash-separated whatever the platform.
        sibling = posixpath.join(posixpath.dirname(parent_path), name)
        return posixpath.normpath(sibling)

    def _create_template(self, name: str) -> Template:
        return Template(self.dict[name], name=name, loader=self)
