"""The registry options shared by ``scan --check-images``, ``images`` and
``fix --pin-digests``, and how they become client settings.

Passwords never go on the command line (where ``ps``, shell history and CI
logs would show them): ``--registry-auth HOST=USER:VAR`` names an environment
variable that holds the password (``--registry-auth
registry.example.com=ci:REGISTRY_PASSWORD``). Credentials are otherwise taken
from the Docker CLI config (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``) as ``docker login`` wrote them; the flag wins for
its host. Messages name the variable or the file, never a value.

Only ``click`` is imported here: the scan command's start-up stays fast; the
client is imported when the settings are built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kubeproof.cli.common import echo, fail

if TYPE_CHECKING:
    from kubeproof.images.check import CheckSettings

DEFAULT_PLATFORM = "linux/amd64"

REGISTRY_OPTIONS = (
    click.option("--platform", default=DEFAULT_PLATFORM, show_default=True,
                 help="Platform (os/arch[/variant]) to pick from multi-platform images."),
    click.option("--registry-ca", type=click.Path(dir_okay=False),
                 help="PEM file of CA certificates to trust for registries."),
    click.option("--insecure-registry", "insecure_registries", multiple=True, metavar="HOST",
                 help="Registry host[:port] spoken to over plain HTTP (repeatable)."),
    click.option("--registry-auth", "registry_auth", multiple=True, metavar="HOST=USER:VAR",
                 help="Credentials for HOST: USER and the password read from environment "
                      "variable VAR (repeatable). Default: ~/.docker/config.json."),
    click.option("--image-cache", type=click.Path(file_okay=False),
                 help="Directory caching registry answers between runs."),
)


def registry_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add :data:`REGISTRY_OPTIONS` to a click command."""
    for option in reversed(REGISTRY_OPTIONS):
        fn = option(fn)
    return fn


def registry_settings(enabled: bool, platform: str, registry_ca: str | None,
                      insecure_registries: tuple[str, ...], registry_auth: tuple[str, ...],
                      image_cache: str | None, flag: str = "--check-images"
                      ) -> tuple[CheckSettings | None, list[str]]:
    """What a command's registry flags amount to: the settings when ``enabled``
    (``flag`` was given), else ``None``; and warnings to print (a Docker config
    that cannot be used, registry flags given without ``flag``). Raises
    ``ValueError`` (one line, no secret) for flags that cannot be used."""
    flags = (platform, registry_ca, insecure_registries, registry_auth, image_cache)
    if enabled:
        return check_settings(*flags)
    return None, unused_flag_warnings(flag, *flags)


def registry_settings_or_exit(enabled: bool, platform: str, registry_ca: str | None,
                              insecure_registries: tuple[str, ...],
                              registry_auth: tuple[str, ...], image_cache: str | None,
                              flag: str = "--check-images") -> CheckSettings | None:
    """:func:`registry_settings` for a command: warnings printed, and flags that
    cannot be used end the command with one line and exit code 2."""
    try:
        checks, notes = registry_settings(enabled, platform, registry_ca, insecure_registries,
                                          registry_auth, image_cache, flag)
    except ValueError as exc:
        fail(str(exc))
    for note in notes:
        echo(f"kubeproof: warning: {note}", err=True)
    return checks


def unused_flag_warnings(flag: str, platform: str, registry_ca: str | None,
                         insecure_registries: tuple[str, ...], registry_auth: tuple[str, ...],
                         image_cache: str | None) -> list[str]:
    """One warning per registry flag given without ``flag`` (it does nothing)."""
    given = {"--platform": platform != DEFAULT_PLATFORM, "--registry-ca": bool(registry_ca),
             "--insecure-registry": bool(insecure_registries),
             "--registry-auth": bool(registry_auth), "--image-cache": bool(image_cache)}
    return [f"{name} does nothing without {flag}" for name, on in given.items() if on]


def parse_registry_auth(values: tuple[str, ...] | list[str],
                        environ: dict[str, str] | None = None) -> dict[str, list[Any]]:
    """``HOST=USER:VAR`` entries as credentials by registry name.

    Raises ``ValueError`` (one line, no secret) for a malformed entry or an
    unset variable.
    """
    # start-up: the credential reader costs ~20 ms of imports; kubeproof --version loads this
    # module
    from kubeproof.images.credentials import Credentials, normalise_host

    env = os.environ if environ is None else environ
    out: dict[str, list[Any]] = {}
    for value in values:
        host, eq, rest = value.partition("=")
        user, colon, var = rest.rpartition(":")
        if not eq or not colon or not host.strip() or not var.strip():
            raise ValueError(f"--registry-auth {host.strip() or '?'}=...: expected "
                             "HOST=USER:VAR (VAR: an environment variable holding the password)")
        password = env.get(var.strip())
        if password is None:
            raise ValueError(f"--registry-auth {host.strip()}: environment variable "
                             f"{var.strip()} is not set")
        out.setdefault(normalise_host(host.strip()), []).append(
            Credentials(user, password, f"--registry-auth {host.strip()}"))
    return out


def check_settings(platform: str, registry_ca: str | None,
                   insecure_registries: tuple[str, ...], registry_auth: tuple[str, ...],
                   image_cache: str | None) -> tuple[CheckSettings, list[str]]:
    """The settings of the flags, and warnings (a Docker config that cannot be
    used is a warning: the checks go on without it). Raises ``ValueError``
    for flags that cannot be used."""
    # start-up: the image checks and the registry client (httpx) cost ~250 ms of imports;
    # kubeproof --version loads this module
    from kubeproof.images.check import CheckSettings
    from kubeproof.images.credentials import CredentialsError, docker_config_credentials
    from kubeproof.images.oci import RegistryClient, RegistryOptions

    if registry_ca is not None and not os.path.isfile(registry_ca):
        raise ValueError(f"--registry-ca {registry_ca}: no such file")
    options = RegistryOptions(platform=platform, ca_bundle=registry_ca,
                              insecure=frozenset(h.strip().lower() for h in insecure_registries),
                              cache_dir=image_cache)
    RegistryClient(options).close()  # the platform and the CA bundle are usable, or ValueError
    warnings: list[str] = []
    try:
        user = docker_config_credentials()
    except CredentialsError as exc:
        user = {}
        warnings.append(str(exc))
    for host, creds in parse_registry_auth(registry_auth).items():
        user[host] = creds
    return CheckSettings(options, user), warnings
