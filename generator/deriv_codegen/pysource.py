"""The one way text from a bundle reaches generated source: escaped for where it lands, or refused.

Bundle text (titles, descriptions, call names, scopes, enum values, msg_types, OpenAPI paths and
summaries, the source name and version label) is data, never code. Every place that puts such a
string into a generated file goes through one function of this module, chosen by where it lands:

=======================  ==========================================================
:func:`py_literal`       a Python literal (``repr`` of str/int/bool/None/tuple/list/dict)
:func:`docstring`        text inside a ``\"\"\"...\"\"\"`` docstring
:func:`comment`          text after ``#`` (Python and TOML comments: one line, printable)
:func:`toml_str`         a TOML basic string
:func:`md_text`          Markdown prose; :func:`md_code` a Markdown code span
:func:`ident`            a name used as a Python identifier: checked, never escaped
:func:`dotted`           a dotted module name (``deriv_runtime.auth.secret``): each part an ident
:func:`annotation`       a type expression: parsed and checked against a small grammar
=======================  ==========================================================

The Jinja environment (:func:`deriv_codegen.render.environment`) exposes exactly these as filters
and refuses to render any other string (see :class:`Source`), so a template cannot interpolate
bundle text without choosing one of them.

Text is first normalised by :func:`clean_text`: every character that ``str.splitlines`` (and so
some editors and tools) treats as a line break becomes ``\\n``; other invisible characters
(controls, format characters such as bidi overrides, surrogates, private use, unassigned) become
U+FFFD. Nothing of the text is ever evaluated: Jinja does not re-read its output, so ``{{``
in a description stays two braces.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import textwrap
import unicodedata
from typing import Any

from .errors import CodegenError

__all__ = [
    "Source",
    "UnsafeName",
    "annotation",
    "clean_text",
    "comment",
    "docstring",
    "dotted",
    "ident",
    "is_ident",
    "md_code",
    "md_text",
    "py_literal",
    "toml_str",
]


class Source(str):
    """A fragment of generated source, already escaped for where it goes (the only kind a template prints)."""

    __slots__ = ()


class UnsafeName(CodegenError):
    """A name meant to become a Python identifier is not one."""


#: What ``str.splitlines`` splits on, besides ``\n``.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_text(text: str) -> str:
    """``text`` with line breaks as ``\\n``, tabs as spaces and other invisible characters as U+FFFD."""
    text = _LINE_BREAKS.sub("\n", str(text)).replace("\t", " ")
    return "".join(c if c == "\n" or unicodedata.category(c) not in _INVISIBLE else "\ufffd" for c in text)


def one_line(text: str) -> str:
    """``text`` cleaned, with every run of whitespace (line breaks included) as one space."""
    return " ".join(clean_text(text).split())


# --- Python -------------------------------------------------------------------------------------


def py_literal(value: Any) -> Source:
    """A Python literal for ``value``: a str, int, bool, None, finite float, or a tuple/list/dict of them.

    ``repr`` escapes quotes, backslashes and every non-printable character (NUL, CR, U+2028,
    U+0085...), so the literal is one line whose value is exactly ``value``.
    """
    _check_literal(value)
    return Source(repr(value))


def _check_literal(value: Any) -> None:
    if value is None or isinstance(value, str) or type(value) in (int, bool):
        return
    if type(value) is float and math.isfinite(value):
        return
    if type(value) in (tuple, list):
        for v in value:
            _check_literal(v)
        return
    if type(value) is dict:
        for k, v in value.items():
            _check_literal(k)
            _check_literal(v)
        return
    raise CodegenError(
        f"generator bug: {type(value).__name__} value {value!r} cannot become a Python literal"
    )


def docstring(text: str, width: int | None = None, indent: int = 0) -> Source:
    """``text`` made safe inside a triple-double-quoted (non-raw) docstring.

    Without ``width`` the text becomes one line; with it, one paragraph wrapped at ``width``
    columns, lines after the first indented by ``indent`` spaces. Backslashes are doubled and no
    run of two quotes (nor a quote at the end, before the closing quotes) is left unescaped, so
    nothing in the text can close the string; the docstring's value is the cleaned text.
    """
    text = one_line(text)
    if width is not None:
        text = textwrap.fill(text, width=width, subsequent_indent=" " * indent, break_on_hyphens=False)
    text = text.replace("\\", "\\\\")
    return Source(re.sub(r'"(?="|\Z)', lambda _: '\\"', text))


def comment(text: str) -> Source:
    """``text`` as the rest of a ``#`` comment (Python or TOML): one line, printable characters only."""
    return Source("".join(c if c.isprintable() else " " for c in one_line(text)))


def ident(name: str, what: str = "name", where: str = "") -> Source:
    """``name`` unchanged if it is usable as a Python identifier, else :class:`UnsafeName`.

    Usable means: ASCII (Python folds other identifiers with NFKC, so fullwidth
    ``payload`` *is* ``payload``), ``str.isidentifier()``, and not a keyword (``None``, ``class``...).
    """
    if not is_ident(name):
        at = f"{where}: " if where else ""
        raise UnsafeName(
            f"{at}{what} {name!r} is not a usable Python identifier "
            "(ASCII letters, digits and _, not starting with a digit, not a keyword)"
        )
    return Source(name)


def dotted(name: str, what: str = "module name", where: str = "") -> Source:
    """``name`` unchanged if every dot-separated part of it passes :func:`ident`."""
    for part in str(name).split("."):
        ident(part, what, where)
    return Source(name)


def is_ident(name: object) -> bool:
    return isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


_ANNOTATION_NODES = (
    ast.Expression,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.List,
    ast.Constant,
    ast.BinOp,
    ast.BitOr,
    ast.UnaryOp,
    ast.USub,
    ast.Load,
)


def annotation(expr: str, where: str = "") -> Source:
    """A type expression (``str | list[Literal['a', 'b']] | None``), checked and re-printed on one line.

    Only names, attributes, subscripts, tuples, lists, constants and ``|`` are allowed: a type
    never calls anything. Constants are re-printed by ``ast.unparse`` (``repr``).
    """
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise CodegenError(f"generator bug: {where}: annotation {expr!r} does not parse") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ANNOTATION_NODES):
            raise CodegenError(
                f"generator bug: {where}: annotation {expr!r} contains {type(node).__name__}, not a type"
            )
        if isinstance(node, ast.Name):
            ident(node.id, "name in an annotation", where)
        elif isinstance(node, ast.Attribute):
            ident(node.attr, "attribute in an annotation", where)
        elif isinstance(node, ast.Constant) and node.value is not Ellipsis:
            _check_literal(node.value)
    return Source(ast.unparse(tree))


def literal_source(expr: str, where: str = "") -> Source:
    """A literal as the model generator wrote it (``1``, ``'x'``), re-printed by :func:`py_literal`."""
    try:
        value = ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise CodegenError(f"generator bug: {where}: {expr!r} is not a literal") from None
    return py_literal(value)


# --- TOML ---------------------------------------------------------------------------------------

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_str(text: str) -> Source:
    """A TOML basic string whose value is ``text`` (surrogates, not representable in TOML, become U+FFFD)."""
    out = ['"']
    for c in str(text):
        if c in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[c])
        elif unicodedata.category(c) == "Cs":
            out.append("\ufffd")
        elif not c.isprintable():
            out.append(f"\\u{ord(c):04X}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08X}")
        else:
            out.append(c)
    out.append('"')
    return Source("".join(out))


# --- Markdown -----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&$^=-])")


def md_text(text: str) -> Source:
    """``text`` as Markdown prose on one line: no markup, no HTML, no table cell break."""
    return Source(_MD_SPECIAL.sub(r"\\\1", comment(text)))


def md_code(text: str) -> Source:
    """``text`` as a Markdown code span on one line (safe inside a table cell)."""
    text = comment(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return Source(f"{fence}{pad}{text}{pad}{fence}")
