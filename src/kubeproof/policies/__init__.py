"""Policies as code (issue #12): ValidatingAdmissionPolicy with its bindings,
Kyverno ``ValidatingPolicy`` and ``ClusterPolicy``/``Policy`` rules with
``validate.cel``, and the custom rules of ``.kubeproof.yaml``, judged offline
with the CEL of :mod:`kubeproof.k8s.cel`.

Stages: ``load`` reads policy documents (with file and line) and compiles
them once per run; ``match`` decides whether a policy or binding selects an
object; ``admission`` evaluates VAPs and Kyverno ValidatingPolicies,
``kyverno_rules`` Kyverno ClusterPolicy/Policy CEL rules; ``testing`` runs
``kyverno-test.yaml`` and kubeproof's own policy tests (``kubeproof test``).
The shared values are in ``model``.
"""
