"""The judge threads: judging runs off the event loop, answered by a deadline.

The event loop must stay free to answer every request at its deadline, so a
judgement runs in one of a few threads; a rule that never returns keeps its
thread, and once every thread is stuck each request waits in the queue and is
answered by the failure policy at its deadline.

Why not ``loop.run_in_executor`` with ``asyncio.wait_for``: that hand-off
(a ``concurrent.futures.Future`` with its condition variable, chained to an
asyncio future, plus the waiter and timer of ``wait_for``) cost ~110 us of CPU
per request, against ~40 us here: one queue put, one asyncio future the loop
times out itself, one ``call_soon_threadsafe`` back. Same outcomes: the result,
the judgement's own exception, or :class:`TimeoutError` at the deadline (a
judgement that has not started by then is not run at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


class JudgePool:
    def __init__(self, threads: int, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
                         for i in range(threads)]
        self._started = False
        self._lock = threading.Lock()

    async def run(self, fn: Callable[[Any], Any], arg: Any, timeout: float) -> Any:
        """``fn(arg)`` in a judge thread; TimeoutError when not done by ``timeout`` s."""
        if not self._started:
            self._start()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        timer = loop.call_later(timeout, _expire, fut)
        self._queue.put((fn, arg, fut, loop))
        try:
            return await fut
        finally:
            timer.cancel()

    def shutdown(self) -> None:
        """Stop the idle threads; a stuck one stays (daemon: it does not hold the exit)."""
        for _ in self._threads:
            self._queue.put(_STOP)

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                for t in self._threads:
                    t.start()
                self._started = True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, arg, fut, loop = item
            if fut.done():  # timed out (or cancelled) while queued
                continue
            try:
                result, error = fn(arg), None
            except BaseException as exc:  # handed to the awaiting request
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, fut, result, error)


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # answered at the deadline already
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
