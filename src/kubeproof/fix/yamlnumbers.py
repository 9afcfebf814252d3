"""Numbers too large for a float keep their text through a ruamel round trip.

ruamel.yaml loads ``memory: 1e400`` as a float infinity and dumps it back as
``.inf``: a document ``kubeproof fix`` rewrites would change a value it never
touched (and the API server reads ``1e400`` as a quantity, ``.inf`` as nothing).
:func:`keep_number_text` makes one :class:`~ruamel.yaml.YAML` instance load
such a literal, and every other non-finite one (``.Inf``, ``.NaN``), as an
:class:`OverflowFloat`: still a non-finite float to the fixers, which leave
those alone, and dumped as written.
"""

from __future__ import annotations

import math
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.representer import RoundTripRepresenter

FLOAT_TAG = "tag:yaml.org,2002:float"


class OverflowFloat(float):
    """A non-finite float literal (``1e400``, ``.Inf``, ``.NaN``) with its text."""

    text: str

    def __new__(cls, value: float, text: str) -> OverflowFloat:
        made = super().__new__(cls, value)
        made.text = text
        return made


class _Constructor(RoundTripConstructor):
    def construct_overflow_float(self, node: Any) -> Any:
        value = self.construct_yaml_float(node)
        if isinstance(value, float) and not math.isfinite(value):
            return OverflowFloat(value, str(node.value))
        return value


class _Representer(RoundTripRepresenter):
    def represent_overflow_float(self, data: OverflowFloat) -> Any:
        return self.represent_scalar(FLOAT_TAG, data.text)


_Constructor.add_constructor(FLOAT_TAG, _Constructor.construct_overflow_float)
_Representer.add_representer(OverflowFloat, _Representer.represent_overflow_float)


def keep_number_text(yaml: YAML) -> YAML:
    """Make the round-trip ``yaml`` (before its first use) keep overflowing
    float literals as written."""
    yaml.Constructor = _Constructor
    yaml.Representer = _Representer
    return yaml
