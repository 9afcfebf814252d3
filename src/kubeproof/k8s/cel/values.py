"""Kubernetes CEL's opaque values (Quantity, IP, CIDR, Semver, Format) as the
binding can carry them.

cel-expr-python cannot register member functions on an abstract (opaque) type
next to the optional extension (its runtime keys overloads by kind, and every
opaque overload collides with ``optional.value()``), and a Python function
cannot return an opaque value. So each such value travels through CEL as a map
``{"@k": <kind>, "v": <canonical text>}``: equality of two of them is then the
equality of their canonical forms, which is what Kubernetes' ``Equal`` does for
these types.

``type(x)`` must still show the Kubernetes type (``type(ip(s)) == net.IP``).
The binding can neither return a CEL type from Python nor take one as data, but
it takes protobuf messages and gives ``type()`` of one as its message type; so
each Kubernetes type name is an empty message type in the default descriptor
pool (:data:`TYPE_NAMES`, declared once at import), env.py rewrites ``type(e)``
as ``(<e is one of these maps> ? type(kp_type(e)) : type(e))`` and the type
names resolve as identifiers (``net.IP``) because the environment is built over
that pool.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

KIND = "@k"

# kind -> the type name Kubernetes gives it (k8s.io/apiserver pkg/cel/library)
TYPE_NAMES = {
    "quantity": "kubernetes.Quantity", "ip": "net.IP", "cidr": "net.CIDR",
    "semver": "kubernetes.Semver", "url": "kubernetes.URL", "format": "kubernetes.NamedFormat",
    "authorizer": "kubernetes.authorization.Authorizer",
    "pathcheck": "kubernetes.authorization.PathCheck",
    "groupcheck": "kubernetes.authorization.GroupCheck",
    "resourcecheck": "kubernetes.authorization.ResourceCheck",
    "decision": "kubernetes.authorization.Decision",
}


def _declare_types() -> dict[str, Any]:
    pool = descriptor_pool.Default()
    classes: dict[str, Any] = {}
    by_package: dict[str, list[str]] = {}
    for full in TYPE_NAMES.values():
        package, _, name = full.rpartition(".")
        by_package.setdefault(package, []).append(name)
    for package, names in sorted(by_package.items()):
        file_name = f"kubeproof/cel/{package.replace('.', '/')}.proto"
        try:
            pool.FindFileByName(file_name)
        except KeyError:
            proto = descriptor_pb2.FileDescriptorProto(name=file_name, package=package,
                                                       syntax="proto3")
            for name in names:
                proto.message_type.add(name=name)
            pool.Add(proto)
    for kind, full in TYPE_NAMES.items():
        classes[kind] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    return classes


_TYPE_MESSAGES = _declare_types()


def type_message(value: Any) -> Any:
    """An empty message whose type is ``value``'s Kubernetes type."""
    kind = kind_of(value)
    if kind not in _TYPE_MESSAGES:
        raise TypeError("no such overload")
    return _TYPE_MESSAGES[kind]()


def wrap(kind: str, canonical: str) -> dict[str, str]:
    return {KIND: kind, "v": canonical}


def kind_of(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get(KIND)
        return kind if isinstance(kind, str) else None
    return None


def unwrap(value: Any, kind: str) -> str:
    if kind_of(value) != kind:
        raise TypeError(f"no such overload: expected {kind}")
    text = value["v"]
    assert isinstance(text, str)
    return text
