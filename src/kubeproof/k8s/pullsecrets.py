"""Image pull secrets as the kubelet reads them: which types hold registry
credentials, and whether a secret's payload is usable (checked without ever
quoting it: the payload is a credential)."""

from __future__ import annotations

import base64
import json
from typing import Any

# the Secret types that carry registry credentials (dockerconfigjson first)
SECRET_KINDS = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")


def pull_secret_payload(obj: dict[str, Any], type_: str) -> tuple[str | None, str | None]:
    """A pull secret's decoded payload, and why it would not be usable (never
    quoting it): ``(payload, None)`` or ``(None, problem)``."""
    key = ".dockerconfigjson" if type_ == SECRET_KINDS[0] else ".dockercfg"
    data = obj.get("data")
    string_data = obj.get("stringData")
    raw: Any = None
    if isinstance(string_data, dict) and isinstance(string_data.get(key), str):
        raw = string_data[key]
    elif isinstance(data, dict) and isinstance(data.get(key), str):
        try:
            raw = base64.b64decode(data[key], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, f"data[{key!r}] is not valid base64-encoded UTF-8"
    else:
        return None, f"it has no {key!r} key"
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None, f"{key!r} is not valid JSON"
    if type_ == SECRET_KINDS[0] and not (isinstance(parsed, dict)
                                         and isinstance(parsed.get("auths"), dict)):
        return None, f"{key!r} has no 'auths' mapping"
    if not isinstance(parsed, dict):
        return None, f"{key!r} is not a JSON object"
    return raw, None


def pull_secret_problem(obj: dict[str, Any], type_: str) -> str | None:
    """Why a pull secret's payload would not be usable (never quoting it)."""
    return pull_secret_payload(obj, type_)[1]


def account_pull_secrets(data: dict[str, Any]) -> list[tuple[int, str]]:
    """A ServiceAccount's ``imagePullSecrets`` names, with their list index."""
    entries = data.get("imagePullSecrets")
    if not isinstance(entries, list):
        return []
    return [(j, s["name"]) for j, s in enumerate(entries)
            if isinstance(s, dict) and isinstance(s.get("name"), str) and s["name"]]
