"""The ``scorecard`` format: the scorecard of :mod:`kubeproof.reports.scorecard`
drawn as a table (the text report shows the same table at its end)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from kubeproof.reports.console import console_text, make_console
from kubeproof.reports.scorecard import scorecard

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

GRADE_STYLES = {"A": "bold green", "B": "green", "C": "yellow", "D": "yellow", "F": "bold red",
                "n/a": "dim"}


def scorecard_table(card: dict[str, Any]) -> Table:
    """The scorecard; an ``accepted`` column when the baseline suppressed findings
    (they count in the score: see :mod:`kubeproof.reports.scorecard`)."""
    with_accepted = bool(card.get("accepted"))
    table = Table(title="Scorecard", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("practice")
    table.add_column("score", justify="right")
    table.add_column("grade", justify="center")
    table.add_column("findings", justify="right")
    if with_accepted:
        table.add_column("accepted", justify="right")
    for number, entry in card["practices"].items():
        score = entry["score"]
        grade = entry["grade"]
        style = "dim" if score is None else ""
        row = [Text(number, style=style), Text(entry["name"], style=style),
               Text("n/a" if score is None else str(score), style=style),
               Text(grade, style=GRADE_STYLES.get(grade, "")),
               Text(str(entry["findings"]), style=style)]
        if with_accepted:
            n = entry.get("accepted", 0)
            row.append(Text(str(n) if n else "", style="yellow" if n else ""))
        table.add_row(*row)
    table.add_section()
    overall = card["score"]
    table.add_row("", Text("overall", style="bold"),
                  Text("n/a" if overall is None else str(overall), style="bold"),
                  Text(card["grade"], style=GRADE_STYLES.get(card["grade"], "")), "",
                  *([Text(str(card["accepted"]), style="yellow")] if with_accepted else []))
    notes = [f"{number}: {entry['note']}" for number, entry in card["practices"].items()
             if entry["score"] is not None and entry.get("note")]
    if with_accepted:
        notes.append("accepted: in the baseline, not reported, still counted in the score")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def render(result: ScanResult, *, tool_version: str, color: bool = False,
           width: int = 100) -> str:
    """The scorecard as a table (rich; plain text when ``color`` is off)."""
    console, buf = make_console(color, width)
    console.print(scorecard_table(scorecard(result)))
    return console_text(buf, color)
