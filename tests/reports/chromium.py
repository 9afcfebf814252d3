"""Headless Chromium driven over the Chrome DevTools Protocol, for the HTML report tests.

Why CDP over a websocket, not selenium or playwright: the websocket client
(``websocket-client``) is already installed with the ``kubernetes`` package,
so the tests need nothing but Debian's ``chromium``; CDP gives what the tests
check directly (screenshots, every network request the page makes, offline
emulation, real mouse clicks) where selenium would add chromedriver and a
second process, and playwright a 100 MB driver download pinned to its own
browser builds. Chromium starts in about half a second here.

One :class:`Browser` per test module (it costs a process); :meth:`Browser.page`
opens a fresh tab.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*")
TIMEOUT = 20.0


class CdpError(RuntimeError):
    pass


class Browser:
    """A headless Chromium and one websocket to it (browser endpoint, flat sessions)."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="kp-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while True:
            text = port_file.read_text() if port_file.exists() else ""
            if text.count("\n") >= 1 and text.split("\n")[1]:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CdpError("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.05)
        port, path = text.split("\n")[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (taken out; the others are kept)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for i in range(seen, len(self.events)):
                ev = self.events[i]
                if ev["method"] == method and ev.get("sessionId") == session:
                    del self.events[i]
                    params: dict[str, Any] = ev.get("params", {})
                    return params
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no {method} within {timeout} s")
            self.ws.settimeout(left)
            try:
                reply = json.loads(self.ws.recv())
            finally:
                self.ws.settimeout(TIMEOUT)
            if "method" in reply:
                self.events.append(reply)

    def page(self, width: int = 1280, height: int = 900) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        return Page(self, target, session["sessionId"], width, height)

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab: network recorded and offline, so a request is seen and fails."""

    def __init__(self, browser: Browser, target: str, session: str, width: int,
                 height: int) -> None:
        self.browser, self.target, self.session = browser, target, session
        self.requests: list[str] = []
        self.log: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Log.enable")  # CSP violations and script errors are log entries
        self.send("Network.enable")
        self.send("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def _collect_requests(self) -> None:
        keep = []
        for ev in self.browser.events:
            mine = ev.get("sessionId") == self.session
            if mine and ev["method"] == "Network.requestWillBeSent":
                self.requests.append(ev["params"]["request"]["url"])
            elif mine and ev["method"] == "Log.entryAdded":
                self.log.append(ev["params"]["entry"])
            else:
                keep.append(ev)
        self.browser.events[:] = keep

    def problems(self) -> list[dict[str, Any]]:
        """Log entries of level warning or error so far (CSP violations, script errors)."""
        self.js("0")  # a round trip: events sent before it are in
        self._collect_requests()
        return [e for e in self.log if e.get("level") in ("warning", "error")]

    def open(self, path: Path) -> float:
        """Load the file; the seconds from navigation to the load event."""
        start = time.monotonic()
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self.browser.wait_event("Page.loadEventFired", self.session)
        elapsed = time.monotonic() - start
        self._collect_requests()
        return elapsed

    def js(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element ``selector`` matches."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                      "e.scrollIntoView({block: 'center'});"
                      "const r = e.getBoundingClientRect();"
                      "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def choose(self, select_id: str, label: str) -> None:
        """Pick the option of a ``<select>`` whose text is ``label`` or starts with it and a space
        (the filters add names and counts), as a user does: value set, change fired."""
        self.js(f"(() => {{ const s = document.getElementById({json.dumps(select_id)});"
                f"const want = {json.dumps(label)};"
                "const o = Array.from(s.options).find(o => o.text === want"
                " || o.text.startsWith(want + ' '));"
                "if (!o) throw new Error('no option ' + want);"
                "s.value = o.value;"
                "s.dispatchEvent(new Event('change', {bubbles: true})); })()")

    def press_enter(self, selector: str) -> None:
        """Focus ``selector`` and press Enter on the keyboard."""
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13})

    def type_text(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` (input events as from a keyboard)."""
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def wait_for(self, expression: str, timeout: float = 5.0) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpError(f"still false after {timeout} s: {expression}")
            time.sleep(0.03)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        self._collect_requests()
        self.browser.send("Target.closeTarget", {"targetId": self.target})
