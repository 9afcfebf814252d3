"""Where a character of a multi-line scalar's value is in the source text.

A finding about part of a long value (a credential on line 12 of a config file
held in a ConfigMap key) is placed on that line rather than on the key. The
value is rebuilt from the source lines the way YAML reads them (literal ``|``
and folded ``>`` blocks with their indentation, multi-line plain and quoted
scalars with their line folding); the position is given only when the rebuilt
value equals the parsed one, so it is exact or not given at all (the caller
keeps the key's position). Double-quoted scalars with escapes are not rebuilt.
Nothing of the value leaves this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from yaml.nodes import ScalarNode

# Explicit indentation indicators are tried against these many indentations.
_MAX_INDENT_TRIES = 16
# Where one source line's part of the value starts: (source line index, offset
# in the value, column of that character, whether later columns follow on).
Piece = tuple[int, int, int, bool]


def scalar_position(node: ScalarNode, lines: Sequence[str], line_offset: int,
                    offset: int) -> tuple[int, int] | None:
    """1-based (line, column) of character ``offset`` of ``node``'s value, with
    ``lines`` the source split at ``\\n`` (``line_offset`` lines before the
    node's document), or None when it is not exactly known or the value
    spans one line only (its key's position is then as good)."""
    value = node.value
    if not isinstance(value, str) or not 0 <= offset < len(value):
        return None
    first = node.start_mark.line + line_offset
    last = min(node.end_mark.line + line_offset, len(lines) - 1)
    if first < 0 or first >= len(lines):
        return None
    style = node.style
    pieces: list[Piece] | None
    if style in ("|", ">"):
        header = _line(lines, first)[node.start_mark.column:]
        pieces = _block(value, header, [_line(lines, i) for i in range(first + 1, last + 1)],
                        folded=style == ">")
        base = first + 1
    elif first == last or (style == '"' and "\\" in "".join(lines[first:last + 1])):
        return None
    else:
        pieces = _flow(value, [_line(lines, i) for i in range(first, last + 1)],
                       node.start_mark.column, node.end_mark.column, style)
        base = first
    if pieces is None:
        return None
    where = None
    for index, start, column, exact in pieces:
        if start > offset:
            break
        where = (index, start, column, exact)
    if where is None:
        return None
    index, start, column, exact = where
    return base + index + 1, column + 1 + (offset - start if exact else 0)


def _line(lines: Sequence[str], i: int) -> str:
    text = lines[i] if 0 <= i < len(lines) else ""
    return text[:-1] if text.endswith("\r") else text


def _block(value: str, header: str, body: list[str], *, folded: bool) -> list[Piece] | None:
    """Pieces of a block scalar whose content lines are ``body``."""
    indicator = header[1:].split("#", 1)[0].strip()
    digits = [c for c in indicator if c.isdigit()]
    auto = next((len(b) - len(b.lstrip(" ")) for b in body if b.strip(" ")), 0)
    if not auto:
        return None
    tries = [auto] if not digits else list(range(auto, 0, -1))[:_MAX_INDENT_TRIES]
    want = value.rstrip("\n")
    for indent in tries:
        pieces, text = _rebuild_block(body, indent, folded)
        if text == want:
            return pieces
    return None


def _rebuild_block(body: list[str], indent: int, folded: bool) -> tuple[list[Piece], str]:
    out: list[str] = []
    size = 0
    pieces: list[Piece] = []
    empty = 0
    started = False
    prev_blank = False
    for i, line in enumerate(body):
        if not line[:indent].strip(" ") and len(line) <= indent:
            empty += 1
            continue
        if len(line) - len(line.lstrip(" ")) < indent:
            break  # less indented: the block ended
        content = line[indent:]
        blank = content[:1] in (" ", "\t")
        if not started:
            sep = "\n" * empty
        elif folded and not prev_blank and not blank:
            sep = " " if not empty else "\n" * empty
        else:
            sep = "\n" * (1 + empty)
        out.append(sep)
        size += len(sep)
        pieces.append((i, size, indent, True))
        out.append(content)
        size += len(content)
        empty, started, prev_blank = 0, True, blank
    return pieces, "".join(out)


def _flow(value: str, source: list[str], start_col: int, end_col: int,
          style: str | None) -> list[Piece] | None:
    """Pieces of a plain or quoted scalar over ``source`` lines (folded: each
    line break becomes a space, empty lines become line breaks)."""
    quote = 1 if style in ("'", '"') else 0
    out: list[str] = []
    size = 0
    pieces: list[Piece] = []
    empty = 0
    last = len(source) - 1
    for i, line in enumerate(source):
        lo = start_col + quote if i == 0 else 0
        hi = end_col - quote if i == last else len(line)
        raw = line[lo:hi]
        stripped = raw.lstrip(" \t") if i else raw
        column = lo + len(raw) - len(stripped)
        stripped = stripped.rstrip(" \t") if i != last else stripped
        if i and i != last and not stripped:
            empty += 1
            continue
        if i:
            sep = " " if not empty else "\n" * empty
            out.append(sep)
            size += len(sep)
        text = stripped.replace("''", "'") if style == "'" else stripped
        pieces.append((i, size, column, text == stripped))
        out.append(text)
        size += len(text)
        empty = 0
    return pieces if "".join(out) == value else None
