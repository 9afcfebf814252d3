"""Apply the rules' fixes to one object, in the order of their codes.

``kubeproof fix`` applies them to manifests (ruamel round-trip trees) and the
webhook's ``/mutate`` to admitted objects (plain dicts from JSON). The fixes
themselves live beside their rules (``@fix``); what they share is in
:mod:`kubeproof.core.fixing`.
"""

from __future__ import annotations

from collections.abc import Collection, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fixes
from kubeproof.core.fixing import FixSettings, runs
from kubeproof.model import Origin, Resource


def fix_object(obj: MutableMapping[str, Any], settings: FixSettings,
               codes: Collection[str] | None = None) -> list[str]:
    """Fix obj in place (plain dicts OR ruamel CommentedMap); return the codes that
    changed something. ``codes`` limits the fixes (None: every fix that does not
    need the set's verdict); unsafe fixes run only with ``settings.unsafe_fixes``."""
    changed: list[str] = []
    for code, fx in fixes().items():
        if (fx.needs_verdict if codes is None else code not in codes) or not runs(fx, settings):
            continue
        # a fresh view per fix: the one before may have created pod spec parents
        res = Resource(obj, Origin("<fix>", 0, 0),  # type: ignore[arg-type]
                       templates=settings.pod_templates)
        if fx(res, settings):
            changed.append(code)
    return changed
