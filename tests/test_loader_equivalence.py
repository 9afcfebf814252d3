"""The fast loader builds exactly what PyYAML's safe loader builds, on real manifests.

The manifests are the vendored corpus subset in ``tests/data/corpus``.

Three deliberate differences, all to match how kubectl and the API server
(Go YAML, then JSON) read: timestamps stay strings, a bare ``=`` is a string,
and int, float and bool mapping keys become their text.
"""

from __future__ import annotations

import csv
import hashlib

import pytest
import yaml

from kubeproof.sources.yamlparse import Document, parse_yaml
from tests.support.paths import CORPUS


class Reference(yaml.CSafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        out = super().construct_mapping(node, deep=deep)
        if all(isinstance(k, str) for k in out):
            return out
        texts = {id(v): k.value for k, v in node.value}  # the key's text, as Go keeps it
        return {k if isinstance(k, str) else _key_text(k): v for k, v in out.items()} \
            if texts else out


def _key_text(key: object) -> str:
    return ("true" if key else "false") if isinstance(key, bool) else str(key)


Reference.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
Reference.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)

FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml", ".golden"))


def test_corpus_is_there_as_its_index_lists_it() -> None:
    """Every vendored file is the one its provenance row names (same bytes), and each
    repository's licence came along."""
    with (CORPUS / "index.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 300
    assert sorted(CORPUS / r["repo"] / r["path"] for r in rows) == FILES
    for r in rows:
        data = (CORPUS / r["repo"] / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"], r["path"]
        assert len(r["commit"]) == 40, r["path"]
    for repo in {r["repo"] for r in rows}:
        assert "Apache License" in (CORPUS / repo / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize("chunk", range(4))
def test_same_data_as_pyyaml(chunk: int) -> None:
    for path in FILES[chunk::4]:
        text = path.read_text(encoding="utf-8")
        ours = [d.data for d in parse_yaml(text) if isinstance(d, Document)]
        theirs = list(yaml.load_all(text, Loader=Reference))
        assert ours == theirs, path
