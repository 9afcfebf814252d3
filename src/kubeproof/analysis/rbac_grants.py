"""How an RBAC finding names what a role's rule grants.

Rules KP0703–KP0705 report ``<Kind> "<name>" rule <i> grants <what>``; the
rules that judge a binding of a built-in role and ``kubeproof rbac risky``
read ``<what>`` back out of those messages, so the form is written here once.
"""

from __future__ import annotations

from kubeproof.model import Resource
from kubeproof.util.shapes import quote


def role_text(res: Resource) -> str:
    """A role or binding as findings name it: ``ClusterRole "edit"``."""
    return f"{res.kind} {quote(res.name)}"


def granted_text(message: str, res: Resource, index: int) -> str:
    """What a KP0703–KP0705 message on rule ``index`` of role ``res`` says it grants."""
    prefix = f"{role_text(res)} rule {index} grants "
    return message[len(prefix):] if message.startswith(prefix) else message
