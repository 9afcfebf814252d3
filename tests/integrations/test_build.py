"""The installable builds: `python -m build` makes an sdist and a wheel (the wheel
built from the sdist, so the sdist is complete); the wheel installs in a fresh
virtual environment with its dependencies from the package index and runs there,
package data included; the sdist installs too."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from kubeproof import __version__
from tests.integrations.helpers import bash, venv_env
from tests.support.paths import EXAMPLES

DATA_FILES = ("kubeproof/py.typed", "kubeproof/data/builtin_clusterroles.json",
              "kubeproof/data/NOTICE")
# A RoleBinding to the built-in ClusterRole edit, which the manifests do not define:
# who-can answers from the ClusterRoles packaged in kubeproof/data.
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployers-edit
  namespace: shop
subjects:
  - kind: Group
    name: deployers
    apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: ClusterRole
  name: edit
  apiGroup: rbac.authorization.k8s.io
"""


def test_wheel_and_sdist_hold_the_package_and_its_data(dist: tuple[Path, Path]) -> None:
    wheel, sdist = dist
    assert wheel.name == f"kubeproof-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(DATA_FILES) <= names
    assert "kubeproof/cli/main.py" in names and "kubeproof/reports/codequality.py" in names
    entry_points = zipfile.ZipFile(wheel).read(
        f"kubeproof-{__version__}.dist-info/entry_points.txt").decode()
    assert "kubeproof = kubeproof.cli.main:main" in entry_points
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "LICENSE"} <= members
    assert {f"src/{f}" for f in DATA_FILES} <= members


def test_wheel_installs_and_runs_in_a_fresh_venv(dist: tuple[Path, Path], venv: Path,
                                                 tmp_path: Path) -> None:
    """The session's venv is a fresh one where the wheel was installed with its
    dependencies (conftest); other tests may have installed kubeproof over it since:
    the wheel goes back in first."""
    env = venv_env(venv)
    (tmp_path / "rb.yaml").write_text(BINDING)
    proc = bash(f"python -m pip install --quiet --force-reinstall --no-deps '{dist[0]}'",
                cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # run from elsewhere than the checkout: only the installed package can answer
    proc = bash("kubeproof --version", cwd=tmp_path, env=env)
    assert proc.stdout.strip() == f"kubeproof, version {__version__}", proc.stderr
    assert str(venv) in bash("command -v kubeproof", cwd=tmp_path, env=env).stdout
    proc = bash(f"kubeproof scan --no-color '{EXAMPLES}'", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and "KP0803" in proc.stdout, proc.stdout + proc.stderr
    proc = bash(f"kubeproof scan --no-color '{EXAMPLES / 'good'}'", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = bash("kubeproof rbac who-can get secrets rb.yaml", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ClusterRole/edit (built-in)" in proc.stdout


def test_sdist_installs_and_runs(dist: tuple[Path, Path], venv: Path, tmp_path: Path) -> None:
    _, sdist = dist
    env = venv_env(venv)
    # over the wheel, dependencies already there: pip builds the sdist, installs that
    proc = bash(f"python -m pip install --quiet --force-reinstall --no-deps '{sdist}'",
                cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = bash("kubeproof --version", cwd=tmp_path, env=env)
    assert proc.stdout.strip() == f"kubeproof, version {__version__}", proc.stderr
    proc = bash(f"kubeproof scan --no-color -q '{EXAMPLES / 'bad'}'", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
