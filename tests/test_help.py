"""Every command explains itself: its --help lists the exit codes, every option
has a help text, and --help itself works for each of them."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from kubeproof.cli.main import cli
from tests.support.cli import invoke


def _walk(command: click.Command, ctx: click.Context, path: tuple[str, ...]
          ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _walk(sub, ctx, (*path, name))


COMMANDS = list(_walk(cli, click.Context(cli), ()))


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "scan", "rules", "config init", "audit", "fix", "images", "report",
            "rbac who-can", "rbac risky", "netpol reach", "test", "webhook serve",
            "webhook install"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS,
                         ids=[" ".join(p) or "kubeproof" for p, _ in COMMANDS])
def test_help_lists_exit_codes_and_every_option_has_help(path: tuple[str, ...],
                                                         command: click.Command) -> None:
    missing = [p.opts[0] for p in command.params
               if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert missing == [], f"options without help: {missing}"
    result = invoke(*path, "--help", terminal_width=100, expect=0)
    assert "Exit codes:" in result.output
    for code in ("0", "2"):
        assert f" {code} " in result.output.split("Exit codes:", 1)[1]


@pytest.mark.parametrize("name", sorted(cli.LAZY))  # type: ignore[attr-defined]
def test_help_lists_each_lazy_command_with_its_own_summary(name: str) -> None:
    """``kubeproof --help`` shows the summaries written beside the lazy commands
    (so that it loads none of them): they are what each command says of itself."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    written = cli.LAZY[name][1]  # type: ignore[attr-defined]
    for limit in (20, 45, 60, 200):
        assert click.utils.make_default_short_help(written, limit) == \
            command.get_short_help_str(limit)


def test_help_loads_no_command_module() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom kubeproof.cli.main import cli\n"
            "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('kubeproof.cli.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
