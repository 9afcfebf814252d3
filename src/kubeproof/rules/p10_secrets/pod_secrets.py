"""How pods take the Secrets they use: as env vars (KP1001), through writable
volume mounts (KP1002, with its fix) and with loose file modes (KP1005)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import FixSettings, may_replace, put, targets
from kubeproof.k8s.workloads import PodView
from kubeproof.model import SAFE, Path, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p10_secrets.detection import quoted_name

SECRETS_STORE_DRIVER = "secrets-store.csi.k8s.io"


@rule("KP1001", "secret-in-env", practice=10, severity="medium", pods=True)
def secret_in_env(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret exposed to a container as environment variables.

    What:
        A container (init, regular or ephemeral) with an
        `env[].valueFrom.secretKeyRef` or an `envFrom[].secretRef`.

    Why:
        Environment variables leak: they are inherited by every child process,
        printed by crash handlers, debug endpoints and `env` in support
        sessions, readable in `/proc/<pid>/environ`, and frozen at container
        start, so a rotated secret needs a restart. Files in a read-only volume
        are readable only by the process that opens them and are updated in
        place when the Secret changes.

    How:
        Mount the Secret as a volume with `readOnly: true` and have the
        application read the file (most libraries accept a `*_FILE` variant of
        the variable).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              env:
                - name: DB_PASSWORD_FILE
                  value: /etc/db/password
              volumeMounts:
                - name: db
                  mountPath: /etc/db
                  readOnly: true
          volumes:
            - name: db
              secret:
                secretName: db-credentials
        ```
    """
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        for i, env in enumerate(as_list(c.data.get("env"))):
            if not isinstance(env, dict):
                continue
            ref = as_dict(env.get("valueFrom")).get("secretKeyRef")
            if not isinstance(ref, dict):
                continue
            var = env.get("name")
            yield Violation(
                (*c.path, "env", i, "valueFrom", "secretKeyRef"),
                f"container {quote(c.name)} reads key {quoted_name(ref.get('key'))} of Secret"
                f" {quoted_name(ref.get('name'))} into env var {quoted_name(var)}",
                container=c.name,
            )
        for i, src in enumerate(as_list(c.data.get("envFrom"))):
            if not isinstance(src, dict):
                continue
            ref = src.get("secretRef")
            if not isinstance(ref, dict):
                continue
            yield Violation(
                (*c.path, "envFrom", i, "secretRef"),
                f"container {quote(c.name)} loads every key of Secret"
                f" {quoted_name(ref.get('name'))} as env vars (envFrom.secretRef)",
                container=c.name,
            )


def secret_volumes(pod: PodView) -> dict[str, tuple[int, str, dict[str, Any]]]:
    """Volumes that carry secrets, by name: (index, description, volume)."""
    found: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for i, vol in pod.volumes:
        name = vol.get("name")
        if not isinstance(name, str) or name in found:
            continue
        secret = vol.get("secret")
        if isinstance(secret, dict):
            found[name] = (i, f"Secret {quoted_name(secret.get('secretName'))}", vol)
            continue
        projected = vol.get("projected")
        if isinstance(projected, dict):
            names = [as_dict(s.get("secret")).get("name") for s in
                     as_list(projected.get("sources"))
                     if isinstance(s, dict) and isinstance(s.get("secret"), dict)]
            if names:
                shown = ", ".join(quoted_name(n) for n in names)
                found[name] = (i, f"projected Secret {shown}", vol)
            continue
        csi = vol.get("csi")
        if isinstance(csi, dict) and csi.get("driver") == SECRETS_STORE_DRIVER:
            found[name] = (i, "Secrets Store CSI", vol)
    return found


@rule("KP1002", "secret-volume-writable", practice=10, severity="info", pods=True)
def secret_volume_writable(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret volume mounted without `readOnly: true`.

    What:
        A `volumeMount` (one finding per mount) of a `secret` volume, a
        `projected` volume with a `secret` source, or a Secrets Store CSI volume
        (`secrets-store.csi.k8s.io`), that does not set `readOnly: true`. For the
        CSI volume, `csi.readOnly: true` on the volume counts as well.

    Why:
        Since Kubernetes 1.10 the kubelet mounts `secret` and `projected`
        volumes read-only whatever the mount says, so for those the flag changes
        nothing at runtime today: hence `info`, not a risk to fix first. Say it
        anyway: it keeps the manifest honest
        for reviewers and policy engines that cannot know kubelet internals,
        it holds on runtimes and virtual kubelets that do not enforce it, and
        CSI drivers make no such promise, so there a writable mount lets a
        compromised container tamper with credentials that other containers of
        the pod read.

    How:
        Set `readOnly: true` on every mount of a volume that carries secrets.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              volumeMounts:
                - name: tls
                  mountPath: /etc/tls
                  readOnly: true
          volumes:
            - name: tls
              secret:
                secretName: app-tls
        ```
    """
    pod = res.pod
    assert pod is not None
    volumes = secret_volumes(pod)
    if not volumes:
        return
    for c in pod.containers:
        for j, mount in enumerate(as_list(c.data.get("volumeMounts"))):
            if not isinstance(mount, dict) or mount.get("readOnly") is True:
                continue
            name = mount.get("name")
            if not isinstance(name, str) or name not in volumes:
                continue
            _, what, vol = volumes[name]
            if as_dict(vol.get("csi")).get("readOnly") is True:
                continue
            where = mount.get("mountPath")
            at = f" at {where}" if isinstance(where, str) else ""
            yield Violation(
                (*c.path, "volumeMounts", j, "readOnly"),
                f"container {quote(c.name)} mounts volume {quote(name)} ({what}){at}"
                " without readOnly: true",
                container=c.name,
            )


@fix("KP1002", safety=SAFE,
     why="the kubelet mounts secret and projected volumes read-only anyway")
def read_only_secret_mounts(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnly: true` on every mount of a volume that carries secrets."""
    pod = res.pod
    if pod is None:
        return False
    volumes = secret_volumes(pod)
    changed = False
    for c in targets(pod, settings, "KP1002"):
        for mount in as_list(c.data.get("volumeMounts")):
            if not isinstance(mount, MutableMapping) or mount.get("readOnly") is True:
                continue
            name = mount.get("name")  # a list or map here names no volume
            entry = volumes.get(name) if isinstance(name, str) else None
            if entry is None or as_dict(entry[2].get("csi")).get("readOnly") is True:
                continue
            if not may_replace(mount.get("readOnly"), settings):
                continue  # a `readOnly: false` written out is the owner's decision
            changed |= put(mount, "readOnly", True, ("name", "mountPath", "subPath"))
    return changed


MODE_MASK = 0o7133  # every bit outside 0644


def _mode(value: Any) -> int | None:
    """A file mode from YAML (int, octal literal already an int), JSON (decimal)
    or a string (``"0644"`` octal, ``"420"`` decimal, ``"0o644"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if len(text) > 1 and text.startswith("0"):
                return int(text, 8)
            return int(text, 10)
        except ValueError:
            return None
    return None


def _mode_problem(mode: int) -> str:
    bad = []
    if mode & 0o111:
        bad.append("executable")
    if mode & 0o020:
        bad.append("group-writable")
    if mode & 0o002:
        bad.append("world-writable")
    if mode & 0o7000:
        bad.append("setuid/setgid/sticky")
    return " and ".join(bad)


def _check_mode(value: Any, path: Path, what: str) -> Iterator[Violation]:
    mode = _mode(value)
    if mode is None or mode < 0 or not mode & MODE_MASK:
        return
    yield Violation(path, f"{what} is {mode:04o} ({_mode_problem(mode)}); use 0644 or stricter")


@rule("KP1005", "secret-file-mode", practice=10, severity="low", pods=True)
def secret_file_mode(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret volume files with a mode looser than 0644 or executable.

    What:
        `defaultMode` of a `secret` volume or of a `projected` volume with a
        `secret` source, and `items[].mode` of those secrets, with any bit set
        outside `0644`: executable by anyone, or writable by group or others.
        Octal YAML (`0640`), decimal JSON (`420`) and strings are understood.

    Why:
        Secret files should be data, readable by the process that needs them
        and nothing more. An executable bit invites running them; group or
        world write bits contradict the read-only intent and are a sign the
        mode was copied without thought. The default, 0644, is the loosest
        sensible value; 0400 or 0440 with `fsGroup` is better.

    How:
        Drop `defaultMode`/`mode` to use 0644, or set 0400 (0440 with an
        `fsGroup` when the process runs as a different user).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              volumeMounts:
                - {name: tls, mountPath: /etc/tls, readOnly: true}
          volumes:
            - name: tls
              secret:
                secretName: app-tls
                defaultMode: 0400
        ```
    """
    pod = res.pod
    assert pod is not None
    base = (*pod.spec_path, "volumes")
    for i, vol in pod.volumes:
        name = vol.get("name")
        vname = quote(name) if isinstance(name, str) else f"[{i}]"
        secret = vol.get("secret")
        if isinstance(secret, dict):
            yield from _check_mode(secret.get("defaultMode"), (*base, i, "secret", "defaultMode"),
                                   f"secret volume {vname} defaultMode")
            for k, item in enumerate(as_list(secret.get("items"))):
                if isinstance(item, dict):
                    yield from _check_mode(item.get("mode"),
                                           (*base, i, "secret", "items", k, "mode"),
                                           f"secret volume {vname} item"
                                           f" {quoted_name(item.get('key'))} mode")
            continue
        projected = vol.get("projected")
        if not isinstance(projected, dict):
            continue
        has_secret = False
        for s, src in enumerate(as_list(projected.get("sources"))):
            sec = as_dict(src).get("secret") if isinstance(src, dict) else None
            if not isinstance(sec, dict):
                continue
            has_secret = True
            for k, item in enumerate(as_list(sec.get("items"))):
                if isinstance(item, dict):
                    yield from _check_mode(
                        item.get("mode"),
                        (*base, i, "projected", "sources", s, "secret", "items", k, "mode"),
                        f"projected volume {vname} secret item {quoted_name(item.get('key'))} mode")
        if has_secret:
            yield from _check_mode(projected.get("defaultMode"),
                                   (*base, i, "projected", "defaultMode"),
                                   f"projected volume {vname} defaultMode")
