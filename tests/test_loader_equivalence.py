"""The fast loader builds exactly what PyYAML's safe loader builds, on real manifests.

The manifests are the vendored corpus subset in ``tests/data/corpus``.

Two deliberate differences, both to match how kubectl (Go YAML) reads:
timestamps stay strings and a bare ``=`` is a string.
"""

from __future__ import annotations

import pytest
import yaml

from kubeproof.sources.yamlparse import Document, parse_yaml
from tests.helpers import CORPUS


class Reference(yaml.CSafeLoader):
    pass


Reference.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
Reference.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)

FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml", ".golden"))


def test_corpus_is_there() -> None:
    listed = (CORPUS / "index.csv").read_text(encoding="utf-8").count("\n") - 1
    assert listed > 300
    assert len(FILES) == listed


@pytest.mark.parametrize("chunk", range(4))
def test_same_data_as_pyyaml(chunk: int) -> None:
    for path in FILES[chunk::4]:
        text = path.read_text(encoding="utf-8")
        ours = [d.data for d in parse_yaml(text) if isinstance(d, Document)]
        theirs = list(yaml.load_all(text, Loader=Reference))
        assert ours == theirs, path
