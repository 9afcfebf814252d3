"""Rules for practice 0: objects the API server serves, accepts and can parse.

The family is split by rule, each with what only it uses:

* ``deprecated_apis``: the table of deprecated and removed API versions and
  KP0001 (deprecated-api);
* ``invalid_objects``: KP0002 (invalid-object): identity, names, labels,
  selectors, field types, containers, resources;
* ``unparseable_input``: KP0003 (unparseable-input).

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration. The one import below is for
:mod:`kubeproof.analysis.reach`, outside the rules package, which still imports
``port_name_problem`` from here until it moves below the rules layer.
"""

from kubeproof.rules.p00_api_hygiene.invalid_objects import port_name_problem

__all__ = ["port_name_problem"]
