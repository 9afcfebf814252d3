"""Built-in rules, one module (or package) per practice family: each rule with
its fix, its halves and its facts (see :mod:`kubeproof.core.catalogue`, which
discovers the modules)."""
