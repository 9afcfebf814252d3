"""What reaches every worker process through the environment, and nothing that
imports prometheus_client: the metrics directory must be in the environment
before that library is first imported (it picks its storage at import time).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass

import orjson

SETTINGS_ENV = "KUBEPROOF_WEBHOOK_SETTINGS"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True, slots=True)
class AppSettings:
    """What every worker needs to build the app (uvicorn workers are spawned
    processes that import the app by name, so this travels in the environment)."""

    config_path: str | None = None
    namespace: str | None = None
    # serve --policy: files and folders of admission policies (absolute paths)
    policy_paths: tuple[str, ...] = ()

    def to_env(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_env(cls) -> AppSettings:
        raw = os.environ.get(SETTINGS_ENV)
        if not raw:
            return cls()
        fields = orjson.loads(raw)
        fields["policy_paths"] = tuple(fields.get("policy_paths") or ())
        return cls(**fields)


def use_multiprocess_metrics() -> str | None:
    """Point prometheus_client at a fresh directory shared by the workers, unless
    ``$PROMETHEUS_MULTIPROC_DIR`` is already set; returns the directory made here
    (to remove on exit). Call before anything imports prometheus_client."""
    if os.environ.get(MULTIPROC_ENV):
        return None
    made = tempfile.mkdtemp(prefix="kubeproof-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made
