"""A fresh virtual environment shared by the integration tests that install
kubeproof into it (the GitHub Action's and the GitLab template's install steps,
the sdist): one download of the dependencies per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrations.helpers import copy_package


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout's package sources (what `pip install <checkout>` reads)."""
    return copy_package(tmp_path_factory.mktemp("package") / "kubeproof")
