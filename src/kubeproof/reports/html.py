"""HTML report: one self-contained page a person wants to look at.

    kubeproof scan deploy/ -f html -o report.html
    kubeproof report run.json -f html -o report.html

One file, nothing fetched: the CSS and the script are inline and a strict
Content-Security-Policy (``default-src 'none'``, the script allowed by its
hash) forbids the page any request. It holds:

* a header: kubeproof version, date, inputs and counts;
* the scorecard per practice (:func:`kubeproof.reports.scorecard.scorecard`);
* "fix these first": the rules with findings, by severity then count;
* the findings, filterable by practice, severity, namespace, rule and file and
  by free text, each expandable to its message, rule, location, the YAML
  around its line (the line highlighted), the rule's remediation and example
  and a link to its section of docs/rules.md (:func:`sarif.help_uri`).

The header, scorecard and "fix these first" are HTML written here, every
string HTML-escaped. The findings travel as JSON in a
``<script type="application/json">`` block (``<``, ``>`` and ``&`` written
as ``\\u003c`` style escapes, so no value can close the block) and a small
script renders them with ``textContent`` only, :data:`PAGE` rows at a time:
a report of 10,000 findings opens in well under a second.

Excerpts are read from the files when the report is made (or re-made from a
saved JSON report, when the files are still readable; else there is none),
for findings of manifest files only (``.yaml``, ``.yml``, ``.json``; not
Dockerfiles, stdin, the cluster or rendered charts). A saved report names the
files it quotes: re-render only reports you trust where you publish the page.
Each file's text has its secret values masked by :mod:`kubeproof.reports.redact`
before any line of it is kept; a file with a document that does not parse
(whose values could not be masked), a kubeconfig, or a file that cannot be
read or decoded gives no excerpt. Only the lines some finding shows are kept,
each once per file, cut at :data:`MAX_LINE` characters: the file size is
bounded by the findings, not by the manifests. Every string passes
:func:`terminal.safe`, so control characters and bidi overrides show as escapes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubeproof.model import PRACTICES, Finding, InputError, Rule
from kubeproof.reports import SEVERITY_ORDER, object_label, severity_counts
from kubeproof.reports.redact import masked_if_parsed
from kubeproof.reports.sarif import help_uri, strip_fence
from kubeproof.reports.scorecard import scorecard
from kubeproof.sources.files import MANIFEST_SUFFIXES
from kubeproof.util.terminal import safe

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult
    from kubeproof.reports.redact import Templates

CONTEXT = 3  # lines shown either side of a finding's line
MAX_LINE = 400  # characters kept of an excerpt line
MAX_SOURCE_BYTES = 16 * 1024 * 1024  # larger files give no excerpt (the scan refuses them too)
PAGE = 200  # findings rendered at a time
MAX_INPUTS_LISTED = 500
# a kubeconfig (YAML or JSON) holds tokens and keys in fields no rule names
_KUBECONFIG = re.compile(r"^kind:[ \t]*([\"']?)Config\1[ \t]*(#.*)?$|\"kind\"\s*:\s*\"Config\"",
                         re.MULTILINE)


def render(result: ScanResult, *, tool_version: str, now: datetime | None = None) -> str:
    """The report as one HTML document."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    findings = sorted(result.findings, key=lambda f: (-f.severity, f.file, f.line, f.column,
                                                     f.rule.code))
    data = _script_json(_data(findings, result.pod_templates))
    script = _SCRIPT.replace("__PAGE__", str(PAGE))
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="referrer" content="no-referrer">\n',
        "<title>kubeproof report</title>\n<style>", _CSS, "</style>\n</head>\n<body>\n",
        _header(result, findings, tool_version, when),
        _scorecard(result),
        _fix_first(findings),
        _problems(result.errors, result.warnings),
        _FINDINGS,
        f'<script type="application/json" id="kp-data">{data}</script>\n',
        f"<script>{script}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


# ------------------------------------------------------------------ static parts


def _e(value: object) -> str:
    """``value`` as HTML text: control characters escaped visibly, then HTML-escaped."""
    return html.escape(safe(value), quote=True)


def _inputs(result: ScanResult) -> list[str]:
    files: dict[str, None] = {}
    for obj in result.checked:
        files.setdefault(obj.file)
    for f in result.findings:
        files.setdefault(f.file)
    for err in result.errors:
        if err.file:
            files.setdefault(err.file)
    return sorted(files)


def _header(result: ScanResult, findings: list[Finding], tool_version: str, when: str) -> str:
    counts = severity_counts(findings)
    chips = "".join(f'<span class="sev {s}">{counts[s]} {s}</span>' for s in SEVERITY_ORDER)
    inputs = _inputs(result)
    listed = "".join(f"<li>{_e(p)}</li>" for p in inputs[:MAX_INPUTS_LISTED])
    if len(inputs) > MAX_INPUTS_LISTED:
        listed += f"<li>… and {len(inputs) - MAX_INPUTS_LISTED:,} more</li>"
    stats = [("findings", len(findings)), ("objects", result.objects), ("files", result.files),
             ("rules run", len(result.rules)), ("suppressed", sum(result.suppressed.values())),
             ("baselined", result.baselined), ("errors", len(result.errors)),
             ("warnings", len(result.warnings))]
    dl = "".join(f'<div class="stat"><b>{n:,}</b><span>{label}</span></div>'
                 for label, n in stats)
    return (f'<header id="kp-header"><h1>kubeproof report</h1>'
            f'<p class="meta">kubeproof {_e(tool_version)} · generated {_e(when)}</p>'
            f'<div class="stats">{dl}</div><div class="chips">{chips}</div>'
            f"<details><summary>{len(inputs):,} input file(s)</summary>"
            f'<ul class="inputs">{listed}</ul></details></header>\n')


def _grade_class(grade: object) -> str:
    return f"g-{grade}" if grade in ("A", "B", "C", "D", "F") else "g-na"


def _scorecard(result: ScanResult) -> str:
    card = scorecard(result)
    cells = []
    for key, entry in card.get("practices", {}).items():
        if not isinstance(entry, dict):
            continue
        score = entry.get("score")
        grade = entry.get("grade", "n/a")
        width = max(0, min(100, score)) if isinstance(score, int) else 0
        shown = f"{score}/100" if isinstance(score, int) else "not scored"
        note = entry.get("note")
        detail = (f"{entry.get('findings', 0)} finding(s) · {entry.get('objects', 0)} object(s)"
                  f" · {entry.get('rules', 0)} rule(s)")
        # a practice with findings is a button filtering them
        button = (f' data-practice="{_e(key)}" tabindex="0" role="button"'
                  ' title="Show the findings of this practice"'
                  if entry.get("findings") else "")
        cells.append(
            f'<div class="card {_grade_class(grade)}"{button}>'
            f'<div class="grade">{_e(grade)}</div><div class="body">'
            f'<div class="pname">{_e(key)} · {_e(entry.get("name", ""))}</div>'
            f'<div class="bar"><i style="width:{width}%"></i></div>'
            f'<div class="pdetail">{shown} · {_e(detail)}</div>'
            + (f'<div class="note">{_e(note)}</div>' if note else "")
            + "</div></div>")
    overall = card.get("score")
    grade = card.get("grade", "n/a")
    shown = f"{overall}/100" if isinstance(overall, int) else "n/a"
    return (f'<section id="kp-scorecard"><h2>Scorecard</h2>'
            f'<div class="overall {_grade_class(grade)}"><span class="grade">{_e(grade)}</span>'
            f" overall {_e(shown)} <small>(mean of the practices scored)</small></div>"
            f'<div class="cards">{"".join(cells)}</div></section>\n')


def _fix_first(findings: list[Finding]) -> str:
    counts: Counter[tuple[int, str]] = Counter()
    rules: dict[str, Rule] = {}
    for f in findings:
        counts[(int(f.severity), f.rule.code)] += 1
        rules.setdefault(f.rule.code, f.rule)
    if not counts:
        return ('<section id="kp-first"><h2>Fix these first</h2>'
                "<p>No findings: nothing to fix.</p></section>\n")
    rows = []
    for (sev, code), n in sorted(counts.items(), key=lambda kv: (-kv[0][0], -kv[1], kv[0][1])):
        r = rules[code]
        label = SEVERITY_ORDER[len(SEVERITY_ORDER) - 1 - sev]
        rows.append(f'<tr data-rule="{_e(code)}" tabindex="0" title="Show these findings">'
                    f'<td><span class="sev {label}">{label}</span></td>'
                    f"<td><b>{_e(code)}</b> {_e(r.name)}</td>"
                    f"<td>{r.practice} · {_e(PRACTICES.get(r.practice, ''))}</td>"
                    f'<td class="num">{n:,}</td><td>{_e(r.summary)}</td></tr>')
    return ('<section id="kp-first"><h2>Fix these first</h2><table class="grid">'
            "<thead><tr><th>Severity</th><th>Rule</th><th>Practice</th><th>Findings</th>"
            f"<th>What</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>\n")


def _problems(errors: list[InputError], warnings: list[InputError]) -> str:
    if not errors and not warnings:
        return ""
    items = []
    for label, group in (("error", errors), ("warning", warnings)):
        for p in group:
            where = f"{p.file}:{p.line}" if p.line else p.file
            items.append(f'<li class="{label}"><b>{label}</b> {_e(where)}: {_e(p.message)}</li>')
    return (f'<section id="kp-problems"><h2>Input errors and warnings</h2>'
            f'<ul>{"".join(items)}</ul></section>\n')


# ------------------------------------------------------------------ data for the script


def _data(findings: list[Finding], templates: Templates) -> dict[str, Any]:
    files: dict[str, int] = {}
    namespaces: dict[str, int] = {}
    rules: dict[str, dict[str, Any]] = {}
    rows: list[list[Any]] = []
    wanted: dict[str, set[int]] = {}  # file -> lines some excerpt shows
    for f in findings:
        fi = files.setdefault(f.file, len(files))
        ni = namespaces.setdefault(f.namespace, len(namespaces)) if f.namespace else -1
        r = f.rule
        if r.code not in rules:
            rules[r.code] = {"n": safe(r.name), "p": r.practice, "s": safe(r.summary),
                             "how": r.how, "ex": strip_fence(r.example), "doc": help_uri(r)}
        obj = object_label(f.kind, f.namespace, f.name) if f.kind or f.name else ""
        rows.append([r.code, SEVERITY_ORDER.index(f.severity.label), fi, f.line, f.column, ni,
                     safe(obj), safe(f.message), safe(f.container or ""), safe(f.path)])
        if f.source == "file" and f.line >= 1 and _excerpt_file(f):
            wanted.setdefault(f.file, set()).update(
                range(max(1, f.line - CONTEXT), f.line + CONTEXT + 1))
    sources: dict[str, dict[str, str]] = {}
    for file, lines in wanted.items():
        kept = _source_lines(file, lines, templates)
        if kept:
            sources[str(files[file])] = kept
    return {"practices": {str(k): v for k, v in PRACTICES.items()},
            "rules": rules, "files": [safe(p) for p in files],
            "ns": [safe(n) for n in namespaces], "src": sources, "f": rows,
            "context": CONTEXT}


def _excerpt_file(f: Finding) -> bool:
    """Whether the file of ``f`` may be quoted: a manifest (by its name), not a
    Dockerfile, whose secrets :mod:`kubeproof.reports.redact` does not know."""
    return f.kind != "Dockerfile" and f.file.lower().endswith(MANIFEST_SUFFIXES)


def _source_lines(path: str, wanted: set[int], templates: Templates) -> dict[str, str]:
    """The ``wanted`` lines (1-based) of the file at ``path``, secret values masked,
    each cut at :data:`MAX_LINE` characters and escaped; empty when the file cannot
    be read, decoded or parsed for masking (never an unmasked line)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_SOURCE_BYTES:
            return {}
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SOURCE_BYTES + 1)
    except (OSError, ValueError):
        return {}
    if len(raw) > MAX_SOURCE_BYTES or b"\x00" in raw:
        return {}
    try:
        text = masked_if_parsed(raw.decode("utf-8-sig"), templates)
    except Exception:  # any failure to mask: show nothing rather than a secret
        return {}
    if text is None or _KUBECONFIG.search(text):  # could not be masked; a kubeconfig
        return {}
    lines = text.split("\n")
    if lines[-1] == "":  # the newline ending the last line starts none
        lines.pop()
    out: dict[str, str] = {}
    for n in sorted(wanted):
        if n > len(lines):
            break
        line = lines[n - 1].rstrip("\r")
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE] + "…"
        out[str(n)] = safe(line)
    return out


def _script_json(data: Any) -> str:
    """JSON that cannot end the ``<script>`` element holding it, nor open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ------------------------------------------------------------------ page resources

_FINDINGS = """<section id="kp-findings"><h2>Findings</h2>
<div class="filters">
<label>Practice <select id="kp-practice"><option value="">all</option></select></label>
<label>Severity <select id="kp-severity"><option value="">all</option></select></label>
<label>Namespace <select id="kp-namespace"><option value="">all</option></select></label>
<label>Rule <select id="kp-rule"><option value="">all</option></select></label>
<label>File <select id="kp-file"><option value="">all</option></select></label>
<label>Search <input id="kp-search" type="search" placeholder="text in any column"></label>
<button id="kp-reset" type="button">Reset</button>
</div>
<p id="kp-count" class="count"></p>
<table class="grid findings"><thead><tr><th>Severity</th><th>Rule</th><th>Object</th>
<th>Location</th><th>Message</th></tr></thead><tbody id="kp-rows"></tbody></table>
<button id="kp-more" type="button" hidden>Show more</button>
<noscript><p>The findings table needs JavaScript.</p></noscript>
</section>
"""

_CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;
--critical:#7f1d1d;--high:#dc2626;--medium:#d97706;--low:#0891b2;--info:#6b7280}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:28px 0 10px}
.meta{color:var(--muted);margin:0 0 12px}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:10px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px 12px;
min-width:90px}.stat b{display:block;font-size:18px}.stat span{color:var(--muted);font-size:12px}
.chips{display:flex;gap:6px;margin-bottom:8px}
.sev{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}
.sev.medium{background:var(--medium)}.sev.low{background:var(--low)}.sev.info{background:var(--info)}
details summary{cursor:pointer;color:var(--muted)}
.inputs{max-height:160px;overflow:auto;font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:12px}
.overall{font-size:16px;margin-bottom:10px}.overall .grade{display:inline-block;width:38px;
height:38px;line-height:38px;text-align:center;border-radius:8px;color:#fff;font-weight:700;
font-size:20px;margin-right:6px}.overall small{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px}
.card{display:flex;gap:10px;background:var(--card);border:1px solid var(--line);
border-left:6px solid #9ca3af;border-radius:8px;padding:8px 10px}
.card[role=button]{cursor:pointer}
.card[role=button]:hover,.card[role=button]:focus{outline:2px solid #93c5fd}
.card .grade{width:34px;height:34px;line-height:34px;text-align:center;border-radius:6px;
color:#fff;font-weight:700;font-size:17px;flex:none}
.card .body{flex:1;min-width:0}.pname{font-weight:600;overflow:hidden;text-overflow:ellipsis;
white-space:nowrap}.pdetail,.note{color:var(--muted);font-size:12px}
.bar{height:6px;background:var(--line);border-radius:3px;margin:4px 0}
.bar i{display:block;height:6px;border-radius:3px;background:#9ca3af}
.g-A{border-left-color:#16a34a}.g-A .grade,.g-A .bar i{background:#16a34a}
.g-B{border-left-color:#65a30d}.g-B .grade,.g-B .bar i{background:#65a30d}
.g-C{border-left-color:#ca8a04}.g-C .grade,.g-C .bar i{background:#ca8a04}
.g-D{border-left-color:#ea580c}.g-D .grade,.g-D .bar i{background:#ea580c}
.g-F{border-left-color:#dc2626}.g-F .grade,.g-F .bar i{background:#dc2626}
.g-na .grade{background:#9ca3af}
table.grid{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
.grid th,.grid td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);
vertical-align:top}.grid th{background:#f1f5f9;font-size:12px;color:#374151}
.grid td.num{text-align:right}
.findings thead th{position:sticky;top:0;z-index:1}
#kp-first tbody tr,.findings tr.f{cursor:pointer}
#kp-first tbody tr:hover,.findings tr.f:hover{background:#eff6ff}
.findings tr.open{background:#eff6ff}
.findings td{word-break:break-word}.findings td:nth-child(2){white-space:nowrap}
.findings td.loc{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;margin-bottom:8px}
.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
.filters select,.filters input{font:inherit;padding:3px 4px;max-width:260px}
button{font:inherit;padding:4px 12px;cursor:pointer}
.count{color:var(--muted)}
.detail td{background:#fbfdff;padding:10px 14px}
.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 12px;margin:0 0 8px}
.detail dt{color:var(--muted)}.detail dd{margin:0}
pre{background:#0f172a;color:#e2e8f0;border-radius:6px;padding:8px 0;overflow:auto;
font:12px/1.5 ui-monospace,Menlo,Consolas,monospace;margin:6px 0}
pre span{display:block;padding:0 10px;white-space:pre}
pre span.hl{background:#854d0e;color:#fff}
pre span i{font-style:normal;color:#64748b;display:inline-block;min-width:44px}
pre.example{background:#f1f5f9;color:var(--fg);padding:8px 10px;white-space:pre-wrap}
#kp-problems li.error b{color:var(--high)}#kp-problems li.warning b{color:var(--medium)}
"""

_SCRIPT = r"""
(function () {
"use strict";
var D = JSON.parse(document.getElementById("kp-data").textContent);
var SEV = ["critical", "high", "medium", "low", "info"];
var F = D.f, R = D.rules, PAGE = __PAGE__;
var rows = [], shown = 0, hay = null;
var tbody = document.getElementById("kp-rows");
var more = document.getElementById("kp-more");
var count = document.getElementById("kp-count");
var S = {};
["practice", "severity", "namespace", "rule", "file"].forEach(function (k) {
  S[k] = document.getElementById("kp-" + k);
});
var search = document.getElementById("kp-search");

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function addOptions(select, items) {
  items.forEach(function (it) {
    var o = el("option", null, it[1] + " (" + it[2] + ")");
    o.value = it[0];
    select.appendChild(o);
  });
}
function counted(key) {
  var c = new Map();
  for (var i = 0; i < F.length; i++) {
    var k = key(F[i]);
    if (k === null) continue;
    c.set(k, (c.get(k) || 0) + 1);
  }
  return c;
}
function options() {
  var c = counted(function (x) { return R[x[0]].p; });
  addOptions(S.practice, Array.from(c.keys()).sort(function (a, b) { return a - b; })
    .map(function (p) { return [String(p), p + " " + (D.practices[p] || ""), c.get(p)]; }));
  c = counted(function (x) { return x[1]; });
  addOptions(S.severity, Array.from(c.keys()).sort()
    .map(function (s) { return [String(s), SEV[s], c.get(s)]; }));
  c = counted(function (x) { return x[5] < 0 ? null : x[5]; });
  addOptions(S.namespace, Array.from(c.keys())
    .sort(function (a, b) { return D.ns[a] < D.ns[b] ? -1 : 1; })
    .map(function (n) { return [String(n), D.ns[n], c.get(n)]; }));
  c = counted(function (x) { return x[0]; });
  addOptions(S.rule, Array.from(c.keys()).sort()
    .map(function (r) { return [r, r + " " + R[r].n, c.get(r)]; }));
  c = counted(function (x) { return x[2]; });
  addOptions(S.file, Array.from(c.keys())
    .sort(function (a, b) { return D.files[a] < D.files[b] ? -1 : 1; })
    .map(function (f) { return [String(f), D.files[f], c.get(f)]; }));
}
function text(x) {
  return [x[0], R[x[0]].n, SEV[x[1]], D.files[x[2]] + ":" + x[3], x[5] < 0 ? "" : D.ns[x[5]],
          x[6], x[7], x[8], x[9]].join("\n").toLowerCase();
}
function apply() {
  var p = S.practice.value, s = S.severity.value, n = S.namespace.value;
  var r = S.rule.value, f = S.file.value, q = search.value.trim().toLowerCase();
  if (q && hay === null) hay = F.map(text);
  rows = [];
  for (var i = 0; i < F.length; i++) {
    var x = F[i];
    if (p !== "" && String(R[x[0]].p) !== p) continue;
    if (s !== "" && String(x[1]) !== s) continue;
    if (n !== "" && String(x[5]) !== n) continue;
    if (r !== "" && x[0] !== r) continue;
    if (f !== "" && String(x[2]) !== f) continue;
    if (q && hay[i].indexOf(q) < 0) continue;
    rows.push(i);
  }
  tbody.textContent = "";
  shown = 0;
  page();
}
function page() {
  var frag = document.createDocumentFragment();
  var end = Math.min(rows.length, shown + PAGE);
  for (var i = shown; i < end; i++) frag.appendChild(row(rows[i]));
  tbody.appendChild(frag);
  shown = end;
  more.hidden = shown >= rows.length;
  count.textContent = "Showing " + shown + " of " + rows.length + " finding(s)" +
    (rows.length !== F.length ? " matching the filters (" + F.length + " in all)" : "");
}
function row(i) {
  var x = F[i], tr = el("tr", "f");
  tr.dataset.i = i;
  var td = el("td");
  td.appendChild(el("span", "sev " + SEV[x[1]], SEV[x[1]]));
  tr.appendChild(td);
  td = el("td");
  td.appendChild(el("b", null, x[0]));
  td.appendChild(document.createTextNode(" " + R[x[0]].n));
  tr.appendChild(td);
  tr.appendChild(el("td", null, x[6] + (x[8] ? " [" + x[8] + "]" : "")));
  tr.appendChild(el("td", "loc", D.files[x[2]] + ":" + x[3] + ":" + x[4]));
  tr.appendChild(el("td", null, x[7]));
  return tr;
}
function excerpt(x) {
  var lines = D.src[String(x[2])];
  if (!lines || x[3] < 1) return null;
  var pre = el("pre", "excerpt");
  for (var n = Math.max(1, x[3] - D.context); n <= x[3] + D.context; n++) {
    var t = lines[String(n)];
    if (t === undefined) continue;
    var span = el("span", n === x[3] ? "hl" : null);
    span.appendChild(el("i", null, n));
    span.appendChild(document.createTextNode(t));
    pre.appendChild(span);
  }
  return pre.childNodes.length ? pre : null;
}
function detail(i) {
  var x = F[i], rule = R[x[0]];
  var tr = el("tr", "detail"), td = el("td");
  td.colSpan = 5;
  var dl = el("dl");
  function item(k, v) { dl.appendChild(el("dt", null, k)); dl.appendChild(el("dd", null, v)); }
  item("Message", x[7]);
  item("Rule", x[0] + " " + rule.n + " — " + rule.s);
  item("Severity", SEV[x[1]]);
  item("Practice", rule.p + " " + (D.practices[rule.p] || ""));
  item("Location", D.files[x[2]] + ":" + x[3] + ":" + x[4]);
  if (x[6]) item("Object", x[6]);
  if (x[8]) item("Container", x[8]);
  if (x[9]) item("Path", x[9]);
  td.appendChild(dl);
  var pre = excerpt(x);
  if (pre) td.appendChild(pre);
  td.appendChild(el("b", null, "How to fix"));
  td.appendChild(el("p", "how", rule.how));
  if (rule.ex) td.appendChild(el("pre", "example", rule.ex));
  if (rule.doc) {  // a custom rule or a policy has no page in docs/rules.md
    var a = el("a", "doc", "Documentation of " + x[0]);
    a.href = rule.doc;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    td.appendChild(a);
  }
  tr.appendChild(td);
  return tr;
}
tbody.addEventListener("click", function (ev) {
  var tr = ev.target.closest("tr.f");
  if (!tr) return;
  var next = tr.nextElementSibling;
  if (next && next.classList.contains("detail")) {
    next.remove();
    tr.classList.remove("open");
  } else {
    tr.after(detail(Number(tr.dataset.i)));
    tr.classList.add("open");
  }
});
function only(key, value) {
  Object.keys(S).forEach(function (k) { S[k].value = k === key ? value : ""; });
  search.value = "";
  apply();
  document.getElementById("kp-findings").scrollIntoView();
}
function clickable(selector, key, attr) {
  document.querySelectorAll(selector).forEach(function (e) {
    function go() { only(key, e.dataset[attr]); }
    e.addEventListener("click", go);
    e.addEventListener("keydown", function (ev) { if (ev.key === "Enter") go(); });
  });
}
clickable("#kp-first tr[data-rule]", "rule", "rule");
clickable(".card[data-practice]", "practice", "practice");
Object.keys(S).forEach(function (k) { S[k].addEventListener("change", apply); });
var timer = 0;
search.addEventListener("input", function () {
  clearTimeout(timer);
  timer = setTimeout(apply, 150);
});
document.getElementById("kp-reset").addEventListener("click", function () { only("", ""); });
more.addEventListener("click", page);
options();
apply();
performance.mark("kp-rendered");
})();
"""
