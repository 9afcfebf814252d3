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
            "rbac who-can", "rbac risky", "netpol reach", "webhook serve",
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
