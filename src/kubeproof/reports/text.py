"""Human-readable report: what to fix first, then the findings, then the scorecard.

    Fix these first  3 findings: 2 high, 1 low
      high      KP0401 default-namespace       2 on 2 objects
                Create a namespace per team or application and set `metadata.namespace`.
      low       KP0402 namespace-unset         1 on 1 object
                Set `metadata.namespace` on every namespaced object.

    Findings by rule
    KP0401 default-namespace  high, 2 findings
      deploy/web.yaml:5:3  ConfigMap/default/settings  ConfigMap "settings" is in ...
      ...

The summary lists every rule with findings, most urgent first (worst
severity, then most findings), with its count, the objects it concerns and
the first sentence of its fix: each fix is printed once, not once per
finding. The findings follow grouped by rule (``group_by="rule"``, in the
summary's order, each group by file and line) or by file (``"file"``), one
line each. A group shows at most :func:`fold_limit` findings (10, fewer when
there are many groups) and folds the rest into "... and N more (use --all)";
by file, only the :data:`FILES_SHOWN` most urgent files are shown;
``show_all`` prints everything. ``quiet`` keeps the summary, input errors,
the scorecard and the counts.

The lines are written directly (with ANSI colours when ``color`` is on), not
through rich: rich costs ~0.3 ms per printed line. The scorecard and registry
tables use rich. ``color=False`` gives plain text without any escape sequence.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from kubeproof.model import Finding, Rule, Severity
from kubeproof.reports import (
    finding_key,
    iter_by_file,
    object_label,
    registry_rows,
    severity_counts,
)
from kubeproof.reports.console import console_text, make_console
from kubeproof.reports.scorecard import scorecard
from kubeproof.reports.scorecard_table import scorecard_table
from kubeproof.util.terminal import cell, safe

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

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
SEVERITY_LABELS: dict[Severity, str] = {s: s.label for s in Severity}
INDENT = "  "
BODY = " " * 12  # under the code, after "  " + severity padded to 8 + "  "
GROUP_BY = ("rule", "file")
FOLD_MAX = 10  # findings a group shows at most before folding the rest
FOLD_BUDGET = 60  # finding lines shared by the groups before folding gets tighter
FILES_SHOWN = 30  # --group-by file: the most urgent files shown before the rest are counted


def _paint(color: bool, style: str, text: str) -> str:
    return f"{ANSI[style]}{text}{RESET}" if color else text


# ------------------------------------------------------------ fix these first


class RuleGroup:
    """The findings of one rule: its worst severity, count and objects."""

    __slots__ = ("findings", "objects", "rule", "severity")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.findings: list[Finding] = []
        self.severity = Severity.INFO
        self.objects: set[tuple[str, str, str, str]] = set()

    def add(self, f: Finding) -> None:
        self.findings.append(f)
        if f.severity > self.severity:
            self.severity = f.severity
        self.objects.add(finding_key(f))


def rule_groups(findings: list[Finding]) -> list[RuleGroup]:
    """Findings by rule, most urgent first: worst severity, then most findings,
    then code; within a group by file, line and column."""
    groups: dict[str, RuleGroup] = {}
    for f in findings:
        group = groups.get(f.rule.code)
        if group is None:
            group = groups[f.rule.code] = RuleGroup(f.rule)
        group.add(f)
    ordered = sorted(groups.values(),
                     key=lambda g: (-g.severity, -len(g.findings), g.rule.code))
    for g in ordered:
        g.findings.sort(key=lambda f: (f.file, f.line, f.column))
    return ordered


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")


def short_fix(rule: Rule, limit: int) -> str:
    """The first sentence of the rule's fix (How), cut to ``limit`` characters."""
    text = _SENTENCE_END.split(rule.remediation, 1)[0].strip()
    if len(text) > limit:
        text = text[:max(1, limit - 1)].rstrip() + "…"
    return text


def fold_limit(groups: int, show_all: bool) -> int | None:
    """How many findings a group shows before the rest are folded into a count:
    up to :data:`FOLD_MAX`, fewer when there are many groups, so that the whole
    report stays a few screens long (``None``: ``--all``, no folding)."""
    if show_all:
        return None
    return max(1, min(FOLD_MAX, FOLD_BUDGET // max(1, groups)))


def _severity_cell(color: bool, severity: Severity) -> str:
    label = SEVERITY_LABELS[severity]
    return _paint(color, label, label) + " " * (8 - len(label))  # no painted padding


def _counts_line(findings: list[Finding]) -> str:
    counts = severity_counts(findings)
    detail = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    return f"{_plural(len(findings), 'finding')}" + (f": {detail}" if detail else "")


def summary_lines(groups: list[RuleGroup], color: bool, width: int) -> list[str]:
    """"Fix these first": one line per rule (severity, code, name, findings,
    objects) and its fix, shortened to one line, under it."""
    if not groups:
        return []
    name_w = min(32, max(len(g.rule.name) for g in groups))
    out = []
    for g in groups:
        code = _paint(color, "code", g.rule.code)
        out.append(f"{INDENT}{_severity_cell(color, g.severity)}  {code} "
                   f"{g.rule.name:<{name_w}}  {len(g.findings):>6} on "
                   f"{_plural(len(g.objects), 'object')}")
        out.append(BODY + _paint(color, "dim", short_fix(g.rule, width - len(BODY))))
    return out


# ---------------------------------------------------------------- findings


def _object_part(f: Finding) -> str:
    obj = object_label(f.kind, f.namespace, f.name) if (f.kind or f.name) else ""
    return "".join((f"  {obj}" if obj else "",
                    f"  container: {f.container}" if f.container else ""))


def _fold_line(color: bool, hidden: int) -> str:
    return INDENT + _paint(color, "dim", f"… and {hidden} more (use --all)")


def _shown(items: list[Finding], limit: int | None) -> tuple[list[Finding], int]:
    """The findings a group shows and how many it folds (never fold just one)."""
    if limit is None or len(items) <= limit + 1:
        return items, 0
    return items[:limit], len(items) - limit


def by_rule_lines(groups: list[RuleGroup], color: bool, limit: int | None) -> list[str]:
    out: list[str] = []
    for g in groups:
        out.append(f"{_paint(color, 'code', g.rule.code)} {g.rule.name}  "
                   f"{_paint(color, SEVERITY_LABELS[g.severity], g.severity.label)}, "
                   f"{_plural(len(g.findings), 'finding')}")
        shown, hidden = _shown(g.findings, limit)
        for f in shown:
            sev = "" if f.severity == g.severity else f"  ({f.severity.label})"
            out.append(f"{INDENT}{safe(f'{f.file}:{f.line}:{f.column}')}"
                       f"{safe(_object_part(f))}  {safe(f.message)}{sev}")
        if hidden:
            out.append(_fold_line(color, hidden))
    return out


def by_file_lines(findings: list[Finding], color: bool, show_all: bool) -> list[str]:
    """Findings by file. Past :data:`FILES_SHOWN` files (unless ``show_all``) only
    the most urgent files are shown (worst severity, then most findings), in
    path order, and the others are counted."""
    out: list[str] = []
    files = list(iter_by_file(findings))
    hidden_files: list[tuple[str, list[Finding]]] = []
    if not show_all and len(files) > FILES_SHOWN + 1:
        ranked = sorted(files, key=lambda fg: (-max(f.severity for f in fg[1]), -len(fg[1]),
                                               fg[0]))
        keep = {file for file, _ in ranked[:FILES_SHOWN]}
        hidden_files = [fg for fg in files if fg[0] not in keep]
        files = [fg for fg in files if fg[0] in keep]
    limit = fold_limit(len(files), show_all)
    for file, group in files:
        out.append(_paint(color, "file", safe(file)))
        shown, hidden = _shown(group, limit)
        if hidden:  # the most severe findings of the file, still in line order
            worst = sorted(group, key=lambda f: (-f.severity, f.line, f.column))[:len(shown)]
            shown = sorted(worst, key=lambda f: (f.line, f.column, f.rule.code))
        for f in shown:
            out.append(f"{INDENT}{f.line}:{f.column}  {_severity_cell(color, f.severity)} "
                       f"{_paint(color, 'code', f.rule.code)} {f.rule.name}"
                       f"{safe(_object_part(f))}  {safe(f.message)}")
        if hidden:
            out.append(_fold_line(color, hidden))
    if hidden_files:
        n = sum(len(group) for _, group in hidden_files)
        out.append(_paint(color, "dim", f"… and {_plural(len(hidden_files), 'more file')} "
                                        f"with {_plural(n, 'finding')} (use --all)"))
    return out


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
        parts.append(f"{result.baselined} accepted in the baseline")
    if result.skipped_documents:
        parts.append(f"{result.skipped_documents} non-Kubernetes documents skipped")
    if result.errors:
        parts.append(_plural(len(result.errors), "input error"))
    if result.warnings:
        parts.append(_plural(len(result.warnings), "warning"))
    return "; ".join(parts)


def render(result: ScanResult, *, tool_version: str, color: bool = False, width: int = 100,
           quiet: bool = False, show_scorecard: bool = True, group_by: str = "rule",
           show_all: bool = False) -> str:
    """The report as text. ``group_by`` is ``rule`` (default) or ``file``;
    ``show_all`` turns folding off; ``quiet`` keeps the summary and the counts."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    out: list[str] = []
    groups = rule_groups(result.findings)
    if groups:
        out.append(_paint(color, "file", "Fix these first") + "  "
                   + _counts_line(result.findings))
        out.extend(summary_lines(groups, color, width))
        out.append("")
    if not quiet and groups:
        if group_by == "file":
            out.append(_paint(color, "file", "Findings by file"))
            out.extend(by_file_lines(result.findings, color, show_all))
        else:
            out.append(_paint(color, "file", "Findings by rule"))
            out.extend(by_rule_lines(groups, color, fold_limit(len(groups), show_all)))
        out.append("")
    if not quiet:
        for w in result.warnings:
            out.append(_paint(color, "warning", "warning:") + " " + safe(str(w)))
    for e in result.errors:
        out.append(_paint(color, "error", "error:") + " " + safe(str(e)))
    if result.errors or (result.warnings and not quiet):
        out.append("")

    console, buf = make_console(color, width)
    if result.registries:
        console.print(registries_table(result.registries))
    if show_scorecard:
        console.print(scorecard_table(scorecard(result)))
    console.print(cell(_stats_line(result, tool_version), "dim"))
    out.append(console_text(buf, color).rstrip("\n"))
    return "\n".join(out) + "\n"
