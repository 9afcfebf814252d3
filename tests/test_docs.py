"""Generated docs are current; the README and rule metadata keep their promises."""

from __future__ import annotations

import re
import subprocess

from kubeproof.core.catalogue import load_rules
from kubeproof.reports.ruledocs import readme_with_practices, render_markdown
from tests.support.paths import DATA, ROOT


def test_docs_rules_md_and_the_readme_table_are_generated_and_current() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    stale = "is stale: run `python -m kubeproof.reports.ruledocs --write`"
    assert current == render_markdown(), f"docs/rules.md {stale}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_practices(readme), f"README.md's practices table {stale}"


# Catalogue rows whose rules an open issue still has to build; each names the
# issue, and the test fails once the rule exists (then take it out of here).
PENDING: dict[str, str] = {}


def test_codes_names_severities_match_the_catalogue() -> None:
    catalogue = (DATA / "RULES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (KP\d{4}) \| ([a-z0-9-]+) \| "
                      r"(critical|high|medium|low|info|from report) \| "
                      r"([a-z /]+) \|",
                      catalogue, re.M)
    pss = dict(re.findall(r"^\| (KP08(?:0\d|1\d)) \| (pss-[a-z0-9-]+) \|", catalogue, re.M))
    rules = load_rules()
    for code, name, severity, scope in rows:
        if code not in rules:
            continue  # rules of later scopes (set, registry, report) come later
        r = rules[code]
        # "from report": each finding takes its severity from the report (the
        # rule's own severity is only the default)
        assert (r.name, r.severity.label) == (
            name, r.severity.label if severity == "from report" else severity), code
        assert r.scope in scope.split(" / "), code
    for code, name in pss.items():
        assert rules[code].name == name
    # a new rule may come before its row (the row follows in the catalogue's
    # next revision): it must not take a code or a name the catalogue gives another
    catalogue_names = {name for _, name, *_ in rows} | set(pss.values())
    catalogue_codes = {c for c, *_ in rows} | set(pss)
    newer = [r for code, r in rules.items() if code not in catalogue_codes]
    assert not [r.code for r in newer if r.name in catalogue_names], "name of another rule"
    object_codes = {c for c, _, _, scope in rows if scope.startswith("object")} | set(pss)
    missing = object_codes - set(rules)
    assert missing == set(PENDING), f"object rules missing: {missing - set(PENDING)}"


def test_readme_names_every_rule_and_ci_runs_its_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in load_rules():  # in the generated table (checked current above)
        in_range = any(lo <= code <= hi for lo, hi in
                       re.findall(r"(KP\d{4})–(KP\d{4})", readme))
        assert code in readme or in_range, f"README does not mention {code}"
    test_cmd = readme.split("<!-- test-command -->")[1].split("```sh\n")[1].split("\n")[0]
    proc = subprocess.run(
        ["awk", "/<!-- test-command -->/{getline; getline; print; exit}", "README.md"],
        capture_output=True, text=True, cwd=ROOT, check=True)
    assert proc.stdout.strip() == test_cmd
    assert "pytest" in test_cmd


def test_tests_read_nothing_outside_the_repository() -> None:
    """A clean clone runs the suite: test data is vendored, not read from the workspace."""
    outside = re.compile(r"\.\./shared|parents\[\d\]\s*/\s*\"shared\"|/\s*\"shared\"\s*/")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "tests").rglob("*.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if outside.search(line)]
    assert offenders == []


def test_design_doc_is_linked_and_names_real_modules() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/design.md)" in readme and "DESIGN.md" not in readme
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    layout = design.split("## Layout", 1)[1].split("```")[1]
    named = re.findall(r"^  ((?:[a-z0-9_]+/)*[a-z0-9_]+(?:\.py|/))", layout, re.M)
    assert len(named) > 20
    missing = [n for n in named if not (ROOT / "src" / "kubeproof" / n).exists()]
    assert missing == [], f"docs/design.md names modules that do not exist: {missing}"


def test_licence_file_is_the_one_pyproject_declares() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = { text = "Apache-2.0" }' in pyproject
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


def test_no_runtime_files_are_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout.splitlines()
    assert tracked, "not a git checkout"
    assert [t for t in tracked if t.endswith(".pid")] == []
    assert "*.pid" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
