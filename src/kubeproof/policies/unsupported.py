"""Which CEL libraries an expression uses that kubeproof cannot evaluate
offline, so the policy is reported *unsupported* rather than guessed.

Kyverno's CEL environment (kyverno/kyverno ``pkg/cel/compiler/env.go``) is
Kubernetes' plus its own libraries (kyverno/sdk ``extensions/cel/libs``):
some read the cluster, a registry or the network (``resource``, ``http``,
``globalContext``, ``imagedata``), the others are simply not implemented here
(``image``, ``json``/``yaml``, ``x509``, ``time``, ``random``/``hash``/``gzip``,
``user``, ``transform``, ``generator``), nor is cel-go's ``regex`` extension.
Kubernetes' own ``authz`` library asks the API server's authorizer, which no
offline run has.

Found by name patterns on the expression with its string literals blanked
(a message that mentions ``http.Get`` is not a call); a call must not follow
a ``.`` or an identifier character, so a comprehension variable called
``image`` (``image.startsWith('x')``) is not the ``image()`` function.
"""

from __future__ import annotations

import re

# a CEL string literal (triple-quoted, single- or double-quoted)
STRING_LITERAL = r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\""
_STRINGS = re.compile(STRING_LITERAL, re.S)
_NOT_MEMBER = r"(?<![\w.])"

# library name -> pattern of its CEL surface
LIBRARIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("resource", _NOT_MEMBER + r"resource\s*\.\s*(?:Get|List|Post|ToGVR|get|list|post|"
                                   r"toGVR)\s*\("),
        ("http", _NOT_MEMBER + r"http\s*\.\s*(?:Get|Post|Client|get|post|client)\s*\("),
        ("globalContext", _NOT_MEMBER + r"globalContext\s*\.\s*(?:Get|get)\s*\("),
        ("imagedata", _NOT_MEMBER + r"image\s*\.\s*(?:GetMetadata|getMetadata)\s*\("),
        ("image", _NOT_MEMBER + r"(?:image|isImage|parseImageReference)\s*\("),
        ("json", _NOT_MEMBER + r"json\s*\.\s*(?:unmarshal|marshal)\s*\("),
        ("yaml", _NOT_MEMBER + r"yaml\s*\.\s*parse\s*\("),
        ("x509", _NOT_MEMBER + r"x509\s*\.\s*decode\s*\("),
        ("time", _NOT_MEMBER + r"time\s*\.\s*(?:now|toCron|truncate)\s*\("),
        ("random", _NOT_MEMBER + r"random\s*\("),
        ("hash", _NOT_MEMBER + r"(?:sha256|sha1|md5|hash\s*\.\s*\w+)\s*\("),
        ("gzip", _NOT_MEMBER + r"gzip\s*\.\s*(?:compress|decompress)\s*\("),
        ("user", _NOT_MEMBER + r"(?:user\s*\.\s*)?parseServiceAccount\s*\("),
        ("transform", _NOT_MEMBER + r"listObjToMap\s*\("),
        ("generator", _NOT_MEMBER + r"generator\s*\.\s*Apply\s*\("),
        ("regex", _NOT_MEMBER + r"regex\s*\.\s*(?:replace|extract|extractAll)\s*\("),
        ("authz", _NOT_MEMBER + r"authorizer\b"),
    ))

# the libraries that need data from outside the manifests
EXTERNAL = frozenset({"resource", "http", "globalContext", "imagedata", "authz"})


def blank_strings(expression: str) -> str:
    """``expression`` with the text of every string literal removed."""
    return _STRINGS.sub("''", expression)


def libraries_used(expression: str) -> list[str]:
    """The unsupported libraries ``expression`` calls, in :data:`LIBRARIES` order."""
    if not isinstance(expression, str):
        return []
    code = blank_strings(expression)
    return [name for name, pattern in LIBRARIES if pattern.search(code)]
