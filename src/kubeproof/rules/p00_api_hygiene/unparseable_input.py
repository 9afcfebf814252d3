"""KP0003 (unparseable-input): inputs that cannot be read as Kubernetes objects."""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Resource, RunsIn, Violation


@rule("KP0003", "unparseable-input", practice=0, severity="high", kinds=(),
      runs_in=(RunsIn.FILES, RunsIn.CLUSTER), input_errors=True)
def unparseable_input(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Document that is not valid YAML/JSON or that the loader refuses.

    What:
        A finding per input error, at the file and line of the problem: a
        YAML or JSON syntax error; a file that is not UTF-8 (UTF-16 with a
        byte-order mark is accepted); a binary file (NUL bytes); a file over
        the size limit (`--max-file-size`, default 16 MiB); a document whose
        alias expansion exceeds a million nodes (a "billion laughs" YAML
        bomb); a YAML tag other than the standard ones (`!!python/object`
        and other custom tags), a non-scalar mapping key or a broken merge
        key. The rest of the file and the scan go on: documents after a
        broken one are still checked. Documents that parse but are not
        Kubernetes objects (no `apiVersion` and no `kind`) are skipped, not
        reported.

    Why:
        A manifest that does not parse is never applied, or is applied
        partially by tools that stop at the first error; and a scanner that
        silently skipped it would report a clean result for a file it never
        read.

    How:
        Fix the syntax at the reported line (`kubectl apply --dry-run=client
        -f` shows the same error), or exclude generated and non-manifest files
        with `.kubeproofignore`.

    Example:
        ```yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: "fast: yes"
        ```
    """
    # Findings are created by the engine from the loader's input errors.
    yield from ()
