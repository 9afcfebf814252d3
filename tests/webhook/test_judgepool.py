"""JudgePool: results, errors and deadlines of judgements run in its worker processes."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from kubeproof.webhook.judgepool import JudgementFailed, JudgePool, WorkerDied


def spin(arg: str) -> str:
    """A judgement that never ends (pure Python: only a kill stops it)."""
    while True:
        pass


def echo(arg: str) -> str:
    return f"{arg} from {os.getpid()}"


def boom(arg: str) -> str:
    raise KeyError(arg)


def die(arg: str) -> str:
    os._exit(3)


HANDLERS = {"spin": spin, "echo": echo, "boom": boom, "die": die}


def _alive(pid: int) -> bool:
    """Running (a killed worker not yet reaped is a zombie: not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.01)
    return not _alive(pid)


def test_result_error_crash_and_deadline_kill() -> None:
    async def scenario() -> None:
        pool = JudgePool(HANDLERS, 1)
        pool.start()
        try:
            first = await pool.run("echo", "a", 2.0)
            assert first.startswith("a from ") and not first.endswith(str(os.getpid()))
            pid = int(first.rsplit(" ", 1)[1])
            with pytest.raises(JudgementFailed) as failed:
                await pool.run("boom", "secret-value", 2.0)
            assert failed.value.args == ("KeyError",)  # the type only, never the text
            assert pool.ready()
            # the only worker spins: it is killed at the deadline, and replaced
            started = time.monotonic()
            spinning = asyncio.ensure_future(pool.run("spin", "x", 0.3))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):  # queued behind it: its own deadline
                await pool.run("echo", "queued", 0.1)
            with pytest.raises(TimeoutError):
                await spinning
            assert time.monotonic() - started < 2.5
            assert _gone_within(pid, 2.0)  # SIGKILL takes effect asynchronously
            assert pool.ready() and pool.alive() == 1
            again = await pool.run("echo", "b", 2.0)
            assert again.startswith("b from ") and not again.endswith(str(pid))
            with pytest.raises(WorkerDied):
                await pool.run("die", "x", 2.0)
            assert (await pool.run("echo", "c", 2.0)).startswith("c from ")
        finally:
            pool.shutdown()
        assert not pool.ready()

    asyncio.run(scenario())


def test_not_ready_while_a_worker_is_stuck_past_its_deadline() -> None:
    async def scenario() -> None:
        pool = JudgePool(HANDLERS, 2)
        pool.start()
        try:
            assert pool.ready() and pool.alive() == 2
            # a stuck worker that was not replaced yet (the deadline callback has
            # not run): readiness looks at the clock, not at the callback
            loop = asyncio.get_running_loop()
            task = asyncio.ensure_future(pool.run("spin", "x", 0.2))
            await asyncio.sleep(0.05)
            assert pool.ready()
            time.sleep(0.3)  # block the loop past the deadline
            assert not pool.ready()
            with pytest.raises(TimeoutError):
                await task
            assert pool.ready()
            assert loop.is_running()
        finally:
            pool.shutdown()

    asyncio.run(scenario())
