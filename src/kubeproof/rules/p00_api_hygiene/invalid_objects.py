"""KP0002 (invalid-object): objects the API server would reject: identity, names,
labels, selectors, field types, containers and resource quantities."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.imageref import parse_image
from kubeproof.k8s.names import port_name_problem
from kubeproof.k8s.placeholders import is_placeholder
from kubeproof.k8s.quantity import Quantity, QuantityError, parse_quantity, quantity_or_none
from kubeproof.k8s.selectors import SelectorError, validate_label_selector
from kubeproof.k8s.workloads import ContainerView
from kubeproof.model import Path, Resource, Severity, Violation, format_path
from kubeproof.rules.common import DNS_SUBDOMAIN, as_dict, as_list, quote

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

# API groups of tool configuration files that share the apiVersion/kind shape
# but are never sent to an API server (so need no metadata.name); also every
# ``*.config.k8s.io`` group and kubeconfig's ``v1`` ``Config``.
_CONFIG_GROUPS = frozenset({"kubeadm.k8s.io", "audit.k8s.io", "apiserver.k8s.io",
                            "kind.x-k8s.io", "install.istio.io", "skaffold"})

# Workload kinds whose spec.selector is a LabelSelector that must match the template.
_SELECTOR_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})


def label_key_problem(key: Any) -> str | None:
    """Why ``key`` is not a valid label key (a qualified name), or None."""
    if not isinstance(key, str):
        return "must be a string"
    return _key_problem(key)


# The label checks are memoised (bounded): the same keys and values come back in
# every object, three times each (metadata, pod template, selector).
@functools.lru_cache(maxsize=4096)
def _key_problem(key: str) -> str | None:
    if is_placeholder(key):
        return None
    prefix, sep, name = key.rpartition("/")
    if sep:
        if not prefix:
            return "has an empty prefix before '/'"
        if len(prefix) > 253:
            return "has a prefix longer than 253 characters"
        if not DNS_SUBDOMAIN.match(prefix):
            return "has a prefix that is not a lowercase DNS subdomain"
    if not name:
        return "has an empty name"
    if len(name) > 63:
        return "has a name longer than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return ("has a name that must start and end with a letter or digit and contain only "
                "letters, digits, '-', '_' and '.'")
    return None


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:80]


def label_value_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid label value (a string), or None."""
    if value is None:
        return 'has no value (null): label values must be strings, "" for an empty one'
    if not isinstance(value, str):
        return (f"has the {type(value).__name__} value {_yaml_scalar(value)}: label values "
                "must be strings (quote it)")
    return _value_problem(value)


@functools.lru_cache(maxsize=4096)
def _value_problem(value: str) -> str | None:
    if value == "" or is_placeholder(value):
        return None
    shown = quote(value[:80])
    if len(value) > 63:
        return f"value {shown} is longer than 63 characters"
    if not _QUALIFIED_NAME.match(value):
        return (f"value {shown} must start and end with a letter or digit and contain only "
                "letters, digits, '-', '_' and '.'")
    return None


def _is_config_file(res: Resource) -> bool:
    group = res.api_version.split("/", 1)[0]
    return (group.endswith(".config.k8s.io") or group in _CONFIG_GROUPS
            or (res.api_version == "v1" and res.kind == "Config"))


def _check_identity(res: Resource) -> Iterator[Violation]:
    obj = res.obj
    api, kind = obj.get("apiVersion"), obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(api, str) or not api.strip():
        what = kind if isinstance(kind, str) and kind else "object"
        yield Violation(("apiVersion",), f"{what} has no apiVersion")
    if not isinstance(kind, str) or not kind.strip():
        # a document with apiVersion but no kind and no metadata is most likely
        # not a Kubernetes object at all (Chart.yaml): the loader keeps it.
        if isinstance(meta, dict):
            yield Violation(("kind",), "object has no kind")
        return
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        return
    if _is_config_file(res):
        return
    if not isinstance(meta, dict):
        yield Violation(("metadata",), f"{kind} has no metadata (metadata.name is required)")
        return
    name, gen = meta.get("name"), meta.get("generateName")
    if not (isinstance(name, str) and name) and not (isinstance(gen, str) and gen):
        yield Violation(("metadata", "name"), f"{kind} has no metadata.name")


def _check_labels(labels: Any, base: Path, where: str) -> Iterator[Violation]:
    if labels is None:
        return
    if not isinstance(labels, dict):
        yield Violation(base, f"{where} labels must be a mapping of strings")
        return
    for key, value in labels.items():
        path = (*base, key)
        why = label_key_problem(key)
        if why:
            yield Violation(path, f"{where} label key {quote(str(key))} {why}")
            continue
        why = label_value_problem(value)
        if why:
            yield Violation(path, f"{where} label {key} {why}")


def _expression_matches(expr: dict[str, Any], labels: dict[str, Any]) -> bool | None:
    """Whether one matchExpressions entry matches ``labels``; None if malformed."""
    key = expr.get("key")
    op = expr.get("operator")
    values = expr.get("values")
    values = [str(v) for v in values] if isinstance(values, list) else []
    if not isinstance(key, str):
        return None
    present = key in labels
    value = str(labels.get(key)) if present else None
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return None


def _check_selector(res: Resource) -> Iterator[Violation]:
    pod = res.pod
    if pod is None:
        return
    spec = as_dict(res.obj.get("spec"))
    if "selector" not in spec or spec["selector"] is None:
        return
    selector = spec["selector"]
    labels = pod.labels
    kind = res.kind
    if kind == "ReplicationController":
        if not isinstance(selector, dict):
            yield Violation(("spec", "selector"), "ReplicationController selector must be a map")
            return
        for k, v in selector.items():
            if labels.get(k) is None or str(labels.get(k)) != str(v):
                yield Violation(("spec", "selector", k),
                                f"selector {k}={v} does not match the template labels "
                                f"({_show(labels, k)})")
        return
    if kind not in _SELECTOR_KINDS:
        return
    if not isinstance(selector, dict):
        yield Violation(("spec", "selector"), f"{kind} selector must be a mapping")
        return
    match_labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    if not match_labels and not exprs and kind != "Job":
        yield Violation(("spec", "selector"),
                        f"{kind} has an empty selector, which the API server rejects")
        return
    for k, v in as_dict(match_labels).items():
        if labels.get(k) is None or str(labels.get(k)) != str(v):
            yield Violation(("spec", "selector", "matchLabels", k),
                            f"selector matchLabels {k}={v} does not match the template labels "
                            f"({_show(labels, k)})")
    for i, expr in enumerate(as_list(exprs)):
        ok = _expression_matches(as_dict(expr), labels)
        if ok is None:
            yield Violation(("spec", "selector", "matchExpressions", i),
                            "selector matchExpressions entry needs a key and an operator "
                            "of In, NotIn, Exists or DoesNotExist")
        elif not ok:
            e = as_dict(expr)
            values = e.get("values")
            listed = ", ".join(str(v) for v in values) if isinstance(values, list) else ""
            shown = " ".join(str(x) for x in (e.get("key"), e.get("operator"), listed) if x)
            yield Violation(("spec", "selector", "matchExpressions", i),
                            f"selector expression {shown} does not match the template labels "
                            f"({_show(labels, str(e.get('key')))})")


def _label_selectors(res: Resource) -> Iterator[tuple[Path, Any]]:
    """The LabelSelectors of NetworkPolicies and PodDisruptionBudgets, with paths."""
    spec = as_dict(res.obj.get("spec"))
    if res.kind == "PodDisruptionBudget" and spec.get("selector") is not None:
        yield ("spec", "selector"), spec["selector"]
    if res.kind != "NetworkPolicy":
        return
    if spec.get("podSelector") is not None:
        yield ("spec", "podSelector"), spec["podSelector"]
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule_ in enumerate(as_list(spec.get(direction))):
            for j, peer in enumerate(as_list(as_dict(rule_).get(peers))):
                for key in ("podSelector", "namespaceSelector"):
                    if as_dict(peer).get(key) is not None:
                        yield (("spec", direction, i, peers, j, key), peer[key])


def _check_label_selectors(res: Resource) -> Iterator[Violation]:
    for path, selector in _label_selectors(res):
        try:
            validate_label_selector(selector)
        except SelectorError as exc:
            yield Violation(path, f"invalid label selector: {exc}")


def _show(labels: dict[str, Any], key: str) -> str:
    if key in labels:
        return f"template has {key}={labels[key]}"
    return f"template has no label {key}"


# The JSON type the API server requires for the pod spec and container fields
# the rules read. Rules judge nothing for a field of another type (they cannot
# tell what it means): this is where such a field is reported, once.
_POD_FIELD_TYPES: dict[str, type] = {
    "containers": list, "initContainers": list, "ephemeralContainers": list,
    "volumes": list, "imagePullSecrets": list, "tolerations": list,
    "securityContext": dict, "nodeSelector": dict, "serviceAccountName": str,
    "hostNetwork": bool, "hostPID": bool, "hostIPC": bool,
    "automountServiceAccountToken": bool,
}
_CONTAINER_FIELD_TYPES: dict[str, type] = {
    "name": str, "image": str, "imagePullPolicy": str, "command": list, "args": list,
    "ports": list, "env": list, "envFrom": list, "volumeMounts": list,
    "securityContext": dict, "resources": dict, "livenessProbe": dict,
    "readinessProbe": dict, "startupProbe": dict, "lifecycle": dict,
}
# lists whose every item must be a mapping
_LISTS_OF_MAPPINGS = frozenset({"containers", "initContainers", "ephemeralContainers",
                                "volumes", "imagePullSecrets", "tolerations", "ports", "env",
                                "envFrom", "volumeMounts"})
_JSON_TYPE_NAMES = {list: "a list", dict: "a mapping", str: "a string", bool: "true or false"}


def _json_type(value: Any) -> str:
    """How a message names the YAML type of ``value``."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _check_field_types(fields: dict[str, Any], base: Path, types: dict[str, type],
                       ) -> Iterator[Violation]:
    """A field of ``fields`` whose value is not of the type the API server requires
    (null is an absent field; template placeholders are not judged)."""
    for key, expected in types.items():
        value = fields.get(key)
        if value is None or (isinstance(value, str) and is_placeholder(value)):
            continue
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            yield Violation((*base, key), f"{format_path((*base, key))} must be "
                            f"{_JSON_TYPE_NAMES[expected]}, not {_json_type(value)}")
        elif key in _LISTS_OF_MAPPINGS:
            for i, item in enumerate(as_list(value)):
                if not isinstance(item, dict):
                    yield Violation((*base, key, i), f"{format_path((*base, key, i))} must be "
                                    f"a mapping, not {_json_type(item)}")
                elif key in ("volumeMounts", "volumes"):
                    yield from _check_field_types(item, (*base, key, i), {"name": str})


def _check_containers(res: Resource) -> Iterator[Violation]:
    pod = res.pod
    if pod is None:
        return
    yield from _check_field_types(pod.spec, pod.spec_path, _POD_FIELD_TYPES)
    seen: dict[str, str] = {}
    for c in pod.containers:
        yield from _check_field_types(c.data, c.path, _CONTAINER_FIELD_TYPES)
        name = c.data.get("name")
        where = f"{c.list_name}[{c.index}]"
        if isinstance(name, str):
            if name in seen:
                yield Violation((*c.path, "name"),
                                f"container name {quote(name)} is used twice ({seen[name]} and "
                                f"{where})", container=name)
            else:
                seen[name] = where
        yield from _check_env(c.data.get("env"), c.path, c.name)
        yield from _check_image(c)
        if c.list_name == "ephemeralContainers":
            continue
        for i, port in enumerate(as_list(c.data.get("ports"))):
            pname = as_dict(port).get("name")
            if isinstance(pname, str) and pname:
                why = port_name_problem(pname)
                if why:
                    yield Violation((*c.path, "ports", i, "name"),
                                    f"container {quote(c.name)} port name {quote(pname)} {why}",
                                    container=c.name)


def _check_image(c: ContainerView) -> Iterator[Violation]:
    """An image reference the kubelet cannot parse (one with placeholders is
    judged on its literal parts: :mod:`kubeproof.k8s.imageref`)."""
    image = c.data.get("image")
    if not isinstance(image, str) or not image:
        return
    ref = parse_image(image)
    if ref.invalid and not ref.placeholder:
        yield Violation((*c.path, "image"), f"container {quote(c.name)} image {quote(image)} "
                        f"cannot be pulled: {ref.error}", container=c.name)


def _check_env(env: Any, cpath: Path, cname: str) -> Iterator[Violation]:
    """Duplicate env names, as the API server warns about them: a later entry
    that replaces an earlier one without referring to it via $(NAME)."""
    if not isinstance(env, list) or len(env) < 2:
        return
    seen: set[str] = set()
    for i, item in enumerate(env):
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name not in seen:
            seen.add(name)
            continue
        ref = f"$({name})"
        value = item.get("value")
        value = value if isinstance(value, str) else ""
        if item.get("valueFrom") is not None or value == ref or ref not in value:
            yield Violation((*cpath, "env", i, "name"),
                            f"container {quote(cname)} defines env {name} twice: the later entry "
                            "hides the first, which kubectl apply may drop",
                            container=cname, severity=Severity.MEDIUM)


def _check_resources(res: Resource) -> Iterator[Violation]:
    """Resource quantities the API server rejects: in every container's
    ``resources`` (init and ephemeral ones too), the pod-level ``spec.resources``
    and ``emptyDir.sizeLimit``."""
    pod = res.pod
    if pod is None:
        return
    for c in pod.containers:
        yield from _check_requirements(c.data.get("resources"), (*c.path, "resources"),
                                       f"container {quote(c.name)}", c.name)
    spec_path = pod.spec_path
    yield from _check_requirements(pod.spec.get("resources"), (*spec_path, "resources"),
                                   "pod", None)
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        path, name = (*spec_path, "volumes", i), quote(str(as_dict(volume).get("name")))
        size = as_dict(as_dict(volume).get("emptyDir")).get("sizeLimit")
        if size is not None:
            why = _quantity_problem(size)
            if why:
                yield Violation((*path, "emptyDir", "sizeLimit"),
                                f"volume {name} emptyDir.sizeLimit {why}")
        claim = as_dict(as_dict(as_dict(volume).get("ephemeral")).get("volumeClaimTemplate"))
        yield from _check_requirements(
            as_dict(claim.get("spec")).get("resources"),
            (*path, "ephemeral", "volumeClaimTemplate", "spec", "resources"),
            f"volume {name} claim", None, ordered=False)


def _check_claims(res: Resource) -> Iterator[Violation]:
    """Storage amounts of PersistentVolumeClaims and StatefulSet claim templates,
    and a ResourceQuota's ``hard`` limits."""
    spec = as_dict(res.obj.get("spec"))
    if res.kind == "PersistentVolumeClaim":
        yield from _check_requirements(spec.get("resources"), ("spec", "resources"),
                                       "PersistentVolumeClaim", None, ordered=False)
    elif res.kind == "StatefulSet":
        for i, template in enumerate(as_list(spec.get("volumeClaimTemplates"))):
            yield from _check_requirements(
                as_dict(as_dict(template).get("spec")).get("resources"),
                ("spec", "volumeClaimTemplates", i, "spec", "resources"),
                f"volumeClaimTemplates[{i}]", None, ordered=False)
    elif res.kind == "ResourceQuota" and isinstance(spec.get("hard"), dict):
        for name, value in spec["hard"].items():
            why = _quantity_problem(value) if value is not None else None
            if why:
                yield Violation(("spec", "hard", name), f"ResourceQuota hard {name} {why}")


def _check_requirements(resources: Any, path: Path, where: str, container: str | None,
                        *, ordered: bool = True) -> Iterator[Violation]:
    """Invalid quantities in one ``resources`` block, and (``ordered``: a
    container's or pod's) limits below their requests."""
    if resources is None:
        return
    if not isinstance(resources, dict):
        yield Violation(path, f"{where} resources must be a mapping", container=container)
        return
    valid: dict[str, dict[Any, Quantity]] = {"requests": {}, "limits": {}}
    for kind, parsed in valid.items():
        amounts = resources.get(kind)
        if amounts is None:
            continue
        if not isinstance(amounts, dict):
            yield Violation((*path, kind), f"{where} resources.{kind} must be a mapping of "
                            "resource names to quantities", container=container)
            continue
        for name, value in amounts.items():
            if value is None:  # null: the field is unset
                continue
            why = _quantity_problem(value)
            if why:
                yield Violation((*path, kind, name), f"{where} resources.{kind}.{name} {why}",
                                container=container)
            elif (amount := quantity_or_none(value)) is not None:  # not a placeholder
                parsed[name] = amount
    for name, limit in valid["limits"].items() if ordered else ():
        request = valid["requests"].get(name)
        if request is not None and limit < request:
            yield Violation((*path, "limits", name),
                            f"{where} limits {name} to "
                            f"{_yaml_scalar(resources['limits'][name])}, below its request "
                            f"of {_yaml_scalar(resources['requests'][name])}",
                            container=container)


def _quantity_problem(value: Any) -> str | None:
    """Why ``value`` is not a quantity the API server accepts for a resource
    amount (they must not be negative), or None. Placeholders (``${GPUS}``)
    are not judged, as everywhere in KP0002."""
    if isinstance(value, str) and is_placeholder(value):
        return None
    try:
        parsed = parse_quantity(value)
    except QuantityError as exc:
        return str(exc)
    return "must not be negative" if parsed.negative else None


@rule("KP0002", "invalid-object", practice=0, severity="high")
def invalid_object(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Object the API server would reject.

    What:
        One finding per problem: a missing `apiVersion`, `kind` or
        `metadata.name` (`generateName` is fine; tool configuration files
        such as `Kustomization` are exempt); a Deployment, StatefulSet,
        DaemonSet, ReplicaSet or Job whose explicit `spec.selector`
        (`matchLabels` and `matchExpressions`) is empty or does not match its
        pod template's labels, or a ReplicationController selector that does
        not; two containers with the same name (across init, regular and
        ephemeral containers); a container port name that is not an
        IANA_SVC_NAME (at most 15 characters, lowercase letters, digits and
        single hyphens, at least one letter); a label key or value on the
        object or its pod template that is not valid (key: optional DNS
        subdomain prefix of at most 253 characters, then a name of at most
        63; value: empty or at most 63 characters, alphanumeric at both ends,
        `-_.` inside; always a string). Duplicate env names are accepted by
        the API server with a warning, so they are reported at medium, and
        only when the later entry does not build on the earlier one through
        `$(NAME)`, as the server's own warning does. Values with template
        placeholders (`{{`, `${`) are not judged. A NetworkPolicy or
        PodDisruptionBudget label selector with an invalid operator or
        values (set rules skip such objects; this is where they are reported).
        A key given twice in one mapping (`privileged: true`, then
        `privileged: false`), at the second key.
        A resource quantity (container or pod-level `resources.requests` and
        `resources.limits`, `emptyDir.sizeLimit`, the storage of
        PersistentVolumeClaims, claim templates and ephemeral volumes, a
        ResourceQuota's `hard` limits) that is not a Kubernetes
        quantity (`128Mi`, `1.5Gi`, `500m`, `2`, `1e3`), is negative, is
        larger than 2^63-1 (the most the API server keeps; `1e400`, `8Ei`),
        has an exponent beyond 32 bits or over 1000 significant digits, or a
        limit below its request.
        A pod spec or container field the rules read that holds a type the
        API server rejects (a string for `containers` or `env`, a mapping
        for a container `name`, a number for `hostNetwork`): the rules judge
        nothing for such a field, so it is reported here.
        An image reference the kubelet cannot parse (`Nginx:latest`: an
        uppercase repository; a bad tag or digest, whitespace, control
        characters), with the reason; the image rules do not judge it. A
        reference that is only partly a placeholder (`${REGISTRY}/app:1.0`)
        is judged on its literal parts (`${REGISTRY}/App:1.0` is reported);
        one that is wholly a placeholder (`$IMAGE`) is not judged.

    Why:
        These manifests fail at `kubectl apply` or admission time, usually in
        the middle of a deployment pipeline; a selector that does not match
        its template would leave a controller that can never see its own
        pods. Catching them in review is cheaper. A duplicate env entry is
        silently collapsed by `kubectl apply`'s merge, so the value that runs
        may not be the one in the file.

    How:
        Fix the field named in the finding: add the missing identity field,
        make the selector a subset of the template labels, rename the
        duplicate container, env var or port, quote numeric and boolean label
        values, write the image reference as the kubelet reads it (a
        lowercase repository, a valid tag and `sha256` digest, no spaces).

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app.kubernetes.io/name: web, version: "1.4"}
        spec:
          selector:
            matchLabels: {app.kubernetes.io/name: web}
          template:
            metadata:
              labels: {app.kubernetes.io/name: web}
        ```
    """
    yield from _check_identity(res)
    for path in res.duplicate_keys:
        yield Violation(path, f"key {quote(path[-1])} is given twice in one mapping: the API "
                        "server's strict decoding rejects it, and tools disagree on which "
                        "value applies (kubeproof judges the later one)")
    meta = res.obj.get("metadata")
    if isinstance(meta, dict):
        yield from _check_labels(meta.get("labels"), ("metadata", "labels"), "metadata")
    pod = res.pod
    if pod is not None and pod.metadata_path != ("metadata",):
        yield from _check_labels(pod.metadata.get("labels"), (*pod.metadata_path, "labels"),
                                 "pod template")
    yield from _check_selector(res)
    yield from _check_label_selectors(res)
    yield from _check_containers(res)
    yield from _check_resources(res)
    yield from _check_claims(res)
