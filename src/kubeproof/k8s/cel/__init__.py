"""CEL as the Kubernetes API server evaluates it (issue #12, part 1).

``Environment(variables, kube_version).compile(expr).evaluate(bindings)``;
see env.py for the cost budget, library.py for the Kubernetes libraries and
values.py for how opaque values (quantity, ip, cidr, semver, url, format) are
carried.
"""

from kubeproof.k8s.cel.authz import ALLOW, DENY, NO_OPINION, Authorizer
from kubeproof.k8s.cel.env import (
    LATEST,
    CelCompileError,
    CelCostError,
    CelError,
    CelEvalError,
    CelNotEvaluated,
    Environment,
    Optional,
    Program,
)
from kubeproof.k8s.cel.values import kind_of

__all__ = ["ALLOW", "DENY", "LATEST", "NO_OPINION", "Authorizer", "CelCompileError",
           "CelCostError", "CelError", "CelEvalError", "CelNotEvaluated", "Environment",
           "Optional", "Program", "kind_of"]
