"""Shared helpers of the integration tests: a hermetic git repository holding this
checkout's package sources, and git run with a configuration of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
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


def package_repo(dest: Path, env: dict[str, str]) -> str:
    """A git repository at ``dest`` holding this checkout's package sources as they
    are on disk (committed or not), committed; returns the commit."""
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, dest / name)
    git(dest, "init", "-q", "-b", "main", env=env)
    git(dest, "add", "-A", env=env)
    git(dest, "commit", "-q", "-m", "kubeproof sources under test", env=env)
    return git(dest, "rev-parse", "HEAD", env=env).stdout.strip()
