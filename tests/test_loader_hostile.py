"""The loader under hostile input: it always ends, moves on after each broken
document with exactly one one-line error, reads only regular files, bounds
what one file may hold, and never echoes a value it refuses."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.sources.files import MAX_OBJECTS_PER_FILE
from kubeproof.sources.yamlparse import Document, YamlError, parse_yaml
from tests.support.cli import kp
from tests.test_loader import CM, located, scan, write

FORBIDDEN = ["\x0c", "\x1b", "\x7f", "\x9b", "\x00", "\x08"]  # (U+0085 is a YAML line break)


@pytest.mark.parametrize("char", FORBIDDEN)
def test_each_broken_document_gives_one_error_and_the_loader_moves_on(char: str) -> None:
    broken = f'---\ndata: {{a: "{char}"}}\n'
    text = broken * 3 + "---\nkind: ConfigMap\n" + broken + "---\nok: 1\n"
    out = list(parse_yaml(text))
    errors = [o for o in out if isinstance(o, YamlError)]
    docs = [o.data for o in out if isinstance(o, Document)]
    assert docs == [{"kind": "ConfigMap"}, {"ok": 1}]
    assert [e.line for e in errors] == [2, 4, 6, 10]
    for e in errors:
        assert "\n" not in e.message and "position" not in e.message
        assert f"U+{ord(char):04X}" in e.message


def test_a_control_character_in_the_first_document_alone() -> None:
    [err] = list(parse_yaml('---\ndata: {a: "\x0c"}'))
    assert isinstance(err, YamlError) and err.line == 2


def test_error_messages_are_one_line_for_every_kind_of_yaml_error() -> None:
    for text in ["a: [\n", "a: 'x\n", "a: b: c\n", "- a\nb: c\n", "a: *nope\n", "%YAML 9\n---\na\n",
                 "a: \"\\ud800\"\n", "\t- a\n"]:
        for out in parse_yaml(text):
            if isinstance(out, YamlError):
                assert "\n" not in out.message and "<unicode string>" not in out.message, text


def test_mapping_keys_are_read_as_the_api_server_reads_them() -> None:
    [doc] = list(parse_yaml("labels: {1: a, true: b, 1.5: c, x: d}\n"))
    assert isinstance(doc, Document)
    assert doc.data == {"labels": {"1": "a", "true": "b", "1.5": "c", "x": "d"}}


@pytest.mark.parametrize("key", ["~", "null", "[a]", "{a: 1}", "!!null ''"])
def test_a_key_the_api_server_refuses_is_one_error_for_its_document(tmp_path: Path,
                                                                    key: str) -> None:
    bad = CM.format(name="bad") + f"  labels: {{{key}: x}}\n"
    path = write(tmp_path, "keys.yaml", bad + "---\n" + CM.format(name="ok"))
    result = scan([path], select=["KP0401"])
    [err] = result.errors
    assert err.line == 6 and "mapping key must be" in err.message
    assert located(result) == [("ok", 12, 3)]


def test_integers_past_64_bits_are_refused_without_converting_them(tmp_path: Path) -> None:
    huge = "9" * 5_000
    yaml_file = write(tmp_path, "a.yaml", CM.format(name="a") + f"data: {{n: {huge}}}\n")
    json_file = write(tmp_path, "b.json", '{"apiVersion": "v1", "kind": "ConfigMap", '
                      f'"metadata": {{"name": "b"}}, "data": {{"n": {huge}}}}}')
    good = write(tmp_path, "good.yaml", CM.format(name="ok"))
    result = scan([yaml_file, json_file, good], select=["KP0401"])
    assert sorted(Path(e.file).name for e in result.errors) == ["a.yaml", "b.json"]
    assert all("out of range" in e.message and huge[:40] not in e.message
               for e in result.errors)
    assert located(result) == [("ok", 5, 3)]


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_json_numbers_without_a_finite_value_are_refused(tmp_path: Path, number: str) -> None:
    path = write(tmp_path, "n.json", '{"apiVersion": "v1", "kind": "ConfigMap", '
                 f'"metadata": {{"name": "n"}}, "data": {{"n": {number}}}}}')
    [err] = scan([path], select=["KP0401"]).errors
    assert err.message.startswith("invalid JSON")


def test_a_lone_surrogate_in_json_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, "s.json", '{"apiVersion": "v1", "kind": "ConfigMap",\n'
                 '"metadata": {"name": "\\ud800"}}')
    good = write(tmp_path, "good.yaml", CM.format(name="ok"))
    result = scan([path, good], select=["KP0401"])
    [err] = result.errors
    assert err.line == 2 and "surrogate" in err.message
    assert located(result) == [("ok", 5, 3)]


@pytest.mark.parametrize("value", ["!Sup3rS3cret", "!!python/object:os.system x",
                                   "!<tag:example.com,2000:Sup3rS3cret> x", "!!binary x",
                                   "!!set {Sup3rS3cret}"])
def test_tags_are_never_echoed(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "t.yaml", CM.format(name="t") + f"data:\n  password: {value}\n")
    for fmt in ("text", "json", "sarif", "junit", "html", "codequality", "policyreport"):
        proc = kp("scan", path, "-f", fmt, "--no-config", timeout=60)
        assert proc.returncode in (1, 2), proc.stderr
        assert "Sup3rS3cret" not in proc.stdout + proc.stderr
        assert "os.system" not in proc.stdout + proc.stderr


def test_special_files_are_never_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    write(tmp_path, "good.yaml", CM.format(name="ok"))
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(
        scan([str(tmp_path), str(tmp_path / "pipe.yaml")], select=["KP0401"])), daemon=True)
    worker.start()
    worker.join(30)
    assert done, "the scan blocked on a FIFO"
    result = done[0]
    assert [e.message for e in result.errors] == [  # type: ignore[attr-defined]
        "not read: not a regular file (a FIFO, socket or device)"] * 2
    assert located(result) == [("ok", 5, 3)]  # type: ignore[arg-type]


def test_documents_past_the_limit_are_one_error(tmp_path: Path) -> None:
    one = "---\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: default}}\n"
    text = "".join(one.format(i=i) for i in range(MAX_OBJECTS_PER_FILE + 50))
    path = write(tmp_path, "many.yaml", text)
    result = scan([path], select=["KP0401"])
    [err] = result.errors
    assert err.line == MAX_OBJECTS_PER_FILE * 3 + 2
    assert "more than 10,000 documents or objects" in err.message
    assert len(located(result)) == MAX_OBJECTS_PER_FILE


def test_list_items_count_towards_the_limit(tmp_path: Path) -> None:
    item = "- {{kind: ConfigMap, apiVersion: v1, metadata: {{name: c{i}, namespace: default}}}}\n"
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        item.format(i=i) for i in range(MAX_OBJECTS_PER_FILE + 50))
    path = write(tmp_path, "list.yaml", text)
    result = scan([path], select=["KP0401"])
    [err] = result.errors
    assert "more than 10,000 documents or objects" in err.message
    assert len(located(result)) == MAX_OBJECTS_PER_FILE


def test_work_is_linear_in_broken_documents() -> None:
    # 20,000 broken documents: each restart reads only its own document
    text = '---\ndata: {a: "\x0c"}\n' * 20_000 + "---\nok: 1\n"
    out = list(parse_yaml(text))
    assert len(out) == 20_001 and isinstance(out[-1], Document)


# ---------------------------------------------------------------- properties

YAMLISH = st.lists(st.sampled_from([
    "---\n", "...\n", "a: 1\n", "- x\n", "[", "]", "{", "}", "&a ", "*a ", "!t ", "!!str ",
    "<<: *a\n", '"', "'", "\\ud800", "\x0c", "\x1b", "\x85", "\ufeff", "  ", "\t", ": ", "? ",
    "| \n", "> \n", "#c\n", "%YAML 1.1\n", "kind: Pod\n", "~: x\n", "9" * 50, "1e999",
    "\n", "- - - - - - - - - - - - - - - - - - - - - - - - - - - ",
]), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(YAMLISH, st.text(max_size=200)))
def test_parse_yaml_always_ends_with_documents_or_one_line_errors(text: str) -> None:
    for out in parse_yaml(text):
        if isinstance(out, YamlError):
            assert "\n" not in out.message
            assert out.line is None or out.line >= 1
        else:
            json.dumps(out.data, default=str)  # plain data


GOOD = CM.format(name="ok")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(YAMLISH.map(str.encode), st.binary(max_size=300)))
def test_scan_of_any_bytes_ends_and_still_reports_the_other_files(tmp_path: Path,
                                                                  data: bytes) -> None:
    (tmp_path / "hostile.yaml").write_bytes(data)
    (tmp_path / "good.yaml").write_text(GOOD)
    proc = kp("scan", str(tmp_path), "-f", "json", "--no-config", "--select", "KP0401",
              timeout=60)
    assert proc.returncode in (0, 1, 2)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    report = json.loads(proc.stdout)
    assert [(Path(f["file"]).name, f["line"]) for f in report["findings"]
            if f["object"]["name"] == "ok"] == [("good.yaml", 5)]
    for line in proc.stderr.splitlines():
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line)


@pytest.mark.parametrize("text", ['a: !!int ""\n', 'a: !!float ""\n', "a: !!int\n"])
def test_an_empty_tagged_number_is_one_error(text: str) -> None:
    [err] = list(parse_yaml(text))
    assert isinstance(err, YamlError) and err.line == 1 and "!!" in err.message


def test_documents_after_an_error_are_found_with_cr_line_breaks() -> None:
    out = list(parse_yaml("---\r\x08\r---\rb: 1\r"))
    assert [type(o).__name__ for o in out] == ["YamlError", "Document"]
