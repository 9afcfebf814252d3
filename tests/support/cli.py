"""``kubeproof`` as the tests run it: one way for a real process, one in process.

:func:`kp` starts ``python -m kubeproof`` (what a user runs: a fresh interpreter,
real exit code, real stdout/stderr). It always imports this checkout's sources
(``src`` first on ``PYTHONPATH``), whatever the working directory, so a test that
runs in a temporary folder tests this code and not an installed copy.

:func:`invoke` runs the click command in this process: much faster, for tests
that run the CLI many times. Its result has the names of a finished process
(``returncode``, ``stdout``, ``stderr``), so a test reads both the same way.

Both take ``expect``: the exit code(s) the caller requires; a different one
fails the test with the output in the message. :func:`kp` takes
``traceback_free``: the output must hold no Python traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kubeproof.cli.main import cli
from tests.support.paths import ROOT, SRC

Expected = int | Collection[int] | None


def _check_exit(code: int, expect: Expected, output: str) -> None:
    if expect is None:
        return
    allowed = {expect} if isinstance(expect, int) else set(expect)
    assert code in allowed, f"exit {code}, expected {sorted(allowed)}:\n{output[-4000:]}"


def environment(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This environment with this checkout's ``src`` first on ``PYTHONPATH``, then
    ``extra`` (a ``None`` value removes that variable)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def kp_command(*args: str) -> list[str]:
    """The command line of ``kubeproof ARGS`` (for a caller that needs ``Popen``)."""
    return [sys.executable, "-m", "kubeproof", *args]


def kp(*args: str, stdin: str | None = None, cwd: Path | str | None = ROOT,
       env: Mapping[str, str | None] | None = None, timeout: float = 120,
       expect: Expected = None, traceback_free: bool = False, **popen: Any
       ) -> subprocess.CompletedProcess[str]:
    """``kubeproof ARGS`` in a real process (working directory: the checkout,
    unless ``cwd``); ``env`` is added to this environment; ``popen``: more
    arguments for :func:`subprocess.run` (``preexec_fn``, ...)."""
    proc = subprocess.run(kp_command(*args), input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=environment(env), check=False,
                          **popen)
    if traceback_free:
        no_traceback(proc)
    _check_exit(proc.returncode, expect, proc.stdout + proc.stderr)
    return proc


def kp_bytes(*args: str, cwd: Path | str | None = ROOT, timeout: float = 120,
             expect: Expected = None) -> subprocess.CompletedProcess[bytes]:
    """:func:`kp` with the output left as bytes (for tests of what is not UTF-8)."""
    proc = subprocess.run(kp_command(*args), capture_output=True, cwd=cwd, timeout=timeout,
                          env=environment(), check=False)
    _check_exit(proc.returncode, expect, (proc.stdout + proc.stderr).decode(errors="replace"))
    return proc


@dataclass(frozen=True, slots=True)
class Ran:
    """An in-process run: what :func:`kp` would give, and what was raised."""

    returncode: int
    stdout: str
    stderr: str
    output: str  # stdout and stderr interleaved, as a terminal shows them
    exception: BaseException | None  # the command's own exit is a SystemExit


def invoke(*args: str, expect: Expected = None, reraise: bool = False,
           **kwargs: Any) -> Ran:
    """``kubeproof ARGS`` through click's runner in this process (``kwargs``: for
    the runner's ``invoke``). ``reraise``: an exception other than the command's
    own exit is raised here (a crash fails the test with its traceback) instead
    of being kept on the result."""
    result = CliRunner().invoke(cli, list(args), **kwargs)
    if reraise and result.exception is not None and not isinstance(result.exception,
                                                                    SystemExit):
        raise result.exception
    _check_exit(result.exit_code, expect, result.output)
    return Ran(result.exit_code, result.stdout, result.stderr, result.output,
               result.exception)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    """A user never sees a Python traceback, whatever the input."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
