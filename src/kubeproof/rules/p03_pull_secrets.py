"""Rules for practice 3: images from private registries come with working pull secrets.

These are set rules: they read the workloads, ServiceAccounts and Secrets of
the scanned set (or cluster) from the index. What the kubelet does, and what
the rules follow:

- A pod's `imagePullSecrets` are its own; only when the pod lists none does
  the ServiceAccount admission plugin copy the ServiceAccount's
  `imagePullSecrets` into it (at creation).
- A pull secret is a Secret of type `kubernetes.io/dockerconfigjson` (key
  `.dockerconfigjson`) or `kubernetes.io/dockercfg` (key `.dockercfg`) in the
  pod's namespace; a reference to anything else is silently ignored and the
  pull is anonymous.

Secret values are never read into messages: the index keeps only a Secret's
type and, for pull-secret types, why its payload does not parse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from kubeproof.core.catalogue import index_half, rule
from kubeproof.core.context import Context
from kubeproof.core.index import SECRET_KINDS, Index, sa_pull_secrets
from kubeproof.images.check import UNAUTHORIZED
from kubeproof.k8s.imageref import ImageRef, parse_image
from kubeproof.model import Needs, ObjectRef, Path, Scope, SetViolation
from kubeproof.rules.common import quote


def _private_registries(ctx: Context) -> list[str]:
    return [p for p in ctx.config.private_registries if isinstance(p, str) and p.strip()]


@rule("KP0301", "pull-secret-missing", practice=3, severity="high", scope=Scope.SET)
def pull_secret_missing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Image from a private registry with no pull secret to fetch it.

    What:
        A container whose image comes from a registry listed in
        `images.privateRegistries` (a host such as `registry.example.com`, or a
        host and path prefix such as `ghcr.io/acme`, matched on whole path
        components), in a pod that lists no `imagePullSecrets` and whose
        ServiceAccount (`default` when unset) lists none either.

        The ServiceAccount is looked up in the set; when it is not there, the
        workload is judged only if the set describes its namespace (then the
        ServiceAccount is `default` as Kubernetes creates it, with no pull
        secrets). Without `images.privateRegistries` the rule does nothing,
        except under `--check-images`: then an image whose registry refused
        an anonymous pull (401) counts as private too.

    Why:
        Without credentials the kubelet pulls anonymously, the registry answers
        401, and the pod sits in `ImagePullBackOff`, usually discovered only at
        deploy time, in the one namespace where nobody created the secret.

    How:
        Create a `kubernetes.io/dockerconfigjson` Secret in the namespace and
        list it in the pod's `imagePullSecrets`, or once in the ServiceAccount's
        `imagePullSecrets` so every pod using it gets it.

        If the nodes authenticate to the registry themselves (a kubelet
        credential provider, a cloud node identity), leave that registry out
        of `images.privateRegistries`.

    Example:
        ```yaml
        # .kubeproof.yaml: images: {privateRegistries: [registry.example.com]}
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: shop
        spec:
          imagePullSecrets:
            - name: registry-example-com
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.0
        ```
    """
    private = _private_registries(ctx)
    if not private:
        return
    yield from missing_pull_secrets(index, lambda ref: configured_private(ref, private))


@index_half("KP0301")
def private_by_registry(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """KP0301 for images whose registry refused an anonymous pull under
    ``--check-images`` (those in ``images.privateRegistries`` are the set
    half's)."""
    facts = ctx.facts.images
    if facts is None:
        return
    configured = [p for p in ctx.config.private_registries if isinstance(p, str) and p.strip()]

    def private_of(ref: ImageRef) -> str | None:
        anonymous = facts.lookups.get((ref.canonical(), None))
        if anonymous is None or anonymous.outcome != UNAUTHORIZED \
                or configured_private(ref, configured):
            return None
        return f"{ref.registry} (it refused an anonymous pull)"

    yield from missing_pull_secrets(index, private_of)


def configured_private(ref: ImageRef, private: list[str]) -> str | None:
    """The ``images.privateRegistries`` entry ``ref`` comes from, if any."""
    return next((p.strip() for p in private if ref.in_registry(p)), None)


def missing_pull_secrets(index: Index, private_of: Callable[[ImageRef], str | None]
                         ) -> Iterator[SetViolation]:
    """KP0301 findings for the images ``private_of`` names a private registry
    for (a description of it), in workloads whose pods get no pull secret."""
    for w in index.workloads:
        if w.pull_secrets:
            continue
        ns = w.ref.namespace
        sa_name = w.service_account or "default"
        sa = index.service_accounts.get((ns or "", sa_name))
        if sa is not None:
            if sa_pull_secrets(sa):
                continue
            via = f"ServiceAccount {quote(sa_name)}"
        elif index.described(ns):
            via = f"ServiceAccount {quote(sa_name)} (not in the set)"
        else:
            continue  # the ServiceAccount may well carry them: do not guess
        for c in w.containers:
            if not c.image:
                continue
            ref = parse_image(c.image)
            entry = private_of(ref)
            if entry is None:
                continue
            yield SetViolation(
                w.ref, (*c.path, "image"),
                f"container {quote(c.name)} image {quote(ref.original)} comes from private "
                f"registry {entry} but neither the pod nor {via} lists "
                f"imagePullSecrets", container=c.name)


def _references(index: Index) -> Iterator[tuple[ObjectRef, Path, str | None, str, str]]:
    """Every pull-secret reference in the set: (object, path of the entry,
    namespace, secret name, who references it).

    Pods' own references are reported on the workload; a ServiceAccount's on the
    ServiceAccount (once, not once per pod that uses it).
    """
    for w in index.workloads:
        # the index keeps the well-formed entries in order
        for i, name in enumerate(w.pull_secrets):
            if name:
                yield (w.ref, (*w.spec_path, "imagePullSecrets", i), w.ref.namespace, name,
                       f"{w.ref.kind} {quote(w.ref.name)}")
    for sa in index.service_accounts.values():
        for j, name in sa_pull_secrets(sa):
            yield (sa.ref, ("imagePullSecrets", j), sa.ref.namespace, name,
                   f"ServiceAccount {quote(sa.ref.name)}")


@rule("KP0302", "pull-secret-not-found", practice=3, severity="high", scope=Scope.SET,
      needs=(Needs.SECRETS,))
def pull_secret_not_found(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Pull secret referenced but absent from the namespace.

    What:
        An `imagePullSecrets` entry of a pod template or a ServiceAccount that
        names a Secret the namespace does not have.

        Judged only for namespaces whose Secrets the set shows, that is where
        the set holds at least one Secret of that namespace: Secrets are
        routinely kept out of manifests (created by hand, by Sealed Secrets or
        External Secrets), so a described namespace alone is not evidence that
        a pull secret is missing. Objects without `metadata.namespace` are not
        judged.

    Why:
        The kubelet skips a pull secret it cannot find, pulls anonymously, and
        the pod fails with `ImagePullBackOff` on the first private image; a
        misspelt name gives no other warning.

    How:
        Create the Secret (type `kubernetes.io/dockerconfigjson`) in the same
        namespace as the pod, or fix the name in `imagePullSecrets`. Pull
        secrets are not shared across namespaces.

    Example:
        ```yaml
        apiVersion: v1
        kind: Secret
        metadata:
          name: registry-example-com
          namespace: shop
        type: kubernetes.io/dockerconfigjson
        data:
          .dockerconfigjson: eyJhdXRocyI6e319  # {"auths":{...}}
        ---
        # in namespace shop
        imagePullSecrets:
          - name: registry-example-com
        ```
    """
    shown = {ns for ns, _ in index.secrets if ns}
    if not shown:
        return
    elsewhere: dict[str, list[str]] = defaultdict(list)
    for secret_ns, secret_name in index.secrets:
        if secret_ns:
            elsewhere[secret_name].append(secret_ns)
    for ref, path, ns, name, who in _references(index):
        if ns is None or ns not in shown or (ns, name) in index.secrets:
            continue
        others = sorted(set(elsewhere.get(name, ())))
        hint = f" (a Secret of that name exists in namespace {', '.join(others)})" \
            if others else ""
        yield SetViolation(ref, path, f"{who} references pull secret {quote(name)}, which is "
                                      f"not in namespace {quote(ns)}{hint}")


def _kind_problem(type_: Any) -> str:
    return (f"has type {quote(type_)}, not {SECRET_KINDS[0]} or {SECRET_KINDS[1]}, "
            f"so the kubelet ignores it")


@rule("KP0303", "pull-secret-wrong-type", practice=3, severity="high", scope=Scope.SET,
      needs=(Needs.SECRETS,))
def pull_secret_wrong_type(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Pull secret of the wrong type, or whose registry credentials do not parse.

    What:
        An `imagePullSecrets` entry (of a pod template or a ServiceAccount)
        naming a Secret of the set whose `type` is not
        `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`, or whose
        `.dockerconfigjson` / `.dockercfg` key is missing, not valid base64,
        not JSON, or (for `dockerconfigjson`) has no `auths` mapping. The
        finding says what is wrong, never the value.

    Why:
        The kubelet uses only well-formed Secrets of those two types as
        registry credentials; any other Secret is skipped without an error,
        and the pull fails as if no secret were given.

    How:
        Recreate the Secret with `kubectl create secret docker-registry NAME
        --docker-server=... --docker-username=... --docker-password=...` (or
        from a `config.json` with `--from-file=.dockerconfigjson=...
        --type=kubernetes.io/dockerconfigjson`).

    Example:
        ```yaml
        apiVersion: v1
        kind: Secret
        metadata:
          name: registry-example-com
          namespace: shop
        type: kubernetes.io/dockerconfigjson
        data:
          .dockerconfigjson: eyJhdXRocyI6e319  # {"auths":{...}}
        ```
    """
    if not index.secrets:
        return
    for ref, path, ns, name, who in _references(index):
        secret = index.secrets.get((ns or "", name))
        if secret is None:
            continue
        if secret.type not in SECRET_KINDS:
            problem = _kind_problem(secret.type)
        elif secret.payload_problem is not None:
            problem = f"cannot be used: {secret.payload_problem}"
        else:
            continue
        yield SetViolation(ref, path, f"{who} references pull secret {quote(name)}, which "
                                      f"{problem}")
