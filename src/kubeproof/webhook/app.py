"""The webhook's ASGI app (Starlette): the endpoints the API server and Prometheus call.

``POST /validate`` and ``POST /mutate`` take an AdmissionReview and always
answer with one, or with a 4xx and a one-line JSON ``error`` when the body is
not an AdmissionReview at all (over 3 MiB: 413; not JSON, wrong apiVersion or
kind, no ``request``, no ``uid``: 400; not all received by the deadline: 408).
A request whose fields have the wrong types gets a well-formed AdmissionReview
that refuses it (code 400, the field named, no value quoted). Each of these is
one log line. Never a 500: an exception while judging, a rule error, a judge
process that died, a judgement slower than the deadline (``webhook.deadlineMs``,
counted from the request's arrival, body read included) or any unexpected
error is answered by the failure policy (``webhook.failurePolicy``) and counted.

Judging runs in forked worker processes (:mod:`kubeproof.webhook.judgepool`):
one that is not done by the deadline is killed and replaced, so a rule that
never returns cannot wedge the server.
``GET /healthz`` (alive: the event loop answers), ``GET /readyz`` (serving: 503
while a judge process is stuck or missing), ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kubeproof.core.config import load_config
from kubeproof.k8s.quantity import decimal_int
from kubeproof.webhook import metrics
from kubeproof.webhook.admission import (
    MAX_BODY_BYTES,
    AdmissionRequest,
    AdmissionResponse,
    BadReview,
    decode,
    log_safe,
)
from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.judge import Decision, Judge
from kubeproof.webhook.judgepool import JudgementFailed, JudgePool, WorkerDied
from kubeproof.webhook.policy import load_policy
from kubeproof.webhook.settings import AppSettings

LOG = logging.getLogger("kubeproof.webhook")
JUDGE_PROCESSES = 2


class TooLarge(Exception):
    pass


@dataclass(slots=True)
class Verdict:
    """What a judge process sends back: the decision without its rule objects
    (they hold functions; only what the answer and the metrics need crosses)."""

    response: AdmissionResponse
    event: dict[str, Any] | None
    outcome: str
    modes: list[tuple[str, str]] = field(default_factory=list)  # (rule code, mode)
    fixed: list[str] = field(default_factory=list)
    exempted: int = 0

    @classmethod
    def of(cls, decision: Decision) -> Verdict:
        return cls(decision.response, decision.event, decision.outcome,
                   [(f.rule.code, mode) for f, mode in decision.findings],
                   decision.fixed, decision.exempted)


def app_from_env() -> Starlette:
    """The app factory uvicorn calls in each worker."""
    settings = AppSettings.from_env()
    config = load_config(settings.config_path)
    policy = load_policy(config, settings.namespace)
    return create_app(Judge(config, policy, policy_paths=settings.policy_paths),
                      AuditSink(policy.audit))


def create_app(judge: Judge, sink: AuditSink, judges: int = JUDGE_PROCESSES) -> Starlette:
    pool = JudgePool({"validate": lambda req: Verdict.of(judge.validate(req)),
                      "mutate": lambda req: Verdict.of(judge.mutate(req))}, judges)
    deadline = judge.policy.deadline_ms / 1000
    state = {"ready": False}

    async def answer(request: Request, endpoint: str) -> Response:
        started = time.perf_counter()
        try:
            return await _answer(request, endpoint, started)
        except Exception as exc:  # never a 500, never a traceback in the log
            LOG.error("internal error answering /%s: %s", endpoint, type(exc).__name__)
            metrics.INTERNAL_ERRORS.labels(endpoint, "exception").inc()
            return JSONResponse({"error": "internal error reading the request"}, 400)

    async def _answer(request: Request, endpoint: str, started: float) -> Response:
        try:
            body = await asyncio.wait_for(_read_body(request), deadline)
            req = decode(body)
        except TooLarge:
            return _refused(endpoint, "too_large", 413,
                            f"request body is over {MAX_BODY_BYTES} bytes")
        except BadReview as exc:
            return _refused(endpoint, "not_admission_review", 400, str(exc))
        except TimeoutError:
            return _refused(endpoint, "body_timeout", 408,
                            "request body not received within the deadline")
        except ClientDisconnect:
            LOG.warning("client disconnected from /%s before sending the whole body", endpoint)
            metrics.BAD_REQUESTS.labels(endpoint, "disconnected").inc()
            return Response(status_code=400)
        metrics.labelled(metrics.REQUESTS, endpoint, req.operation or "unknown").inc()
        verdict = await _judge(req, endpoint, deadline - (time.perf_counter() - started))
        _count(endpoint, verdict)
        if verdict.event is not None:
            sink.emit(verdict.event)
        metrics.labelled(metrics.LATENCY, endpoint).observe(time.perf_counter() - started)
        return Response(verdict.response.encode(), media_type="application/json")

    async def _judge(req: AdmissionRequest, endpoint: str, remaining: float) -> Verdict:
        if req.problem is not None:
            LOG.warning("refused an AdmissionReview on /%s (uid %s): %s", endpoint,
                        log_safe(req.uid), req.problem)
            resp = AdmissionResponse(uid=req.uid, allowed=False, code=400, message=req.problem)
            return Verdict(resp, None, "invalid")
        reason = "deadline"
        try:
            if remaining > 0:
                verdict: Verdict = await pool.run(endpoint, req, remaining)
                return verdict
        except TimeoutError:
            pass
        except JudgementFailed as exc:
            reason = "rule_error" if exc.args[0] == "JudgementError" else "exception"
            LOG.error("judging /%s (uid %s) failed: %s", endpoint, log_safe(req.uid),
                      exc.args[0])
        except WorkerDied:
            reason = "exception"
            LOG.error("the judge process for /%s (uid %s) died", endpoint, log_safe(req.uid))
        return Verdict.of(_failed(judge, req, endpoint, reason))

    async def validate(request: Request) -> Response:
        return await answer(request, "validate")

    async def mutate(request: Request) -> Response:
        return await answer(request, "mutate")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        if state["ready"] and pool.ready():
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sink.start()
        pool.start()
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            pool.shutdown()
            sink.stop()

    return Starlette(routes=[
        Route("/validate", validate, methods=["POST"]),
        Route("/mutate", mutate, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ], lifespan=lifespan)


def _refused(endpoint: str, reason: str, status: int, message: str) -> Response:
    """A body that is not an answerable AdmissionReview: one log line, one JSON error."""
    LOG.warning("refused a request to /%s (HTTP %d): %s", endpoint, status, message)
    metrics.BAD_REQUESTS.labels(endpoint, reason).inc()
    return JSONResponse({"error": message}, status)


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it is known to be over the limit."""
    length = decimal_int(request.headers.get("content-length", ""))  # "²" is no length
    if length is not None and length > MAX_BODY_BYTES:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _failed(judge: Judge, req: AdmissionRequest, endpoint: str, reason: str) -> Decision:
    metrics.INTERNAL_ERRORS.labels(endpoint, reason).inc()
    return judge.failure(req, reason, mutating=endpoint == "mutate")


def _count(endpoint: str, verdict: Verdict) -> None:
    metrics.labelled(metrics.DECISIONS, endpoint, verdict.outcome).inc()
    if verdict.outcome == "invalid":
        metrics.BAD_REQUESTS.labels(endpoint, "invalid_request").inc()
    for code, mode in verdict.modes:
        metrics.labelled(metrics.FINDINGS, code, mode).inc()
    for code in verdict.fixed:
        metrics.labelled(metrics.FINDINGS, code, "fixed").inc()
    if verdict.exempted:
        metrics.FINDINGS.labels("-", "exempted").inc(verdict.exempted)
