"""Human-readable report: findings by file, then a summary and the scorecard.

    deploy/web.yaml
      high     KP0401 default-namespace  ConfigMap/default/settings
               deploy/web.yaml:5:14  ConfigMap 'settings' is in the 'default' namespace
               fix: Create a namespace per team or application and set `metadata.namespace`.

The finding lines are written directly (with ANSI colours when ``color`` is
on), not through rich: rich costs ~0.3 ms per printed line, far too much for
tens of thousands of findings. The summary and scorecard tables use rich.
``color=False`` gives plain text without any escape sequence; ``quiet`` prints
only input errors, the summary and the scorecard.
"""

from __future__ import annotations

from io import StringIO
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeproof.model import Finding, Severity
from kubeproof.reports import SEVERITY_ORDER, iter_by_file, object_label, registry_rows
from kubeproof.reports.scorecard import scorecard
from kubeproof.terminal import cell, safe

if TYPE_CHECKING:
    from kubeproof.engine import ScanResult

RESET = "\x1b[0m"
ANSI: dict[str, str] = {
    "critical": "\x1b[1;37;41m",
    "high": "\x1b[1;31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "info": "\x1b[2m",
    "file": "\x1b[1;4m",
    "code": "\x1b[1m",
    "dim": "\x1b[2m",
    "error": "\x1b[1;31m",
    "warning": "\x1b[33m",
}
RICH_STYLES: dict[str, str] = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
GRADE_STYLES = {"A": "bold green", "B": "green", "C": "yellow", "D": "yellow", "F": "bold red",
                "n/a": "dim"}
SEVERITY_LABELS: dict[Severity, str] = {s: s.label for s in Severity}
INDENT = "  "
BODY = " " * 11  # under the code, after "  " + severity padded to 8 + " "

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


def _paint(color: bool, style: str, text: str) -> str:
    return f"{ANSI[style]}{text}{RESET}" if color else text


def finding_lines(f: Finding, color: bool) -> str:
    """The three lines of one finding (no trailing newline)."""
    label = SEVERITY_LABELS[f.severity]
    sev = f"{label:<8}"
    obj = object_label(f.kind, f.namespace, f.name) if (f.kind or f.name) else ""
    extra = "".join((f"  {obj}" if obj else "",
                     f"  container: {f.container}" if f.container else ""))
    where = f"{f.file}:{f.line}:{f.column}"
    if color:
        head = (f"{INDENT}{ANSI[label]}{sev}{RESET} {ANSI['code']}{f.rule.code}{RESET} "
                f"{f.rule.name}{safe(extra)}")
        fix = f"{BODY}{ANSI['dim']}fix: {f.rule.remediation}{RESET}"
    else:
        head = f"{INDENT}{sev} {f.rule.code} {f.rule.name}{safe(extra)}"
        fix = f"{BODY}fix: {f.rule.remediation}"
    return f"{head}\n{BODY}{safe(where)}  {safe(f.message)}\n{fix}"


def summary_table(result: ScanResult) -> Table:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for f in result.findings:
        counts[SEVERITY_LABELS[f.severity]] += 1
    table = Table(title="Summary", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("severity")
    table.add_column("findings", justify="right")
    for label in SEVERITY_ORDER:
        n = counts[label]
        table.add_row(Text(label, style=RICH_STYLES[label] if n else "dim"), str(n))
    table.add_section()
    table.add_row(Text("total", style="bold"), Text(str(len(result.findings)), style="bold"))
    return table


def scorecard_table(card: dict[str, Any]) -> Table:
    table = Table(title="Scorecard", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("practice")
    table.add_column("score", justify="right")
    table.add_column("grade", justify="center")
    table.add_column("findings", justify="right")
    for number, entry in card["practices"].items():
        score = entry["score"]
        grade = entry["grade"]
        style = "dim" if score is None else ""
        table.add_row(Text(number, style=style), Text(entry["name"], style=style),
                      Text("n/a" if score is None else str(score), style=style),
                      Text(grade, style=GRADE_STYLES.get(grade, "")),
                      Text(str(entry["findings"]), style=style))
    table.add_section()
    overall = card["score"]
    table.add_row("", Text("overall", style="bold"),
                  Text("n/a" if overall is None else str(overall), style="bold"),
                  Text(card["grade"], style=GRADE_STYLES.get(card["grade"], "")), "")
    return table


def registries_table(registries: list[Any]) -> Table:
    """The registries ``--check-images`` asked (``RegistryStatus`` values):
    status and latency of ``/v2/``."""
    table = Table(title="Registries", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("registry")
    table.add_column("status")
    table.add_column("HTTP", justify="right")
    table.add_column("latency", justify="right")
    table.add_column("auth")
    for row in registry_rows(registries):
        state = Text("ok", style="green") if row["reachable"] else \
            cell(row["error"] or "unavailable", "bold red")
        latency = row["latencyMs"]
        table.add_row(cell(row["host"]), state, cell(row["status"] or "-"),
                      "-" if latency is None else f"{latency:.0f} ms", cell(row["auth"]))
    return table


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _stats_line(result: ScanResult, tool_version: str) -> str:
    parts = [f"kubeproof {tool_version}: {result.objects} objects in {result.files} files, "
             f"{len(result.rules)} rules, {len(result.findings)} findings"]
    suppressed = sum(result.suppressed.values())
    if suppressed:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(result.suppressed.items()) if v)
        parts.append(f"{suppressed} suppressed ({detail})")
    if result.baselined:
        parts.append(f"{result.baselined} in baseline")
    if result.skipped_documents:
        parts.append(f"{result.skipped_documents} non-Kubernetes documents skipped")
    if result.errors:
        parts.append(_plural(len(result.errors), "input error"))
    if result.warnings:
        parts.append(_plural(len(result.warnings), "warning"))
    return "; ".join(parts)


def render(result: ScanResult, *, tool_version: str, color: bool = False, width: int = 100,
           quiet: bool = False, show_scorecard: bool = True) -> str:
    out: list[str] = []
    if not quiet:
        for file, group in iter_by_file(result.findings):
            out.append(_paint(color, "file", safe(file)))
            out.extend(finding_lines(f, color) for f in group)
            out.append("")
        for w in result.warnings:
            out.append(_paint(color, "warning", "warning:") + " " + safe(str(w)))
    for e in result.errors:
        out.append(_paint(color, "error", "error:") + " " + safe(str(e)))
    if result.errors or (result.warnings and not quiet):
        out.append("")

    console, buf = make_console(color, width)
    if result.registries:
        console.print(registries_table(result.registries))
    console.print(summary_table(result))
    if show_scorecard:
        console.print(scorecard_table(scorecard(result)))
    console.print(cell(_stats_line(result, tool_version), "dim"))
    out.append(console_text(buf, color).rstrip("\n"))
    return "\n".join(out) + "\n"
