"""Rules for practice 7: RBAC least privilege (KP0701–KP0708).

The Role/ClusterRole rules evaluate each policy rule the way the RBAC
authorizer matches requests: a verb, API group or resource matches when the
rule lists it or lists ``*``; ``*/sub`` matches subresource ``sub`` of every
resource. A rule with no ``apiGroups`` grants nothing (the API server rejects
it), and ``nonResourceURLs`` rules never grant access to resources.

Object scope: a ClusterRole is judged by what it grants, not by who it is
bound to (the bindings may live in other files or only in the cluster). A
binding whose roleRef is a built-in ClusterRole (``admin``, ``edit``,
``view``, the ``system:*`` bootstrap roles of ``--kube-version``,
:mod:`kubeproof.k8s.rbac_roles`) is judged by KP0703–KP0705 on what that role
grants, aggregation resolved among the built-in roles: the role itself is in
no manifest, so the binding is where the grant shows. Likewise an aggregated
ClusterRole is judged on the built-in roles its selectors match. Being object scope, this
cannot see a ClusterRole of the same name elsewhere in the set (which would
replace the built-in one); ``kubeproof rbac risky`` resolves the set.
Controllers' roles legitimately need some of these permissions; they are still
reported, so that each one is a reviewed, exempted decision.

The package: :mod:`.grants` reads policy rules and subjects as the rules
need them (shared); :mod:`.roles` judges what a role grants (KP0701,
KP0703–KP0705), :mod:`.bindings` whom a binding names (KP0702, KP0706),
:mod:`.service_accounts` the ServiceAccount a pod runs as (KP0707, KP0708,
with their fixes).
"""
