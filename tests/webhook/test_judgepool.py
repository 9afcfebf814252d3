"""JudgePool: results, exceptions and deadlines of judgements run in its threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kubeproof.webhook.judgepool import JudgePool


def test_result_exception_and_deadline() -> None:
    pool = JudgePool(1, "test-judge")
    release = threading.Event()
    ran: list[str] = []

    def stuck(name: str) -> str:
        release.wait(5)
        return name

    def record(name: str) -> str:
        ran.append(name)
        return name

    def boom(name: str) -> str:
        raise ValueError(name)

    async def scenario() -> None:
        assert await pool.run(record, "first", 1.0) == "first"
        with pytest.raises(ValueError, match="bad"):
            await pool.run(boom, "bad", 1.0)
        # the only thread is stuck: the queued judgement times out and never runs
        stuck_run = asyncio.ensure_future(pool.run(stuck, "stuck", 5.0))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await pool.run(record, "queued", 0.1)
        release.set()
        assert await stuck_run == "stuck"
        assert await pool.run(record, "after", 1.0) == "after"

    asyncio.run(scenario())
    pool.shutdown()
    assert ran == ["first", "after"]
