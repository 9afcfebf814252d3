"""Where a finding is: its line and column in the input it came from.

Object-rule findings are located while the engine still holds the file's node
tree (:func:`locate`). Set, registry and report rules run after every tree
was dropped, so their findings are placed afterwards (:func:`place`) by
reading again only the inputs that hold an object with a finding: for a plain
YAML file only the documents concerned are composed again
(:func:`place_by_documents`); other inputs are loaded again, except those that
cannot be read twice (stdin, a cluster), which the engine kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeproof.model import Origin, Rule, SetViolation, Violation
from kubeproof.sources.files import (
    ORIGIN_LOCATOR,
    FileLocator,
    LoadedFile,
    LoadOptions,
    decode,
    load_path,
    read_bytes,
)
from kubeproof.sources.yamlparse import compose_first

# inputs that cannot be read a second time to place set-rule findings: kept
NOT_REREADABLE = frozenset({"stdin", "cluster"})
RENDERED = frozenset({"kustomize", "helm"})

SetFound = dict[tuple[str, str], list[tuple[Rule, SetViolation]]]
# the engine's way to add a placed finding: (rule, violation, origin, node,
# line offset, source, rendered from, apiVersion, kind, namespace, name)
AddFinding = Callable[[Rule, SetViolation, Origin, Any, int, str, "str | None", str, str,
                       "str | None", str], None]


def locate(origin: Origin, node: Any, line_offset: int, v: Violation | SetViolation
           ) -> tuple[int, int, int]:
    """(line, column, line of the key) of the violation's path; line and column
    point inside a long value when the rule gave an offset into it."""
    line, col = origin.locator.locate(origin, node, line_offset, v.path)
    key_line = line
    if isinstance(v, Violation) and v.value_offset is not None:  # inside a long value
        line, col = origin.locator.locate(origin, node, line_offset, v.path,
                                          value_offset=v.value_offset)
    return line, col, key_line


def place(by_input: SetFound, kept: dict[tuple[str, str], LoadedFile], opts: LoadOptions,
          add: AddFinding) -> None:
    """Place the index-phase findings of each input, then ``add`` each."""
    for source_input, found in by_input.items():
        if source_input[0] == "file" and all(v.ref.end_line for _, v in found) \
                and place_by_documents(source_input[1], found, opts, add):
            continue
        loaded = kept.get(source_input) or load_path(*source_input, opts)
        rendered_from = loaded.path if loaded.source in RENDERED else None
        for rule, v in found:
            ref = v.ref
            if ref.seq < len(loaded.objects):
                located = loaded.objects[ref.seq]
                origin, node, offset = (located.resource.origin, located.node,
                                        located.line_offset)
            else:  # the input changed while we scanned: keep its first line
                origin, node, offset = Origin(ref.file, 0, ref.line), None, 0
                origin.locator = ORIGIN_LOCATOR
            add(rule, v, origin, node, offset, loaded.source, rendered_from,
                ref.api_version, ref.kind, ref.namespace, ref.name)


def place_by_documents(path: str, found: list[tuple[Rule, SetViolation]], opts: LoadOptions,
                       add: AddFinding) -> bool:
    """Place set-rule findings of a plain YAML file by composing only the
    documents they are about (not the whole file). False: reload instead."""
    data, err = read_bytes(path, opts)
    text, err = decode(path, data) if data is not None else (None, err)
    if text is None:
        return False
    locator = FileLocator(text)
    lines = text.splitlines(keepends=True)
    nodes: dict[int, Any] = {}
    for rule, v in found:
        ref = v.ref
        if ref.seq not in nodes:
            nodes[ref.seq] = compose_first("".join(lines[ref.line - 1:ref.end_line]))
        origin = Origin(ref.file, ref.seq, ref.line, 1, "file", locator)
        add(rule, v, origin, nodes[ref.seq], ref.line - 1, "file", None,
            ref.api_version, ref.kind, ref.namespace, ref.name)
    return True
