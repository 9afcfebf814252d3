"""Rules for practice 0: objects the API server serves, accepts and can parse.

The family is split by rule, each with what only it uses:

* ``deprecated_apis``: the table of deprecated and removed API versions and
  KP0001 (deprecated-api);
* ``invalid_objects``: KP0002 (invalid-object): identity, names, labels,
  selectors, field types, containers, resources;
* ``unparseable_input``: KP0003 (unparseable-input);
* ``duplicate_ports``: KP0004 (duplicate-container-port).

The rule modules are discovered (the catalogue walks this package); nothing
here is needed for registration.
"""
