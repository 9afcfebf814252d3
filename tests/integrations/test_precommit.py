"""The repository's .pre-commit-hooks.yaml, run by the real pre-commit on real
commits: a bad manifest blocks the commit, a good one passes, the fix hook
rewrites the file (pre-commit then fails the commit once, as it does for every
hook that modifies files) and the re-added file commits.

pre-commit installs the hooks' environment once for the module (a virtualenv
with kubeproof and its dependencies from the package index): both hooks share
it, as they come from one repository at one revision."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import git, git_env, package_repo
from tests.support.paths import EXAMPLES, ROOT

INSTALL_BUDGET = 300  # seconds for pre-commit to build the hooks' environment


@dataclass
class Repo:
    path: Path
    env: dict[str, str]

    def commit(self, *files: str, skip: str = "") -> subprocess.CompletedProcess[str]:
        git(self.path, "add", *files, env=self.env)
        env = {**self.env, "SKIP": skip}
        return git(self.path, "commit", "-m", f"add {' '.join(files)}", env=env, check=False)

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD", env=self.env).stdout.strip()


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """(hooks repository, its commit, PRE_COMMIT_HOME with the environment built)."""
    base = tmp_path_factory.mktemp("precommit")
    env = git_env(base / "home")
    rev = package_repo(base / "kubeproof", env)
    home = base / "cache"
    user = base / "warm"
    _user_repo(user, base / "kubeproof", rev, {**env, "PRE_COMMIT_HOME": str(home)})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=user,
                          env={**env, "PRE_COMMIT_HOME": str(home)}, capture_output=True,
                          text=True, timeout=INSTALL_BUDGET)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"pre-commit built the hooks' environment in {time.monotonic() - started:.1f} s")
    yield base / "kubeproof", rev, home


def _user_repo(path: Path, hooks_repo: Path, rev: str, env: dict[str, str],
               hooks: list[dict[str, Any]] | None = None) -> None:
    path.mkdir()
    git(path, "init", "-q", "-b", "main", env=env)
    if hooks is None:
        hooks = [{"id": "kubeproof-fix"}, {"id": "kubeproof-scan"}]
    config = {"repos": [{"repo": str(hooks_repo), "rev": rev, "hooks": hooks}]}
    (path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(path, "add", ".pre-commit-config.yaml", env=env)
    git(path, "commit", "-q", "-m", "pre-commit configuration", env=env)


def _installed_repo(hooks: tuple[Path, str, Path], path: Path,
                    config: list[dict[str, Any]] | None = None) -> Repo:
    """A user's repository with ``config`` (default: kubeproof-fix then
    kubeproof-scan) and pre-commit installed as its git pre-commit hook: `git
    commit` runs them."""
    hooks_repo, rev, home = hooks
    env = {**git_env(path / "home"), "PRE_COMMIT_HOME": str(home)}
    _user_repo(path / "user", hooks_repo, rev, env, config)
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=path / "user",
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Repo(path / "user", env)


@pytest.fixture
def repo(hooks: tuple[Path, str, Path], tmp_path: Path) -> Repo:
    return _installed_repo(hooks, tmp_path)


def test_hooks_file_declares_scan_and_fix() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {"kubeproof-scan", "kubeproof-scan-folders", "kubeproof-fix", "kubeproof"} <= set(hooks)
    assert hooks["kubeproof-scan"]["entry"].startswith("kubeproof scan ")
    assert hooks["kubeproof-scan-folders"]["pass_filenames"] is False
    assert hooks["kubeproof-fix"]["entry"] == "kubeproof fix"  # safe fixes only
    assert all(h["language"] == "python" for h in hooks.values())


def test_bad_manifest_blocks_the_commit(repo: Repo) -> None:
    before = repo.head()
    shutil.copy(EXAMPLES / "bad" / "app.yaml", repo.path / "app.yaml")
    proc = repo.commit("app.yaml", skip="kubeproof-fix")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "kubeproof scan" in out and "Failed" in out
    assert "KP0803" in out and "pss-privileged" in out
    assert repo.head() == before


def test_good_manifests_commit(repo: Repo) -> None:
    shutil.copytree(EXAMPLES / "good", repo.path / "deploy")
    before = repo.head()
    proc = repo.commit("deploy")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("Passed") == 2  # both hooks ran on the files
    assert repo.head() != before


def test_fix_hook_rewrites_then_the_re_added_file_commits(repo: Repo) -> None:
    good = (EXAMPLES / "good" / "deployment.yaml").read_text()
    # the Deployment without its name label: KP0501, which has a safe fix
    unlabelled = good.replace("    app.kubernetes.io/name: web\n"
                              "    app.kubernetes.io/part-of: shop\n",
                              "    app.kubernetes.io/part-of: shop\n", 1)
    assert unlabelled != good
    (repo.path / "deployment.yaml").write_text(unlabelled)
    before = repo.head()
    proc = repo.commit("deployment.yaml")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "files were modified by this hook" in out and "fixed KP0501" in out
    assert repo.head() == before
    fixed = (repo.path / "deployment.yaml").read_text()  # rewritten on disk
    assert fixed == unlabelled.replace("    app.kubernetes.io/part-of: shop\n",
                                       "    app.kubernetes.io/part-of: shop\n"
                                       "    app.kubernetes.io/name: web\n", 1)
    staged = git(repo.path, "diff", "--name-only", env=repo.env).stdout.split()
    assert staged == ["deployment.yaml"]  # the fix is not staged: the user reviews it
    proc = repo.commit("deployment.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert repo.head() != before


def test_changed_files_alone_miss_their_folder_whole_folders_do_not(
        hooks: tuple[Path, str, Path], tmp_path: Path) -> None:
    """The trade-off the README states: kubeproof-scan judges the changed files
    alone, so a Namespace committed without its (unchanged) NetworkPolicy has no
    default deny (KP0901, high); kubeproof-scan-folders judges the folder."""
    for name, config in (("files", [{"id": "kubeproof-scan"}]),
                         ("folders", [{"id": "kubeproof-scan-folders", "args": ["deploy/"]}])):
        repo = _installed_repo(hooks, tmp_path / name, config)
        shutil.copytree(EXAMPLES / "good", repo.path / "deploy")
        assert repo.commit("deploy/network-policy.yaml", "deploy/service.yaml").returncode == 0
        proc = repo.commit("deploy/namespace.yaml", "deploy/deployment.yaml")
        out = proc.stdout + proc.stderr
        if name == "files":
            assert proc.returncode == 1 and "KP0901" in out, out
        else:
            assert proc.returncode == 0, out
