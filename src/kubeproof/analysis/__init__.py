"""Analyses over a whole set of manifests, beyond per-object rules (RBAC, network policy)."""
