"""Dockerfiles met in the scanned paths, read into one pseudo-object each.

A Dockerfile becomes a single :class:`~kubeproof.model.Resource` of kind
``Dockerfile`` (``apiVersion: kubeproof.dev/v1``, ``metadata.name`` = the path)
whose ``stages`` list describes each build stage::

    {"from": "python:3.12-slim",   # the FROM image after ARG substitution
     "fromRaw": "${BASE}",          # as written
     "as": "build",                 # stage name (lowercased) or None
     "platform": "linux/amd64",     # --platform value or None
     "line": 4,                     # line of the FROM instruction
     "stageRef": 0,                 # index of the stage FROM names, or None
     "base": "python:3.12-slim",    # the external image the stage builds on, after
                                    # following stage references (None: unresolvable)
     "baseStage": 0,                # index of the stage whose FROM names ``base``
     "user": "app",                 # value of the stage's last USER, or None
     "userLine": 9}                 # its line, or None

plus ``args`` (the ARG defaults declared before the first FROM). Rules point
at instructions with paths such as ``("stages", 2, "from")`` or
``("stages", 2, "user")``; :class:`DockerfileLocator` maps those to lines (a
missing USER falls back to the stage's FROM line).

The reader follows BuildKit's syntax: parser directives (``# escape=``), line
continuations (also across comment and blank lines), comments, heredocs in
RUN/COPY/ADD (their bodies are not instructions), ``FROM [--flag=...] image
[AS name]``, ARG/ENV substitution (``$X``, ``${X}``, ``${X:-default}``,
``${X:+alt}``). A variable with no known value leaves the reference
unresolved and rules do not judge it. A file with no FROM is reported as a
warning and yields no object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubeproof.model import InputError, Origin, Resource
from kubeproof.sources.documents import LoadedFile, Located

API_VERSION = "kubeproof.dev/v1"
KIND = "Dockerfile"

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"^\d*<<(-?)(.+)$")
_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])((?:[^{}]|\{[^{}]*\})*))?\}"
    r"|([A-Za-z_][A-Za-z0-9_]*))")
_HEREDOC_COMMANDS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(slots=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the logical line after the keyword, continuations joined
    line: int  # 1-based line of the keyword
    column: int  # 1-based column of the keyword


@dataclass(slots=True)
class DockerfileLocator:
    """Maps ``("stages", i, ...)`` paths to Dockerfile lines; same interface as
    :class:`~kubeproof.sources.files.FileLocator`."""

    text: str
    # per stage: (FROM line, FROM column, USER line or None, USER column)
    stages: list[tuple[int, int, int | None, int]] = field(default_factory=list)
    lines: list[str] | None = None
    has_inline_ignores: bool = False

    def __post_init__(self) -> None:
        self.has_inline_ignores = "kubeproof:ignore" in self.text

    def locate(self, origin: Origin, node: Any, line_offset: int,
               path: tuple[str | int, ...], value_offset: int | None = None
               ) -> tuple[int, int]:
        if len(path) >= 2 and path[0] == "stages" and isinstance(path[1], int) \
                and 0 <= path[1] < len(self.stages):
            from_line, from_col, user_line, user_col = self.stages[path[1]]
            if len(path) >= 3 and path[2] in ("user", "userLine") and user_line is not None:
                return user_line, user_col
            return from_line, from_col
        return origin.line, origin.column

    def line_text(self, line: int) -> str:
        if self.lines is None:
            self.lines = self.text.splitlines()
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


# ---------------------------------------------------------------- lexing

def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order, with their first line."""
    lines = text.splitlines()
    escape = "\\"
    i = 0
    # Parser directives: only at the very top, before any other line.
    seen: set[str] = set()
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m or m.group(1).lower() in seen:
            break
        name = m.group(1).lower()
        seen.add(name)
        if name == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        i += 1

    out: list[Instruction] = []
    n = len(lines)
    while i < n:
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        column = len(raw) - len(raw.lstrip()) + 1
        parts: list[str] = []
        cur = raw.strip()
        while True:
            body = cur.rstrip()
            if body.endswith(escape):
                parts.append(body[:-1])
                i += 1
                # comment and blank lines inside a continuation are dropped
                while i < n and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    i += 1
                if i >= n:
                    break
                cur = lines[i]
                continue
            parts.append(body)
            i += 1
            break
        logical = " ".join(p.strip() for p in parts if p.strip())
        split = logical.split(None, 1)
        if not split:
            continue
        keyword = split[0].upper()
        args = split[1].strip() if len(split) > 1 else ""
        out.append(Instruction(keyword, args, start + 1, column))
        if keyword in _HEREDOC_COMMANDS and "<<" in args:
            i = _skip_heredocs(args, lines, i)
    return out


def _skip_heredocs(args: str, lines: list[str], i: int) -> int:
    """Skip the bodies of the heredocs opened on this instruction."""
    for word in args.split():
        m = _HEREDOC.match(word)
        if not m:
            continue
        strip_tabs, delim = m.group(1) == "-", m.group(2)
        if len(delim) >= 2 and delim[0] == delim[-1] and delim[0] in "'\"":
            delim = delim[1:-1]
        if not delim or "<" in delim:
            continue
        while i < len(lines):
            body = lines[i].lstrip("\t") if strip_tabs else lines[i]
            i += 1
            if body == delim:
                break
    return i


# ---------------------------------------------------------------- variables

def expand(text: str, env: dict[str, str]) -> str | None:
    """Substitute ``$X``-style variables; ``None`` when one has no known value."""
    if "$" not in text:
        return text
    unresolved = False

    def sub(m: re.Match[str]) -> str:
        nonlocal unresolved
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        value = env.get(name)
        if op is None:
            if value is None:
                unresolved = True
                return ""
            return value
        if op in (":-", "-"):
            use_word = value is None or (op == ":-" and value == "")
            if not use_word:
                return value  # type: ignore[return-value]
            got = expand(word or "", env)
            if got is None:
                unresolved = True
                return ""
            return got
        # ':+' / '+'
        if value is None or (op == ":+" and value == ""):
            return ""
        got = expand(word or "", env)
        if got is None:
            unresolved = True
            return ""
        return got

    # \$ is a literal dollar
    pieces = text.split("\\$")
    expanded = [_VAR.sub(sub, p) for p in pieces]
    if unresolved:
        return None
    result = "$".join(expanded)
    return result


def _assignments(args: str) -> list[tuple[str, str | None]]:
    """``K=V K2="v w"`` (ARG/ENV) or legacy ``ENV K V`` pairs."""
    words = _shell_words(args)
    if not words:
        return []
    if "=" not in words[0]:
        # ARG NAME (no default) or legacy ENV NAME value with spaces
        rest = args.strip()[len(words[0]):].strip()
        return [(words[0], _unquote(rest) if rest else None)]
    out: list[tuple[str, str | None]] = []
    for w in words:
        key, eq, value = w.partition("=")
        out.append((key, value if eq else None))
    return out


def _shell_words(text: str) -> list[str]:
    """Split on unquoted whitespace, removing quotes (enough for ARG/ENV)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    has = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(text):
                i += 1
                cur.append(text[i])
            else:
                cur.append(ch)
        elif ch in "'\"":
            quote = ch
            has = True
        elif ch.isspace():
            if cur or has:
                words.append("".join(cur))
                cur, has = [], False
        else:
            cur.append(ch)
        i += 1
    if cur or has:
        words.append("".join(cur))
    return words


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


# ---------------------------------------------------------------- stages

def _parse_from(args: str) -> tuple[str | None, str | None, str | None]:
    """(image, stage name, platform) of a FROM instruction's arguments."""
    words = args.split()
    platform = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        key, _, value = flag[2:].partition("=")
        if key.lower() == "platform":
            platform = value or None
    if not words:
        return None, None, platform
    image = words[0]
    name = None
    if len(words) >= 3 and words[1].lower() == "as":
        name = words[2].lower()
    return image, name, platform


def parse_dockerfile(text: str) -> tuple[dict[str, Any], list[tuple[int, int, int | None, int]]]:
    """The Dockerfile object and its per-stage line table."""
    global_args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    lines: list[tuple[int, int, int | None, int]] = []
    names: dict[str, int] = {}
    env: dict[str, str] = {}  # ENV of the current stage (inherited by FROM <stage>)
    args: dict[str, str] = {}  # ARG values of the current stage (not inherited)
    envs: list[dict[str, str]] = []

    for ins in instructions(text):
        kw = ins.keyword
        if kw == "FROM":
            raw, alias, platform = _parse_from(ins.args)
            image = expand(raw, global_args) if raw is not None else None
            ref_index = names.get(image.lower()) if image else None
            if ref_index is not None:
                parent = stages[ref_index]
                base, base_stage = parent["base"], parent["baseStage"]
                env = dict(envs[ref_index])
            else:
                base = image or None
                base_stage = len(stages)
                env = {}
            args = {}
            stage = {
                "from": image if image is not None else raw,
                "fromRaw": raw,
                "as": alias,
                "platform": platform,
                "line": ins.line,
                "stageRef": ref_index,
                "base": base,
                "baseStage": base_stage,
                "user": None,
                "userResolved": True,
                "userLine": None,
            }
            if alias:
                names[alias] = len(stages)
            stages.append(stage)
            envs.append(env)
            lines.append((ins.line, ins.column, None, 1))
            continue
        if not stages:
            if kw == "ARG":
                for key, value in _assignments(ins.args):
                    if value is not None:
                        got = expand(value, global_args)
                        if got is not None:
                            global_args[key] = got
            continue
        stage = stages[-1]
        if kw == "ARG":
            for key, value in _assignments(ins.args):
                if value is None:
                    if key in global_args:
                        args[key] = global_args[key]
                    continue
                got = expand(value, {**args, **env})
                if got is not None:
                    args[key] = got
                else:
                    args.pop(key, None)
        elif kw == "ENV":
            for key, value in _assignments(ins.args):
                if value is None:
                    continue
                got = expand(value, {**args, **env})
                if got is not None:
                    env[key] = got
                else:
                    env.pop(key, None)
        elif kw == "USER":
            value = ins.args.strip()
            got = expand(value, {**args, **env})
            stage["user"] = got if got is not None else value
            stage["userResolved"] = got is not None
            stage["userLine"] = ins.line
            from_line, from_col, _, _ = lines[-1]
            lines[-1] = (from_line, from_col, ins.line, ins.column)

    obj: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": ""},
        "args": global_args,
        "stages": stages,
    }
    return obj, lines


def load_dockerfile(path: str, text: str) -> LoadedFile:
    """Read one Dockerfile into a :class:`LoadedFile` with one object (or none)."""
    out = LoadedFile(path=path)
    if not text.strip():
        out.warnings.append(InputError(path, None, "empty file, nothing to scan"))
        out.locator = DockerfileLocator(text)
        return out
    obj, table = parse_dockerfile(text)
    locator = DockerfileLocator(text, table)
    out.locator = locator
    if not obj["stages"]:
        out.warnings.append(InputError(
            path, None, "no FROM instruction: not a Dockerfile, skipped"))
        return out
    obj["metadata"]["name"] = path
    first_line, first_col = table[0][0], table[0][1]
    origin = Origin(path, 0, first_line, first_col, "file", locator)
    out.objects.append(Located(Resource(obj, origin), None, 0))
    return out
