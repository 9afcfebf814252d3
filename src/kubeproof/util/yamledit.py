"""Edits of parsed YAML that look hand-made: keys land next to their siblings.

Fixers change objects that are plain dicts (JSON from the webhook) or ruamel
``CommentedMap`` trees (files ``kubeproof fix`` rewrites). These helpers
work on both. On ruamel trees a new key is inserted where a person would put
it, and the comment lines that followed the previous sibling (which ruamel
attaches to the deepest last node before them) move to the end of the new
value, so they still sit right above the key they describe.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.tokens import CommentToken

Mapping = MutableMapping[str, Any]


def new_map(like: Any) -> Mapping:
    """An empty mapping of the same family as ``like`` (ruamel or plain)."""
    return CommentedMap() if isinstance(like, CommentedBase) else {}


def new_seq(like: Any, items: Sequence[Any] = ()) -> list[Any]:
    """A list of the same family as ``like`` (ruamel or plain)."""
    return CommentedSeq(items) if isinstance(like, CommentedBase) else list(items)


def set_in(mapping: Mapping, keys: Sequence[str], value: Any,
           after: Sequence[str] = ()) -> bool:
    """Set the value at the nested ``keys`` of ``mapping``, creating the missing
    (or null) mappings on the way; return whether anything changed.

    ``after`` places the first key that has to be created when it is a key of
    ``mapping`` itself (see :func:`put`); deeper new keys go at the end of their
    mapping. A non-mapping value on the way is left alone (nothing changes):
    fixers never clobber data they do not understand.
    """
    here = mapping
    for depth, key in enumerate(keys[:-1]):
        current = here.get(key)
        if isinstance(current, MutableMapping):
            here = current
            continue
        if current is not None:
            return False
        built: Any = value
        for inner in reversed(keys[depth + 1:]):
            level = new_map(mapping)
            level[inner] = built
            built = level
        return put(here, key, built, after if depth == 0 else ())
    return put(here, keys[-1], value, after if len(keys) == 1 else ())


def put(mapping: Mapping, key: str, value: Any, after: Sequence[str] = (),
        before: Sequence[str] = ()) -> bool:
    """Set ``mapping[key] = value``; return whether anything changed.

    An existing key keeps its place (and its comments). A new key goes right
    after the last key of the mapping that ``after`` names (``after=("name",
    "image")``: after ``image`` if there is one, else after ``name``), else
    right before the first key that ``before`` names (unless comment lines
    precede it as the mapping's first key: they would end up above the new
    key), otherwise at the end.
    """
    if key in mapping:
        old = mapping[key]
        same_type = type(old) is type(value) or (isinstance(old, str) and isinstance(value, str))
        if old is value or (same_type and old == value and not isinstance(value, (dict, list))):
            return False
        if isinstance(old, str) and type(old) is not str and type(value) is str:
            value = type(old)(value)  # keep the quoting style of a ruamel string
        mapping[key] = value
        return True
    if not isinstance(mapping, CommentedMap):
        mapping[key] = value
        return True
    keys = list(mapping)
    pos = len(keys)
    anchors = [keys.index(k) for k in after if k in mapping]
    following = [keys.index(k) for k in before if k in mapping]
    if anchors:
        pos = max(anchors) + 1
    elif following and (min(following) > 0 or not _leading_comment(mapping)):
        pos = min(following)
    if pos == 0 or not keys:
        mapping.insert(pos, key, value)
        return True
    previous = keys[pos - 1]
    mapping.insert(pos, key, value)
    _move_trailing_comments(mapping, previous, key)
    return True


def append(seq: list[Any], value: Any) -> None:
    """Append to a list; on ruamel trees the comment lines after the old last
    item move below the new one."""
    seq.append(value)
    if isinstance(seq, CommentedSeq) and len(seq) > 1:
        _move_trailing_comments(seq, len(seq) - 2, len(seq) - 1)


# ---------------------------------------------------------------- comments

def _leading_comment(mapping: CommentedMap) -> bool:
    """Whether comment lines precede the mapping's first key."""
    comment = mapping.ca.comment
    return bool(comment and len(comment) > 1 and comment[1])


def _last_slot(container: Any, key: Any) -> tuple[Any, Any, int]:
    """(owner, key, token index) of where ruamel keeps the comment that follows
    ``container[key]``: on the deepest last node of a non-empty block value."""
    value = container[key]
    while isinstance(value, (CommentedMap, CommentedSeq)) and len(value) \
            and not value.fa.flow_style():
        container = value
        key = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        value = container[key]
    index = 2 if isinstance(container, CommentedMap) else 0
    return container, key, index


def _token(owner: Any, key: Any, index: int) -> CommentToken | None:
    entry = owner.ca.items.get(key)
    if not entry or len(entry) <= index:
        return None
    tok = entry[index]
    return tok if isinstance(tok, CommentToken) else None


def _move_trailing_comments(container: Any, source: Any, target: Any) -> None:
    """Move the comment and blank lines that follow ``container[source]`` to
    follow ``container[target]`` instead (an end-of-line comment stays)."""
    owner, key, index = _last_slot(container, source)
    tok = _token(owner, key, index)
    if tok is None:
        return
    newline = tok.value.find("\n")
    if newline < 0:
        return
    keep, moved = tok.value[:newline + 1], tok.value[newline + 1:]
    if not moved:
        return
    if keep.strip():
        tok.value = keep
    else:
        owner.ca.items[key][index] = None
    d_owner, d_key, d_index = _last_slot(container, target)
    existing = _token(d_owner, d_key, d_index)
    if existing is not None:
        existing.value += moved if existing.value.endswith("\n") else "\n" + moved
        return
    entry = d_owner.ca.items.setdefault(d_key, [None, None, None, None])
    entry[d_index] = CommentToken("\n" + moved, tok.start_mark, None)
