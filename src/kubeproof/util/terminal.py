"""Text from manifests and reports made safe to print on a terminal.

File names, object names, messages and host names come from input that may be
hostile. Printed as they are, a control character, an ANSI/OSC escape
sequence, a newline or a bidi override in one of them can forge report lines,
hyperlinks or the terminal title, or make a name read backwards. Every such
field goes through :func:`safe` where it is printed (text report, error and
warning lines, the tables of ``rbac``, ``netpol``, ``images`` and ``rules``).
Machine formats (JSON, SARIF, JUnit) keep exact values: their own escaping
applies there.

Finding messages are made with :func:`safe` too (``model.short_message``), so a
report shows a value that a manifest holds as one readable line in any format.

Rich markup is a second channel: data put in a rich table must be a
``rich.text.Text`` (never a markup string), which :func:`cell` builds.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls (tab and newline included: inside a field they forge layout), DEL,
# C1 controls, Arabic letter mark, zero-width and directional marks, line and
# paragraph separators, bidi embeddings/overrides/isolates, word joiner and
# invisible operators, and the byte order mark.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """``text`` as one printable line: unsafe characters become ``\\x1b``,
    ``\\n``-free ``\\x0a`` and ``\\u202e`` style escapes."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, s) if _UNSAFE.search(s) else s


def cell(text: object, style: str = "") -> Text:
    """A rich table cell holding ``text`` literally (no markup), escaped."""
    # start-up: rich.text costs ~11 ms; every process imports this module (through model), the
    # webhook's judges included, and only tables need rich
    from rich.text import Text

    return Text(safe(text), style=style)
