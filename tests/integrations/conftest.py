"""Session fixtures of the integration tests: this checkout's package sources, the
sdist and wheel `python -m build` makes of them, and a fresh virtual environment
with the wheel installed (dependencies from the package index: downloaded once per
session). The GitHub Action's and GitLab template's install steps and the sdist
then install over it. Only tests/integrations builds and installs the package,
so these fixtures stay in this folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrations.helpers import bash, copy_package, venv_env


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout's package sources (what `pip install <checkout>` reads)."""
    return copy_package(tmp_path_factory.mktemp("package") / "kubeproof")


@pytest.fixture(scope="session")
def dist(package: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) built from :func:`package` (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(package)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("kubeproof-*.whl")
    (sdist,) = out.glob("kubeproof-*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="session")
def venv(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed, with its dependencies."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    proc = bash(f"python -m pip install --quiet '{dist[0]}'", cwd=path, env=venv_env(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return path
