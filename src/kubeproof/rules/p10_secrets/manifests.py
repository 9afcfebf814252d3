"""Credentials written in manifests: literal values in containers, ConfigMaps and
annotations (KP1003) and Secret objects in files (KP1004)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.workloads import ContainerView
from kubeproof.model import Path, Resource, RunsIn, Violation
from kubeproof.rules.common import as_list, quote
from kubeproof.rules.p10_secrets.detection import Budget, named_secret, quoted_name, scan_value_at

_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)$")


def _container_findings(c: ContainerView, budget: Budget) -> Iterator[Violation]:
    who = f"container {quote(c.name)}"
    for i, env in enumerate(as_list(c.data.get("env"))):
        if not isinstance(env, dict):
            continue
        value = env.get("value")
        if not isinstance(value, str) or not value:
            continue
        name = env.get("name")
        name = name if isinstance(name, str) else ""
        at = scan_value_at(value, budget)
        found = at[0] if at else named_secret(name, value)
        if found:
            yield Violation((*c.path, "env", i, "value"),
                            f"{who} env var {quoted_name(name)} holds {found}", container=c.name,
                            value_offset=at[1] if at else None)
    for field in ("command", "args"):
        items = as_list(c.data.get(field))
        done = -1
        for i, arg in enumerate(items):
            if not isinstance(arg, str) or i == done:
                continue
            at = scan_value_at(arg, budget)
            found = at[0] if at else None
            if not found and i + 1 < len(items) and isinstance(items[i + 1], str):
                flag = _FLAG.match(arg)
                nxt = items[i + 1]
                if flag and not nxt.startswith("-") and named_secret(flag[1], nxt):
                    done = i + 1
                    yield Violation((*c.path, field, i + 1),
                                    f"{who} passes a literal credential to {arg} in {field}",
                                    container=c.name)
                    continue
            if at:
                yield Violation((*c.path, field, i), f"{who} {field}[{i}] contains {found}",
                                container=c.name, value_offset=at[1])


def _annotation_findings(ann: Any, meta_path: Path, where: str,
                         budget: Budget) -> Iterator[Violation]:
    if not isinstance(ann, dict):
        return
    for key, value in ann.items():
        if not isinstance(value, str) or not value or not isinstance(key, str):
            continue
        at = scan_value_at(value, budget)
        found = at[0] if at else named_secret(key, value)
        if found:
            yield Violation((*meta_path, "annotations", key),
                            f"annotation {quote(key)} on {where} holds {found}",
                            value_offset=at[1] if at else None)


@rule("KP1003", "hardcoded-secret", practice=10, severity="critical")
def hardcoded_secret(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Literal credential in env values, command lines, ConfigMaps or annotations.

    What:
        A credential written into the manifest where Kubernetes will not treat
        it as secret: container `env[].value`, `command` and `args` (init,
        regular and ephemeral containers), ConfigMap `data`, and the annotations
        of any object (pod template annotations included). Three signals:
        known token formats anywhere in a value (AWS access key IDs, GitHub,
        GitLab, Slack, Stripe, Google API and Hugging Face keys, PEM private
        keys, JWTs, URLs with an embedded password); a secret-like name
        (`*_PASSWORD`, `apiKey`, `client_secret`, `--token`, or a
        `password = ...` line inside a config file) holding a literal value;
        and a long high-entropy value under a weaker name (`*_KEY`, `salt`,
        `signature`). Not reported: references and placeholders (`$(VAR)`,
        `${VAR}`, `{{ ... }}`, `<...>`, `changeme`, `your-...`, upper-case
        stand-ins such as `HF_TOKEN`, `vault:...`), paths, URLs without a
        password, booleans, values shorter than four characters, names that
        describe a secret rather than hold it (`*_FILE`, `*_NAME`, `*_ID`,
        `checksum/secret`), a Secret's name under a `*secret` key
        (`auth-secret: basic-auth`), commented lines and code expressions.
        The finding names the field and the kind of credential, never the value.
        In a value written over several lines (a `|` or `>` block, a folded
        quoted or plain scalar), the finding is on the line where the first
        credential starts, not on the key (when the lines rebuild the value
        exactly; else on the key). An inline ignore comment on either line
        applies.
        The work is linear in the input: a name is judged by its last 256
        characters, a value assigned inside text by its first 128, and a value
        where an object's values hold more than 20000 assignments to
        secret-like keys in all is reported as not fully inspected.

    Why:
        Manifests live in Git, CI logs, Helm release history and every
        `kubectl get -o yaml`; ConfigMaps and annotations are readable by anyone
        with `get` on the namespace, which is far wider than access to Secrets.
        A credential committed once stays in history after it is removed.

    How:
        Rotate the credential, then move it to a Secret (created by External
        Secrets, Sealed Secrets or SOPS, not committed in clear) and mount it
        read-only; reference it from args as `$(VAR)` if a flag needs it.

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
    where = f"{res.kind} {quote(res.name)}"
    budget = Budget()
    yield from _annotation_findings(res.metadata.get("annotations"), ("metadata",), where,
                                    budget)
    pod = res.pod
    if pod is not None:
        if pod.metadata_path != ("metadata",):
            yield from _annotation_findings(pod.metadata.get("annotations"),
                                            pod.metadata_path, f"the pod template of {where}",
                                            budget)
        for c in pod.containers:
            yield from _container_findings(c, budget)
    if res.kind == "ConfigMap":
        data = res.obj.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if not isinstance(value, str) or not value:
                    continue
                key = str(key)
                at = scan_value_at(value, budget)
                found = at[0] if at else None
                if not found and "\n" not in value.strip():
                    found = named_secret(key, value)
                if found:
                    yield Violation(("data", key),
                                    f"ConfigMap {quote(res.name)} key {quote(key)} holds {found}",
                                    value_offset=at[1] if at else None)


@rule("KP1004", "secret-in-manifest", practice=10, severity="medium", kinds={"Secret"},
      runs_in=(RunsIn.FILES,))
def secret_in_manifest(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret with its values committed in the manifest.

    What:
        A `Secret` whose `data` or `stringData` has at least one non-empty
        value. The finding names the keys, never the values. A Secret with no
        values (for example a `kubernetes.io/service-account-token` Secret the
        token controller fills in) is fine.

    Why:
        `data` is base64, not encryption: anyone who can read the repository,
        the CI logs or the rendered chart can read the secret, and it stays in
        Git history after it is rotated.

    How:
        Keep only encrypted or referenced secrets in Git: a SealedSecret, an
        ExternalSecret pointing at a secret manager, or a SOPS-encrypted file
        decrypted at deploy time. Rotate any value that was committed in clear.

    Example:
        ```yaml
        apiVersion: external-secrets.io/v1beta1
        kind: ExternalSecret
        metadata:
          name: db-credentials
          namespace: shop
        spec:
          secretStoreRef:
            name: vault
            kind: ClusterSecretStore
          target:
            name: db-credentials
          data:
            - secretKey: password
              remoteRef:
                key: shop/db
                property: password
        ```
    """
    for field in ("data", "stringData"):
        values = res.obj.get(field)
        if not isinstance(values, dict):
            continue
        keys = [str(k) for k, v in values.items() if v not in (None, "")]
        if not keys:
            continue
        quoted_name = ", ".join(quote(k) for k in keys[:5])
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        noun = "key" if len(keys) == 1 else "keys"
        yield Violation((field,),
                        f"Secret {quote(res.name)} commits {field} {noun} {quoted_name}{more} "
                        "in the manifest")
