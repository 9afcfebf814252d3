"""Re-vendor upstream's PSS fixtures, each distinct file stored once.

Usage: python tests/conformance/pss/dedup.py SRC  (SRC: a copy of upstream's
``test/testdata`` plus its index.csv, e.g. the workspace copy it came from).

Upstream repeats every fixture in each of the 38 version directories of both
levels (4537 files, 380 distinct). Each distinct file is written once as
``blobs/<stem>-<sha256[:12]>.yaml`` (byte-identical), and ``index.csv`` gets a
``blob`` column naming the file that stands for each (level, version, path) row.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def blob_name(path: Path) -> str:
    """Content-addressed name that still says which fixture it is."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"blobs/{path.stem}-{digest}.yaml"


def main(src: Path) -> None:
    blobs = HERE / "blobs"
    shutil.rmtree(blobs, ignore_errors=True)
    blobs.mkdir()
    with (src / "index.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["blob"] = blob_name(src / row["path"])
        target = HERE / row["blob"]
        if not target.exists():
            shutil.copyfile(src / row["path"], target)
    with (HERE / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    shutil.copyfile(src / "LICENSE", HERE / "LICENSE")
    print(f"{len(rows)} fixtures, {len(list(blobs.iterdir()))} distinct files")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
