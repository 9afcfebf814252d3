import gc
import json

import pytest

import kubeproof
from kubeproof.reports import FORMATS, render
from tests.reports.helpers import fixture_scan


def test_every_format_renders_with_the_common_options() -> None:
    result = fixture_scan()
    for fmt in FORMATS:
        out = render(fmt, result, tool_version="1", color=False, width=120, quiet=False,
                     root=None)
        assert out.endswith("\n")
        assert out.strip()


def test_tool_version_defaults_to_the_package_version() -> None:
    doc = json.loads(render("json", fixture_scan()))
    assert doc["tool"]["version"] == kubeproof.__version__


def test_unknown_format_and_option_are_errors() -> None:
    result = fixture_scan()
    with pytest.raises(ValueError, match=r"unknown report format 'pdf'.*sarif"):
        render("pdf", result)
    with pytest.raises(TypeError):
        render("json", result, colour=True)


def test_render_restores_the_garbage_collector() -> None:
    assert gc.isenabled()
    render("json", fixture_scan())
    assert gc.isenabled()
