"""Re-select the vendored corpus subset from the full corpus.

Usage: python tests/data/corpus/subset.py FULL  (FULL: the full corpus, with its
``index.csv``, e.g. the workspace copy it came from).

Byte-identical files are taken once (``sha256`` in the full index). The subset
holds the paths the tests name (``REQUIRED``) and, smallest file first, every
file that brings a kind, a YAML style or an index flag not yet covered, overall
or for its repository, up to ``PER_FILE_LIMIT`` bytes each. Each repository's
LICENSE comes along; ``index.csv`` keeps the full index's rows of the files taken.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PER_FILE_LIMIT = 64_000
# paths the tests use whole (tests/audit/test_corpus.py; folders without their
# subfolders), minus one 1 MB dashboard list
REQUIRED = (
    "GoogleCloudPlatform__microservices-demo/release/",
    "argoproj__argo-cd/manifests/install.yaml",
    "prometheus-operator__kube-prometheus/manifests/",
    "kubernetes__ingress-nginx/deploy/static/provider/cloud/",
    # the `- =` scalar PyYAML's safe loader cannot construct (see the README)
    "prometheus-operator__kube-prometheus/manifests/setup/"
    "0alertmanagerConfigCustomResourceDefinition.yaml",
)
LEFT_OUT = ("prometheus-operator__kube-prometheus/manifests/grafana-dashboardDefinitions.yaml",)
STYLES = {
    "anchor": re.compile(r"(?m)[:\-]\s+&[\w-]+"),
    "alias": re.compile(r"(?m)[:\-]\s+\*[\w-]+"),
    "merge_key": re.compile(r"(?m)^\s*<<:"),
    "block_literal": re.compile(r"(?m):\s+\|[-+]?\d?\s*$"),
    "block_folded": re.compile(r"(?m):\s+>[-+]?\d?\s*$"),
    "flow_mapping": re.compile(r"(?m):\s+\{\s*\S"),
    "json_document": re.compile(r"\A\s*\{"),
    "explicit_start": re.compile(r"(?m)^---"),
    "document_end": re.compile(r"(?m)^\.\.\.\s*$"),
    "tag": re.compile(r"(?m)\s!!?\w+"),
    "tab": re.compile(r"\t"),
    "crlf": re.compile(r"\r\n"),
    "non_ascii": re.compile(r"[^\x00-\x7f]"),
    "double_quoted_escape": re.compile(r'"[^"\n]*\\[nt"u][^"\n]*"'),
    "single_quoted": re.compile(r":\s+'"),
}


def features(row: dict[str, str], text: str) -> set[str]:
    """What a file brings: its kinds, YAML styles, flags, multi-doc and List-ness."""
    kinds = {k.split("=")[0] for k in row["kinds"].split(";") if k}
    found = {f"kind:{k}" for k in kinds} | {f"flag:{f}" for f in row["flags"].split(";") if f}
    found |= {f"style:{name}" for name, rx in STYLES.items() if rx.search(text)}
    if int(row["documents"] or 0) > 1:
        found.add("style:multi_document")
    if re.search(r"(?m)^kind:\s*\w*List\s*$", text):
        found.add("style:list")
    return found


def main(full: Path) -> None:
    with (full / "index.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    taken: list[dict[str, str]] = []
    seen_sha: set[str] = set()
    covered: set[str] = set()

    def take(row: dict[str, str], found: set[str]) -> None:
        taken.append(row)
        seen_sha.add(row["sha256"])
        covered.update(found | {f"{row['repo']}|{f}" for f in found})

    def key(row: dict[str, str]) -> str:
        return f"{row['repo']}/{row['path']}"

    for row in rows:
        name = key(row)
        if name in LEFT_OUT or row["sha256"] in seen_sha:
            continue
        if name in REQUIRED or any(r.endswith("/") and name.startswith(r)
                                   and "/" not in name[len(r):] for r in REQUIRED):
            take(row, features(row, (full / name).read_text(encoding="utf-8")))
    for row in sorted(rows, key=lambda r: (int(r["bytes"]), key(r))):
        if row["sha256"] in seen_sha or int(row["bytes"]) > PER_FILE_LIMIT:
            continue
        found = features(row, (full / key(row)).read_text(encoding="utf-8"))
        if found - covered or {f"{row['repo']}|{f}" for f in found} - covered:
            take(row, found)
    for row in taken:
        target = HERE / key(row)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(full / key(row), target)
    for repo in sorted({r["repo"] for r in taken}):
        shutil.copyfile(full / repo / "LICENSE", HERE / repo / "LICENSE")
    taken.sort(key=key)
    with (HERE / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(taken)
    size = sum(int(r["bytes"]) for r in taken)
    print(f"{len(taken)} files, {size} bytes, {len(covered)} features covered")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
