"""Kyverno's autogen for ``ClusterPolicy``/``Policy``: the rules it derives
from a pod rule so that the pod templates of controllers are judged too
(kyverno/kyverno ``pkg/autogen/v1``; read there, written here).

* Whether: only when no rule of the policy has ``generate`` or a
  ``patchesJson6902`` mutation, no resource filter (match or exclude, any form)
  names ``name``/``names``/``selector``/``annotations`` or lists ``Pod`` beside
  other kinds, and some filter lists ``Pod`` or a controller kind. One rule
  that forbids it disables autogen for the whole policy, as in Kyverno.
* Which controllers: the annotation ``pod-policies.kyverno.io/autogen-controllers``
  (comma-separated kinds; ``none`` disables it), else all of
  :data:`POD_CONTROLLERS`.
* Each rule whose match kinds include ``Pod`` (and whose exclude kinds, if
  any, too) gives ``autogen-<rule>`` for the controllers other than CronJob
  and ``autogen-cronjob-<rule>`` for CronJob (names cut at 63 characters).
* The generated rule's text is rewritten as Kyverno rewrites its JSON, plain
  substring replacement over every string of the rule: for CEL rules
  ``object.spec`` -> ``object.spec.template.spec`` and ``object.metadata`` ->
  ``object.spec.template.metadata`` (``oldObject`` likewise; CronJob through
  ``spec.jobTemplate.spec.template``). Unlike the ValidatingPolicy autogen,
  Kyverno's ClusterPolicy autogen does not spare ``object.metadata.namespace``;
  neither does this one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from kubeproof.policies.kyverno_match import MAX_ITEMS, contains_kind
from kubeproof.util.shapes import as_dict, as_list

ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"
POD_CONTROLLERS = ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet",
                   "ReplicationController", "CronJob")
_NON_CRON = POD_CONTROLLERS[:-1]
_KINDS_WITH_POD = frozenset((*POD_CONTROLLERS, "Pod"))
# where a controller keeps its pod template: the prefix of a generated rule's fieldPath
TEMPLATE = "spec.template."
CRON_TEMPLATE = "spec.jobTemplate.spec.template."

_CEL_POD = (("object.spec", "object.spec.template.spec"),
            ("oldObject.spec", "oldObject.spec.template.spec"),
            ("object.metadata", "object.spec.template.metadata"),
            ("oldObject.metadata", "oldObject.spec.template.metadata"))
_CEL_CRON = (("object.spec", "object.spec.jobTemplate.spec.template.spec"),
             ("oldObject.spec", "oldObject.spec.jobTemplate.spec.template.spec"),
             ("object.metadata", "object.spec.jobTemplate.spec.template.metadata"),
             ("oldObject.metadata", "oldObject.spec.jobTemplate.spec.template.metadata"))
_JMES_POD = tuple((f"request.{a}", f"request.{b}") for a, b in _CEL_POD)
_JMES_CRON = tuple((f"request.{a}", f"request.{b}") for a, b in _CEL_CRON)


def autogen_rules(rules: list[dict[str, Any]],
                  annotations: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The rules Kyverno evaluates, each with the fieldPath prefix of its pod
    template (``""`` for a rule as written): the policy's own rules, then for
    each the generated ``autogen-`` and ``autogen-cronjob-`` rules."""
    own: list[tuple[dict[str, Any], str]] = [(r, "") for r in rules]
    controllers = _controllers(rules, annotations)
    if controllers is None:
        return own
    generated: list[tuple[dict[str, Any], str]] = []
    for rule in rules:
        base = _for_controllers(rule, ",".join(c for c in controllers.split(",")
                                               if c != "CronJob"))
        if base is not None:
            generated.append((_rewrite(base, cron=False), TEMPLATE))
        if "CronJob" in controllers or "all" in controllers:
            cron = _for_controllers(rule, controllers)
            if cron is not None:
                cron = _generate(cron, _name("autogen-cronjob", rule), ["CronJob"], cron=True)
            if cron is not None:
                generated.append((_rewrite(cron, cron=True), CRON_TEMPLATE))
    if not generated:
        return own
    return [(r, t) for r, t in own if not _is_autogen(r)] + generated


def _controllers(rules: list[dict[str, Any]], annotations: Mapping[str, Any]) -> str | None:
    """The controllers string autogen runs with, or None when it does not run."""
    needed = False
    for rule in rules:
        if "generate" in rule:
            return None
        mutate = as_dict(rule.get("mutate"))
        if mutate.get("patchesJson6902") or any(
                as_dict(f).get("patchesJson6902") for f in as_list(mutate.get("foreach"))):
            return None
        for description in _descriptions(rule):
            kinds = as_list(description.get("kinds"))
            if (description.get("name") or description.get("names")
                    or description.get("selector") is not None
                    or description.get("annotations") is not None
                    or (len(kinds) > 1 and contains_kind(kinds, "Pod"))):
                return None
            needed = needed or any(isinstance(k, str) and k in _KINDS_WITH_POD for k in kinds)
    if not needed:
        return None
    wanted = annotations.get(ANNOTATION)
    if not isinstance(wanted, str):
        return ",".join(POD_CONTROLLERS)
    controllers = ",".join(dict.fromkeys(wanted.split(",")))
    return None if controllers == "none" else controllers


def _descriptions(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every resource description of a rule's match and exclude."""
    found: list[dict[str, Any]] = []
    for block in (as_dict(rule.get("match")), as_dict(rule.get("exclude"))):
        found.append(as_dict(block.get("resources")))
        for key in ("any", "all"):
            found.extend(as_dict(as_dict(f).get("resources"))
                         for f in as_list(block.get(key))[:MAX_ITEMS])
    return found


def _kinds(block: Mapping[str, Any]) -> list[Any]:
    """Kyverno's ``MatchResources.GetKinds``: the kinds of every form."""
    kinds = list(as_list(as_dict(block.get("resources")).get("kinds")))
    for key in ("any", "all"):
        for flt in as_list(block.get(key))[:MAX_ITEMS]:
            kinds.extend(as_list(as_dict(as_dict(flt).get("resources")).get("kinds")))
    return kinds


def _is_autogen(rule: Mapping[str, Any]) -> bool:
    name = rule.get("name")
    return isinstance(name, str) and name.startswith("autogen-")


def _name(prefix: str, rule: Mapping[str, Any]) -> str:
    name = rule.get("name")
    return f"{prefix}-{name if isinstance(name, str) else ''}"[:63]


def _for_controllers(rule: dict[str, Any], controllers: str) -> dict[str, Any] | None:
    """Kyverno's ``generateRuleForControllers`` (before the text rewrite)."""
    if _is_autogen(rule) or not controllers:
        return None
    match_kinds = _kinds(as_dict(rule.get("match")))
    exclude_kinds = _kinds(as_dict(rule.get("exclude")))
    if not contains_kind(match_kinds, "Pod") or (
            exclude_kinds and not contains_kind(exclude_kinds, "Pod")):
        return None
    if controllers == "all":
        kinds = sorted(_NON_CRON)
    else:
        listed = sorted(controllers.split(","))
        valid = [k for k in listed if k in _NON_CRON]
        kinds = valid or listed
    return _generate(rule, _name("autogen", rule), kinds, cron=False)


def _generate(rule: dict[str, Any], name: str, kinds: list[str],
              cron: bool) -> dict[str, Any] | None:
    """Kyverno's ``generateRule``: the kinds of the filters that name Pod
    (every filter, for CronJob) become ``kinds``; None when the rule has no
    body autogen carries over."""
    out = copy.deepcopy(rule)
    out["name"] = name
    for key in ("match", "exclude"):
        block = out.get(key)
        if not isinstance(block, dict):
            continue
        if as_list(block.get("any")):
            block["any"] = _filters_with(block["any"], kinds, cron)
        elif as_list(block.get("all")):
            block["all"] = _filters_with(block["all"], kinds, cron)
        elif key == "match" or as_list(as_dict(block.get("resources")).get("kinds")):
            resources = block.get("resources")
            if not isinstance(resources, dict):
                resources = block["resources"] = {}
            resources["kinds"] = list(kinds)
    mutate = as_dict(out.get("mutate"))
    validate = as_dict(out.get("validate"))
    carried = (mutate.get("patchStrategicMerge") is not None or as_list(mutate.get("foreach"))
               or any(k in validate for k in ("pattern", "deny", "podSecurity", "anyPattern",
                                              "foreach", "cel", "assert"))
               or out.get("verifyImages") is not None)
    return out if carried else None


def _filters_with(filters: list[Any], kinds: list[str], cron: bool) -> list[Any]:
    out = []
    for flt in filters[:MAX_ITEMS]:
        flt = copy.deepcopy(flt)
        if isinstance(flt, dict):
            resources = as_dict(flt.get("resources"))
            if cron or contains_kind(resources.get("kinds"), "Pod"):
                flt["resources"] = {**resources, "kinds": list(kinds)}
        out.append(flt)
    return out


def _rewrite(rule: dict[str, Any], cron: bool) -> dict[str, Any]:
    """Kyverno's ``updateFields``: the replacements over the rule's JSON text."""
    is_cel = isinstance(as_dict(rule.get("validate")).get("cel"), dict)
    pairs = (_CEL_CRON if cron else _CEL_POD) if is_cel else (_JMES_CRON if cron else _JMES_POD)
    text = json.dumps(rule, default=str)
    for old, new in pairs:
        text = text.replace(old, new)
    result: dict[str, Any] = json.loads(text)
    return result
