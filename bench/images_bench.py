"""Registry client benchmark: resolve 500 distinct images on a local docker-registry.

Everything is timed in this one run, side by side, because these machines are
noisy: read the ratios, not the seconds.

  1. Setup: start Debian's docker-registry (plain HTTP; TLS + htpasswd
     Basic auth, spoken over HTTP/2, with ``--auth basic``; token auth with
     ``--auth token``) on loopback and push ``--images`` small images, ten
     tags per repository.
  2. Transport floor: one manifest GET per image with bare httpx, from a
     thread pool on the sync ``Client`` and from ``asyncio`` on the
     ``AsyncClient``, both 16 in flight: the cost of the HTTP round trips
     alone, and the measurement behind the client's choice of threads.
  3. ``RegistryClient.resolve_many`` (manifest + config per image, token
     flow when on): cold with concurrency 1 and 16, cold while filling an
     on-disk cache, warm (the same client again: its per-run cache), and a
     new client on the filled on-disk cache.
  4. With plain HTTP, cold through :class:`SlowRelay` holding each answer
     ``--rtt-ms`` (a registry across a network) at concurrency 1, 4 and 16.

Usage: PYTHONPATH=src python bench/images_bench.py [--images 500] [--auth none|basic|token]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubeproof.images.credentials import Credentials  # noqa: E402
from kubeproof.images.oci import ACCEPT, RegistryClient, RegistryOptions  # noqa: E402
from tests.support.registry_server import (  # noqa: E402
    Pusher,
    RunningRegistry,
    SlowRelay,
    TokenService,
    build_image,
    start_registry,
    stop_registry,
)

USER, PASSWORD = "bench", "bench-password"
TAGS_PER_REPO = 10


def push_all(reg: RunningRegistry, count: int) -> list[str]:
    """Push ``count`` images (ten tags a repository); return their references."""
    names = [(f"bench/app{i // TAGS_PER_REPO}", f"v{i % TAGS_PER_REPO}") for i in range(count)]
    pusher = Pusher(reg)

    def push(name: tuple[str, str]) -> None:
        repo, tag = name
        image = build_image(repo, labels={"image": f"{repo}:{tag}"}, layer_count=1)
        pusher.image(repo, tag, image)

    # one tag per repository first, so each repository's shared layer is uploaded once
    firsts = [n for n in names if n[1] == "v0"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(push, firsts))
        list(pool.map(push, [n for n in names if n[1] != "v0"]))
    pusher.close()
    return [f"{reg.host}/{repo}:{tag}" for repo, tag in names]


def rate(label: str, count: int, seconds: float, base: float | None) -> float:
    per_s = count / seconds
    ratio = f"{per_s / base:8.2f}x" if base else "  (base)"
    print(f"  {label:<46} {seconds:7.3f} s {per_s:10.0f} images/s {ratio}")
    return per_s


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def manifest_urls(reg: RunningRegistry, refs: list[str]) -> list[str]:
    out = []
    for ref in refs:
        name, _, tag = ref.partition("/")[2].rpartition(":")
        out.append(f"{reg.url}/v2/{name}/manifests/{tag}")
    return out


def floor_threads(urls: list[str], headers: dict[str, str]) -> None:
    with httpx.Client(http2=True, limits=httpx.Limits(max_connections=16)) as http, \
            ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda u: http.get(u, headers=headers).status_code, urls))
    assert set(codes) == {200}, set(codes)


def floor_asyncio(urls: list[str], headers: dict[str, str]) -> None:
    async def run() -> None:
        slots = asyncio.Semaphore(16)
        async with httpx.AsyncClient(http2=True,
                                     limits=httpx.Limits(max_connections=16)) as http:
            async def get(url: str) -> int:
                async with slots:
                    return (await http.get(url, headers=headers)).status_code
            codes = await asyncio.gather(*(get(u) for u in urls))
        assert set(codes) == {200}, set(codes)
    asyncio.run(run())


def wan(reg: RunningRegistry, refs: list[str], creds: tuple[Credentials, ...],
        rtt_ms: float) -> None:
    """Cold resolves through a relay that holds each answer ``rtt_ms``: a registry
    across a network, where concurrency, not CPU, sets the pace."""
    relay = SlowRelay(reg.host, rtt_ms)
    try:
        moved = [ref.replace(reg.host, relay.host, 1) for ref in refs]
        requests = [(ref, creds) for ref in moved]
        print(f"cold through a relay adding {rtt_ms:g} ms per answer ({len(refs)} images, "
              "plain HTTP only):")
        base = None
        for concurrency in (1, 4, 16):
            opts = RegistryOptions(insecure=frozenset({relay.host}), concurrency=concurrency)
            with RegistryClient(opts) as client:
                seconds = timed(lambda c=client: c.resolve_many(requests))
                per_s = rate(f"concurrency {concurrency}", len(refs), seconds, base)
                base = base or per_s
    finally:
        relay.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--auth", choices=("none", "basic", "token"), default="none")
    parser.add_argument("--rtt-ms", type=float, default=20.0,
                        help="delay per answer for the relayed run (0: skip it)")
    parser.add_argument("--wan-images", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        service = TokenService({USER: PASSWORD}) if args.auth == "token" else None
        reg = start_registry(Path(tmp) / "registry", token=service, tls=args.auth == "basic",
                             users={USER: PASSWORD} if args.auth == "basic" else None)
        try:
            start = time.perf_counter()
            refs = push_all(reg, args.images)
            print(f"pushed {len(refs)} images in {len(refs) // TAGS_PER_REPO} repositories "
                  f"({time.perf_counter() - start:.1f} s), auth: {args.auth}")
            creds: tuple[Credentials, ...] = (
                (Credentials(USER, PASSWORD, "bench"),) if args.auth != "none" else ())
            requests = [(ref, creds) for ref in refs]
            n = len(refs)

            def options(**kw: object) -> RegistryOptions:
                insecure = frozenset({reg.host}) if reg.scheme == "http" else frozenset()
                return RegistryOptions(insecure=insecure, ca_bundle=reg.ca_file,
                                       **kw)  # type: ignore[arg-type]

            if args.auth == "none":
                urls = manifest_urls(reg, refs)
                headers = {"Accept": ACCEPT}
                print("transport floor (one manifest GET per image, 16 in flight):")
                threads = rate("httpx.Client + 16 threads", n,
                               timed(lambda: floor_threads(urls, headers)), None)
                rate("httpx.AsyncClient + asyncio", n,
                     timed(lambda: floor_asyncio(urls, headers)), threads)

            print("RegistryClient.resolve_many (manifest + config per image):")
            with RegistryClient(options(concurrency=16)) as client:
                cpu = time.process_time()
                cold = rate("cold, concurrency 16", n,
                            timed(lambda: client.resolve_many(requests)), None)
                cpu = time.process_time() - cpu
                sent = client.requests
                rate("warm per-run cache (same client again)", n,
                     timed(lambda: client.resolve_many(requests)), cold)
                assert client.requests == sent
            with RegistryClient(options(concurrency=1)) as client:
                rate("cold, concurrency 1", n, timed(lambda: client.resolve_many(requests)), cold)
            cache = str(Path(tmp) / "cache")
            with RegistryClient(options(cache_dir=cache)) as client:
                rate("cold, filling the on-disk cache", n,
                     timed(lambda: client.resolve_many(requests)), cold)
                results = client.resolve_many(requests)
            with RegistryClient(options(cache_dir=cache)) as client:
                rate("on-disk cache, new client", n,
                     timed(lambda: client.resolve_many(requests)), cold)
                misses = client.requests
            errors = sorted({i.error or "" for i in results.values() if not i.ok})
            print(f"  requests per image, cold: {sent / n:.2f}; client CPU per image, cold: "
                  f"{cpu / n * 1000:.1f} ms; requests with the disk cache: {misses}; "
                  f"outcomes: {sorted({i.outcome for i in results.values()})} {errors}")
            if args.rtt_ms:
                wan(reg, refs[:args.wan_images], creds, args.rtt_ms)
        finally:
            stop_registry(reg)
            if service:
                service.stop()


if __name__ == "__main__":
    main()
