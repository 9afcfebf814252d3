"""Shared test support: one place for what several test folders need.

- :mod:`tests.support.paths`: where the checkout, the test data and the examples are;
- :mod:`tests.support.cli`: ``kubeproof`` as a user runs it (a real process) and in
  this process (click's runner), with the output decoded and the exit code checked;
- :mod:`tests.support.scanning`: in-process scans of fixture files, findings by code;
- :mod:`tests.support.tls`: a test CA and serving certificates for 127.0.0.1;
- :mod:`tests.support.fakeapi` and :mod:`tests.support.audit`: the stand-in
  Kubernetes API server and the audit tests' handle on it;
- :mod:`tests.support.registry_server` and :mod:`tests.support.registries`: real
  OCI registries and the images the session pushes to them;
- :mod:`tests.support.webhook`, :mod:`tests.support.vulns`,
  :mod:`tests.support.images`: the webhook server process, the vulnerability
  reports and fake ``trivy``, the image-check helpers.

The fixtures built on these live in the root ``tests/conftest.py``.
"""
