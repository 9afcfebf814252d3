"""``helm template`` without the helm binary: Helm's Go SDK through ``helm-python-sdk``.

Run as ``python -m kubeproof.sources.helmsdk CHART [--namespace NS] [--values
FILE]... [--set KEY=VALUE]...``, it prints what ``helm template kubeproof CHART``
prints (one
``# Source: <chart>/templates/<file>`` header per rendered template), so
:mod:`kubeproof.sources.render` treats both the same way. It runs in a child
process because the SDK renders in-process with no way to stop it: the parent
bounds it with a timeout and an output limit, as it bounds the binary.

Values are combined as helm combines them: the chart's defaults, then each
``--values`` file merged over them in order (maps merged key by key, anything
else replaced), then each ``--set`` expression the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

RELEASE = "kubeproof"
NAMESPACE = "default"  # helm template's, when no --namespace is given
MAX_VALUES_BYTES = 16 * 1024 * 1024
# Merging recurses once per level of nesting; YAML deeper than this is refused.
MAX_DEPTH = 200


def available() -> bool:
    """Whether the SDK can be imported (the ``kubeproof[helm]`` extra)."""
    try:
        return importlib.util.find_spec("helm_python") is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


def merge(base: dict[str, Any], override: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Helm's ``mergeMaps``: maps merge key by key, the override wins otherwise."""
    if depth > MAX_DEPTH:
        raise ValueError(f"values nested deeper than {MAX_DEPTH} levels")
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge(current, value, depth + 1)
        else:
            out[key] = value
    return out


def template_text(manifests: dict[str, str]) -> str:
    """The rendered templates as ``helm template`` prints them: partials,
    ``NOTES.txt`` and templates that render to nothing are left out."""
    parts = []
    for name in sorted(manifests):
        body = manifests[name]
        base = name.rsplit("/", 1)[-1]
        if base.startswith("_") or base == "NOTES.txt" or not body.strip():
            continue
        parts.append(f"---\n# Source: {name}\n{body.strip(chr(10))}\n")
    return "".join(parts)


def render(chart: str, values_files: list[str], settings: list[str],
           namespace: str = NAMESPACE) -> str:
    """``helm template RELEASE chart --namespace namespace --values ... --set ...``."""
    # start-up: Helm's SDK is the optional kubeproof[helm] extra (a Go shared library, ~120 ms to
    # import under load); absent on most installs
    import helm_python as helm

    values: dict[str, Any] = {}
    for path in values_files:
        with open(path, "rb") as fh:
            data = fh.read(MAX_VALUES_BYTES + 1)
        if len(data) > MAX_VALUES_BYTES:
            raise ValueError(f"{path}: larger than {MAX_VALUES_BYTES // (1024 * 1024)} MiB")
        parsed = helm.values_from_yaml(data.decode("utf-8", "replace"))
        values = merge(values, parsed if isinstance(parsed, dict) else {})
    for setting in settings:
        values = merge(values, helm.parse_set_string(setting))
    with helm.Chart.load(chart) as loaded:
        manifests = loaded.render(values, name=RELEASE, namespace=namespace, is_install=True)
    return template_text(manifests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubeproof.sources.helmsdk")
    parser.add_argument("chart")
    parser.add_argument("--namespace", default=NAMESPACE)
    parser.add_argument("--values", action="append", default=[])
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        # start-up: the optional extra, as in render()
        import helm_python as helm

        helm.disable_logging()
        text = render(args.chart, args.values, args.set, args.namespace)
    except Exception as exc:  # every SDK error is one line for the user
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"{message}\n")
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
