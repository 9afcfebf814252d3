"""What makes a workload sensitive to reach: a label the configuration names, or a
well-known datastore image. Rule KP0905 and ``kubeproof netpol reach`` judge it alike.
"""

from __future__ import annotations

import re
from typing import Any

from kubeproof.core.index import WorkloadRec
from kubeproof.k8s.imageref import parse_image

_DATASTORES = ("postgres", "mysql", "mariadb", "mongo", "redis", "memcached", "cassandra",
               "elasticsearch", "etcd", "kafka", "zookeeper", "couchdb", "neo4j", "influxdb",
               "clickhouse", "cockroach")
# words of an image name that make it a tool around a datastore, not the datastore
_TOOL_WORDS = frozenset({
    "exporter", "operator", "ui", "admin", "dashboard", "backup", "restore", "dump", "cli",
    "client", "controller", "agent", "metrics", "init", "tools", "migrate", "migrations",
    "connect", "rest", "commander", "express", "webhook", "manager", "console", "insight",
    "curator", "bootstrap", "setup", "test", "tests"})
_WORD_SPLIT = re.compile(r"[-_.]")


def datastore_image(image: str | None) -> str | None:
    """The datastore an image runs, judged on its repository's last component:
    it starts with a well-known datastore name (``postgres``, ``bitnami/
    postgresql``, ``mysql-server``) and has no tool word (``postgres-exporter``,
    ``redis-operator``)."""
    if not image:
        return None
    ref = parse_image(image)
    if ref.invalid:
        return None
    last = ref.repository.rsplit("/", 1)[-1].lower()
    store = next((d for d in _DATASTORES if last.startswith(d)), None)
    if store is None or any(w in _TOOL_WORDS for w in _WORD_SPLIT.split(last)):
        return None
    return store


def _sensitive_label(labels: dict[str, Any], wanted: list[str]) -> str | None:
    for entry in wanted:
        if not isinstance(entry, str) or not entry:
            continue
        key, eq, value = entry.partition("=")
        if key in labels and (not eq or str(labels[key]) == value):
            return entry
    return None


def why_sensitive(w: WorkloadRec, wanted: list[str]) -> str | None:
    """Why ``w`` is sensitive (``label <entry>`` of ``wanted``, ``<store> image`` of
    a container, not an init container), or None."""
    label = _sensitive_label(w.labels, wanted)
    if label is not None:
        return f"label {label}"
    for c in w.containers:
        if len(c.path) >= 2 and c.path[-2] == "containers":
            store = datastore_image(c.image)
            if store is not None:
                return f"{store} image"
    return None
