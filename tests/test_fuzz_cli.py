"""Property tests of the whole ``kubeproof scan``: hostile files never break a run.

A hostile file (arbitrary bytes, or a real corpus file mutated the ways broken
manifests are broken) lies beside a good manifest. Whatever it holds, the scan
ends with exit code 0, 1 or 2, prints no traceback and no "internal error",
blames only the hostile file for any error, and reports the good file's
findings exactly as when it is scanned alone.

Most examples run the real click command in-process (``CliRunner``, about 50
times faster than a subprocess, so the budget buys more inputs); one test runs
``python -m kubeproof`` as a subprocess, with a timeout, to cover what a user
runs (``main``'s top-level handler included).

Budget: the hypothesis profile named by ``KUBEPROOF_HYPOTHESIS_PROFILE``: ``ci``
(the default, fixed and small, what ``.ci/run`` uses, no shrinking) or
``thorough`` (2000 examples each, shrinking: for hunting locally). A failure
prints the ``@reproduce_failure`` blob to replay it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.support.cli import invoke, kp
from tests.support.paths import CORPUS

# ci does not shrink: a failure shows the input drawn and its @reproduce_failure
# blob; shrinking a hang costs RUN_SECONDS per attempt (thorough shrinks)
settings.register_profile("ci", max_examples=40, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow],
                          phases=[Phase.explicit, Phase.generate])
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile(os.environ.get("KUBEPROOF_HYPOTHESIS_PROFILE", "ci"))
SUBPROCESS_EXAMPLES = 6  # each costs a Python start-up (~1 s on a busy core)
RUN_SECONDS = 15  # one scan of two small files: far above its normal 0.1 s

GOOD_NAME = "b-good.yaml"  # sorts after the hostile file: read after it
HOSTILE_NAME = "a-hostile.yaml"
# a namespace and names no corpus file uses, so set rules cannot tie the two files
GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kp-fuzz-web
  namespace: kp-fuzz-good
spec:
  replicas: 1
  selector:
    matchLabels: {app: kp-fuzz-web}
  template:
    metadata:
      labels: {app: kp-fuzz-web}
    spec:
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
"""
SCAN_ARGS = ("scan", "--no-config", "-f", "json", "-j", "1", "--fail-on", "high")

# small corpus files keep each example fast; sorted for reproducible draws
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*")
                      if p.suffix in (".yaml", ".yml", ".golden") and p.stat().st_size < 16_000)


class ScanTimeout(Exception):
    """A scan ran past RUN_SECONDS: a hang or unbounded work."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Interrupt an in-process scan that runs too long (Unix main thread only)."""
    def expire(signum: int, frame: FrameType | None) -> None:
        raise ScanTimeout(f"scan still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@contextmanager
def beside_good(base: Path, hostile: bytes) -> Iterator[Path]:
    """A fresh folder with the good manifest and the hostile file (fresh per example,
    so no cache keyed on path or mtime can carry one example into the next)."""
    folder = Path(tempfile.mkdtemp(dir=base))
    try:
        (folder / GOOD_NAME).write_text(GOOD, encoding="utf-8")
        (folder / HOSTILE_NAME).write_bytes(hostile)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scan_in_process(folder: Path, *paths: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the click command run in ``folder`` (an
    exception it raises fails the test with its traceback)."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with time_limit(RUN_SECONDS):
            result = invoke(*SCAN_ARGS, *paths, reraise=True)
    finally:
        os.chdir(cwd)
    return result.returncode, result.stdout, result.stderr


def good_findings(report: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return sorted((f["code"], f["line"], f["path"], f["message"])
                  for f in report["findings"] if f["file"] == GOOD_NAME)


@pytest.fixture(scope="module")
def good_alone(workspace: Path) -> list[tuple[str, int, str, str]]:
    """The good file's findings when nothing hostile is beside it."""
    folder = workspace / "alone"
    folder.mkdir()
    (folder / GOOD_NAME).write_text(GOOD, encoding="utf-8")
    code, out, err = scan_in_process(folder, GOOD_NAME)
    assert code == 1, err
    findings = good_findings(json.loads(out))
    assert {"KP0803"} <= {c for c, *_ in findings}, findings  # privileged: a real finding
    return findings


def check_run(code: int, out: str, err: str, good: list[tuple[str, int, str, str]]) -> None:
    """The properties every run must keep, whatever the hostile file holds."""
    for stream in (out, err):
        assert "Traceback" not in stream, stream[-3000:]
        assert "internal error" not in stream, stream[-3000:]
    assert code in (0, 1, 2), (code, err[-2000:])
    report = json.loads(out)  # the report is whole, valid JSON
    assert good_findings(report) == good, "the good file's findings changed"
    for error in report["errors"]:
        assert error["file"] != GOOD_NAME, error
    if report["errors"]:
        assert code == 2, (code, report["errors"])
        assert HOSTILE_NAME in err, err  # the one clear line names the file


# -- (a) arbitrary bytes ------------------------------------------------------------

YAMLISH = st.sampled_from([b"\n", b": ", b"- ", b"---\n", b"  ", b"&a ", b"*a", b"!!str ",
                           b"{", b"}", b"[", b"]", b"'", b'"', b"|\n", b">-\n", b"#", b"\t",
                           b"kind: Pod\n", b"apiVersion: v1\n", b"<<: *a\n", b"\xef\xbb\xbf",
                           b"\x00", b"\r\n", b"\xff\xfe", b"%YAML 1.1\n", b"? "])
HOSTILE_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.one_of(YAMLISH, st.binary(max_size=8)), max_size=300).map(b"".join),
    st.text(max_size=1000).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


# inputs these tests found, kept as regressions:
# a character libyaml's reader refuses (no line in the error) after a `---`: the
# loader restarted at the same marker forever, its error list growing (hang, RAM)
FOUND = [b"---\n\x08", b"kind: Pod\n---\nb: \x7f\n"]


@settings(PROFILE)
@given(hostile=HOSTILE_BYTES)
@example(hostile=FOUND[0])
@example(hostile=FOUND[1])
def test_any_bytes_beside_a_good_file(hostile: bytes, workspace: Path,
                                      good_alone: list[tuple[str, int, str, str]]) -> None:
    with beside_good(workspace, hostile) as folder:
        code, out, err = scan_in_process(folder, ".")
    check_run(code, out, err, good_alone)


@settings(PROFILE, max_examples=min(PROFILE.max_examples, SUBPROCESS_EXAMPLES))
@given(hostile=HOSTILE_BYTES)
def test_any_bytes_through_the_real_command(hostile: bytes, workspace: Path,
                                            good_alone: list[tuple[str, int, str, str]]
                                            ) -> None:
    with beside_good(workspace, hostile) as folder:
        proc = kp(*SCAN_ARGS, ".", cwd=folder, timeout=RUN_SECONDS * 4)
    check_run(proc.returncode, proc.stdout, proc.stderr, good_alone)


# -- (b) real corpus files, mutated -------------------------------------------------

SCALAR = re.compile(rb"(:[ \t]+)([^\s#&*!|>{}\[\]][^\n#]*)")
REPLACEMENTS = [b"{}", b"[]", b"~", b"null", b"9" * 400, b"-0", b"1e400", b".nan", b"0x1F",
                b"true", b"''", b"\"\\u0000\"", b"\xc3\xbc\xe2\x80\xae\xf0\x9f\x92\xa5",
                b"*a", b"&a x", b"!tag x", b"!!binary AAAA", b"- a", b"x" * 5000]


def flip(data: bytes, at: int, mask: int) -> bytes:
    i = at % len(data) if data else 0
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1:] if data else data


def insert(data: bytes, at: int, piece: bytes) -> bytes:
    i = at % (len(data) + 1)
    return data[:i] + piece + data[i:]


def on_line(data: bytes, at: int, edit: str, piece: bytes) -> bytes:
    """One line-level edit of a manifest: how hand-edited YAML goes wrong."""
    lines = data.split(b"\n")
    i = at % len(lines)
    line = lines[i]
    if edit == "delete":
        del lines[i]
    elif edit == "duplicate":
        lines.insert(i, line)
    elif edit == "indent":
        lines[i] = b"  " + line
    elif edit == "dedent":
        lines[i] = line[2:] if line.startswith(b"  ") else line
    elif edit == "tab":
        lines[i] = b"\t" + line.lstrip(b" ")
    elif edit == "separator":
        lines.insert(i, b"---")
    elif edit == "replace_scalar":
        lines[i] = SCALAR.sub(lambda m: m.group(1) + piece, line, count=1)
    elif edit == "anchor":
        lines[i] = SCALAR.sub(lambda m: m.group(1) + b"&a " + m.group(2), line, count=1)
    elif edit == "alias":
        lines[i] = SCALAR.sub(lambda m: m.group(1) + b"*a", line, count=1)
    return b"\n".join(lines)


LINE_EDITS = ["delete", "duplicate", "indent", "dedent", "tab", "separator",
              "replace_scalar", "anchor", "alias"]
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20),
              # control characters, NEL, LINE SEPARATOR, a BOM, a lone CR, invalid UTF-8
              st.sampled_from([b"\x00", b"\x07", b"\x1b", b"\x7f", b"\xc2\x85",
                               b"\xe2\x80\xa8", b"\xef\xbb\xbf", b"\r", b"\xff"])),
    st.tuples(st.sampled_from(LINE_EDITS), st.integers(0, 1 << 20), st.sampled_from(REPLACEMENTS)),
)


def mutate(data: bytes, steps: list[tuple[str, int, Any]]) -> bytes:
    for edit, at, arg in steps:
        if edit == "flip":
            data = flip(data, at, arg)
        elif edit == "insert":
            data = insert(data, at, arg)
        else:
            data = on_line(data, at, edit, arg)
    return data


def test_the_corpus_has_small_files_to_mutate() -> None:
    assert len(CORPUS_FILES) > 100
    # the mutations do what they say
    assert on_line(b"a: b\nc: d", 1, "replace_scalar", b"~") == b"a: b\nc: ~"
    assert on_line(b"a: b", 0, "anchor", b"") == b"a: &a b"
    assert on_line(b"a: b\nc: d", 0, "separator", b"") == b"---\na: b\nc: d"
    assert flip(b"ab", 3, 1) == b"ac" and insert(b"ab", 1, b"\x00") == b"a\x00b"


@settings(PROFILE)
@given(source=st.sampled_from(CORPUS_FILES),
       steps=st.lists(MUTATION, min_size=1, max_size=6))
def test_mutated_corpus_file_beside_a_good_file(source: Path, steps: list[tuple[str, int, Any]],
                                                workspace: Path,
                                                good_alone: list[tuple[str, int, str, str]]
                                                ) -> None:
    hostile = mutate(source.read_bytes(), steps)
    with beside_good(workspace, hostile) as folder:
        code, out, err = scan_in_process(folder, ".")
    check_run(code, out, err, good_alone)
