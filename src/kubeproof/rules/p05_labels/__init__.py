"""Rules for practice 5: labels that say what every workload and Service is.

The family is split by what a rule checks:

* ``required_labels``: the labels every object must carry (KP0501, with its fix);
* ``selects_nothing``: Services and PodDisruptionBudgets whose selectors match no
  pod template in the set (KP0502, KP0503);
* ``references``: Ingress backends and HPA targets that name nothing in the set
  (KP0504, KP0505);
* ``selection``: the namespace conventions of the set rules and the selector and
  pod-template lookups they share (with the rollout rules of practice 13).

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration.
"""
