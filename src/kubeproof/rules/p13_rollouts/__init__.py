"""Rules for practice 13: rollouts that can tell a bad version and stop, or roll back.

The family is split by what a rule reads:

* ``workload_specs``: one workload's spec: readiness probes (KP1301), rollout
  strategy (KP1302), replicas (KP1303, withdrawn where an HPA scales it) and
  rollback history (KP1307);
* ``disruption_budgets``: PodDisruptionBudgets in the set: none for a replicated
  workload (KP1304), one that blocks every eviction (KP1305);
* ``canaries``: a Service's stable and canary workloads that differ where they
  must not (KP1306);
* ``scaling``: integer fields, percentages and HPA targets, shared by them.

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration.
"""
