"""Rules for practice 9: NetworkPolicies.

KP0904 reads one NetworkPolicy alone. The set rules (default deny per
namespace, isolation of each workload, selectors that select nothing, exposed
workloads reaching sensitive ones) read the index; the policy semantics they
rely on live in :mod:`kubeproof.k8s.netpol`, the reachability KP0905 asks about in
:mod:`kubeproof.analysis.reach`.
Policies the API server would reject (an invalid selector, an empty peer ...)
never take effect and are ignored by the set rules.

The package: :mod:`.allow_all` (KP0904), :mod:`.isolation` (KP0901–KP0903)
and :mod:`.exposure` (KP0905); :mod:`.policies` holds the set's policies as
the set rules read them (shared).
"""
