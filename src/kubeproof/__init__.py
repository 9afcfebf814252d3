"""kubeproof: Kubernetes production best practices, checked, enforced and reported."""

__version__ = "0.1.0"
