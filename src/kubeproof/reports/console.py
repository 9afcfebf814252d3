"""A rich console that writes to a buffer: the text report, the scorecard and the
CLI's tables are drawn on one, plain unless colour is asked for."""

from __future__ import annotations

from io import StringIO

from rich.console import Console


def make_console(color: bool, width: int = 100) -> tuple[Console, StringIO]:
    """A rich console writing to a buffer; plain text unless ``color``."""
    buf = StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                      color_system="standard" if color else None, highlight=False,
                      emoji=False, soft_wrap=False, legacy_windows=False)
    return console, buf


def console_text(buf: StringIO, color: bool) -> str:
    """What a console wrote; without rich's trailing padding in plain text."""
    text = buf.getvalue()
    if color:
        return text
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
