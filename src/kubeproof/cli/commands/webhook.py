"""``kubeproof webhook``: run kubeproof as a Kubernetes admission webhook.

``serve`` runs the HTTPS server (:mod:`kubeproof.webhook.server`); more
subcommands (``install``) attach to the :func:`webhook` group. Everything is
checked before the server starts (config, ``webhook:`` section, certificate
and key), so a bad setting exits 2 with one line instead of a crashing worker.
"""

from __future__ import annotations

import os
import shutil
import ssl

import click

from kubeproof.cli.commands.webhook_install import MAX_WORKERS, install_command
from kubeproof.cli.common import config_options, fail
from kubeproof.core.config import ConfigError, find_config, load_config
from kubeproof.webhook.judge import build_context
from kubeproof.webhook.policy import load_policy
from kubeproof.webhook.server import ServeOptions
from kubeproof.webhook.server import serve as run_server
from kubeproof.webhook.settings import MULTIPROC_ENV, AppSettings, use_multiprocess_metrics


@click.group()
def webhook() -> None:
    """Admission webhook: validate and fix objects as the API server admits them.

    Exit codes: 0 done; 2 usage error or bad config, certificate or key.
    """


@webhook.command("serve")
@click.option("--tls-cert", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Serving certificate (PEM); reloaded when the file changes.")
@click.option("--tls-key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Private key of the certificate (PEM); reloaded with it.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (HTTPS).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, MAX_WORKERS),
              help="Worker processes.")
@config_options()
@click.option("--namespace", envvar="POD_NAMESPACE", default=None,
              help="The webhook's own namespace, never judged [default: $POD_NAMESPACE].")
@click.option("--policy", "policy_paths", multiple=True, metavar="PATH",
              type=click.Path(exists=True),
              help="Judge with the admission policies of these files or folders too: "
                   "ValidatingAdmissionPolicies with their bindings and params, Kyverno "
                   "ValidatingPolicies and ClusterPolicies (repeatable; docs/policies.md).")
@click.option("--access-log", is_flag=True, help="Log every HTTP request (to stdout).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="Lowest level of the log lines written.")
def serve(tls_cert: str, tls_key: str, host: str, port: int, workers: int,
          config_path: str | None, no_config: bool, namespace: str | None,
          policy_paths: tuple[str, ...], access_log: bool, log_level: str) -> None:
    """Serve POST /validate and /mutate (AdmissionReview v1), /healthz, /readyz, /metrics.

    Exit codes: 0 stopped cleanly (SIGTERM, Ctrl-C); 2 usage error or bad
    config, certificate or key (checked before the server starts).
    """
    metrics_dir = use_multiprocess_metrics()  # before anything imports prometheus_client
    try:
        _serve(tls_cert, tls_key, host, port, workers, config_path, no_config, namespace,
               tuple(os.path.abspath(p) for p in policy_paths), access_log, log_level)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            # the directory is gone: nothing run after this in the process (a test,
            # a program calling the CLI) may inherit it
            os.environ.pop(MULTIPROC_ENV, None)


def _serve(tls_cert: str, tls_key: str, host: str, port: int, workers: int,
           config_path: str | None, no_config: bool, namespace: str | None,
           policy_paths: tuple[str, ...], access_log: bool, log_level: str) -> None:


    found = None if no_config else (config_path or find_config())
    try:
        config = load_config(found)
        policy = load_policy(config, namespace)
        build_context(config, policy, policy_paths)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    audit = policy.audit
    if audit.sink == "hec" and not os.environ.get(audit.token_env):
        fail(f"webhook.audit.sink is hec but ${audit.token_env} is not set "
              f"(the HEC token; set webhook.audit.tokenEnv to use another variable)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls_cert, tls_key)
    except (ssl.SSLError, OSError) as exc:
        fail(f"{tls_cert}, {tls_key}: cannot load the certificate and key: "
              f"{getattr(exc, 'reason', None) or exc}")
    path = os.path.abspath(str(found)) if found else None
    run_server(ServeOptions(cert_file=tls_cert, key_file=tls_key, host=host, port=port,
                            workers=workers, access_log=access_log, log_level=log_level,
                            app=AppSettings(config_path=path, namespace=namespace,
                                            policy_paths=policy_paths)))


webhook.add_command(install_command)
