"""Policies as code (issue #12): ValidatingAdmissionPolicy with its bindings,
Kyverno ``ValidatingPolicy`` and ``ClusterPolicy``/``Policy`` rules with
``validate.cel``, and the custom rules of ``.kubeproof.yaml``, judged offline
with the CEL of :mod:`kubeproof.k8s.cel`.

Stages: ``scanned`` (a scan), ``in_cluster`` (audit) and the webhook's
``--policy`` find the policy documents (``kinds`` tells them apart without
loading CEL); ``compile`` compiles them once per run; ``match`` decides
whether a policy or binding selects an object; ``admission`` and
``validating_policy`` evaluate VAPs and Kyverno ValidatingPolicies,
``kyverno_rules`` Kyverno ClusterPolicy/Policy CEL rules, ``custom`` the
config's custom rules; ``as_rules`` makes each a rule of the run;
``testing`` runs ``kyverno-test.yaml`` and kubeproof's own policy tests
(``kubeproof test``). The shared values are in ``model``.
"""
