"""The webhook's ASGI app (Starlette): the endpoints the API server and Prometheus call.

``POST /validate`` and ``POST /mutate`` take an AdmissionReview and always
answer with one, or with a 4xx and a one-line JSON ``error`` when the body is
not an AdmissionReview at all (over 3 MiB: 413; not JSON, wrong apiVersion or
kind, no ``request``, no ``uid``: 400). Never a 500: an exception while judging,
a rule error, or a judgement slower than the deadline (``webhook.deadlineMs``)
is answered by the failure policy (``webhook.failurePolicy``) and counted.

Judging runs in a few threads (:mod:`kubeproof.webhook.judgepool`) so the
event loop can keep the deadline; a rule that never returns keeps its thread,
and once every thread is stuck each request is answered by the failure policy
at its deadline.
``GET /healthz`` (alive), ``GET /readyz`` (serving), ``GET /metrics``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kubeproof.webhook import metrics
from kubeproof.webhook.admission import MAX_BODY_BYTES, AdmissionRequest, BadReview, decode
from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.judge import Decision, Judge, JudgementError
from kubeproof.webhook.judgepool import JudgePool
from kubeproof.webhook.settings import AppSettings

LOG = logging.getLogger("kubeproof.webhook")
JUDGE_THREADS = 4


class TooLarge(Exception):
    pass


def app_from_env() -> Starlette:
    """The app factory uvicorn calls in each worker."""
    from kubeproof.config import load_config
    from kubeproof.webhook.policy import load_policy

    settings = AppSettings.from_env()
    config = load_config(settings.config_path)
    policy = load_policy(config, settings.namespace)
    return create_app(Judge(config, policy), AuditSink(policy.audit))


def create_app(judge: Judge, sink: AuditSink) -> Starlette:
    pool = JudgePool(JUDGE_THREADS, "kubeproof-judge")
    deadline = judge.policy.deadline_ms / 1000
    state = {"ready": False}

    async def answer(request: Request, endpoint: str,
                     judge_fn: Callable[[AdmissionRequest], Decision]) -> Response:
        started = time.perf_counter()
        try:
            body = await _read_body(request)
            req = decode(body)
        except TooLarge:
            metrics.BAD_REQUESTS.labels(endpoint, "too_large").inc()
            return JSONResponse({"error": f"request body is over {MAX_BODY_BYTES} bytes"}, 413)
        except BadReview as exc:
            metrics.BAD_REQUESTS.labels(endpoint, "not_admission_review").inc()
            return JSONResponse({"error": str(exc)}, 400)
        metrics.labelled(metrics.REQUESTS, endpoint, req.operation or "unknown").inc()
        try:
            decision = await pool.run(judge_fn, req, deadline)
        except TimeoutError:
            decision = _failed(judge, req, endpoint, "deadline")
        except JudgementError:
            decision = _failed(judge, req, endpoint, "rule_error")
        except Exception as exc:  # never a 500: the failure policy answers
            # the exception text is not logged: it could quote a value of the object
            LOG.error("internal error judging %s (uid %s): %s", endpoint, req.uid,
                      type(exc).__name__)
            decision = _failed(judge, req, endpoint, "exception")
        _count(endpoint, decision)
        if decision.event is not None:
            sink.emit(decision.event)
        metrics.labelled(metrics.LATENCY, endpoint).observe(time.perf_counter() - started)
        return Response(decision.response.encode(), media_type="application/json")

    async def validate(request: Request) -> Response:
        return await answer(request, "validate", judge.validate)

    async def mutate(request: Request) -> Response:
        return await answer(request, "mutate", judge.mutate)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        if state["ready"]:
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sink.start()
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            sink.stop()
            pool.shutdown()

    return Starlette(routes=[
        Route("/validate", validate, methods=["POST"]),
        Route("/mutate", mutate, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ], lifespan=lifespan)


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it is known to be over the limit."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
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


def _count(endpoint: str, decision: Decision) -> None:
    metrics.labelled(metrics.DECISIONS, endpoint, decision.outcome).inc()
    if decision.outcome == "invalid":
        metrics.BAD_REQUESTS.labels(endpoint, "invalid_request").inc()
    for finding, mode in decision.findings:
        metrics.labelled(metrics.FINDINGS, finding.rule.code, mode).inc()
    for code in decision.fixed:
        metrics.labelled(metrics.FINDINGS, code, "fixed").inc()
