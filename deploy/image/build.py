"""Build kubeproof's container image without a Docker daemon, reproducibly.

The root filesystem is assembled from Debian bookworm packages (Python 3.11
and the few shared libraries it and the wheels load, unpacked with
``dpkg-deb -x``: no maintainer script runs, no dpkg database, no shell) and
the project's wheel with its dependencies (binary cp311 manylinux wheels,
versions pinned by ``requirements.txt`` beside this file). Byte code is
compiled ahead (unchecked-hash ``.pyc``: the root filesystem can be
read-only). The result is one gzip layer and an OCI image layout; ``--push``
sends it to a registry (``kubeproof.images.push``).

Two builds of the same commit give the same digest: every entry has mtime
``SOURCE_DATE_EPOCH`` (default 0) and owner 0:0, entries are sorted, GNU tar
headers carry no times beyond mtime, gzip's header has mtime 0. The Debian
package versions are the mirror's candidates at build time (recorded in the
image under ``/var/lib/dpkg/status.d``, the distroless convention scanners read).

Usage (Debian/Ubuntu host with apt lists, dpkg-deb and Python 3.11 pip)::

    python3 deploy/image/build.py --out build/image [--push REGISTRY/kubeproof:0.1.0]

It prints one JSON object: digest, sizes, packages. Same as the Dockerfile beside
this file, for those who build with docker/buildx.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import hashlib
import io
import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UID = GID = 65532
PYTHON = "/usr/bin/python3.11"
SITE = "usr/lib/python3/dist-packages"  # on Debian python3.11's sys.path
# The closure python3.11 -m kubeproof loads (ldd of the interpreter, the stdlib
# extension modules it imports and the wheels' .so files: cryptography, orjson,
# uvloop, httptools, pydantic-core link libgcc_s; the CEL runtime and RE2 libstdc++).
PACKAGES = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libexpat1", "libffi8", "libssl3",
            "libbz2-1.0", "liblzma5", "libuuid1", "libpython3.11-minimal", "libpython3.11-stdlib",
            "python3.11-minimal", "media-types", "ca-certificates")
# Dropped from the root filesystem: documentation, programs other than the
# interpreter (libc6's ldd, iconv... ; no shell is ever installed), charset
# converters Python does not use, stdlib parts an application never imports.
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
         "usr/share/locale", "usr/share/bug", "usr/share/gdb", "usr/share/binfmts",
         "usr/share/pixmaps", "usr/share/applications", "usr/share/python3",
         "usr/share/ca-certificates", "usr/sbin", "sbin", "bin", "usr/libexec",
         "usr/lib/x86_64-linux-gnu/gconv", "usr/lib/x86_64-linux-gnu/audit",
         "usr/lib/python3.11/ensurepip", "usr/lib/python3.11/idlelib",
         "usr/lib/python3.11/lib2to3", "usr/lib/python3.11/pydoc_data",
         "usr/lib/python3.11/turtledemo", "usr/lib/python3.11/test",
         "usr/lib/python3.11/unittest/test", "usr/lib/python3.11/sqlite3",
         "usr/lib/python3.11/tkinter", "usr/lib/python3.11/venv",
         "usr/lib/python3.11/config-3.11-x86_64-linux-gnu", "etc/python3.11/sitecustomize.py",
         "etc/cron.daily", "etc/init.d", "etc/ld.so.conf.d", "etc/ca-certificates.conf",
         "etc/ssl/certs/.keep", "usr/bin")
# manylinux_2_28 too: the CEL runtime (cel-expr-python) and RE2 ship only
# manylinux_2_27+ wheels; the image's Debian bookworm glibc is 2.36
PIP_PLATFORM = ("--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                "--implementation", "cp", "--abi", "cp311")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def run(*cmd: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"build: {' '.join(cmd[:4])} ... failed ({proc.returncode}):\n"
                 f"{proc.stderr[-3000:]}")
    return proc.stdout


def download_debs(cache: Path) -> list[Path]:
    """The .deb of each package (apt's candidate version), cached in ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = []
    for name in PACKAGES:
        version = run("apt-cache", "policy", name).split("Candidate:", 1)[-1].split()[0]
        if version in ("", "(none)"):
            sys.exit(f"build: apt knows no candidate for {name}: run apt-get update")
        wanted.append((name, version))
    missing = [f"{n}={v}" for n, v in wanted if not _deb(cache, n, v)]
    if missing:
        run("apt-get", "download", "-q", *missing, cwd=cache)
    debs = []
    for name, version in wanted:
        deb = _deb(cache, name, version)
        if deb is None:
            sys.exit(f"build: apt-get download gave no .deb for {name} {version}")
        debs.append(deb)
    return debs


def _deb(cache: Path, name: str, version: str) -> Path | None:
    quoted = version.replace(":", "%3a")
    for deb in cache.glob(f"{name}_*_*.deb"):
        if deb.name.split("_")[1] in (version, quoted):
            return deb
    return None


def unpack_debs(debs: list[Path], rootfs: Path) -> list[dict[str, str]]:
    packages = []
    status = rootfs / "var/lib/dpkg/status.d"
    for deb in debs:
        run("dpkg-deb", "-x", str(deb), str(rootfs))
        control = run("dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture",
                      "Source")
        fields = dict(line.split(": ", 1) for line in control.splitlines() if ": " in line)
        packages.append({"package": fields["Package"], "version": fields["Version"]})
        status.mkdir(parents=True, exist_ok=True)
        (status / fields["Package"]).write_text(control)
    return packages


def install_wheels(rootfs: Path, work: Path, cache: Path) -> None:
    """The project's wheel and its pinned dependencies into the image's site dir."""
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src))
    wheel = next(wheels.glob("kubeproof-*.whl"))
    target = rootfs / SITE
    run(sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--no-warn-script-location",
        "--target", str(target), "-c", str(HERE / "requirements.txt"), *PIP_PLATFORM,
        "--cache-dir", str(cache), str(wheel))
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts name the host python
    for found in sorted(target.glob("*.dist-info/direct_url.json")):  # names the build dir
        found.unlink()
        record = found.parent / "RECORD"
        record.write_text("".join(line for line in record.read_text().splitlines(True)
                                  if not line.startswith(f"{found.parent.name}/direct_url.json")))


def finish_rootfs(rootfs: Path) -> None:
    bundle = b"".join(p.read_bytes() for p in
                      sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt")))
    for rel in PRUNE:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for cache in sorted(rootfs.rglob("__pycache__")):
        shutil.rmtree(cache)
    (rootfs / "usr/bin").mkdir(parents=True)
    shutil.copy2(_unpacked_python(rootfs), rootfs / "usr/bin/python3.11")
    etc = rootfs / "etc"
    (etc / "ssl/certs").mkdir(parents=True, exist_ok=True)
    (etc / "ssl/certs/ca-certificates.crt").write_bytes(bundle)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/sbin/nologin\n"
                                f"nonroot:x:{UID}:{GID}:nonroot:/home/nonroot:/sbin/nologin\n")
    (etc / "group").write_text(f"root:x:0:\nnonroot:x:{GID}:\n")
    (etc / "os-release").write_text(
        'PRETTY_NAME="kubeproof (Debian GNU/Linux 12 packages, no shell)"\n'
        'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')
    for rel, mode in (("tmp", 0o1777), ("home/nonroot", 0o755), ("root", 0o700)):
        (rootfs / rel).mkdir(parents=True, exist_ok=True)
        (rootfs / rel).chmod(mode)
    for rel in ("usr/lib/python3.11", SITE):
        compileall.compile_dir(str(rootfs / rel), ddir=f"/{rel}", quiet=2, workers=0,
                               invalidation_mode=py_compile.PycInvalidationMode
                               .UNCHECKED_HASH)


def _unpacked_python(rootfs: Path) -> Path:
    """python3.11-minimal's interpreter, saved before usr/bin is pruned."""
    return rootfs.parent / "python3.11"


def layer_tar(rootfs: Path, epoch: int) -> bytes:
    """The root filesystem as a tar: sorted, owner 0:0, mtime ``epoch``, no pax times."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in _walk(rootfs):
            rel = path.relative_to(rootfs).as_posix()
            st = path.lstat()
            info = tarfile.TarInfo(rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
            info.mode = _mode(rel, st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                tar.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                data = path.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


_MODES = {"tmp": 0o1777, "root": 0o700}


def _mode(rel: str, st_mode: int) -> int:
    """A mode independent of the builder's umask: 0755 for directories and
    executables, 0644 for other files (no setuid, nothing writable but /tmp)."""
    if rel in _MODES:
        return _MODES[rel]
    executable = stat.S_ISDIR(st_mode) or st_mode & 0o111
    return 0o755 if executable else 0o644


def _walk(top: Path) -> list[Path]:
    """Every path under ``top`` (symlinks not followed), sorted by name."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top):
        base = Path(dirpath)
        found.extend(base / name for name in (*dirnames, *filenames))
    return sorted(found, key=lambda p: p.relative_to(top).as_posix())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layout(out: Path, rootfs: Path, epoch: int, version: str) -> dict[str, Any]:
    plain = layer_tar(rootfs, epoch)
    layer = gzip.compress(plain, compresslevel=6, mtime=0)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {
            "User": f"{UID}:{GID}", "Entrypoint": [PYTHON, "-m", "kubeproof"],
            "Cmd": ["--help"], "WorkingDir": "/home/nonroot",
            "Env": ["PATH=/usr/bin", "LANG=C.UTF-8", "HOME=/home/nonroot",
                    "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
                    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
            "Labels": {"org.opencontainers.image.title": "kubeproof",
                       "org.opencontainers.image.version": version,
                       "org.opencontainers.image.licenses": "Apache-2.0"}},
        "rootfs": {"type": "layers", "diff_ids": [digest(plain)]},
        "history": [{"created": created, "created_by":
                     "deploy/image/build.py: python3.11 from Debian bookworm packages "
                     "and the kubeproof wheel, no shell"}],
    }, sort_keys=True, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)}],
    }, sort_keys=True, separators=(",", ":")).encode()
    blobs = out / "blobs/sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / digest(blob).removeprefix("sha256:")).write_bytes(blob)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(manifest),
                       "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": version}}]},
        sort_keys=True))
    return {"digest": digest(manifest), "compressedSize": len(layer),
            "uncompressedSize": len(plain)}


def build(out: Path, cache: Path, epoch: int) -> dict[str, Any]:
    started = time.monotonic()
    work = out / "work"
    rootfs = work / "rootfs"
    for stale in (rootfs, out / "oci"):
        shutil.rmtree(stale, ignore_errors=True)
    rootfs.mkdir(parents=True)
    packages = unpack_debs(download_debs(cache / "debs"), rootfs)
    shutil.copy2(rootfs / "usr/bin/python3.11", _unpacked_python(rootfs))
    install_wheels(rootfs, work, cache / "pip")
    finish_rootfs(rootfs)
    version = run(sys.executable, "-c", "import tomllib,sys;print(tomllib.load("
                  "open(sys.argv[1],'rb'))['project']['version'])",
                  str(ROOT / "pyproject.toml")).strip()
    summary = write_layout(out / "oci", rootfs, epoch, version)
    summary.update({"layout": str(out / "oci"), "rootfs": str(rootfs), "version": version,
                    "packages": packages, "seconds": round(time.monotonic() - started, 1)})
    return summary


def main(argv: list[str] | None = None) -> int:
    if sys.version_info[:2] != (3, 11):
        sys.exit("build: run build.py with Python 3.11: it compiles the image's byte code "
                 "for the image's python3.11")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build/image",
                        help="directory for the OCI layout (out/oci) and the root "
                             "filesystem (out/work/rootfs)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="directory caching downloaded .debs (default: OUT/cache)")
    parser.add_argument("--push", metavar="REGISTRY/REPOSITORY:TAG",
                        help="push the image there (OCI distribution API)")
    parser.add_argument("--insecure-registry", action="store_true",
                        help="speak plain HTTP to the registry of --push")
    parser.add_argument("--registry-ca", type=Path, help="PEM CA bundle for the registry")
    parser.add_argument("--registry-auth", metavar="USER:VAR",
                        help="Basic auth for --push: USER and the password from "
                             "environment variable VAR")
    args = parser.parse_args(argv)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    out = args.out.resolve()
    summary = build(out, (args.cache or out / "cache").resolve(), epoch)
    if args.push:
        import httpx

        from kubeproof.images.push import PushError, push_layout
        user = password = None
        if args.registry_auth:
            user, _, var = args.registry_auth.partition(":")
            password = os.environ.get(var)
            if password is None:
                sys.exit(f"build: environment variable {var!r} is not set")
        try:
            pushed = push_layout(Path(summary["layout"]), args.push,
                                 insecure=args.insecure_registry,
                                 ca_file=str(args.registry_ca) if args.registry_ca else None,
                                 user=user, password=password)
        except (PushError, httpx.HTTPError, OSError) as err:
            sys.exit(f"build: push to {args.push!r} failed: {type(err).__name__}: {err}")
        summary["pushed"] = pushed
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
