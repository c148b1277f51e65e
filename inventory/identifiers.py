"""Identifiers (SKU and location ids) and escaping of the text that reports show.

SKU and location ids become parts of file names (``models/ppo_<mode>_<location>/``,
``artifacts/locations/<location>/``) and cells of HTML, markdown and CSV reports. One rule,
checked where an id enters (the pandera schemas, the CLI options, the scale-out flow):

    1 to 64 characters from letters, digits, ``.``, ``_`` and ``-``, starting with a letter
    or a digit, and no ``..``.

The research data's ids (``20080884``, ``3200``) and the generator's (``SKU001``, ``L1``)
follow it. The reports escape every identifier anyway (:func:`html_text`,
:func:`script_json`, :func:`markdown_text`, :func:`csv_cell`), so text that reached a
report some other way cannot run as script or as a spreadsheet formula.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = [
    "ID_PATTERN",
    "ID_RULE",
    "is_valid_id",
    "check_id",
    "html_text",
    "script_json",
    "markdown_text",
    "csv_cell",
    "csv_safe",
    "terminal_text",
]

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ID_RULE = (
    "1-64 characters from letters, digits, '.', '_' and '-', starting with a letter or "
    "a digit, without '..'"
)


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is a string that follows the identifier rule (module docstring)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None and ".." not in value


def check_id(value: object, what: str = "id") -> str:
    """Return ``value`` when it is a valid identifier.

    Args:
        value: The identifier to check.
        what: What it names, for the message (e.g. ``--location``, ``sku``).

    Raises:
        ValueError: naming ``what``, the value and the rule.
    """
    if not is_valid_id(value):
        raise ValueError(f"{what} {value!r} is not a valid identifier: use {ID_RULE}")
    return str(value)


def html_text(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}


def script_json(payload: Any) -> str:
    r"""JSON safe inside an HTML ``<script>`` block (``<``, ``>``, ``&`` as ``\u`` escapes),
    so no string in ``payload`` can close the block."""
    text = json.dumps(payload)
    for char, escaped in _SCRIPT_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029")


# Markup characters; "_" only where it can open or close emphasis (not inside a word such
# as base_stock, which CommonMark never reads as emphasis), so names stay readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def markdown_text(value: object) -> str:
    """``value`` as literal markdown text: markup characters backslash-escaped, line breaks
    turned into spaces (a table cell stays one cell, a heading one line)."""
    text = " ".join(str(value).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'``; numbers pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame: Any) -> Any:
    """A copy of a DataFrame whose text cells went through :func:`csv_cell` (numbers,
    including negative ones, are left as they are)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for column in out.columns:
        if is_object_dtype(out[column]) or is_string_dtype(out[column]):
            out[column] = out[column].map(csv_cell)
    return out.rename(columns=csv_cell)


# C0 and C1 controls but newline and tab, DEL, and the bidirectional overrides and isolates
# (which reorder what a terminal shows): a data value holding them could retitle or clear
# the terminal, or hide text, when a message prints it
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    r"""``text`` with control characters shown as escapes (``\x1b``, ``\u202e``), for
    messages printed to a terminal; newlines and tabs are kept."""
    return _CONTROLS.sub(lambda match: ascii(match.group())[1:-1], text)
