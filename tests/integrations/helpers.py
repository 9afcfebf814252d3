"""Shared helpers of the integration tests: a hermetic git repository holding this
checkout's package sources, and git run with a configuration of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.paths import ROOT

# What a `pip install` of the repository needs, and the hooks file pre-commit reads.
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml")


def git_env(home: Path) -> dict[str, str]:
    """The environment for git and tools that run it: no system or user git
    configuration (a signing key, a hooks path...), a fixed identity."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
               GIT_AUTHOR_NAME="kubeproof tests", GIT_AUTHOR_EMAIL="tests@kubeproof.invalid",
               GIT_COMMITTER_NAME="kubeproof tests",
               GIT_COMMITTER_EMAIL="tests@kubeproof.invalid")
    env.pop("PYTHONPATH", None)  # tools must run what they installed, not this checkout
    return env


def git(repo: Path, *args: str, env: dict[str, str],
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def copy_package(dest: Path) -> Path:
    """This checkout's package sources as they are on disk (committed or not), copied
    to ``dest``: what pip installs, without build leftovers."""
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, dest / name)
    return dest


def package_repo(dest: Path, env: dict[str, str]) -> str:
    """A git repository at ``dest`` holding :func:`copy_package`, committed; returns
    the commit."""
    copy_package(dest)
    git(dest, "init", "-q", "-b", "main", env=env)
    git(dest, "add", "-A", env=env)
    git(dest, "commit", "-q", "-m", "kubeproof sources under test", env=env)
    return git(dest, "rev-parse", "HEAD", env=env).stdout.strip()


def venv_env(venv: Path) -> dict[str, str]:
    """The environment of a shell with ``venv`` activated (its ``python``, ``pip`` and
    ``kubeproof`` first on PATH) and nothing of this checkout on PYTHONPATH."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def bash(script: str, *, cwd: Path, env: dict[str, str],
         options: tuple[str, ...] = ("-eo", "pipefail")) -> subprocess.CompletedProcess[str]:
    """Run ``script`` as CI runners do: ``bash --noprofile --norc -eo pipefail``."""
    return subprocess.run(["bash", "--noprofile", "--norc", *options, "-c", script], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
