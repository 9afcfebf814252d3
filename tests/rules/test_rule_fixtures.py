"""Rule tests as data: one folder per rule, ``tests/rules/KPxxxx/``, run by this one test.

Files of a rule's folder (any extension: ``.yaml``, ``.json``, ``.Dockerfile``...):

``fail-NAME.*``
    The rule must find exactly the lines marked ``# expect: KPxxxx`` (a trailing
    comment on the offending line; ``# expect: KPxxxx, KPxxxx`` for two findings on
    one line). Where no trailing comment can be written (inside a block scalar),
    a header line ``# expect-line: 12 KPxxxx`` marks line 12. Markers of other
    codes are documentation only: the scan selects the folder's rule alone.
``pass-NAME.*``
    The rule finds nothing.
``fixed-NAME.*`` (fixable rules)
    What ``kubeproof fix --select KPxxxx`` makes of ``fail-NAME.*``, byte for
    byte; the rule finds nothing in it, and fixing it again changes nothing.
    Every ``fail`` of a fixable rule has its ``fixed`` file, or a header line
    ``# not-fixed: REASON`` (the fixer must then leave the file as it is: an
    explicit value is the owner's decision, a digest needs a registry...).

A scan must report no input error, except on a line where the rule reports a
finding (KP0003 turns unparseable input into findings; the error stays listed
and the scan exits 2, as it does for any input error).

Header: comment lines at the top of a fixture, before its first other line.

``# args: --kube-version 1.24 --pss-level baseline``
    Extra ``scan`` options (paths relative to the rule's folder: other files
    of the folder that are not ``fail-``/``pass-``/``fixed-`` are data, e.g.
    ``config.yaml`` or ``report.json``). Without ``--config`` the scan runs
    with ``--no-config``.
``# fix-args: --unsafe-fixes -n team-a``
    Extra ``fix`` options.
``# registry: plain`` (or ``basic``)
    The scan asks a real registry: Debian's ``docker-registry``, started once
    for the session (``plain``: HTTP; ``basic``: TLS with its own CA and Basic
    authentication), holding the images of ``tests/support/registries.py``.
    The word ``REGISTRY`` in the fixture stands for its host and port: the
    scan reads a copy with it replaced, line for line, with ``--check-images``
    and what reaches that registry.

The scan and the fix run through the command line (in-process), as a user
runs them, so the test states behaviour, not internals.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kubeproof.cli.main import cli

HERE = Path(__file__).parent
CODE_DIR = re.compile(r"KP\d{4}")
_EXPECT = re.compile(r"#\s*expect:\s*(KP\d{4}(?:\s*,\s*KP\d{4})*)\s*$")
_HEADER = re.compile(r"#\s*([a-z-]+):\s*(.*?)\s*$")
KINDS = ("fail", "pass", "fixed")


def _catalogue() -> dict[str, dict[str, Any]]:
    out = CliRunner().invoke(cli, ["rules", "-f", "json"])
    assert out.exit_code == 0, out.output
    return {r["code"]: r for r in json.loads(out.output)}


CATALOGUE = _catalogue()


@dataclass(frozen=True)
class Fixture:
    code: str
    path: Path

    @property
    def kind(self) -> str:
        return self.path.name.split("-", 1)[0]

    @property
    def stem(self) -> str:
        """The NAME of ``fail-NAME.ext``: it pairs a ``fail`` with its ``fixed``."""
        return self.path.name.split("-", 1)[1]

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def header(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.text().splitlines():
            m = _HEADER.fullmatch(line.strip())
            if not line.startswith("#"):
                break
            if m and m.group(1) in ("args", "fix-args", "not-fixed", "expect-line", "registry"):
                key = m.group(1)
                found[key] = (found[key] + "\n" + m.group(2)) if key in found else m.group(2)
        return found

    def expected_lines(self) -> Counter[int]:
        lines: Counter[int] = Counter()
        for n, line in enumerate(self.text().splitlines(), 1):
            m = _EXPECT.search(line)
            if m:
                lines[n] += [c.strip() for c in m.group(1).split(",")].count(self.code)
        for spec in self.header().get("expect-line", "").splitlines():
            number, code = spec.split()
            if code == self.code:
                lines[int(number)] += 1
        return +lines

    def args(self, key: str) -> list[str]:
        return shlex.split(self.header().get(key, ""))


def _fixtures() -> list[Fixture]:
    found = []
    for folder in sorted(HERE.iterdir()):
        if folder.is_dir() and CODE_DIR.fullmatch(folder.name):
            found += [Fixture(folder.name, p) for p in sorted(folder.iterdir())
                      if p.is_file() and p.name.split("-", 1)[0] in KINDS]
    return found


FIXTURES = _fixtures()


def _ids(fixtures: list[Fixture]) -> list[str]:
    return [f"{f.code}/{f.path.name}" for f in fixtures]


# the registries a fixture may ask (header ``# registry: NAME``): session fixtures of
# tests/conftest.py, Debian's docker-registry
REGISTRIES = {"plain": "plain_registry", "basic": "basic_registry"}


def _with_registry(fx: Fixture, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> tuple[Path, list[str]]:
    """The fixture to scan and the scan options its registry needs: with a
    ``# registry:`` header, a copy whose word REGISTRY is that registry's host
    (line for line) and ``--check-images`` with how to reach it."""
    name = fx.header().get("registry")
    if name is None:
        return fx.path, []
    reg = request.getfixturevalue(REGISTRIES[name]).reg
    copy = tmp_path / fx.path.name
    copy.write_text(fx.text().replace("REGISTRY", reg.host), encoding="utf-8")
    reach = ["--registry-ca", str(reg.ca_file)] if reg.ca_file else \
        ["--insecure-registry", reg.host]
    return copy, ["--check-images", *reach]


def _scan(fx: Fixture, path: Path, monkeypatch: pytest.MonkeyPatch,
          extra: list[str] | None = None) -> tuple[list[int], Any]:
    monkeypatch.chdir(fx.path.parent)
    args = [*fx.args("args"), *(extra or [])]
    config = [] if "--config" in args else ["--no-config"]
    out = CliRunner().invoke(cli, ["scan", str(path), "--select", fx.code, "-f", "json",
                                   "--fail-on", "none", *config, *args])
    report = json.loads(out.stdout)  # stderr repeats the input errors
    assert out.exit_code == (2 if report.get("errors") else 0), out.output  # 2: input errors
    found = sorted(f["line"] for f in report["findings"] if f["code"] == fx.code)
    unexpected = [e for e in report.get("errors", []) if e.get("line") not in found]
    assert not unexpected, unexpected
    return found, report


def _fix(fx: Fixture, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fx.path.parent)
    args = fx.args("fix-args")
    config = [] if "--config" in args else ["--no-config"]
    out = CliRunner().invoke(cli, ["fix", str(path), "--select", fx.code, *config, *args])
    assert out.exit_code == 0, out.output


def _kind(kind: str) -> list[Fixture]:
    return [f for f in FIXTURES if f.kind == kind]


@pytest.mark.parametrize("fx", _kind("fail"), ids=_ids(_kind("fail")))
def test_fail_fixture_finds_exactly_the_marked_lines(
        fx: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    expected = sorted(fx.expected_lines().elements())
    assert expected, f"{fx.path} marks no line with '# expect: {fx.code}'"
    path, reach = _with_registry(fx, tmp_path, request)
    found, _ = _scan(fx, path, monkeypatch, reach)
    assert found == expected


@pytest.mark.parametrize("fx", _kind("pass"), ids=_ids(_kind("pass")))
def test_pass_fixture_finds_nothing(fx: Fixture, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    request: pytest.FixtureRequest) -> None:
    assert not fx.expected_lines(), "a pass fixture marks no line"
    path, reach = _with_registry(fx, tmp_path, request)
    found, _ = _scan(fx, path, monkeypatch, reach)
    assert found == []


_FIXABLE_FAILS = [f for f in _kind("fail") if CATALOGUE[f.code]["fixable"]]


@pytest.mark.parametrize("fx", _FIXABLE_FAILS, ids=_ids(_FIXABLE_FAILS))
def test_fail_fixture_fixes_to_its_fixed_file_and_stays_fixed(
        fx: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / fx.path.name
    shutil.copyfile(fx.path, target)
    fixed = fx.path.with_name(f"fixed-{fx.stem}")
    _fix(fx, target, monkeypatch)
    if "not-fixed" in fx.header():
        assert not fixed.exists(), f"{fx.path} says not-fixed but has {fixed.name}"
        assert target.read_bytes() == fx.path.read_bytes()
        return
    assert fixed.exists(), f"{fx.path}: fixable rule, no {fixed.name} and no '# not-fixed:'"
    assert target.read_text(encoding="utf-8") == fixed.read_text(encoding="utf-8")
    found, _ = _scan(fx, target, monkeypatch)
    assert found == []
    _fix(fx, target, monkeypatch)
    assert target.read_bytes() == fixed.read_bytes()


def test_every_fixed_file_has_its_fail_file() -> None:
    orphans = [f.path for f in _kind("fixed")
               if not f.path.with_name(f"fail-{f.stem}").exists()]
    assert orphans == []


def test_every_rule_has_failing_and_passing_fixtures() -> None:
    have: dict[str, set[str]] = {}
    for f in FIXTURES:
        have.setdefault(f.code, set()).add(f.kind)
    missing = [code for code in CATALOGUE if not {"fail", "pass"} <= have.get(code, set())]
    assert missing == [], f"rules without fail-*/pass-* fixtures in tests/rules/CODE/: {missing}"
    unknown = sorted(set(have) - set(CATALOGUE))
    assert unknown == [], f"fixture folders of no rule: {unknown}"


def _example(code: str, folder: Path) -> Path:
    """The rule's docstring example as a file: the fenced block, named as its
    fence says (a ``dockerfile`` block is a Dockerfile)."""
    lines = CATALOGUE[code]["example"].splitlines()
    fence = lines[0].strip("`").strip() if lines and lines[0].startswith("```") else "yaml"
    body = "\n".join(line for line in lines if not line.startswith("```")) + "\n"
    path = folder / ("Dockerfile" if fence == "dockerfile" else "example.yaml")
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_docstring_example_passes_its_own_rule(code: str, tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["scan", str(_example(code, tmp_path)), "--select", code,
                                   "-f", "json", "--fail-on", "none", "--no-config"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["errors"] == []
    assert [f["line"] for f in report["findings"]] == []
    assert report["summary"]["objects"] > 0, "the example holds no complete object"
