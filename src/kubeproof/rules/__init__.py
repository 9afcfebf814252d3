"""Built-in rules, one module per practice family (see ``registry.RULE_MODULES``)."""
