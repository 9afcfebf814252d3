# kubeproof's image for docker/buildx users:
#   docker buildx build -t registry.example.com/tools/kubeproof:0.1.0 --push .
# The daemonless, reproducible build the tests run is deploy/image/build.py
# (same layout: Python 3.11 of Debian 12, the wheel and its pinned dependencies,
# no shell, user 65532, entrypoint `python3 -m kubeproof`); docs/webhook-install.md
# tells how to push either to your own registry and pin the digest.
#
# Both bases are pinned by digest (KP0104). To move to newer ones, take the
# digests from `docker buildx imagetools inspect python:3.11-slim-bookworm` and
# `... gcr.io/distroless/python3-debian12:nonroot`, then check with
# `kubeproof scan --select KP0101,KP0104 Dockerfile`.

FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY deploy/image/requirements.txt /constraints.txt
# Binary cp311 wheels only: they run on the distroless image's Debian python3.11.
RUN python -m pip wheel --no-cache-dir --no-deps -w /wheels . \
 && python -m pip install --no-cache-dir --no-compile --only-binary=:all: \
      -c /constraints.txt --target /install /wheels/kubeproof-*.whl \
 && rm -rf /install/bin

FROM gcr.io/distroless/python3-debian12:nonroot@sha256:7d1042ce588ab97019fe95c24ffca7bc5a82ccdac572511d5e09bda4435c89c5
COPY --from=build /install /app/site-packages
ENV PYTHONPATH=/app/site-packages PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["/usr/bin/python3", "-m", "kubeproof"]
CMD ["--help"]
