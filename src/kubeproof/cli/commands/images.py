"""``kubeproof images``: the inventory of the container images a set uses.

For every image reference: where it is used (file and line of the ``image``
field, the object, the container), its registry, repository, tag and digest
as written, and what the offline KP0103 table knows of its base. Offline by
default: no registry is asked. With ``--check-images`` (and the same registry
flags as ``scan``) each distinct image is resolved once, with the pull
credentials its workloads would use (``kubeproof.images.check``), adding the
resolved digest, OS/architecture, base, size and user of the image, and each
registry's availability and latency.

Exit code 0, or 2 for a usage error or an input that could not be read. The
inventory judges nothing: ``scan --check-images`` does.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from kubeproof.cli.common import config_options, config_or_exit, echo, require_paths
from kubeproof.cli.image_options import registry_options, registry_settings_or_exit
from kubeproof.core.inventory import Entry, inventory
from kubeproof.images.check import OK, ImageCheck, ImageFacts, judged
from kubeproof.k8s.imageref import parse_image
from kubeproof.k8s.workloads import template_paths
from kubeproof.reports import object_label, registry_rows
from kubeproof.reports.text import console_text, make_console, registries_table
from kubeproof.rules.p01_images import classify_base
from kubeproof.util.terminal import safe

if TYPE_CHECKING:
    from kubeproof.core.index import Index
    from kubeproof.images.oci import ImageInfo
    from kubeproof.model import InputError


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output format [default: text].")
@click.option("--check-images", is_flag=True,
              help="Resolve each image at its registry (digest, OS, size, user).")
@registry_options
@config_options("custom pod-template kinds (workloads.podTemplatePaths) and image "
                "settings")
@click.option("--no-color", is_flag=True, help="Plain text output.")
def images(paths: tuple[str, ...], fmt: str, check_images: bool, platform: str,
           registry_ca: str | None, insecure_registries: tuple[str, ...],
           registry_auth: tuple[str, ...], image_cache: str | None, config_path: str | None,
           no_config: bool, no_color: bool) -> None:
    """List every container image of the manifests and where it is used.

    Exit codes: 0 listed; 2 usage error, a path that does not exist, or an
    input that could not be read (the list covers the rest).
    """
    require_paths(paths)
    config = config_or_exit(config_path, no_config)
    checks = registry_settings_or_exit(check_images, platform, registry_ca,
                                       insecure_registries, registry_auth, image_cache)
    index, entries, errors = inventory(list(paths), keep_credentials=checks is not None,
                                       templates=template_paths(config.pod_template_paths))
    for err in errors:
        echo(err, err=True)
    registries: list[Any] = []
    if checks is not None:
        facts = ImageCheck(checks).gather(index, config.max_registry_latency_ms)
        _attach(index, entries, facts)
        registries = list(facts.registries.values())
    if fmt == "json":
        click.echo(json.dumps(_json(entries, registries, errors), indent=2))
    else:
        color = not no_color and sys.stdout.isatty()
        sys.stdout.write(_text(entries, registries, color, checks is not None))
    sys.exit(2 if errors else 0)


def _attach(index: Index, entries: dict[str, Entry], facts: ImageFacts) -> None:
    """Give each image what the registry said: the first answer that resolved
    it (workloads may pull it with different credentials), else the first."""
    for j in judged(index, facts):
        entry = entries.get(j.container.image or "")
        if entry is None:
            continue
        if entry.info is None or (entry.info.outcome != OK and j.info.outcome == OK):
            entry.info = j.info


def describe(image: str) -> dict[str, Any]:
    """What the reference itself says: registry, repository, tag, digest, base."""
    ref = parse_image(image)
    if ref.invalid:
        return {"image": image, "error": ref.error}
    verdict, label = classify_base(ref)
    return {"image": image, "registry": ref.registry, "repository": ref.repository,
            "tag": ref.tag, "digest": ref.digest, "base": {"verdict": verdict, "name": label}}


def _resolved(info: ImageInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    size, how = (info.uncompressed_size, "uncompressed") if info.uncompressed_size else \
        (info.compressed_size, "compressed")
    return {"outcome": info.outcome, "error": info.error, "digest": info.digest,
            "platformDigest": info.platform_digest, "mediaType": info.media_type,
            "os": info.os, "architecture": info.architecture, "user": info.user,
            "created": info.created, "baseHints": info.base_hints, "size": size,
            "sizeKind": how if size else None}


def _json(entries: dict[str, Entry], registries: list[Any], errors: list[InputError]
          ) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "images": [{**describe(e.image), "uses": [u.to_dict() for u in e.uses],
                    "resolved": _resolved(e.info)} for e in entries.values()],
        "errors": [e.to_dict() for e in errors],
    }
    if registries:
        doc["registries"] = registry_rows(registries)
    return doc


def _size(n: int | None) -> str:
    if not n:
        return "-"
    if n < 1024:
        return f"{n} B"
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def _text(entries: dict[str, Entry], registries: list[Any], color: bool, resolved: bool) -> str:


    table = Table(title=f"Images ({len(entries)})", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("image", "registry", "tag", "digest", "base", "used at"):
        table.add_column(column, overflow="fold")
    if resolved:
        for column in ("resolved", "os/arch", "size", "user"):
            table.add_column(column)
    for e in entries.values():
        d = describe(e.image)
        uses = "\n".join(safe(f"{u.file}:{u.line} {object_label(u.kind, u.namespace, u.name)} "
                              f"[{u.container}]") for u in e.uses)
        if "error" in d:
            row = [e.image, "-", "-", "-", f"invalid: {d['error']}", uses]
        else:
            base = d["base"]["name"] if d["base"]["verdict"] != "unknown" else "-"
            row = [e.image, d["registry"], d["tag"] or "-", _short(d["digest"]), base, uses]
        if resolved:
            row += _resolved_cells(e.info)
        # cells are plain text: manifest content is never read as rich markup; each
        # line of a cell is escaped (the line breaks between uses are ours)
        table.add_row(*(Text("\n".join(safe(part) for part in str(c).split("\n")))
                        for c in row))
    console, buf = make_console(color, width=200)
    console.print(table)
    if registries:
        console.print(registries_table(registries))
    return console_text(buf, color)


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "-"


def _resolved_cells(info: ImageInfo | None) -> list[str]:
    if info is None:
        return ["-", "-", "-", "-"]
    if info.outcome != "ok":
        return [f"{info.outcome}: {info.error}", "-", "-", "-"]
    data = _resolved(info) or {}
    platform = f"{info.os or '?'}/{info.architecture or '?'}"
    size = _size(data["size"]) + (" (compressed)" if data["sizeKind"] == "compressed" else "")
    hints = f"\nbase: {', '.join(info.base_hints)}" if info.base_hints else ""
    user = "-" if info.user is None else (info.user or "root (no USER)")
    return [_short(info.digest) + hints, platform, size, user]
